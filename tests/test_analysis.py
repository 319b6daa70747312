"""Latent-space analysis: edit distance, encodings, predictive GP, walks, figures, command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from a2v_jax._io import CorruptFileError, save_npz
from a2v_jax.analysis import AnalysisConfig, EditDistance, edit_distance, run
from a2v_jax.analysis.encodings import (
    EncodingError,
    load_encodings,
    parse_spec,
    path_encoding,
    random_control,
)
from a2v_jax.analysis.predictive import predictive
from a2v_jax.analysis.smoothness import random_walk
from a2v_jax.analysis.walk import ModelUnavailable, load_model, nearest_walks
from a2v_jax.rundir import RunFolderError
from a2v_jax.spaces import CellSet, get_space
from a2v_jax.spaces import darts as darts_mod
from a2v_jax.spaces import nb101_bits as bits_
from a2v_jax.spaces.nb101 import _LABEL_TO_OP, official_labels
from a2v_jax.spaces.nb101_canonical import PAD_LABEL
from a2v_jax.spaces.nb101_neighbours import mutate
from a2v_jax.spaces.nb201 import ADJACENCY

NB201_FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")


@pytest.fixture(scope="module")
def nb201():
    space = get_space("nb201")
    return space, space.load()


def nb101_json_cells(data_file) -> CellSet:
    """The 1,000 real NB101 cells of the shared fixture, in this project's encoding."""
    data = json.loads(data_file("nb101/nasbench-vis-1k.json").read_text())
    space = get_space("nb101")
    adj, ops = space.from_official(np.array(data["adjacency"]), np.array(data["operations"]))
    return CellSet("nb101", adj, ops, np.array(data["key"], dtype="<U32"))


# --- edit distance -----------------------------------------------------------------------------------


def test_nb201_edit_distance_is_differing_edge_ops_and_one_for_every_neighbour(nb201):
    space, cells = nb201
    table = space.neighbours(cells)
    ed = EditDistance.of("nb201", cells.adjacency, cells.ops)
    i = np.repeat(np.arange(len(cells)), table.shape[1])
    d = ed.pairs(i, table.ravel())
    assert (d == 1).all()  # all 15,625 x 24 mutation neighbours
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(cells), (2, 5000))
    expected = (cells.ops[a, 1:7] != cells.ops[b, 1:7]).sum(axis=1)
    np.testing.assert_array_equal(ed.pairs(a, b), expected)
    np.testing.assert_array_equal(ed.pairs(a, b), ed.pairs(b, a))


def test_edit_distance_matrix_symmetric_and_zero_only_on_the_diagonal(nb201, data_file):
    _, cells = nb201
    rows = np.random.default_rng(1).choice(len(cells), 300, replace=False)
    m = EditDistance.of("nb201", cells.adjacency[rows], cells.ops[rows]).matrix()
    assert (m == m.T).all() and (np.diag(m) == 0).all() and (m[~np.eye(300, dtype=bool)] > 0).all()

    nb101 = nb101_json_cells(data_file)
    m = EditDistance.of("nb101", nb101.adjacency[:300], nb101.ops[:300]).matrix()
    assert (m == m.T).all() and (np.diag(m) == 0).all() and (m[~np.eye(300, dtype=bool)] > 0).all()


def _nb101_mutations(cells: CellSet, per_size: int = 60):
    """(original rows, mutated adjacency, mutated ops) of every single edit of some cells of each
    vertex count, pruned as the official API prunes, kept where valid; in the pruned vertex order
    (not the canonical one: the distance must not care)."""
    n_all = cells.num_vertices
    src, adj, ops = [], [], []
    for n in range(2, 8):
        idx = np.flatnonzero(n_all == n)[:per_size]
        if idx.size == 0:
            continue
        mb, ml = mutate(n, bits_.pack(cells.adjacency[idx]), official_labels(cells.ops[idx]))
        connected, _, b2, l2 = bits_.prune_bits(n, mb.ravel(), ml.reshape(-1, 7), PAD_LABEL)
        ok = connected & (bits_.popcount(np.where(connected, b2, 0)) <= bits_.MAX_EDGES)
        src.append(np.repeat(idx, mb.shape[1])[ok])
        adj.append(bits_.unpack(b2[ok], 7).astype(np.uint8))
        ops.append(_LABEL_TO_OP[l2[ok] + 3])
    return np.concatenate(src), np.concatenate(adj), np.concatenate(ops)


