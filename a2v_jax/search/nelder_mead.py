"""Nelder-Mead simplex minimisation in JAX, step for step the algorithm of SciPy's `fmin`.

DNGO fits its two Bayesian-linear-regression hyperparameters with `scipy.optimize.fmin` once per
round; to run hundreds of seeds as one computation the optimiser has to live inside jit/vmap. This
is SciPy's `_minimize_neldermead` (non-adaptive) rewritten as a `lax.while_loop`: the same initial
simplex (each coordinate of x0 scaled by 1.05, or set to 0.00025 where it is zero), the same
coefficients (reflection 1, expansion 2, contraction 0.5, shrink 0.5), the same order of tests
(strict `<` everywhere except `fxc <= fxr` for the outside contraction), the same convergence test
(max |x_i - x_0| <= xatol and max |f_i - f_0| <= fatol, checked before each iteration), the same
stable re-sort after every iteration, and the same limits (maxiter = maxfev = 200 * N by
default). Even SciPy's way of stopping at the evaluation limit is kept: an evaluation that would
exceed `maxfev` ends the run at that point, leaving the simplex as it was (a shrink already under
way keeps the vertex it just moved, with its old value), and that iteration is not counted. With
float64 enabled the iterates agree with SciPy's to rounding; in float32 they follow the same path
until rounding makes two comparisons differ.

Every candidate point of an iteration (reflection, expansion, both contractions and the N shrunk
vertices) is evaluated up front, so an iteration is one vectorised call of `fun` with no
data-dependent branching: what is wasted is N + 3 evaluations of a cheap function, what is won is
that the loop vectorises over seeds.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct

RHO, CHI, PSI, SIGMA = 1.0, 2.0, 0.5, 0.5
NONZDELT, ZDELT = 0.05, 0.00025


@struct.dataclass
class NelderMeadResult:
    x: jax.Array  # [N] best vertex (sim[0] after the final sort)
    fun: jax.Array  # its value (min over the final simplex values)
    nit: jax.Array  # iterations, counted as SciPy counts them (starts at 1)
    nfev: jax.Array  # function evaluations
    status: jax.Array  # 0 converged, 1 evaluation limit, 2 iteration limit (SciPy's warnflag)


def initial_simplex(x0: jax.Array) -> jax.Array:
    """SciPy's default simplex: x0, then x0 with coordinate k scaled by 1.05 (or set to 0.00025 if 0)."""
    n = x0.shape[0]
    eye = jnp.eye(n, dtype=bool)
    moved = jnp.where(x0 != 0, (1 + NONZDELT) * x0, jnp.asarray(ZDELT, x0.dtype))
    return jnp.concatenate([x0[None], jnp.where(eye, moved[None, :], x0[None, :])], axis=0)


def _sort(sim: jax.Array, fsim: jax.Array) -> tuple[jax.Array, jax.Array]:
    order = jnp.argsort(fsim, stable=True)  # NaN sorts last, as in NumPy
    return sim[order], fsim[order]


