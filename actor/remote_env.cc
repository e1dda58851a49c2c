#include "actor/remote_env.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status.h"
#include "env_workers/env_proto.h"

namespace skillsd::actor {

absl::StatusOr<std::unique_ptr<RemoteEnvBatch>> RemoteEnvBatch::Create(EnvClient env, size_t slots) {
  std::unique_ptr<RemoteEnvBatch> batch(new RemoteEnvBatch(std::move(env), slots));
  ASSIGN_OR_RETURN(const skillsd::v1::GetSpecResponse spec, batch->env_.GetSpec());
  ASSIGN_OR_RETURN(batch->spec_, FromProto(spec));
  batch->max_batch_size_ = spec.max_batch_size() > 0 ? static_cast<size_t>(spec.max_batch_size()) : slots;
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
  for (size_t slot : slots) {
    if (slot >= sessions_.size() || sessions_[slot].empty()) {
      return absl::FailedPreconditionError(absl::StrCat("env slot ", slot, " has no episode"));
    }
  }
  std::vector<EnvTurn> out;
  out.reserve(slots.size());
  for (size_t begin = 0; begin < slots.size(); begin += max_batch_size_) {
    const size_t end = std::min(slots.size(), begin + max_batch_size_);
    skillsd::v1::BatchStepRequest request;
    for (size_t k = begin; k < end; ++k) {
      auto* step = request.add_steps();
      step->set_session_id(sessions_[slots[k]]);
      step->set_answer(answers[k]);
    }
    ASSIGN_OR_RETURN(const skillsd::v1::BatchStepResponse response, env_.BatchStep(request));
    if (response.results_size() != static_cast<int>(end - begin)) {
      return absl::InternalError(
          absl::StrCat("the env worker returned ", response.results_size(), " results for ", end - begin, " steps"));
    }
    for (int k = 0; k < response.results_size(); ++k) {
      const auto& result = response.results(k);
      if (result.status().code() != 0) {
        return absl::Status(
            static_cast<absl::StatusCode>(result.status().code()),
            absl::StrCat("env slot ", slots[begin + static_cast<size_t>(k)], ": ", result.status().message()));
      }
      out.push_back(FromProto(result.observation()));
    }
  }
  return out;
}

}  // namespace skillsd::actor
