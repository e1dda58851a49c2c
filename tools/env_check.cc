#include "tools/env_check.h"

#include <cmath>
#include <functional>
#include <initializer_list>
#include <thread>
#include <utility>

#include <google/protobuf/descriptor.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "skillsd/v1/options.pb.h"

namespace skillsd {
namespace {

namespace v1 = ::skillsd::v1;
using grpc::StatusCode;

constexpr char kUnknownSession[] = "env-check-no-such-session";

std::string CodeName(StatusCode code) { return absl::StatusCodeToString(static_cast<absl::StatusCode>(code)); }

std::string Describe(const grpc::Status& status) {
  if (status.ok()) return "OK";
  return absl::StrCat(CodeName(status.error_code()), ": ", status.error_message().substr(0, 200));
}

std::string DescribeTask(const v1::TaskRef& task) {
  if (!task.task_id().empty() && task.split() == v1::SPLIT_UNSPECIFIED) return absl::StrCat("'", task.task_id(), "'");
  return absl::StrCat(v1::Split_Name(task.split()), "/", task.level_index());
}

bool Near(double a, double b) { return std::abs(a - b) <= 1e-4 * std::max(1.0, std::abs(b)); }

// The calls of the contract, each with its own deadline.
class Client {
 public:
  Client(const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline)
      : env_(v1::EnvService::NewStub(channel)),
        health_(grpc::health::v1::Health::NewStub(channel)),
        deadline_(deadline) {}

  grpc::Status GetSpec(v1::GetSpecResponse* out) {
    return Call([&](grpc::ClientContext* c) { return env_->GetSpec(c, v1::GetSpecRequest(), out); });
  }
  grpc::Status Create(const v1::TaskRef& task, bool with_optimal_actions, v1::CreateSessionResponse* out) {
    v1::CreateSessionRequest request;
    *request.mutable_task() = task;
    request.set_with_optimal_actions(with_optimal_actions);
    return Call([&](grpc::ClientContext* c) { return env_->CreateSession(c, request, out); });
  }
  // `task` null: the session's current task.
  grpc::Status Reset(const std::string& session, const v1::TaskRef* task, bool with_optimal_actions,
                     v1::ResetResponse* out) {
    v1::ResetRequest request;
    request.set_session_id(session);
    if (task != nullptr) *request.mutable_task() = *task;
    request.set_with_optimal_actions(with_optimal_actions);
    return Call([&](grpc::ClientContext* c) { return env_->Reset(c, request, out); });
  }
  grpc::Status Step(const std::string& session, const std::string& answer, v1::Observation* out) {
    v1::StepRequest request;
    request.set_session_id(session);
    request.set_answer(answer);
    v1::StepResponse response;
    grpc::Status status = Call([&](grpc::ClientContext* c) { return env_->Step(c, request, &response); });
    if (out != nullptr) *out = response.observation();
    return status;
  }
  grpc::Status Batch(const v1::BatchStepRequest& request, v1::BatchStepResponse* out) {
    return Call([&](grpc::ClientContext* c) { return env_->BatchStep(c, request, out); });
  }
  grpc::Status Close(const std::string& session) {
    v1::CloseSessionRequest request;
    request.set_session_id(session);
    v1::CloseSessionResponse response;
    return Call([&](grpc::ClientContext* c) { return env_->CloseSession(c, request, &response); });
  }
  grpc::Status Health(const std::string& service, grpc::health::v1::HealthCheckResponse* out) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    return Call([&](grpc::ClientContext* c) { return health_->Check(c, request, out); });
  }

 private:
  grpc::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& call) {
    grpc::ClientContext context;
    SetDeadline(&context, deadline_);
    return call(&context);
  }

  std::unique_ptr<v1::EnvService::Stub> env_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  const absl::Duration deadline_;
};

// Records one check's failures. Thread-safe (the concurrency check writes from many threads).
class Check {
 public:
  explicit Check(EnvCheckResult* result) : result_(result) {}

  // Records `what` as a failure unless `ok`; returns ok.
  bool Expect(bool ok, const std::string& what) {
    if (!ok) Fail(what);
    return ok;
  }
  bool ExpectOk(const grpc::Status& status, const std::string& call) {
    return Expect(status.ok(), absl::StrCat(call, ": ", Describe(status), ", want OK"));
  }
  // The call must fail with one of `want` (a clean refusal, not OK, not INTERNAL or UNKNOWN).
  bool ExpectCode(const grpc::Status& status, std::initializer_list<StatusCode> want, const std::string& call) {
    for (StatusCode code : want) {
      if (status.error_code() == code) return true;
    }
    std::vector<std::string> names;
    for (StatusCode code : want) names.push_back(CodeName(code));
    Fail(absl::StrCat(call, ": ", Describe(status), ", want ", absl::StrJoin(names, " or ")));
    return false;
  }
  void Fail(const std::string& what) {
    absl::MutexLock lock(&mu_);
    if (result_->failures.size() < 20) result_->failures.push_back(what);
  }
  void Note(const std::string& what) {
    absl::MutexLock lock(&mu_);
    result_->notes.push_back(what);
  }

