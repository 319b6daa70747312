"""NAS-Bench-201 tables from the three public files: every known value of shared/data/README.md,
the roles, the cache, download (local http server and file://) and every kind of bad input."""

from __future__ import annotations

import functools
import http.server
import json
import pickle
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from a2v_jax._io import CorruptFileError
from a2v_jax.data import (
    BenchmarkNotAvailable,
    UnknownNameError,
    build_nb201,
    dataset_name,
    load_benchmark,
)
from a2v_jax.data import __main__ as cli
from a2v_jax.data.nb201 import SOURCES, SourceError, build_tables, download_sources, read_sources, sha256_of
from a2v_jax.data.safe_pickle import UnsafePickleError, load_pickle

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@pytest.fixture
def nb201_dir(data_file):
    for s in SOURCES:
        data_file(f"nb201/{s.name}")
    return data_file("nb201/metric_vals.pkl").parent


@pytest.fixture
def tables(nb201_dir):
    return build_tables(nb201_dir)


@pytest.fixture
def copies(nb201_dir, tmp_path):
    """Writable copies of the three files."""
    d = tmp_path / "src"
    d.mkdir()
    for s in SOURCES:
        shutil.copy(nb201_dir / s.name, d / s.name)
    return d


def test_known_values(tables):
    c10, c100, im = tables["cifar10"], tables["cifar100"], tables["ImageNet16-120"]
    # cifar10-valid x-valid best 91.6067 (6111); cifar10 test best 94.3733 (6111)
    assert c10.oracle()["best_valid"] == pytest.approx(0.916067, abs=5e-7) and c10.oracle()["best_valid_index"] == 6111
    assert c10.oracle()["best_test"] == pytest.approx(0.943733, abs=5e-7) and c10.oracle()["best_test_index"] == 6111
    # cifar100 x-valid best 73.4933 (9930); x-test best 73.5133 (9930)
    assert c100.oracle()["best_valid"] == pytest.approx(0.734933, abs=5e-7) and c100.oracle()["best_valid_index"] == 9930
    assert c100.oracle()["best_test"] == pytest.approx(0.735133, abs=5e-7) and c100.oracle()["best_test_index"] == 9930
    # ImageNet16-120 x-valid best 46.7333 (10676); x-test best 47.3111 (857)
    assert im.oracle()["best_valid"] == pytest.approx(0.467333, abs=5e-7) and im.oracle()["best_valid_index"] == 10676
    assert im.oracle()["best_test"] == pytest.approx(0.473111, abs=5e-7) and im.oracle()["best_test_index"] == 857
    # architecture 0
    for t in tables.values():
        assert t.columns["cellstr"][0] == ARCH0 and len(t) == 15625
    assert c100.valid[0] == pytest.approx(0.5270, abs=5e-7)
    assert im.valid[0] == pytest.approx(0.282111, abs=5e-7)
    # best 12-epoch cifar10-valid accuracy: 84.892 (13714), the CIFAR-10 reward
    assert c10.oracle()["best_reward"] == pytest.approx(0.84892, abs=5e-7) and c10.oracle()["best_reward_index"] == 13714
    assert np.argmax(c10.columns["valid_12ep"]) == 13714


def test_roles_units_and_the_12_epoch_time_approximation(tables, nb201_dir):
    c10 = tables["cifar10"]
    assert c10.metadata["roles"] == {"reward": "valid_12ep", "valid": "valid_200ep", "test": "test_200ep",
                                     "time": "time_12ep_approx"}
    np.testing.assert_array_equal(c10.time, c10.columns["time_200ep"] * 12 / 200)
    assert "APPROXIMATE" in c10.metadata["role_notes"] and "time_12ep_approx" in c10.metadata["approximations"]
    for ds in ("cifar100", "ImageNet16-120"):
        t = tables[ds]
        assert t.metadata["roles"] == {"reward": "valid_200ep", "valid": "valid_200ep", "test": "test_200ep",
                                       "time": "time_200ep"}
        np.testing.assert_array_equal(t.reward, t.valid)
        # x-valid and x-test average to the ori-test mean (equal halves)
        np.testing.assert_allclose((t.valid + t.test) / 2, t.columns["ori_test_200ep"], atol=1e-12)
        assert "published_code" in t.metadata
    metric = load_pickle(nb201_dir / "metric_vals.pkl")
    for ds, key in (("cifar10", "cifar10"), ("cifar100", "cifar100"), ("ImageNet16-120", "imagenet")):
        t = tables[ds]
        assert t.columns["seeds"].sum() == metric[key]["loss"].shape[0] == 39419
        assert t.columns["time_200ep"][0] == metric[key]["runtime"][0]
        assert t.units["time"] == "seconds" and t.units["valid"] == "fraction" and t.units["reward"] == "fraction"
        assert all(0 <= v <= 1 for v in (t.valid.min(), t.valid.max(), t.test.min(), t.test.max()))
        assert {s["name"]: s["sha256"] for s in t.metadata["sources"]} == {s.name: s.sha256 for s in SOURCES}
    seeds = tables["cifar10"].columns["valid_200ep_seeds"]
    np.testing.assert_allclose(np.nanmean(seeds, axis=1), tables["cifar10"].valid, atol=1e-12)
    mini = load_pickle(nb201_dir / "mini-bench-arch-cell-accs.pd")
    np.testing.assert_array_equal(tables["cifar100"].columns["valid_12ep"], mini["cifar100-val"].to_numpy() / 100)


