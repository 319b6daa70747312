"""`benchmarks/device_check.py --tiny` runs every part on a CPU and writes a complete JSON and table
(the full check is the same code with larger settings, meant for an accelerator)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]
NB201_FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")


def _load_script():
    spec = importlib.util.spec_from_file_location("device_check", ROOT / "benchmarks" / "device_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_tiny_device_check_writes_every_part(tmp_path, data_file, capsys):
    for f in NB201_FILES:
        data_file(f)
    script = _load_script()
    assert script.main(["--tiny", "--out-dir", str(tmp_path)]) == 0
    platform = jax.default_backend()
    report = json.loads((tmp_path / f"device-{platform}-tiny.json").read_text())
    table = (tmp_path / f"device-{platform}-tiny.md").read_text()
    assert report["tiny"] and report["platform"] == platform and report["device_count"] == jax.device_count()
    assert report["finished"] is True and "had not finished" not in table
    assert f"Written by `python benchmarks/device_check.py --tiny --out-dir {tmp_path}`" in table
    assert not (tmp_path / f"device-{platform}.json").exists()  # a smoke run never replaces real figures

    parts = report["parts"]
    assert set(parts) == {"pretrain", "search", "nb101", "devices"}
    (one, *k_seeds) = parts["pretrain"]
    assert one["run"] == "one seed" and one["epochs"] == 1 and one["steps"] > 0 and one["steps_per_s"] > 0
    assert one["all_in_s"] >= one["train_s"] > 0
    if not k_seeds:  # the pretraining API of this checkout takes no number of seeds: said so
        assert any("vmapped pretraining seeds: skipped" in n for n in report["notes"])

    tiny = script.TINY
    got = {(r["method"], r["seeds"]) for r in parts["search"]}
    assert got == {(m, s) for m in ("rl", "bo") for s in tiny.search_seeds}
    for r in parts["search"] + parts["nb101"] + parts["devices"]:
        assert r["compile_s"] > 0 and r["run_s"] > 0 and r["queries_per_seed"] >= 1
        assert abs(r["seeds_per_s"] - r["seeds"] / r["run_s"]) < 1e-6 * r["seeds_per_s"]
        assert 0.5 < r["final_test_mean"] < 1.0
    assert {r["scan_block"] for r in parts["nb101"]} == set(tiny.nb101_chunks)
    assert all(r["cells"] == 423_624 and r["queries_per_seed"] == tiny.nb101_queries for r in parts["nb101"])
    assert parts["devices"][0]["devices"] == 1 and parts["devices"][0]["speed_up"] == 1.0

    for title in ("## Pretraining", "## Search, NB201 CIFAR-10", "## REINFORCE on an NB101-sized space",
                  "## Seeds/s against the number of devices"):
        assert title in table
    assert "tiny settings" in table and "| rl | fixed | 1 |" in table
    assert "wrote" in capsys.readouterr().out


def test_budget_skips_sizes_that_would_not_fit(tmp_path):
    """A size predicted to overrun the time left is skipped with a note, not started; every row is
    on disk as soon as it is measured (a check killed by a time limit keeps what it measured)."""
    script = _load_script()
    report = script.Report(tiny=True, out_dir=tmp_path, settings=script.TINY)
    clock = script.Clock(minutes=1.0)
    calls = []

    def fake(seeds):
        calls.append(seeds)
        return {"seeds": seeds, "compile_s": 1.0, "run_s": 10.0 * seeds}

    script.sweep(report, "search", {"method": "rl"}, (1, 5, 500), clock, fake)
    assert calls == [1, 5]  # 500 seeds would take about 5,000 s
    assert any("500 seeds skipped" in n for n in report.data["notes"])
    written = json.loads((tmp_path / f"device-{report.data['platform']}-tiny.json").read_text())
    assert written["finished"] is False and [r["seeds"] for r in written["parts"]["search"]] == [1, 5]
    assert "so far (the check had not finished)" in (tmp_path / f"device-{report.data['platform']}-tiny.md").read_text()


def test_a_probe_size_shows_how_the_run_time_grows(tmp_path):
    """From one size the guess is proportional to seeds; when the target does not fit by it, a probe
    in between is run, and a run time flat in seeds (a batched run on an accelerator) then lets the
    target run, while one growing with seeds still skips it."""
    script = _load_script()
    for flat, expected in ((True, [1, 22, 500]), (False, [1])):
        report = script.Report(tiny=True, out_dir=tmp_path, settings=script.TINY)
        calls = []

        def fake(seeds, flat=flat, calls=calls):
            calls.append(seeds)
            return {"seeds": seeds, "compile_s": 1.0, "run_s": 1.0 if flat else 10.0 * seeds}

        script.sweep(report, "search", {"method": "bo"}, (1, 500), script.Clock(minutes=1.0), fake)
        assert calls == expected
        assert any("500 seeds skipped" in n for n in report.data["notes"]) is (not flat)
