"""Uniform draws of cells, with or without the ones already queried.

Sampling without replacement by keeping a per-seed permutation would cost [seeds, N] int32
(850 MB for NB101 at 500 seeds); rejection against the trace's visited mask costs nothing extra
and is exactly uniform over the unvisited cells. A search stops long before the space is
exhausted, so a draw takes 1/(1 - visited share) tries in expectation, about one. The loop also
stops for a seed whose budget is spent (its draw is ignored then), so a finished seed inside a
vmapped batch cannot spin on a full mask.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .problem import Problem, Trace


def uniform_cell(key: jax.Array, n: int) -> jax.Array:
    return jax.random.randint(key, (), 0, n, jnp.int32)


def uniform_unvisited(key: jax.Array, visited: jax.Array, stop: jax.Array | bool = False) -> jax.Array:
    """A cell drawn uniformly among those with `visited` False (any cell once `stop` is True)."""
    n = visited.shape[0]
    stop = jnp.asarray(stop)
    max_tries = 1 << 24  # a safeguard only: unreachable while an unvisited cell exists

    def cond(carry):
        _, cell, tries = carry
        return visited[cell] & ~stop & (tries < max_tries)

    def body(carry):
        k, _, tries = carry
        k, sub = jax.random.split(k)
        return k, uniform_cell(sub, n), tries + 1

    k, sub = jax.random.split(key)
    return jax.lax.while_loop(cond, body, (k, uniform_cell(sub, n), jnp.zeros((), jnp.int32)))[1]


def choose_masked(key: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A uniformly chosen position among True entries of `mask` [K], and whether there was one."""
    logits = jnp.where(mask, 0.0, -jnp.inf)
    any_ = mask.any()
    pos = jax.random.categorical(key, jnp.where(any_, logits, 0.0))
    return pos, any_


def draw(key: jax.Array, trace: Trace, problem: Problem, replace: bool) -> jax.Array:
    """A uniformly random cell: any cell (`replace`), or one not queried yet by this trace."""
    if replace:
        return uniform_cell(key, problem.num_cells)
    return uniform_unvisited(key, trace.visited, trace.done(problem))
