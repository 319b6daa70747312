"""The two presets, defined once, and how a settings dataclass resolves through them.

`reference` reproduces the published arch2vec code, quirks included; `fixed` corrects them. Each
module with quirks (a search strategy, pretraining) holds ONE table, `QUIRKS`, mapping each preset
to the value of each of its quirk switches. A switch's value is either a plain value or a
`PerSpace` value, for quirks the published code has in the script of one space only (e.g. the
NB201 REINFORCE script skips the nearest cell; the NB101 one does not).

Settings classes declare every quirk switch as a field defaulting to `None` and call
`resolve_quirks` in `__post_init__`: a `None` switch takes the preset's value, an explicit value
is kept. So the preset name means the same thing however the settings object is built (directly,
through a space's published settings, or from the command line), and each switch stays
overridable alone (`--set skip_nearest=True` on top of `--preset fixed`). No module tests
`preset == "reference"` anywhere else.

docs/reference.md lists every quirk of the published code and which switch reproduces it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

REFERENCE = "reference"
FIXED = "fixed"
PRESETS: tuple[str, ...] = (REFERENCE, FIXED)

PRESET_HELP = (
    "reference: the published code's behaviour, quirks included; "
    "fixed: the quirks corrected (each switch can still be set alone)"
)


class UnknownPresetError(ValueError):
    pass


def check_preset(name: Any) -> str:
    """`name` if it is a preset, else UnknownPresetError naming the choices."""
    if name not in PRESETS:
        raise UnknownPresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return name


@dataclasses.dataclass(frozen=True)
class PerSpace:
    """A quirk value that depends on the space: `values[space]`, else `default`."""

    values: Mapping[str, Any]
    default: Any

    def for_space(self, space: str | None) -> Any:
        return self.values.get(str(space).lower(), self.default) if space is not None else self.default


def only_on(*spaces: str) -> PerSpace:
    """True on the given spaces, False elsewhere (a quirk of one published script)."""
    return PerSpace({s: True for s in spaces}, False)


def check_table(quirks: Mapping[str, Mapping[str, Any]], owner: str) -> None:
    """Both presets present, with the same switches."""
    if set(quirks) != set(PRESETS):
        raise TypeError(f"{owner}: QUIRKS must have exactly the presets {PRESETS}, has {sorted(quirks)}")
    names = [set(quirks[p]) for p in PRESETS]
    if names[0] != names[1]:
        raise TypeError(f"{owner}: QUIRKS presets name different switches: {sorted(names[0] ^ names[1])}")


def quirk_values(quirks: Mapping[str, Mapping[str, Any]], preset: str, space: str | None = None) -> dict[str, Any]:
    """The switches of `preset` for `space`, as plain values."""
    table = quirks[check_preset(preset)]
    return {k: v.for_space(space) if isinstance(v, PerSpace) else v for k, v in table.items()}


def resolve_quirks(obj: Any, quirks: Mapping[str, Mapping[str, Any]], space: str | None = None) -> None:
    """Fill the `None` quirk fields of the frozen dataclass `obj` from its preset (`obj.preset`)."""
    for name, value in quirk_values(quirks, obj.preset, space).items():
        if getattr(obj, name) is None:
            object.__setattr__(obj, name, value)


def quirk_differences(quirks: Mapping[str, Mapping[str, Any]], space: str | None = None) -> dict[str, tuple[Any, Any]]:
    """{switch: (reference value, fixed value)} for the switches on which the presets differ."""
    ref, fix = (quirk_values(quirks, p, space) for p in PRESETS)
    return {k: (ref[k], fix[k]) for k in ref if ref[k] != fix[k]}


__all__ = [
    "FIXED",
    "PRESETS",
    "PRESET_HELP",
    "REFERENCE",
    "PerSpace",
    "UnknownPresetError",
    "check_preset",
    "check_table",
    "only_on",
    "quirk_differences",
    "quirk_values",
    "resolve_quirks",
]
