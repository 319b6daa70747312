"""Command lines generated from settings dataclasses, so that each default is declared once.

A settings class marks the fields the command line exposes with `option(default, help)` (its
metadata carries the help text, choices and flag name). `add_arguments` turns those fields into
argparse options whose default is `argparse.SUPPRESS`: an option the user did not give is absent
from the namespace, and `from_args` leaves that field to the dataclass's own default. The help
text still shows the default, read from the dataclass.

Values typed as `KEY=VALUE` (`--set` of the search command) are converted by the type the
dataclass declares for KEY (`parse_assignments`), so a bad value fails with one line naming the
field and the expected type, not a traceback from deep inside a jitted function.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_META = "cli"


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[Any] | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field shown on the command line (`--name-with-dashes` unless `flag` is given)."""
    meta = {_META: {"help": help, "choices": tuple(choices) if choices is not None else None,
                    "flag": flag, "metavar": metavar}}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed) of `X | None` / `Optional[X]` / `X`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(typing.get_args(tp))
    return tp, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def cli_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if _META in f.metadata]


def _scalar_parser(tp: Any, name: str):
    if tp is bool:
        return parse_bool
    if tp in (int, float, str):
        def parse(text: str, tp=tp):
            try:
                return tp(text)
            except ValueError:
                kind = "an integer" if tp is int else "a number"
                raise argparse.ArgumentTypeError(f"{name} expects {kind}, got {text!r}") from None
        return parse
    if tp is Path:
        return Path
    return None


def parse_bool(text: str) -> bool:
    low = str(text).strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser | Any, cls: type, exclude: Iterable[str] = ()) -> None:
    """Add an option for every `option(...)` field of the dataclass `cls` (but those in `exclude`)."""
    skip = set(exclude)
    hints = _hints(cls)
    for f in cli_fields(cls):
        if f.name in skip:
            continue
        meta = f.metadata[_META]
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        tp, optional = _unwrap(hints[f.name])
        default = _default(f)
        help_text = meta["help"]
        if default is not None and default is not dataclasses.MISSING and default is not False and not isinstance(default, dict):
            help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if tp is bool and not optional and default is False:
            parser.add_argument(flag, action="store_true", **kwargs)
            continue
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        conv = _scalar_parser(tp, flag)
        if conv is None:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line conversion for {tp!r}")
        if meta["choices"] is not None:
            kwargs["choices"] = meta["choices"]
        if meta["metavar"] is not None:
            kwargs["metavar"] = meta["metavar"]
        parser.add_argument(flag, type=conv, **kwargs)


def from_args(cls: type, args: argparse.Namespace, **extra: Any) -> Any:
    """An instance of `cls` from the options the user gave (the rest keep their defaults) and `extra`."""
    given = {f.name: getattr(args, f.name) for f in cli_fields(cls) if hasattr(args, f.name)}
    return cls(**{**given, **extra})


def convert(cls: type, name: str, text: str) -> Any:
    """`text` converted to the declared type of field `name` of `cls` (ValueError naming both)."""
    hints = _hints(cls)
    if name not in hints or name not in {f.name for f in dataclasses.fields(cls)}:
        fields = ", ".join(f.name for f in dataclasses.fields(cls))
        raise ValueError(f"{cls.__module__}.{cls.__name__} has no field {name!r}; fields: {fields}")
    tp, optional = _unwrap(hints[name])
    text = str(text).strip()
    if optional and text.lower() == "none":
        return None
    conv = _scalar_parser(tp, name)
    if conv is not None:
        try:
            return conv(text)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"{name}: {e}") from None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"{name}: cannot read {text!r} as {tp!r}") from None


def parse_assignments(items: Iterable[str] | None, cls: type) -> dict[str, Any]:
    """`["baseline=0.9", "discount=None"]` -> {"baseline": 0.9, "discount": None}, typed by `cls`."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = convert(cls, key.strip(), value)
    return out


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout (tables of methods, presets, outputs) as written."""
