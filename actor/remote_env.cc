#include "actor/remote_env.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/channel.h"
#include "core/grpc_status.h"
#include "core/status.h"
#include "env_workers/env_proto.h"

namespace skillsd::actor {

absl::StatusOr<std::unique_ptr<RemoteEnvBatch>> RemoteEnvBatch::Create(
    std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub, size_t slots, absl::Duration rpc_timeout) {
  std::unique_ptr<RemoteEnvBatch> batch(new RemoteEnvBatch(std::move(stub), slots, rpc_timeout));
  grpc::ClientContext context;
  SetDeadline(&context, rpc_timeout);
  skillsd::v1::GetSpecResponse spec;
  RETURN_IF_ERROR(FromGrpcStatus(batch->stub_->GetSpec(&context, skillsd::v1::GetSpecRequest(), &spec)));
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
    grpc::ClientContext context;
    SetDeadline(&context, left);
    skillsd::v1::CloseSessionRequest request;
    request.set_session_id(id);
    skillsd::v1::CloseSessionResponse response;
    const grpc::Status status = stub_->CloseSession(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
  }
}

absl::StatusOr<EnvTurn> RemoteEnvBatch::Reset(size_t slot, const EnvTask& task) {
  if (slot >= sessions_.size()) return absl::OutOfRangeError(absl::StrCat("no env slot ", slot));
  grpc::ClientContext context;
  SetDeadline(&context, timeout_);
  const skillsd::v1::TaskRef ref = ToTaskRef(spec_.name, task);
  EnvTurn turn;
  if (sessions_[slot].empty()) {
    skillsd::v1::CreateSessionRequest request;
    *request.mutable_task() = ref;
    skillsd::v1::CreateSessionResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(stub_->CreateSession(&context, request, &response)));
    sessions_[slot] = response.session_id();
    turn = FromProto(response.observation());
    turn.task_id = response.task().task_id();
  } else {
    skillsd::v1::ResetRequest request;
    request.set_session_id(sessions_[slot]);
    *request.mutable_task() = ref;
    skillsd::v1::ResetResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(stub_->Reset(&context, request, &response)));
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
  grpc::ClientContext context;
  SetDeadline(&context, timeout_);
  skillsd::v1::BatchStepResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->BatchStep(&context, request, &response)));
  if (response.results_size() != static_cast<int>(slots.size())) {
    return absl::InternalError("BatchStep returned the wrong number of results");
  }
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
