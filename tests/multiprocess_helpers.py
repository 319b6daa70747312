"""Running several processes of one multi-process run (`a2v_jax.distributed`) in the tests: two
CPU processes on 127.0.0.1, two fake devices each, started together and read back without the
lines the gloo transport prints itself."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # a hang guard for each group of processes, far above their run time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(xla_flags: str = "") -> dict[str, str]:
    """This environment with two fake CPU devices a process (and `xla_flags`), the checkout and
    tests/ importable."""
    out = dict(os.environ)
    out["XLA_FLAGS"] = f"{out.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2 {xla_flags}".strip()
    out["JAX_PLATFORMS"] = "cpu"
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), out.get("PYTHONPATH", "")])
    return out


def own_lines(text: str) -> str:
    """Output without the lines the gloo transport of CPU collectives prints itself (its C++ writes
    can be split over lines, so any line naming gloo or its peer count goes)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if "[Gloo]" not in line and "peer ranks" not in line)


def run_together(commands: list[list[str]], timeout: float = TIMEOUT, cwds: list[Path] | None = None,
                 xla_flags: str = "") -> list[subprocess.CompletedProcess]:
    """Start every command at once (in `cwds`, default the checkout); wait for all of them
    (outputs without gloo's lines)."""
    cwds = cwds or [ROOT] * len(commands)
    procs = [subprocess.Popen(c, env=env(xla_flags), cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c, d in zip(commands, cwds, strict=True)]
    done = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, own_lines(out), own_lines(err)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return done


def errors(p: subprocess.CompletedProcess) -> list[str]:
    """The `error:` lines a process wrote to stderr."""
    return [line for line in p.stderr.splitlines() if line.startswith("error:")]
