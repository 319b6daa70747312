"""The nearest not-yet-visited cell to a point of the embedding space, fast and in bounded memory.

REINFORCE turns a continuous action into an architecture by taking the closest (L2) cell that has
not been queried. Vmapped over hundreds of seeds, the distances form a [seeds, N] matrix: 31 MB
for NB201, but 850 MB for NB101's 423,624 cells at 500 seeds. So cells are scanned in chunks of
about `chunk` rows with a running best, and distances use ||f||^2 - 2 a.f (the ||a||^2 term is the
same for every cell): under vmap each chunk is one [seeds, d] x [d, chunk] matrix product, at
HIGHEST precision so that accelerators do not rank neighbours on bf16/tf32 products.

Why two passes per chunk: an arg-min over a long axis is a (value, index) reduction that XLA's CPU
backend runs about 30x slower than a plain min (35 ms against 1 ms for 500 x 15,625). So the
first pass takes only the min of each block of `block` cells; the arg-min runs over the few
block minima, and the winning block (128 cells) is recomputed and searched exactly. The
recomputation can round differently from the first pass in the last bit, so among cells whose
distances agree to ~1e-7 relative the pick is not specified; otherwise ties go to the lower index.

Chunks tile [0, N) in `chunk`-sized pieces (a multiple of `block`); the remainder is one shorter
chunk, shifted back to end at N, so it may see up to `block` - 1 cells twice, which changes nothing.

`skip_nearest` reproduces the published NB201 code: it ranks all cells by distance, visited or
not, always discards rank 0, and takes the first unvisited cell after it. So when the very
nearest cell is unvisited the second-nearest unvisited cell is chosen instead; when it is visited
the choice is the plain nearest unvisited one. That needs the overall nearest cell and the two
nearest unvisited ones, all found in the same pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Cand = tuple[jax.Array, jax.Array]  # (score, index); index N means "none"


def _layout(n: int, chunk: int, block: int) -> tuple[int, int, int, int]:
    """(block, chunk size, number of full chunks, size of the shifted tail chunk or 0)."""
    b = max(1, min(block, n))
    c = max(b, min((chunk // b) * b, (n // b) * b))
    full = n // c
    rest = n - full * c
    tail = -(-rest // b) * b if rest else 0
    return b, c, full, tail


def _better(a: Cand, b: Cand) -> jax.Array:
    return (a[0] < b[0]) | ((a[0] == b[0]) & (a[1] < b[1]))


def _pick(first: jax.Array, a: Cand, b: Cand) -> Cand:
    return jnp.where(first, a[0], b[0]), jnp.where(first, a[1], b[1])


def _best_two(cands: list[Cand], none: jax.Array) -> tuple[Cand, Cand]:
    """The two best distinct-index candidates of a short list (lexicographic on score, index)."""
    s = jnp.stack([c[0] for c in cands])
    i = jnp.stack([c[1] for c in cands])
    inf = jnp.asarray(jnp.inf, s.dtype)

    def first(s, i):
        m = s.min()
        j = jnp.where(s == m, i, none).min()
        return m, j

    c1 = first(s, i)
    rest = i == c1[1]
    c2 = first(jnp.where(rest, inf, s), jnp.where(rest, none, i))
    return c1, c2


def nearest_unvisited(
    point: jax.Array,
    features: jax.Array,
    sqnorm: jax.Array,
    visited: jax.Array,
    chunk: int = 65536,
    skip_nearest: bool = False,
    block: int = 128,
) -> tuple[jax.Array, jax.Array]:
    """Index of the nearest unvisited cell to `point` ([d]), and whether one exists.

    features: [N, d]; sqnorm: [N] = ||features||^2; visited: bool [N].
    With skip_nearest (the NB201 reference quirk) see the module docstring; if only the skipped
    cell is left unvisited it is returned rather than nothing.
    """
    n = features.shape[0]
    bsize, csize, full, tail = _layout(n, chunk, block)
    point = point.astype(features.dtype)
    inf = jnp.asarray(jnp.inf, features.dtype)
    none = jnp.asarray(n, jnp.int32)
    hi = jax.lax.Precision.HIGHEST

    def scores(start, size):
        f = jax.lax.dynamic_slice_in_dim(features, start, size)
        sq = jax.lax.dynamic_slice_in_dim(sqnorm, start, size)
        vis = jax.lax.dynamic_slice_in_dim(visited, start, size)
        dots = jax.lax.dot_general(point, f, (((0,), (1,)), ((), ())), precision=hi)  # [size]; batch-major under vmap
        return sq - 2.0 * dots, vis

    def block_top(start, b, k, use_visited):
        """Best k (score, index) of block b of the chunk starting at `start`, recomputed exactly."""
        first = start + b * bsize
        s, vis = scores(first, bsize)
        if use_visited:
            s = jnp.where(vis, inf, s)
        idx = first + jnp.arange(bsize, dtype=jnp.int32)
        out = []
        for _ in range(k):
            j = jnp.argmin(s)
            out.append((s[j], jnp.where(jnp.isinf(s[j]), none, idx[j])))
            s = s.at[j].set(inf)
        return out

    def chunk_cands(start, size):
        s, vis = scores(start, size)
        nb = size // bsize
        su = jnp.where(vis, inf, s).reshape(nb, bsize).min(axis=1)
        b1 = jnp.argmin(su)
        if not skip_nearest:
            return block_top(start, b1, 1, True)
        b2 = jnp.argmin(su.at[b1].set(inf))
        unvisited = block_top(start, b1, 2, True) + block_top(start, b2, 1, True)
        bg = jnp.argmin(s.reshape(nb, bsize).min(axis=1))
        g = block_top(start, bg, 1, False)[0]
        u1, u2 = _best_two(unvisited, none)  # with one block, b2 == b1 and the repeat is dropped
        return [g, u1, u2]

    def merge(carry, cands):
        if not skip_nearest:
            (best,) = carry
            (c,) = cands
            return [_pick(_better(c, best), c, best)]
        g, u1, u2 = carry
        cg, c1, c2 = cands
        g = _pick(_better(cg, g), cg, g)
        u1, u2 = _best_two([u1, u2, c1, c2], none)
        return [g, u1, u2]

    empty = (inf, none)
    carry = [empty] * (3 if skip_nearest else 1)
    starts = jnp.arange(full, dtype=jnp.int32) * csize
    carry = jax.lax.scan(lambda c, st: (merge(c, chunk_cands(st, csize)), None), carry, starts)[0]
    if tail:
        carry = merge(carry, chunk_cands(jnp.asarray(n - tail, jnp.int32), tail))

    if not skip_nearest:
        best = carry[0][1]
        found = best < n
        return jnp.where(found, best, 0), found
    g, u1, u2 = carry
    found1, found2 = u1[1] < n, u2[1] < n
    best = jnp.where((g[1] == u1[1]) & found2, u2[1], u1[1])
    return jnp.where(found1, best, 0), found1
