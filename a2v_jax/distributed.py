"""Several processes (one or more a host) as one run, on JAX's own distributed runtime.

The same command is started once per process. `initialize(Options)` joins them through
`jax.distributed.initialize`; after that `jax.devices()` lists every process's devices, and a
mesh over them (`search.runner.make_mesh`) splits the seeds of one run over all of them. Each
process runs the same compiled programs on its own share; results are gathered to every host
(`to_host`), and process 0 alone writes the run folder and prints.

How the processes find each other, in this order:

1. `--coordinator HOST:PORT --num-processes P --process-id I` (or the environment variables
   JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID); HOST:PORT is where process 0
   listens. `--num-processes 1` means one process, whatever the environment says.
2. No flag, but a cluster launcher that says there are several processes (SLURM `srun` with
   more than one task, Open MPI `mpirun -n P`, a multi-host Cloud TPU slice): JAX's own cluster
   detection fills everything in (`jax.distributed.initialize()` without arguments).
3. Otherwise: one process, nothing to join. (On a Cloud TPU pod slice the TPU runtime itself
   joins the hosts; the code only ever asks `jax.process_count()`.)

What can go wrong, and what the user sees instead of a hang or an abort:

- a coordinator that cannot be reached, or processes that never join: JAX would wait, then abort
  the process from C++ with a terse log line; a watchdog gives up first, after `timeout`
  seconds, with one `error:` line naming the address and what to check;
- processes started with different arguments (seeds, method, data): every process compares
  per-field digests of its settings with the others' (`check_same`) and all refuse, naming the
  fields that differ;
- an error in one process while a run is prepared (a missing file, a run folder in the way):
  `together` shares it, so every process stops with the same message instead of the others
  waiting for it forever in the next collective;
- Ctrl-C or SIGTERM on any process: while a multi-process run is in its loop the signal only
  sets a flag (`StopFlag`); the processes compare flags between compiled segments, and all stop
  at the same point, so the checkpoint is written whole.

A command that scales out uses it the same way (`python -m a2v_jax.search` and
`python -m a2v_jax.pretrain` do): the parser
gets the options with `add_arguments(parser)`, `initialize_from_args(args)` runs before anything
touches a device; its run prepares inside `together(...)`, compares its settings with
`check_same`, places host arrays with `put`, reads results back with `to_host`, writes files only
where `is_main()`, and checks a `StopFlag` at points every process reaches.

Host-side agreement (`together`, `check_same`, `gather_values`) uses
`multihost_utils.process_allgather` on small fixed-size arrays: a collective over all devices,
so every process must call them in the same order, which the callers guarantee by calling them
unconditionally.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import cli
from .cli import option

EXIT_CODE = 2  # the CLIs' exit status for an error
MESSAGE_BYTES = 1024  # longest error text shared between processes
JOIN_GRACE = 30  # JAX's own deadline is this much later than ours, so that our message comes first

_state: dict[str, Any] = {"initialized": False, "how": None}


class DistributedError(RuntimeError):
    """Processes of one run cannot work together (bad flags, a process that failed, different arguments)."""


@dataclass(frozen=True)
class Options:
    """How this process joins the others (command-line options shared by every CLI that scales out)."""

    coordinator: str | None = option(
        None, "multi-process run: HOST:PORT where process 0 listens (the same on every process; "
        "env JAX_COORDINATOR_ADDRESS)", metavar="HOST:PORT")
    num_processes: int | None = option(
        None, "multi-process run: number of processes started with this same command (env JAX_NUM_PROCESSES; "
        "default: one, or what SLURM / Open MPI / a TPU pod says; 1 forces one process)", metavar="P")
    process_id: int | None = option(
        None, "multi-process run: this process's number, 0 .. num-processes - 1; process 0 writes the outputs "
        "(env JAX_PROCESS_ID)", metavar="I")
    distributed_timeout: float = option(
        120.0, "multi-process run: seconds to wait for every process to join before giving up", metavar="SECONDS")

    def resolved(self) -> Options:
        """Flags, else the environment variables; checked (ValueError with one line on bad input)."""
        env = os.environ
        coordinator = self.coordinator or env.get("JAX_COORDINATOR_ADDRESS") or None
        num = self.num_processes if self.num_processes is not None else _env_int("JAX_NUM_PROCESSES")
        pid = self.process_id if self.process_id is not None else _env_int("JAX_PROCESS_ID")
        if not self.distributed_timeout > 0:
            raise ValueError(f"--distributed-timeout must be positive, got {self.distributed_timeout}")
        if num is not None and num < 1:
            raise ValueError(f"--num-processes must be at least 1, got {num}")
        if num is None and (self.coordinator is not None or pid is not None):
            raise ValueError("--coordinator / --process-id need --num-processes P (the number of processes)")
        if num is not None and num > 1:
            if coordinator is None:
                raise ValueError(f"--num-processes {num} needs --coordinator HOST:PORT (where process 0 listens)")
            if pid is None:
                raise ValueError(f"--num-processes {num} needs --process-id I (0 .. {num - 1}) on every process")
            if not 0 <= pid < num:
                raise ValueError(f"--process-id must be in 0 .. {num - 1}, got {pid}")
            host, _, port = coordinator.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"--coordinator must be HOST:PORT (e.g. 10.0.0.1:1234), got {coordinator!r}")
        return dataclasses.replace(self, coordinator=coordinator, num_processes=num, process_id=pid)


def add_arguments(parser: Any, title: str = "several processes (one run over several hosts)") -> None:
    """The multi-process options (`Options`) as one group of an argparse parser: every command
    that scales out offers the same flags."""
    cli.add_arguments(parser.add_argument_group(title), Options)


def initialize_from_args(args: Any) -> str | None:
    """`initialize` with the options parsed by a parser that `add_arguments` prepared."""
    return initialize(cli.from_args(Options, args))


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {text!r}") from None


def detected_cluster() -> str | None:
    """The cluster launcher that started several processes of this command, if any (cheap checks
    of its environment variables; JAX's own detection then reads the details)."""
    env = os.environ

    def count(name: str) -> int:
        try:
            return int(env.get(name, "1"))
        except ValueError:
            return 1

    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")
    if all(k in env for k in slurm) and count("SLURM_NTASKS") > 1:
        return "SLURM"
    if "OMPI_MCA_orte_hnp_uri" in env and count("OMPI_COMM_WORLD_SIZE") > 1:
        return "Open MPI"
    hosts = env.get("TPU_WORKER_HOSTNAMES") or env.get("TPU_PROCESS_ADDRESSES") or ""
    if len([h for h in hosts.split(",") if h.strip()]) > 1 or env.get("MEGASCALE_COORDINATOR_ADDRESS"):
        return "Cloud TPU slice"
    return None


def initialize(options: Options | None = None) -> str | None:
    """Join the other processes of this run when there are any; returns how (None: one process).

    Call before anything runs on a device. Calling it again is a no-op.
    """
    if _state["initialized"]:
        return _state["how"]
    opts = (options or Options()).resolved()
    import jax

    if opts.num_processes is not None:
        if opts.num_processes == 1:
            _state.update(initialized=True, how=None)
            return None
        how = f"process {opts.process_id} of {opts.num_processes}, coordinator {opts.coordinator}"
        if opts.process_id == 0:
            _check_port_free(opts.coordinator)
        kwargs = dict(coordinator_address=opts.coordinator, num_processes=opts.num_processes,
                      process_id=opts.process_id)
        if opts.process_id == 0:
            give_up = (f"only some of the {opts.num_processes} processes joined the coordinator at {opts.coordinator} "
                       f"within {opts.distributed_timeout:g} s (this is process 0): start every process with "
                       f"--coordinator {opts.coordinator} --num-processes {opts.num_processes} and its own "
                       "--process-id, and check that they can reach this host and port")
        else:
            give_up = (f"could not reach the coordinator at {opts.coordinator} within {opts.distributed_timeout:g} s "
                       f"(this is process {opts.process_id} of {opts.num_processes}): start process 0 with the same "
                       "--coordinator and --num-processes, and check the host name, the port and any firewall")
    else:
        cluster = detected_cluster()
        if cluster is None:
            _state.update(initialized=True, how=None)
            return None
        how = f"{cluster} (detected)"
        kwargs = {}
        give_up = (f"the processes of this {cluster} job did not all join within {opts.distributed_timeout:g} s; "
                   "check that every task runs this same command (or pass --num-processes 1 to run alone)")
    _use_cpu_collectives(jax)
    watchdog = threading.Timer(opts.distributed_timeout, _give_up, args=(give_up,))
    watchdog.daemon = True
    watchdog.start()
    try:
        jax.distributed.initialize(**kwargs, initialization_timeout=int(opts.distributed_timeout) + JOIN_GRACE)
    except (RuntimeError, ValueError) as e:  # e.g. a launcher whose details JAX cannot read
        raise DistributedError(f"cannot start the multi-process run ({how}): {e}; give --coordinator, "
                               "--num-processes and --process-id, or --num-processes 1 to run alone") from e
    finally:
        watchdog.cancel()
    _state.update(initialized=True, how=how)
    return how


def _give_up(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    os._exit(EXIT_CODE)


def _check_port_free(coordinator: str) -> None:
    """Process 0 is about to listen on the coordinator's port: say so plainly if it cannot."""
    port = int(coordinator.rpartition(":")[2])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError as e:
            raise DistributedError(
                f"process 0 cannot listen on port {port} for the coordinator ({e.strerror}): is another run using it? "
                "choose another port in --coordinator"
            ) from None


def _use_cpu_collectives(jax: Any) -> None:
    """Cross-process collectives on CPU devices need a transport (gloo); accelerators bring their own."""
    try:
        if jax.config.jax_cpu_collectives_implementation in (None, "", "none"):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except AttributeError:
        pass


# ---------------------------------------------------------------------- who am I


def process_count() -> int:
    import jax

    return jax.process_count()


def process_index() -> int:
    import jax

    return jax.process_index()


def is_main() -> bool:
    """Whether this process writes outputs and prints (process 0; the only one when alone)."""
    return process_index() == 0


def multi() -> bool:
    return process_count() > 1


def mesh_devices(requested: int | None, what: str = "seeds") -> int | None:
    """How many devices a run's mesh spans: alone, `requested` (--devices; None: no mesh); with
    several processes, every device of every process (--devices may only name them all)."""
    if not multi():
        return requested
    import jax

    total = len(jax.devices())
    if requested not in (None, total):
        raise DistributedError(
            f"with {process_count()} processes the {what} are split over all {total} devices; "
            f"leave out --devices (got {requested})"
        )
    return total


# ---------------------------------------------------------------------- agreement between processes


def gather_values(values: np.ndarray) -> np.ndarray:
    """[processes, ...]: every process's `values` (same shape and dtype everywhere); [1, ...] alone."""
    values = np.asarray(values)
    if not multi():
        return values[None]
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values))


