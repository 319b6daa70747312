"""Architecture search as pure, batched functions (see `problem` for the shared contract)."""

from .problem import Problem, Trace

__all__ = ["Problem", "Trace"]
