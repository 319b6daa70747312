"""The search methods by short name, imported only when asked for.

Each method is a module following the strategy contract of `runner` (`Config`, `init`, `step`,
optionally `config_for`). Imports are lazy so that a missing optional method (DNGO lives in its
own module) only fails when it is requested, with a message saying so.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any

PRESETS = ("reference", "fixed")


@dataclass(frozen=True)
class MethodInfo:
    name: str
    module: str
    title: str
    needs_features: bool
    needs_neighbours: bool


METHODS: dict[str, MethodInfo] = {
    "rl": MethodInfo("rl", "a2v_jax.search.reinforce", "arch2vec-REINFORCE (LSTM Gaussian policy over embeddings)", True, False),
    "bo": MethodInfo("bo", "a2v_jax.search.dngo", "arch2vec-BO (DNGO: neural-network basis + Bayesian linear regression)", True, False),
    "rs": MethodInfo("rs", "a2v_jax.search.random_search", "random search", False, False),
    "re": MethodInfo("re", "a2v_jax.search.evolution", "regularized (aging) evolution", False, True),
}


class UnknownMethodError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class MethodNotAvailable(RuntimeError):
    """A known method whose module is not part of this installation."""


def method_info(name: str) -> MethodInfo:
    key = str(name).lower()
    if key not in METHODS:
        raise UnknownMethodError(f"unknown search method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[key]


def available_methods() -> list[str]:
    """Short names of the methods this installation can run, in `METHODS` order (a method whose
    module is missing, such as DNGO before it is installed, is left out; nothing is imported)."""
    return [name for name, info in METHODS.items() if importlib.util.find_spec(info.module) is not None]


def get_method(name: str) -> ModuleType:
    """The strategy module for `name` (rl, bo, rs, re)."""
    info = method_info(name)
    try:
        return importlib.import_module(info.module)
    except ModuleNotFoundError as e:
        if e.name == info.module:
            raise MethodNotAvailable(
                f"method {info.name!r} ({info.title}) is not available: module {info.module} is not installed"
            ) from e
        raise


def make_config(module: ModuleType, space: str, dataset: str, preset: str, overrides: dict[str, Any] | None = None) -> Any:
    """The method's settings for a space/dataset and preset, with `overrides` applied.

    Uses the module's `config_for` when it has one; else its `Config`, passing `preset` if that is a field.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    overrides = dict(overrides or {})
    names = {f.name for f in dataclasses.fields(module.Config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{module.__name__}.Config has no field(s) {unknown}; fields: {sorted(names)}")
    if hasattr(module, "config_for"):
        return module.config_for(space, dataset, preset, **overrides)
    if "preset" in names:
        overrides.setdefault("preset", preset)
    return module.Config(**overrides)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`["baseline=0.9", "discount=None"]` -> {"baseline": 0.9, "discount": None} (values as Python literals)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out