def _encode(text: str) -> np.ndarray:
    data = text.encode("utf-8", "replace")[:MESSAGE_BYTES]
    out = np.zeros(MESSAGE_BYTES + 1, np.uint8)
    out[0] = 1
    out[1:1 + len(data)] = np.frombuffer(data, np.uint8)
    return out


def _decode(row: np.ndarray) -> str:
    return bytes(row[1:]).rstrip(b"\0").decode("utf-8", "replace")


@contextlib.contextmanager
def together(what: str) -> Iterator[None]:
    """Run a block on every process; if it fails on any, it fails on all (the others raise
    `DistributedError` with the first failing process's message; the failing one re-raises its own).

    Every process must enter and leave the block (no collective inside may be skipped by some).
    """
    if not multi():
        yield
        return
    own: BaseException | None = None
    try:
        yield
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - shared, then re-raised
        own = e
    text = "" if own is None else (str(own) or type(own).__name__)
    rows = gather_values(_encode(text) if own is not None else np.zeros(MESSAGE_BYTES + 1, np.uint8))
    if own is not None:
        raise own
    failed = [i for i in range(rows.shape[0]) if rows[i, 0]]
    if failed:
        i = failed[0]
        raise DistributedError(f"process {i} stopped while {what}: {_decode(rows[i])}")


