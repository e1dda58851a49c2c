#include "env_workers/env_service.h"

#include <unistd.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/grpc_status.h"
#include "core/metrics.h"
#include "env_workers/env_proto.h"

namespace skillsd {
namespace {

struct EnvMetrics {
  prometheus::Gauge& sessions;
  prometheus::Counter& steps;
  prometheus::Counter& invalid_actions;
  prometheus::Counter& solved;
  prometheus::Counter& truncated;
  prometheus::Counter& expired;

  static EnvMetrics& Get() {
    static EnvMetrics* m = [] {
      auto& sessions = prometheus::BuildGauge()
                           .Name("skillsd_env_sessions")
                           .Help("Open environment sessions.")
                           .Register(MetricsRegistry());
      auto& steps = prometheus::BuildCounter()
                        .Name("skillsd_env_steps_total")
                        .Help("Environment steps (executed actions, invalid ones included).")
                        .Register(MetricsRegistry());
      auto& invalid = prometheus::BuildCounter()
                          .Name("skillsd_env_invalid_actions_total")
                          .Help("Answers or answer items that were not valid actions.")
                          .Register(MetricsRegistry());
      auto& episodes = prometheus::BuildCounter()
                           .Name("skillsd_env_episodes_total")
                           .Help("Finished episodes, by result.")
                           .Register(MetricsRegistry());
      auto& expired = prometheus::BuildCounter()
                          .Name("skillsd_env_sessions_expired_total")
                          .Help("Sessions closed for being idle.")
                          .Register(MetricsRegistry());
      return new EnvMetrics{sessions.Add({}),
                            steps.Add({}),
                            invalid.Add({}),
                            episodes.Add({{"result", "solved"}}),
                            episodes.Add({{"result", "truncated"}}),
                            expired.Add({})};
    }();
    return *m;
  }
};

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

void CountTurn(const EnvTurn& turn) {
  EnvMetrics& m = EnvMetrics::Get();
  m.steps.Increment(static_cast<double>(turn.events.size()));
  int invalid = 0;
  for (const ActionEvent& e : turn.events) invalid += e.invalid ? 1 : 0;
  if (invalid > 0) m.invalid_actions.Increment(invalid);
  if (turn.done) (turn.totals.solved ? m.solved : m.truncated).Increment();
}

}  // namespace

EnvServiceImpl::EnvServiceImpl(EnvFactory factory, EnvServiceOptions options)
    : factory_(std::move(factory)),
      options_(options),
      session_salt_(static_cast<uint64_t>(NowNs()) ^ (static_cast<uint64_t>(::getpid()) << 32)) {
  spec_ = factory_()->spec();
  EnvMetrics::Get();
}

grpc::Status EnvServiceImpl::GetSpec(grpc::ServerContext*, const skillsd::v1::GetSpecRequest*,
                                     skillsd::v1::GetSpecResponse* response) {
  ToProto(spec_, response);
  response->set_max_batch_size(options_.max_batch_size);
  return grpc::Status::OK;
}

absl::Status EnvServiceImpl::HandleCreateSession(const skillsd::v1::CreateSessionRequest& request,
                                                 skillsd::v1::CreateSessionResponse* response) {
  absl::StatusOr<EnvTask> task = ToEnvTask(request.task());
  if (!task.ok()) return task.status();
  // Sweep idle sessions now and then (not on every call: the sweep visits every session).
  const int64_t now_ns = NowNs();
  int64_t last = last_sweep_ns_.load();
  if (now_ns - last > absl::ToInt64Nanoseconds(options_.idle_timeout) / 8 &&
      last_sweep_ns_.compare_exchange_strong(last, now_ns)) {
    ExpireIdleSessions(absl::FromUnixNanos(now_ns));
  }
  auto session = std::make_shared<Session>();
  absl::StatusOr<EnvTurn> turn;
  {
    absl::MutexLock lock(&session->mu);
    session->env = factory_();
    session->task = *task;
    session->with_optimal_actions = request.with_optimal_actions();
    turn = session->env->Reset(*task);
    if (turn.ok() && session->with_optimal_actions) AddOptimalActions(*session->env, &*turn);
  }
  if (!turn.ok()) return turn.status();
  session->last_used_ns = NowNs();
  const std::string id = absl::StrCat("s", next_session_.fetch_add(1), "-",
                                      absl::Hex(session_salt_ * 0x9E3779B97F4A7C15ull + next_session_.load()));
  {
    absl::MutexLock lock(&mu_);
    if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
      return absl::ResourceExhaustedError(
          absl::StrCat("session limit reached (", options_.max_sessions, "); close sessions first"));
    }
    sessions_[id] = session;
    EnvMetrics::Get().sessions.Set(static_cast<double>(sessions_.size()));
  }
  response->set_session_id(id);
  *response->mutable_task() = ToTaskRef(spec_.name, *task);
  response->mutable_task()->set_task_id(turn->task_id);
  ToProto(*turn, response->mutable_observation());
  return absl::OkStatus();
}

