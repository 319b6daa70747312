"""Regularized (aging) evolution, Real et al. 2019, over the benchmark's mutation neighbours.

The population starts as `population` random cells (queried and charged). Each step samples
`sample_size` members, takes the one with the best reward as parent, queries one random neighbour
of it (`problem.neighbours`: NB201 one edge op changed, NB101 one edge or op changed and still
valid), adds the child and removes the oldest member. The population is a ring buffer whose head
is the oldest member.

Settings of the published baselines:

| space | population | sample size | sampling | source |
|---|---|---|---|---|
| NB201 | 10 | 3 | with replacement (`random.choice` per draw) | NAS-Bench-201 (Dong & Yang, ICLR 2020) code: `exps/NAS-Bench-201-algos/R_EA.py` with `scripts-search/NAS-Bench-201-algos/R-EA.sh cifar10 3 -1` (`--ea_population 10 --ea_sample_size 3`, time budget 12000 s); NATS-Bench `exps/NATS-algos/run-all.sh` uses the same 10 / 3 |
| NB101 (and others) | 50 | 10 | without replacement (`random.sample`) | NAS-Bench-101 (Ying et al., ICML 2019) notebook `NASBench.ipynb`, `run_evolution_search(population_size=50, tournament_size=10, mutation_rate=1.0)` |

Mutation: NB201's `mutate_arch` picks an edge and a different op uniformly, which is exactly a
uniform draw among the 24 neighbours. The NB101 notebook flips each of the 21 edge bits with
probability 1/7 and resamples each op with probability 1/5, retrying until valid (several changes
at once); here the child is one uniformly chosen valid single-change neighbour, so NB101 RE is
the single-step variant (mutating a graph on device and looking its hash up is not practical).

Presets: `reference` lets a child be any neighbour, queried (and charged) again if it was seen
before, as both published versions do, and draws the initial population with replacement.
`fixed` never queries a cell twice: the initial population is drawn without replacement, the child
is a uniformly chosen *unvisited* neighbour of the parent, and if the parent has none left a
uniformly random unvisited cell is queried instead. Budget: the project's rule (the query that
reaches the budget counts); the NB201 script drops the child that would cross it, and its initial
population is not budget-checked.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from .problem import Problem, Trace
from .sampling import choose_masked, draw
from .strategy import StrategyConfig, check_positive, published, quirk

TITLE = "regularized (aging) evolution"
NEEDS = frozenset({"neighbours"})

QUIRKS = {"reference": {"avoid_visited": False}, "fixed": {"avoid_visited": True}}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    METHOD = "re"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    population: int | None = published("population size")
    sample_size: int | None = published("members sampled per tournament")
    sample_replace: bool | None = published("tournament drawn with replacement")
    avoid_visited: bool | None = quirk("never query a cell twice (initial population and children)")

    def validate(self) -> None:
        check_positive(self, "population", "sample_size")
        if not self.sample_replace and self.sample_size > self.population:
            raise ValueError("sample_size exceeds the population (sampling without replacement)")


@struct.dataclass
class State:
    key: jax.Array
    cells: jax.Array  # [P] population, ring buffer
    rewards: jax.Array  # [P]
    head: jax.Array  # position of the oldest member
    trace: Trace


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    if problem.neighbours.shape[1] == 0:
        raise ValueError("regularized evolution needs problem.neighbours (the space's mutation table)")
    p = config.population

    def body(i, carry):
        key, trace, cells, rewards = carry
        key, sub = jax.random.split(key)
        cell = draw(sub, trace, problem, replace=not config.avoid_visited)
        trace = trace.record(problem, cell)
        return key, trace, cells.at[i].set(cell), rewards.at[i].set(problem.reward[cell])

    carry = (key, Trace.empty(problem), jnp.zeros((p,), jnp.int32), jnp.zeros((p,), problem.reward.dtype))
    key, trace, cells, rewards = jax.lax.fori_loop(0, p, body, carry)
    return State(key=key, cells=cells, rewards=rewards, head=jnp.zeros((), jnp.int32), trace=trace)


def step(state: State, problem: Problem, config: Config) -> State:
    key, k_sample, k_mut, k_fallback = jax.random.split(state.key, 4)
    p = config.population
    if config.sample_replace:
        members = jax.random.randint(k_sample, (config.sample_size,), 0, p)
    else:
        members = jax.random.choice(k_sample, p, (config.sample_size,), replace=False)
    parent = state.cells[members[jnp.argmax(state.rewards[members])]]

    nbrs = problem.neighbours[parent]
    ok = nbrs >= 0
    if config.avoid_visited:
        ok &= ~state.trace.visited[jnp.maximum(nbrs, 0)]
    pos, any_ok = choose_masked(k_mut, ok)
    fallback = draw(k_fallback, state.trace, problem, replace=not config.avoid_visited)
    child = jnp.where(any_ok, nbrs[pos], fallback).astype(jnp.int32)

    active = ~state.trace.done(problem)
    trace = state.trace.record(problem, child)
    head = state.head
    cells = state.cells.at[head].set(jnp.where(active, child, state.cells[head]))
    rewards = state.rewards.at[head].set(jnp.where(active, problem.reward[child], state.rewards[head]))
    return State(key=key, cells=cells, rewards=rewards, head=jnp.where(active, (head + 1) % p, head), trace=trace)
