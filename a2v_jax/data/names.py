"""Canonical names of the spaces that have benchmark tables and of their datasets.

The facts (which datasets, which aliases) live in each space's profile (`a2v_jax.spaces`); this
module only answers name questions for the data layer.
"""

from __future__ import annotations

from ..spaces import UnknownSpaceError, get_profile, space_key, spaces_with_benchmarks
from ..spaces.profile import UnknownDatasetError

UnknownNameError = UnknownDatasetError
"""Raised for an unknown dataset, or a space without benchmark tables (its message says which)."""


def benchmark_datasets() -> dict[str, tuple[str, ...]]:
    """{space: canonical dataset names} for every space with benchmark tables."""
    return {s: get_profile(s).dataset_names for s in spaces_with_benchmarks()}


def space_name(space: str) -> str:
    """The canonical name of a space that has benchmark tables (case-insensitive)."""
    try:
        key = space_key(space)
    except UnknownSpaceError as e:
        raise UnknownNameError(str(e)) from e
    if not get_profile(key).datasets:
        known = ", ".join(spaces_with_benchmarks())
        raise UnknownNameError(
            f"no benchmark tables for space {space!r} ({get_profile(key).no_benchmark_reason}); "
            f"spaces with tables: {known}"
        )
    return key


def dataset_name(space: str, dataset: str) -> str:
    """The canonical dataset name (`cifar10`, `cifar100`, `ImageNet16-120`); aliases such as
    `imagenet`, `CIFAR-100`, `cifar10-valid` are accepted, case-insensitively."""
    return get_profile(space_name(space)).dataset(dataset).name
