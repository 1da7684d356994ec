"""`twin service install`: a systemd template unit, so each account runs as twin@NAME."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from twin.config import Settings
from twin.service.process import twin_pythonpath
from twin.service.runner import daemon_command

UNIT = "twin@.service"


def daemon_exec_start(python: str | None = None) -> str:
    """ExecStart's command: the lean daemon entry (no typer, no rich) under this environment's Python."""
    return " ".join(daemon_command("%i", python=python or sys.executable))


def unit_dir(user: bool) -> Path:
    """Where systemd looks for units: ~/.config/systemd/user, or /etc/systemd/system."""
    if user:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return base / "systemd" / "user"
    return Path("/etc/systemd/system")


def unit_text(settings: Settings, *, user: bool, executable: str | None = None) -> str:
    """The unit file: the daemon of account %i in TWIN_HOME, restarted on failure, stopped with SIGTERM.

    `executable` is the Python to run it with (default: this one); PYTHONPATH names this twin's
    directory, so the unit runs the same code as the `twin` that wrote it, installed or not.
    """
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
        f"Environment=PYTHONPATH={twin_pythonpath({})}",
        f"EnvironmentFile=-{home}/twin.env",
        f"ExecStart={daemon_exec_start(executable)}",
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
