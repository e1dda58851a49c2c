"""The kit's side of the contract, over a real gRPC server in this process, with a small env written for the test:
task resolution and its errors, the totals the kit keeps, the step limit, batches, the session limit, expiry."""

import concurrent.futures
import unittest

import grpc

from skillsd.v1 import common_pb2, env_pb2, env_pb2_grpc
from skillsd_env import kit


class CounterEnv(kit.ActionEnv):
    """Walk a counter from 0 to `goal`: Inc adds one (reward 0.5), Dec subtracts one (into -1: a pit)."""

    def __init__(self):
        self._spec = kit.Spec(name="counter", system_prompt="Reach 3.", max_steps=6, max_actions_per_turn=2,
                              train_levels=3, test_levels=1, actions=[("Inc", "<answer>Inc</answer>"),
                                                                      ("Dec", "<answer>Dec</answer>")],
                              train_order=[2, 0, 1])
        self.value, self.goal = 0, 3

    def spec(self):
        return self._spec

    def reset(self, task):
        self.value, self.goal = 0, 3 + task.index
        return "at 0, goal %d" % self.goal

    @property
    def solved(self):
        return self.value == self.goal

    @property
    def failed(self):
        return self.value < 0

    def act(self, action):
        self.value += 1 if action == "Inc" else -1
        return kit.Event(action=action, reward=0.5 if action == "Inc" else 0.0, deadlock=self.value < 0)

    def observation(self, feedback):
        return "%sat %d" % (feedback + " " if feedback else "", self.value)


