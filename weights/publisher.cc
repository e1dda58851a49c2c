#include "weights/publisher.h"

#include <algorithm>

namespace skillsd::weights {

WeightsPublisher::WeightsPublisher(int teacher_interval, bool teacher_frozen)
    : teacher_interval_(std::max(1, teacher_interval)), teacher_frozen_(teacher_frozen) {}

bool WeightsPublisher::Publish(std::shared_ptr<const Snapshot> snapshot) {
  absl::MutexLock lock(&mu_);
  if (actor_ != nullptr && snapshot->version <= actor_->version) return false;
  const bool first = actor_ == nullptr;
  actor_ = snapshot;
  if (first || (!teacher_frozen_ && snapshot->version % teacher_interval_ == 0)) teacher_ = snapshot;
  return true;
}

std::shared_ptr<const Snapshot> WeightsPublisher::Latest(skillsd::v1::SubscriberRole role) const {
  absl::MutexLock lock(&mu_);
  return role == skillsd::v1::SUBSCRIBER_ROLE_TEACHER ? teacher_ : actor_;
}

std::shared_ptr<const Snapshot> WeightsPublisher::WaitNewer(skillsd::v1::SubscriberRole role, int64_t have_version,
                                                            absl::Duration timeout) const {
  const bool teacher = role == skillsd::v1::SUBSCRIBER_ROLE_TEACHER;
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto& s = teacher ? teacher_ : actor_;
    return closed_ || (s != nullptr && s->version > have_version);
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (closed_) return nullptr;
  const auto& s = teacher ? teacher_ : actor_;
  return s != nullptr && s->version > have_version ? s : nullptr;
}

bool WeightsPublisher::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void WeightsPublisher::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace skillsd::weights
