"""Benchmark tables: what each cell of a space scored, aligned with the space's cell order."""

from .benchmark import ROLES, Benchmark

__all__ = ["ROLES", "Benchmark"]