 private:
  absl::Mutex mu_;
  EnvCheckResult* result_;
};

// A refused task or session: the reasons the contract allows for bad input.
constexpr std::initializer_list<StatusCode> kBadTask = {StatusCode::INVALID_ARGUMENT, StatusCode::NOT_FOUND,
                                                        StatusCode::OUT_OF_RANGE};

class Suite {
 public:
  Suite(const std::shared_ptr<grpc::Channel>& channel, const EnvCheckOptions& options)
      : client_(channel, options.call_deadline), options_(options) {}

  EnvCheckReport Run() {
    EnvCheckReport report;
    Add(&report, "health", "grpc.health.v1 says the server is SERVING", [this](Check& c) { Health(c); });
    const bool spec_ok = Add(&report, "spec", "GetSpec describes the env consistently (tasks, actions, limits)",
                             [this](Check& c) { Spec(c); });
    if (!have_spec_) {
      report.summary = "no spec (GetSpec failed): the other checks need it";
      return report;
    }
    report.summary = absl::StrCat(spec_.env(), ": ", spec_.train_levels(), " train and ", spec_.test_levels(),
                                  " test tasks, ", spec_.actions_size(), " actions, at most ", spec_.max_steps(),
                                  " steps an episode, batches up to ", spec_.max_batch_size());
    if (!spec_ok) report.summary += " (the spec check failed; later checks use it as it is)";
    Add(&report, "create", "CreateSession by split and index or by task id; bad tasks refused",
        [this](Check& c) { Create(c); });
    Add(&report, "reset", "Reset restarts the episode on the same or another task; a bad task changes nothing",
        [this](Check& c) { Reset(c); });
    Add(&report, "step", "Step plays each action: events, totals and rewards add up; episodes end in max_steps",
        [this](Check& c) { Step(c); });
    Add(&report, "oracle", "with_optimal_actions: the listed moves solve the task", [this](Check& c) { Oracle(c); });
    Add(&report, "malformed", "unparsable answers are invalid actions (OK, counted), not errors",
        [this](Check& c) { Malformed(c); });
    Add(&report, "sessions", "unknown and closed sessions are NOT_FOUND; sessions are independent",
        [this](Check& c) { Sessions(c); });
    Add(&report, "batch", "BatchStep: one result per item, in order; bad items fail alone; the size limit",
        [this](Check& c) { Batch(c); });
    Add(&report, "idempotent", "methods the contract marks idempotent can be repeated",
        [this](Check& c) { Idempotent(c); });
    Add(&report, "limits", "a long answer is played; a message over the limit is refused and nothing breaks",
        [this](Check& c) { Limits(c); });
    Add(&report, "concurrency",
        absl::StrCat(options_.concurrent_sessions, " sessions created, stepped, batched and closed at once"),
        [this](Check& c) { Concurrency(c); });
    return report;
  }

 private:
  bool Add(EnvCheckReport* report, const std::string& name, const std::string& what,
           const std::function<void(Check&)>& body) {
    EnvCheckResult result;
    result.name = name;
    result.what = what;
    {
      Check check(&result);
      body(check);
    }
    for (const std::string& session : open_) (void)client_.Close(session);
    open_.clear();
    report->checks.push_back(std::move(result));
    return report->checks.back().passed();
  }

  // The i-th training task as the spec lists it (by split and index when it lists none).
  v1::TaskRef TrainTask(int i) const {
    if (i < spec_.train_tasks_size()) return spec_.train_tasks(i);
    v1::TaskRef task;
    task.set_split(v1::SPLIT_TRAIN);
    task.set_level_index(i);
    return task;
  }
  std::string Answer(int i) const {
    return spec_.actions_size() == 0 ? std::string() : spec_.actions(i % spec_.actions_size()).answer();
  }

  // Opens a session (closed when the check ends); empty on failure, recorded in `c`.
  std::string Open(Check& c, const v1::TaskRef& task, bool with_optimal_actions = false,
                   v1::CreateSessionResponse* out = nullptr) {
    v1::CreateSessionResponse response;
    grpc::Status status = client_.Create(task, with_optimal_actions, &response);
    if (!c.ExpectOk(status, absl::StrCat("CreateSession(", DescribeTask(task), ")"))) return "";
    if (!c.Expect(!response.session_id().empty(), "CreateSession returned an empty session_id")) return "";
    open_.push_back(response.session_id());
    if (out != nullptr) *out = response;
    return response.session_id();
  }

  // Steps `session` with `answer` until the episode ends; false (recorded) when it does not end within the
  // spec's max_steps turns (every turn takes at least one step).
  bool PlayToEnd(Check& c, const std::string& session, const std::string& answer, v1::Observation* last) {
    for (int turn = 0; turn <= spec_.max_steps(); ++turn) {
      if (!c.ExpectOk(client_.Step(session, answer, last), absl::StrCat("Step at turn ", turn))) return false;
      if (last->done()) return true;
    }
    c.Fail(absl::StrCat("the episode did not end within max_steps = ", spec_.max_steps(), " turns"));
    return false;
  }

