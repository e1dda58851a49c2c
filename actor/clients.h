// Typed clients for the services the actor calls, in the shape of Reverb's Client: each wraps a generated
// StubInterface (a real channel's stub, or a gMock stub in tests), gives every call its own deadline, and returns
// absl::Status / StatusOr with the service named in the message ("learner: UNAVAILABLE: ..."). They hold no
// state but the stub, so a client is cheap to copy and safe to share between threads when its stub is.
#ifndef SKILLSD_ACTOR_CLIENTS_H_
#define SKILLSD_ACTOR_CLIENTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "skillsd/v1/learner.grpc.pb.h"
#include "skillsd/v1/skill.grpc.pb.h"
#include "skillsd/v1/teacher.grpc.pb.h"

namespace skillsd::actor {

// The learner: work assignments and scored groups.
class LearnerClient {
 public:
  explicit LearnerClient(std::shared_ptr<skillsd::v1::LearnerService::StubInterface> stub,
                         absl::Duration get_work_deadline = absl::Seconds(30),
                         absl::Duration submit_deadline = absl::Seconds(60));
  absl::StatusOr<skillsd::v1::GetWorkResponse> GetWork(const skillsd::v1::GetWorkRequest& request) const;
  // What the learner did with the group (accepted, duplicate or dropped as stale: all three are acknowledgements).
  absl::StatusOr<skillsd::v1::SubmitGroupResponse> SubmitGroup(const skillsd::v1::SubmitGroupRequest& request) const;

 private:
  std::shared_ptr<skillsd::v1::LearnerService::StubInterface> stub_;
  absl::Duration get_work_deadline_, submit_deadline_;
};

// The teacher: log-probs of the generated tokens under skill-conditioned prompts.
class TeacherClient {
 public:
  // `deadline` covers the teacher's wait for the weights the request asks for, and the scoring itself.
  TeacherClient(std::shared_ptr<skillsd::v1::TeacherService::StubInterface> stub, absl::Duration deadline);
  absl::StatusOr<skillsd::v1::ScoreResponse> Score(const skillsd::v1::ScoreRequest& request) const;

 private:
  std::shared_ptr<skillsd::v1::TeacherService::StubInterface> stub_;
  absl::Duration deadline_;
};

// The skill service: a skill per task (UCB1), trajectories to summarise, outcomes for the bandit.
class SkillClient {
 public:
  explicit SkillClient(std::shared_ptr<skillsd::v1::SkillService::StubInterface> stub,
                       absl::Duration deadline = absl::Seconds(10));
  // `selection_id` makes the selection idempotent (the group id: a replayed group gets the same skill).
  absl::StatusOr<skillsd::v1::SelectSkillResponse> SelectSkill(const std::string& task_id,
                                                               const std::string& selection_id) const;
  absl::Status SubmitTrajectory(const skillsd::v1::Trajectory& trajectory) const;
  absl::Status ReportOutcome(const skillsd::v1::ReportOutcomeRequest& outcome) const;

 private:
  std::shared_ptr<skillsd::v1::SkillService::StubInterface> stub_;
  absl::Duration deadline_;
};

// The env workers: sessions, one episode each at a time.
class EnvClient {
 public:
  explicit EnvClient(std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub,
                     absl::Duration deadline = absl::Seconds(30));
  absl::StatusOr<skillsd::v1::GetSpecResponse> GetSpec() const;
  // with_optimal_actions: the episode's observations list the env's optimal actions (for measurement).
  absl::StatusOr<skillsd::v1::CreateSessionResponse> CreateSession(const skillsd::v1::TaskRef& task,
                                                                   bool with_optimal_actions = false) const;
  absl::StatusOr<skillsd::v1::ResetResponse> Reset(const std::string& session_id, const skillsd::v1::TaskRef& task,
                                                   bool with_optimal_actions = false) const;
  // Per-step failures come back in each result's status; the call fails only as a whole.
  absl::StatusOr<skillsd::v1::BatchStepResponse> BatchStep(const skillsd::v1::BatchStepRequest& request) const;
  // Within `deadline` (closing is best effort: idle sessions also expire on the worker).
  absl::Status CloseSession(const std::string& session_id, absl::Duration deadline) const;

 private:
  std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub_;
  absl::Duration deadline_;
};

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_CLIENTS_H_
