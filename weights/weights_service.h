// The gRPC face of WeightsPublisher: Subscribe streams each newer snapshot of the subscriber's role as chunks
// (header, data, end), optionally after a conversion to bf16 done once per version by the learner; GetLatest
// reports the newest version. Thread-safe.
#ifndef SKILLSD_WEIGHTS_WEIGHTS_SERVICE_H_
#define SKILLSD_WEIGHTS_WEIGHTS_SERVICE_H_

#include <memory>

#include "skillsd/v1/weights.grpc.pb.h"
#include "weights/publisher.h"

namespace skillsd::weights {

class WeightsServiceImpl final : public skillsd::v1::WeightsService::Service {
 public:
  // `publisher` must outlive the service. Data chunks carry at most `chunk_bytes`.
  // Also creates this process's publishing metrics (at zero, so dashboards and alerts see them from the start).
  WeightsServiceImpl(const WeightsPublisher* publisher, size_t chunk_bytes = 1 << 20);

  grpc::Status Subscribe(grpc::ServerContext* context, const skillsd::v1::SubscribeRequest* request,
                         grpc::ServerWriter<skillsd::v1::WeightsChunk>* writer) override;
  grpc::Status GetLatest(grpc::ServerContext* context, const skillsd::v1::GetLatestRequest* request,
                         skillsd::v1::GetLatestResponse* response) override;

 private:
  const WeightsPublisher* publisher_;
  const size_t chunk_bytes_;
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_WEIGHTS_SERVICE_H_
