"""What defines a pretraining run: `PretrainConfig`, the preset table `QUIRKS`, and the members
(seeds x sweep values) one run trains together.

One dataclass drives the Python API (`a2v_jax.pretrain.run(PretrainConfig(...))`), the command
line (`python -m a2v_jax.pretrain`, whose options are generated from the fields declared with
`a2v_jax.cli.option`) and the saved `config.json`, so every default is declared once, here.

Presets: the published training loop differs from the paper's description in four switches,
each a field defaulting to None that `__post_init__` fills from `QUIRKS` (the one preset table of
pretraining, see `a2v_jax.presets`); each can be set alone on top of either preset. What the
published code does is described in `docs/reference.md` § "Pretraining loop".

| switch                   | `reference` (published code)              | `fixed`                              |
|--------------------------|-------------------------------------------|--------------------------------------|
| `eval_after_first_epoch` | True: eval mode from epoch 2 on (frozen   | False: train mode every epoch        |
|                          | BatchNorm statistics, no dropout, z = mu) |                                      |
| `split`                  | `index`: first 90% train, the rest held out | `random`: a seeded 90 / 10 split   |
| `reshuffle`              | False: one batch order for all epochs     | True: a new order every epoch        |
| `mu_stats_from_training` | True: the prior's mean / std of mu come   | False: from the training set         |
|                          | from the training batches as trained      | re-encoded in eval mode              |

Members: `seeds` consecutive seeds from `seed`, times every point of `sweep` (a grid over the
learning rate and / or the KL weight, e.g. "lr=1e-4,1e-3;kl_weight=0.5,1"). All members train as
one computation (`jax.vmap` over a member axis); the swept values are per-member data (`Hyper`),
so a sweep does not compile anything twice.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

from .. import presets
from ..cli import option
from ..model import MODEL_NAMES
from ..spaces import SPACE_NAMES, get_profile, space_key

QUIRKS: dict[str, dict[str, Any]] = {
    presets.REFERENCE: {
        "eval_after_first_epoch": True,
        "split": "index",
        "reshuffle": False,
        "mu_stats_from_training": True,
    },
    presets.FIXED: {
        "eval_after_first_epoch": False,
        "split": "random",
        "reshuffle": True,
        "mu_stats_from_training": False,
    },
}
presets.check_table(QUIRKS, __name__)

SWEEPABLE = ("lr", "kl_weight")
"""Hyperparameters that may differ between the members of one run (`Hyper`)."""

# Fields that may change when a run is resumed (they do not change what is computed).
RESUMABLE_FIELDS = frozenset({"out", "resume", "overwrite", "progress", "checkpoint_seconds", "epochs",
                              "chunk_steps", "devices", "prior_every", "member_block"})


class ConfigError(ValueError):
    """A setting is out of range or names nothing known."""


@dataclass(frozen=True)
class Member:
    """One model of a run: its seed and the values of the swept hyperparameters."""

    seed: int
    lr: float
    kl_weight: float
    swept: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Folder name inside a batch: `seed-3`, or `lr-0.0001_seed-3` in a sweep."""
        parts = [f"{name}-{getattr(self, name):g}" for name in self.swept]
        return "_".join([*parts, f"seed-{self.seed}"])

    def describe(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name):g}" for name in self.swept)
        return f"seed {self.seed}" + (f" ({values})" if values else "")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pretraining run (saved as config.json)."""

    space: str = option("nb201", "search space", choices=SPACE_NAMES)
    model: str = option("arch2vec", "arch2vec (GIN, KL), arch2vec-nokl (GIN, no KL), gae / vgae (GCN baselines)",
                        choices=MODEL_NAMES)
    preset: str = option(presets.REFERENCE, presets.PRESET_HELP + "; reference gives the paper's Table 1 numbers",
                         choices=presets.PRESETS)
    epochs: int | None = option(None, "training epochs (default: the space's, NB101 8, NB201 and DARTS 10)")
    seed: int = option(0, "seed of everything random (weights, split, order, samples); the first of --seeds")
    seeds: int = option(1, "train seeds SEED..SEED+K-1 as one computation; K > 1 writes OUT/seed-<s>/ and "
                           "OUT/summary.json", metavar="K")
    sweep: str | None = option(None, "also vary hyperparameters across members: NAME=V1,V2,... with NAME lr or "
                                     "kl_weight; ';' between names makes a grid; one member per value and seed",
                               metavar="NAME=V1,V2")
    lr: float = option(1e-3, "Adam learning rate")
    kl_weight: float = option(1.0, "weight of the KL term (variational models)")
    batch_size: int = option(32, "training batch size")
    clip_norm: float = option(5.0, "clip gradients to this global norm")
    dropout: float = option(0.3, "dropout rate on the latent codes fed to the decoder, in train mode (the "
                                 "published 0.3)")
    train_fraction: float = option(0.9, "share of cells trained on; the rest is held out")
    split: str | None = option(None, "quirk: held-out split, index (first cells train) or random "
                                     "(default: the preset's)", choices=("index", "random"))
    reshuffle: bool | None = option(None, "quirk: a new batch order every epoch (default: the preset's)")
    eval_after_first_epoch: bool | None = option(None, "quirk: eval mode after the first epoch (default: the preset's)")
    mu_stats_from_training: bool | None = option(
        None, "quirk: the prior's mean / std of mu from the training batches as trained, not re-encoded "
              "(default: the preset's)")
    readout: str = option("mean", "embedding: mean of mu over all vertices (published code) or sum over the real "
                                  "vertices (the paper's text)", choices=("mean", "sum"))
    limit: int | None = option(None, "use only the first LIMIT cells (quick trials)")
    prior_samples: int = option(10_000, "prior samples decoded for validity / uniqueness")
    prior_every: int = option(0, "also measure validity / uniqueness every N epochs (0: after the last only)",
                              metavar="N")
    chunk_steps: int = option(200, "training steps per compiled call (progress, checkpoints and Ctrl-C "
                                   "between calls)")
    eval_batch: int = option(2048, "cells per batch of the eval passes (held-out metrics, export)")
    member_block: int | None = option(
        None, "members vmapped together; further blocks run one after another in the same compiled call "
              "(default: 1 on CPU, so that each seed gives the same bits alone or in any batch, at about a fifth "
              "less speed than vmapping them all; all members on an accelerator)", metavar="B")
    devices: int | None = option(None, "spread the members over this many devices; with fewer members than "
                                       "devices, each batch is split over them too (default: one device; with several "
                                       "processes, every device of every process)")
    out: str | None = option(None, "run folder (default runs/pretrain-<space>-<model>-<preset>-seed<seed>, "
                                   "or ...-seeds<first>-<last> for several seeds)")
    resume: bool = option(False, "continue the interrupted run in OUT.partial (or train a finished one further)")
    overwrite: bool = option(False, "replace the run in OUT (it stays whole until the new one is complete)")
    progress: bool = option(True, "progress bars and per-epoch lines")
    checkpoint_seconds: float = option(120.0, "write a checkpoint at least this often")
    space_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Options of the space's cell set (DARTS: `num`, `seed`), passed to `space.load`."""

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        try:
            set_("space", space_key(self.space))
        except KeyError as e:
            raise ConfigError(str(e)) from None
        if self.model not in MODEL_NAMES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        try:
            presets.check_preset(self.preset)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        presets.resolve_quirks(self, QUIRKS, self.space)
        if self.split not in ("index", "random"):
            raise ConfigError(f"unknown split {self.split!r}; choose index or random")
        if self.readout not in ("mean", "sum"):
            raise ConfigError(f"unknown readout {self.readout!r}; choose mean or sum")
        if self.epochs is None:
            set_("epochs", get_profile(self.space).pretrain_epochs)
        for name in ("epochs", "seeds", "batch_size", "prior_samples", "chunk_steps", "eval_batch"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.prior_every < 0:
            raise ConfigError(f"prior_every must be 0 (after the last epoch only) or positive, got {self.prior_every}")
        if self.member_block is not None and self.member_block < 1:
            raise ConfigError(f"member_block must be at least 1, got {self.member_block}")
        if self.devices is not None and self.devices < 1:
            raise ConfigError(f"devices must be at least 1, got {self.devices}")
        if self.seed < 0:
            raise ConfigError(f"seed must be non-negative, got {self.seed}")
        if self.limit is not None and self.limit < 2:
            raise ConfigError(f"limit must be at least 2 cells, got {self.limit}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must lie in (0, 1), got {self.train_fraction}")
        check_lr(self.lr)
        check_kl_weight(self.kl_weight)
        if not math.isfinite(self.clip_norm) or self.clip_norm <= 0:
            raise ConfigError(f"clip_norm must be a positive number, got {self.clip_norm}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        grid = parse_sweep(self.sweep)  # raises on a bad sweep
        if self.out is None:
            if self.seeds == 1 and not grid:
                name = f"runs/pretrain-{self.space}-{self.model}-{self.preset}-seed{self.seed}"
            else:
                last = self.seed + self.seeds - 1
                name = f"runs/pretrain-{self.space}-{self.model}-{self.preset}-seeds{self.seed}-{last}"
                if grid:
                    name += "-sweep-" + "-".join(grid)
            set_("out", name)

    # ------------------------------------------------------------------ members

    @property
    def sweep_grid(self) -> dict[str, tuple[float, ...]]:
        return parse_sweep(self.sweep)

    @property
    def is_batch(self) -> bool:
        """Whether this run writes a batch folder (several members) rather than one run folder."""
        return self.seeds > 1 or bool(self.sweep_grid)

    def members(self) -> list[Member]:
        """Every member, sweep points outermost, then seeds."""
        grid = self.sweep_grid
        names = tuple(grid)
        out = []
        for values in itertools.product(*grid.values()):
            point = dict(zip(names, values, strict=True))
            for seed in range(self.seed, self.seed + self.seeds):
                out.append(Member(seed, point.get("lr", self.lr), point.get("kl_weight", self.kl_weight), names))
        return out

    def for_member(self, member: Member, out: str) -> PretrainConfig:
        """The one-seed run this member is: its config.json in a batch equals a run of that seed alone."""
        return dataclasses.replace(self, seed=member.seed, seeds=1, sweep=None, lr=member.lr,
                                   kl_weight=member.kl_weight, out=out, resume=False, overwrite=False)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_lr(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"lr must be a positive number, got {value}")
    return value


def check_kl_weight(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"kl_weight must be a non-negative number, got {value}")
    return value


_CHECKS = {"lr": check_lr, "kl_weight": check_kl_weight}


def parse_sweep(text: str | None) -> dict[str, tuple[float, ...]]:
    """"lr=1e-4,1e-3;kl_weight=0.5,1" -> {"lr": (1e-4, 1e-3), "kl_weight": (0.5, 1.0)}."""
    if text is None or not str(text).strip():
        return {}
    grid: dict[str, tuple[float, ...]] = {}
    for part in str(text).split(";"):
        name, sep, values = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigError(f"sweep: expected NAME=V1,V2,... (NAME one of {', '.join(SWEEPABLE)}), got {part.strip()!r}")
        if name not in SWEEPABLE:
            raise ConfigError(f"sweep: cannot sweep {name!r}; choose one of {', '.join(SWEEPABLE)}")
        if name in grid:
            raise ConfigError(f"sweep: {name} is given twice")
        try:
            numbers = tuple(float(v) for v in values.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"sweep: {name} values must be numbers, got {values.strip()!r}") from None
        if not numbers:
            raise ConfigError(f"sweep: no values for {name}")
        if len(set(numbers)) != len(numbers):
            raise ConfigError(f"sweep: {name} repeats a value ({values.strip()})")
        for v in numbers:
            _CHECKS[name](v)
        grid[name] = numbers
    return grid


def with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A configuration saved by an earlier version as it reads today: a setting added since is absent
    from it, and that run had the behaviour the setting's declared default keeps."""
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(PretrainConfig)}
    return {**defaults, **saved}


__all__ = ["QUIRKS", "RESUMABLE_FIELDS", "SWEEPABLE", "ConfigError", "Member", "PretrainConfig", "parse_sweep",
           "with_defaults"]
