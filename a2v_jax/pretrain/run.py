"""`run(PretrainConfig(...))`: train every member of a run as one computation, measure, export.

The host's part, between compiled chunks of `train.Program`: a progress bar, checkpoints (every
`checkpoint_seconds`, at Ctrl-C / SIGTERM), validity and uniqueness (hashing prior decodings on the
host) after the last epoch and every `prior_every` epochs, a loss that stops being finite (the
run stops, nothing is exported), and the files (`export`). Nothing here runs per step.

Run folders go through `a2v_jax.rundir`: everything is written into `<out>.partial` and swapped in
for `<out>` when complete, so `<out>` is always one whole run, an interrupted `--overwrite` leaves
the old run intact, and `--resume` continues the interrupted one (bit for bit, for one seed or a
batch; a batch resumes only with the same members).

Several processes (`a2v_jax.distributed`) run one `run` together: the members are split over all
their devices, every process gathers what the host needs (`distributed.to_host`) and computes the
same metrics from it, process 0 alone writes; after every chunk they agree on whether to stop (a
signal on any process) and whether to write a checkpoint (process 0's clock), so they stay in step.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from .. import _io, distributed
from ..graphs import GraphSet, graph_set
from ..model import ModelConfig
from ..rundir import RunFolderError, Staging, partial_path, write_marker
from ..spaces import CellSet, SearchSpace, get_space
from . import export
from .config import RESUMABLE_FIELDS, ConfigError, Member, PretrainConfig, with_defaults
from .metrics import ReconstructionCounts, prior_metrics
from .parallel import Layout, check_memory, make_layout, member_bytes
from .train import (
    Hyper,
    Program,
    TrainState,
    advance_members,
    count_params,
    embed_members,
    init_members,
    prior_members,
)

KIND, BATCH_KIND = "pretrain", "pretrain-batch"


class NonFiniteLossError(RuntimeError):
    """The loss of a member stopped being finite; the run stopped and exported nothing."""


@dataclass
class MemberRun:
    """What one member of a run produced."""

    member: Member
    config: PretrainConfig
    out: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    embeddings: np.ndarray
    state: TrainState


@dataclass
class PretrainResult:
    config: PretrainConfig
    out: Path
    runs: list[MemberRun]
    hashes: np.ndarray
    summary: dict[str, Any] | None = None

    def _only(self) -> MemberRun:
        if len(self.runs) != 1:
            raise AttributeError(f"this run has {len(self.runs)} members: read result.runs[i]")
        return self.runs[0]

    @property
    def metrics(self) -> dict[str, Any]:
        return self._only().metrics

    @property
    def history(self) -> list[dict[str, Any]]:
        return self._only().history

    @property
    def embeddings(self) -> np.ndarray:
        return self._only().embeddings

    @property
    def state(self) -> TrainState:
        return self._only().state


def load_cells(config: PretrainConfig) -> tuple[SearchSpace, CellSet]:
    space = get_space(config.space)
    return space, limit_cells(space.load(**config.space_options), config.limit)


def limit_cells(cells: CellSet, limit: int | None) -> CellSet:
    if limit is None or limit >= len(cells):
        return cells
    return CellSet(cells.space, cells.adjacency[:limit], cells.ops[:limit], cells.hash[:limit], cells.path)


def num_train_cells(num_cells: int, train_fraction: float) -> int:
    cut = int(num_cells * train_fraction)
    if cut < 1 or cut >= num_cells:
        raise ConfigError(f"{num_cells} cells cannot be split {train_fraction:.0%} / rest")
    return cut


def default_member_block(config: PretrainConfig, members: int, layout: Layout | None) -> int | None:
    """Members vmapped together: the config's, else one at a time on a CPU without a mesh (vmap
    gains a fifth or so in member throughput there, benchmarks/results/bench_pretrain_members.json,
    and one at a time keeps each seed's bits independent of the batch), else all (None)."""
    if config.member_block is not None:
        return min(config.member_block, members)
    if (layout is None or layout.data_size == 1) and jax.default_backend() == "cpu":
        return 1
    return None


