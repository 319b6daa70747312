"""Run folders: each declares its kind, and is always one whole run.

A command that writes a run (pretraining, search, analysis) never writes into its `--out` folder
directly. It writes into a sibling staging folder, `<out>.partial`, and only when the run is
complete swaps that folder in for `<out>` (two renames on one filesystem). So:

- `<out>` is either absent or one complete run: an interrupted `--overwrite` leaves the old run
  whole, and no file of an old run (embeddings, plots) survives beside a new one;
- an interrupted run leaves `<out>.partial` with its checkpoint; `--resume` continues there;
- every run folder holds `run.json` naming its kind, and a run of one kind never replaces a folder
  of another kind, nor a folder that is not a run folder at all, even with `--overwrite`.

`run.json` also records the JAX and jaxlib versions and the machine's architecture: runs are
bitwise repeatable on one software stack, but XLA's code generation changes between releases and
CPUs, and with it the last bits (which training and searching can amplify). A run resumed on
another stack says so on stderr and keeps the stack it started with as `started_with`.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jaxlib

from . import __version__
from ._io import write_json

MARKER = "run.json"
FORMAT = 1
KIND_TITLES = {
    "pretrain": "pretraining run",
    "pretrain-batch": "batch of pretraining runs",
    "search": "search run",
    "analysis": "latent-space analysis",
}


class RunFolderError(RuntimeError):
    """A run folder cannot be used as asked (wrong kind, already there, nothing to resume)."""


def _title(kind: str | None) -> str:
    return KIND_TITLES.get(kind or "", f"{kind} run")


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The run.json of `folder`, or None when it has none (or an unreadable one)."""
    path = Path(folder) / MARKER
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "kind" in data else None


def read_kind(folder: str | Path) -> str | None:
    marker = read_marker(folder)
    return None if marker is None else str(marker["kind"])


def software() -> dict[str, str]:
    """What the last bits of a run depend on besides its config: the JAX / jaxlib release and the
    machine's architecture (not the backend: asking for it would start JAX before XLA_FLAGS are read)."""
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "python": platform.python_version(),
            "machine": platform.machine()}


def write_marker(folder: str | Path, kind: str, complete: bool, **extra: Any) -> Path:
    info = {"kind": kind, "format": FORMAT, "complete": bool(complete), "a2v_jax": __version__,
            "software": software(), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    return write_json(Path(folder) / MARKER, info)


def partial_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _occupied(folder: Path) -> bool:
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def _check_replaceable(out: Path, kind: str, overwrite: bool) -> None:
    if not _occupied(out):
        return
    if not out.is_dir():
        raise RunFolderError(f"{out} is a file, not a folder; choose another --out")
    found = read_kind(out)
    if found is None:
        names = sorted(p.name for p in out.iterdir())[:5]
        raise RunFolderError(
            f"{out} is not empty and is not a run folder (it holds {', '.join(names)}"
            f"{', ...' if len(names) == 5 else ''}); choose another --out"
        )
    if found != kind:
        raise RunFolderError(f"{out} holds a {_title(found)}; a {_title(kind)} cannot replace it: choose another --out")
    if not overwrite:
        raise RunFolderError(f"{out} already holds a {_title(kind)}; use --overwrite to replace it, or another --out")


def _first_software(folder: Path) -> dict[str, Any] | None:
    """The software `folder`'s run started with, when it is not this process's (told on stderr)."""
    marker = read_marker(folder) or {}
    first = marker.get("started_with") or marker.get("software")
    if not isinstance(first, dict) or first == software():
        return None
    now = software()
    changed = ", ".join(f"{k} {first.get(k)} -> {now[k]}" for k in now if first.get(k) != now[k])
    print(f"note: {folder} was started on other software ({changed}); the resumed run will not be bitwise "
          "the uninterrupted one", file=sys.stderr)
    return first


class Staging:
    """Where a run is written until it is complete (`path`), then swapped in for `out` (`commit`)."""

    def __init__(self, out: Path, kind: str, resumed: bool, started_with: dict[str, Any] | None = None) -> None:
        self.out, self.kind, self.resumed = out, kind, resumed
        self.path = partial_path(out)
        self.started_with = started_with  # the software of the first segment, when it differs from this one

    @classmethod
    def check(cls, out: str | Path, kind: str, *, overwrite: bool = False, resume: bool = False) -> None:
        """Raise RunFolderError if `open` would refuse, without touching anything."""
        out = Path(out)
        part = partial_path(out)
        if resume:
            if part.exists():
                if read_kind(part) != kind:
                    raise RunFolderError(f"{part} holds a {_title(read_kind(part))}, not a {_title(kind)}; nothing to resume")
            elif read_kind(out) != kind:
                raise RunFolderError(f"nothing to resume: neither {part} nor a {_title(kind)} in {out} exists")
            return
        if part.exists():
            if not overwrite:
                raise RunFolderError(
                    f"an interrupted run is waiting in {part}: use --resume to continue it, "
                    "or --overwrite to discard it and start afresh"
                )
            if read_kind(part) not in (kind, None):
                raise RunFolderError(f"{part} holds a {_title(read_kind(part))}; remove it by hand")
        _check_replaceable(out, kind, overwrite)

    @classmethod
    def open(cls, out: str | Path, kind: str, *, overwrite: bool = False, resume: bool = False) -> Staging:
        """Check `out` can take a run of `kind` and prepare the staging folder.

        resume: continue `<out>.partial` (or, when only a complete run of this kind exists, a copy
        of it, e.g. to train more epochs); overwrite: replace a complete run of the same kind and
        discard an interrupted one.
        """
        cls.check(out, kind, overwrite=overwrite, resume=resume)
        out = Path(out)
        part = partial_path(out)
        if resume:
            if not part.exists():  # a complete run continues from a copy (e.g. to train more epochs)
                shutil.copytree(out, part)
            first = _first_software(part)
            write_marker(part, kind, complete=False, **({"started_with": first} if first else {}))
            return cls(out, kind, resumed=True, started_with=first)
        if part.exists():
            shutil.rmtree(part)
        part.mkdir(parents=True)
        write_marker(part, kind, complete=False)
        return cls(out, kind, resumed=False)

    def commit(self, **marker: Any) -> Path:
        """Mark the staged run complete and swap it in for `out` (the old run, if any, is removed)."""
        if self.started_with:
            marker = {"started_with": self.started_with, **marker}
        write_marker(self.path, self.kind, complete=True, **marker)
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.replaced-{time.time_ns()}")
            self.out.rename(old)
        self.path.rename(self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out


__all__ = ["MARKER", "RunFolderError", "Staging", "partial_path", "read_kind", "read_marker", "write_marker"]