  // A fresh episode's first observation.
  void ExpectFirstObservation(Check& c, const v1::Observation& o, const std::string& call) {
    c.Expect(!o.text().empty(), absl::StrCat(call, ": empty observation text"));
    c.Expect(!o.done(), absl::StrCat(call, ": the new episode is already done"));
    c.Expect(o.reward() == 0, absl::StrCat(call, ": reward ", o.reward(), " on reset, want 0"));
    c.Expect(o.events_size() == 0, absl::StrCat(call, ": ", o.events_size(), " events on reset, want none"));
    const v1::EpisodeStats& s = o.stats();
    c.Expect(s.steps() == 0 && s.turns() == 0 && s.invalid_actions() == 0 && s.episode_return() == 0 && !s.solved(),
             absl::StrCat(call, ": the totals of a new episode are not zero: ", s.ShortDebugString()));
  }

  // The bookkeeping of one answered turn: `before` the totals before it, `turn` its 0-based index.
  void ExpectTurn(Check& c, const v1::EpisodeStats& before, int turn, const v1::Observation& o,
                  const std::string& call) {
    const v1::EpisodeStats& s = o.stats();
    c.Expect(o.events_size() >= 1, absl::StrCat(call, ": no StepEvent (one per executed action, invalid included)"));
    c.Expect(s.turns() == before.turns() + 1, absl::StrCat(call, ": stats.turns ", s.turns(), ", want ", turn + 1));
    c.Expect(s.steps() == before.steps() + o.events_size(),
             absl::StrCat(call, ": stats.steps ", s.steps(), " after ", before.steps(), " and ", o.events_size(),
                          " events"));
    double event_reward = 0;
    int invalid = 0;
    for (const v1::StepEvent& e : o.events()) {
      event_reward += e.reward();
      invalid += e.invalid() ? 1 : 0;
      c.Expect(e.turn() == turn, absl::StrCat(call, ": an event of turn ", e.turn(), ", want ", turn));
    }
    c.Expect(Near(o.reward(), event_reward),
             absl::StrCat(call, ": reward ", o.reward(), " but its events add up to ", event_reward));
    c.Expect(Near(s.episode_return(), before.episode_return() + o.reward()),
             absl::StrCat(call, ": episode_return ", s.episode_return(), " after ", before.episode_return(),
                          " and reward ", o.reward()));
    c.Expect(s.invalid_actions() == before.invalid_actions() + invalid,
             absl::StrCat(call, ": stats.invalid_actions ", s.invalid_actions(), " after ", before.invalid_actions(),
                          " and ", invalid, " invalid events"));
    if (o.done()) {
      c.Expect(s.solved() != s.truncated(),
               absl::StrCat(call, ": a finished episode is solved or truncated, exactly one: ", s.ShortDebugString()));
    } else {
      c.Expect(!s.solved(), absl::StrCat(call, ": solved but not done"));
    }
    c.Expect(s.completion() >= 0 && s.completion() <= 1, absl::StrCat(call, ": completion ", s.completion()));
  }