def make_program(config: PretrainConfig, data: GraphSet, layout: Layout | None = None, members: int = 1) -> Program:
    """The static settings of `config` on the cell set `data`."""
    return Program(
        model=ModelConfig.for_model(config.model, data.num_nodes, data.num_ops, dropout=config.dropout),
        num_cells=data.num_cells,
        num_train=num_train_cells(data.num_cells, config.train_fraction),
        batch_size=config.batch_size,
        epochs=config.epochs,
        clip_norm=config.clip_norm,
        chunk_steps=config.chunk_steps,
        eval_batch=config.eval_batch,
        prior_samples=config.prior_samples,
        readout=config.readout,
        split_random=config.split == "random",
        reshuffle=config.reshuffle,
        eval_after_first_epoch=config.eval_after_first_epoch,
        mu_stats_from_training=config.mu_stats_from_training,
        layout=layout,
        member_block=default_member_block(config, members, layout),
    )


def member_inputs(members: list[Member], padded: int) -> tuple[jax.Array, Hyper]:
    """Keys (PRNGKey(seed), so a seed is the same run alone or in any batch) and hyperparameters,
    padded to `padded` members with copies of the first ones."""
    rows = [members[i % len(members)] for i in range(padded)]
    keys = jnp.stack([jax.random.PRNGKey(m.seed) for m in rows])
    return keys, Hyper.of(np.array([m.lr for m in rows], np.float32), np.array([m.kl_weight for m in rows], np.float32))


# ---------------------------------------------------------------------- the run


