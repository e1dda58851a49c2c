#include "actor/clients.h"

#include "core/channel.h"
#include "core/grpc_status.h"
#include "core/status.h"

namespace skillsd::actor {
namespace {

// One unary call of `method` on `stub` within `deadline`; errors name `service`.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                              const Request& request, absl::Duration deadline, const char* service) {
  grpc::ClientContext context;
  SetDeadline(&context, deadline);
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return Annotate(FromGrpcStatus(status), service);
  return response;
}

}  // namespace

using skillsd::v1::EnvService;
using skillsd::v1::LearnerService;
using skillsd::v1::SkillService;
using skillsd::v1::TeacherService;

LearnerClient::LearnerClient(std::shared_ptr<LearnerService::StubInterface> stub, absl::Duration get_work_deadline,
                             absl::Duration submit_deadline)
    : stub_(std::move(stub)), get_work_deadline_(get_work_deadline), submit_deadline_(submit_deadline) {}

absl::StatusOr<skillsd::v1::GetWorkResponse> LearnerClient::GetWork(const skillsd::v1::GetWorkRequest& request) const {
  return Call(*stub_, &LearnerService::StubInterface::GetWork, request, get_work_deadline_, "learner");
}

absl::StatusOr<skillsd::v1::SubmitGroupResponse> LearnerClient::SubmitGroup(
    const skillsd::v1::SubmitGroupRequest& request) const {
  return Call(*stub_, &LearnerService::StubInterface::SubmitGroup, request, submit_deadline_, "learner");
}

TeacherClient::TeacherClient(std::shared_ptr<TeacherService::StubInterface> stub, absl::Duration deadline)
    : stub_(std::move(stub)), deadline_(deadline) {}

absl::StatusOr<skillsd::v1::ScoreResponse> TeacherClient::Score(const skillsd::v1::ScoreRequest& request) const {
  // The reply's shape is checked against the group by ApplyTeacherScores (actor/group.h), segment by segment.
  return Call(*stub_, &TeacherService::StubInterface::Score, request, deadline_, "teacher");
}

SkillClient::SkillClient(std::shared_ptr<SkillService::StubInterface> stub, absl::Duration deadline)
    : stub_(std::move(stub)), deadline_(deadline) {}

absl::StatusOr<skillsd::v1::SelectSkillResponse> SkillClient::SelectSkill(const std::string& task_id,
                                                                          const std::string& selection_id) const {
  skillsd::v1::SelectSkillRequest request;
  request.set_task_id(task_id);
  request.set_selection_id(selection_id);
  return Call(*stub_, &SkillService::StubInterface::SelectSkill, request, deadline_, "skill service");
}

absl::Status SkillClient::SubmitTrajectory(const skillsd::v1::Trajectory& trajectory) const {
  skillsd::v1::SubmitTrajectoriesRequest request;
  *request.add_trajectories() = trajectory;
  return Call(*stub_, &SkillService::StubInterface::SubmitTrajectories, request, deadline_, "skill service").status();
}

absl::Status SkillClient::ReportOutcome(const skillsd::v1::ReportOutcomeRequest& outcome) const {
  return Call(*stub_, &SkillService::StubInterface::ReportOutcome, outcome, deadline_, "skill service").status();
}

EnvClient::EnvClient(std::shared_ptr<EnvService::StubInterface> stub, absl::Duration deadline)
    : stub_(std::move(stub)), deadline_(deadline) {}

absl::StatusOr<skillsd::v1::GetSpecResponse> EnvClient::GetSpec() const {
  return Call(*stub_, &EnvService::StubInterface::GetSpec, skillsd::v1::GetSpecRequest(), deadline_, "env");
}

absl::StatusOr<skillsd::v1::CreateSessionResponse> EnvClient::CreateSession(const skillsd::v1::TaskRef& task,
                                                                            bool with_optimal_actions) const {
  skillsd::v1::CreateSessionRequest request;
  *request.mutable_task() = task;
  request.set_with_optimal_actions(with_optimal_actions);
  return Call(*stub_, &EnvService::StubInterface::CreateSession, request, deadline_, "env");
}

absl::StatusOr<skillsd::v1::ResetResponse> EnvClient::Reset(const std::string& session_id,
                                                            const skillsd::v1::TaskRef& task,
                                                            bool with_optimal_actions) const {
  skillsd::v1::ResetRequest request;
  request.set_session_id(session_id);
  *request.mutable_task() = task;
  request.set_with_optimal_actions(with_optimal_actions);
  return Call(*stub_, &EnvService::StubInterface::Reset, request, deadline_, "env");
}

absl::StatusOr<skillsd::v1::BatchStepResponse> EnvClient::BatchStep(
    const skillsd::v1::BatchStepRequest& request) const {
  ASSIGN_OR_RETURN(skillsd::v1::BatchStepResponse response,
                   Call(*stub_, &EnvService::StubInterface::BatchStep, request, deadline_, "env"));
  if (response.results_size() != request.steps_size()) {
    return absl::InternalError("env: BatchStep returned the wrong number of results");
  }
  return response;
}

absl::Status EnvClient::CloseSession(const std::string& session_id, absl::Duration deadline) const {
  skillsd::v1::CloseSessionRequest request;
  request.set_session_id(session_id);
  return Call(*stub_, &EnvService::StubInterface::CloseSession, request, deadline, "env").status();
}

}  // namespace skillsd::actor
