"""twin's command line: the console script's entry. Commands live in twin/cli/, one module per concern.

twin.cli.base.COMMANDS lists every command and the module that defines it: a command's module is
imported only when that command runs, and `twin --help` imports none of them.
"""

from __future__ import annotations

import typer

from twin.cli import base
from twin.errors import TwinError


def main() -> None:
    """Entry point: run the app; a TwinError becomes one line on stderr and exit code 1."""
    base.STANDALONE = True
    try:
        base.app()
    except TwinError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