def test_nb101_edit_distance_of_mutations(data_file):
    """One edit that prunes nothing is at distance 1; an edge removal that prunes k vertices and m
    further edges is at 1 + k + m, i.e. the change in vertex plus edge count."""
    cells = nb101_json_cells(data_file)
    src, adj, ops = _nb101_mutations(cells)
    d = edit_distance("nb101", cells.adjacency[src], cells.ops[src], adj, ops)
    dv = np.abs(cells.num_vertices[src] - (ops != -1).sum(axis=1))
    de = np.abs(cells.adjacency[src].sum(axis=(1, 2)).astype(int) - adj.sum(axis=(1, 2)).astype(int))
    assert src.size > 1000 and (dv == 0).sum() > 500 and (dv > 0).sum() > 50
    assert (d[dv == 0] == 1).all()
    np.testing.assert_array_equal(d, np.maximum(1, dv + de))
    np.testing.assert_array_equal(d, edit_distance("nb101", adj, ops, cells.adjacency[src], cells.ops[src]))


def test_nb101_edit_distance_ignores_vertex_numbering(data_file):
    cells = nb101_json_cells(data_file)
    row = int(np.flatnonzero(cells.num_vertices == 7)[0])
    adj, ops = cells.adjacency[row], cells.ops[row]
    order = np.array([0, 1, 2, 3, 4, 5, 6])
    for perm in ([0, 2, 1, 3, 4, 5, 6], [0, 5, 4, 3, 2, 1, 6], [0, 3, 1, 4, 2, 5, 6]):
        order = np.array(perm)
        new_adj, new_ops = adj[np.ix_(order, order)], ops[order]
        assert edit_distance("nb101", adj[None], ops[None], new_adj[None], new_ops[None])[0] == 0


def _random_genotypes(rng, count):
    g = np.zeros((count, 8, 2), dtype=np.int8)
    g[:, :, 0] = rng.integers(0, 8, (count, 8))
    g[:, :, 1] = rng.integers(0, np.repeat(np.arange(2, 6), 2), (count, 8))
    return g


def test_darts_edit_distance_of_op_and_input_changes():
    rng = np.random.default_rng(0)
    g = _random_genotypes(rng, 400)
    adj, ops = darts_mod.genotype_to_cell(g)
    # one op changed: 1
    op_changed = g.copy()
    slot = rng.integers(0, 8, 400)
    op_changed[np.arange(400), slot, 0] = (g[np.arange(400), slot, 0] + rng.integers(1, 8, 400)) % 8
    assert (edit_distance("darts", adj, ops, *darts_mod.genotype_to_cell(op_changed)) == 1).all()
    # the two ops of a block swapped: the same graph
    swapped = g.copy()
    swapped[:, [2, 3]] = g[:, [3, 2]]
    assert (edit_distance("darts", adj, ops, *darts_mod.genotype_to_cell(swapped)) == 0).all()
    # one input moved: the edges that change (1 or 2 out, 1 or 2 in)
    moved = g.copy()
    e = rng.integers(0, 8, 400)
    limit = e // 2 + 2
    old = g[np.arange(400), e, 1].astype(int)
    new = (old + rng.integers(1, limit)) % limit
    moved[np.arange(400), e, 1] = new
    expected = np.where(old < 2, 1, 2) + np.where(new < 2, 1, 2)
    d = edit_distance("darts", adj, ops, *darts_mod.genotype_to_cell(moved))
    assert (d <= expected).all() and (d >= 1).all()
    assert (d == expected).mean() > 0.9  # fewer only where a relabelling of blocks is cheaper
    m = EditDistance.of("darts", adj[:200], ops[:200]).matrix()
    hashes = np.array([get_space("darts").graph_hash(adj[k], ops[k]) for k in range(200)])
    same = hashes[:, None] == hashes[None, :]
    assert (m == m.T).all() and ((m == 0) == same).all()


# --- encodings --------------------------------------------------------------------------------------