class KitTest(unittest.TestCase):
    def setUp(self):
        self.servicer = kit.EnvServicer(CounterEnv, max_sessions=4, idle_timeout_s=60, max_batch_size=3)
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        env_pb2_grpc.add_EnvServiceServicer_to_server(self.servicer, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.stub = env_pb2_grpc.EnvServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()
        self.server.stop(0)

    def create(self, **task):
        return self.stub.CreateSession(env_pb2.CreateSessionRequest(task=common_pb2.TaskRef(**task)))

    def step(self, session, answer):
        return self.stub.Step(env_pb2.StepRequest(session_id=session, answer=answer)).observation

    def test_spec_lists_tasks_in_the_envs_order(self):
        spec = self.stub.GetSpec(env_pb2.GetSpecRequest())
        self.assertEqual([t.task_id for t in spec.train_tasks], ["counter/train/2", "counter/train/0", "counter/train/1"])
        self.assertEqual(spec.max_batch_size, 3)
        self.assertEqual([a.name for a in spec.actions], ["Inc", "Dec"])

    def test_tasks_resolve_or_are_refused_with_a_reason(self):
        r = self.create(task_id="counter/train/1")
        self.assertEqual((r.task.task_id, r.task.split, r.task.level_index), ("counter/train/1", 1, 1))
        self.assertEqual(r.observation.text, "at 0, goal 4")
        self.assertEqual(self.create(split=common_pb2.SPLIT_TEST, level_index=0).task.task_id, "counter/test/0")
        for bad, code, words in [
                (dict(task_id="sokoban/train/1"), grpc.StatusCode.INVALID_ARGUMENT, "not of this env"),
                (dict(task_id="counter/train/x"), grpc.StatusCode.INVALID_ARGUMENT, "is not <env>"),
                (dict(task_id="counter/procedural/5"), grpc.StatusCode.INVALID_ARGUMENT, "no procedural"),
                (dict(split=common_pb2.SPLIT_TRAIN, level_index=3), grpc.StatusCode.OUT_OF_RANGE, "has 3"),
                (dict(split=common_pb2.SPLIT_TEST, level_index=-1), grpc.StatusCode.OUT_OF_RANGE, "does not exist")]:
            with self.assertRaises(grpc.RpcError) as e:
                self.create(**bad)
            self.assertEqual(e.exception.code(), code, bad)
            self.assertIn(words, e.exception.details())

    def test_the_kit_keeps_the_totals_and_the_step_limit(self):
        s = self.create(task_id="counter/train/2").session_id  # goal 5
        o = self.step(s, "<answer>Inc || Inc || Inc</answer>")  # the third is dropped (2 per turn) and counted
        self.assertEqual([e.action for e in o.events], ["Inc", "Inc"])
        self.assertEqual((o.stats.steps, o.stats.turns, o.stats.invalid_actions), (2, 1, 0))
        self.assertAlmostEqual(o.reward, 1.0)
        o = self.step(s, "gibberish")
        self.assertEqual((o.stats.steps, o.stats.turns, o.stats.invalid_actions), (3, 2, 1))
        self.assertAlmostEqual(o.stats.episode_return, 0.9)
        o = self.step(s, "<answer>Inc || Dec</answer>")  # at 3 after 5 steps
        o = self.step(s, "<answer>Inc || Inc</answer>")  # only one step was left: the limit ends the episode at 4
        self.assertEqual(len(o.events), 1)
        self.assertTrue(o.done and o.stats.truncated and not o.stats.solved)
        self.assertEqual(o.stats.steps, 6)
        with self.assertRaises(grpc.RpcError) as e:
            self.step(s, "<answer>Inc</answer>")
        self.assertEqual(e.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)

    def test_a_pit_ends_the_episode_unsolved(self):
        s = self.create(task_id="counter/train/0").session_id
        o = self.step(s, "<answer>Dec || Inc</answer>")  # the episode ends at the pit: Inc is never played
        self.assertEqual(len(o.events), 1)
        self.assertTrue(o.done and o.stats.truncated and o.events[0].deadlock)
        self.assertEqual(o.stats.deadlocks, 1)

    def test_batches_sessions_and_limits(self):
        a = self.create(task_id="counter/train/0").session_id
        b = self.create(task_id="counter/train/0").session_id
        r = self.stub.BatchStep(env_pb2.BatchStepRequest(steps=[
            env_pb2.StepRequest(session_id=a, answer="<answer>Inc</answer>"),
            env_pb2.StepRequest(session_id=a, answer="<answer>Inc</answer>"),
            env_pb2.StepRequest(session_id="nope", answer="")]))
        self.assertEqual([x.status.code for x in r.results], [0, grpc.StatusCode.INVALID_ARGUMENT.value[0],
                                                              grpc.StatusCode.NOT_FOUND.value[0]])
        self.assertEqual(r.results[0].observation.stats.turns, 1)
        self.assertFalse(r.results[1].HasField("observation"))
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.BatchStep(env_pb2.BatchStepRequest(steps=[env_pb2.StepRequest(session_id=b)] * 4))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.create(task_id="counter/train/0")
        self.create(task_id="counter/train/0")
        with self.assertRaises(grpc.RpcError) as e:  # the fifth session: over max_sessions
            self.create(task_id="counter/train/0")
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.stub.CloseSession(env_pb2.CloseSessionRequest(session_id=a))
        self.stub.CloseSession(env_pb2.CloseSessionRequest(session_id=a))  # idempotent
        self.assertEqual(self.servicer.num_sessions(), 3)
        self.assertEqual(self.servicer.expire_idle_sessions(now=1e18), 3)
        with self.assertRaises(grpc.RpcError) as e:
            self.step(b, "<answer>Inc</answer>")
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_parse_answer(self):
        names = ["Up", "Down"]
        self.assertEqual(kit.parse_answer("<ANSWER> up ||Down</answer>", names, 3), (True, [("Up", "up"), ("Down", "Down")], 0))
        self.assertEqual(kit.parse_answer("<answer>Up || Jump", names, 3), (True, [("Up", "Up"), (None, "Jump")], 0))
        self.assertEqual(kit.parse_answer("<answer>Up||Up||Up</answer>", names, 2)[2], 1)
        self.assertFalse(kit.parse_answer("<answer>  </answer>", names, 3)[0])
        self.assertFalse(kit.parse_answer("Up", names, 3)[0])


if __name__ == "__main__":
    unittest.main()
