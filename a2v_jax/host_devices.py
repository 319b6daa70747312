"""One CPU device a core for the command lines, so that seeds split over the cores by default.

XLA gives a CPU process one device, whose programs split each operation over a thread pool of all
cores. A batched search is made of many small per-seed operations that split poorly; the same seeds
split over one device a core (`shard_map` over a seed axis, `a2v_jax.search.runner`) keep every core
busy with whole seeds instead. Measured on a 2-core machine, one run after the other
(benchmarks/results/startup_500.json): the default 500-seed DNGO search took 438 s on one device
and 398 s on two, REINFORCE 13.7 s and 13.1 s. A seed's numbers do not depend on the sharding
(tests/test_search_sharding.py, tests/test_host_devices.py), so this changes speed, not results.

JAX decides the CPU device count when its backend starts, from `jax_num_cpu_devices` or
`--xla_force_host_platform_device_count` in `XLA_FLAGS`. The search command line, run as a
process of its own (`python -m a2v_jax.search`, alone: not one of several processes), calls
`claim()` after parsing its flags and before anything runs on a device; it sets one device a core
unless the user already chose a count (either setting), the backend has started, there is one
core, or JAX will run on an accelerator. Library code never calls this: importing `a2v_jax`
changes no JAX setting, and `main()` or `run_search` called from a program use the devices that
program has.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil

XLA_COUNT_FLAG = "--xla_force_host_platform_device_count"


def cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def accelerator_expected(platforms: str | None) -> bool:
    """Whether JAX's default backend will not be the CPU: `platforms` (JAX_PLATFORMS or
    jax_platforms, the first one listed being the default) names another first, or, left unset, an
    accelerator plugin is installed (libtpu, or a `jax_plugins` module such as xla_cuda12)."""
    if platforms:
        return platforms.split(",")[0].strip().lower() != "cpu"
    if importlib.util.find_spec("libtpu") is not None:
        return True
    spec = importlib.util.find_spec("jax_plugins")
    return spec is not None and any(True for _ in pkgutil.iter_modules(spec.submodule_search_locations or []))


def planned_count(xla_flags: str, configured: int, n_cores: int, accelerator: bool = False) -> int | None:
    """The CPU device count to set, or None to leave JAX's settings alone.

    xla_flags: the `XLA_FLAGS` text; configured: `jax_num_cpu_devices` (-1 when unset);
    accelerator: the seeds will run on an accelerator (a TPU VM's hundred cores stay one device).
    """
    if accelerator or configured >= 0 or XLA_COUNT_FLAG in xla_flags or n_cores < 2:
        return None
    return n_cores


def claim() -> int | None:
    """Give the CPU backend one device a core when nobody chose a count; returns the count set
    (None: nothing changed, the process keeps whatever devices JAX gives it)."""
    import jax

    platforms = os.environ.get("JAX_PLATFORMS") or jax.config.jax_platforms
    count = planned_count(os.environ.get("XLA_FLAGS", ""), int(jax.config.jax_num_cpu_devices), cores(),
                          accelerator_expected(platforms))
    if count is None:
        return None
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backend has started (e.g. `main` called from a running program)
        return None
    return count


def default_devices(claimed: int | None, seeds: int) -> int | None:
    """--devices for a run of `seeds` seeds that did not name one: the claimed CPU devices (no more
    than the seeds) when the run is on CPU, else None (one device, no mesh)."""
    if claimed is None or seeds < 2:
        return None
    import jax

    if jax.default_backend() != "cpu":
        return None
    return min(claimed, seeds)