def test_built_in_encodings(nb201, data_file):
    space, cells = nb201
    encs = {e.name: e for e in load_encodings(("onehot", "path", "random"), "nb201", cells, space.num_ops)}
    assert encs["onehot"].values.shape == (len(cells), 28 + 8 * 7)
    assert encs["path"].values.shape == (len(cells), 4 + 16 + 64)
    all_none = int(np.flatnonzero((cells.ops[:, 1:7] == 5).all(axis=1))[0])
    all_skip = int(np.flatnonzero((cells.ops[:, 1:7] == 4).all(axis=1))[0])
    assert encs["path"].values[all_none].sum() == 0
    assert encs["path"].values[all_skip].sum() == 3  # routes of 1, 2 (two of them: one sequence) and 3 skips
    np.testing.assert_array_equal(encs["random"].values, random_control(len(cells), 0))
    assert not np.array_equal(random_control(len(cells), 1), random_control(len(cells), 0))

    nb101 = nb101_json_cells(data_file)
    p = path_encoding("nb101", nb101)
    assert p.shape == (1000, 364) and (p.sum(axis=1) >= 1).all()
    chain = CellSet("nb101", np.array([[[0, 1, 0] + [0] * 4, [0, 0, 1] + [0] * 4] + [[0] * 7] * 5], np.uint8),
                    np.array([[0, 2, 4, -1, -1, -1, -1]], np.int8), np.array(["x"]))
    assert np.flatnonzero(path_encoding("nb101", chain)[0]).tolist() == [1 + 1]  # one path: conv3x3
    with pytest.raises(EncodingError, match="nb101 and nb201"):
        path_encoding("darts", chain)


def test_encoding_specs():
    assert parse_spec("onehot") == ("onehot", None)
    assert parse_spec("a2v=runs/x/embeddings.npz") == ("a2v", "runs/x/embeddings.npz")
    for bad in ("spectral", "=x.npz", "onehot=x.npz"):
        with pytest.raises(EncodingError):
            parse_spec(bad)


def test_embeddings_files_are_checked_against_the_space(nb201, tmp_path):
    space, cells = nb201
    emb = np.random.default_rng(0).normal(size=(len(cells), 4)).astype(np.float32)
    save_npz(tmp_path / "short.npz", embeddings=emb[:-1])
    with pytest.raises(ValueError, match=r"short\.npz: 15,624 embeddings for the nb201 space of 15,625 cells"):
        load_encodings(("a=" + str(tmp_path / "short.npz"),), "nb201", cells, space.num_ops)
    order = np.arange(len(cells))
    order[[5, 9]] = order[[9, 5]]
    save_npz(tmp_path / "shuffled.npz", embeddings=emb[order], hash=cells.hash[order])
    with pytest.raises(ValueError, match=r"shuffled\.npz: embedding rows are not in the nb201 cell order \(2 hashes differ, first at row 5\)"):
        load_encodings(("a=" + str(tmp_path / "shuffled.npz"),), "nb201", cells, space.num_ops)
    bad = emb.copy()
    bad[3, 1] = np.nan
    save_npz(tmp_path / "nan.npz", embeddings=bad, hash=cells.hash)
    with pytest.raises(CorruptFileError, match="NaN"):
        load_encodings(("a=" + str(tmp_path / "nan.npz"),), "nb201", cells, space.num_ops)
    save_npz(tmp_path / "good.npz", embeddings=emb, hash=cells.hash)
    (enc,) = load_encodings(("a=" + str(tmp_path / "good.npz"),), "nb201", cells, space.num_ops)
    assert enc.hash_checked and enc.dim == 4
    with pytest.raises(EncodingError, match="NaN"):
        load_encodings((), "nb201", cells, space.num_ops, arrays={"x": bad})
    with pytest.raises(EncodingError, match="given twice: onehot"):
        load_encodings(("onehot", "onehot"), "nb201", cells, space.num_ops)


# --- predictive -------------------------------------------------------------------------------------


