// The gRPC face of Learner (skillsd.v1.LearnerService). Thread-safe.
#ifndef SKILLSD_LEARNER_LEARNER_SERVICE_H_
#define SKILLSD_LEARNER_LEARNER_SERVICE_H_

#include "learner/learner.h"
#include "skillsd/v1/learner.grpc.pb.h"

namespace skillsd::learner {

class LearnerServiceImpl final : public skillsd::v1::LearnerService::Service {
 public:
  explicit LearnerServiceImpl(Learner* learner) : learner_(learner) {}

  grpc::Status GetWork(grpc::ServerContext* context, const skillsd::v1::GetWorkRequest* request,
                       skillsd::v1::GetWorkResponse* response) override;
  grpc::Status SubmitGroup(grpc::ServerContext* context, const skillsd::v1::SubmitGroupRequest* request,
                           skillsd::v1::SubmitGroupResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const skillsd::v1::GetLearnerStatusRequest* request,
                         skillsd::v1::GetLearnerStatusResponse* response) override;

 private:
  Learner* learner_;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_LEARNER_SERVICE_H_
