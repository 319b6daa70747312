"""Random search: query uniformly drawn cells until the budget is spent.

`reference` draws with replacement, as the published baselines do (NAS-Bench-201's
`RANDOM.py`/`random_wo_share.py` call `random_arch()` afresh each time; the NAS-Bench-101
notebook's `random_spec()` likewise), so a cell can be queried, and charged, twice. `fixed` draws
uniformly among the cells not queried yet.

Differences from those baselines, in both presets: draws are uniform over the benchmark's cells
(the NB101 notebook samples random valid matrices, which favours cells with many equivalent
matrices); the budget rule is the project's (the query that reaches the budget still counts; the
NB201 scripts drop the query that would cross it, the NB101 notebook keeps it as here).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from .problem import Problem, Trace
from .sampling import draw
from .strategy import StrategyConfig, quirk

TITLE = "random search"
NEEDS = frozenset()

QUIRKS = {"reference": {"replace": True}, "fixed": {"replace": False}}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    METHOD = "rs"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    replace: bool | None = quirk("draw with replacement: a cell can be queried, and charged, again")


@struct.dataclass
class State:
    key: jax.Array
    trace: Trace


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    return State(key=key, trace=Trace.empty(problem))


def step(state: State, problem: Problem, config: Config) -> State:
    key, sub = jax.random.split(state.key)
    cell = draw(sub, state.trace, problem, config.replace)
    return State(key=key, trace=state.trace.record(problem, jnp.asarray(cell, jnp.int32)))