def test_predictive_recovers_a_planted_relation_and_not_a_random_control():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 4))
    w = np.array([0.6, -0.3, 0.5, 0.2])
    accuracy = 0.88 + 0.02 * (x @ w) + 0.0005 * rng.normal(size=3000)
    out = predictive({"planted": x, "random": random_control(3000, 0)}, accuracy, threshold=0.8,
                     seeds=3, train_size=150)
    planted = out["encodings"]["planted"]["summary"]
    control = out["encodings"]["random"]["summary"]
    assert planted["high"]["pearson"]["mean"] > 0.98 and planted["all"]["rmse"]["mean"] < 0.003
    assert abs(control["high"]["pearson"]["mean"]) < 0.1
    margin = out["margin_over_control"]["by_encoding"]["planted"]["high"]["pearson"]
    assert margin["mean"] > 0.9
    assert len(out["training_cells"]) == 3 and len(set(out["training_cells"][0])) == 150
    assert out["encodings"]["planted"]["per_seed"]["high"][0]["count"] == int((accuracy > 0.8).sum()) - int(
        (accuracy[out["training_cells"][0]] > 0.8).sum())


# --- walks ------------------------------------------------------------------------------------------


def test_nearest_walk_never_revisits_and_takes_the_nearest(nb201):
    space, cells = nb201
    values = np.random.default_rng(0).normal(size=(3000, 5)).astype(np.float32)
    starts = np.array([0, 17, 2999])
    paths = nearest_walks(values, starts, 40)
    assert paths.shape == (3, 41) and (paths[:, 0] == starts).all()
    for path in paths:
        assert np.unique(path).size == path.size
        seen = {int(path[0])}
        for a, b in zip(path[:-1], path[1:], strict=True):  # brute force, step by step
            d = ((values - values[a]) ** 2).sum(axis=1)
            d[list(seen)] = np.inf
            assert b == int(np.argmin(d))
            seen.add(int(b))
    onehot = load_encodings(("onehot",), "nb201", cells, space.num_ops)[0].values  # many exact ties
    paths = nearest_walks(onehot, [5, 6], 200)
    assert all(np.unique(p).size == p.size for p in paths)
    ed = EditDistance.of("nb201", cells.adjacency[paths[0]], cells.ops[paths[0]])
    assert (ed.pairs(np.arange(200), np.arange(1, 201)) == 1).all()  # onehot L2^2 = 2 x edit distance


def test_random_walk_is_distinct_and_one_edit_per_step(nb201):
    space, cells = nb201
    table = space.neighbours(cells)
    walk, steps = random_walk(table, 123, 1000, seed=3)
    assert walk.size == 1000 and np.unique(walk).size == 1000 and walk[0] == 123 and steps >= 999
    ed = EditDistance.of("nb201", cells.adjacency[walk], cells.ops[walk])
    consecutive = ed.pairs(np.arange(999), np.arange(1, 1000))
    assert (consecutive == 1).mean() > 0.99
    again, _ = random_walk(table, 123, 1000, seed=3)
    np.testing.assert_array_equal(walk, again)
    # a dead end: the walk passes through visited cells to reach new ones
    line = np.array([[1, -1], [0, 2], [1, 3], [2, -1]], np.int32)
    walk, steps = random_walk(line, 1, 4, seed=0)
    assert sorted(walk.tolist()) == [0, 1, 2, 3] and steps > 3


# --- the run: files and figures -----------------------------------------------------------------------

SMALL = dict(seeds=2, train_size=40, walk_length=120, map_cells=300, map_grid=12, tsne_iterations=250,
             perplexity=10.0, walks=1, walk_steps=4, progress=False)


class FakeModel:
    """The interface the decoded interpolation uses, on NB201: z is the one-hot op of each vertex."""

    space = "nb201"

    def encode(self, cells):
        adjacency, ops = cells  # a batch as an (adjacency, ops) pair
        return np.eye(7, dtype=np.float32)[np.asarray(ops, dtype=np.int64)]

    def decode(self, z):
        z = np.asarray(z)
        ops = np.argmax(z, axis=-1).astype(np.int8)
        return ops, np.broadcast_to(ADJACENCY, (z.shape[0], 8, 8)).astype(np.uint8)


