"""Seeds sharded over a device mesh give the same results as one device (4 CPU devices, in a subprocess
because the device count is fixed when JAX starts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import jax, numpy as np
assert len(jax.devices()) == 4, jax.devices()
from search_problems import synthetic_problem
from a2v_jax.search import random_search, reinforce, runner
problem = synthetic_problem(2000.0)
mesh = runner.make_mesh(4)
keys = runner.seed_keys(10)  # not a multiple of 4: padded per device, trimmed after
for mod, preset in ((random_search, "fixed"), (reinforce, "fixed")):
    cfg = mod.Config(space="nb201", preset=preset)
    one = runner.run_seeds(mod, keys, problem, cfg)
    sharded = runner.run_seeds(mod, keys, problem, cfg, mesh=mesh)
    assert sharded.trace.index.shape == one.trace.index.shape
    devices = {s.device for s in sharded.trace.index.addressable_shards}
    assert len(devices) == 4, devices
    np.testing.assert_array_equal(np.asarray(one.trace.index), np.asarray(sharded.trace.index))
    np.testing.assert_allclose(np.asarray(one.trace.time), np.asarray(sharded.trace.time), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(one.trace.incumbent_test), np.asarray(sharded.trace.incumbent_test))
    if mod is random_search:
        chunked = runner.run_seeds(mod, keys, problem, cfg, mesh=mesh, seed_chunk=4)
        np.testing.assert_array_equal(np.asarray(one.trace.index), np.asarray(chunked.trace.index))
        # one round a segment: before each, every device packs its running seeds into its first chunks
        stepped = runner.BatchedRun(mod, problem, cfg, 10, mesh=mesh, seed_chunk=8)
        states = stepped.init(keys)
        while not stepped.status(states)[0]:
            states = stepped.advance(states, 1)
        np.testing.assert_array_equal(np.asarray(one.trace.index), np.asarray(stepped.finish(states, 10).trace.index))
    print(mod.__name__, preset, "sharded == unsharded")
print("OK")
"""


def test_sharded_equals_unsharded():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("OK")


BASELINES_SCRIPT = r"""
import jax, numpy as np
assert len(jax.devices()) == 4, jax.devices()
from search_problems import synthetic_problem
from a2v_jax.search import bo_discrete, bo_supervised, rl_discrete, rl_supervised, runner
problem = synthetic_problem(1500.0)
mesh = runner.make_mesh(4)
keys = runner.seed_keys(6)  # not a multiple of 4: padded per device, trimmed after
# DNGO-based ones in the reference preset, as for DNGO above: the fixed preset's log-EI ranking has
# near-ties that round-off of a different batch shape can flip after a few rounds
cases = (
    (rl_discrete, "reference", {}),
    (bo_discrete, "reference", {"epochs": 4, "hidden": 32, "chunk": 64, "top_k": 3}),
    (rl_supervised, "fixed", {"hidden": 16, "layers": 2, "policy_hidden": 32, "chunk": 128}),
    (bo_supervised, "reference", {"hidden": 16, "layers": 2, "chunk": 128, "window": 128, "top_k": 4, "epochs": 3}),
)
for mod, preset, small in cases:
    cfg = mod.Config(space="nb201", preset=preset, **small)
    one = runner.run_seeds(mod, keys, problem, cfg)
    sharded = runner.run_seeds(mod, keys, problem, cfg, mesh=mesh)
    assert len({s.device for s in sharded.trace.index.addressable_shards}) == 4
    a, b = np.asarray(one.trace.index), np.asarray(sharded.trace.index)
    if mod in (rl_supervised, bo_supervised):
        # The jointly trained GIN's products round differently for 2 seeds a device than for 6 in
        # one batch on XLA:CPU, and a near-tie in the ranking of cells can then swap two queries
        # (measured for rl-supervised: one seed of six, from its 19th query). Each seed's first 16
        # queries must agree, and half of the seeds entirely.
        np.testing.assert_array_equal(a[:, :16], b[:, :16])
        assert sum(np.array_equal(x, y) for x, y in zip(a, b)) >= 3, (a, b)
        print(mod.__name__, preset, "sharded ~= unsharded")
        continue
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.asarray(one.trace.time), np.asarray(sharded.trace.time), rtol=1e-6)
    print(mod.__name__, preset, "sharded == unsharded")
print("OK")
"""


def test_baselines_sharded_equal_unsharded():
    """The supervised and discrete-encoding baselines under a 4-device mesh give the unsharded traces."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", BASELINES_SCRIPT], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_too_many_devices_is_a_clear_error():
    import pytest

    from a2v_jax.search.runner import make_mesh

    with pytest.raises(ValueError, match="devices"):
        make_mesh(10_000)


DNGO_SCRIPT = r"""
import jax, numpy as np
assert len(jax.devices()) == 4, jax.devices()
from search_problems import synthetic_problem
from a2v_jax.search import dngo, runner
problem = synthetic_problem(1500.0)
cfg = dngo.Config(preset="reference", top_k=3, epochs=10, hidden=32, chunk=64)
keys = runner.seed_keys(8)  # two seeds a device: this used to deadlock
one = runner.run_seeds(dngo, keys, problem, cfg)
sharded = runner.run_seeds(dngo, keys, problem, cfg, mesh=runner.make_mesh(4))
np.testing.assert_array_equal(np.asarray(one.trace.index), np.asarray(sharded.trace.index))
np.testing.assert_array_equal(np.asarray(one.trace.time), np.asarray(sharded.trace.time))
print("OK")
"""


def test_dngo_with_two_seeds_a_device_finishes_and_matches():
    """DNGO's nested loops under a mesh: each device loops over its own seeds (no collective inside a
    loop), so two seeds a device neither hang nor change any seed's trace."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", DNGO_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("OK")