def digest(value: Any) -> bytes:
    """8 bytes that differ when two JSON-able values (or arrays) differ."""
    h = hashlib.sha256()
    if isinstance(value, np.ndarray):
        h.update(str((value.dtype.str, value.shape)).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())
    return h.digest()[:8]


def check_same(values: dict[str, Any], what: str = "arguments",
               hint: str = "start every process with the same arguments") -> None:
    """Refuse (DistributedError on every process) when the processes hold different `values`
    (compared by per-entry digests); the message names the entries that differ, then `hint`."""
    if not multi():
        return
    names = sorted(values)
    mine = np.frombuffer(b"".join(digest(values[k]) for k in names), np.uint8).reshape(len(names), 8)
    everyone = gather_values(mine)
    differ = [k for j, k in enumerate(names) if not (everyone[:, j] == everyone[0, j]).all()]
    if differ:
        who = sorted({i for j, k in enumerate(names) if k in differ
                      for i in range(everyone.shape[0]) if not (everyone[i, j] == everyone[0, j]).all()})
        raise DistributedError(
            f"the processes hold different {what}: {', '.join(differ)} "
            f"(process{'es' if len(who) > 1 else ''} {', '.join(map(str, who))} differ{'' if len(who) > 1 else 's'} "
            f"from process 0); {hint}"
        )


