"""Nearest-unvisited search against a brute-force float64 ranking, across chunkings and the NB201 quirk."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from a2v_jax.search.nearest import _layout, nearest_unvisited


def brute(point, feats, visited, skip):
    d = ((feats.astype(np.float64) - point) ** 2).sum(1)
    order = np.lexsort((np.arange(len(d)), d))
    if skip:
        rest = [j for j in order[1:] if not visited[j]]
        if rest:
            return rest[0]
        left = np.flatnonzero(~visited)
        return left[0] if left.size else -1
    left = [j for j in order if not visited[j]]
    return left[0] if left else -1


@pytest.mark.parametrize("n", [1, 7, 300, 1000])
@pytest.mark.parametrize("skip", [False, True])
def test_matches_brute_force(n, skip):
    rng = np.random.default_rng(n)
    feats = rng.normal(size=(n, 5)).astype(np.float32)
    sq = (feats.astype(np.float64) ** 2).sum(1).astype(np.float32)
    points = rng.normal(size=(16, 5)).astype(np.float32)
    visited = rng.random((16, n)) < 0.4
    visited[0] = True  # nothing left
    if n > 1:
        visited[1] = True
        visited[1, n // 2] = False  # exactly one left
    for chunk, block in ((64, 16), (4096, 64)):
        fn = jax.jit(jax.vmap(lambda p, v, c=chunk, b=block: nearest_unvisited(p, feats, sq, v, c, skip, b)))
        got, found = map(np.asarray, fn(points, visited))
        for s in range(16):
            exp = brute(points[s], feats, visited[s], skip)
            assert bool(found[s]) == (exp >= 0)
            if exp >= 0:
                assert got[s] == exp, (n, chunk, block, s)


def test_skip_nearest_passes_over_unvisited_nearest():
    feats = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    sq = (feats**2).sum(1)
    v = np.zeros(4, bool)
    pick = lambda p, v, skip: int(nearest_unvisited(np.float32([p]), feats, sq, v, skip_nearest=skip)[0])  # noqa: E731
    assert pick(0.1, v, False) == 0
    assert pick(0.1, v, True) == 1  # rank 0 is unvisited but skipped
    v[0] = True
    assert pick(0.1, v, False) == 1
    assert pick(0.1, v, True) == 1  # rank 0 is visited: first unvisited after it
    v[1] = True
    assert pick(0.1, v, True) == 2


def test_layout_covers_all_cells():
    for n in (1, 5, 127, 128, 129, 15625, 423624):
        for chunk, block in ((64, 16), (65536, 128), (1000, 128), (100, 128)):
            b, c, k = _layout(n, chunk, block)
            assert 1 <= b <= c <= n and c % b == 0 and k * c >= n
            assert c <= -(-chunk // b) * b  # no bigger than asked, up to block rounding
            assert (k - 1) * c < n  # no chunk is wholly redundant


def test_reinforce_scan_block_follows_the_platform():
    """REINFORCE's scan block: small on CPU (caches), large on accelerators (launches); a set
    `chunk` wins; zero or negative is refused. Results do not depend on it (the tests above)."""
    from a2v_jax.search import reinforce

    default = reinforce.Config()
    assert default.chunk is None
    assert reinforce.scan_chunk(default, "cpu") == reinforce.SCAN_CHUNK_CPU == 4096
    assert reinforce.scan_chunk(default, "gpu") == reinforce.scan_chunk(default, "tpu") == 65536
    assert reinforce.scan_chunk(reinforce.Config(chunk=512), "gpu") == 512
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        reinforce.Config(chunk=-1).validate()
