"""A scripted BFS planner for Playroom, in plain Python/NumPy on a decoded layout.

It keeps its own model of the grid (walls and door computed from the params, objects and
the door state tracked as it plans), independent of the jitted environment, so executing
its plans through ``Playroom.step`` is a real check of both. Used by the solvability test
and handy as a demonstration policy.
"""

from __future__ import annotations

import copy
from collections import deque

import numpy as np

from bootstrap_rl.envs.playroom import (
    DIR_VECTORS, DROP, FORWARD, GOTO, LEFT, OPEN, PICKUP, PICKUP_ACTION, RIGHT, STEP, TOGGLE,
    TREASURE, TURN, UNLOCK,
)

_MOVES = [tuple(v) for v in DIR_VECTORS.tolist()]


class Unsolvable(Exception):
    """The planner found no way to finish the task."""


class _World:
    def __init__(self, size, params: dict, state: dict):
        self.size = size
        self.kind = int(params["task_kind"])
        walls = np.zeros((size, size), bool)
        walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
        self.door = None
        if self.kind in (UNLOCK, TREASURE):
            wall, door = int(params["wall_pos"]), int(params["door_pos"])
            if int(params["wall_axis"]) == 0:
                walls[:, wall] = True
                self.door = (door, wall)
            else:
                walls[wall, :] = True
                self.door = (wall, door)
            walls[self.door] = False
        self.walls = walls
        self.door_open = int(state["door_state"]) == OPEN
        self.objects = {}  # (row, col) -> slot
        for slot, (kind, pos) in enumerate(zip(state["obj_type"], state["obj_pos"])):
            if kind > 0 and pos[0] >= 0:
                self.objects[(int(pos[0]), int(pos[1]))] = slot
        self.obj_pos = {slot: cell for cell, slot in self.objects.items()}
        self.pos = (int(state["agent_pos"][0]), int(state["agent_pos"][1]))
        self.dir = int(state["agent_dir"])
        goal = state["goal_pos"]
        self.goal = (int(goal[0]), int(goal[1])) if goal[0] >= 0 else None
        self.actions: list[int] = []

    def front(self):
        return (self.pos[0] + _MOVES[self.dir][0], self.pos[1] + _MOVES[self.dir][1])

    def passable(self, cell):
        if self.walls[cell] or cell in self.objects:
            return False
        return cell != self.door or self.door_open

    def turn_to(self, direction):
        delta = (direction - self.dir) % 4
        self.actions += {0: [], 1: [RIGHT], 2: [RIGHT, RIGHT], 3: [LEFT]}[delta]
        self.dir = direction

    def go_to_face(self, targets):
        """Walk (BFS over cells) to a cell next to one of ``targets`` and face it."""
        targets = set(targets)
        parent = {self.pos: None}
        queue = deque([self.pos])
        found = None
        while queue:
            cell = queue.popleft()
            # Prefer facing a target from here; check the current direction first.
            for d in [self.dir if cell == self.pos else None, 0, 1, 2, 3]:
                if d is None:
                    continue
                ahead = (cell[0] + _MOVES[d][0], cell[1] + _MOVES[d][1])
                if ahead in targets:
                    found = (cell, d)
                    break
            if found:
                break
            for d, (dr, dc) in enumerate(_MOVES):
                nxt = (cell[0] + dr, cell[1] + dc)
                if nxt not in parent and self.passable(nxt):
                    parent[nxt] = cell
                    queue.append(nxt)
        if found is None:
            raise Unsolvable(f"no path to face {sorted(targets)}")
        path = []
        cell = found[0]
        while cell is not None:
            path.append(cell)
            cell = parent[cell]
        path.reverse()
        for here, there in zip(path, path[1:]):
            self.turn_to(_MOVES.index((there[0] - here[0], there[1] - here[1])))
            self.actions.append(FORWARD)
            self.pos = there
        self.turn_to(found[1])
        return self.front()

    def go_to(self, cell):
        """Walk onto ``cell``: face it, then step forward."""
        self.go_to_face([cell])
        self.actions.append(FORWARD)
        self.pos = cell

    def pickup(self):
        cell = self.front()
        slot = self.objects.pop(cell)
        self.obj_pos[slot] = None
        self.actions.append(PICKUP_ACTION)
        return slot

    def drop(self, slot):
        cell = self.front()
        self.objects[cell] = slot
        self.obj_pos[slot] = cell
        self.actions.append(DROP)

    def free_cells(self, exclude):
        cells = []
        for r in range(1, self.size - 1):
            for c in range(1, self.size - 1):
                cell = (r, c)
                if not self.walls[cell] and cell != self.door and cell not in self.objects and cell not in exclude:
                    cells.append(cell)
        return cells


def plan(size: int, params: dict, state: dict) -> list[int]:
    """Actions that solve one task from ``state`` (numpy/int fields of EnvParams and EnvState).

    Raises :class:`Unsolvable` when it finds no plan.
    """
    world = _World(size, params, state)
    kind = world.kind
    if kind == TURN:
        world.turn_to(int(params["target_dir"]))
    elif kind == STEP:
        world.go_to(world.goal)
    elif kind in (GOTO, PICKUP):
        world.go_to_face([world.obj_pos[0]])
        if kind == PICKUP:
            world.actions.append(PICKUP_ACTION)
        elif not world.actions:  # already facing it: success needs one step (a no-op toggle)
            world.actions.append(TOGGLE)
    else:
        world.go_to_face([world.obj_pos[0]])
        key = world.pickup()
        world.go_to_face([world.door])
        world.actions.append(TOGGLE)
        world.door_open = True
        if kind == TREASURE:
            # The key must be put down (one hand) somewhere that blocks no later path:
            # try spots nearest first (never the goal, the door or beside it).
            near_door = {(world.door[0] + dr, world.door[1] + dc) for dr, dc in _MOVES}
            spots = world.free_cells(exclude=near_door | {world.goal, world.pos})
            spots.sort(key=lambda cell: abs(cell[0] - world.pos[0]) + abs(cell[1] - world.pos[1]))
            for spot in spots:
                attempt = copy.deepcopy(world)
                try:
                    attempt.go_to_face([spot])
                    attempt.drop(key)
                    attempt.go_to_face([attempt.obj_pos[1]])
                    attempt.pickup()
                    attempt.go_to_face([attempt.goal])
                    attempt.drop(1)
                except Unsolvable:
                    continue
                return attempt.actions
            raise Unsolvable("no spot to leave the key that keeps the ball and goal reachable")
    return world.actions
