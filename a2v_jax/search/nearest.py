"""The nearest not-yet-visited cell to a point of the embedding space, fast and in bounded memory.

REINFORCE turns a continuous action into an architecture by taking the closest (L2) cell that has
not been queried. Vmapped over hundreds of seeds, the distances form a [seeds, N] matrix: 31 MB
for NB201, but 850 MB for NB101's 423,624 cells at 500 seeds. So cells are scanned in chunks of
about `chunk` rows with a running best (small chunks keep each [seeds, chunk] slab in cache: on
NB101 at 500 seeds, 4,096-cell chunks ran about twice as fast as 65,536-cell ones), and distances use ||f||^2 - 2 a.f (the ||a||^2 term is the
same for every cell): under vmap each chunk is one [seeds, d] x [d, chunk] matrix product, at
HIGHEST precision so that accelerators do not rank neighbours on bf16/tf32 products.

Why two passes per chunk: an arg-min over a long axis is a (value, index) reduction that XLA's CPU
backend runs about 30x slower than a plain min (35 ms against 1 ms for 500 x 15,625). So the
first pass takes only the min of each block of `block` cells; the arg-min runs over the few
block minima, and the winning block (128 cells) is recomputed and searched exactly. The
recomputation can round differently from the first pass in the last bit, so among cells whose
distances agree to ~1e-7 relative the pick is not specified; otherwise ties go to the lower index.

Chunks of equal size, each a whole number of blocks, tile [0, N) with the last one shifted back to
end at N (NB201: four chunks of 3,968 cells; NB101: 104 of 4,096); cells seen twice change
nothing. One chunk body and one recompute body keep the compiled program small.

On an accelerator the same bound holds: the largest array a query creates is one [seeds, chunk]
slab of distances (8 MB for 500 seeds at 4,096 cells, 131 MB at 65,536), never [seeds, N], and
the whole scan runs inside the compiled search loop (no transfer to the host per query). The
chunk is a setting (REINFORCE's `chunk`) because the best size differs by device: small for a
CPU's cache, larger on an accelerator, where each scan step costs a kernel launch; its default
follows the platform (`reinforce.scan_chunk`). `benchmarks/device_check.py` times NB101-sized
REINFORCE at both sizes.

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


def _layout(n: int, chunk: int, block: int) -> tuple[int, int, int]:
    """(block size, chunk size, number of chunks): k equal chunks, each a whole number of blocks
    and at most N cells, as few as `chunk` allows; the last one is shifted back to end at N."""
    b = max(1, min(block, n))
    k = max(1, -(-n // max(chunk, 1)))
    while True:
        per_chunk = -(-n // k)
        c = -(-per_chunk // b) * b
        if c <= n:
            return b, c, -(-n // c)
        k += 1


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
    chunk: int = 4096,
    skip_nearest: bool = False,
    block: int = 64,
) -> tuple[jax.Array, jax.Array]:
    """Index of the nearest unvisited cell to `point` ([d]), and whether one exists.

    features: [N, d]; sqnorm: [N] = ||features||^2; visited: bool [N].
    With skip_nearest (the NB201 reference quirk) see the module docstring; if only the skipped
    cell is left unvisited it is returned rather than nothing.
    """
    n = features.shape[0]
    bsize, csize, nchunks = _layout(n, chunk, block)
    nblocks = csize // bsize
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

    def block_mins(s):
        return s.reshape(nblocks, bsize).min(axis=1)

    def block_top(start, blocks, masks):
        """Recompute blocks [m] of the chunk at `start` exactly; masks[m] says whether visited cells count.
        Returns scores [m, B] (visited ones inf where masked) and cell indices [m, B]."""

        def one(b, use_visited):
            first = start + b * bsize
            s, vis = scores(first, bsize)
            return jnp.where(use_visited & vis, inf, s), first + jnp.arange(bsize, dtype=jnp.int32)

        return jax.vmap(one)(blocks, masks)

    def best_of(s, idx):
        j = jnp.argmin(s)
        return s[j], jnp.where(jnp.isinf(s[j]), none, idx[j])

    def chunk_cands(start):
        s, vis = scores(start, csize)
        su = block_mins(jnp.where(vis, inf, s))
        b1 = jnp.argmin(su)
        if not skip_nearest:
            bs, bi = block_top(start, b1[None], jnp.array([True]))
            return [best_of(bs[0], bi[0])]
        b2 = jnp.argmin(su.at[b1].set(inf))
        bg = jnp.argmin(block_mins(s))
        bs, bi = block_top(start, jnp.stack([b1, b2, bg]), jnp.array([True, True, False]))
        g = best_of(bs[2], bi[2])
        first = best_of(bs[0], bi[0])
        second = best_of(jnp.where(bi[0] == first[1], inf, bs[0]), bi[0])
        other = best_of(bs[1], bi[1])
        u1, u2 = _best_two([first, second, other], none)  # with one block, b2 == b1: repeats are dropped
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
    starts = jnp.minimum(jnp.arange(nchunks, dtype=jnp.int32) * csize, n - csize)
    carry = jax.lax.scan(lambda c, st: (merge(c, chunk_cands(st)), None), carry, starts)[0]

    if not skip_nearest:
        best = carry[0][1]
        found = best < n
        return jnp.where(found, best, 0), found
    g, u1, u2 = carry
    found1, found2 = u1[1] < n, u2[1] < n
    best = jnp.where((g[1] == u1[1]) & found2, u2[1], u1[1])
    return jnp.where(found1, best, 0), found1
