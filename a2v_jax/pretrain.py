"""`python -m a2v_jax.pretrain`: train an architecture autoencoder on a search space, measure it,
and export the embedding of every cell.

The Python API is `run(PretrainConfig(...)) -> PretrainResult`; the CLI is a thin shell over it.

Presets (`--preset`), because the published code and the paper disagree in places:

| behaviour                          | `reference` (published code)            | `fixed`                            |
|------------------------------------|-----------------------------------------|------------------------------------|
| mode after the first epoch         | eval mode: frozen BatchNorm statistics, | train mode every epoch             |
|                                    | no dropout, z = mu                      |                                    |
| train / held-out split             | by index: first 90% train, rest held out | seeded random 90 / 10 split       |
| batch order                        | one seeded permutation for all epochs   | a new permutation every epoch      |
| mean / std of mu for the prior     | collected from the training batches     | from the training set re-encoded   |
|                                    | as they were trained (mixed modes)      | in eval mode after the epoch       |

Shared by both (the published behaviour): the last partial batch is trained on (masked, so its
BatchNorm statistics and loss cover only its real cells); Adam lr 1e-3 (0.9, 0.999, 1e-8), global
norm clipping at 5, batch 32; 8 epochs on NB101 and 10 on NB201 / DARTS; the loss of
`a2v_jax.model.loss`; embeddings are the mean of mu over all vertices (`--readout mean`, the
published extraction; the paper's text says a sum, `--readout sum` sums over the real vertices).
The scale of the embedding matters downstream (REINFORCE's policy has unit covariance), which is
why the default stays with the published mean.

Where this differs from the published code even in the `reference` preset (numerically the
model, loss, gradients and optimiser match it: checked against the published PyTorch `Model` with
the same weights):
- the whole cell set lives on device and batches are gathered there, inside a scanned epoch; the
  last partial batch is padded to the fixed shape and masked, which computes the same loss and
  BatchNorm statistics as the published smaller batch;
- BCE is computed from logits (no clamping of log(0) to -100 on saturated outputs);
- the random numbers (initial weights, batch order, noise, prior samples) are JAX's;
- prior samples are decoded as one batch, and validity / uniqueness are reported twice: by the
  space's own checks and by the published ones (`a2v_jax.pretrain_metrics`);
- reconstruction accuracy is the paper's exact match of whole held-out cells; the published code
  only printed per-element accuracies, which are reported too;
- GAE / VGAE and arch2vec without KL are not in the published code (`a2v_jax.model`).

Run folder (`--out`, default `runs/pretrain-<space>-<model>-<preset>-seed<seed>`): `config.json`,
`metrics.jsonl` (one line per epoch), `metrics.json` (final), `checkpoint.msgpack` (params, batch
statistics, optimizer state, key, epoch, position, the epoch's running sums and the metric
history; `--resume` continues from it bit for bit), `embeddings.npz` (`embeddings` float32 [N, 16]
in the space's cell order and `hash`). Every file is written atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization
from tqdm.auto import tqdm

from . import _io
from .graphs import GraphSet, graph_set
from .model import MODEL_NAMES, ModelConfig
from .pretrain_metrics import prior_metrics
from .spaces import SPACE_NAMES, CellSet, SearchSpace, get_space
from .trainer import KEY_SPLIT, EpochAccumulator, Trainer, TrainState, count_params

PRESETS: tuple[str, ...] = ("reference", "fixed")
DEFAULT_EPOCHS = {"nb101": 8, "nb201": 10, "darts": 10}
CHECKPOINT_NAME = "checkpoint.msgpack"
CHECKPOINT_FORMAT = 1

# Config fields that may change when a run is resumed (they do not change what is computed).
_RESUMABLE_FIELDS = frozenset({"out", "resume", "overwrite", "progress", "checkpoint_seconds", "epochs", "chunk_steps"})


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved as config.json)."""

    space: str = "nb201"
    model: str = "arch2vec"
    preset: str = "reference"
    epochs: int | None = None
    """None: the paper's count for the space (NB101 8, NB201 and DARTS 10)."""
    batch_size: int = 32
    seed: int = 0
    lr: float = 1e-3
    clip_norm: float = 5.0
    train_fraction: float = 0.9
    split: str | None = None
    """`index` or `random`; None: the preset's (reference: index, fixed: random)."""
    reshuffle: bool | None = None
    """New batch order every epoch; None: the preset's."""
    readout: str = "mean"
    limit: int | None = None
    """Use only the first `limit` cells of the space (quick trials, smoke tests)."""
    prior_samples: int = 10_000
    chunk_steps: int = 200
    eval_batch: int = 2048
    space_options: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    checkpoint_seconds: float = 120.0

    def resolved(self) -> PretrainConfig:
        """A copy with every None default filled in and every name checked."""
        c = dataclasses.replace(self, space_options=dict(self.space_options))
        c.space = str(c.space).lower()
        if c.space not in SPACE_NAMES:
            raise ValueError(f"unknown space {self.space!r}; choose one of {', '.join(SPACE_NAMES)}")
        if c.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {c.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        if c.preset not in PRESETS:
            raise ValueError(f"unknown preset {c.preset!r}; choose one of {', '.join(PRESETS)}")
        if c.readout not in ("mean", "sum"):
            raise ValueError(f"unknown readout {c.readout!r}; choose mean or sum")
        if c.epochs is None:
            c.epochs = DEFAULT_EPOCHS[c.space]
        if c.split is None:
            c.split = "index" if c.preset == "reference" else "random"
        if c.split not in ("index", "random"):
            raise ValueError(f"unknown split {c.split!r}; choose index or random")
        if c.reshuffle is None:
            c.reshuffle = c.preset == "fixed"
        for name in ("epochs", "batch_size", "prior_samples", "chunk_steps", "eval_batch"):
            if int(getattr(c, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(c, name)}")
        if c.limit is not None and c.limit < 2:
            raise ValueError(f"limit must be at least 2 cells, got {c.limit}")
        if not 0.0 < c.train_fraction < 1.0:
            raise ValueError(f"train_fraction must lie in (0, 1), got {c.train_fraction}")
        if c.out is None:
            c.out = f"runs/pretrain-{c.space}-{c.model}-{c.preset}-seed{c.seed}"
        return c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PretrainResult:
    config: PretrainConfig
    out: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    embeddings: np.ndarray
    hashes: np.ndarray
    state: TrainState
    trainer: Trainer


class ResumeError(RuntimeError):
    """A run folder cannot be resumed (no checkpoint, or it belongs to a different configuration)."""


def split_cells(num_cells: int, config: PretrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out cell indices: `index` takes the first int(0.9 N) as the published code
    does; `random` draws a seeded permutation."""
    cut = int(num_cells * config.train_fraction)
    if cut < 1 or cut >= num_cells:
        raise ValueError(f"{num_cells} cells cannot be split {config.train_fraction:.0%} / rest")
    if config.split == "index":
        order = np.arange(num_cells)
    else:
        key = jax.random.fold_in(jax.random.PRNGKey(config.seed), KEY_SPLIT)
        order = np.asarray(jax.random.permutation(key, num_cells))
    return np.sort(order[:cut]), np.sort(order[cut:])


def load_cells(config: PretrainConfig) -> tuple[SearchSpace, CellSet]:
    space = get_space(config.space)
    cells = space.load(**config.space_options)
    if config.limit is not None and config.limit < len(cells):
        k = config.limit
        cells = CellSet(cells.space, cells.adjacency[:k], cells.ops[:k], cells.hash[:k], cells.path)
    return space, cells


# ---------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, state: TrainState, history: list[dict], config: PretrainConfig) -> None:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(config.to_dict()),
        "history": json.dumps(history),
        "state": serialization.to_state_dict(jax.device_get(state)),
    }
    data = serialization.msgpack_serialize(payload)
    _io.atomic_write(path, lambda f: f.write(data))


def load_checkpoint(path: Path, template: TrainState) -> tuple[TrainState, list[dict], dict]:
    try:
        payload = serialization.msgpack_restore(Path(path).read_bytes())
        if int(payload["format"]) != CHECKPOINT_FORMAT:
            raise ResumeError(f"{path}: checkpoint format {payload['format']}, expected {CHECKPOINT_FORMAT}")
        state = serialization.from_state_dict(template, payload["state"])
        history = json.loads(payload["history"])
        saved = json.loads(payload["config"])
    except ResumeError:
        raise
    except Exception as e:  # msgpack / structure errors: the file is not a checkpoint of this model
        raise ResumeError(f"{path}: not a readable checkpoint of this configuration ({type(e).__name__}: {e})") from e
    state = jax.tree_util.tree_map(jnp.asarray, state)
    return state, history, saved


def _check_resumable(saved: dict, config: PretrainConfig, path: Path) -> None:
    current = config.to_dict()
    diff = {k: (saved.get(k), v) for k, v in current.items() if k not in _RESUMABLE_FIELDS and saved.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ResumeError(f"{path} was written by a different configuration ({listed})")


# ---------------------------------------------------------------------- the run


def _epoch_metrics(
    trainer: Trainer,
    state: TrainState,
    data: GraphSet,
    space: SearchSpace,
    config: PretrainConfig,
    train_index: jax.Array,
    held_out: jax.Array,
    epoch: int,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    metrics: dict[str, Any] = {"epoch": epoch + 1}
    metrics.update(state.acc.mean_losses())
    metrics.update(trainer.evaluate(state, data, held_out))
    if config.preset == "reference":
        stats = state.acc.mu  # mu as the epoch's batches produced it
    else:
        stats = trainer.mu_stats(state, data, train_index)
    ops, adjacency = trainer.sample_prior(state, epoch, stats.mean, stats.std(), config.prior_samples)
    t1 = time.perf_counter()
    metrics.update(prior_metrics(space, np.asarray(ops), np.asarray(adjacency)))
    metrics["eval_seconds"] = round(t1 - t0, 3)
    metrics["prior_check_seconds"] = round(time.perf_counter() - t1, 3)
    return metrics


def run(
    config: PretrainConfig,
    cells: CellSet | None = None,
    space: SearchSpace | None = None,
    on_chunk: Callable[[TrainState], None] | None = None,
) -> PretrainResult:
    """Train, evaluate and export as `config` says; returns the final metrics and embeddings.

    `cells` / `space` override the space's cached cell set (notebooks, tests); `on_chunk` is
    called after every training chunk with the current state (raise KeyboardInterrupt in it to
    stop the run: a checkpoint is written first, as on Ctrl-C).
    """
    config = config.resolved()
    out = Path(config.out)
    ckpt_path = out / CHECKPOINT_NAME
    if config.resume and not ckpt_path.exists():
        raise ResumeError(f"nothing to resume: {ckpt_path} does not exist")
    if not config.resume and not config.overwrite and ckpt_path.exists():
        raise FileExistsError(f"{out} already holds a run; pass resume=True (--resume) or overwrite=True (--overwrite)")

    if space is None:
        space = get_space(config.space)
    if cells is None:
        _, cells = load_cells(config)
    elif config.limit is not None and config.limit < len(cells):
        k = config.limit
        cells = CellSet(cells.space, cells.adjacency[:k], cells.ops[:k], cells.hash[:k], cells.path)

    data = graph_set(cells, space.num_ops)
    model_config = ModelConfig.for_model(config.model, data.num_nodes, space.num_ops)
    trainer = Trainer.shared(
        model_config,
        batch_size=config.batch_size,
        lr=config.lr,
        clip_norm=config.clip_norm,
        chunk_steps=config.chunk_steps,
        eval_batch=config.eval_batch,
    )
    train_index, held_out = split_cells(len(cells), config)
    train_dev = jnp.asarray(train_index, jnp.int32)
    held_dev = jnp.asarray(held_out, jnp.int32)

    state = trainer.init(config.seed, data)
    history: list[dict[str, Any]] = []
    if config.resume:
        state, history, saved = load_checkpoint(ckpt_path, state)
        _check_resumable(saved, config, ckpt_path)
    _io.write_json(out / "config.json", {**config.to_dict(), "model_config": model_config.to_dict(),
                                          "num_cells": len(cells), "num_train": len(train_index),
                                          "num_held_out": len(held_out), "num_params": count_params(state.params)})

    num_batches = trainer.num_batches(len(train_index))
    fixed_order = None if config.reshuffle else trainer.epoch_order(state, train_dev, 0, reshuffle=False)
    last_save = time.perf_counter()
    try:
        while int(state.epoch) < config.epochs:
            epoch = int(state.epoch)
            batches, masks = fixed_order if fixed_order is not None else trainer.epoch_order(state, train_dev, epoch, True)
            train_mode = not (config.preset == "reference" and epoch >= 1)
            compile_seconds = trainer.compile_chunk(state, data, batches, masks, train_mode)
            t_epoch = time.perf_counter()
            steps_before = int(state.position)
            bar = tqdm(total=num_batches, initial=steps_before, desc=f"epoch {epoch + 1}/{config.epochs}",
                       unit="step", disable=not config.progress, leave=False, dynamic_ncols=True)
            with bar:
                while int(state.position) < num_batches:
                    new_state, losses = trainer.train_chunk(state, data, batches, masks, train_mode)
                    losses = np.asarray(losses)  # waits for the chunk
                    state = new_state
                    done = int(np.sum(~np.isnan(losses)))
                    bar.update(done)
                    bar.set_postfix(loss=f"{float(state.acc.loss[0]) / max(float(state.acc.batches), 1):.4f}")
                    if on_chunk is not None:
                        on_chunk(state)
                    if time.perf_counter() - last_save > config.checkpoint_seconds:
                        save_checkpoint(ckpt_path, state, history, config)
                        last_save = time.perf_counter()
            train_seconds = time.perf_counter() - t_epoch
            metrics = _epoch_metrics(trainer, state, data, space, config, train_dev, held_dev, epoch)
            metrics["train_mode"] = train_mode
            metrics["train_seconds"] = round(train_seconds, 3)
            metrics["compile_seconds"] = round(compile_seconds, 3)
            metrics["steps"] = num_batches - steps_before
            metrics["steps_per_second"] = round((num_batches - steps_before) / max(train_seconds, 1e-9), 1)
            history.append(metrics)
            state = state.replace(
                epoch=state.epoch + 1,
                position=jnp.zeros((), jnp.int32),
                acc=EpochAccumulator.zeros(model_config.num_nodes, model_config.latent),
            )
            save_checkpoint(ckpt_path, state, history, config)
            last_save = time.perf_counter()
            _write_history(out, history)
            if config.progress:
                tqdm.write(_format_epoch(metrics))
    except KeyboardInterrupt:
        save_checkpoint(ckpt_path, state, history, config)
        if config.progress:
            tqdm.write(f"interrupted: checkpoint written to {ckpt_path}; continue with --resume")
        raise

    t0 = time.perf_counter()
    embeddings = np.asarray(trainer.embed(state, data, jnp.arange(len(cells)), config.readout), np.float32)
    embed_seconds = time.perf_counter() - t0
    _io.save_npz(out / "embeddings.npz", embeddings=embeddings, hash=np.asarray(cells.hash), readout=np.array(config.readout))
    final = dict(history[-1]) if history else {}
    final.update(
        {
            "space": config.space,
            "model": config.model,
            "preset": config.preset,
            "seed": config.seed,
            "epochs": len(history),
            "num_cells": len(cells),
            "embedding_seconds": round(embed_seconds, 3),
            "total_train_seconds": round(sum(m["train_seconds"] for m in history), 3),
        }
    )
    _io.write_json(out / "metrics.json", final)
    return PretrainResult(config, out, final, history, embeddings, np.asarray(cells.hash), state, trainer)


def _write_history(out: Path, history: list[dict]) -> None:
    text = "".join(json.dumps(m) + "\n" for m in history).encode()
    _io.atomic_write(out / "metrics.jsonl", lambda f: f.write(text))


def _format_epoch(m: dict) -> str:
    return (
        f"epoch {m['epoch']}: loss {m['loss']:.4f}  recon {m['reconstruction_accuracy']:.4f} "
        f"(ops {m['op_accuracy']:.4f}, edges {m['edge_accuracy']:.4f})  validity {m['validity']:.4f} "
        f"uniqueness {m['uniqueness']:.4f}  [published checks: {m['validity_published']:.4f} / "
        f"{m['uniqueness_published']:.4f}]  {m['steps_per_second']:.0f} steps/s"
    )


# ---------------------------------------------------------------------- CLI


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except unset (None) ones and flags, whose help says what happens."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.pretrain",
        description=(
            "Pretrain an architecture autoencoder (arch2vec: a variational graph isomorphism autoencoder) on a "
            "search space, report reconstruction accuracy, validity and uniqueness (paper Table 1) every epoch, "
            "and export the embedding of every cell. With no arguments: arch2vec on NAS-Bench-201, which needs "
            "no download."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--space", default="nb201", choices=SPACE_NAMES, help="search space")
    p.add_argument("--model", default="arch2vec", choices=MODEL_NAMES,
                   help="arch2vec (GIN, KL), arch2vec-nokl (GIN, no KL), gae / vgae (GCN baselines)")
    p.add_argument("--preset", default="reference", choices=PRESETS,
                   help="reference: the published training loop (eval mode after epoch 1, split by index); "
                        "fixed: train mode throughout, random split, reshuffled epochs")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: 8 for nb101, 10 otherwise)")
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (weights, split, order, samples)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--split", choices=("index", "random"), default=None,
                   help="held-out split (default: the preset's: reference=index, fixed=random)")
    p.add_argument("--readout", choices=("mean", "sum"), default="mean",
                   help="embedding: mean of mu over all vertices (published code) or sum over real vertices (paper)")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT cells (quick trials)")
    p.add_argument("--prior-samples", type=int, default=10_000, help="prior samples for validity / uniqueness")
    p.add_argument("--chunk-steps", type=int, default=200, help="training steps per jitted call (progress granularity)")
    p.add_argument("--darts-num", type=int, default=None, help="darts: number of sampled cells (space default if unset)")
    p.add_argument("--darts-seed", type=int, default=None, help="darts: sampling seed (space default if unset)")
    p.add_argument("--out", default=None, help="run folder (default runs/pretrain-<space>-<model>-<preset>-seed<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out holds a run")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    return p


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    options = {}
    if args.darts_num is not None:
        options["num"] = args.darts_num
    if args.darts_seed is not None:
        options["seed"] = args.darts_seed
    return PretrainConfig(
        space=args.space, model=args.model, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
        seed=args.seed, lr=args.lr, split=args.split, readout=args.readout, limit=args.limit,
        prior_samples=args.prior_samples, chunk_steps=args.chunk_steps, space_options=options, out=args.out,
        resume=args.resume, overwrite=args.overwrite, progress=not args.quiet,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.darts_num is not None or args.darts_seed is not None) and args.space != "darts":
        parser.error("--darts-num / --darts-seed apply to --space darts only")
    try:
        config = config_from_args(args).resolved()
    except ValueError as e:
        parser.error(str(e))
    print(json.dumps(config.to_dict()))
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run(config)
    except KeyboardInterrupt:
        return 130
    except (ResumeError, FileExistsError, _io.CorruptFileError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = result.metrics
    print(
        f"done: {result.out}  reconstruction {m['reconstruction_accuracy']:.4f}  validity {m['validity']:.4f}  "
        f"uniqueness {m['uniqueness']:.4f}  (published checks {m['validity_published']:.4f} / "
        f"{m['uniqueness_published']:.4f})  embeddings of {m['num_cells']:,} cells in {m['embedding_seconds']:.1f} s"
    )
    return 0


def _raise_interrupt(signum, frame):  # SIGTERM: stop like Ctrl-C, so the checkpoint is written
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
