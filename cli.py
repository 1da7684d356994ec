"""twin's command line: the console script's entry. Commands live in twin/cli/, one module per concern."""

from __future__ import annotations

import importlib

import typer

from twin.cli.base import app
from twin.errors import TwinError

# Each module registers its commands on the app; this order is the order of `twin --help`.
COMMAND_GROUPS = ("service", "history", "steering", "persona", "sandbox")
for _group in COMMAND_GROUPS:
    importlib.import_module(f"twin.cli.{_group}")


def main() -> None:
    """Entry point: run the app; a TwinError becomes one line on stderr and exit code 1."""
    try:
        app()
    except TwinError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
