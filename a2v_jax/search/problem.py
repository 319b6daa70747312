"""What every search strategy shares: the problem it queries and the trace it leaves.

A search only ever sees a cell through `Problem`: its embedding, the reward a query returns, the
test accuracy reported for an incumbent and the simulated seconds a query costs. All arrays are
aligned with the space's cell order and live on device, so a query is an index, and the whole
search (every seed) is one jitted computation.

`Trace` is the per-seed record with a fixed capacity (shapes must be static under jit/vmap):
queries past the budget are ignored, so strategies that query several cells per step (a REINFORCE
episode, a batch of DNGO proposals) need no budget logic of their own. The budget follows the
published code: queries continue while the elapsed time is below the budget, and the query that
reaches it still counts.

Elapsed time is summed with Kahan compensation: float32 alone drifts by whole seconds over a
1.5e6 s NB101 budget, enough to move the stopping query.

`Problem.feature_sqnorm` (||features||^2 per cell) is computed once by `create`: every
nearest-neighbour query needs it, and recomputing it inside a vmapped loop would cost as much
again as the distance products themselves.

`Problem.graphs` holds the cells themselves (ops, adjacency, edge lists: `a2v_jax.graphs.GraphSet`)
for strategies that encode architectures on their own (`NEEDS = {"cells"}`); it is an empty set of
zero-vertex graphs otherwise, so that other strategies carry nothing.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ..graphs import GraphSet, graph_set


@struct.dataclass
class Problem:
    """The benchmark as seen by a search: arrays aligned with the cell index.

    features:   float32 [N, d] architecture embeddings (the search space for RL/BO).
    reward:     float32 [N] what a query observes (validation accuracy, a fraction).
    test:       float32 [N] test accuracy reported for the incumbent.
    cost:       float32 [N] simulated seconds charged per query.
    neighbours: int32 [N, K] cells one mutation away (-1 = none), for evolution; [N, 0] if unused.
    feature_sqnorm: float32 [N] squared norm of each feature row (for nearest-neighbour search).
    graphs:     the cells' graphs, row i = cell i (`GraphSet`; zero vertices when unused).
    max_time:   simulated-seconds budget (inf = none).
    max_queries: query budget; also the trace capacity (static).
    """

    features: jax.Array
    reward: jax.Array
    test: jax.Array
    cost: jax.Array
    neighbours: jax.Array
    feature_sqnorm: jax.Array
    graphs: GraphSet
    max_time: jax.Array
    max_queries: int = struct.field(pytree_node=False)

    @property
    def num_cells(self) -> int:
        return int(self.reward.shape[0])

    @classmethod
    def create(
        cls,
        features: np.ndarray,
        reward: np.ndarray,
        test: np.ndarray,
        cost: np.ndarray,
        max_time: float = float("inf"),
        max_queries: int | None = None,
        neighbours: np.ndarray | None = None,
        cells: tuple[np.ndarray, np.ndarray, int] | None = None,
    ) -> Problem:
        """Validate host arrays and move them to device.

        With only a time budget, the trace capacity is the most queries that budget can buy
        (budget / cheapest cell + 1). Either way it is capped at the number of cells: a search
        that never repeats a query cannot make more, and this bound is what guarantees that one
        always finds an unqueried cell while its budget lasts.

        cells: (adjacency [N, n, n], ops [N, n], number of op kinds) of the rows, for strategies
        that need the graphs.
        """
        reward = np.asarray(reward, np.float32)
        n = reward.shape[0]
        features = np.asarray(features, np.float32)
        test = np.asarray(test, np.float32)
        cost = np.asarray(cost, np.float32)
        if reward.ndim != 1 or features.ndim != 2:
            raise ValueError(f"reward must be [N] and features [N, d]; got {reward.shape} and {features.shape}")
        for name, arr in (("features", features), ("test", test), ("cost", cost)):
            if arr.shape[0] != n:
                raise ValueError(f"{name} has {arr.shape[0]} rows, reward has {n}")
        if not np.all(np.isfinite(reward)) or not np.all(np.isfinite(cost)) or (cost < 0).any():
            raise ValueError("reward and cost must be finite, cost non-negative")
        if not np.all(np.isfinite(features)):
            raise ValueError("features contain NaN or infinite values")
        if max_queries is not None and max_queries < 1:
            raise ValueError(f"max_queries must be positive, got {max_queries}")
        if max_queries is None:
            if not np.isfinite(max_time):
                raise ValueError("give a time budget, a query budget, or both")
            cheapest = float(cost.min())
            max_queries = n if cheapest <= 0 else int(min(n, np.floor(max_time / cheapest) + 1))
        max_queries = min(int(max_queries), n)
        if neighbours is None:
            neighbours = np.zeros((n, 0), np.int32)
        neighbours = np.asarray(neighbours)
        if neighbours.ndim != 2 or neighbours.shape[0] != n:
            raise ValueError(f"neighbours must be [N={n}, K], got {neighbours.shape}")
        if neighbours.size and (neighbours.min() < -1 or neighbours.max() >= n):
            raise ValueError("neighbours hold indices outside [-1, N)")
        if cells is None:
            graphs = graph_set((np.zeros((n, 0, 0), np.uint8), np.zeros((n, 0), np.int8)), 0, max_edges=0)
        else:
            adjacency, ops, num_ops = cells
            if np.shape(ops)[0] != n:
                raise ValueError(f"cells has {np.shape(ops)[0]} rows, reward has {n}")
            graphs = graph_set((adjacency, ops), num_ops)
        return cls(
            features=jnp.asarray(features),
            reward=jnp.asarray(reward),
            test=jnp.asarray(test),
            cost=jnp.asarray(cost),
            neighbours=jnp.asarray(neighbours, jnp.int32),
            feature_sqnorm=jnp.asarray(np.square(features.astype(np.float64)).sum(axis=1).astype(np.float32)),
            graphs=graphs,
            max_time=jnp.asarray(max_time, jnp.float32),
            max_queries=int(max_queries),
        )


@struct.dataclass
class Trace:
    """One seed's queries so far, in order (capacity = problem.max_queries).

    index[t]: the t-th queried cell (-1 unused); time[t]: elapsed seconds after it;
    best_reward[t]: best reward seen up to it; incumbent_test[t]: test accuracy of the cell with
    that best reward (first one found wins ties). `visited` marks cells already queried.
    """

    index: jax.Array
    time: jax.Array
    best_reward: jax.Array
    incumbent_test: jax.Array
    count: jax.Array
    elapsed: jax.Array
    elapsed_err: jax.Array
    incumbent: jax.Array
    visited: jax.Array

    @classmethod
    def empty(cls, problem: Problem) -> Trace:
        cap = problem.max_queries
        return cls(
            index=jnp.full((cap,), -1, jnp.int32),
            time=jnp.zeros((cap,), jnp.float32),
            best_reward=jnp.full((cap,), -jnp.inf, jnp.float32),
            incumbent_test=jnp.zeros((cap,), jnp.float32),
            count=jnp.zeros((), jnp.int32),
            elapsed=jnp.zeros((), jnp.float32),
            elapsed_err=jnp.zeros((), jnp.float32),
            incumbent=jnp.full((), -1, jnp.int32),
            visited=jnp.zeros((problem.num_cells,), jnp.bool_),
        )

    def done(self, problem: Problem) -> jax.Array:
        """True once the budget is spent (time reached, or query capacity full)."""
        return (self.elapsed >= problem.max_time) | (self.count >= problem.max_queries)

    @property
    def best_reward_now(self) -> jax.Array:
        return jnp.where(self.count > 0, self.best_reward[jnp.maximum(self.count - 1, 0)], -jnp.inf)

    def record(self, problem: Problem, cell: jax.Array, valid: jax.Array | bool = True) -> Trace:
        """Query `cell` (a scalar index) unless the budget is already spent or `valid` is False.

        A cell already queried is queried again: charged again and recorded again (the published
        DNGO does this); strategies that must not repeat check `visited` first.
        """
        active = ~self.done(problem) & jnp.asarray(valid, jnp.bool_)
        cell = jnp.asarray(cell, jnp.int32)
        t = jnp.minimum(self.count, problem.max_queries - 1)
        r = problem.reward[cell]
        # Kahan summation of the elapsed time.
        y = problem.cost[cell] - self.elapsed_err
        s = self.elapsed + y
        err = (s - self.elapsed) - y
        prev_best = self.best_reward_now
        improved = r > prev_best
        incumbent = jnp.where(improved, cell, self.incumbent)
        best = jnp.maximum(r, prev_best)
        inc_test = problem.test[incumbent]

        def upd(arr, value):  # O(1) scatter, not a select over the whole array
            return arr.at[t].set(jnp.where(active, value, arr[t]))

        return Trace(
            index=upd(self.index, cell),
            time=upd(self.time, s),
            best_reward=upd(self.best_reward, best),
            incumbent_test=upd(self.incumbent_test, inc_test),
            count=self.count + active.astype(jnp.int32),
            elapsed=jnp.where(active, s, self.elapsed),
            elapsed_err=jnp.where(active, err, self.elapsed_err),
            incumbent=jnp.where(active, incumbent, self.incumbent),
            visited=self.visited.at[cell].set(self.visited[cell] | active),
        )

    def record_many(self, problem: Problem, cells: jax.Array, valid: jax.Array | None = None) -> Trace:
        """Query cells in order (a static-length vector), stopping at the budget.

        `valid` (bool, same length) skips the cells marked False, e.g. proposals a strategy found
        no room for; they cost nothing and take no slot in the trace.
        """
        if valid is None:
            return jax.lax.fori_loop(0, cells.shape[0], lambda i, tr: tr.record(problem, cells[i]), self)
        return jax.lax.fori_loop(0, cells.shape[0], lambda i, tr: tr.record(problem, cells[i], valid[i]), self)
