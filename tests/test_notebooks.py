"""The notebooks in notebooks/ run top to bottom, with the tiny settings they pick when
A2V_NOTEBOOK_SMOKE=1 (1 pretraining epoch, 8 search seeds, a 2,000-cell t-SNE; the latent-space
analyses on 2 GP seeds, a 200-cell walk and a 1,000-cell map).

With the `notebooks` extra installed (nbclient and a Jupyter kernel) each notebook runs in a
kernel as Jupyter runs it, and its figures must come back as images; otherwise (CI installs only
`.[dev]`) its code cells are executed in order in one fresh namespace. A2V_NOTEBOOK_RUNNER=exec
or =kernel picks one. Either way the setup cell must not run pip (a2v_jax imports), and
the notebooks are stored without outputs so that their diffs stay small.

The setup cell is the same in every notebook and needs no editing: from a checkout, a wheel the
project builds (checked here: it installs and carries its data), or A2V_INSTALL; otherwise one
line says what to do.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.host_devices import XLA_COUNT_FLAG, accelerator_expected, cores, planned_count
from a2v_jax.search.report import load_run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("quickstart", "accelerators", "latent_space")  # in this order: the others re-use quickstart's embeddings
NB201_FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")
SMOKE_SEEDS = 8


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())


def code_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def kernel_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("nbclient", "nbformat", "ipykernel"))


def runner() -> str:
    choice = os.environ.get("A2V_NOTEBOOK_RUNNER", "").lower()
    if choice in ("exec", "kernel"):
        return choice
    return "kernel" if kernel_available() else "exec"


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_and_plain_python(name):
    nb = load(name)
    assert nb["nbformat"] == 4
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{name}: clear the outputs before committing"
            # no IPython magics or shell escapes: the cells are plain Python, runnable without Jupyter
            for line in "".join(cell["source"]).splitlines():
                assert not line.lstrip().startswith(("%", "!")), f"{name}: {line!r}"
    assert code_cells(nb)[0].startswith("# Setup: make `a2v_jax` importable"), f"{name}: the first code cell is the setup cell"


def test_one_setup_cell_without_placeholders():
    cells = {name: code_cells(load(name))[0] for name in NAMES}
    assert len(set(cells.values())) == 1, "the notebooks' setup cells differ"
    setup = cells[NAMES[0]]
    assert "<owner>" not in setup and "PLACEHOLDER" not in setup.upper()


def test_accelerators_notebook_asks_for_a_tpu():
    nb = load("accelerators")
    assert nb["metadata"]["accelerator"] == "TPU" and nb["metadata"]["colab"]["gpuType"]
    source = "\n".join(code_cells(nb))
    assert "jax.default_backend()" in source and "devices=n_dev" in source and '"bo"' in source
    for word in ('"tpu"', '"gpu"', "'tpu'", "'gpu'"):  # the code asks JAX; it never assumes a platform
        assert word not in source


def _is_pip(args: tuple, kwargs: dict) -> bool:
    cmd = args[0] if args else kwargs.get("args", "")
    words = cmd.split() if isinstance(cmd, str) else [str(w) for w in cmd]
    return any(Path(w).name.startswith("pip") for w in words)


class _NoPip:
    """Wraps a subprocess function: a notebook under test must not start pip (libraries may
    start other helpers, e.g. joblib asks lscpu for the core count)."""

    def __init__(self, real, calls: list) -> None:
        self.real, self.calls = real, calls

    def __call__(self, *args, **kwargs):
        if _is_pip(args, kwargs):
            self.calls.append(args)
            raise AssertionError(f"the notebook ran pip: {args!r}")
        return self.real(*args, **kwargs)


def _block_pip(monkeypatch) -> list:
    calls: list = []
    for fn in ("check_call", "check_output", "run", "call"):
        monkeypatch.setattr(subprocess, fn, _NoPip(getattr(subprocess, fn), calls))
    return calls


@pytest.mark.parametrize("name", NAMES)
def test_setup_cell_installs_only_when_needed(name, monkeypatch, tmp_path):
    """Importable: nothing runs. Not importable, in a checkout: `pip install -e <checkout>[notebooks]`.
    Elsewhere: the newest wheel in the folder, else A2V_INSTALL, else one clear line and nothing installed."""
    setup = code_cells(load(name))[0]
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell may prepend the checkout
    pip_calls = _block_pip(monkeypatch)
    ns: dict = {}
    exec(compile(setup, f"<{name} setup cell>", "exec"), ns)
    assert pip_calls == []
    assert Path(ns["a2v_jax"].__file__).parent == ROOT / "a2v_jax"

    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "a2v_jax" else real_find_spec(n, *a))
    monkeypatch.chdir(ROOT / "notebooks")
    exec(compile(setup, f"<{name} setup cell>", "exec"), {})
    assert len(calls) == 1 and calls[0][1:] == ["-m", "pip", "install", "-q", "-e", f"{ROOT}[notebooks]"]

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("A2V_INSTALL", raising=False)
    with pytest.raises(RuntimeError, match=r"wheel a2v_jax-\*\.whl .*pip wheel --no-deps -w dist \."):
        exec(compile(setup, f"<{name} setup cell>", "exec"), {})
    assert len(calls) == 1

    url = "git+https://example.org/a2v_jax.git"
    monkeypatch.setenv("A2V_INSTALL", url)
    exec(compile(setup, f"<{name} setup cell>", "exec"), {})
    assert len(calls) == 2 and calls[1][1:] == ["-m", "pip", "install", "-q", url, "scikit-learn"]

    (tmp_path / "dist").mkdir()
    old, new = tmp_path / "a2v_jax-0.0.9-py3-none-any.whl", tmp_path / "dist" / "a2v_jax-0.1.0-py3-none-any.whl"
    old.write_bytes(b"")
    new.write_bytes(b"")
    os.utime(old, (1, 1))  # the newest wheel wins, and a wheel comes before A2V_INSTALL
    exec(compile(setup, f"<{name} setup cell>", "exec"), {})
    assert len(calls) == 3 and calls[2][1:] == ["-m", "pip", "install", "-q", str(new), "scikit-learn"]


def test_the_wheel_the_setup_cell_installs_is_complete(tmp_path):
    """`pip wheel --no-deps -w dist .` (what the setup cell's message says) builds a wheel that, installed
    alone, imports from outside the checkout with its package data (the embedded NB201 order)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "a2v_jax", src / "a2v_jax", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode != 0 and "setuptools" in build.stderr and "No matching distribution" in build.stderr:
        pytest.skip(f"pip cannot fetch the build backend here: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("a2v_jax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {str(p.relative_to(ROOT)) for p in (ROOT / "a2v_jax").rglob("*.py")}
    assert packaged <= names, sorted(packaged - names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    check = ("import a2v_jax, pathlib; from a2v_jax.spaces.nb201_order import official_codes; "
             "assert len(official_codes()) == 15625; print(pathlib.Path(a2v_jax.__file__).parent)")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(site / "a2v_jax")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One working folder for both notebooks, as when they are run side by side."""
    return tmp_path_factory.mktemp("notebooks")


def _run_exec(name: str, monkeypatch) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    pip_calls = _block_pip(monkeypatch)
    # this process keeps one CPU device whichever test starts JAX first: the notebook's
    # host_devices.claim() then leaves JAX as it is (a kernel of its own gets one device a core)
    flags = os.environ.get("XLA_FLAGS", "")
    if XLA_COUNT_FLAG not in flags:
        monkeypatch.setenv("XLA_FLAGS", f"{flags} {XLA_COUNT_FLAG}=1".strip())
    ns: dict = {"__name__": "__main__"}
    try:
        for i, source in enumerate(code_cells(load(name))):
            exec(compile(source, f"<{name}.ipynb code cell {i}>", "exec"), ns)
    finally:
        plt.close("all")
    assert pip_calls == []
    assert matplotlib.get_backend() == backend


def _run_kernel(name: str, monkeypatch, workdir: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    nb = nbformat.reads((NOTEBOOKS / f"{name}.ipynb").read_text(), as_version=4)
    guard = nbformat.v4.new_code_cell(  # the same guard as in exec mode, inside the kernel
        "import subprocess, pathlib\n"
        "def _guard(real):\n"
        "    def call(*args, **kwargs):\n"
        "        cmd = args[0] if args else kwargs.get('args', '')\n"
        "        words = cmd.split() if isinstance(cmd, str) else [str(w) for w in cmd]\n"
        "        if any(pathlib.Path(w).name.startswith('pip') for w in words):\n"
        "            raise AssertionError(f'the notebook ran pip: {args!r}')\n"
        "        return real(*args, **kwargs)\n"
        "    return call\n"
        "for _name in ('check_call', 'check_output', 'run', 'call'):\n"
        "    setattr(subprocess, _name, _guard(getattr(subprocess, _name)))\n"
    )
    nb.cells.insert(0, guard)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    cells = [c for c in nb.cells[1:] if c.cell_type == "code"]
    setup_out = "".join(o.get("text", "") for o in cells[0].outputs)
    assert f"from {ROOT / 'a2v_jax'}" in setup_out
    images = [c for c in cells if any("image/png" in o.get("data", {}) for o in c.outputs)]
    expected = {"quickstart": 2, "accelerators": 2, "latent_space": 4}[name]  # t-SNE and comparison / speed-up and comparison / one per analysis
    assert len(images) == expected, f"{name}: {len(images)} cells showed a figure, expected {expected}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, workdir, data_file, monkeypatch):
    for f in NB201_FILES:
        data_file(f)
    monkeypatch.setenv("A2V_NOTEBOOK_SMOKE", "1")
    monkeypatch.chdir(workdir)
    if runner() == "kernel":
        _run_kernel(name, monkeypatch, workdir)
    else:
        _run_exec(name, monkeypatch)

    runs = workdir / "runs"
    assert (runs / "quickstart" / "pretrain" / "embeddings.npz").is_file()
    if name == "latent_space":
        for analysis in ("predictive", "smoothness", "map", "walk"):
            data = json.loads((runs / "latent_space" / f"{analysis}.json").read_text())
            assert list(data["encodings"]) == ["arch2vec", "onehot", "random"]
            assert (runs / "latent_space" / f"{analysis}.png").is_file()
        assert json.loads((runs / "latent_space" / "predictive.json").read_text())["seeds"] == 2, "no smoke settings"
        return
    # a fresh kernel gives JAX one CPU device a core (host_devices.claim); this process has one
    planned = planned_count(os.environ.get("XLA_FLAGS", ""), -1, cores(), accelerator_expected(os.environ.get("JAX_PLATFORMS")))
    n_dev = (planned or 1) if runner() == "kernel" else 1
    folders = {
        "quickstart": [runs / "quickstart" / m for m in ("rl", "rs", "re")],
        "accelerators": [runs / "accelerators" / m for m in ("rl", "bo", "rs", "re")]
        + [runs / "accelerators" / f"{m}-mesh{n_dev}" for m in ("rl", "bo", "rs", "re")],
    }[name]
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        smoke_seeds = SMOKE_SEEDS // 2 if folder.name.startswith("bo") else SMOKE_SEEDS
        assert summary["seeds"] == smoke_seeds, "the notebook did not pick its smoke settings"
        assert summary["space"] == "nb201" and summary["dataset"] == "cifar10"
        assert 0.0 <= summary["final_test_regret_mean"] < 0.1
        assert (folder / "regret_vs_time.png").is_file()
    if name == "accelerators":  # the sharded runs: on every device, each seed's trace as on one
        for m in ("rl", "bo", "rs", "re"):
            single, sharded = (load_run(runs / "accelerators" / f) for f in (m, f"{m}-mesh{n_dev}"))
            assert sharded[0]["devices"] == n_dev
            for key in single[1]:
                assert np.array_equal(single[1][key], sharded[1][key], equal_nan=True), (m, key)
