// The gRPC face of the skill service (skillsd.v1.SkillService): trajectories are persisted on receipt and
// summarised by a background worker (bounded queue, backpressure as RESOURCE_EXHAUSTED); selection, outcomes
// and listing go straight to the bank. After a restart the worker resumes the persisted queue.
#ifndef SKILLSD_SKILL_SERVICE_SKILL_SERVICE_H_
#define SKILLSD_SKILL_SERVICE_SKILL_SERVICE_H_

#include <memory>
#include <thread>

#include "core/bounded_queue.h"
#include "skill_service/skill_bank.h"
#include "skill_service/summarizer.h"
#include "skillsd/v1/skill.grpc.pb.h"

namespace skillsd::skill {

// Thread-safe: gRPC calls run concurrently; the summary queue (core/bounded_queue.h) is shared with the worker thread
// that drains it, and the bank serialises its own access.
class SkillServiceImpl final : public skillsd::v1::SkillService::Service {
 public:
  static absl::StatusOr<std::unique_ptr<SkillServiceImpl>> Create(std::unique_ptr<SkillBank> bank,
                                                                  std::unique_ptr<Summarizer> summarizer,
                                                                  int queue_capacity);
  ~SkillServiceImpl() override;  // stops the worker (the queue stays persisted)

  grpc::Status SubmitTrajectories(grpc::ServerContext* context, const skillsd::v1::SubmitTrajectoriesRequest* request,
                                  skillsd::v1::SubmitTrajectoriesResponse* response) override;
  grpc::Status SelectSkill(grpc::ServerContext* context, const skillsd::v1::SelectSkillRequest* request,
                           skillsd::v1::SelectSkillResponse* response) override;
  grpc::Status ReportOutcome(grpc::ServerContext* context, const skillsd::v1::ReportOutcomeRequest* request,
                             skillsd::v1::ReportOutcomeResponse* response) override;
  grpc::Status ListSkills(grpc::ServerContext* context, const skillsd::v1::ListSkillsRequest* request,
                          skillsd::v1::ListSkillsResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const skillsd::v1::GetSkillStatusRequest* request,
                         skillsd::v1::GetSkillStatusResponse* response) override;

  // Blocks until the queue is empty and nothing is being summarised (tests).
  void WaitIdle();

 private:
  SkillServiceImpl(std::unique_ptr<SkillBank> bank, std::unique_ptr<Summarizer> summarizer, int capacity);
  void Run();

  std::unique_ptr<SkillBank> bank_;
  std::unique_ptr<Summarizer> summarizer_;
  // Trajectories persisted in the bank and waiting to be summarised (the bank is the durable copy).
  BoundedQueue<skillsd::v1::Trajectory> queue_;
  std::thread worker_;
};

}  // namespace skillsd::skill

#endif  // SKILLSD_SKILL_SERVICE_SKILL_SERVICE_H_
