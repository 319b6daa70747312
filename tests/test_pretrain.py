"""Pretraining end to end on tiny budgets: outputs, presets, batches of seeds, sweeps, resume,
run folders, bad input. Every run here shares one tiny configuration where it can, so the
compiled chunk is reused (JAX caches it by the static settings)."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
from pretrain_helpers import nb201_space, nb201_subset

from a2v_jax import _io
from a2v_jax.pretrain import (
    QUIRKS,
    ConfigError,
    NonFiniteLossError,
    PretrainConfig,
    ResumeError,
    load_model,
    run,
)
from a2v_jax.pretrain.__main__ import main
from a2v_jax.pretrain.parallel import MemoryLimitError, check_memory
from a2v_jax.rundir import RunFolderError, partial_path, read_kind

SPACE = nb201_space()
CELLS = nb201_subset(200, seed=0)  # 180 train (6 batches, the last partial) / 20 held out
DROP = ("seconds", "steps_per_second", "prior_check_seconds", "embedding_seconds", "total_train_seconds",
        "compile_seconds", "members_in_run")


def tiny(tmp_path, name="run", **overrides) -> PretrainConfig:
    base = dict(space="nb201", epochs=3, batch_size=32, chunk_steps=4, prior_samples=300, progress=False,
                out=str(tmp_path / name))
    base.update(overrides)
    return PretrainConfig(**base)


def leaves_equal(a, b) -> bool:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)


def stable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in DROP}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """Seed 0 alone, reference preset, with the batch statistics seen after every chunk."""
    out = tmp_path_factory.mktemp("single")
    seen = []
    result = run(tiny(out), cells=CELLS, space=SPACE,
                 on_chunk=lambda states, steps: seen.append((steps, jax.device_get(states.batch_stats))))
    return result, seen


def test_run_writes_one_whole_run_folder(single):
    result, _ = single
    out = result.out
    assert read_kind(out) == "pretrain" and not partial_path(out).exists()
    config = json.loads((out / "config.json").read_text())
    assert config["space"] == "nb201" and config["num_train"] == 180 and config["num_held_out"] == 20
    assert config["eval_after_first_epoch"] is True and config["split"] == "index"
    assert [json.loads(x)["epoch"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    final = json.loads((out / "metrics.json").read_text())
    for key in ("reconstruction_accuracy", "validity", "uniqueness", "validity_published", "uniqueness_published",
                "op_accuracy", "edge_accuracy"):
        assert 0.0 <= final[key] <= 1.0, key
    emb = _io.load_npz(out / "embeddings.npz")
    assert emb["embeddings"].dtype == np.float32 and emb["embeddings"].shape == (200, 16)
    np.testing.assert_array_equal(emb["hash"], CELLS.hash)
    assert (out / "checkpoint.msgpack").exists()
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]


def test_reference_preset_freezes_batchnorm_after_first_epoch(single):
    result, seen = single
    assert [m["train_mode"] for m in result.history] == [True, False, False]
    first = [s for steps, s in seen if steps <= 6]  # epoch 1 is steps 1..6
    later = [s for steps, s in seen if steps >= 6]
    assert not leaves_equal(first[0], first[-1]), "train mode updates the running statistics"
    assert all(leaves_equal(later[0], s) for s in later)


def test_presets_resolve_through_one_table_and_each_switch_stays_overridable():
    assert {k: getattr(PretrainConfig(preset="fixed"), k) for k in QUIRKS["fixed"]} == QUIRKS["fixed"]
    ref = PretrainConfig(preset="reference", reshuffle=True)
    assert ref.reshuffle is True and ref.eval_after_first_epoch is True and ref.split == "index"
    assert PretrainConfig(space="nb101").epochs == 8 and PretrainConfig(space="NB-201").space == "nb201"
    for bad in (dict(model="gin"), dict(preset="fast"), dict(space="nb300"), dict(readout="max"), dict(split="odd"),
                dict(seeds=0), dict(lr=-1.0), dict(lr=float("nan")), dict(sweep="lr=1,x"), dict(sweep="depth=3"),
                dict(sweep="lr=0.1,0.1"), dict(member_block=0)):
        with pytest.raises(ConfigError):
            PretrainConfig(**bad)


def test_fixed_preset_trains_in_train_mode_on_a_random_split(tmp_path):
    result = run(tiny(tmp_path, preset="fixed"), cells=CELLS, space=SPACE)
    assert [m["train_mode"] for m in result.history] == [True, True, True]
    config = json.loads((result.out / "config.json").read_text())
    assert config["split"] == "random" and config["reshuffle"] is True and config["mu_stats_from_training"] is False


def test_dropout_setting_reaches_the_model():
    """--dropout sets the latent dropout of train mode: with 0, gae (which samples nothing) gives the same
    train-mode decoding under any dropout key; with the published 0.3 the keys change it."""
    from a2v_jax.graphs import graph_set, make_batch
    from a2v_jax.pretrain import make_program

    data = graph_set(CELLS, SPACE.num_ops)
    batch = make_batch(data, np.arange(8))
    outs = {}
    for rate in (0.0, 0.3):
        program = make_program(PretrainConfig(space="nb201", model="gae", dropout=rate), data)
        assert program.model.dropout == rate
        variables = program.module.init({"params": jax.random.PRNGKey(0)}, batch.graph, False, batch.graph_mask)
        outs[rate] = [program.module.apply(variables, batch.graph, True, batch.graph_mask, mutable=["batch_stats"],
                                           rngs={"dropout": jax.random.PRNGKey(k)})[0].adj_logits for k in (1, 2)]
    assert np.array_equal(*outs[0.0]) and not np.allclose(*outs[0.3])


def test_a_seed_in_a_batch_is_the_seed_alone_and_a_batch_resumes_bit_for_bit(tmp_path, single):
    alone = single[0]
    batch = run(tiny(tmp_path, "batch", seeds=2), cells=CELLS, space=SPACE)
    assert read_kind(batch.out) == "pretrain-batch"
    assert sorted(p.name for p in batch.out.iterdir()) == ["config.json", "run.json", "seed-0", "seed-1", "summary.json"]
    member = batch.out / "seed-0"
    assert read_kind(member) == "pretrain"
    np.testing.assert_array_equal(_io.load_npz(member / "embeddings.npz")["embeddings"], alone.embeddings)
    assert stable(json.loads((member / "metrics.json").read_text())) == stable(alone.metrics)
    assert not np.array_equal(batch.runs[0].embeddings, batch.runs[1].embeddings)
    summary = json.loads((batch.out / "summary.json").read_text())
    uniq = summary["groups"][0]["metrics"]["uniqueness"]
    assert uniq["values"] == [r.metrics["uniqueness"] for r in batch.runs]
    assert uniq["mean"] == pytest.approx(np.mean(uniq["values"]))

    def stop_after(n):
        calls = []

        def hook(states, steps):
            calls.append(steps)
            if len(calls) == n:
                raise KeyboardInterrupt

        return hook

    config = tiny(tmp_path, "interrupted", seeds=2)
    with pytest.raises(KeyboardInterrupt):
        run(config, cells=CELLS, space=SPACE, on_chunk=stop_after(3))  # mid epoch 2
    assert not (tmp_path / "interrupted").exists() and partial_path(tmp_path / "interrupted").exists()
    with pytest.raises(RunFolderError, match="--resume"):
        run(config, cells=CELLS, space=SPACE)
    with pytest.raises(ResumeError, match="batch of 2 members .* asks for 3"):
        run(tiny(tmp_path, "interrupted", seeds=3, resume=True), cells=CELLS, space=SPACE)
    with pytest.raises(ResumeError, match="lr"):
        run(tiny(tmp_path, "interrupted", seeds=2, lr=0.01, resume=True), cells=CELLS, space=SPACE)
    resumed = run(tiny(tmp_path, "interrupted", seeds=2, resume=True), cells=CELLS, space=SPACE)
    for a, b in zip(batch.runs, resumed.runs, strict=True):
        assert leaves_equal(a.state, b.state)
        np.testing.assert_array_equal(a.embeddings, b.embeddings)
        assert [stable(m) for m in a.history] == [stable(m) for m in b.history]


def test_sweep_members_follow_their_hyperparameter(tmp_path, single):
    result = run(tiny(tmp_path, "sweep", sweep="lr=0.001,0.02"), cells=CELLS, space=SPACE)
    labels = [r.out.name for r in result.runs]
    assert labels == ["lr-0.001_seed-0", "lr-0.02_seed-0"]
    assert [r.config.lr for r in result.runs] == [0.001, 0.02]
    np.testing.assert_array_equal(result.runs[0].embeddings, single[0].embeddings)  # lr 1e-3 is seed 0 alone
    assert not np.array_equal(result.runs[1].embeddings, single[0].embeddings)
    assert [g["sweep"] for g in result.summary["groups"]] == [{"lr": 0.001}, {"lr": 0.02}]


def test_interrupted_overwrite_leaves_the_old_run_whole(tmp_path):
    first = run(tiny(tmp_path, "keep"), cells=CELLS, space=SPACE)
    before = {p.name: p.read_bytes() for p in first.out.iterdir()}

    def interrupt(states, steps):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tiny(tmp_path, "keep", seed=5, overwrite=True), cells=CELLS, space=SPACE, on_chunk=interrupt)
    assert {p.name: p.read_bytes() for p in first.out.iterdir()} == before
    second = run(tiny(tmp_path, "keep", seed=5, overwrite=True), cells=CELLS, space=SPACE)
    assert sorted(p.name for p in second.out.iterdir()) == sorted(before)
    assert json.loads((second.out / "config.json").read_text())["seed"] == 5
    with pytest.raises(RunFolderError, match="already holds a pretraining run"):
        run(tiny(tmp_path, "keep"), cells=CELLS, space=SPACE)


def test_a_loss_that_stops_being_finite_stops_the_run_and_exports_nothing(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"seed 3 \(lr=1e\+30\): epoch 1 .* nothing was written"):
        run(tiny(tmp_path, "nan", seed=3, sweep="lr=1e30"), cells=CELLS, space=SPACE)
    assert not (tmp_path / "nan").exists() and not partial_path(tmp_path / "nan").exists()


def test_memory_limit_is_named():
    check_memory(4, per_member=2**20, shared=0, available=2**30)
    with pytest.raises(MemoryLimitError, match="at most 8 members fit"):
        check_memory(100, per_member=100 * 2**20, shared=0, available=2**30)


def test_load_model_encodes_like_the_export_and_decodes_cells(single, tmp_path):
    result = single[0]
    model = load_model(result.out)
    assert model.space == "nb201" and model.config.seed == 0
    cells = (CELLS.adjacency[:5], CELLS.ops[:5])
    mu = model.encode(cells)
    assert mu.shape == (5, 8, 16) and mu.dtype == np.float32
    np.testing.assert_allclose(model.embed(cells), result.embeddings[:5], rtol=1e-5, atol=1e-6)
    ops, adjacency = model.decode(mu)
    assert ops.shape == (5, 8) and ops.dtype == np.int8 and adjacency.shape == (5, 8, 8) and adjacency.dtype == np.uint8
    assert not np.tril(adjacency).any()
    with pytest.raises(ValueError, match=r"z must be \[B, 8, 16\]"):
        model.decode(np.zeros((2, 7, 16)))


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["--epochs", "3", "--limit", "200", "--prior-samples", "300", "--chunk-steps", "4", "--out", str(out),
            "--no-progress"]
    assert main([*argv, "--seeds", "2"]) == 0
    assert "2 members" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "run.json", "seed-0", "seed-1", "summary.json"]
    assert main([*argv, "--seeds", "2"]) == 1
    assert "already holds a batch of pretraining runs" in capsys.readouterr().err
    for bad, message in ((["--seeds", "0"], "seeds must be at least 1"), (["--seeds", "-1"], "seeds must be at least 1"),
                         (["--lr", "-1"], "lr must be a positive number"),
                         (["--dropout", "1"], "dropout must lie in [0, 1), got 1.0"),
                         (["--darts-num", "10"], "apply to --space darts only"),
                         (["--seeds", "3", "--resume"], "asks for 3")):
        assert main([*argv, *bad]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    with pytest.raises(SystemExit):
        main(["--model", "gin"])
    assert capsys.readouterr().err.startswith("error: argument --model")
    with pytest.raises(ValueError, match="is a batch of pretraining runs"):
        load_model(out)


def test_a_checkpoint_from_before_a_setting_existed_resumes_under_its_default(tmp_path):
    from a2v_jax.pretrain.config import RESUMABLE_FIELDS, with_defaults
    from a2v_jax.pretrain.export import check_resumable

    current = PretrainConfig().to_dict()
    saved = {k: v for k, v in current.items() if k != "dropout"}  # written before `dropout` was a setting
    path = tmp_path / "checkpoint.msgpack"
    check_resumable(with_defaults(saved), current, RESUMABLE_FIELDS, path)
    changed = PretrainConfig(dropout=0.0).to_dict()
    with pytest.raises(ResumeError, match=r"dropout: 0\.3 -> 0\.0"):
        check_resumable(with_defaults(saved), changed, RESUMABLE_FIELDS, path)
    with pytest.raises(ResumeError, match=r"dropout: None -> 0\.3"):  # without defaults a missing key differs
        check_resumable(saved, current, RESUMABLE_FIELDS, path)