  void Health(Check& c) {
    grpc::health::v1::HealthCheckResponse response;
    if (c.ExpectOk(client_.Health("", &response), "Health.Check(\"\")")) {
      c.Expect(response.status() == grpc::health::v1::HealthCheckResponse::SERVING,
               absl::StrCat(
                   "Health.Check(\"\"): ", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()),
                   ", want SERVING"));
    }
    // Per-service status is optional (gRPC C++ serves the whole server under ""); when given it must agree.
    const std::string name = v1::EnvService::service_full_name();
    grpc::Status status = client_.Health(name, &response);
    if (status.error_code() == StatusCode::NOT_FOUND) {
      c.Note(absl::StrCat("no health status for '", name, "', only the server's"));
    } else if (c.ExpectOk(status, absl::StrCat("Health.Check(\"", name, "\")"))) {
      c.Expect(response.status() == grpc::health::v1::HealthCheckResponse::SERVING,
               absl::StrCat("Health.Check(\"", name, "\"): not SERVING"));
    }
  }

  void Spec(Check& c) {
    if (!c.ExpectOk(client_.GetSpec(&spec_), "GetSpec")) return;
    have_spec_ = true;
    const v1::GetSpecResponse& s = spec_;
    c.Expect(!s.env().empty() && s.env().find('/') == std::string::npos,
             absl::StrCat("env '", s.env(), "': want a non-empty name without '/' (task ids are <env>/<split>/<i>)"));
    c.Expect(!s.system_prompt().empty(), "system_prompt is empty");
    c.Expect(s.max_steps() > 0, absl::StrCat("max_steps ", s.max_steps(), ", want > 0"));
    c.Expect(s.max_actions_per_turn() > 0,
             absl::StrCat("max_actions_per_turn ", s.max_actions_per_turn(), ", want > 0"));
    c.Expect(s.train_levels() > 0, absl::StrCat("train_levels ", s.train_levels(), ", want > 0"));
    c.Expect(s.test_levels() >= 0, absl::StrCat("test_levels ", s.test_levels(), ", want >= 0"));
    c.Expect(s.max_batch_size() > 0, absl::StrCat("max_batch_size ", s.max_batch_size(), ", want > 0"));
    if (s.train_tasks_size() > 0) {
      c.Expect(s.train_tasks_size() == s.train_levels(),
               absl::StrCat(s.train_tasks_size(), " train_tasks but train_levels ", s.train_levels()));
      absl::flat_hash_set<int> indices;
      for (const v1::TaskRef& t : s.train_tasks()) {
        const std::string canonical = absl::StrCat(s.env(), "/train/", t.level_index());
        if (!c.Expect(t.split() == v1::SPLIT_TRAIN && t.env() == s.env() && t.task_id() == canonical &&
                          t.level_index() >= 0 && t.level_index() < s.train_levels() &&
                          indices.insert(t.level_index()).second,
                      absl::StrCat("train task {", t.ShortDebugString(), "}: want split SPLIT_TRAIN, env '", s.env(),
                                   "', task_id '", canonical, "', a distinct index below train_levels"))) {
          break;
        }
      }
    }
    absl::flat_hash_set<std::string> names, answers;
    for (const v1::NamedAction& a : s.actions()) {
      c.Expect(!a.name().empty() && !a.answer().empty(),
               absl::StrCat("action {", a.ShortDebugString(), "}: name and answer must be set"));
      c.Expect(names.insert(a.name()).second, absl::StrCat("action name '", a.name(), "' appears twice"));
      c.Expect(answers.insert(a.answer()).second, absl::StrCat("action answer '", a.answer(), "' appears twice"));
    }
    if (s.actions_size() == 0) c.Note("no fixed action set: the checks that play actions send no valid answer");
  }

  void Create(Check& c) {
    const v1::TaskRef task = TrainTask(0);
    v1::CreateSessionResponse first, again, by_id;
    if (Open(c, task, false, &first).empty()) return;
    ExpectFirstObservation(c, first.observation(), "CreateSession");
    const v1::TaskRef& resolved = first.task();
    c.Expect(!resolved.task_id().empty() && resolved.env() == spec_.env() && resolved.split() == v1::SPLIT_TRAIN,
             absl::StrCat("CreateSession resolved the task as {", resolved.ShortDebugString(),
                          "}: want task_id set, env '", spec_.env(), "', SPLIT_TRAIN"));
    if (!Open(c, task, false, &again).empty()) {
      c.Expect(again.session_id() != first.session_id(), "two CreateSession calls returned the same session_id");
      c.Expect(again.observation().text() == first.observation().text(),
               "the same task started with two different observations");
    }
    v1::TaskRef id_only;
    id_only.set_task_id(resolved.task_id());
    if (!Open(c, id_only, false, &by_id).empty()) {
      c.Expect(by_id.task().task_id() == resolved.task_id() && by_id.observation().text() == first.observation().text(),
               absl::StrCat("the task id '", resolved.task_id(), "' alone resolved to '", by_id.task().task_id(),
                            "' or another first observation"));
    }
    if (spec_.test_levels() > 0) {
      v1::TaskRef test;
      test.set_split(v1::SPLIT_TEST);
      v1::CreateSessionResponse t;
      if (!Open(c, test, false, &t).empty()) {
        c.Expect(t.task().split() == v1::SPLIT_TEST && t.task().task_id() != resolved.task_id(),
                 absl::StrCat("the first test task resolved as {", t.task().ShortDebugString(), "}"));
      }
    }
    std::vector<v1::TaskRef> bad(5);
    bad[0].set_split(v1::SPLIT_TRAIN);
    bad[0].set_level_index(spec_.train_levels());
    bad[1].set_split(v1::SPLIT_TRAIN);
    bad[1].set_level_index(-1);
    bad[2].set_split(v1::SPLIT_TEST);
    bad[2].set_level_index(spec_.test_levels());
    bad[3].set_task_id("not a task id");
    // bad[4]: nothing set at all.
    for (const v1::TaskRef& t : bad) {
      v1::CreateSessionResponse response;
      grpc::Status status = client_.Create(t, false, &response);
      if (status.ok()) open_.push_back(response.session_id());
      c.ExpectCode(status, kBadTask,
                   absl::StrCat("CreateSession(", t.ByteSizeLong() == 0 ? "an empty TaskRef" : DescribeTask(t), ")"));
    }
  }

  void Reset(Check& c) {
    v1::CreateSessionResponse first, other;
    const std::string s = Open(c, TrainTask(0), false, &first);
    if (s.empty()) return;
    c.ExpectOk(client_.Step(s, Answer(0), nullptr), "Step");
    v1::ResetResponse reset;
    if (c.ExpectOk(client_.Reset(s, nullptr, false, &reset), "Reset (same task)")) {
      ExpectFirstObservation(c, reset.observation(), "Reset");
      c.Expect(
          reset.task().task_id() == first.task().task_id() && reset.observation().text() == first.observation().text(),
          absl::StrCat("Reset without a task started '", reset.task().task_id(), "', want '", first.task().task_id(),
                       "' as created"));
    }
    if (spec_.train_levels() < 2) {
      c.Note("one training task: Reset to another task not checked");
      return;
    }
    const v1::TaskRef task1 = TrainTask(1);
    if (Open(c, task1, false, &other).empty()) return;
    if (c.ExpectOk(client_.Reset(s, &task1, false, &reset), "Reset (another task)")) {
      c.Expect(
          reset.task().task_id() == other.task().task_id() && reset.observation().text() == other.observation().text(),
          absl::StrCat("Reset to ", DescribeTask(task1), " started '", reset.task().task_id(), "', want '",
                       other.task().task_id(), "'"));
    }
    c.ExpectOk(client_.Step(s, Answer(0), nullptr), "Step after Reset");
    v1::TaskRef bad;
    bad.set_split(v1::SPLIT_TRAIN);
    bad.set_level_index(spec_.train_levels());
    c.ExpectCode(client_.Reset(s, &bad, false, &reset), kBadTask, "Reset to a task past the split");
    // Nothing changed: the episode goes on where it was (its second turn).
    v1::Observation o;
    if (c.ExpectOk(client_.Step(s, Answer(1), &o), "Step after a refused Reset")) {
      c.Expect(o.done() || o.stats().turns() == 2, absl::StrCat("after a refused Reset the episode is at turn ",
                                                                o.stats().turns(), ", want 2 (unchanged)"));
    }
  }

  void Step(Check& c) {
    if (spec_.actions_size() == 0) {
      c.Note("no fixed action set: only the end of an episode is checked (with an empty answer)");
    }
    for (int a = 0; a < spec_.actions_size(); ++a) {
      const v1::NamedAction& action = spec_.actions(a);
      v1::CreateSessionResponse created;
      const std::string s = Open(c, TrainTask(0), false, &created);
      if (s.empty()) return;
      v1::Observation o, o2;
      const std::string call = absl::StrCat("Step('", action.answer(), "')");
      if (!c.ExpectOk(client_.Step(s, action.answer(), &o), call)) continue;
      ExpectTurn(c, created.observation().stats(), 0, o, call);
      if (o.events_size() > 0) {
        c.Expect(o.events(0).action() == action.name() && !o.events(0).invalid(),
                 absl::StrCat(call, ": the event names '", o.events(0).action(), "'",
                              o.events(0).invalid() ? ", invalid" : "", ", want the spec's action '", action.name(),
                              "', valid"));
      }
      if (o.done()) continue;
      if (c.ExpectOk(client_.Step(s, action.answer(), &o2), call + " again")) {
        ExpectTurn(c, o.stats(), 1, o2, call + " again");
      }
    }
    // Any answer, repeated, ends the episode within max_steps turns; a finished episode refuses steps until a Reset.
    const std::string s = Open(c, TrainTask(0));
    if (s.empty()) return;
    v1::Observation last;
    if (!PlayToEnd(c, s, Answer(0), &last)) return;
    c.Expect(
        last.stats().steps() <= spec_.max_steps() || last.stats().solved(),
        absl::StrCat("the episode ended after ", last.stats().steps(), " steps, past max_steps ", spec_.max_steps()));
    c.ExpectCode(client_.Step(s, Answer(0), nullptr), {StatusCode::FAILED_PRECONDITION}, "Step on a finished episode");
    v1::ResetResponse reset;
    if (c.ExpectOk(client_.Reset(s, nullptr, false, &reset), "Reset of a finished episode")) {
      ExpectFirstObservation(c, reset.observation(), "Reset of a finished episode");
      c.ExpectOk(client_.Step(s, Answer(0), nullptr), "Step after the Reset of a finished episode");
    }
  }

  void Oracle(Check& c) {
    v1::CreateSessionResponse plain, created;
    if (Open(c, TrainTask(0), false, &plain).empty()) return;
    c.Expect(plain.observation().optimal_actions().actions_size() == 0,
             "optimal_actions listed on a session created without with_optimal_actions");
    const std::string s = Open(c, TrainTask(0), true, &created);
    if (s.empty()) return;
    if (created.observation().optimal_actions().actions_size() == 0) {
      c.Note("no oracle (no optimal_actions on a fresh task): skipped");
      return;
    }
    // A deterministic env repeats the same episode, so it solves every try or none; a stochastic one (slippery
    // ice) may fail a try that followed the oracle, so up to kTries episodes are played and one must be solved.
    constexpr int kTries = 20;
    int tries = 0, solved = 0;
    v1::Observation o = created.observation();
    while (solved == 0 && tries < kTries) {
      if (tries++ > 0) {
        v1::ResetResponse again;
        if (!c.ExpectOk(client_.Reset(s, nullptr, true, &again), "Reset with_optimal_actions")) return;
        o = again.observation();
      }
      for (int turn = 0; turn <= spec_.max_steps() && !o.done(); ++turn) {
        if (o.optimal_actions().actions_size() == 0) break;  // no way left to the goal (after a slip): a failed try
        const std::string& move = o.optimal_actions().actions(0);
        std::string answer;
        for (const v1::NamedAction& a : spec_.actions()) {
          if (a.name() == move) answer = a.answer();
        }
        if (!c.Expect(!answer.empty(), absl::StrCat("optimal action '", move, "' is not one of the spec's actions"))) {
          return;
        }
        if (!c.ExpectOk(client_.Step(s, answer, &o), absl::StrCat("Step('", answer, "') on the optimal path"))) return;
      }
      if (o.stats().solved()) {
        ++solved;
        c.Expect(o.done() && Near(o.stats().completion(), 1.0),
                 absl::StrCat("solved but not done or not complete: ", o.stats().ShortDebugString()));
        c.Expect(o.optimal_actions().actions_size() == 0, "optimal_actions listed after the task is solved");
      }
    }
    if (c.Expect(solved > 0, absl::StrCat("following optimal_actions solved none of ", tries,
                                          " episodes (the last: ", o.stats().ShortDebugString(), ")")) &&
        tries > 1) {
      c.Note(absl::StrCat("stochastic: the oracle's moves solved the task on try ", tries));
    }
    v1::ResetResponse reset;
    if (c.ExpectOk(client_.Reset(s, nullptr, false, &reset), "Reset without with_optimal_actions")) {
      c.Expect(reset.observation().optimal_actions().actions_size() == 0,
               "optimal_actions still listed after a Reset without with_optimal_actions");
    }
  }

  void Malformed(Check& c) {
    const std::vector<std::pair<std::string, std::string>> answers = {
        {"an empty answer", ""},
        {"prose", "I think I should go somewhere, maybe."},
        {"control characters", std::string("\x01\x02\x7f\t\r", 5)},
        {"non-ASCII text", "\xe5\x90\x91\xe4\xb8\x8a \xe2\xac\x86"},
        {"64 KiB of 'x'", std::string(64 << 10, 'x')},
    };
    v1::CreateSessionResponse created;
    const std::string s = Open(c, TrainTask(0), false, &created);
    if (s.empty()) return;
    v1::EpisodeStats before = created.observation().stats();
    for (const auto& [what, answer] : answers) {
      v1::Observation o;
      const std::string call = absl::StrCat("Step(", what, ")");
      if (!c.ExpectOk(client_.Step(s, answer, &o), call)) continue;
      ExpectTurn(c, before, before.turns(), o, call);
      c.Expect(o.stats().invalid_actions() > before.invalid_actions(),
               absl::StrCat(call, ": not counted as an invalid action"));
      c.Expect(o.reward() <= 0, absl::StrCat(call, ": reward ", o.reward(), " for an invalid answer, want <= 0"));
      before = o.stats();
      if (o.done()) {
        v1::ResetResponse reset;
        if (!c.ExpectOk(client_.Reset(s, nullptr, false, &reset), "Reset")) return;
        before = reset.observation().stats();
      }
    }
  }

  void Sessions(Check& c) {
    c.ExpectCode(client_.Step(kUnknownSession, Answer(0), nullptr), {StatusCode::NOT_FOUND}, "Step(unknown session)");
    v1::ResetResponse reset;
    c.ExpectCode(client_.Reset(kUnknownSession, nullptr, false, &reset), {StatusCode::NOT_FOUND},
                 "Reset(unknown session)");
    c.ExpectCode(client_.Step("", Answer(0), nullptr), {StatusCode::NOT_FOUND, StatusCode::INVALID_ARGUMENT},
                 "Step(empty session id)");
    c.ExpectOk(client_.Close(kUnknownSession), "CloseSession(unknown session)");
    const std::string a = Open(c, TrainTask(0));
    const std::string b = Open(c, TrainTask(0));
    if (a.empty() || b.empty()) return;
    c.ExpectOk(client_.Step(a, Answer(0), nullptr), "Step");
    v1::Observation o;
    if (c.ExpectOk(client_.Step(a, Answer(1), &o), "Step")) {
      c.Expect(o.done() || o.stats().turns() == 2,
               absl::StrCat("a session's second turn reads turns ", o.stats().turns()));
    }
    if (c.ExpectOk(client_.Step(b, Answer(0), &o), "Step of a second session")) {
      c.Expect(o.stats().turns() == 1,
               absl::StrCat("another session's steps leaked into this one: turns ", o.stats().turns(), ", want 1"));
    }
    c.ExpectOk(client_.Close(a), "CloseSession");
    c.ExpectCode(client_.Step(a, Answer(0), nullptr), {StatusCode::NOT_FOUND}, "Step(closed session)");
    c.ExpectCode(client_.Reset(a, nullptr, false, &reset), {StatusCode::NOT_FOUND}, "Reset(closed session)");
    c.ExpectOk(client_.Step(b, Answer(0), nullptr), "Step of a session after another was closed");
  }

  void Batch(Check& c) {
    v1::BatchStepResponse response;
    if (c.ExpectOk(client_.Batch(v1::BatchStepRequest(), &response), "BatchStep(no items)")) {
      c.Expect(response.results_size() == 0, "BatchStep(no items) returned results");
    }
    const std::string a = Open(c, TrainTask(0));
    const std::string b = Open(c, TrainTask(0));
    const std::string closed = Open(c, TrainTask(0));
    const std::string finished = Open(c, TrainTask(0));
    if (a.empty() || b.empty() || closed.empty() || finished.empty()) return;
    c.ExpectOk(client_.Close(closed), "CloseSession");
    v1::Observation last;
    if (!PlayToEnd(c, finished, Answer(0), &last)) return;
    struct Item {
      std::string what, session, answer;
      StatusCode want;
    };
    const std::vector<Item> items = {
        {"a session", a, Answer(0), StatusCode::OK},
        {"an unknown session", kUnknownSession, Answer(0), StatusCode::NOT_FOUND},
        {"the first session again", a, Answer(0), StatusCode::INVALID_ARGUMENT},
        {"a closed session", closed, Answer(0), StatusCode::NOT_FOUND},
        {"a finished episode", finished, Answer(0), StatusCode::FAILED_PRECONDITION},
        {"an unparsable answer", b, "not an answer", StatusCode::OK},
    };
    v1::BatchStepRequest request;
    for (const Item& item : items) {
      v1::StepRequest* step = request.add_steps();
      step->set_session_id(item.session);
      step->set_answer(item.answer);
    }
    if (!c.ExpectOk(client_.Batch(request, &response), "BatchStep with bad items")) return;
    if (!c.Expect(
            response.results_size() == static_cast<int>(items.size()),
            absl::StrCat("BatchStep of ", items.size(), " items returned ", response.results_size(), " results"))) {
      return;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const v1::BatchStepResult& r = response.results(static_cast<int>(i));
      const auto code = static_cast<StatusCode>(r.status().code());
      const std::string item = absl::StrCat("BatchStep item ", i, " (", items[i].what, ")");
      c.Expect(code == items[i].want, absl::StrCat(item, ": ", CodeName(code), ", want ", CodeName(items[i].want)));
      if (items[i].want == StatusCode::OK) {
        c.Expect(r.has_observation() && r.observation().stats().turns() == 1,
                 absl::StrCat(item, ": want its observation after one turn"));
      } else {
        c.Expect(!r.status().message().empty(), absl::StrCat(item, ": failed without a message"));
        c.Expect(!r.has_observation(), absl::StrCat(item, ": a failed item carries an observation"));
      }
    }
    if (response.results(5).has_observation()) {
      c.Expect(response.results(5).observation().stats().invalid_actions() > 0,
               "BatchStep item 5 (an unparsable answer): not counted invalid");
    }
    // The duplicate item was not played: the next turn of `a` is its second.
    v1::Observation o;
    if (c.ExpectOk(client_.Step(a, Answer(0), &o), "Step after the batch")) {
      c.Expect(o.done() || o.stats().turns() == 2,
               absl::StrCat("after a batch with the session twice it is at turn ", o.stats().turns(),
                            ", want 2 (the duplicate refused, not played)"));
    }
    // The size limit: max_batch_size items are taken (each unknown here), one more is refused whole.
    constexpr int kLargestChecked = 1 << 16;
    if (spec_.max_batch_size() >= kLargestChecked) {
      c.Note(absl::StrCat("max_batch_size ", spec_.max_batch_size(), ": the limit itself not checked"));
      return;
    }
    request.Clear();
    for (int i = 0; i < spec_.max_batch_size(); ++i)
      request.add_steps()->set_session_id(absl::StrCat(kUnknownSession, i));
    if (c.ExpectOk(client_.Batch(request, &response), absl::StrCat("BatchStep of max_batch_size items"))) {
      c.Expect(response.results_size() == spec_.max_batch_size(),
               "BatchStep of max_batch_size items: wrong result count");
    }
    request.add_steps()->set_session_id(absl::StrCat(kUnknownSession, "-last"));
    c.ExpectCode(client_.Batch(request, &response), {StatusCode::INVALID_ARGUMENT, StatusCode::RESOURCE_EXHAUSTED},
                 "BatchStep of max_batch_size + 1 items");
  }

  void Idempotent(Check& c) {
    const google::protobuf::ServiceDescriptor* service = DescriptorOf<v1::EnvService>();
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      if (!method->options().GetExtension(v1::idempotent)) continue;
      if (method->name() == "GetSpec") {
        v1::GetSpecResponse again;
        if (c.ExpectOk(client_.GetSpec(&again), "GetSpec (again)")) {
          c.Expect(again.SerializeAsString() == spec_.SerializeAsString(),
                   "GetSpec answered differently the second time");
        }
      } else if (method->name() == "CloseSession") {
        const std::string s = Open(c, TrainTask(0));
        if (s.empty()) continue;
        c.ExpectOk(client_.Close(s), "CloseSession");
        c.ExpectOk(client_.Close(s), "CloseSession (again)");
        c.ExpectCode(client_.Step(s, Answer(0), nullptr), {StatusCode::NOT_FOUND}, "Step after CloseSession twice");
      } else {
        c.Note(absl::StrCat(method->name(), " is marked idempotent and this suite has no check for it"));
      }
    }
  }

  void Limits(Check& c) {
    const std::string s = Open(c, TrainTask(0));
    if (s.empty()) return;
    v1::Observation o;
    if (c.ExpectOk(client_.Step(s, std::string(1 << 20, 'x'), &o), "Step(a 1 MiB answer)")) {
      c.Expect(o.stats().invalid_actions() > 0, "Step(a 1 MiB answer): not counted as an invalid action");
    }
    c.ExpectCode(client_.Step(s, std::string(static_cast<size_t>(options_.max_message_bytes) + 1, 'x'), nullptr),
                 {StatusCode::RESOURCE_EXHAUSTED},
                 absl::StrCat("Step(an answer over ", options_.max_message_bytes, " bytes)"));
    grpc::health::v1::HealthCheckResponse health;
    c.ExpectOk(client_.Health("", &health), "Health after the oversized message");
    c.ExpectOk(client_.Step(s, Answer(0), &o), "Step of the same session after the oversized message");
  }

  void Concurrency(Check& c) {
    const int n = std::max(1, options_.concurrent_sessions);
    const int turns = std::max(1, std::min(4, spec_.max_steps() - 1));
    std::vector<std::string> sessions(n);
    std::vector<char> finished(n, 0);  // the episode ended (solved) before the batch: not batched
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        v1::CreateSessionResponse created;
        grpc::Status status = client_.Create(TrainTask(i % std::max(1, spec_.train_levels())), false, &created);
        if (!c.ExpectOk(status, absl::StrCat("CreateSession in thread ", i))) return;
        sessions[i] = created.session_id();
        for (int t = 0; t < turns; ++t) {
          v1::Observation o;
          if (!c.ExpectOk(client_.Step(sessions[i], Answer(i + t), &o), absl::StrCat("Step in thread ", i))) return;
          if (!c.Expect(o.stats().turns() == t + 1, absl::StrCat("thread ", i, ": its session reads turns ",
                                                                 o.stats().turns(), " after ", t + 1, " steps"))) {
            return;
          }
          if (o.done()) {
            finished[i] = 1;
            return;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    threads.clear();
    absl::flat_hash_set<std::string> distinct;
    v1::BatchStepRequest request;
    for (int i = 0; i < n; ++i) {
      const std::string& s = sessions[i];
      if (s.empty()) continue;
      open_.push_back(s);
      c.Expect(distinct.insert(s).second, absl::StrCat("session id '", s, "' handed out twice"));
      if (!finished[i] && request.steps_size() < spec_.max_batch_size()) {
        v1::StepRequest* step = request.add_steps();
        step->set_session_id(s);
        step->set_answer(Answer(0));
      }
    }
    v1::BatchStepResponse response;
    if (c.ExpectOk(client_.Batch(request, &response), "BatchStep over the concurrent sessions") &&
        c.Expect(response.results_size() == request.steps_size(), "BatchStep: wrong result count")) {
      for (const v1::BatchStepResult& r : response.results()) {
        if (!c.Expect(r.status().code() == 0 && r.observation().stats().turns() == turns + 1,
                      absl::StrCat("a batched turn of a concurrent session: code ", r.status().code(), ", turns ",
                                   r.observation().stats().turns(), ", want OK and ", turns + 1))) {
          break;
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        if (!sessions[i].empty()) c.ExpectOk(client_.Close(sessions[i]), absl::StrCat("CloseSession in thread ", i));
      });
    }
    for (std::thread& t : threads) t.join();
    open_.clear();
  }

  Client client_;
  const EnvCheckOptions options_;
  v1::GetSpecResponse spec_;
  bool have_spec_ = false;
  std::vector<std::string> open_;  // sessions the running check opened
};

}  // namespace

bool EnvCheckReport::passed() const {
  if (checks.empty()) return false;
  for (const EnvCheckResult& c : checks) {
    if (!c.passed()) return false;
  }
  return true;
}

EnvCheckReport RunEnvChecks(const std::shared_ptr<grpc::Channel>& channel, const EnvCheckOptions& options) {
  return Suite(channel, options).Run();
}

std::string FormatEnvCheckReport(const EnvCheckReport& report) {
  std::string out = absl::StrCat("env-check ", report.target, report.target.empty() ? "" : ": ", report.summary, "\n");
  int passed = 0;
  for (const EnvCheckResult& c : report.checks) {
    passed += c.passed() ? 1 : 0;
    absl::StrAppend(&out, c.passed() ? "  PASS  " : "  FAIL  ", c.name,
                    std::string(12 - std::min<size_t>(11, c.name.size()), ' '), c.what, "\n");
    for (const std::string& f : c.failures) absl::StrAppend(&out, "        - ", f, "\n");
    for (const std::string& n : c.notes) absl::StrAppend(&out, "        (", n, ")\n");
  }
  absl::StrAppend(&out, passed, " of ", report.checks.size(), " checks passed\n");
  return out;
}

}  // namespace skillsd
