"""Where the members of a run live: a device mesh, and how many members fit in memory.

With D devices (`--devices D`) the mesh has two axes, ("members", "data"), of sizes (m, D / m):
m is the largest divisor of D not above the member count K. So K >= D spreads the members over
every device (K is padded to a multiple of D with copies of the first members, whose results are
dropped), while one big model (K = 1, say NB101) splits each training batch over all D devices;
in between, both. Along "data", XLA reduces BatchNorm statistics, the loss and the gradients
across devices, so a data-parallel step computes what the one-device step computes (up to the
order of float additions). With several processes (`a2v_jax.distributed`) the mesh is every
process's devices, and host values are placed with `distributed.put` (each process supplies its
own devices' shares).

Memory: `check_memory` estimates what K members need (parameters and Adam moments, one step's
activations, the held-out and prior passes, the exported embeddings) and refuses, naming the
limit, a K that cannot fit in the memory the device (or, on CPU, the machine) has available.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import distributed
from ..model import ModelConfig

MEMBERS, DATA = "members", "data"


class DeviceError(ValueError):
    """More devices asked for than there are."""


class MemoryLimitError(ValueError):
    """The members of a run cannot fit in memory together."""


@dataclass(frozen=True)
class Layout:
    """A ("members", "data") mesh and how arrays are placed on it."""

    mesh: Mesh
    members_axis: str = MEMBERS
    data_axis: str = DATA

    @property
    def members_size(self) -> int:
        return int(self.mesh.shape[self.members_axis])

    @property
    def data_size(self) -> int:
        return int(self.mesh.shape[self.data_axis])

    def padded(self, members: int) -> int:
        """The member count rounded up to fill every device of the members axis."""
        return -(-members // self.members_size) * self.members_size

    def member_sharding(self, ndim: int) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(self.members_axis, *([None] * (ndim - 1))))

    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def batch_spec(self, ndim: int) -> NamedSharding:
        """A batch array inside the (member-vmapped) step: its first axis split over "data"."""
        return NamedSharding(self.mesh, PartitionSpec(self.data_axis, *([None] * (ndim - 1))))

    def place_members(self, tree):
        """Host values split over "members" (each process supplies its own devices' shares)."""
        return jax.tree_util.tree_map(lambda x: distributed.put(x, self.member_sharding(np.ndim(x))), tree)

    def place_replicated(self, tree):
        return distributed.put(tree, self.replicated())


def make_layout(devices: int | None, members: int) -> Layout | None:
    """The mesh for `members` members on the first `devices` devices (None: no mesh, one device)."""
    if devices is None:
        return None
    available = jax.devices()
    if devices > len(available):
        hint = (" (on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before starting Python)"
                if available[0].platform == "cpu" else "")
        raise DeviceError(f"asked for {devices} devices, {len(available)} available{hint}")
    m = max(d for d in range(1, devices + 1) if devices % d == 0 and d <= max(members, 1))
    grid = np.array(available[:devices]).reshape(m, devices // m)
    return Layout(Mesh(grid, (MEMBERS, DATA)))


# ---------------------------------------------------------------------- memory


def member_bytes(model: ModelConfig, num_params: int, num_cells: int, batch_size: int, prior_samples: int,
                 eval_batch: int) -> int:
    """A generous estimate of the device memory one member needs (float32 everywhere).

    parameters, gradients, Adam's two moments and the update: 5 copies; the split and the batch
    order: 3 ints a cell; one training step's activations (about 12 arrays of [B n, hidden] kept
    for the backward pass); the eval passes (a batch of `eval_batch` cells, forward only); the
    prior decodings (latents, logits, decoded cells); the exported embeddings [N, d].
    """
    n, h, d, k = model.num_nodes, model.hidden, model.latent, model.num_ops
    params = 5 * num_params * 4
    indices = 3 * num_cells * 4
    step = 12 * batch_size * n * h * model.num_layers * 4
    eval_pass = 4 * min(eval_batch, num_cells) * n * h * 4
    prior = prior_samples * n * (d + k + n) * 4 + prior_samples * n * (n + 1)
    export = num_cells * d * 4
    return int(params + indices + step + eval_pass + prior + export)


def available_bytes() -> int | None:
    """Memory free for arrays: the first device's limit minus its use, or on CPU the machine's
    available memory (None when it cannot be told)."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # some backends do not report
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(members: int, per_member: int, shared: int, devices: int = 1, available: int | None = None) -> None:
    """Refuse (MemoryLimitError, naming the limit) a member count that cannot fit; 80% of the
    available memory may be used. On a mesh each device holds its share of the members."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    budget = 0.8 * available
    per_device = -(-members // max(devices, 1))
    need = per_device * per_member + shared
    if need <= budget:
        return
    fit = max(int((budget - shared) // per_member), 0) * max(devices, 1)
    where = "per device" if devices > 1 else "available"
    raise MemoryLimitError(
        f"{members} members need about {need / 2**30:.1f} GiB ({per_member / 2**20:.0f} MiB each), but only "
        f"{available / 2**30:.1f} GiB are {where} (80% may be used): at most {fit} members fit in one run; "
        "train fewer seeds (or sweep values) at a time" + (", or spread them with --devices" if devices == 1 else "")
    )


__all__ = ["DATA", "MEMBERS", "DeviceError", "Layout", "MemoryLimitError", "available_bytes", "check_memory",
           "make_layout", "member_bytes"]
