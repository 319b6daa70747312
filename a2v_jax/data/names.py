"""Canonical names of the spaces that have benchmark tables and of their datasets."""

from __future__ import annotations

BENCHMARK_DATASETS: dict[str, tuple[str, ...]] = {
    "nb101": ("cifar10",),
    "nb201": ("cifar10", "cifar100", "ImageNet16-120"),
}

_ALIASES = {
    "cifar10": "cifar10",
    "c10": "cifar10",
    "cifar10valid": "cifar10",
    "cifar10validconverged": "cifar10",
    "cifar100": "cifar100",
    "c100": "cifar100",
    "imagenet16120": "ImageNet16-120",
    "imagenet16": "ImageNet16-120",
    "imagenet": "ImageNet16-120",
    "in16": "ImageNet16-120",
    "in16120": "ImageNet16-120",
}


class UnknownNameError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def space_name(space: str) -> str:
    """The canonical name of a space that has benchmark tables (case-insensitive)."""
    key = _key(space)
    if key not in BENCHMARK_DATASETS:
        known = ", ".join(BENCHMARK_DATASETS)
        raise UnknownNameError(f"no benchmark tables for space {space!r}; spaces with tables: {known}")
    return key


def dataset_name(space: str, dataset: str) -> str:
    """The canonical dataset name (`cifar10`, `cifar100`, `ImageNet16-120`); aliases such as
    `imagenet`, `CIFAR-100`, `cifar10-valid` are accepted, case-insensitively."""
    sp = space_name(space)
    valid = BENCHMARK_DATASETS[sp]
    name = _ALIASES.get(_key(dataset))
    if name not in valid:
        raise UnknownNameError(f"unknown dataset {dataset!r} for {sp}; choose one of {', '.join(valid)}")
    return name
