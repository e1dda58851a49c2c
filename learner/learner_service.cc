#include "learner/learner_service.h"

#include "core/grpc_status.h"

namespace skillsd::learner {

grpc::Status LearnerServiceImpl::GetWork(grpc::ServerContext*, const skillsd::v1::GetWorkRequest* request,
                                         skillsd::v1::GetWorkResponse* response) {
  *response = learner_->GetWork(*request);
  return grpc::Status::OK;
}

grpc::Status LearnerServiceImpl::SubmitGroup(grpc::ServerContext* context,
                                             const skillsd::v1::SubmitGroupRequest* request,
                                             skillsd::v1::SubmitGroupResponse* response) {
  // Wait for room in the intake queue at most until the call's deadline (and never more than 30 s).
  const absl::Time deadline = std::min(absl::FromChrono(context->deadline()), absl::Now() + absl::Seconds(30));
  absl::StatusOr<skillsd::v1::SubmitGroupResponse> result = learner_->Submit(*request, deadline);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *result;
  return grpc::Status::OK;
}

grpc::Status LearnerServiceImpl::GetStatus(grpc::ServerContext*, const skillsd::v1::GetLearnerStatusRequest*,
                                           skillsd::v1::GetLearnerStatusResponse* response) {
  *response = learner_->Status();
  return grpc::Status::OK;
}

}  // namespace skillsd::learner
