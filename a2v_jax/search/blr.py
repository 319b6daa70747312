"""Bayesian linear regression on learned basis features, as DNGO uses it, in pure JAX.

Model (Bishop, PRML 3.3-3.5): y = phi(x)^T w + noise, w ~ N(0, I / alpha), noise ~ N(0, 1 / beta).
The hyperparameters are fitted by minimising the negative log marginal likelihood over
theta = (log alpha, log sigma^2), sigma^2 = 1 / beta, with Nelder-Mead from a draw of the prior
log alpha ~ N(0, 1), log sigma^2 ~ N(-3, 1); theta outside [-10, 10]^2 scores +inf. This is what the
published DNGO (`pybnn`, `do_mcmc=False`) does.

Why an eigendecomposition: every likelihood evaluation of the published code inverts and takes the
determinant of a fresh 128 x 128 matrix K = beta Phi^T Phi + alpha I. All of K's dependence on
(alpha, beta) is through the eigenvalues lambda_i of Phi^T Phi, so one `eigh` per fit turns each
evaluation (hundreds per fit, times rounds, times seeds) into O(D) work:

    kappa_i = alpha + beta lambda_i,   log det K = sum_i log kappa_i,
    m = beta K^{-1} Phi^T y  ->  (V^T m)_i = beta b_i / kappa_i,  b = V^T Phi^T y,
    ||y - Phi m||^2 = perp + sum_i c_i^2 (alpha / kappa_i)^2,    c_i^2 = b_i^2 / lambda_i,

where perp is the squared least-squares residual, the part of y outside the span of Phi's columns
(computed once, as a residual vector rather than ||y||^2 - sum_i c_i^2, which cancels).
The residual is a sum of non-negative terms, so it stays accurate in float32 where the textbook
expansion ||y||^2 - 2 y^T Phi m + m^T G m cancels. Eigenvalues beyond the number of observations
are exactly zero in exact arithmetic and are set so (float32 `eigh` leaves them at +-1e-5, which
beta up to e^10 would turn into spurious curvature).

Two objectives:
- `exact`: the marginal likelihood above.
- `reference`: the published one, whose data term is beta/2 * ||y - Phi m|| (the Euclidean norm, not
  its square) and whose log-determinant is log(det K + 1e-10) with det K rounded to float32 (NumPy
  computes the determinant in float64 and casts it back to the float32 input type): a determinant
  above 3.4e38 becomes inf, the objective +inf; a tiny one is floored near 1e-10. NaN scores 1e25.

Predictions use the same eigenbasis: mean = phi^T m, variance = 1/beta + sum_i (V^T phi)_i^2 / kappa_i.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import nelder_mead

THETA_BOUND = 10.0
LOG_FLOAT32_MAX = float(np.log(np.finfo(np.float32).max))
LOG_DET_FLOOR = float(np.log(1e-10))
NAN_SCORE = 1e25
PRIOR_MEAN = (0.0, -3.0)  # log alpha, log sigma^2
OBJECTIVES = ("exact", "reference")
# Full float32 products: by default JAX lets a GPU round float32 matrix products to TF32 (10-bit
# mantissa) and a TPU to bfloat16, which would change the Gram matrix, and with it the evidence and
# the EI ranking, from what a CPU computes. The products here are small next to the network's.
HIGHEST = jax.lax.Precision.HIGHEST


@jax.custom_batching.custom_vmap
def eigh(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`jnp.linalg.eigh` of one matrix, kept one matrix a call under `vmap` (a loop over the batch).

    Vmapped, `jnp.linalg.eigh` becomes one batched LAPACK call, which on CPU splits the batch over
    XLA's intra-op thread pool and waits for it. When seeds are sharded over several host-platform
    devices, every thread of that pool can be a device's program waiting inside such a call, and
    the process hangs (seen with 3 seeds a device on 4 devices of a 2-core machine). One matrix a
    call (a 128 x 128 decomposition a seed and round) also keeps each seed's decomposition the same
    call whatever the batch; its cost against the batched call has not been timed apart.
    """
    lam, vecs = jnp.linalg.eigh(a)
    return lam, vecs


