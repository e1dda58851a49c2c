"""The env-worker kit: write an environment as a small Python class, serve it as skillsd.v1.EnvService.

An environment is a subclass of `Env` (any answer format) or of `ActionEnv` (a fixed set of actions, answered
as `<answer>Up || Left</answer>`, the Sokoban worker's format). The kit does the rest of the contract
(proto/skillsd/v1/env.proto): sessions and their ids, task ids and split bounds, the episode totals, batched
steps with per-item errors, idle expiry, the session limit, grpc.health.v1, message limits, and a graceful drain
on SIGTERM (health NOT_SERVING, a grace period, in-flight calls finish, exit 0), as skillsd's C++ servers do.

    class MyEnv(ActionEnv):
        def spec(self): ...
        def reset(self, task): ...        # returns the first observation's text
        def act(self, action): ...        # plays one action, returns an Event
        def observation(self, feedback): ...
    if __name__ == "__main__":
        sys.exit(serve_main(MyEnv, "my-env"))

`skillsd env-check --target=HOST:PORT` checks a running worker against the contract (docs/environments.md).
"""

import argparse
import concurrent.futures
import dataclasses
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple

import grpc

try:
    from skillsd.v1 import common_pb2, env_pb2, env_pb2_grpc
    from skillsd_health import health_pb2, health_pb2_grpc
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError(
        "skillsd_env: the generated Python stubs are missing (%s). Build (deploy/build.sh writes build/python) or "
        "run env_workers/python/gen_stubs.sh DIR, then put DIR and env_workers/python on PYTHONPATH." % e) from e

log = logging.getLogger("skillsd_env")

SPLIT_NAMES = {common_pb2.SPLIT_TRAIN: "train", common_pb2.SPLIT_TEST: "test",
               common_pb2.SPLIT_PROCEDURAL: "procedural"}
SPLIT_CODES = {name: code for code, name in SPLIT_NAMES.items()}


class TaskError(ValueError):
    """A task that does not exist (raised by Env.reset for tasks the kit cannot rule out itself)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One task: a level of a split ("train", "test"), or a procedural one made from `seed`."""
    split: str
    index: int = 0
    seed: int = 0

    def task_id(self, env: str) -> str:
        return "%s/%s/%d" % (env, self.split, self.seed if self.split == "procedural" else self.index)


@dataclasses.dataclass
class Spec:
    """What GetSpec says. `actions`: (name, answer that plays it alone), empty for free-text envs. `train_order`:
    the training task indices in the order the learner hands them out (None: index order)."""
    name: str
    system_prompt: str
    max_steps: int
    max_actions_per_turn: int
    train_levels: int
    test_levels: int
    actions: Sequence[Tuple[str, str]] = ()
    train_order: Optional[Sequence[int]] = None
    procedural: bool = False  # whether "<env>/procedural/<seed>" tasks exist


@dataclasses.dataclass
class Event:
    """One executed action (invalid ones included), as StepEvent describes it."""
    action: str
    reward: float = 0.0
    invalid: bool = False
    moved: bool = False
    bumped: bool = False
    deadlock: bool = False  # the task cannot be solved any more


@dataclasses.dataclass
class Turn:
    """What one answer did. The kit adds up the totals (steps, return, invalid actions) from the events."""
    text: str
    events: List[Event]
    done: bool = False
    solved: bool = False
    completion: float = 0.0


class Env:
    """One episode at a time of one task; the server makes one per session (never shared between threads)."""

    def spec(self) -> Spec:
        raise NotImplementedError

    def reset(self, task: Task) -> str:
        """Starts an episode; returns the first observation's text. Raise TaskError for a task that does not exist."""
        raise NotImplementedError

    def step(self, answer: str, steps_left: int) -> Turn:
        """Plays one answer (free text) with at most `steps_left` actions. An answer that cannot be parsed is an
        invalid action: one invalid Event, no move, a penalty (reward <= 0). Never raises for bad answers."""
        raise NotImplementedError

    def optimal_actions(self) -> Optional[List[str]]:
        """The actions that begin a shortest (or most likely) solution from the current state, for measurement;
        [] when none does, None when the env has no oracle."""
        return None


