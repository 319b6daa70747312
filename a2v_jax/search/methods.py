"""The search strategies by short name: one registry line per strategy.

A strategy module follows the contract of `a2v_jax.search.strategy` (TITLE, NEEDS, Config, init,
step, optional trace/summary extras); everything the rest of the library needs to know about it
is read from the module itself, so nothing outside its file and the line below names it.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType
from typing import Any

METHODS: dict[str, str] = {
    "rl": "a2v_jax.search.reinforce",
    "bo": "a2v_jax.search.dngo",
    "rs": "a2v_jax.search.random_search",
    "re": "a2v_jax.search.evolution",
}


class UnknownMethodError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def method_key(name: str) -> str:
    key = str(name).strip().lower()
    if key not in METHODS:
        raise UnknownMethodError(f"unknown search method {name!r}; choose one of {', '.join(METHODS)}")
    return key


def get_method(name: str) -> ModuleType:
    """The strategy module registered as `name`."""
    return importlib.import_module(METHODS[method_key(name)])


def make_config(method: str | ModuleType, space: str = "nb201", preset: str = "fixed", **overrides: Any) -> Any:
    """The strategy's `Config` for a space and preset with `overrides` (unknown fields named)."""
    module = get_method(method) if isinstance(method, str) else method
    names = {f.name for f in dataclasses.fields(module.Config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(
            f"{module.__name__}.Config has no field(s) {', '.join(unknown)}; fields: {', '.join(sorted(names - {'space', 'preset'}))}"
        )
    return module.Config(space=space, preset=preset, **overrides)
