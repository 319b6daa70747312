"""Architecture search as pure, batched functions (see `problem` for the shared contract).

Strategies (`reinforce`, `random_search`, `evolution`, and `dngo` where installed) are modules
with `Config`, `init` and `step`; `runner` runs all seeds of one as a single compiled computation;
`run_search` goes from a benchmark and embeddings to traces, a summary and plots.
"""

from .problem import Problem, Trace


def run_search(*args, **kwargs):
    """See `a2v_jax.search.api.run_search` (imported lazily: it pulls in plotting and I/O)."""
    from .api import run_search as _run_search

    return _run_search(*args, **kwargs)


__all__ = ["Problem", "Trace", "run_search"]