@eigh.def_vmap
def _eigh_batched(axis_size, in_batched, a):
    (batched,) = in_batched
    if not batched:
        return eigh(a), (False, False)
    return jax.lax.map(eigh, a), (True, True)


def pairwise_sum(a: jax.Array) -> jax.Array:
    """Sum over the last axis by halving: a[..., :h] + a[..., h:], zero-padded to a power of two.

    The evidence's sums over the D eigen-directions are evaluated hundreds of times per fit inside
    the vmapped Nelder-Mead loop. As `reduce`s, XLA:CPU's fusion emitters group their adds by the
    shape of the whole fused loop, so the same seed rounded differently alone and in a batch (seen
    with jaxlib 0.10.2 on x86-64, whatever `xla_cpu_max_isa`). Elementwise adds of fixed halves have
    one order at every batch width.
    """
    d = a.shape[-1]
    width = 1 << max(0, (d - 1).bit_length())
    if width != d:
        a = jnp.concatenate([a, jnp.zeros(a.shape[:-1] + (width - d,), a.dtype)], axis=-1)
    while a.shape[-1] > 1:
        half = a.shape[-1] // 2
        a = a[..., :half] + a[..., half:]
    return a[..., 0]


@struct.dataclass
class Design:
    """Sufficient statistics of (Phi, y) in the eigenbasis of Phi^T Phi."""

    vecs: jax.Array  # [D, D] eigenvectors (columns), eigenvalues descending
    lam: jax.Array  # [D] eigenvalues of Phi^T Phi, >= 0
    proj: jax.Array  # [D] V^T Phi^T y
    c2: jax.Array  # [D] (V^T Phi^T y)^2 / lambda (0 where lambda = 0)
    perp: jax.Array  # ||y||^2 - sum c2: squared norm of y outside span(Phi)
    n: jax.Array  # number of observations (float)


@struct.dataclass
class Posterior:
    vecs: jax.Array  # [D, D]
    weights: jax.Array  # [D] posterior mean of w (in feature coordinates)
    inv_kappa: jax.Array  # [D] eigenvalues of the posterior covariance S
    noise: jax.Array  # 1 / beta
    alpha: jax.Array
    beta: jax.Array