ANSWER_RE = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.IGNORECASE | re.DOTALL)


def parse_answer(text: str, names: Sequence[str], max_actions: int):
    """Sokoban's answer format: `<answer>A || B</answer>` (tags in any case; a missing close tag ends at the end).
    Returns (found, items, dropped): items are (canonical name or None when invalid, raw text), at most
    max_actions; `dropped` counts the items past that."""
    m = ANSWER_RE.search(text)
    if m is None or not m.group(1).strip():
        return False, [], 0
    by_lower = {n.lower(): n for n in names}
    items, dropped = [], 0
    for piece in m.group(1).split("||"):
        if len(items) >= max_actions:
            dropped += 1
            continue
        piece = piece.strip()
        items.append((by_lower.get(piece.lower()), piece[:64]))
    return True, items, dropped


class ActionEnv(Env):
    """An env with a fixed set of actions answered in Sokoban's format. Subclasses implement spec(), reset(),
    act(name) -> Event, observation(feedback) -> str, and the solved / completion properties."""

    invalid_reward = -0.1  # the penalty of an invalid action (Sokoban's step reward)

    @property
    def solved(self) -> bool:
        raise NotImplementedError

    @property
    def failed(self) -> bool:
        """The episode is over without success (a hole, a deadlock that ends it)."""
        return False

    @property
    def completion(self) -> float:
        return 1.0 if self.solved else 0.0

    def act(self, action: str) -> Event:
        raise NotImplementedError

    def observation(self, feedback: str) -> str:
        raise NotImplementedError

    def step(self, answer: str, steps_left: int) -> Turn:
        spec = self.spec()
        found, items, dropped = parse_answer(answer, [a for a, _ in spec.actions], spec.max_actions_per_turn)
        events = []
        if not found:
            events.append(Event(action="no <answer>", invalid=True, reward=self.invalid_reward))
            feedback = "Your reply had no <answer>...</answer> with moves; that cost a move."
        else:
            for name, raw in items:
                if self.solved or self.failed or len(events) >= steps_left:
                    break
                events.append(Event(action=raw, invalid=True, reward=self.invalid_reward) if name is None
                              else self.act(name))
            feedback = ""
            if dropped or any(e.invalid for e in events):
                feedback = "Some moves were not valid (use %s; at most %d per answer)." % (
                    ", ".join(a for a, _ in spec.actions), spec.max_actions_per_turn)
        return Turn(text=self.observation(feedback), events=events, done=self.solved or self.failed,
                    solved=self.solved, completion=self.completion)


class _Session:
    def __init__(self, env: Env):
        self.lock = threading.Lock()
        self.env = env
        self.task: Optional[Task] = None
        self.with_optimal_actions = False
        self.stats = common_pb2.EpisodeStats()
        self.running = False
        self.last_used = time.monotonic()


