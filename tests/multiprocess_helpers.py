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


# The pieces the gloo transport writes (one write each, the rank numbers between them) when its
# CPU collectives connect; several connections at once interleave them, so a line can hold pieces
# of two messages, or a lone rank number.
GLOO_PIECES = ("[Gloo] Rank ", " is connected to ", " peer ranks. ", "Expected number of connected peer ranks is : ")


def own_lines(text: str) -> str:
    """Output without what the gloo transport of CPU collectives prints itself: every line that is
    nothing but gloo's pieces, rank numbers and blanks (none of our own lines is only digits)."""
    def gloo_only(line: str) -> bool:
        rest = line
        for piece in (*GLOO_PIECES, "[Gloo]"):
            rest = rest.replace(piece.strip(), " ")
        left = "".join(rest.split())
        return left.isdigit() or (not left and rest != line)

    return "".join(line for line in text.splitlines(keepends=True) if not gloo_only(line))


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
