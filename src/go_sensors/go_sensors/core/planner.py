"""Walking paths on the store floor: an occupancy grid around the gondolas and A* on it.

Pure numpy + heapq. The grid marks a cell blocked when a body of radius ``clearance`` centred
there would touch a gondola or leave the floor. Paths are string-pulled (line of sight on the grid)
so shoppers walk straight lines between corners, like people do.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from go_common.core.store import StoreModel


class NoPathError(RuntimeError):
    """No walkable path joins two floor points."""


@dataclass(frozen=True, eq=False)
class FloorGrid:
    """Occupancy grid of the floor. blocked: (ny, nx) bool, cell (i, j) centred at
    ((j + 0.5) * cell, (i + 0.5) * cell) [m]."""

    blocked: np.ndarray
    cell: float

    @classmethod
    def from_store(cls, store: StoreModel, cell: float = 0.1, clearance: float = 0.25) -> FloorGrid:
        """Grid of ``store`` with ``cell`` [m] resolution and ``clearance`` [m] around obstacles."""
        nx = math.ceil(store.floor_size[0] / cell)
        ny = math.ceil(store.floor_size[1] / cell)
        xs = (np.arange(nx) + 0.5) * cell
        ys = (np.arange(ny) + 0.5) * cell
        gx, gy = np.meshgrid(xs, ys)
        blocked = (
            (gx < clearance)
            | (gy < clearance)
            | (gx > store.floor_size[0] - clearance)
            | (gy > store.floor_size[1] - clearance)
        )
        for g in store.gondolas.values():
            lo, hi = g.min_corner, g.max_corner
            dx = np.maximum(np.maximum(lo[0] - gx, gx - hi[0]), 0.0)
            dy = np.maximum(np.maximum(lo[1] - gy, gy - hi[1]), 0.0)
            blocked |= np.hypot(dx, dy) < clearance
        return cls(blocked=blocked, cell=cell)

    def index(self, xy: np.ndarray) -> tuple[int, int]:
        """(row, col) of the cell holding floor point ``xy`` [m], clipped to the grid."""
        ny, nx = self.blocked.shape
        j = int(np.clip(xy[0] // self.cell, 0, nx - 1))
        i = int(np.clip(xy[1] // self.cell, 0, ny - 1))
        return i, j

    def center(self, i: int, j: int) -> np.ndarray:
        """(2,) [m] centre of cell (row i, col j)."""
        return np.array([(j + 0.5) * self.cell, (i + 0.5) * self.cell])

    def is_free(self, xy: np.ndarray) -> bool:
        """Whether a body centred at ``xy`` [m] is clear of obstacles."""
        return not bool(self.blocked[self.index(xy)])

    def nearest_free(self, xy: np.ndarray) -> np.ndarray:
        """The free cell centre nearest to ``xy`` [m] (``xy`` itself when free)."""
        if self.is_free(xy):
            return np.asarray(xy, dtype=np.float64)
        free = np.argwhere(~self.blocked)
        if free.size == 0:
            raise NoPathError("the floor has no free cell")
        centers = (free[:, ::-1] + 0.5) * self.cell
        return centers[int(np.argmin(np.linalg.norm(centers - xy, axis=1)))]

    def line_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the straight segment a-b [m] crosses only free cells."""
        n = max(2, int(np.linalg.norm(b - a) / (0.5 * self.cell)) + 1)
        pts = a[None, :] + np.linspace(0.0, 1.0, n)[:, None] * (b - a)[None, :]
        ny, nx = self.blocked.shape
        j = np.clip((pts[:, 0] // self.cell).astype(int), 0, nx - 1)
        i = np.clip((pts[:, 1] // self.cell).astype(int), 0, ny - 1)
        return not bool(np.any(self.blocked[i, j]))

    def plan(self, start: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Shortest free path (M, 2) [m] from ``start`` to ``goal`` (both included).

        Start and goal may lie in blocked cells (a shopper standing at a shelf): the path leaves
        and reaches them straight from the nearest free cell. Raises NoPathError.
        """
        start = np.asarray(start, dtype=np.float64)
        goal = np.asarray(goal, dtype=np.float64)
        if self.line_free(start, goal):
            return np.stack([start, goal])
        s_free, g_free = self.nearest_free(start), self.nearest_free(goal)
        cells = self._astar(self.index(s_free), self.index(g_free))
        points = [start] + [self.center(i, j) for i, j in cells] + [goal]
        return self._smooth(np.array(points))

    def _astar(self, start: tuple[int, int], goal: tuple[int, int]) -> list[tuple[int, int]]:
        ny, nx = self.blocked.shape
        steps = [(-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0)]
        steps += [(di, dj, math.sqrt(2.0)) for di in (-1, 1) for dj in (-1, 1)]
        best = {start: 0.0}
        parent: dict[tuple[int, int], tuple[int, int]] = {}
        heap = [(0.0, start)]
        while heap:
            _, node = heapq.heappop(heap)
            if node == goal:
                path = [node]
                while node in parent:
                    node = parent[node]
                    path.append(node)
                return path[::-1]
            i, j = node
            for di, dj, cost in steps:
                ni, nj = i + di, j + dj
                if not (0 <= ni < ny and 0 <= nj < nx) or self.blocked[ni, nj]:
                    continue
                g = best[node] + cost
                if g < best.get((ni, nj), math.inf):
                    best[(ni, nj)] = g
                    parent[(ni, nj)] = node
                    heapq.heappush(heap, (g + math.hypot(goal[0] - ni, goal[1] - nj), (ni, nj)))
        raise NoPathError(f"no path from cell {start} to cell {goal}")

    def _smooth(self, points: np.ndarray) -> np.ndarray:
        """String pulling: keep a point only where the straight line to a later one is blocked."""
        out = [points[0]]
        k = 0
        while k < len(points) - 1:
            nxt = len(points) - 1
            while nxt > k + 1 and not self.line_free(points[k], points[nxt]):
                nxt -= 1
            out.append(points[nxt])
            k = nxt
        return np.array(out)


def path_length(path: np.ndarray) -> float:
    """Length [m] of a polyline (M, 2)."""
    return float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