def test_load_benchmark_builds_then_reads_the_cache(nb201_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("A2V_DATA", str(nb201_dir.parent))
    b = load_benchmark("nb201", "imagenet", cache=tmp_path)
    assert b.dataset == "ImageNet16-120" and b.oracle()["best_test_index"] == 857
    files = sorted(p.name for p in (tmp_path / "benchmarks").iterdir())
    assert files == ["nb201-ImageNet16-120.npz", "nb201-cifar10.npz", "nb201-cifar100.npz"]
    monkeypatch.setenv("A2V_DATA", str(tmp_path / "nowhere"))  # now only the cache can serve it
    again = load_benchmark("nb201", "CIFAR-100", cache=tmp_path)
    assert again.oracle()["best_valid_index"] == 9930
    np.testing.assert_array_equal(again.columns["cellstr"], b.columns["cellstr"])
    assert again.units == b.units and "stored_as_alias" not in again.metadata


def test_missing_sources_say_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("A2V_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(BenchmarkNotAvailable, match="python -m a2v_jax.data download nb201"):
        load_benchmark("nb201", "cifar10", cache=tmp_path / "cache")


def test_dataset_names():
    assert dataset_name("nb201", "ImageNet") == "ImageNet16-120"
    assert dataset_name("NB201", "imagenet16-120") == "ImageNet16-120"
    assert dataset_name("nb201", "CIFAR-100") == "cifar100"
    assert dataset_name("nb201", "cifar10-valid") == "cifar10"
    with pytest.raises(UnknownNameError, match="choose one of cifar10, cifar100, ImageNet16-120"):
        dataset_name("nb201", "mnist")
    with pytest.raises(UnknownNameError, match="spaces with tables: nb101, nb201"):
        dataset_name("darts", "cifar10")


def _no_tables(cache: Path) -> bool:
    return not (cache / "benchmarks").exists() or not any((cache / "benchmarks").iterdir())


def test_sha256_mismatch_fails_and_writes_nothing(copies, tmp_path):
    with open(copies / "nats_bench.csv", "a") as f:
        f.write("\n")
    with pytest.raises(SourceError, match=r"nats_bench.csv: sha256 .* does not match"):
        build_nb201(copies, tmp_path / "cache")
    assert _no_tables(tmp_path / "cache")


def test_truncated_pickle_names_the_file(copies, tmp_path):
    p = copies / "metric_vals.pkl"
    p.write_bytes(p.read_bytes()[:100_000])
    with pytest.raises(CorruptFileError, match="metric_vals.pkl: not a readable pickle"):
        build_nb201(copies, tmp_path / "cache", verify=False)
    assert _no_tables(tmp_path / "cache")


def test_wrong_file_type_names_the_file(copies, tmp_path, nb201_dir):
    shutil.copy(copies / "nats_bench.csv", copies / "mini-bench-arch-cell-accs.pd")
    with pytest.raises(CorruptFileError, match="mini-bench-arch-cell-accs.pd: not a pickle file"):
        build_nb201(copies, tmp_path / "cache", verify=False)
    shutil.copy(nb201_dir / "mini-bench-arch-cell-accs.pd", copies / "mini-bench-arch-cell-accs.pd")
    (copies / "metric_vals.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(SourceError, match="metric_vals.pkl: holds a list"):
        read_sources(copies, verify=False)
    assert _no_tables(tmp_path / "cache")


def test_missing_column_names_file_and_column(copies, tmp_path):
    df = pd.read_csv(copies / "nats_bench.csv")
    df.drop(columns=["CIFAR100TestAccuracy200Epochs"]).to_csv(copies / "nats_bench.csv", index=False)
    with pytest.raises(SourceError, match=r"nats_bench.csv: missing columns \['CIFAR100TestAccuracy200Epochs'\]"):
        build_nb201(copies, tmp_path / "cache", verify=False)
    assert _no_tables(tmp_path / "cache")


def test_misaligned_files_are_caught(copies):
    df = pd.read_csv(copies / "nats_bench.csv")
    df.iloc[::-1].to_csv(copies / "nats_bench.csv", index=False)
    with pytest.raises(SourceError, match="not in the same order"):
        read_sources(copies, verify=False)


def test_pickles_cannot_run_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"cifar10": Payload()}))
    with pytest.raises(UnsafePickleError, match="refuses to load shutil.rmtree"):
        load_pickle(p)
    assert (tmp_path / "victim").exists()


