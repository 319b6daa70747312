"""Bayesian linear regression and Nelder-Mead against direct NumPy/SciPy computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from a2v_jax.search import blr, nelder_mead


def _features(seed: int = 0, n: int = 40, d: int = 128):
    """tanh features of a random one-layer net on z-scored inputs, targets in [0, 1] like accuracies."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16))
    w = rng.uniform(-0.25, 0.25, size=(16, d))
    b = rng.uniform(-0.25, 0.25, size=d)
    phi = np.tanh(x @ w + b).astype(np.float32)
    y = (0.7 + 0.1 * np.tanh(x[:, 0] - x[:, 1]) + 0.02 * rng.normal(size=n)).astype(np.float32)
    return phi, y


def _nll_numpy(theta, phi, y, objective="exact"):
    """The marginal likelihood as the published code writes it, in float64."""
    if np.any(theta == np.inf) or np.any((theta < -10) | (theta > 10)):
        return np.inf
    phi, y = phi.astype(np.float64), y.astype(np.float64)
    n, d = phi.shape
    alpha, beta = np.exp(theta[0]), 1 / np.exp(theta[1])
    k = beta * phi.T @ phi + alpha * np.eye(d)
    m = beta * np.linalg.solve(k, phi.T @ y)
    r = y - phi @ m
    data = np.dot(r, r) if objective == "exact" else np.linalg.norm(r, 2)
    sign, logdet = np.linalg.slogdet(k)
    if objective == "reference":  # det K cast to float32: inf past 3.4e38; floored near 1e-10
        if logdet > np.log(np.finfo(np.float32).max):
            return np.inf
        logdet = np.log(np.exp(logdet) + 1e-10)
    mll = d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
    mll -= beta / 2 * data + alpha / 2 * m @ m + 0.5 * logdet
    return np.inf if np.isinf(mll) else -mll


@pytest.mark.parametrize("objective", ["exact", "reference"])
def test_neg_log_evidence_matches_numpy(objective):
    phi, y = _features()
    dsg = blr.design(phi, y)
    f = jax.jit(lambda th: blr.neg_log_evidence(th, dsg, objective))
    for theta in [(0.0, -3.0), (1.5, -5.0), (-2.0, -6.0), (3.0, -2.0), (-4.0, -8.0)]:
        theta = np.asarray(theta)
        want = _nll_numpy(theta, phi, y, objective)
        got = float(f(jnp.asarray(theta, jnp.float32)))
        if np.isinf(want):
            assert np.isinf(got) and got > 0
        else:
            assert got == pytest.approx(want, rel=2e-4, abs=2e-3), theta
    assert np.isinf(float(f(jnp.asarray([10.5, 0.0])))) and np.isinf(float(f(jnp.asarray([0.0, -11.0]))))


def test_reference_objective_overflows_like_float32_determinant():
    """With many observations and a large beta, det K passes 3.4e38: the published objective is +inf."""
    phi, y = _features(n=120)
    dsg = blr.design(phi, y)
    theta = jnp.asarray([0.0, -6.0])
    assert np.isinf(float(blr.neg_log_evidence(theta, dsg, "reference")))
    assert np.isfinite(float(blr.neg_log_evidence(theta, dsg, "exact")))


def test_masked_rows_do_not_count():
    phi, y = _features(n=30)
    pad_phi = np.concatenate([phi, np.ones((10, phi.shape[1]), np.float32)])
    pad_y = np.concatenate([y, np.ones(10, np.float32)])
    mask = np.arange(40) < 30
    a, b = blr.design(phi, y), blr.design(pad_phi, pad_y, jnp.asarray(mask))
    theta = jnp.asarray([0.5, -4.0])
    assert float(blr.neg_log_evidence(theta, a)) == pytest.approx(float(blr.neg_log_evidence(theta, b)), rel=1e-5)


