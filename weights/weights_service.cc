#include "weights/weights_service.h"

namespace skillsd::weights {

grpc::Status WeightsServiceImpl::Subscribe(grpc::ServerContext* context, const skillsd::v1::SubscribeRequest* request,
                                           grpc::ServerWriter<skillsd::v1::WeightsChunk>* writer) {
  if (request->role() != skillsd::v1::SUBSCRIBER_ROLE_ACTOR &&
      request->role() != skillsd::v1::SUBSCRIBER_ROLE_TEACHER) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "role must be ACTOR or TEACHER");
  }
  int64_t have = request->have_version();
  while (!context->IsCancelled()) {
    if (publisher_->closed()) return grpc::Status::OK;  // the learner is shutting down
    std::shared_ptr<const Snapshot> next = publisher_->WaitNewer(request->role(), have, absl::Milliseconds(200));
    if (next == nullptr) continue;
    const bool sent = StreamSnapshot(*next, chunk_bytes_, [&](const skillsd::v1::WeightsChunk& chunk) {
      return !context->IsCancelled() && writer->Write(chunk);
    });
    if (!sent) break;
    have = next->version;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "subscription ended");
}

grpc::Status WeightsServiceImpl::GetLatest(grpc::ServerContext*, const skillsd::v1::GetLatestRequest* request,
                                           skillsd::v1::GetLatestResponse* response) {
  std::shared_ptr<const Snapshot> latest = publisher_->Latest(request->role());
  response->set_version(latest == nullptr ? -1 : latest->version);
  return grpc::Status::OK;
}

}  // namespace skillsd::weights
