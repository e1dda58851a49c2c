"""FrozenLake against independent references: Gymnasium's transition table written out by hand, breadth-first
distances, Monte Carlo estimates of the oracle's success probability, and exact properties of the maps."""

import random
import unittest

from skillsd_env import frozenlake as fl
from skillsd_env.kit import Task, TaskError

# Gymnasium's default 4x4 map (FrozenLake-v1, map_name="4x4").
GYM_4X4 = ("SFFF", "FHFH", "FFFH", "HFFG")


def bfs_distance(grid, start):
    """Moves from `start` to G over non-hole tiles (None when unreachable): a search of its own, by layers."""
    n, seen, layer, d = len(grid), {start}, [start], 0
    while layer:
        if any(grid[r][c] == "G" for r, c in layer):
            return d
        nxt = []
        for r, c in layer:
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in seen and grid[rr][cc] != "H":
                    seen.add((rr, cc))
                    nxt.append((rr, cc))
        layer, d = nxt, d + 1
    return None


class TransitionTest(unittest.TestCase):
    def test_matches_gymnasiums_table(self):
        # Gymnasium's P[0][LEFT] on 4x4: [(1/3, 0), (1/3, 0), (1/3, 4)] (Up and Left stay, Down goes to row 1).
        out = fl.transitions(GYM_4X4, True, (0, 0), "Left")
        self.assertEqual([t for _, t in out], [(0, 0), (0, 0), (1, 0)])
        self.assertTrue(all(abs(p - 1 / 3) < 1e-12 for p, _ in out))
        # Gymnasium's order for RIGHT (2): b in [(a - 1) % 4, a, (a + 1) % 4] = DOWN, RIGHT, UP.
        self.assertEqual([t for _, t in fl.transitions(GYM_4X4, True, (2, 1), "Right")], [(3, 1), (2, 2), (1, 1)])
        self.assertEqual(fl.transitions(GYM_4X4, False, (0, 0), "Down"), [(1.0, (1, 0))])
        self.assertEqual(fl.transitions(GYM_4X4, False, (0, 0), "Up"), [(1.0, (0, 0))])

    def test_slips_are_a_third_each(self):
        levels = fl.FrozenLakeLevels(size=4, train_levels=2, test_levels=1)
        env = fl.FrozenLakeEnv(levels, rng=random.Random(7))
        counts = {}
        trials = 30000
        for _ in range(trials):
            env.grid, env.pos = ("FFFF",) * 3 + ("FFFG",), (1, 1)
            env.act("Right")
            counts[env.pos] = counts.get(env.pos, 0) + 1
        self.assertEqual(set(counts), {(0, 1), (1, 2), (2, 1)})
        sd = (trials * (1 / 3) * (2 / 3)) ** 0.5
        for k in counts.values():
            self.assertLess(abs(k - trials / 3), 5 * sd)


class OracleTest(unittest.TestCase):
    def test_deterministic_oracle_follows_shortest_paths(self):
        levels = fl.FrozenLakeLevels(size=5, train_levels=30, test_levels=0, slippery=False)
        for grid in levels.train:
            pos, d = (0, 0), bfs_distance(grid, (0, 0))
            self.assertIsNotNone(d)
            for _ in range(d):
                best = fl.optimal_first_actions(grid, False, pos, 100)
                self.assertTrue(best)
                for a in best:  # every listed move shortens the distance by one
                    (_, t), = fl.transitions(grid, False, pos, a)
                    self.assertEqual(bfs_distance(grid, t), bfs_distance(grid, pos) - 1)
                (_, pos), = fl.transitions(grid, False, pos, best[0])
            self.assertEqual(grid[pos[0]][pos[1]], "G")
            self.assertEqual(fl.optimal_first_actions(grid, False, pos, 100), [])

    def test_values_without_slips_are_whether_the_distance_fits(self):
        # Deterministic moves: reaching G within k moves is certain when the distance is at most k, else impossible.
        grid = fl.make_split(5, 0.8, 1, 99)[0]
        values = fl.success_values(grid, False, 12)
        for k, v in enumerate(values):
            for s, p in v.items():
                d = None if grid[s[0]][s[1]] == "H" else bfs_distance(grid, s)
                self.assertEqual(p, 1.0 if d is not None and d <= k else 0.0, (k, s))

    def test_slippery_values_are_what_following_the_oracle_achieves(self):
        rng = random.Random(3)
        for grid in (GYM_4X4, fl.make_split(4, 0.8, 1, 5)[0]):
            horizon = 30
            values = fl.success_values(grid, True, horizon)
            for k in range(horizon):  # more moves never hurt; probabilities stay probabilities
                for s in values[k]:
                    self.assertLessEqual(values[k][s], values[k + 1][s] + 1e-12)
                    self.assertLessEqual(values[k + 1][s], 1.0 + 1e-12)
            episodes, solved = 4000, 0
            for _ in range(episodes):
                pos = (0, 0)
                for t in range(horizon):
                    best = fl.optimal_first_actions(grid, True, pos, horizon - t, values)
                    if not best:
                        break
                    pos = fl.transitions(grid, True, pos, rng.choice(best))[rng.randrange(3)][1]
                    if grid[pos[0]][pos[1]] in "GH":
                        break
                solved += grid[pos[0]][pos[1]] == "G"
            p = values[horizon][(0, 0)]
            sd = (p * (1 - p) / episodes) ** 0.5
            self.assertLess(abs(solved / episodes - p), 5 * sd + 1e-3, grid)