# ---------------------------------------------------------------------- arrays across processes


def put(tree: Any, sharding: Any) -> Any:
    """Host or local values (the same on every process) placed with `sharding`, which may span
    other processes' devices: each process supplies its own shards."""
    import jax

    if not multi():
        return jax.device_put(tree, sharding)

    def one(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree_util.tree_map(one, tree)


def to_host(tree: Any) -> Any:
    """Numpy copies of the (possibly sharded over several processes) arrays of `tree`; with
    several processes every process must call this (it is a collective)."""
    import jax

    if not multi():
        return jax.device_get(tree)
    from jax.experimental import multihost_utils
    from jax.sharding import NamedSharding

    leaves, treedef = jax.tree_util.tree_flatten(tree)
    # arrays on a mesh over several processes: one replicating program a mesh gathers all of them
    # (a model's state has a hundred arrays; one by one, each costs a dispatch and a collective);
    # anything else as multihost_utils gathers it
    meshes: dict[Any, list[int]] = {}
    for i, x in enumerate(leaves):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and isinstance(x.sharding, NamedSharding):
            meshes.setdefault(x.sharding.mesh, []).append(i)
    out = list(leaves)
    for mesh, where in meshes.items():
        gathered = _replicating(NamedSharding(mesh, jax.sharding.PartitionSpec()))(tuple(leaves[i] for i in where))
        for i, x in zip(where, gathered, strict=True):
            out[i] = np.asarray(x.addressable_data(0))
    done = {i for where in meshes.values() for i in where}
    rest = [i for i in range(len(leaves)) if i not in done]
    if rest:
        for i, x in zip(rest, multihost_utils.process_allgather([leaves[i] for i in rest], tiled=True), strict=True):
            out[i] = np.asarray(x)
    return jax.tree_util.tree_unflatten(treedef, out)


@functools.cache
def _replicating(sharding: Any) -> Any:
    """A compiled identity whose outputs are replicated with `sharding` (every process holds all)."""
    import jax

    return jax.jit(lambda xs: xs, out_shardings=sharding)


class StopFlag:
    """Ctrl-C / SIGTERM as a flag, so that several processes can stop at the same point.

    Inside `with StopFlag() as flag:` the first signal sets `flag.raised`; a second one stops the
    process at once (KeyboardInterrupt). Alone (one process) signals are left to the caller.
    """

    def __init__(self) -> None:
        self.raised = False
        self.forced = False  # a second signal: stop now, without waiting for the others
        self._previous: dict[int, Any] = {}

    def _handler(self, signum, frame):
        if self.raised:
            self.forced = True
            raise KeyboardInterrupt
        self.raised = True

    def __enter__(self) -> StopFlag:
        if multi() and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


__all__ = [
    "DistributedError", "Options", "StopFlag", "add_arguments", "check_same", "detected_cluster", "digest",
    "gather_values", "initialize", "initialize_from_args", "is_main", "mesh_devices", "multi", "process_count",
    "process_index",
    "put", "to_host", "together",
]
