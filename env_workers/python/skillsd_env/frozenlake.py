"""FrozenLake, with Gymnasium's rules (FrozenLake-v1), as a skillsd env worker.

The player starts at S (the top-left corner) and walks to G (the bottom-right corner) over frozen tiles; a hole
ends the episode. Actions Left, Down, Right, Up; a move off the grid stays in place. On slippery ice (the default,
as in Gymnasium) the move goes in the intended direction or in one of the two perpendicular ones, each with
probability 1/3. Reaching G gives reward 1 and ends the episode; every other move gives 0. An invalid answer
costs -0.1 (the contract's penalty; Gymnasium has no invalid actions).

Maps are Gymnasium's random maps (`generate_random_map`: each tile frozen with probability p, else a hole, S and G
fixed, kept only when G can be reached from S), drawn with our own seeds: the train split from one seed stream, the
test split from another, with no map in both. The text interface follows the Sokoban worker's: a one-line prompt,
then "Moves left: N." and the grid, P the player, _ frozen ice, O a hole, G the goal.

Run:  python3 -m skillsd_env.frozenlake --port=50061 [--size=4 --slippery=true --train_levels=400 ...]
"""

import argparse
import itertools
import logging
import random
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from skillsd_env.kit import ActionEnv, Event, Spec, Task, TaskError, serve_main

# Gymnasium's action order and moves (row, column).
ACTIONS = ("Left", "Down", "Right", "Up")
MOVES = {"Left": (0, -1), "Down": (1, 0), "Right": (0, 1), "Up": (-1, 0)}

TRAIN_STREAM = 0x46524F5A454E0001  # two fixed seed streams: the splits never share a map
TEST_STREAM = 0x46524F5A454E0002


def is_valid(grid: Sequence[str]) -> bool:
    """G can be reached from S over non-hole tiles (Gymnasium's check, a depth-first search)."""
    n = len(grid)
    frontier, seen = [(0, 0)], {(0, 0)}
    while frontier:
        r, c = frontier.pop()
        for dr, dc in MOVES.values():
            rr, cc = r + dr, c + dc
            if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in seen and grid[rr][cc] != "H":
                if grid[rr][cc] == "G":
                    return True
                seen.add((rr, cc))
                frontier.append((rr, cc))
    return False


def generate_random_map(size: int, p: float, rng: random.Random) -> Tuple[str, ...]:
    """Gymnasium's generate_random_map: tiles frozen with probability p, S top-left, G bottom-right, until valid."""
    while True:
        rows = [["F" if rng.random() < p else "H" for _ in range(size)] for _ in range(size)]
        rows[0][0], rows[-1][-1] = "S", "G"
        grid = tuple("".join(r) for r in rows)
        if is_valid(grid):
            return grid


def make_split(size: int, p: float, count: int, stream: int, exclude=frozenset()) -> List[Tuple[str, ...]]:
    """`count` distinct maps from seed stream `stream`, none of them in `exclude`."""
    maps, seen, k = [], set(exclude), 0
    while len(maps) < count:
        grid = generate_random_map(size, p, random.Random(stream * 1_000_003 + k))
        k += 1
        if grid not in seen:
            seen.add(grid)
            maps.append(grid)
        if k > 1000 * count + 10000:
            raise ValueError("cannot draw %d distinct %dx%d maps with p=%g" % (count, size, size, p))
    return maps


def transitions(grid: Sequence[str], slippery: bool, state: Tuple[int, int], action: str):
    """Gymnasium's transition table P[s][a]: [(probability, next state)], the outcomes of the intended move and,
    on slippery ice, of the two perpendicular ones."""
    a = ACTIONS.index(action)
    directions = [ACTIONS[(a - 1) % 4], action, ACTIONS[(a + 1) % 4]] if slippery else [action]
    n = len(grid)
    out = []
    for d in directions:
        dr, dc = MOVES[d]
        r, c = state[0] + dr, state[1] + dc
        out.append((1.0 / len(directions), (r, c) if 0 <= r < n and 0 <= c < n else state))
    return out


