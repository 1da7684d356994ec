"""Image preparation for the model: a 12-megapixel photo (4000x3000) -> a 1024 px JPEG, time and peak memory.

Run: .venv/bin/python bench/image_bench.py [--runs N]
Needs ffmpeg. The photo is made with ffmpeg (a test pattern with noise, so it compresses like a phone
photo, a few MB). Each measurement runs in a fresh Python process, so the children's peak RSS is
ffmpeg's alone and the Python numbers are not mixed with the set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_photo(folder: Path) -> Path:
    path = folder / "photo-4000x3000.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=4000x3000",
                    "-vf", "noise=alls=12:allf=u", "-frames:v", "1", "-q:v", "2", str(path)], check=True, timeout=300)
    return path


def measure(photo: Path, runs: int, what: str) -> dict[str, object]:
    """In this (fresh) process: prepare the photo `runs` times; wall times, ffmpeg's and our peak memory."""
    from twin.media.image import prepare_image, video_frame

    data = photo.read_bytes()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times: list[float] = []
    tracemalloc.start()
    out = b""
    for _ in range(runs):
        started = time.perf_counter()
        if what == "photo":
            out = asyncio.run(prepare_image(data)).data
        else:
            out = asyncio.run(video_frame(data, duration_s=10.0)).data
        times.append(time.perf_counter() - started)
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "input_bytes": len(data), "output_bytes": len(out), "times_s": times,
        "ffmpeg_peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "python_peak_alloc_kb": py_peak // 1024,
        "python_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "python_rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before,
    }


def make_video(folder: Path) -> Path:
    path = folder / "video-1080p-10s.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
                    "-t", "10", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", str(path)],
                   check=True, timeout=300)
    return path


def child(path: Path, runs: int, what: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--measure", str(path), "--runs", str(runs), "--what", what],
                          capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def report(title: str, result: dict[str, object]) -> None:
    times = [float(t) for t in result["times_s"]]  # type: ignore[union-attr]
    print(f"{title}: {int(result['input_bytes']) / 1e6:.1f} MB in -> {int(result['output_bytes']) / 1e3:.0f} KB JPEG")
    print(f"  wall time: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} runs")
    print(f"  peak memory: ffmpeg child {int(result['ffmpeg_peak_rss_kb']) / 1024:.0f} MB RSS; python process "
          f"{int(result['python_peak_alloc_kb']) / 1024:.1f} MB allocated at peak (tracemalloc), "
          f"RSS {int(result['python_rss_kb']) / 1024:.0f} MB (+{int(result['python_rss_growth_kb']) / 1024:.0f} MB "
          "while preparing)")


def startup(runs: int) -> float:
    """ffmpeg's own start-up on this machine (a 16x16 frame to nowhere): the floor under every number above."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=size=16x16", "-frames:v", "1",
                        "-f", "null", "-"], check=True, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--measure", type=Path)
    parser.add_argument("--what", default="photo")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.runs, args.what)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp))
        report("12-megapixel photo (4000x3000) -> 1024 px", child(photo, args.runs, "photo"))
        video = make_video(Path(tmp))
        report("still frame of a 10 s 1080p video -> 1024 px", child(video, args.runs, "frame"))
        print(f"ffmpeg start-up alone: median {startup(args.runs) * 1000:.0f} ms; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring")


if __name__ == "__main__":
    main()