class MapsTest(unittest.TestCase):
    def test_splits_are_valid_disjoint_and_fixed(self):
        a = fl.FrozenLakeLevels(size=4, train_levels=200, test_levels=64)
        b = fl.FrozenLakeLevels(size=4, train_levels=200, test_levels=64)
        self.assertEqual(a.train, b.train)
        self.assertEqual(a.test, b.test)
        self.assertFalse(set(a.train) & set(a.test))
        self.assertEqual(len(set(a.train)), 200)
        for grid in a.train + a.test:
            self.assertEqual(grid[0][0], "S")
            self.assertEqual(grid[-1][-1], "G")
            self.assertIsNotNone(bfs_distance(grid, (0, 0)))
        lengths = [bfs_distance(a.train[i], (0, 0)) for i in a.curriculum()]
        self.assertEqual(lengths, sorted(lengths))

    def test_generator_rejects_maps_without_a_path(self):
        self.assertFalse(fl.is_valid(("SH", "HG")))
        self.assertTrue(fl.is_valid(("SF", "HG")))


class EnvTest(unittest.TestCase):
    def setUp(self):
        self.levels = fl.FrozenLakeLevels(size=4, train_levels=8, test_levels=2, slippery=False)
        self.env = fl.FrozenLakeEnv(self.levels, max_steps=10, rng=random.Random(1))

    def test_text_interface(self):
        text = self.env.reset(Task("train", 0))
        lines = text.splitlines()
        self.assertEqual(lines[0], "Moves left: 10.")
        self.assertEqual(lines[1][0], "P")
        self.assertEqual(len(lines), 5)
        self.assertTrue(set("".join(lines[1:])) <= set("P_OG"))
        with self.assertRaises(TaskError):
            self.env.reset(Task("test", 2))

    def test_a_turn_plays_up_to_max_actions(self):
        self.env.reset(Task("train", 0))
        turn = self.env.step("<answer>up || LEFT || Down || Right</answer>", 10)
        self.assertEqual([e.action for e in turn.events], ["Up", "Left", "Down"])
        self.assertTrue(turn.events[0].bumped and turn.events[1].bumped)
        self.assertIn("not valid", turn.text)  # the fourth was dropped and said so
        turn = self.env.step("no tags here", 10)
        self.assertEqual(len(turn.events), 1)
        self.assertTrue(turn.events[0].invalid)
        self.assertLess(turn.events[0].reward, 0)

    def test_the_oracle_solves_and_a_hole_ends_the_episode(self):
        self.env.reset(Task("train", 0))
        while True:
            best = self.env.optimal_actions()
            if not best:
                break
            turn = self.env.step("<answer>%s</answer>" % best[0], 10)
        self.assertTrue(turn.done and turn.solved)
        self.assertEqual(turn.events[-1].reward, 1.0)
        # A map with a hole right of the start: walking into it ends the episode unsolved.
        self.env.grid, self.env.pos = ("SHF", "FFF", "FFG"), (0, 0)
        turn = self.env.step("<answer>Right</answer>", 10)
        self.assertTrue(turn.done and not turn.solved and turn.events[0].deadlock)
        self.assertIn("hole", turn.text)


if __name__ == "__main__":
    unittest.main()