def success_values(grid: Sequence[str], slippery: bool, horizon: int) -> List[Dict[Tuple[int, int], float]]:
    """values[k][s]: the largest probability of reaching G from tile s within k more moves (finite-horizon value
    iteration, k = 0..horizon). Without a horizon every cautious move (into a wall, say) would tie with the ones
    that make progress: on many maps G can be reached with probability 1 given unlimited moves."""
    n = len(grid)
    states = [(r, c) for r in range(n) for c in range(n)]
    values = [{s: (1.0 if grid[s[0]][s[1]] == "G" else 0.0) for s in states}]
    for _ in range(horizon):
        prev = values[-1]
        values.append({s: prev[s] if grid[s[0]][s[1]] in "GH" else
                       max(sum(p * prev[t] for p, t in transitions(grid, slippery, s, a)) for a in ACTIONS)
                       for s in states})
    return values


def optimal_first_actions(grid: Sequence[str], slippery: bool, state: Tuple[int, int], steps_left: int,
                          values: Optional[List[Dict[Tuple[int, int], float]]] = None) -> List[str]:
    """Non-slippery: every action that begins a shortest path to G (as Sokoban's oracle, whatever the moves
    left). Slippery: every action with the largest probability of reaching G within `steps_left` moves (ties
    within 1e-9). Empty on G, on a hole, or where G cannot be reached."""
    n = len(grid)
    if grid[state[0]][state[1]] in "GH":
        return []
    if slippery:
        if steps_left < 1:
            return []
        values = values or success_values(grid, True, steps_left)
        after = values[steps_left - 1]
        q = {a: sum(p * after[t] for p, t in transitions(grid, True, state, a)) for a in ACTIONS}
        best = max(q.values())
        return [a for a in ACTIONS if best > 0 and q[a] >= best - 1e-9]
    # Breadth-first distances to G over non-hole tiles.
    goal = (n - 1, n - 1)
    dist = {goal: 0}
    frontier = [goal]
    while frontier:
        nxt = []
        for r, c in frontier:
            for dr, dc in MOVES.values():
                rr, cc = r + dr, c + dc
                if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in dist and grid[rr][cc] != "H":
                    dist[(rr, cc)] = dist[(r, c)] + 1
                    nxt.append((rr, cc))
        frontier = nxt
    if state not in dist:
        return []
    out = []
    for a in ACTIONS:
        (_, t), = transitions(grid, False, state, a)
        if t != state and dist.get(t, -1) == dist[state] - 1:
            out.append(a)
    return out


class FrozenLakeLevels:
    """The train and test maps of one configuration, shared by every session of a worker (read-only)."""

    def __init__(self, size=4, p=0.8, train_levels=400, test_levels=64, slippery=True):
        if size < 2 or not 0 < p <= 1 or train_levels < 1 or test_levels < 0:
            raise ValueError("FrozenLake: size >= 2, 0 < p <= 1, train_levels >= 1, test_levels >= 0")
        self.size, self.p, self.slippery = size, p, slippery
        self.train = make_split(size, p, train_levels, TRAIN_STREAM)
        self.test = make_split(size, p, test_levels, TEST_STREAM, exclude=frozenset(self.train))
        self._values = {}

    def values(self, grid, horizon: int):
        """success_values of a map up to `horizon` moves (computed once per map and horizon; races only
        compute the same table twice)."""
        key = (grid, horizon)
        if key not in self._values:
            self._values[key] = success_values(grid, self.slippery, horizon)
        return self._values[key]

    def curriculum(self) -> List[int]:
        """Training maps easiest first: the shortest path from S to G, then the index."""
        def length(grid):
            dist, frontier, n = {(0, 0): 0}, [(0, 0)], len(grid)
            while frontier:
                r, c = frontier.pop(0)
                for dr, dc in MOVES.values():
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in dist and grid[rr][cc] != "H":
                        dist[(rr, cc)] = dist[(r, c)] + 1
                        frontier.append((rr, cc))
            return dist.get((n - 1, n - 1), 10 ** 6)
        return sorted(range(len(self.train)), key=lambda i: (length(self.train[i]), i))