class EnvServicer(env_pb2_grpc.EnvServiceServicer):
    """skillsd.v1.EnvService over Env instances made by `factory` (one per session)."""

    def __init__(self, factory: Callable[[], Env], max_sessions: int = 4096, idle_timeout_s: float = 600.0,
                 max_batch_size: int = 1024):
        self._factory = factory
        self._spec = factory().spec()
        self._max_sessions = max_sessions
        self._idle_timeout_s = idle_timeout_s
        self._max_batch_size = max_batch_size
        self._lock = threading.Lock()
        self._sessions = {}
        self._next = 0
        self._last_sweep = time.monotonic()

    # --- the contract -------------------------------------------------------------------------------------------

    def GetSpec(self, request, context):
        s = self._spec
        out = env_pb2.GetSpecResponse(env=s.name, system_prompt=s.system_prompt, max_steps=s.max_steps,
                                      max_actions_per_turn=s.max_actions_per_turn, train_levels=s.train_levels,
                                      test_levels=s.test_levels, max_batch_size=self._max_batch_size)
        order = s.train_order if s.train_order is not None else range(s.train_levels)
        for i in order:
            out.train_tasks.add().CopyFrom(self._task_ref(Task("train", i)))
        for name, answer in s.actions:
            out.actions.add(name=name, answer=answer)
        return out

    def CreateSession(self, request, context):
        task = self._resolve(request.task, context)
        self._maybe_sweep()
        session = _Session(self._factory())
        with session.lock:
            observation = self._reset(session, task, request.with_optimal_actions, context)
        with self._lock:
            if len(self._sessions) >= self._max_sessions:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              "session limit reached (%d); close sessions first" % self._max_sessions)
            self._next += 1
            session_id = "s%d-%s" % (self._next, secrets.token_hex(6))
            self._sessions[session_id] = session
        return env_pb2.CreateSessionResponse(session_id=session_id, task=self._task_ref(task),
                                             observation=observation)

    def Reset(self, request, context):
        session = self._find(request.session_id, context)
        with session.lock:
            task = self._resolve(request.task, context) if request.HasField("task") else session.task
            observation = self._reset(session, task, request.with_optimal_actions, context)
        return env_pb2.ResetResponse(task=self._task_ref(task), observation=observation)

    def Step(self, request, context):
        code, message, observation = self._step(request.session_id, request.answer)
        if code != grpc.StatusCode.OK:
            context.abort(code, message)
        return env_pb2.StepResponse(observation=observation)

    def BatchStep(self, request, context):
        if len(request.steps) > self._max_batch_size:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "batch of %d steps exceeds max_batch_size %d" % (
                len(request.steps), self._max_batch_size))
        out = env_pb2.BatchStepResponse()
        seen = set()
        for step in request.steps:
            result = out.results.add()
            if step.session_id in seen:
                code, message, observation = (grpc.StatusCode.INVALID_ARGUMENT,
                                              "session appears more than once in the batch", None)
            else:
                seen.add(step.session_id)
                code, message, observation = self._step(step.session_id, step.answer)
            if code == grpc.StatusCode.OK:
                result.observation.CopyFrom(observation)
            else:
                result.status.code = code.value[0]
                result.status.message = message
        return out

    def CloseSession(self, request, context):
        with self._lock:
            self._sessions.pop(request.session_id, None)
        return env_pb2.CloseSessionResponse()

    # --- helpers --------------------------------------------------------------------------------------------------

    def num_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def expire_idle_sessions(self, now: Optional[float] = None) -> int:
        cutoff = (time.monotonic() if now is None else now) - self._idle_timeout_s
        with self._lock:
            idle = [k for k, s in self._sessions.items() if s.last_used < cutoff]
            for k in idle:
                del self._sessions[k]
        return len(idle)

    def _maybe_sweep(self):
        now = time.monotonic()
        if now - self._last_sweep > self._idle_timeout_s / 8:
            self._last_sweep = now
            self.expire_idle_sessions(now)

    def _task_ref(self, task: Task):
        return common_pb2.TaskRef(task_id=task.task_id(self._spec.name), env=self._spec.name,
                                  split=SPLIT_CODES[task.split], level_index=task.index, seed=task.seed)

    def _resolve(self, ref, context) -> Task:
        """The Task a TaskRef names, or an INVALID_ARGUMENT / OUT_OF_RANGE abort that says why not."""
        try:
            if ref.split == common_pb2.SPLIT_UNSPECIFIED:
                parts = ref.task_id.split("/")
                if len(parts) != 3 or parts[1] not in SPLIT_CODES or not re.fullmatch(r"\d+", parts[2]):
                    raise TaskError("task id '%s' is not <env>/<train|test|procedural>/<number>" % ref.task_id[:100])
                if parts[0] != self._spec.name:
                    raise TaskError("task id '%s' is not of this env (%s)" % (ref.task_id[:100], self._spec.name))
                split, number = parts[1], int(parts[2])
                task = Task(split, 0, number) if split == "procedural" else Task(split, number)
            else:
                if ref.split not in SPLIT_NAMES:
                    raise TaskError("unknown split %d" % ref.split)
                task = Task(SPLIT_NAMES[ref.split], ref.level_index, ref.seed)
            if task.split == "procedural":
                if not self._spec.procedural:
                    raise TaskError("this env has no procedural tasks")
                return Task("procedural", 0, task.seed)
            size = self._spec.train_levels if task.split == "train" else self._spec.test_levels
            if not 0 <= task.index < size:
                context.abort(grpc.StatusCode.OUT_OF_RANGE, "%s task %d does not exist (the split has %d)" % (
                    task.split, task.index, size))
            return Task(task.split, task.index, 0)
        except TaskError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))

    def _reset(self, session: _Session, task: Task, with_optimal_actions: bool, context):
        try:
            text = session.env.reset(task)
        except TaskError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        session.task = task
        session.with_optimal_actions = with_optimal_actions
        session.stats = common_pb2.EpisodeStats()
        session.running = True
        session.last_used = time.monotonic()
        observation = env_pb2.Observation(text=text, stats=session.stats)
        self._add_optimal_actions(session, observation)
        return observation

    def _add_optimal_actions(self, session: _Session, observation):
        if session.with_optimal_actions:
            best = session.env.optimal_actions()
            if best:
                observation.optimal_actions.actions.extend(best)

    def _lookup(self, session_id: str) -> Tuple[Optional[_Session], str]:
        """The session (marked as used now), or None and the NOT_FOUND message."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            return None, "unknown session '%s' (closed or expired?)" % session_id[:64]
        session.last_used = time.monotonic()
        return session, ""

    def _find(self, session_id: str, context) -> _Session:
        session, message = self._lookup(session_id)
        if session is None:
            context.abort(grpc.StatusCode.NOT_FOUND, message)
        return session

    def _step(self, session_id: str, answer: str):
        """(code, message, Observation) of one step; never raises for the caller's mistakes."""
        session, message = self._lookup(session_id)
        if session is None:
            return grpc.StatusCode.NOT_FOUND, message, None
        with session.lock:
            if not session.running:
                return grpc.StatusCode.FAILED_PRECONDITION, "the episode is over: Reset first", None
            s = session.stats
            steps_left = self._spec.max_steps - s.steps
            turn = session.env.step(answer, steps_left)
            events = turn.events[:max(0, steps_left)]
            observation = env_pb2.Observation(text=turn.text)
            for e in events:
                observation.events.add(turn=s.turns, action=e.action, invalid=e.invalid, bumped=e.bumped,
                                       moved=e.moved, deadlock=e.deadlock, reward=e.reward)
                observation.reward += e.reward
            s.steps += len(events)
            s.turns += 1
            s.episode_return += observation.reward
            s.invalid_actions += sum(1 for e in events if e.invalid)
            s.bumps += sum(1 for e in events if e.bumped)
            s.deadlocks += sum(1 for e in events if e.deadlock)
            s.solved = turn.solved
            s.completion = min(1.0, max(0.0, turn.completion))
            observation.done = turn.done or turn.solved or s.steps >= self._spec.max_steps
            s.truncated = observation.done and not s.solved
            session.running = not observation.done
            observation.stats.CopyFrom(s)
            self._add_optimal_actions(session, observation)
            return grpc.StatusCode.OK, "", observation


