#include "weights/subscriber.h"

#include "core/logging.h"
#include "skillsd/v1/weights.grpc.pb.h"
#include "weights/weights_metrics.h"

namespace skillsd::weights {

WeightsSubscriber::WeightsSubscriber(std::shared_ptr<grpc::Channel> channel, std::string subscriber_id,
                                     skillsd::v1::SubscriberRole role, InstallFn install)
    : channel_(std::move(channel)), id_(std::move(subscriber_id)), role_(role), install_(std::move(install)) {}

WeightsSubscriber::~WeightsSubscriber() { Stop(); }

void WeightsSubscriber::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WeightsSubscriber::Stop() {
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int64_t WeightsSubscriber::installed_version() const {
  absl::MutexLock lock(&mu_);
  return installed_;
}

bool WeightsSubscriber::WaitForVersion(int64_t version, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return installed_ >= version; };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

void WeightsSubscriber::Run() {
  WeightsMetrics& metrics = WeightsMetrics::Get();
  const std::string role = WeightsMetrics::Role(role_);
  prometheus::Counter& installed_total = metrics.installed.Add({{"role", role}});
  prometheus::Counter& rejected_total = metrics.rejected.Add({{"role", role}});
  prometheus::Gauge& version_gauge = metrics.installed_version.Add({{"role", role}});
  version_gauge.Set(static_cast<double>(installed_version()));
  auto stub = skillsd::v1::WeightsService::NewStub(channel_);
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stopping_) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      context_ = &context;
    }
    skillsd::v1::SubscribeRequest request;
    request.set_subscriber_id(id_);
    request.set_role(role_);
    request.set_have_version(installed_version());
    auto reader = stub->Subscribe(&context, request);
    SnapshotAssembler assembler;
    skillsd::v1::WeightsChunk chunk;
    while (reader->Read(&chunk)) {
      backoff = absl::Milliseconds(100);
      absl::StatusOr<std::optional<Snapshot>> result = assembler.Add(chunk);
      if (!result.ok()) {
        ++rejected_;
        rejected_total.Increment();
        SKILLSD_LOG(WARNING) << "weights subscriber " << id_ << ": snapshot rejected: " << result.status();
        continue;
      }
      if (!result->has_value()) continue;
      const Snapshot& snapshot = **result;
      absl::Status installed = install_(snapshot);
      if (!installed.ok()) {
        ++rejected_;
        rejected_total.Increment();
        SKILLSD_LOG(WARNING) << "weights subscriber " << id_ << ": version " << snapshot.version
                             << " not installed: " << installed;
        continue;
      }
      installed_total.Increment();
      absl::MutexLock lock(&mu_);
      installed_ = std::max(installed_, snapshot.version);
      version_gauge.Set(static_cast<double>(installed_));
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      context_ = nullptr;
    }
    if (stopping_) break;
    SKILLSD_VLOG(1) << "weights subscriber " << id_ << ": stream ended (" << status.error_message()
                    << "), reconnecting";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace skillsd::weights
