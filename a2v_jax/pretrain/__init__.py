"""Pretraining: train architecture autoencoders on a search space, K seeds (and sweep values) as
one computation, measure them (paper Table 1) and export the embedding of every cell.

    from a2v_jax.pretrain import PretrainConfig, run, load_model
    result = run(PretrainConfig(space="nb201", seeds=4, out="runs/pre4"))
    model = load_model("runs/pre4/seed-0")      # encode cells, decode latents

Modules: `config` (the one settings dataclass and the preset table), `train` (the pure training
program: `make_train(program, data) -> train(key, hyper)`, vmapped over members), `metrics`
(reconstruction, validity, uniqueness), `parallel` (device mesh, memory limit), `export`
(checkpoints, files, summaries), `run` (the host loop and run folders), `load` (a finished run
as a model), `__main__` (the command line).
"""

from .config import QUIRKS, ConfigError, Member, PretrainConfig
from .export import ResumeError
from .load import LoadedModel, LoadError, load_model
from .run import MemberRun, NonFiniteLossError, PretrainResult, load_cells, make_program, run
from .train import Hyper, Program, TrainState, make_train

__all__ = [
    "QUIRKS",
    "ConfigError",
    "Hyper",
    "LoadError",
    "LoadedModel",
    "Member",
    "MemberRun",
    "NonFiniteLossError",
    "PretrainConfig",
    "PretrainResult",
    "Program",
    "ResumeError",
    "TrainState",
    "load_cells",
    "load_model",
    "make_program",
    "make_train",
    "run",
]