grpc::Status EnvServiceImpl::CreateSession(grpc::ServerContext*, const skillsd::v1::CreateSessionRequest* request,
                                           skillsd::v1::CreateSessionResponse* response) {
  return ToGrpcStatus(HandleCreateSession(*request, response));
}

absl::StatusOr<std::shared_ptr<EnvServiceImpl::Session>> EnvServiceImpl::Find(const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown session '", session_id.substr(0, 64), "' (closed or expired?)"));
  }
  it->second->last_used_ns = NowNs();
  return it->second;
}

grpc::Status EnvServiceImpl::Reset(grpc::ServerContext*, const skillsd::v1::ResetRequest* request,
                                   skillsd::v1::ResetResponse* response) {
  absl::StatusOr<std::shared_ptr<Session>> session = Find(request->session_id());
  if (!session.ok()) return ToGrpcStatus(session.status());
  absl::MutexLock lock(&(*session)->mu);
  EnvTask task = (*session)->task;
  if (request->has_task()) {
    absl::StatusOr<EnvTask> requested = ToEnvTask(request->task());
    if (!requested.ok()) return ToGrpcStatus(requested.status());
    task = *requested;
  }
  absl::StatusOr<EnvTurn> turn = (*session)->env->Reset(task);
  if (!turn.ok()) return ToGrpcStatus(turn.status());
  (*session)->task = task;
  (*session)->with_optimal_actions = request->with_optimal_actions();
  if ((*session)->with_optimal_actions) AddOptimalActions(*(*session)->env, &*turn);
  *response->mutable_task() = ToTaskRef(spec_.name, task);
  response->mutable_task()->set_task_id(turn->task_id);
  ToProto(*turn, response->mutable_observation());
  return grpc::Status::OK;
}

absl::Status EnvServiceImpl::StepSession(const skillsd::v1::StepRequest& request,
                                         skillsd::v1::Observation* observation) {
  absl::StatusOr<std::shared_ptr<Session>> session = Find(request.session_id());
  if (!session.ok()) return session.status();
  absl::MutexLock lock(&(*session)->mu);
  absl::StatusOr<EnvTurn> turn = (*session)->env->Step(request.answer());
  if (!turn.ok()) return turn.status();
  if ((*session)->with_optimal_actions) AddOptimalActions(*(*session)->env, &*turn);
  CountTurn(*turn);
  ToProto(*turn, observation);
  return absl::OkStatus();
}

grpc::Status EnvServiceImpl::Step(grpc::ServerContext*, const skillsd::v1::StepRequest* request,
                                  skillsd::v1::StepResponse* response) {
  return ToGrpcStatus(StepSession(*request, response->mutable_observation()));
}

absl::Status EnvServiceImpl::HandleBatchStep(const skillsd::v1::BatchStepRequest& request,
                                             skillsd::v1::BatchStepResponse* response) {
  if (request.steps_size() > options_.max_batch_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", request.steps_size(), " steps exceeds max_batch_size ", options_.max_batch_size));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const skillsd::v1::StepRequest& step : request.steps()) {
    skillsd::v1::BatchStepResult* result = response->add_results();
    absl::Status status;
    if (!seen.insert(step.session_id()).second) {
      status = absl::InvalidArgumentError("session appears more than once in the batch");
    } else {
      status = StepSession(step, result->mutable_observation());
    }
    if (!status.ok()) {
      result->clear_observation();
      result->mutable_status()->set_code(static_cast<int>(status.code()));
      result->mutable_status()->set_message(std::string(status.message()));
    }
  }
  return absl::OkStatus();
}

grpc::Status EnvServiceImpl::BatchStep(grpc::ServerContext*, const skillsd::v1::BatchStepRequest* request,
                                       skillsd::v1::BatchStepResponse* response) {
  return ToGrpcStatus(HandleBatchStep(*request, response));
}

grpc::Status EnvServiceImpl::CloseSession(grpc::ServerContext*, const skillsd::v1::CloseSessionRequest* request,
                                          skillsd::v1::CloseSessionResponse*) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(request->session_id());
  EnvMetrics::Get().sessions.Set(static_cast<double>(sessions_.size()));
  return grpc::Status::OK;
}

int64_t EnvServiceImpl::num_sessions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(sessions_.size());
}

int EnvServiceImpl::ExpireIdleSessions(absl::Time now) {
  const int64_t cutoff = absl::ToUnixNanos(now - options_.idle_timeout);
  absl::MutexLock lock(&mu_);
  int expired = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->last_used_ns.load() < cutoff) {
      sessions_.erase(it++);
      ++expired;
    } else {
      ++it;
    }
  }
  if (expired > 0) {
    EnvMetrics::Get().expired.Increment(expired);
    EnvMetrics::Get().sessions.Set(static_cast<double>(sessions_.size()));
  }
  return expired;
}

}  // namespace skillsd