def _png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 2000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_on_nb201_writes_every_figure_and_json(nb201, data_file, tmp_path):
    for f in NB201_FILES:
        data_file(f)
    space, cells = nb201
    emb = random_control(len(cells), 7)[:, :6] + 0.0
    out = tmp_path / "an"
    result = run(AnalysisConfig("all", space="nb201", dataset="cifar10", embeddings=("onehot", "random"),
                                out=str(out), **SMALL), cells=cells, arrays={"mine": emb}, model=FakeModel())
    assert result.out == out
    names = {p.name for p in out.iterdir()}
    for a in ("predictive", "smoothness", "map", "walk"):
        assert _png(out / f"{a}.png"), a
        data = json.loads((out / f"{a}.json").read_text())
        assert data["analysis"] == a and list(data["encodings"]) == ["onehot", "random", "mine"]
    assert _png(out / "interpolation.png") and {"config.json", "run.json"} <= names
    marker = json.loads((out / "run.json").read_text())
    assert marker["kind"] == "analysis" and marker["complete"] and marker["skipped"] == {}
    walk = json.loads((out / "walk.json").read_text())
    interp = walk["interpolation"]
    first = walk["encodings"]["onehot"]["walks"][0]["cells"]
    assert interp["valid"] == [True] * 8 and interp["cell"][0] == first[0] and interp["cell"][-1] == first[-1]
    smooth = json.loads((out / "smoothness.json").read_text())
    assert smooth["cells"]["kind"] == "random walk" and smooth["pairs"] == 120 * 119 // 2
    assert smooth["encodings"]["onehot"]["spearman_rho"] > 0.9
    assert abs(smooth["encodings"]["random"]["spearman_rho"]) < 0.2
    pred = json.loads((out / "predictive.json").read_text())
    assert pred["threshold"] == 0.8 and pred["margin_over_control"]["control"] == "random"


@pytest.fixture(scope="module")
def darts_cells(tmp_path_factory):
    return get_space("darts").load(cache=tmp_path_factory.mktemp("darts"), num=400, seed=0)


def test_smoothness_and_walk_on_a_darts_sample(darts_cells, tmp_path):
    result = run(AnalysisConfig("all", space="darts", embeddings=("onehot", "random"), out=str(tmp_path / "d"),
                                **SMALL), cells=darts_cells)
    assert set(result.results) == {"smoothness", "walk"} and set(result.skipped) == {"predictive", "map"}
    assert "python -m a2v_jax.data build" in result.skipped["predictive"]
    assert result.results["smoothness"]["cells"]["kind"] == "uniform sample"
    assert _png(tmp_path / "d" / "smoothness.png") and _png(tmp_path / "d" / "walk.png")


