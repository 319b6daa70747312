"""JAX's persistent compilation cache for the command lines: the second run of a command skips XLA.

A search or a pretraining compiles a few large programs (a DNGO search: about 12 s on two CPU
cores, more than running one seed). JAX can keep compiled programs on disk and load them when the
same program is compiled again; every command line of the package turns that on at start-up with
`enable()`, before anything is compiled:

- the cache lives in `$A2V_CACHE/jax-compilation` (default `~/.cache/a2v_jax/jax-compilation`);
- an explicitly set `JAX_COMPILATION_CACHE_DIR` (or `jax_compilation_cache_dir` set in code) wins:
  that folder is used and nothing else is changed;
- opt out with `--no-compile-cache` on any command line, or `A2V_COMPILE_CACHE=0` in the
  environment;
- programs that compile in under `MIN_COMPILE_SECONDS` are cached too (JAX's default threshold of
  1 s would leave out the many small programs whose compiles add up at start-up), and the folder is
  kept under `MAX_BYTES` (least recently used entries go first).

Library code never calls this: importing `a2v_jax` changes no JAX setting. A pretraining command
line calls `enable(opt_out)` first thing in its `main`, with `add_argument(parser)` giving it the flag.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._io import cache_dir

ENV = "A2V_COMPILE_CACHE"  # "0", "false", "no" or "off": do not use the persistent cache
JAX_ENV = "JAX_COMPILATION_CACHE_DIR"
SUBDIR = "jax-compilation"
MIN_COMPILE_SECONDS = 0.1
MAX_BYTES = 2 * 1024**3
FLAG = "--no-compile-cache"
CACHE_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"  # JAX's names for an entry and its access-time record


def env_opt_out() -> bool:
    """True when `A2V_COMPILE_CACHE` says not to use the cache."""
    return os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off")


def default_dir(root: str | os.PathLike | None = None) -> Path:
    """`<root>/jax-compilation`, the root being `$A2V_CACHE` (default ~/.cache/a2v_jax) unless given."""
    return (Path(root).expanduser() if root else cache_dir()) / SUBDIR


def enable(opt_out: bool = False, root: str | os.PathLike | None = None) -> Path | None:
    """Turn on the persistent compilation cache; returns its folder, or None when it stays off.

    Call before the first jit compilation of the process. `opt_out` (the command line's
    `--no-compile-cache`) and `A2V_COMPILE_CACHE=0` leave JAX's settings as they are; so does a
    cache folder already chosen by the user (`JAX_COMPILATION_CACHE_DIR` or jax.config), which is
    then reported as the folder in use. `root` replaces `$A2V_CACHE` (a command line's `--cache`).
    """
    import jax

    if opt_out or env_opt_out():
        return None
    chosen = jax.config.jax_compilation_cache_dir
    if chosen or os.environ.get(JAX_ENV):
        return Path(chosen or os.environ[JAX_ENV])
    path = default_dir(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache root costs compile time, nothing else
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    if jax.config.jax_compilation_cache_max_size in (None, -1):
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    repair(path)
    return path


def repair(path: Path) -> int:
    """Give every cached program without an access-time record one; returns how many were fixed.

    With a size limit, JAX keeps a `<key>-atime` file beside each `<key>-cache` entry and reads
    them all before every write; an entry written without a limit (the same folder used as a plain
    `JAX_COMPILATION_CACHE_DIR`, or by an older version of this package) has none, and then every
    write of the process fails with a FileNotFoundError warning: the cache silently stops growing.
    The missing records get the entry's modification time, so such entries are evicted first.
    """
    fixed = 0
    try:
        for entry in path.glob(f"*{CACHE_SUFFIX}"):
            atime = entry.with_name(entry.name[: -len(CACHE_SUFFIX)] + ATIME_SUFFIX)
            if not atime.exists():
                atime.write_bytes(entry.stat().st_mtime_ns.to_bytes(8, "little"))
                fixed += 1
    except OSError:
        pass  # a folder that cannot be repaired costs compile time, nothing else
    return fixed


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The `--no-compile-cache` flag (read back as `args.no_compile_cache`)."""
    parser.add_argument(
        FLAG,
        dest="no_compile_cache",
        action="store_true",
        help=f"do not keep compiled programs in $A2V_CACHE/{SUBDIR} (also: {ENV}=0; "
        f"an explicitly set {JAX_ENV} is used as it is)",
    )