class FrozenLakeEnv(ActionEnv):
    """One session's FrozenLake. `rng` draws the slips (the worker gives each session its own stream)."""

    def __init__(self, levels: FrozenLakeLevels, max_steps=30, max_actions_per_turn=3, rng=None):
        self.levels = levels
        self.rng = rng or random.Random()
        slip = "the ice is slippery: a move may go sideways. " if levels.slippery else ""
        self._spec = Spec(
            name="frozenlake",
            system_prompt="FrozenLake: walk P to G, never onto a hole O; %sAnswer up to %d moves: "
                          "<answer>Right || Down</answer>" % (slip, max_actions_per_turn),
            max_steps=max_steps, max_actions_per_turn=max_actions_per_turn,
            train_levels=len(levels.train), test_levels=len(levels.test),
            actions=[(a, "<answer>%s</answer>" % a) for a in ACTIONS], train_order=levels.curriculum())
        self.grid: Tuple[str, ...] = ()
        self.pos = (0, 0)
        self.steps = 0

    def spec(self) -> Spec:
        return self._spec

    def reset(self, task: Task) -> str:
        maps = self.levels.train if task.split == "train" else self.levels.test if task.split == "test" else None
        if maps is None or not 0 <= task.index < len(maps):
            raise TaskError("no FrozenLake map %s/%d" % (task.split, task.index))
        self.grid, self.pos, self.steps = maps[task.index], (0, 0), 0
        return self.observation("")

    def tile(self) -> str:
        return self.grid[self.pos[0]][self.pos[1]]

    @property
    def solved(self) -> bool:
        return self.tile() == "G"

    @property
    def failed(self) -> bool:
        return self.tile() == "H"

    def act(self, action: str) -> Event:
        outcomes = transitions(self.grid, self.levels.slippery, self.pos, action)
        _, target = outcomes[self.rng.randrange(len(outcomes))]
        moved = target != self.pos
        self.pos = target
        self.steps += 1
        return Event(action=action, reward=1.0 if self.solved else 0.0, moved=moved, bumped=not moved,
                     deadlock=self.failed)

    def observation(self, feedback: str) -> str:
        lines = [feedback] if feedback else []
        if self.failed:
            lines.append("You fell into a hole.")
        lines.append("Moves left: %d." % (self._spec.max_steps - self.steps))
        for r, row in enumerate(self.grid):
            cells = []
            for c, t in enumerate(row):
                here = (r, c) == self.pos
                cells.append("P" if here else {"S": "_", "F": "_", "H": "O", "G": "G"}[t])
            lines.append("".join(cells))
        return "\n".join(lines) + "\n"

    def optimal_actions(self) -> Optional[List[str]]:
        horizon = self._spec.max_steps
        values = self.levels.values(self.grid, horizon) if self.levels.slippery else None
        return optimal_first_actions(self.grid, self.levels.slippery, self.pos, horizon - self.steps, values)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError("want true or false, got '%s'" % text)


def _add_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--size", type=int, default=4, help="the map is size x size")
    parser.add_argument("--frozen_probability", type=float, default=0.8, help="p of generate_random_map")
    parser.add_argument("--slippery", type=_bool, default=True, help="Gymnasium's is_slippery")
    parser.add_argument("--train_levels", type=int, default=400)
    parser.add_argument("--test_levels", type=int, default=64)
    parser.add_argument("--max_steps", type=int, default=30, help="moves per episode (Gymnasium's limit: 100)")
    parser.add_argument("--max_actions_per_turn", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="seeds the slips; session k draws from stream (seed, k)")


def _make_factory(args):
    levels = FrozenLakeLevels(args.size, args.frozen_probability, args.train_levels, args.test_levels, args.slippery)
    logging.getLogger("skillsd_env").info("frozenlake: %dx%d maps, %s, frozen probability %g, %d moves an episode",
                                          args.size, args.size, "slippery" if args.slippery else "not slippery",
                                          args.frozen_probability, args.max_steps)
    if args.max_steps < 1 or args.max_actions_per_turn < 1:
        raise ValueError("--max_steps and --max_actions_per_turn must be positive")
    sessions = itertools.count(1)  # next() is atomic: sessions are made on many threads

    def factory():
        return FrozenLakeEnv(levels, args.max_steps, args.max_actions_per_turn,
                             random.Random(args.seed * 1_000_003 + next(sessions)))
    return factory


def main(argv=None) -> int:
    return serve_main(None, "skillsd-env-frozenlake", argv, _add_arguments, _make_factory)


if __name__ == "__main__":
    sys.exit(main())
