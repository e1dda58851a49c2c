#include "actor/remote_env.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status.h"
#include "env_workers/env_proto.h"

namespace skillsd::actor {

absl::StatusOr<std::unique_ptr<RemoteEnvBatch>> RemoteEnvBatch::Create(EnvClient env, size_t slots) {
  std::unique_ptr<RemoteEnvBatch> batch(new RemoteEnvBatch(std::move(env), slots));
  ASSIGN_OR_RETURN(const skillsd::v1::GetSpecResponse spec, batch->env_.GetSpec());
  ASSIGN_OR_RETURN(batch->spec_, FromProto(spec));
  return batch;
}

RemoteEnvBatch::~RemoteEnvBatch() {
  // Best effort, within 2 s for all sessions together: idle sessions also expire on the worker, and a worker that
  // is gone (the first close fails with UNAVAILABLE or times out) has no sessions left to close.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  for (const std::string& id : sessions_) {
    if (id.empty()) continue;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    const absl::Status closed = env_.CloseSession(id, left);
    if (absl::IsUnavailable(closed) || absl::IsDeadlineExceeded(closed)) break;
  }
}

absl::StatusOr<EnvTurn> RemoteEnvBatch::Reset(size_t slot, const EnvTask& task, bool with_optimal_actions) {
  if (slot >= sessions_.size()) return absl::OutOfRangeError(absl::StrCat("no env slot ", slot));
  const skillsd::v1::TaskRef ref = ToTaskRef(spec_.name, task);
  EnvTurn turn;
  if (sessions_[slot].empty()) {
    ASSIGN_OR_RETURN(const skillsd::v1::CreateSessionResponse response, env_.CreateSession(ref, with_optimal_actions));
    sessions_[slot] = response.session_id();
    turn = FromProto(response.observation());
    turn.task_id = response.task().task_id();
  } else {
    ASSIGN_OR_RETURN(const skillsd::v1::ResetResponse response, env_.Reset(sessions_[slot], ref, with_optimal_actions));
    turn = FromProto(response.observation());
    turn.task_id = response.task().task_id();
  }
  return turn;
}

absl::StatusOr<std::vector<EnvTurn>> RemoteEnvBatch::Step(const std::vector<size_t>& slots,
                                                          const std::vector<std::string>& answers) {
  if (slots.size() != answers.size()) return absl::InvalidArgumentError("one answer per slot");
  skillsd::v1::BatchStepRequest request;
  for (size_t k = 0; k < slots.size(); ++k) {
    if (slots[k] >= sessions_.size() || sessions_[slots[k]].empty()) {
      return absl::FailedPreconditionError(absl::StrCat("env slot ", slots[k], " has no episode"));
    }
    auto* step = request.add_steps();
    step->set_session_id(sessions_[slots[k]]);
    step->set_answer(answers[k]);
  }
  ASSIGN_OR_RETURN(const skillsd::v1::BatchStepResponse response, env_.BatchStep(request));
  std::vector<EnvTurn> out;
  for (int k = 0; k < response.results_size(); ++k) {
    const auto& result = response.results(k);
    if (result.status().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(result.status().code()),
                          absl::StrCat("env slot ", slots[k], ": ", result.status().message()));
    }
    out.push_back(FromProto(result.observation()));
  }
  return out;
}

}  // namespace skillsd::actor