def design(phi: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> Design:
    """Decompose once per fit. `mask` [n] drops padding rows (fixed-capacity observation arrays)."""
    phi = jnp.asarray(phi)
    dtype = jnp.promote_types(phi.dtype, jnp.float32)  # float32, or float64 where x64 is enabled
    phi = phi.astype(dtype)
    y = jnp.asarray(y, dtype)
    if mask is None:
        mask = jnp.ones(y.shape, bool)
    phi = jnp.where(mask[:, None], phi, 0.0)
    y = jnp.where(mask, y, 0.0)
    d = phi.shape[1]
    n = jnp.sum(mask).astype(dtype)
    gram = jnp.matmul(phi.T, phi, precision=HIGHEST)
    lam, vecs = eigh(gram)
    lam, vecs = lam[::-1], vecs[:, ::-1]
    # Rank is at most n; the rest are zero up to rounding, and so is anything below eigh's noise floor.
    tol = jnp.max(lam) * 16 * jnp.finfo(dtype).eps
    keep = (jnp.arange(d) < n) & (lam > tol)
    lam = jnp.where(keep, lam, 0.0)
    # Matrix-vector products as products summed over an explicit axis: XLA:CPU lowers a `dot` with
    # one vector operand differently with and without a batch axis (so a vmapped seed would round
    # differently from the same seed alone); a sum over an axis lowers the same way in both.
    phi_y = jnp.sum(phi * y[:, None], axis=0)
    proj = jnp.where(keep, jnp.sum(vecs * phi_y[:, None], axis=0), 0.0)
    safe_lam = jnp.where(keep, lam, 1.0)
    c2 = jnp.where(keep, proj**2 / safe_lam, 0.0)
    # The least-squares residual as a vector, not ||y||^2 - sum c2: with fewer observations than
    # features y lies in span(Phi) and that difference is pure rounding (1e-5), which beta ~ 1e3
    # would turn into a visible shift of the evidence.
    coef = jnp.sum(vecs * (proj / safe_lam)[None, :], axis=1)
    resid = y - jnp.sum(phi * coef[None, :], axis=1)
    perp = jnp.sum(resid * resid)
    return Design(vecs=vecs, lam=lam, proj=proj, c2=c2, perp=perp, n=n)


def neg_log_evidence(theta: jax.Array, dsg: Design, objective: str = "exact") -> jax.Array:
    """Negative log marginal likelihood at theta = (log alpha, log sigma^2); +inf outside the box."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    theta = jnp.asarray(theta, dsg.lam.dtype)
    outside = jnp.any((theta < -THETA_BOUND) | (theta > THETA_BOUND)) | jnp.any(theta == jnp.inf)
    t = jnp.clip(theta, -THETA_BOUND, THETA_BOUND)
    alpha, beta = jnp.exp(t[0]), jnp.exp(-t[1])
    d = dsg.lam.shape[0]
    kappa = alpha + beta * dsg.lam
    resid2 = dsg.perp + pairwise_sum(dsg.c2 * (alpha / kappa) ** 2)
    mtm = pairwise_sum((beta * dsg.proj / kappa) ** 2)
    logdet = pairwise_sum(jnp.log(kappa))
    if objective == "exact":
        data, logdet_term = resid2, logdet
    else:
        data = jnp.sqrt(resid2)
        logdet_term = jnp.where(logdet > LOG_FLOAT32_MAX, jnp.inf, jnp.logaddexp(logdet, LOG_DET_FLOOR))
    mll = (
        0.5 * d * jnp.log(alpha)
        + 0.5 * dsg.n * jnp.log(beta)
        - 0.5 * dsg.n * jnp.log(2 * jnp.pi)
        - 0.5 * beta * data
        - 0.5 * alpha * mtm
        - 0.5 * logdet_term
    )
    nll = jnp.where(jnp.isnan(mll), NAN_SCORE, -mll)
    return jnp.where(outside, jnp.inf, nll)


def sample_prior(key: jax.Array) -> jax.Array:
    """A start point for the fit: log alpha ~ N(0, 1), log sigma^2 ~ N(-3, 1)."""
    return jax.random.normal(key, (2,), jnp.float32) + jnp.asarray(PRIOR_MEAN, jnp.float32)


def fit(
    theta0: jax.Array, dsg: Design, objective: str = "exact", xatol: float = 1e-4, fatol: float = 1e-4
) -> nelder_mead.NelderMeadResult:
    """Nelder-Mead (SciPy `fmin` defaults) on the negative log evidence from theta0."""
    return nelder_mead.minimize(lambda th: neg_log_evidence(th, dsg, objective), theta0, xatol, fatol)


def posterior(dsg: Design, alpha: jax.Array, beta: jax.Array) -> Posterior:
    kappa = alpha + beta * dsg.lam
    weights = jnp.sum(dsg.vecs * (beta * dsg.proj / kappa)[None, :], axis=1)
    return Posterior(
        vecs=dsg.vecs, weights=weights, inv_kappa=1.0 / kappa, noise=1.0 / beta, alpha=alpha, beta=beta
    )


def posterior_from_theta(dsg: Design, theta: jax.Array) -> Posterior:
    t = jnp.clip(theta, -THETA_BOUND, THETA_BOUND)
    return posterior(dsg, jnp.exp(t[0]), jnp.exp(-t[1]))


def predict(post: Posterior, phi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Predictive mean and variance at basis features phi [M, D]."""
    z = jnp.matmul(phi, post.vecs, precision=HIGHEST)
    mean = jnp.matmul(phi, post.weights, precision=HIGHEST)
    var = post.noise + jnp.matmul(z * z, post.inv_kappa, precision=HIGHEST)
    return mean, var
