"""twin's command line: the console script's entry. Commands live in twin/cli/, one module per concern.

twin.cli.commands.COMMANDS lists every command and the module that defines it: a command's module is
imported only when that command runs, and `twin --help` imports none of them (nor typer).
"""

from __future__ import annotations

import sys

from twin.cli.commands import print_fast_help


def main() -> None:
    """Entry point: run the app; a TwinError becomes one line on stderr and exit code 1.

    `twin`, `twin --help` and `twin -h` print the command list from the table without loading typer."""
    code = print_fast_help(sys.argv)
    if code is not None:
        raise SystemExit(code)
    import typer

    from twin.cli import base
    from twin.errors import TwinError

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