def minimize(
    fun: Callable[[jax.Array], jax.Array],
    x0: jax.Array,
    xatol: float = 1e-4,
    fatol: float = 1e-4,
    maxiter: int | None = None,
    maxfev: int | None = None,
) -> NelderMeadResult:
    """Minimise `fun` ([N] -> scalar) from `x0` ([N]); pure, jit- and vmap-able.

    Defaults are `scipy.optimize.fmin`'s (xtol = ftol = 1e-4, 200 * N iterations and evaluations).
    """
    x0 = jnp.ravel(jnp.asarray(x0))
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.float32)
    n = x0.shape[0]
    if maxiter is None and maxfev is None:
        maxiter = maxfev = 200 * n
    elif maxiter is None:
        maxiter = 200 * n if maxfev == float("inf") else float("inf")
    elif maxfev is None:
        maxfev = 200 * n if maxiter == float("inf") else float("inf")
    if maxfev < n + 1:
        raise ValueError(f"maxfev={maxfev} cannot even evaluate the initial simplex of {n + 1} points")
    big = jnp.iinfo(jnp.int32).max
    maxiter_i = jnp.asarray(big if maxiter == float("inf") else int(maxiter), jnp.int32)
    maxfev_i = jnp.asarray(big if maxfev == float("inf") else int(maxfev), jnp.int32)
    ffun = jax.vmap(fun)

    sim = initial_simplex(x0)
    fsim = ffun(sim)
    fdtype = fsim.dtype
    sim, fsim = _sort(sim, fsim)

    def converged(sim, fsim):
        return (jnp.max(jnp.abs(sim[1:] - sim[0])) <= xatol) & (jnp.max(jnp.abs(fsim[0] - fsim[1:])) <= fatol)

    def cond(carry):
        sim, fsim, nfev, nit, stop = carry
        return (nfev < maxfev_i) & (nit < maxiter_i) & ~stop

    def body(carry):
        sim, fsim, nfev, nit, _ = carry
        stop = converged(sim, fsim)
        xbar = jnp.sum(sim[:-1], axis=0) / n
        worst = sim[-1]
        xr = (1 + RHO) * xbar - RHO * worst
        xe = (1 + RHO * CHI) * xbar - RHO * CHI * worst
        xc = (1 + PSI * RHO) * xbar - PSI * RHO * worst
        xcc = (1 - PSI) * xbar + PSI * worst
        shrunk = sim[0] + SIGMA * (sim[1:] - sim[0])
        values = ffun(jnp.concatenate([jnp.stack([xr, xe, xc, xcc]), shrunk], axis=0)).astype(fdtype)
        fxr, fxe, fxc, fxcc, fshrunk = values[0], values[1], values[2], values[3], values[4:]

        left = maxfev_i - nfev - 1  # evaluations still allowed after the reflection
        expand = fxr < fsim[0]
        accept_r = ~expand & (fxr < fsim[-2])
        outside = ~expand & ~accept_r & (fxr < fsim[-1])
        inside = ~expand & ~accept_r & ~outside
        # Each of these branches needs one more evaluation; without it SciPy stops here.
        aborted = (expand | outside | inside) & (left < 1)
        use_e = fxe < fxr
        new_x = jnp.where(expand, jnp.where(use_e, xe, xr), jnp.where(outside, xc, jnp.where(inside, xcc, xr)))
        new_f = jnp.where(expand, jnp.where(use_e, fxe, fxr), jnp.where(outside, fxc, jnp.where(inside, fxcc, fxr)))
        shrink = (outside & ~(fxc <= fxr)) | (inside & ~(fxcc < fsim[-1]))
        used = 1 + (expand | outside | inside).astype(jnp.int32)

        replaced_sim = sim.at[-1].set(new_x)
        replaced_f = fsim.at[-1].set(new_f)
        # A shrink evaluates vertices 1..N in turn; the vertex whose evaluation would pass the limit
        # is moved but keeps its old value, and the ones after it are untouched.
        left_shrink = left - 1
        j = jnp.arange(n)
        evaluated = j < left_shrink
        moved = j <= left_shrink
        shrink_sim = sim.at[1:].set(jnp.where(moved[:, None], shrunk, sim[1:]))
        shrink_f = fsim.at[1:].set(jnp.where(evaluated, fshrunk, fsim[1:]))
        shrink_aborted = shrink & (left_shrink < n)

        do_shrink = shrink & ~aborted
        new_sim = jnp.where(aborted, sim, jnp.where(do_shrink, shrink_sim, replaced_sim))
        new_fsim = jnp.where(aborted, fsim, jnp.where(do_shrink, shrink_f, replaced_f))
        nfev_new = nfev + jnp.where(
            aborted, 1, used + jnp.where(do_shrink, jnp.clip(left_shrink, 0, n), 0)
        )
        nit_new = nit + (~aborted & ~(do_shrink & shrink_aborted)).astype(jnp.int32)
        new_sim, new_fsim = _sort(new_sim, new_fsim)
        # A converged simplex is returned untouched, as SciPy breaks before doing anything.
        return (
            jnp.where(stop, sim, new_sim),
            jnp.where(stop, fsim, new_fsim),
            jnp.where(stop, nfev, nfev_new),
            jnp.where(stop, nit, nit_new),
            stop,
        )

    init = (sim, fsim, jnp.asarray(n + 1, jnp.int32), jnp.asarray(1, jnp.int32), jnp.asarray(False))
    sim, fsim, nfev, nit, stop = jax.lax.while_loop(cond, body, init)
    status = jnp.where(nfev >= maxfev_i, 1, jnp.where(nit >= maxiter_i, 2, 0)).astype(jnp.int32)
    return NelderMeadResult(x=sim[0], fun=jnp.min(fsim), nit=nit, nfev=nfev, status=status)