class HealthServicer(health_pb2_grpc.HealthServicer):
    """grpc.health.v1 for the whole server ("") and the EnvService by name."""

    SERVICES = ("", "skillsd.v1.EnvService")

    def __init__(self):
        self._cond = threading.Condition()
        self._serving = True

    def set_serving(self, serving: bool):
        with self._cond:
            self._serving = serving
            self._cond.notify_all()

    def _status(self):
        return (health_pb2.HealthCheckResponse.SERVING if self._serving
                else health_pb2.HealthCheckResponse.NOT_SERVING)

    def Check(self, request, context):
        if request.service not in self.SERVICES:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service '%s'" % request.service[:100])
        return health_pb2.HealthCheckResponse(status=self._status())

    def Watch(self, request, context):
        if request.service not in self.SERVICES:
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            return
        last = None
        while context.is_active():
            with self._cond:
                if last == self._serving:
                    self._cond.wait(timeout=1.0)
                current = self._serving
            if current != last:
                last = current
                yield health_pb2.HealthCheckResponse(status=self._status())


def _write_port_file(path: str, port: int):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump({"grpc_port": port, "pid": os.getpid()}, f)
        f.write("\n")
    os.replace(tmp, path)


def serve_main(factory: Callable[[], Env], name: str, argv: Optional[Sequence[str]] = None,
               add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None,
               make_factory: Optional[Callable[[argparse.Namespace], Callable[[], Env]]] = None) -> int:
    """A worker's main: flags like skillsd-env's, serve until SIGTERM or SIGINT, drain, return the exit code.
    `add_arguments` adds the env's own flags; `make_factory(args)` builds the factory from them (else `factory`)."""
    parser = argparse.ArgumentParser(prog=name, description="skillsd env worker: %s over skillsd.v1.EnvService" % name)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=50051, help="gRPC port (0: any free port; see --port_file)")
    parser.add_argument("--port_file", default="", help='written once listening: {"grpc_port": N, "pid": N}')
    parser.add_argument("--max_sessions", type=int, default=4096, help="CreateSession beyond: RESOURCE_EXHAUSTED")
    parser.add_argument("--session_idle_seconds", type=float, default=600, help="idle sessions are closed after")
    parser.add_argument("--max_batch_size", type=int, default=1024, help="largest BatchStep accepted")
    parser.add_argument("--max_message_bytes", type=int, default=64 << 20, help="largest message sent or received")
    parser.add_argument("--threads", type=int, default=8, help="threads serving calls")
    parser.add_argument("--drain_grace_ms", type=int, default=500,
                        help="on SIGTERM: health NOT_SERVING this long before refusing new calls")
    parser.add_argument("--shutdown_deadline_ms", type=int, default=5000,
                        help="then in-flight calls get this long to finish")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    for flag in ("max_sessions", "max_batch_size", "max_message_bytes", "threads"):
        if getattr(args, flag) < 1:
            parser.error("--%s must be positive" % flag)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        env_factory = make_factory(args) if make_factory is not None else factory
        servicer = EnvServicer(env_factory, args.max_sessions, args.session_idle_seconds, args.max_batch_size)
    except (ValueError, OSError) as e:
        log.error("%s: %s", name, e)
        return 2
    health = HealthServicer()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=args.threads),
                         options=[("grpc.max_receive_message_length", args.max_message_bytes),
                                  ("grpc.max_send_message_length", args.max_message_bytes),
                                  ("grpc.so_reuseport", 0)])
    env_pb2_grpc.add_EnvServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    address = "%s:%d" % (args.host, args.port)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:  # grpcio raises when the address cannot be bound
        port, error = 0, e
    else:
        error = None
    if port == 0:
        log.error("%s: cannot listen on %s%s", name, address, " (%s)" % error if error else " (port in use?)")
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    if args.port_file:
        _write_port_file(args.port_file, port)
    spec = servicer.GetSpec(None, None)
    log.info("%s: serving %s (%d train, %d test tasks) on %s:%d", name, spec.env, spec.train_levels,
             spec.test_levels, args.host, port)
    stop.wait()
    log.info("%s: draining (health NOT_SERVING, %d ms grace, then up to %d ms for calls in flight)", name,
             args.drain_grace_ms, args.shutdown_deadline_ms)
    health.set_serving(False)
    time.sleep(args.drain_grace_ms / 1000.0)
    server.stop(args.shutdown_deadline_ms / 1000.0).wait()
    log.info("%s: stopped", name)
    return 0
