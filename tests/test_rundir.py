"""Run folders declare their kind and are always one whole run."""

from __future__ import annotations

import json

import jax
import pytest

from a2v_jax.rundir import RunFolderError, Staging, partial_path, read_kind, read_marker


def _finish(out, kind, text, overwrite=False):
    st = Staging.open(out, kind, overwrite=overwrite)
    (st.path / "result.txt").write_text(text)
    return st.commit()


def test_commit_swaps_in_a_complete_run_and_marks_its_kind(tmp_path):
    out = tmp_path / "run"
    _finish(out, "search", "first")
    assert read_kind(out) == "search" and read_marker(out)["complete"] is True
    assert read_marker(out)["software"]["jax"] == jax.__version__  # what the last bits depend on
    assert not partial_path(out).exists()
    assert (out / "result.txt").read_text() == "first"


def test_overwrite_replaces_everything_and_an_interrupted_overwrite_keeps_the_old_run(tmp_path):
    out = tmp_path / "run"
    st = Staging.open(out, "search")
    (st.path / "old-plot.png").write_text("x")
    st.commit()
    with pytest.raises(RunFolderError, match="--overwrite"):
        Staging.open(out, "search")
    st = Staging.open(out, "search", overwrite=True)
    (st.path / "result.txt").write_text("new")
    # interrupted here: the old run is whole, the new one waits in .partial
    assert (out / "old-plot.png").exists() and not (out / "result.txt").exists()
    with pytest.raises(RunFolderError, match="--resume"):
        Staging.open(out, "search")
    resumed = Staging.open(out, "search", resume=True)
    assert resumed.resumed and (resumed.path / "result.txt").read_text() == "new"
    resumed.commit()
    assert sorted(p.name for p in out.iterdir()) == ["result.txt", "run.json"]


def test_a_run_never_replaces_another_kind_or_a_foreign_folder(tmp_path):
    pre = tmp_path / "pre"
    _finish(pre, "pretrain", "embeddings")
    with pytest.raises(RunFolderError, match="holds a pretraining run"):
        Staging.open(pre, "search", overwrite=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    with pytest.raises(RunFolderError, match="not a run folder"):
        Staging.open(foreign, "search", overwrite=True)
    assert (pre / "result.txt").read_text() == "embeddings" and (foreign / "config.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    _finish(empty, "search", "ok")
    assert read_kind(empty) == "search"


def test_resume_needs_something_to_resume_of_the_same_kind(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RunFolderError, match="nothing to resume"):
        Staging.open(out, "search", resume=True)
    _finish(out, "pretrain", "done")
    st = Staging.open(out, "pretrain", resume=True)  # a finished run continues from a copy
    assert (st.path / "result.txt").read_text() == "done" and (out / "result.txt").exists()
    with pytest.raises(RunFolderError, match="not a search run"):
        Staging.open(out, "search", resume=True)


def test_a_run_resumed_on_other_software_says_so_and_keeps_what_it_started_with(tmp_path, capsys):
    out = tmp_path / "run"
    Staging.open(out, "search")
    assert "note:" not in capsys.readouterr().err
    marker = read_marker(partial_path(out))
    older = {**marker["software"], "jax": "0.0.1"}
    (partial_path(out) / "run.json").write_text(json.dumps({**marker, "software": older}))
    st = Staging.open(out, "search", resume=True)
    err = capsys.readouterr().err
    assert f"jax 0.0.1 -> {jax.__version__}" in err and "not be bitwise" in err, err
    st.commit()
    done = read_marker(out)
    assert done["started_with"] == older and done["software"]["jax"] == jax.__version__
    Staging.open(out, "search", resume=True).commit()  # resumed again: still the first stack
    assert read_marker(out)["started_with"] == older
    assert capsys.readouterr().err.count("note:") == 1