def test_an_interrupted_run_resumes_keeping_finished_analyses(darts_cells, tmp_path, monkeypatch):
    import a2v_jax.analysis.api as api

    real = api._analyse
    calls = []

    def interrupted(name, *args):
        calls.append(name)
        if name == "walk":
            raise KeyboardInterrupt
        return real(name, *args)

    config = AnalysisConfig("all", space="darts", embeddings=("random",), out=str(tmp_path / "r"), **SMALL)
    monkeypatch.setattr(api, "_analyse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(config, cells=darts_cells)
    partial = tmp_path / "r.partial"
    assert (partial / "smoothness.json").is_file() and not (tmp_path / "r").exists()
    with pytest.raises(RunFolderError, match="--resume"):
        run(config, cells=darts_cells)
    with pytest.raises(ValueError, match="other settings"):
        run(dataclasses.replace(config, seed=5, resume=True), cells=darts_cells)
    monkeypatch.setattr(api, "_analyse", lambda name, *args: (calls.append(name), real(name, *args))[1])
    before = (partial / "smoothness.json").read_text()
    result = run(dataclasses.replace(config, resume=True), cells=darts_cells)
    assert calls == ["smoothness", "walk", "walk"]  # smoothness was not computed again
    assert (tmp_path / "r" / "smoothness.json").read_text() == before and _png(tmp_path / "r" / "walk.png")
    assert set(result.results) == {"smoothness", "walk"} and not partial.exists()


def test_run_option_decodes_through_load_model(nb201, tmp_path, capsys, monkeypatch):
    """`--run DIR` goes through `a2v_jax.pretrain.load_model(DIR)` (here a stand-in model)."""
    import a2v_jax.pretrain as pretrain

    seen = []
    monkeypatch.setattr(pretrain, "load_model", lambda run_dir: seen.append(run_dir) or FakeModel(), raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, "walk", "--embeddings", "random", "--walks", "1", "--walk-steps", "3",
                        "--run", "runs/pre", "--interpolation-points", "5", "--out", "w", "--quiet")
    assert code == 0 and seen == ["runs/pre"] and "walk average edit distance" in out
    interp = json.loads((tmp_path / "w" / "walk.json").read_text())["interpolation"]
    assert len(interp["t"]) == 5 and all(interp["valid"]) and _png(tmp_path / "w" / "interpolation.png")


def test_walk_decodes_with_a_real_pretraining_run(nb201, tmp_path):
    """`--run` on a (tiny) run folder of `python -m a2v_jax.pretrain`, through its `load_model`."""
    from a2v_jax.pretrain import PretrainConfig
    from a2v_jax.pretrain import run as pretrain

    _, cells = nb201
    pre = pretrain(PretrainConfig(space="nb201", epochs=1, limit=200, chunk_steps=4, prior_samples=100,
                                  progress=False, out=str(tmp_path / "pre")))
    result = run(AnalysisConfig("walk", space="nb201", embeddings=("random",), walks=1, walk_steps=3,
                                run=str(pre.out), interpolation_points=4, out=str(tmp_path / "w"), progress=False),
                 cells=cells)
    interp = result.results["walk"]["interpolation"]
    assert np.allclose(interp["t"], [0, 1 / 3, 2 / 3, 1])
    assert np.asarray(interp["ops"]).shape == (4, 8) and np.asarray(interp["adjacency"]).shape == (4, 8, 8)
    assert all(isinstance(v, bool) for v in interp["valid"]) and _png(tmp_path / "w" / "interpolation.png")


def test_model_adapter_needs_load_model(monkeypatch):
    import a2v_jax.pretrain as pretrain

    monkeypatch.delattr(pretrain, "load_model", raising=False)
    with pytest.raises(ModelUnavailable, match="load_model"):
        load_model("runs/x")


# --- command line -----------------------------------------------------------------------------------


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """`python -m a2v_jax.analysis ARGS` in this process (an exception escaping would fail the test)."""
    from a2v_jax.analysis.__main__ import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error_line(result: tuple[int, str, str]) -> str:
    code, _, err = result
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_cli_errors_are_one_line(nb201, tmp_path, capsys, monkeypatch):
    _, cells = nb201
    monkeypatch.chdir(tmp_path)
    save_npz(tmp_path / "e.npz", embeddings=np.zeros((len(cells) - 3, 16), np.float32))
    line = _one_error_line(_cli(capsys, "walk", "--embeddings", f"a2v={tmp_path / 'e.npz'}", "--out", "o", "--quiet"))
    assert "e.npz" in line and "15,622" in line and "nb201 space of 15,625" in line
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()
    line = _one_error_line(_cli(capsys, "predictive", "--space", "darts", "--out", "o"))
    assert "python -m a2v_jax.data build" in line
    line = _one_error_line(_cli(capsys, "map", "--space", "nb101", "--out", "o"))
    assert "python -m a2v_jax.data build nb101" in line
    line = _one_error_line(_cli(capsys, "walk", "--embeddings", "spectral", "--out", "o"))
    assert "unknown encoding 'spectral'" in line
    line = _one_error_line(_cli(capsys, "walk", "--embeddings", f"x={tmp_path / 'missing.npz'}", "--out", "o"))
    assert "missing.npz does not exist" in line
    line = _one_error_line(_cli(capsys, "walk", "--walk-steps", "0", "--out", "o"))
    assert "walk-steps must be positive" in line
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    line = _one_error_line(_cli(capsys, "walk", "--out", "taken"))
    assert "not a run folder" in line


def test_cli_help_lists_every_option(capsys):
    from a2v_jax.analysis.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--embeddings", "--space", "--dataset", "--seeds", "--out", "--run", "--walk-length",
                 "--map-cells", "--threshold", "NAME=PATH", "predictive", "smoothness"):
        assert flag in text
