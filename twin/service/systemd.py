"""`twin service install`: a systemd template unit, so each account runs as twin@NAME."""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from pathlib import Path

from twin.config import Settings

UNIT = "twin@.service"


def twin_executable() -> str:
    """The `twin` script of the running environment (the venv's bin/twin when there is one)."""
    beside = Path(sys.executable).parent / "twin"
    if beside.exists():
        return str(beside)
    return shutil.which("twin") or f"{sys.executable} -m cli"


def unit_dir(user: bool) -> Path:
    """Where systemd looks for units: ~/.config/systemd/user, or /etc/systemd/system."""
    if user:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return base / "systemd" / "user"
    return Path("/etc/systemd/system")


def unit_text(settings: Settings, *, user: bool, executable: str | None = None) -> str:
    """The unit file: `twin --account %i run` in TWIN_HOME, restarted on failure, stopped with SIGTERM."""
    home = settings.home
    stop_s = int(settings.service.stop_timeout_s) + 10  # the daemon drains within stop_timeout_s
    lines = [
        "[Unit]",
        "Description=twin: AI twin answering Telegram account %i",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={home}",
        f"Environment=TWIN_HOME={home}",
        f"EnvironmentFile=-{home}/twin.env",
        f"ExecStart={executable or twin_executable()} --account %i run",
        "Restart=on-failure",
        "RestartSec=10",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={stop_s}",
    ]
    if not user:
        lines.append(f"User={getpass.getuser()}")
    lines += ["", "[Install]", f"WantedBy={'default.target' if user else 'multi-user.target'}", ""]
    return "\n".join(lines)


def enable_commands(account: str, *, user: bool) -> list[str]:
    """What to run after installing (twin never runs systemctl itself)."""
    ctl = "systemctl --user" if user else "sudo systemctl"
    commands = [f"{ctl} daemon-reload", f"{ctl} enable --now twin@{account}", f"{ctl} status twin@{account}"]
    if user:
        commands.append("loginctl enable-linger $USER   # keep it running after you log out")
    return commands


def install(settings: Settings, *, user: bool, directory: Path | None = None) -> Path:
    """Write the template unit; returns its path."""
    target = (directory or unit_dir(user)) / UNIT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(unit_text(settings, user=user), encoding="utf-8")
    return target
