"""Option values converted without pydantic when they are plain: a CLI start-up does not pay for pydantic.

typer 0.29 converts every option value through a pydantic TypeAdapter, built on first use; importing
pydantic for that is about a third of a `twin history`. For the plain values twin's commands take
(a str, a bool, an int or float in canonical form and within its bounds, a list of str) the result is the
same as typer's own, and a test checks it against typer's conversion. Anything else (another type,
an unusual spelling, a value out of bounds) goes through typer's own conversion, so its results and
its error messages are exactly typer's. Parameters are prepared through typer's per-parameter cache
of that conversion (`_runtime_param`); if a future typer has no such cache, nothing is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args, get_origin

from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param

if TYPE_CHECKING:
    from typer import _click as click
    from typer.core import _TyperParameter

_INT = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?")
_MISSING = object()


def plain(value: Any, annotation: Any, minimum: float | None, maximum: float | None) -> Any:
    """The value converted when it is plain for its annotation, else _MISSING (typer's own way then)."""
    if annotation is str:
        return value if type(value) is str else _MISSING
    if annotation is bool:  # flags (--help among them: its unset value, None, is passed on by typer before this)
        return value if type(value) is bool else _MISSING
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return list(value) if type(value) in (list, tuple) and all(type(v) is str for v in value) else _MISSING
    if annotation is int:
        number: Any = value if type(value) is int else int(value) if type(value) is str and _INT.fullmatch(
            value) else _MISSING
    elif annotation is float:
        number = float(value) if type(value) in (int, float) or (type(value) is str and _FLOAT.fullmatch(
            value)) else _MISSING
    else:
        return _MISSING
    if number is _MISSING or (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return _MISSING
    return number


@dataclass(frozen=True)
class PlainParam(RuntimeParam):
    """typer's runtime conversion for one parameter, with plain values converted directly."""

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: click.Context) -> Any:
        info = self.parameter_info
        done = plain(value, self.annotation, info.min, info.max)
        if done is not _MISSING:
            return done
        typers = build_runtime_param(TypeDescriptor(self.annotation, info, None))
        return typers._coerce_value(value, param=param, ctx=ctx)


def eligible(descriptor: Any) -> bool:
    """Whether a parameter's type is one `plain` knows (no parser, choices, files or paths)."""
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    known = annotation in (str, bool, int, float) or (get_origin(annotation) is list and get_args(annotation) == (str,))
    return bool(known and descriptor.file_annotation is None and info.parser is None
                and getattr(info, "click_type", None) is None and not info.clamp and not descriptor.is_choice
                and not descriptor.is_path)


def prepare(command: click.Command, parent: click.Context | None = None) -> None:
    """Give the command's (and its subcommands') plain parameters the direct conversion."""
    # The --help option is made (and kept) on first use: make it now, so it is prepared too, in a context
    # that has the help option's names (`-h` too: the app's context_settings, inherited from `parent`).
    ctx = command.context_class(command, parent=parent, **command.context_settings)
    help_option = command.get_help_option(ctx)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", _MISSING) is None and eligible(descriptor):
            param._runtime_param = PlainParam(descriptor.parameter_info, descriptor.annotation)  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        prepare(sub, ctx)
