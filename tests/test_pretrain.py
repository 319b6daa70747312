"""Pretraining end to end on tiny budgets: learning, determinism, resume, metrics, outputs."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pretrain_helpers import NB201_ADJ, nb201_space, nb201_subset

from a2v_jax import _io
from a2v_jax.graphs import graph_set
from a2v_jax.model import ModelConfig
from a2v_jax.pretrain import PretrainConfig, ResumeError, run
from a2v_jax.pretrain_metrics import prior_metrics, published_valid
from a2v_jax.spaces.graph_hash import hash_module
from a2v_jax.trainer import Trainer

SPACE = nb201_space()
CELLS = nb201_subset(200, seed=0)  # 180 train (6 batches, the last partial) / 20 held out


def tiny(tmp_path, name="run", **overrides) -> PretrainConfig:
    base = dict(space="nb201", epochs=2, batch_size=32, chunk_steps=2, prior_samples=400, progress=False,
                out=str(tmp_path / name))
    base.update(overrides)
    return PretrainConfig(**base)


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    stats_seen = []
    result = run(tiny(out, epochs=3), cells=CELLS, space=SPACE,
                 on_chunk=lambda s: stats_seen.append((int(s.epoch), jax.device_get(s.batch_stats))))
    return result, stats_seen


def test_run_writes_every_output(reference_run):
    result, _ = reference_run
    out = result.out
    config = json.loads((out / "config.json").read_text())
    assert config["space"] == "nb201" and config["num_train"] == 180 and config["num_held_out"] == 20
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    final = json.loads((out / "metrics.json").read_text())
    for key in ("reconstruction_accuracy", "validity", "uniqueness", "validity_published", "uniqueness_published",
                "op_accuracy", "edge_accuracy", "embedding_seconds"):
        assert key in final
        if key != "embedding_seconds":
            assert 0.0 <= final[key] <= 1.0
    emb = _io.load_npz(out / "embeddings.npz")
    assert emb["embeddings"].dtype == np.float32 and emb["embeddings"].shape == (200, 16)
    np.testing.assert_array_equal(emb["hash"], CELLS.hash)
    assert (out / "checkpoint.msgpack").exists()


def test_loss_falls(reference_run):
    history = reference_run[0].history
    assert history[-1]["loss"] < 0.8 * history[0]["loss"]


def test_reference_preset_freezes_batchnorm_after_first_epoch(reference_run):
    result, stats_seen = reference_run
    assert [m["train_mode"] for m in result.history] == [True, False, False]
    first = [s for e, s in stats_seen if e == 0]
    later = [s for e, s in stats_seen if e >= 1]
    assert not _leaves_equal(first[0], first[-1]), "train mode updates the running statistics"
    assert all(_leaves_equal(later[0], s) for s in later) and _leaves_equal(first[-1], later[0])


def test_fixed_preset_keeps_training_mode(tmp_path):
    result = run(tiny(tmp_path, preset="fixed", epochs=2), cells=CELLS, space=SPACE)
    assert [m["train_mode"] for m in result.history] == [True, True]
    assert result.config.split == "random" and result.config.reshuffle


def test_same_seed_same_result_and_resume_is_exact(tmp_path, reference_run):
    first = reference_run[0]
    again = run(tiny(tmp_path, "again", epochs=3), cells=CELLS, space=SPACE)
    assert _leaves_equal(first.state.params, again.state.params)
    np.testing.assert_array_equal(first.embeddings, again.embeddings)

    calls = []

    def stop_after_five(state):
        calls.append(int(state.step))
        if len(calls) == 5:  # mid second epoch (3 chunks per epoch)
            raise KeyboardInterrupt

    config = tiny(tmp_path, "interrupted", epochs=3)
    with pytest.raises(KeyboardInterrupt):
        run(config, cells=CELLS, space=SPACE, on_chunk=stop_after_five)
    with pytest.raises(FileExistsError):
        run(config, cells=CELLS, space=SPACE)
    with pytest.raises(ResumeError, match="lr"):
        run(tiny(tmp_path, "interrupted", epochs=3, lr=0.01, resume=True), cells=CELLS, space=SPACE)
    resumed = run(tiny(tmp_path, "interrupted", epochs=3, resume=True), cells=CELLS, space=SPACE)
    assert _leaves_equal(first.state.params, resumed.state.params)
    assert _leaves_equal(first.state.opt_state, resumed.state.opt_state)
    assert _leaves_equal(first.state.batch_stats, resumed.state.batch_stats)
    drop = ("eval_seconds", "prior_check_seconds", "train_seconds", "compile_seconds", "steps", "steps_per_second")
    strip = [{k: v for k, v in m.items() if k not in drop} for m in first.history]
    assert strip == [{k: v for k, v in m.items() if k not in drop} for m in resumed.history]


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ResumeError, match="nothing to resume"):
        run(tiny(tmp_path, "none", resume=True), cells=CELLS, space=SPACE)


def test_bad_names_are_rejected():
    for bad in (dict(model="gin"), dict(preset="fast"), dict(space="nb300"), dict(readout="max"), dict(split="odd")):
        with pytest.raises(ValueError):
            PretrainConfig(**bad).resolved()


def test_tiny_set_is_memorised_exactly():
    cells = nb201_subset(32, seed=1)
    data = graph_set(cells, SPACE.num_ops)
    trainer = Trainer.shared(ModelConfig.for_model("arch2vec", 8, 7), batch_size=32, chunk_steps=250)
    state = trainer.init(0, data)
    every = jnp.arange(32)
    repeated = jnp.tile(every, 250)  # 250 batches per pass
    for epoch in range(3):  # the published schedule: train mode, then eval mode
        batches, masks = trainer.epoch_order(state, repeated, epoch, reshuffle=True)
        state = state.replace(position=jnp.zeros((), jnp.int32))
        state, _ = trainer.train_chunk(state, data, batches, masks, train_mode=epoch == 0)
    assert trainer.evaluate(state, data, every)["reconstruction_accuracy"] == 1.0


def test_embeddings_follow_cell_order_and_readout():
    cells = nb201_subset(40, seed=2)
    data = graph_set(cells, SPACE.num_ops)
    trainer = Trainer.shared(ModelConfig.for_model("arch2vec", 8, 7), batch_size=32, chunk_steps=2, eval_batch=16)
    state = trainer.init(3, data)
    mean = np.asarray(trainer.embed(state, data, jnp.arange(40), "mean"))
    total = np.asarray(trainer.embed(state, data, jnp.arange(40), "sum"))
    np.testing.assert_allclose(total, 8 * mean, rtol=1e-5, atol=1e-5)  # no padding vertices in NB201
    backwards = np.asarray(trainer.embed(state, data, jnp.arange(39, -1, -1), "mean"))
    np.testing.assert_allclose(backwards[::-1], mean, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError):
        trainer.embed(state, data, jnp.arange(3), "max")


def _nb201(ops, adj=NB201_ADJ):
    return np.asarray(adj, np.uint8), np.asarray(ops, np.int8)


def test_validity_and_uniqueness_on_hand_made_decodings():
    a = [0, 1, 2, 3, 4, 5, 1, 6]
    b = [0, 2, 2, 2, 2, 2, 2, 6]
    extra = NB201_ADJ.copy()
    extra[0, 3] = 1
    samples = [
        _nb201(a), _nb201(a), _nb201(a), _nb201(b),  # valid, two distinct cells
        _nb201(a, extra),  # an edge too many: not an NB201 cell, but the published check ignores edges
        _nb201([0, 6, 2, 3, 4, 5, 1, 6]),  # output op on vertex 1: the published check skips vertex 1
        _nb201([1, 1, 2, 3, 4, 5, 1, 6]),  # no input first: invalid for both
        _nb201([0, 1, 2, 0, 4, 5, 1, 6]),  # input op inside the cell: invalid for both
    ]
    adj = np.stack([s[0] for s in samples])
    ops = np.stack([s[1] for s in samples])
    m = prior_metrics(SPACE, ops, adj)
    assert m["validity"] == 4 / 8 and m["uniqueness"] == 2 / 4
    assert m["validity_published"] == 6 / 8 and m["uniqueness_published"] == 4 / 6
    assert m["distinct_decodings"] == 6


def test_published_darts_check():
    ops = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], np.int8)
    adj = np.zeros((1, 11, 11), np.uint8)
    for v, src in ((2, 0), (3, 1), (4, 2), (5, 3), (6, 0), (7, 5), (8, 7), (9, 1)):
        adj[0, src, v] = 1
    assert published_valid("darts", adj, ops, 11).tolist() == [True]
    late = adj.copy()
    late[0, :, 5] = 0
    late[0, 4, 5] = 1  # vertex 5 fed only by vertex 4: the published check scans rows 0..3
    assert published_valid("darts", late, ops, 11).tolist() == [False]
    bad_ops = ops.copy()
    bad_ops[0, 4] = 0
    assert published_valid("darts", adj, bad_ops, 11).tolist() == [False]
    assert published_valid("nb101", adj, ops, 11) is None


def test_published_uniqueness_hashes_the_unpruned_decoding():
    ops = np.array([0, 1, 2, 3, 4, 5, 1, 6])
    assert hash_module(NB201_ADJ, ops.tolist()) == SPACE.graph_hash(NB201_ADJ, ops)


def test_cli_smoke(tmp_path, capsys):
    from a2v_jax.pretrain import main

    out = tmp_path / "cli"
    argv = ["--epochs", "1", "--limit", "200", "--prior-samples", "300", "--chunk-steps", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "done:" in capsys.readouterr().out
    final = json.loads((out / "metrics.json").read_text())
    assert final["epochs"] == 1 and final["space"] == "nb201" and final["num_cells"] == 200
    assert main(argv) == 1  # the folder holds a run: refuse without --resume / --overwrite
    assert "already holds a run" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0  # finished run: nothing left to train, outputs rewritten
    with pytest.raises(SystemExit):
        main(["--model", "gin"])
    with pytest.raises(SystemExit):
        main(["--darts-num", "10"])
