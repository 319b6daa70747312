"""Seeded sampling of unique DARTS cells under the mobile multiply-add limit.

The published sampler (preprocessing/gen_isomorphism_graphs.py) draws one genotype at a time: for
each of the 4 blocks two ops uniformly from the 8 PRIMITIVES (with replacement) and two distinct
inputs uniformly among the b+2 earlier nodes; it keeps the cell if its NAS-Bench-101 hash is new and
thop counts fewer than 600M multiply-adds for the ImageNet network, until it has 600,000 cells.

Here the same distribution is drawn in fixed batches of `BATCH` genotypes from
`numpy.random.default_rng(seed)`, the multiply-adds come from a closed form (`darts_macs`), and only
the MD5 hash is per cell (on several processes). Cells are kept in draw order, so the result is a
pure function of the seed and the first n cells of a sample do not depend on how many were asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .darts_macs import MOBILE_LIMIT, network_macs
from .hash_batch import HashPool

BATCH = 1 << 15
"""Genotypes drawn per RNG call; part of what a seed means, so fixed."""
HASH_CHUNK = 8192
"""Cells hashed per step; hashing stops as soon as enough unique cells are found."""


def draw_genotypes(rng: np.random.Generator, count: int) -> np.ndarray:
    """int8 [count, 8, 2]: genotypes drawn as the published sampler draws them.

    Inputs: the first uniform over the b+2 earlier nodes, the second uniform over the others, which
    is `np.random.choice(b + 2, 2, replace=False)`'s distribution.
    """
    ops = rng.integers(0, 8, size=(count, 4, 2), dtype=np.int8)
    first = rng.integers(0, np.arange(2, 6), size=(count, 4))
    second = rng.integers(0, np.arange(1, 5), size=(count, 4))
    second = second + (second >= first)
    g = np.empty((count, 8, 2), dtype=np.int8)
    g[:, :, 0] = ops.reshape(count, 8)
    g[:, 0::2, 1] = first
    g[:, 1::2, 1] = second
    return g


@dataclass
class Sample:
    genotypes: np.ndarray  # int8 [N, 8, 2]
    adjacency: np.ndarray  # uint8 [N, 11, 11]
    ops: np.ndarray  # int8 [N, 11]
    hashes: np.ndarray  # <U32 [N]
    macs: np.ndarray  # int64 [N]
    drawn: int = 0  # genotypes drawn (whole batches)
    over_limit: int = 0  # of those, over the multiply-add limit
    hashed: int = 0  # genotypes under the limit that were hashed
    duplicates: int = 0  # of those, rejected as already seen
    seconds: dict[str, float] = field(default_factory=dict)


def sample_cells(
    num: int,
    seed: int = 0,
    convention: str = "thop",
    limit: float = MOBILE_LIMIT,
    workers: int | None = None,
    progress: bool = False,
) -> Sample:
    """The first `num` unique cells (by graph hash) under `limit` drawn with `seed`.

    `seconds` times the phases: draw (RNG), macs, encode (genotype -> DAG), hash, dedup.
    """
    from .darts import genotype_to_cell  # darts imports this module

    if num < 1:
        raise ValueError(f"num must be positive, got {num}")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    kept_g, kept_h, kept_m = [], [], []
    have = 0
    stats = {"drawn": 0, "over_limit": 0, "hashed": 0, "duplicates": 0}
    seconds = dict.fromkeys(("draw", "macs", "encode", "hash", "dedup"), 0.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num, unit="cell", desc=f"darts sample (seed {seed})", smoothing=0.05)
    t_start = time.perf_counter()
    with HashPool(workers) as pool:
        while have < num:
            t = time.perf_counter()
            g = draw_genotypes(rng, BATCH)
            seconds["draw"] += time.perf_counter() - t
            t = time.perf_counter()
            macs = network_macs(g, convention=convention)
            under = macs < limit
            seconds["macs"] += time.perf_counter() - t
            stats["drawn"] += BATCH
            stats["over_limit"] += int(BATCH - under.sum())
            g, macs = g[under], macs[under]
            start = 0
            while start < g.shape[0] and have < num:
                step = min(HASH_CHUNK, num - have + 64)  # duplicates are rare: hash little more than needed
                gc, mc = g[start : start + step], macs[start : start + step]
                start += step
                t = time.perf_counter()
                adj, ops = genotype_to_cell(gc)
                seconds["encode"] += time.perf_counter() - t
                t = time.perf_counter()
                hashes = pool.map(adj, ops)
                seconds["hash"] += time.perf_counter() - t
                t = time.perf_counter()
                keep: list[int] = []
                looked = 0
                for i, h in enumerate(hashes.tolist()):
                    looked = i + 1
                    if h in seen:
                        continue
                    seen.add(h)
                    keep.append(i)
                    if have + len(keep) == num:
                        break
                idx = np.array(keep, dtype=np.int64)
                stats["hashed"] += looked
                stats["duplicates"] += looked - idx.size
                have += idx.size
                kept_g.append(gc[idx])
                kept_h.append(hashes[idx])
                kept_m.append(mc[idx])
                seconds["dedup"] += time.perf_counter() - t
                if bar is not None:
                    bar.update(int(idx.size))
    if bar is not None:
        bar.close()
    t = time.perf_counter()
    genotypes = np.concatenate(kept_g)
    adjacency, ops = genotype_to_cell(genotypes)
    seconds["encode"] += time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t_start
    return Sample(
        genotypes=genotypes,
        adjacency=adjacency,
        ops=ops,
        hashes=np.concatenate(kept_h),
        macs=np.concatenate(kept_m).astype(np.int64),
        seconds=seconds,
        **stats,
    )