class _Run:
    """The host loop of one `run` call (state kept here so the steps read as small methods)."""

    def __init__(self, config: PretrainConfig, cells: CellSet, space: SearchSpace,
                 on_chunk: Callable[[TrainState, int], None] | None) -> None:
        self.config, self.cells, self.space, self.on_chunk = config, cells, space, on_chunk
        self.members = config.members()
        self.k = len(self.members)
        self.data = graph_set(cells, space.num_ops)
        self.layout = make_layout(config.devices, self.k)
        self.program = make_program(config, self.data, self.layout, self.k)
        self.padded = self.k if self.layout is None else self.layout.padded(self.k)
        block = self.program.member_block
        if block and (self.layout is None or self.layout.data_size == 1):
            per_device = 1 if self.layout is None else self.layout.members_size
            self.padded = -(-self.k // (block * per_device)) * block * per_device
        self.keys, self.hypers = member_inputs(self.members, self.padded)
        self.check_memory()
        self.batch = config.is_batch
        self.main = distributed.is_main()
        self.progress = config.progress and self.main
        self.staging: Staging | None = None  # process 0's (`open`); the others only read from it
        self.root = root = partial_path(config.out)  # where the run is written until complete
        self.folders = [root / m.label for m in self.members] if self.batch else [root]
        self.member_configs = [config.for_member(m, str(Path(config.out) / m.label) if self.batch else config.out)
                               for m in self.members]
        self.histories: list[list[dict]] = [[] for _ in self.members]
        self.steps = 0
        self.timings: dict[str, float] = {}
        self.copied = False

    def open(self) -> None:
        """Prepare `<out>.partial` (process 0 alone writes)."""
        if not self.main:
            return
        config = self.config
        # a resume of a finished run works on a copy of it, removed again if the resume is refused
        self.copied = config.resume and not partial_path(config.out).exists()
        self.staging = Staging.open(config.out, BATCH_KIND if self.batch else KIND,
                                    overwrite=config.overwrite, resume=config.resume)

    def check_same_everywhere(self) -> None:
        """Refuse a multi-process run whose processes were given different options or cells."""
        values: dict[str, Any] = {k: v for k, v in self.config.to_dict().items() if k != "progress"}
        for name in ("adjacency", "ops", "hash"):
            values[f"cells:{name}"] = np.asarray(getattr(self.cells, name))
        distributed.check_same(values, "arguments or cells")

    # ------------------------------------------------------------------ setup

    def check_memory(self) -> None:
        shapes = jax.eval_shape(self.program.init, self.data, self.keys[0], jax.tree_util.tree_map(lambda x: x[0], self.hypers))
        num_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes.params))
        per = member_bytes(self.program.model, num_params, self.program.num_cells, self.program.batch_size,
                           self.program.prior_samples, self.program.eval_batch)
        shared = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(self.data))
        on_cpu = jax.devices()[0].platform == "cpu"  # fake CPU devices share one memory
        devices = 1 if self.layout is None or on_cpu else self.layout.members_size
        check_memory(self.padded, per, shared, devices)

    def place(self, members: Any) -> Any:
        """Per-member arrays (leading axis: members) split over the mesh's members axis."""
        return members if self.layout is None else self.layout.place_members(members)

    def config_record(self, config: PretrainConfig, num_params: int) -> dict[str, Any]:
        p = self.program
        return {**config.to_dict(), "model_config": p.model.to_dict(), "num_cells": p.num_cells,
                "num_train": p.num_train, "num_held_out": p.num_held, "num_params": num_params}

    def start(self) -> TrainState:
        """Initial (or resumed) states of all members, placed on the mesh; config files written.

        With several processes each one reads the checkpoint itself (from `<out>.partial`, so on a
        resume that folder must be on a file system they share), and they compare what they read.
        """
        t0 = time.perf_counter()
        if self.layout is not None:
            self.hypers, self.data = self.place(self.hypers), self.layout.place_replicated(self.data)
        if self.config.resume:  # the states' structure is enough: nothing to initialise
            shapes = init_members.lower(self.program, self.data, self.keys, self.hypers).out_info  # traced only
            host = jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype), shapes)
            with distributed.together("reading the checkpoint"):
                try:
                    host = self.resume(host)
                except export.ResumeError:
                    if self.copied:
                        shutil.rmtree(self.root, ignore_errors=True)
                    raise
            distributed.check_same({"checkpoint": [self.steps, self.histories]}, "views of the checkpoint",
                                   hint=f"resuming needs {self.root} on a file system that every process shares")
        else:
            host = distributed.to_host(init_members(self.program, self.data, self.place(self.keys), self.hypers))
        num_params = count_params(export.member_slice(host.params, 0))
        with distributed.together("writing the run folder"):
            if self.main:
                self.write_configs(num_params)
        self.timings["init_seconds"] = time.perf_counter() - t0
        return self.place(host) if self.layout is not None else jax.tree_util.tree_map(jnp.asarray, host)

    def write_configs(self, num_params: int) -> None:
        if self.batch:
            _io.write_json(self.root / "config.json",
                           {**self.config.to_dict(), "members": [m.label for m in self.members],
                            "num_cells": self.program.num_cells})
        for folder, config in zip(self.folders, self.member_configs, strict=True):
            if self.batch:
                folder.mkdir(parents=True, exist_ok=True)
                write_marker(folder, KIND, complete=False)
            _io.write_json(folder / "config.json", self.config_record(config, num_params))

    def resume(self, host: TrainState) -> TrainState:
        if self.batch:
            saved = _read_json(self.root / "config.json")
            labels = [m.label for m in self.members]
            if saved is None:
                raise export.ResumeError(f"{self.root} has no config.json: not a batch that can be resumed")
            if saved.get("members") != labels:
                had = saved.get("members") or []
                raise export.ResumeError(
                    f"{self.root} holds a batch of {len(had)} members ({_span(had)}); this run asks for "
                    f"{len(labels)} ({_span(labels)}): resume with the same --seed / --seeds / --sweep, or start "
                    "afresh with --overwrite")
        template = export.member_slice(host, 0)
        states, steps = [], set()
        for i, (folder, config) in enumerate(zip(self.folders, self.member_configs, strict=True)):
            state, history, saved, done = export.load_checkpoint(folder / export.CHECKPOINT_NAME, template)
            export.check_resumable(with_defaults(saved), config.to_dict(), RESUMABLE_FIELDS, folder / export.CHECKPOINT_NAME)
            states.append(self.fit_epochs(state, done, folder))
            self.histories[i] = history
            steps.add(done)
        if len(steps) != 1:
            raise export.ResumeError(f"{self.root}: its members stopped at different steps ({sorted(steps)})")
        self.steps = steps.pop()
        pad = [states[i % self.k] for i in range(self.padded)]
        return export.stack_members(pad)

    def fit_epochs(self, state: TrainState, steps: int, folder: Path) -> TrainState:
        """A checkpoint of a run with a different epoch count: grow (or check) its history arrays."""
        have = int(np.shape(state.history.done)[0])
        want = self.program.epochs
        done_epochs = steps // self.program.num_batches
        if want < done_epochs or (want < have and steps % self.program.num_batches):
            raise export.ResumeError(f"{folder} has trained {done_epochs} epochs already; --epochs must be at least that")
        if have == want:
            return state

        def fit(x):
            x = np.asarray(x)
            if want < have:
                return x[:want]
            return np.concatenate([x, np.zeros((want - have, *x.shape[1:]), x.dtype)])

        return state.replace(history=jax.tree_util.tree_map(fit, state.history))

    # ------------------------------------------------------------------ training

    def check_epochs(self) -> list[int]:
        """Epochs (0-based) after which validity / uniqueness are measured."""
        last = self.program.epochs - 1
        every = self.config.prior_every
        picked = {e for e in range(last + 1) if every and (e + 1) % every == 0}
        return sorted(picked | {last})

    def next_stop(self) -> int:
        """The end of the next chunk: `chunk_steps` on, but never past the end of an epoch (epoch
        lines, checkpoints and prior checks happen between chunks)."""
        nb = self.program.num_batches
        epoch_end = (self.steps // nb + 1) * nb
        return min(self.steps + self.program.chunk_steps, epoch_end, self.program.total_steps)

    def train(self, states: TrainState) -> TrainState:
        p, config = self.program, self.config
        t0 = time.perf_counter()
        advance_members.lower(p, states, self.data, self.hypers, 0, 0).compile()
        self.timings["compile_seconds"] = time.perf_counter() - t0
        bar = tqdm(total=p.total_steps * self.k, initial=self.steps * self.k, unit="step", disable=not self.progress,
                   leave=False, dynamic_ncols=True, desc=self.describe_progress())
        last_save = time.perf_counter()
        train_seconds = 0.0
        t_epoch = time.perf_counter()
        # what a checkpoint may hold: the states after a chunk only once its epoch lines are recorded
        # (an interruption in between saves the states before the chunk, which then runs again)
        kept = (states, self.steps)
        with bar, distributed.StopFlag() as stop:
            try:
                while self.steps < p.total_steps:
                    stop_at = self.next_stop()
                    t_chunk = time.perf_counter()
                    new = advance_members(p, states, self.data, self.hypers, self.steps, stop_at)
                    first_bad = distributed.to_host(new.first_nonfinite)[: self.k]  # waits for the chunk
                    train_seconds += time.perf_counter() - t_chunk
                    if (first_bad >= 0).any():
                        self.stop_nonfinite(first_bad)
                    start = self.steps
                    t_epoch = self.finish_epochs(new, start, stop_at, t_epoch, bar)
                    states, self.steps = new, stop_at
                    kept = (states, self.steps)
                    bar.update((stop_at - start) * self.k)
                    if self.on_chunk is not None:
                        self.on_chunk_agreed(states, stop)
                    due = time.perf_counter() - last_save > config.checkpoint_seconds or self.epoch_ended(start, stop_at)
                    stopping, due = self.agree(stop, due)
                    if stopping:
                        raise KeyboardInterrupt
                    if due:
                        self.save(states)
                        last_save = time.perf_counter()
            except KeyboardInterrupt:
                if stop.forced:  # a second signal: out at once, without the other processes
                    raise
                states, self.steps = kept
                self.save(states)
                if self.progress:
                    tqdm.write(f"interrupted: checkpoint written to {self.root}; continue with --resume")
                raise
        self.timings["train_seconds"] = train_seconds
        return states

    def on_chunk_agreed(self, states: TrainState, stop: distributed.StopFlag) -> None:
        """`on_chunk`; with several processes its KeyboardInterrupt only raises the flag, so that
        every process stops after the same chunk."""
        try:
            self.on_chunk(states, self.steps)
        except KeyboardInterrupt:
            if not distributed.multi():
                raise
            stop.raised = True

    def agree(self, stop: distributed.StopFlag, due: bool) -> tuple[bool, bool]:
        """(stop now, write a checkpoint now) after a chunk. With several processes: stop when any
        of them was asked to, checkpoint when process 0 finds it due (one small all-gather), so
        that every process takes the same path. Alone, signals are KeyboardInterrupts already."""
        if not distributed.multi():
            return False, due
        views = distributed.gather_values(np.array([stop.raised, due], np.int8))
        return bool(views[:, 0].any()), bool(views[0, 1])

    def describe_progress(self) -> str:
        what = f"{self.k} members" if self.k > 1 else f"seed {self.members[0].seed}"
        if distributed.multi():
            what += f", {self.layout.mesh.size} devices over {distributed.process_count()} processes"
        return f"pretraining {self.config.space} {self.config.model} ({what})"

    def epoch_ended(self, start: int, stop: int) -> bool:
        nb = self.program.num_batches
        return stop // nb > start // nb

    def finish_epochs(self, states: TrainState, start: int, stop: int, t_epoch: float, bar) -> float:
        """Record the epochs that ended in steps [start, stop): their on-device metrics, and
        validity / uniqueness when the epoch is a check epoch. The histories grow only at the end,
        so an interruption leaves them as they were. Returns the new epoch start time."""
        nb = self.program.num_batches
        ended = list(range(start // nb, stop // nb))
        if not ended:
            return t_epoch
        history = distributed.to_host(states.history)
        seconds = (time.perf_counter() - t_epoch) / len(ended)
        new_rows = []
        for e in ended:
            rows = [_epoch_row(export.member_slice(history, i), e, nb, seconds) for i in range(self.k)]
            if e in self.check_epochs():
                t0 = time.perf_counter()
                for row, prior in zip(rows, self.prior_metrics(states, e), strict=True):
                    row.update(prior)
                seconds_prior = time.perf_counter() - t0
                for row in rows:
                    row["prior_check_seconds"] = round(seconds_prior / self.k, 3)
            new_rows.append(rows)
            if self.progress:
                prefix = "" if self.k == 1 else f"[{self.k} members, first: {self.members[0].describe()}] "
                tqdm.write(prefix + export.format_epoch(rows[0]))
        for rows in new_rows:
            for i, row in enumerate(rows):
                self.histories[i].append(row)
        return time.perf_counter()

    def prior_metrics(self, states: TrainState, epoch: int) -> list[dict[str, Any]]:
        ops, adjacency = distributed.to_host(prior_members(self.program, states, self.data, epoch))
        return [prior_metrics(self.space, ops[i], adjacency[i]) for i in range(self.k)]

    def stop_nonfinite(self, first_bad: np.ndarray) -> None:
        nb = self.program.num_batches
        bad = [f"{self.members[i].describe()}: epoch {s // nb + 1} (step {s + 1:,})"
               for i, s in enumerate(first_bad.tolist()) if s >= 0]
        if self.config.resume:
            kept = f"{self.root} keeps its last checkpoint from before"
        else:
            if self.main:
                shutil.rmtree(self.root, ignore_errors=True)
            kept = "nothing was written"
        raise NonFiniteLossError(
            f"the training loss stopped being finite (NaN or infinite) for {len(bad)} of {self.k} members: "
            f"{'; '.join(bad)}. Training stopped, no embeddings were exported and {kept}; try a smaller --lr")

    def save(self, states: TrainState, host: TrainState | None = None) -> None:
        """Every member's checkpoint and metrics so far (`host`: `states` already on the host).
        With several processes every one calls this (the states are gathered); process 0 writes,
        and a failed write stops them all."""
        host = distributed.to_host(states) if host is None else host
        with distributed.together("writing a checkpoint"):
            if not self.main:
                return
            for i, (folder, config) in enumerate(zip(self.folders, self.member_configs, strict=True)):
                export.save_checkpoint(folder / export.CHECKPOINT_NAME, export.member_slice(host, i),
                                       self.histories[i], config.to_dict(), self.steps)
                export.write_history(folder, self.histories[i])

    # ------------------------------------------------------------------ outputs

    def finish(self, states: TrainState) -> PretrainResult:
        t0 = time.perf_counter()
        embeddings = np.asarray(distributed.to_host(embed_members(self.program, states, self.data)))
        embed_seconds = time.perf_counter() - t0
        host = distributed.to_host(states)
        with distributed.together("writing the run folder"):
            return self.write_outputs(host, embeddings, embed_seconds)

    def write_outputs(self, host: TrainState, embeddings: np.ndarray, embed_seconds: float) -> PretrainResult:
        """The files of every member and the batch's summary (process 0 writes; every process
        returns the same result)."""
        self.save(None, host)
        runs, finals = [], []
        total_steps = self.program.total_steps
        for i, (member, folder, config) in enumerate(zip(self.members, self.folders, self.member_configs, strict=True)):
            final = dict(self.histories[i][-1]) if self.histories[i] else {}
            final.update({
                "space": config.space, "model": config.model, "preset": config.preset, "seed": member.seed,
                "lr": member.lr, "kl_weight": member.kl_weight, "epochs": len(self.histories[i]),
                "num_cells": self.program.num_cells, "members_in_run": self.k,
                "embedding_seconds": round(embed_seconds / self.k, 3),
                "total_train_seconds": round(sum(m.get("seconds", 0.0) for m in self.histories[i]), 3),
                "compile_seconds": round(self.timings.get("compile_seconds", 0.0), 3),
                "steps_per_second": round(total_steps / max(self.timings.get("train_seconds", 0.0), 1e-9), 1)
                if self.timings.get("train_seconds") else None,
            })
            if self.main:
                export.write_embeddings(folder, embeddings[i], self.cells.hash, config.readout)
                _io.write_json(folder / "metrics.json", final)
                if self.batch:
                    write_marker(folder, KIND, complete=True)
            finals.append(final)
            out = Path(config.out)
            runs.append(MemberRun(member, config, out, final, self.histories[i], embeddings[i],
                                  export.member_slice(host, i)))
        summary = None
        if self.batch:
            summary = self.summary(finals, embed_seconds)
            if self.main:
                _io.write_json(self.root / "summary.json", summary)
        out = self.staging.commit() if self.staging is not None else Path(self.config.out)
        return PretrainResult(self.config, out, runs, np.asarray(self.cells.hash), summary)

    def summary(self, finals: list[dict], embed_seconds: float) -> dict[str, Any]:
        grid = self.config.sweep_grid
        groups: dict[tuple, list[int]] = {}
        for i, m in enumerate(self.members):
            groups.setdefault(tuple(getattr(m, name) for name in grid), []).append(i)
        rows = [(dict(zip(grid, point, strict=True)), idx) for point, idx in groups.items()]
        train = self.timings.get("train_seconds", 0.0)
        return {
            "space": self.config.space, "model": self.config.model, "preset": self.config.preset,
            "epochs": self.config.epochs, "members": [m.label for m in self.members],
            "groups": export.summarise(finals, rows),
            "compile_seconds": round(self.timings.get("compile_seconds", 0.0), 3),
            "train_seconds": round(train, 3),
            "member_steps_per_second": round(self.k * self.program.total_steps / train, 1) if train else None,
            "embedding_seconds": round(embed_seconds, 3),
        }


def run(
    config: PretrainConfig,
    cells: CellSet | None = None,
    space: SearchSpace | None = None,
    on_chunk: Callable[[TrainState, int], None] | None = None,
) -> PretrainResult:
    """Train, evaluate and export every member of `config`; returns their metrics and embeddings.

    `cells` / `space` override the space's cached cell set (notebooks, tests); `on_chunk(states,
    steps_done)` is called after every compiled chunk with the members' states (raise
    KeyboardInterrupt in it to stop the run: a checkpoint is written first, as on Ctrl-C).

    Several processes (`a2v_jax.distributed`) train one run together when each calls this with
    the same config: the members are split over every process's devices, every process gets the
    whole result, and process 0 alone writes the run folder and shows progress.
    """
    with distributed.together("preparing the pretraining"):
        # refuse a folder that cannot take this run before any data is loaded or compiled
        if distributed.is_main():
            Staging.check(config.out, BATCH_KIND if config.is_batch else KIND, overwrite=config.overwrite,
                          resume=config.resume)
        if space is None:
            space = get_space(config.space)
        cells = load_cells(config)[1] if cells is None else limit_cells(cells, config.limit)
        if distributed.multi():
            config = dataclasses.replace(config, devices=distributed.mesh_devices(config.devices, "members"))
        job = _Run(config, cells, space, on_chunk)
    job.check_same_everywhere()
    with distributed.together("opening the run folder"):
        job.open()
    states = job.start()
    states = job.train(states)
    return job.finish(states)


# ---------------------------------------------------------------------- helpers


def _epoch_row(record: Any, epoch: int, num_batches: int, seconds: float) -> dict[str, Any]:
    loss = np.asarray(record.loss)[epoch]
    recon = jax.tree_util.tree_map(lambda x: np.asarray(x)[epoch], record.recon)
    row = {"epoch": epoch + 1, "loss": float(loss[0]), "loss_ops": float(loss[1]), "loss_adj": float(loss[2]),
           "loss_kl": float(loss[3]), **ReconstructionCounts.summary(recon),
           "train_mode": bool(np.asarray(record.train_mode)[epoch]), "seconds": round(seconds, 3),
           "steps_per_second": round(num_batches / max(seconds, 1e-9), 1)}
    return row


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _span(labels: list[str]) -> str:
    if not labels:
        return "none"
    return labels[0] if len(labels) == 1 else f"{labels[0]} .. {labels[-1]}"


__all__ = ["MemberRun", "NonFiniteLossError", "PretrainResult", "RunFolderError", "limit_cells",
           "load_cells", "make_program", "member_inputs", "num_train_cells", "run"]
