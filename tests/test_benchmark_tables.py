"""The helpers of benchmarks/ablation.py and benchmarks/table3.py (the runs themselves are benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ablation  # noqa: E402
import table3  # noqa: E402

from a2v_jax import presets  # noqa: E402
from a2v_jax.search.methods import METHODS, get_method  # noqa: E402


@pytest.mark.parametrize("method", ["rl", "bo"])
def test_ablation_variants_come_from_the_quirks_table(method):
    diffs = presets.quirk_differences(get_method(method).Config.QUIRKS, "nb201")
    got = ablation.variants(method)
    assert [v for v, _, _ in got] == ["fixed", "reference", *(f"fixed+{k}" for k in diffs)]
    for _, preset, overrides in got[2:]:
        (name, value), = overrides.items()
        assert preset == "fixed" and value == diffs[name][0]
        # the switch really is the reference's value, and the only change from fixed
        on = get_method(method).Config(preset="fixed", **overrides)
        ref = get_method(method).Config(preset="reference")
        assert getattr(on, name) == getattr(ref, name) != getattr(get_method(method).Config(preset="fixed"), name)


def test_holm_and_changed_share():
    np.testing.assert_allclose(ablation.holm(np.array([0.01, 0.04, 0.03, np.nan])), [0.03, 0.06, 0.06, np.nan])
    a = np.array([[1, 2, 3], [4, 5, -1]])
    assert ablation.changed_share(a, a) == 0.0
    assert ablation.changed_share(a, np.array([[1, 2, 3], [4, 6, -1]])) == 0.5
    assert ablation.changed_share(a, np.array([[1, 2], [4, 5]])) == 0.5  # capacities may differ


def test_table3_skips_unregistered_names_with_a_note(capsys):
    assert table3.registered(["rl", "not-a-method", "RE"]) == ["rl", "re"]
    out = capsys.readouterr().out
    assert "note: method 'not-a-method' is not registered" in out and ", ".join(METHODS) in out


def test_table3_presets_and_paper_check():
    assert table3.presets_of("rl", ["reference", "fixed"]) == ["reference", "fixed"]
    assert table3.within(94.30, (94.12, 0.42)) == "yes"
    assert table3.within(93.50, (94.12, 0.42)) == "no"
    assert table3.within(93.50, (np.nan, np.nan)) == "-"
    assert table3.PAPER_TEST["rl-discrete"] == ((93.82, 0.31), (72.13, 0.79), (45.30, 0.86))


def test_table3_plan_covers_the_whole_table_whatever_is_asked():
    grid = [(d, m, p) for d in table3.DATASETS for m in ("re", "bo") for p in ("reference", "fixed")]
    done = {("cifar10", "re", "fixed"), ("imagenet16-120", "bo", "reference")}
    asked = [("cifar100", "bo", "fixed"), ("cifar100", "rl-supervised", "fixed")]  # one outside the grid
    got = table3.plan(asked, grid, lambda row: row in done, run=True)
    assert [r[:3] for r in got][:4] == grid[:4]  # table order: datasets first, then the grid's methods
    assert len(got) == len(grid) + 1 and ("cifar100", "rl-supervised", "fixed", "run") in got
    actions = {r[:3]: r[3] for r in got}
    assert actions[("cifar100", "bo", "fixed")] == "run"
    assert actions[("cifar10", "re", "fixed")] == actions[("imagenet16-120", "bo", "reference")] == "read"
    assert sum(a == "pending" for a in actions.values()) == len(grid) - 3
    # --finished-only: nothing runs, asked rows are read when finished, else pending
    got = table3.plan(asked, grid, lambda row: row in done, run=False)
    assert {r[3] for r in got} == {"read", "pending"}
    assert [r[:3] for r in got if r[3] == "read"] == [("cifar10", "re", "fixed"), ("imagenet16-120", "bo", "reference")]


def test_ablation_table_keeps_the_default_methods():
    assert ablation.table_methods(["bo"]) == ["rl", "bo"]
    assert ablation.table_methods(["rl-discrete", "rl"]) == ["rl", "bo", "rl-discrete"]


def _finished_only(script, name: str, tmp_path, monkeypatch) -> str:
    """Run `script --finished-only --methods bo` on an empty runs folder; returns its markdown table."""
    def refuse(*a, **k):
        raise AssertionError("--finished-only must not run anything")

    monkeypatch.setattr(script, "pretrained_embeddings", refuse)
    monkeypatch.setattr(script, "search", refuse)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--finished-only", "--methods", "bo",
                                      "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "out")])
    script.main()
    return (tmp_path / "out" / f"{name}.md").read_text()


def test_table3_finished_only_runs_and_pretrains_nothing(tmp_path, monkeypatch):
    md = _finished_only(table3, "table3", tmp_path, monkeypatch)
    pending = md.split("Not finished when this table was written: ")[1].split(".\n")[0].split(", ")
    grid = [(d, m, p) for d in table3.DATASETS for m in table3.DEFAULT_METHODS
            for p in table3.presets_of(m, ["reference", "fixed"])]
    assert len(pending) == len(grid) and "re-fixed-cifar10" in pending  # the whole table, not bo's rows alone


def test_ablation_finished_only_runs_and_pretrains_nothing(tmp_path, monkeypatch):
    md = _finished_only(ablation, "ablation", tmp_path, monkeypatch)
    pending = md.split("Not run yet: ")[1].split(".\n")[0].split(", ")
    assert len(pending) == len(ablation.variants("rl")) + len(ablation.variants("bo")) and "rl/fixed" in pending


def test_a_stopped_row_ends_the_script_with_one_line(capsys):
    """Ctrl-C / SIGTERM in a table script's row: exit 130 and the checkpoint's line, no traceback."""
    import _runs  # noqa: E402

    from a2v_jax.search.api import SearchInterrupted

    def stopped():
        raise SearchInterrupted("interrupted: 0 of 1 seed batches finished; checkpoint written to X")

    assert _runs.run_script(stopped) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint written to X" in err and "resumes it" in err
    assert _runs.run_script(lambda: None) == 0


def test_a_run_with_a_platform_block_size_is_reused_under_the_default(tmp_path):
    """A finished run saved with REINFORCE's old fixed block (4,096) is the same request as the
    per-platform default (None); an explicitly different block or another setting is not."""
    import dataclasses
    import json

    import _runs

    from a2v_jax.rundir import write_marker
    from a2v_jax.search.api import SearchSpec
    from a2v_jax.search.methods import make_config

    out = tmp_path / "rl-fixed-cifar10"
    out.mkdir()
    write_marker(out, "search", True)
    (out / "summary.json").write_text("{}")
    spec = SearchSpec(space="nb201", dataset="cifar10", method="rl", seeds=2, preset="fixed", out=out)
    config = json.loads(json.dumps(dataclasses.asdict(make_config("rl", "nb201", "fixed"))))

    def save(**changes):
        (out / "config.json").write_text(json.dumps({"spec": _runs._resolved(spec), "method_config": {**config, **changes}}))

    save(chunk=4096)
    assert _runs.finished_run(out, spec)
    assert not _runs.finished_run(out, dataclasses.replace(spec, overrides={"chunk": 512}))
    save(chunk=4096, lr=0.5)
    assert not _runs.finished_run(out, spec)


def test_pretrain_ablation_variants_statistics_and_table():
    import pretrain_ablation as pa  # noqa: E402

    from a2v_jax.pretrain.config import QUIRKS

    got = pa.variants("nb201")
    diffs = presets.quirk_differences(QUIRKS, "nb201")
    assert got[:2] == [("fixed", "fixed", {}), ("reference", "reference", {})] and len(diffs) == 4
    assert got[2:6] == [(f"fixed+{k}", "fixed", {k: ref}) for k, (ref, _) in diffs.items()]
    assert got[6:] == [(f"reference-{k}", "reference", {k: fix}) for k, (_, fix) in diffs.items()]
    assert [pa.baseline(v) for v, _, _ in got[:3]] + [pa.baseline(got[6][0])] == [None, "fixed", "fixed", "reference"]

    def member(v):
        return {key: v for _, key in pa.METRICS}

    results = {"fixed": {"switch": {}, "metrics": [member(0.5 + 0.01 * i) for i in range(5)]},
               "fixed+split": {"switch": {"split": "index"}, "metrics": [member(0.9 + 0.01 * i) for i in range(5)]},
               "fixed+reshuffle": {"switch": {"reshuffle": False}, "metrics": [member(0.5 + 0.01 * i) for i in range(5)]},
               "reference-split": {"switch": {"split": "random"}, "metrics": [member(0.1)] * 5}}
    table = pa.rows(results)
    base, split, same, orphan = table["acc"]
    assert "mannwhitney_p" not in orphan  # its baseline, reference, has not run
    assert "mannwhitney_p" not in base and base["mean"] == pytest.approx(52.0)
    # every seed of the variant above every seed of fixed: P = 1, the smallest exact p 2 / C(10, 5)
    assert split["p_improve"] == 1.0 and split["mannwhitney_p"] == pytest.approx(2 / 252)
    assert split["delta"] == pytest.approx(40.0) and split["mannwhitney_p_holm"] == pytest.approx(4 / 252)
    assert same["p_improve"] == 0.5 and same["mannwhitney_p"] == pytest.approx(1.0) and same["baseline"] == "fixed"
    text = pa.markdown("nb201", "arch2vec", table, {"fixed": 61.0}, ["reference"])
    assert "| fixed+split | split=index | 5 | 92.00 +- 1.58 | 90.00 .. 94.00 | fixed | +40.00 | 1.00 [1.00, 1.00] |" in text
    assert "| fixed | none | 5 |" in text and "61 s" in text and "Not run yet: reference." in text


def _finished_pretrain_batch(out: Path, accuracies: list[float]) -> None:
    """A batch run folder as `a2v_jax.pretrain` leaves it, reduced to what the tables read."""
    import json

    import pretrain_ablation as pa  # noqa: E402

    from a2v_jax.pretrain.run import BATCH_KIND
    from a2v_jax.rundir import write_marker

    labels = [f"seed-{i}" for i in range(len(accuracies))]
    for label, acc in zip(labels, accuracies, strict=True):
        (out / label).mkdir(parents=True)
        (out / label / "metrics.json").write_text(json.dumps({key: acc for _, key in pa.METRICS}))
    (out / "config.json").write_text(json.dumps({"members": labels}))
    (out / "summary.json").write_text("{}")
    write_marker(out, BATCH_KIND, True)


def test_pretrain_ablation_trains_only_the_variants_asked_for(tmp_path, monkeypatch, capsys):
    import pretrain_ablation as pa  # noqa: E402

    runs, results = tmp_path / "runs", tmp_path / "out"
    _finished_pretrain_batch(pa.run_dir(runs, "nb201", "gae", "fixed", 3), [0.1, 0.2, 0.3])
    _finished_pretrain_batch(pa.run_dir(runs, "nb201", "gae", "reference", 3), [0.7, 0.8, 0.9])
    trained = []
    monkeypatch.setattr(pa, "run", lambda config: trained.append(config.out))
    args = ["--model", "gae", "--seeds", "3", "--runs", str(runs), "--results", str(results), "--quiet"]
    # the one variant asked for is finished: it is read, the other finished one tabulated, nothing trained
    assert pa.main([*args, "--variants", "fixed"]) == 0 and trained == []
    md = (results / "pretrain_ablation_nb201_gae.md").read_text()
    assert "| reference | none | 3 | 80.00 +- 10.00 | 70.00 .. 90.00 | fixed | +60.00 |" in md
    assert "Not run yet: fixed+eval_after_first_epoch, fixed+split" in md
    with pytest.raises(SystemExit) as exc:
        pa.main([*args, "--variants", "fixed+bogus"])
    assert exc.value.code == 2 and trained == []
    assert "unknown variant(s) fixed+bogus for nb201; choose from fixed, reference," in capsys.readouterr().err


def test_embedding_seeds_table_from_runs_over_several_embeddings(tmp_path, monkeypatch, capsys):
    import embedding_seeds as es  # noqa: E402

    # arch2vec-RL on 3 embeddings: above RS on the first two (every seed), below it on the third
    shift = {"emb0": 1.0, "emb1": 0.5, "emb2": -1.0}
    seeds = np.linspace(0.0, 0.1, 20)

    def finals(runs, name, n, dataset, method, preset, embeddings):
        assert (embeddings is None) == (method == "rs") and n == 20
        return 94.0 + seeds + (shift[name.rsplit("-", 1)[1]] if embeddings is not None else 0.0)

    monkeypatch.setattr(es, "pretrained_batch", lambda out, seeds: ([Path(f"e{i}.npz") for i in range(seeds)], "cmd"))
    monkeypatch.setattr(es, "finals", finals)
    monkeypatch.setattr(sys, "argv", ["embedding_seeds.py", "--pretrain-seeds", "3", "--seeds", "20", "--presets", "fixed",
                                      "--baselines", "rs", "--runs", str(tmp_path / "runs"), "--results", str(tmp_path)])
    es.main()
    md = (tmp_path / "embedding_seeds.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| cifar10 | arch2vec-RL"))
    assert "| fixed | 3 x 20 | 95.05, 94.55, 93.05 | 94.22 [" in row
    assert f"| {np.std([95.05, 94.55, 93.05], ddof=1):.3f} |" in row
    pair = next(line for line in md.splitlines() if "| RS |" in line)
    assert "| 0.667 [" in pair and "| 1.000, 1.000, 0.000 | 2 / 1 / 0 |" in pair
    base = next(line for line in md.splitlines() if line.startswith("| cifar10 | RS"))
    assert f"| fixed | 20 | 94.05 +- {np.std(seeds):.2f} | [94.0" in base
    monkeypatch.setattr(sys, "argv", ["embedding_seeds.py", "--methods", "re"])
    with pytest.raises(SystemExit):
        es.main()
    assert "--methods: 're' searches no embeddings; give it in --baselines" in capsys.readouterr().err


def test_pretrain_ablation_with_a_setting_adds_a_fixed_variant():
    import pretrain_ablation as pa  # noqa: E402

    assert pa.parse_setting("dropout=0") == ("dropout", 0.0) and pa.parse_setting("batch_size=64") == ("batch_size", 64)
    assert pa.variants("nb201", {"dropout": 0.0})[-1] == ("fixed+dropout=0.0", "fixed", {"dropout": 0.0})
    assert pa.baseline("fixed+dropout=0.0") == "fixed"
    for bad, message in (("dropout", "NAME=VALUE"), ("nothing=1", "NAME=VALUE"), ("split=index", "is a quirk"),
                         ("space=darts", "numeric settings"), ("dropout=high", "dropout wants a float")):
        with pytest.raises(ValueError, match=message):
            pa.parse_setting(bad)


def test_bench_pretrain_training_target_grants_one_seed_overheads():
    import bench_pretrain

    all_in = {"cores": 2, "1": {"wall_seconds": 10.0, "train_seconds_per_seed": 6.0},
              "8": {"wall_seconds": 50.0}, "8-vmap": {"wall_seconds": 45.0}}
    t = bench_pretrain.training_target(all_in, seed_flops=1e12, peak_gflops=500.0, ratio=2.5)
    # 25 s allowed, 4 s of it start-up/compile/metrics/export: 8 TFLOP in 21 s
    assert t["members"] == 8 and t["one_seed_other_seconds"] == 4.0 and t["training_budget_seconds"] == 21.0
    assert t["needed_gflops"] == pytest.approx(8e12 / 21 / 1e9, abs=0.05)
    assert t["needed_share_of_peak"] == pytest.approx(0.76, abs=0.005)
    hopeless = bench_pretrain.training_target(all_in, seed_flops=1e12, peak_gflops=500.0, ratio=0.3)
    assert hopeless["needed_gflops"] == float("inf")
