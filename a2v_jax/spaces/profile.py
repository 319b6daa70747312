"""What the rest of the library needs to know about a space, in one place per space.

Each space module defines `PROFILE = SpaceProfile(...)` beside its `SPACE`: the datasets that have
benchmark tables (with their aliases, default search budgets and what the reward column is), the
paper's pretraining epochs, and the settings the published search scripts use on that space, by
strategy name. Strategies, pretraining, the data loaders and the command lines all read these
facts from here (`a2v_jax.spaces.get_profile`), so a new space is its module and one line in the
registry of `a2v_jax.spaces`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NoBenchmarkError(UnknownDatasetError):
    """The space has no benchmark tables at all (e.g. DARTS: nothing to search against)."""


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


@dataclass(frozen=True)
class DatasetProfile:
    """A dataset with a benchmark table on the space.

    name: canonical name (the table's file name uses it); aliases: other spellings accepted
    (compared ignoring case and punctuation); budget: the default search budget in simulated
    seconds (the published runs'); reward / test: what those columns of the table hold.
    """

    name: str
    budget: float
    reward: str
    test: str
    aliases: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        key = _key(name)
        return key == _key(self.name) or key in {_key(a) for a in self.aliases}


@dataclass(frozen=True)
class SpaceProfile:
    """The facts of one space that pretraining, data and search depend on."""

    name: str
    title: str
    pretrain_epochs: int
    datasets: tuple[DatasetProfile, ...] = ()
    search: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Published settings of each search strategy on this space: {strategy name: {field: value}}."""
    no_benchmark_reason: str = ""
    """Why the space has no benchmark tables, when `datasets` is empty."""

    @property
    def dataset_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.datasets)

    def dataset(self, name: str) -> DatasetProfile:
        """The dataset called `name` (or an alias); a clear error for an unknown one."""
        if not self.datasets:
            raise NoBenchmarkError(f"space {self.name!r} has no benchmark tables ({self.no_benchmark_reason})")
        for d in self.datasets:
            if d.matches(name):
                return d
        raise UnknownDatasetError(
            f"unknown dataset {name!r} for {self.name}; choose one of {', '.join(self.dataset_names)}"
        )

    def search_settings(self, strategy: str) -> dict[str, Any]:
        """The published settings of `strategy` on this space ({} if it has none of its own)."""
        return dict(self.search.get(strategy, {}))