# -- download --------------------------------------------------------------------------------------


@pytest.fixture
def http_base(request):
    """Serve a folder on 127.0.0.1 (an ephemeral port) for the duration of a test."""
    servers = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for s in servers:
        s.shutdown()
        s.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_over_http_then_build(nb201_dir, tmp_path, http_base, capsys):
    base = http_base(nb201_dir)
    dest, cache = tmp_path / "dest", tmp_path / "cache"
    code = cli.main(["--cache", str(cache), "download", "nb201", "--dest", str(dest), "--url-base", base, "--quiet"])
    assert code == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(s.name for s in SOURCES)
    for s in SOURCES:
        assert sha256_of(dest / s.name) == s.sha256
    assert sorted(p.name for p in (cache / "benchmarks").iterdir()) == [
        "nb201-ImageNet16-120.npz", "nb201-cifar10.npz", "nb201-cifar100.npz"]
    capsys.readouterr()
    assert cli.main(["--cache", str(cache), "info", "nb201", "--dataset", "cifar10", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 15625 and info["best_valid_index"] == 6111 and info["best_test_index"] == 6111
    assert info["best_valid"] == pytest.approx(0.916067, abs=5e-7)
    assert info["best_test"] == pytest.approx(0.943733, abs=5e-7)


def test_download_from_a_file_url(nb201_dir, tmp_path):
    files = download_sources(tmp_path / "dest", url_base=nb201_dir.resolve().as_uri(), progress=False)
    assert all(sha256_of(p) == SOURCE.sha256 for SOURCE, p in zip(SOURCES, files.values(), strict=True))


def test_download_from_a_local_folder_through_the_cli(nb201_dir, tmp_path):
    dest, cache = tmp_path / "dest", tmp_path / "cache"
    args = ["--cache", str(cache), "download", "nb201", "--dest", str(dest), "--source", str(nb201_dir), "--quiet"]
    assert cli.main(args) == 0
    assert all(sha256_of(dest / s.name) == s.sha256 for s in SOURCES)
    assert len(list((cache / "benchmarks").iterdir())) == 3
    assert cli.main([*args, "--no-build"]) == 0  # files already there and right: nothing fetched again


def test_download_sha_mismatch_leaves_nothing(copies, tmp_path, http_base):
    p = copies / "metric_vals.pkl"
    raw = bytearray(p.read_bytes())
    raw[1000] ^= 1
    p.write_bytes(bytes(raw))
    dest = tmp_path / "dest"
    with pytest.raises(SourceError, match=r"metric_vals.pkl: sha256 .* does not match.*nothing was kept"):
        download_sources(dest, url_base=http_base(copies), progress=False)
    assert list(dest.iterdir()) == []  # neither the bad file, nor the good ones, nor the staging folder


def test_download_failure_is_clear(tmp_path, http_base, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    dest = tmp_path / "dest"
    code = cli.main(["download", "nb201", "--dest", str(dest), "--url-base", http_base(empty), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "mini-bench-arch-cell-accs.pd: download failed" in err and "404" in err
    assert list(dest.iterdir()) == []


def test_default_urls_point_at_fixed_commits():
    for s in SOURCES:
        assert s.url.startswith(f"https://raw.githubusercontent.com/{s.repo}/{s.commit}/")
        assert len(s.commit) == 40 and len(s.sha256) == 64


def test_cli_help_and_name_errors(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0 and "download nb201" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["info", "nb201", "--dataset", "mnist"])
    assert "choose one of cifar10, cifar100, ImageNet16-120" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["download", "nb101"])
    assert "build nb101 --tfrecord" in capsys.readouterr().err


def test_rows_line_up_with_the_nb201_space(tables, nb201_dir, monkeypatch):
    from a2v_jax.spaces import get_space

    space = get_space("nb201")
    cells = space.load()
    np.testing.assert_array_equal(tables["cifar10"].columns["cellstr"], space.arch_strings(cells))
    assert "checked" in tables["cifar10"].metadata["row_order"]
    archs = space.arch_strings(cells)
    swapped = archs[:5] + [archs[6], archs[5]] + archs[7:]
    monkeypatch.setattr(type(space), "arch_strings", lambda self, c: swapped)
    with pytest.raises(SourceError, match="row 5 is .* but cell 5 of the NB201 space"):
        build_tables(nb201_dir)
