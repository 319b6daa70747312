"""The strategy contract, and the settings base every strategy's `Config` builds on.

A strategy is a module with:

- `TITLE`: one line for `--help` and reports;
- `NEEDS`: what its `Problem` must carry beyond the benchmark columns, from `NEED_NAMES`:
  `features` (architecture embeddings, `--embeddings`), `neighbours` (the space's mutation
  table), `cells` (the cells' graphs, for strategies that encode architectures themselves);
- `Config`: a frozen, hashable dataclass (a static argument of jit) deriving from `StrategyConfig`;
- `init(key, problem, config) -> State`: a pytree with a `trace: Trace` field;
- `step(state, problem, config) -> State`: one round (a query, an episode, a batch of proposals);
- optionally `trace_extras(states) -> {name: array [seeds, ...]}`: per-seed values saved beside
  the trace, and `summary_extras(extras, oracle) -> dict`: what the summary says about them.

`a2v_jax.search.methods` maps a short name to each module (one line per strategy); nothing else in
the library names a strategy.

Settings resolve in one way however a `Config` is built (directly, by `methods.make_config`, or from
the command line): the space's published settings fill the fields marked `published` that were
left `None` (from `a2v_jax.spaces.get_profile(space).search`), and the preset fills the quirk
switches left `None` (from the module's `QUIRKS` table, `a2v_jax.presets`). Anything given
explicitly wins, so `Config(preset="reference")` is the NB201 reference configuration (the default
space), and `Config(space="nb101", preset="fixed", baseline=0.9)` is what it says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from .. import presets
from ..spaces import get_profile, space_key

NEED_NAMES = ("features", "neighbours", "cells")


def published(help: str) -> Any:
    """A setting whose default is the space's published value (`SpaceProfile.search`)."""
    return dataclasses.field(default=None, metadata={"published": True, "help": help})


def quirk(help: str) -> Any:
    """A switch whose default is the preset's value (the module's `QUIRKS`)."""
    return dataclasses.field(default=None, metadata={"quirk": True, "help": help})


def setting(default: Any, help: str) -> Any:
    """A plain setting with a fixed default."""
    return dataclasses.field(default=default, metadata={"help": help})


class StrategyConfig:
    """Base of a strategy's frozen dataclass `Config` (fields `space` and `preset` first).

    Subclasses set `METHOD` (the name under which the space profiles list its published settings)
    and `QUIRKS`, and may define `validate()` for their own range checks.
    """

    METHOD: ClassVar[str] = ""
    QUIRKS: ClassVar[Mapping[str, Mapping[str, Any]]] = {"reference": {}, "fixed": {}}

    def __post_init__(self) -> None:
        presets.check_preset(self.preset)
        space = space_key(self.space)
        object.__setattr__(self, "space", space)
        presets.resolve_quirks(self, self.QUIRKS, space)
        settings = get_profile(space).search_settings(self.METHOD)
        missing = []
        for f in dataclasses.fields(self):
            if f.metadata.get("published") and getattr(self, f.name) is None:
                if f.name in settings:
                    object.__setattr__(self, f.name, settings[f.name])
                else:
                    missing.append(f.name)
        if missing:
            raise ValueError(
                f"the {space} profile gives no published {self.METHOD} setting for {', '.join(missing)}; set them explicitly"
            )
        self.validate()

    def validate(self) -> None:
        """Range checks of the subclass (ValueError with the field named)."""

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """{field: help} of the settings a user can change (`--set KEY=VALUE`)."""
        out = {}
        for f in dataclasses.fields(cls):
            if f.name in ("space", "preset"):
                continue
            text = f.metadata.get("help", "")
            if f.metadata.get("quirk"):
                ref, fix = (presets.quirk_values(cls.QUIRKS, p)[f.name] for p in presets.PRESETS)
                per_space = isinstance(cls.QUIRKS[presets.REFERENCE][f.name], presets.PerSpace)
                text += f" [quirk: reference {ref}{' on ' + ', '.join(cls.QUIRKS[presets.REFERENCE][f.name].values) if per_space else ''}, fixed {fix}]"
            elif f.metadata.get("published"):
                text += " [default: the space's published value]"
            elif f.default is not dataclasses.MISSING:
                text += f" [default {f.default}]"
            out[f.name] = text
        return out


def check_positive(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value is None or not value >= 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


__all__ = ["NEED_NAMES", "StrategyConfig", "check_positive", "published", "quirk", "setting"]
