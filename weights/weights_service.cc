#include "weights/weights_service.h"

#include "absl/time/clock.h"
#include "weights/weights_metrics.h"

namespace skillsd::weights {

WeightsServiceImpl::WeightsServiceImpl(const WeightsPublisher* publisher, size_t chunk_bytes)
    : publisher_(publisher), chunk_bytes_(chunk_bytes) {
  WeightsMetrics& metrics = WeightsMetrics::Get();
  for (auto role : {skillsd::v1::SUBSCRIBER_ROLE_ACTOR, skillsd::v1::SUBSCRIBER_ROLE_TEACHER}) {
    metrics.snapshots_sent.Add({{"role", WeightsMetrics::Role(role)}});
    metrics.bytes_sent.Add({{"role", WeightsMetrics::Role(role)}});
    metrics.send_failures.Add({{"role", WeightsMetrics::Role(role)}});
  }
}

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
    WeightsMetrics& metrics = WeightsMetrics::Get();
    const std::string role = WeightsMetrics::Role(request->role());
    const absl::Time start = absl::Now();
    const bool sent = StreamSnapshot(*next, chunk_bytes_, [&](const skillsd::v1::WeightsChunk& chunk) {
      return !context->IsCancelled() && writer->Write(chunk);
    });
    if (!sent) {
      metrics.send_failures.Add({{"role", role}}).Increment();
      break;
    }
    metrics.snapshots_sent.Add({{"role", role}}).Increment();
    metrics.bytes_sent.Add({{"role", role}}).Increment(static_cast<double>(next->total_bytes()));
    metrics.send_seconds.Add({{"role", role}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(absl::Now() - start));
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