def test_posterior_matches_direct_numpy():
    phi, y = _features(n=50)
    alpha, beta = 0.7, 180.0
    post = blr.posterior(blr.design(phi, y), jnp.float32(alpha), jnp.float32(beta))
    p64, y64 = phi.astype(np.float64), y.astype(np.float64)
    s = np.linalg.inv(beta * p64.T @ p64 + alpha * np.eye(128))
    m = beta * s @ p64.T @ y64
    test = _features(seed=1, n=200)[0]
    mean, var = blr.predict(post, jnp.asarray(test))
    t64 = test.astype(np.float64)
    np.testing.assert_allclose(np.asarray(post.weights), m, rtol=2e-3, atol=2e-4)
    # float32 features: phi^T phi carries rounding of order eps * ||phi||^2, as the published code's does.
    np.testing.assert_allclose(np.asarray(mean), t64 @ m, rtol=1e-3, atol=5e-4)
    np.testing.assert_allclose(np.asarray(var), 1 / beta + np.einsum("ij,jk,ik->i", t64, s, t64), rtol=2e-3)


def _rosen(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _walled(x):
    """A bowl with an infinite wall, like the evidence outside its box."""
    q = (x[0] - 1.3) ** 2 + 3 * (x[1] + 0.4) ** 2 + x[0] * x[1]
    return jnp.where(x[0] > 1.0, jnp.inf, q)


@pytest.mark.parametrize(
    "fun,x0,kwargs",
    [
        (_rosen, [-1.2, 1.0], {}),
        (_rosen, [0.0, 0.0, 0.0], {}),
        (_rosen, [-1.2, 1.0], {"maxfev": 37}),  # stops mid-iteration at the evaluation limit
        (_rosen, [2.0, -1.0], {"maxiter": 15}),
        (_walled, [0.2, 0.0], {}),
        (lambda x: jnp.sum(jnp.abs(x)), [0.0, 3.0], {}),
    ],
)
def test_nelder_mead_follows_scipy_exactly_in_float64(fun, x0, kwargs):
    with jax.enable_x64(True):
        x0 = np.asarray(x0, np.float64)
        res = jax.jit(lambda x: nelder_mead.minimize(fun, x, **kwargs))(jnp.asarray(x0))
        opts = {"maxiter": kwargs.get("maxiter"), "maxfev": kwargs.get("maxfev"), "xatol": 1e-4, "fatol": 1e-4}
        ref = optimize.minimize(lambda x: float(fun(jnp.asarray(x))), x0, method="Nelder-Mead", options=opts)
        np.testing.assert_allclose(np.asarray(res.x), ref.x, rtol=1e-12, atol=1e-12)
        assert float(res.fun) == pytest.approx(ref.fun, rel=1e-10, abs=1e-11)
        assert int(res.nfev) == ref.nfev and int(res.nit) == ref.nit and int(res.status) == ref.status


CASES = [(0, 40, "exact"), (1, 50, "exact"), (1, 16, "reference"), (3, 40, "reference"), (5, 24, "reference")]


@pytest.mark.parametrize("seed,n,objective", CASES)
def test_fit_matches_scipy_fmin_on_the_evidence(seed, n, objective):
    """The JAX fit vs SciPy `fmin` on the direct NumPy evidence, from the same prior draw.

    In float64 they take the same path (same evaluations, optimum to 1e-6); the float32 fit used in
    search lands on the same optimum up to the objective's float32 rounding.
    """
    phi, y = _features(seed=seed, n=n)
    theta0 = np.asarray(blr.sample_prior(jax.random.PRNGKey(seed)), np.float64)
    ref = optimize.fmin(lambda t: _nll_numpy(t, phi, y, objective), theta0, disp=False, full_output=True)
    assert np.isfinite(ref[1])
    with jax.enable_x64(True):
        dsg = blr.design(jnp.asarray(phi, jnp.float64), jnp.asarray(y, jnp.float64))
        res = jax.jit(lambda t: blr.fit(t, dsg, objective))(jnp.asarray(theta0))
        np.testing.assert_allclose(np.asarray(res.x), ref[0], atol=1e-7)
        assert float(res.fun) == pytest.approx(ref[1], rel=1e-10)
        assert int(res.nfev) == ref[3]
    dsg = blr.design(phi, y)
    res = jax.jit(lambda t: blr.fit(t, dsg, objective))(jnp.asarray(theta0, jnp.float32))
    # The evidence is flat along log sigma^2 near these optima: float32 rounding of the design
    # moves the minimiser by up to ~0.015 while the minimum itself agrees to 1e-4.
    np.testing.assert_allclose(np.asarray(res.x), ref[0], atol=2e-2)
    assert float(res.fun) == pytest.approx(ref[1], rel=1e-4, abs=1e-3)


def test_nelder_mead_vmaps_over_start_points():
    starts = jnp.asarray([[-1.2, 1.0], [2.0, 2.0], [0.5, -0.5]])
    batched = jax.jit(jax.vmap(lambda x: nelder_mead.minimize(_rosen, x)))(starts)
    for i in range(3):
        single = nelder_mead.minimize(_rosen, starts[i])
        np.testing.assert_allclose(np.asarray(batched.x[i]), np.asarray(single.x), rtol=1e-6)
        assert int(batched.nfev[i]) == int(single.nfev)


def test_reference_fit_stays_at_an_infinite_start_like_scipy():
    """Where the whole start simplex scores +inf (det K overflows float32), both stay at the prior draw."""
    phi, y = _features(seed=2, n=60)
    theta0 = np.asarray(blr.sample_prior(jax.random.PRNGKey(2)), np.float64)
    ref = optimize.fmin(lambda t: _nll_numpy(t, phi, y, "reference"), theta0, disp=False, full_output=True)
    res = jax.jit(lambda t: blr.fit(t, blr.design(phi, y), "reference"))(jnp.asarray(theta0, jnp.float32))
    assert np.isinf(ref[1]) and np.isinf(float(res.fun))
    np.testing.assert_allclose(np.asarray(res.x), ref[0], rtol=1e-6)
    np.testing.assert_allclose(ref[0], theta0)
    assert int(res.nfev) == ref[3] == 400


def test_products_ask_for_full_float32_on_every_platform():
    """Every matrix product of the fit and the prediction is lowered with HIGHEST precision, so a GPU
    (TF32 by default) or a TPU (bfloat16) computes the Gram matrix and the EI inputs as a CPU does."""
    phi, y = jnp.ones((5, 4)), jnp.linspace(0.0, 1.0, 5)
    for fn, args in ((blr.design, (phi, y)),
                     (blr.predict, (blr.posterior(blr.design(phi, y), 1.0, 1.0), phi))):
        dots = [line for line in jax.jit(fn).lower(*args).as_text().splitlines() if "dot_general" in line]
        assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots), fn.__name__


@pytest.mark.parametrize("d", [1, 2, 5, 32, 100])
def test_pairwise_sum_adds_halves_in_a_fixed_order(d):
    """The evidence's sums: the halving order (checked against the same order in NumPy float32, bit
    for bit), and the same bits for a row whether it is summed alone or among other rows."""
    rng = np.random.default_rng(d)
    a = (rng.normal(size=(6, d)) * 10.0 ** rng.integers(-3, 4, size=(6, d))).astype(np.float32)
    want = np.concatenate([a, np.zeros((6, (1 << (d - 1).bit_length()) - d), np.float32)], axis=1)
    while want.shape[1] > 1:
        want = want[:, : want.shape[1] // 2] + want[:, want.shape[1] // 2:]
    got = np.asarray(jax.jit(blr.pairwise_sum)(a))
    np.testing.assert_array_equal(got, want[:, 0])
    np.testing.assert_array_equal(np.asarray(jax.jit(blr.pairwise_sum)(a[2])), got[2])
    exact = a.astype(np.float64).sum(axis=1)
    assert np.all(np.abs(got - exact) <= 1e-6 * np.abs(a).astype(np.float64).sum(axis=1))
