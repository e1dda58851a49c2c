#include "learner/intake.h"

#include "absl/strings/str_cat.h"

namespace skillsd::learner {

absl::StatusOr<skillsd::v1::GroupDisposition> GroupIntake::Submit(skillsd::v1::Group group, int64_t current_version,
                                                                  absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (seen_.contains(group.group_id())) {
    ++duplicates_;
    return skillsd::v1::GROUP_DISPOSITION_DUPLICATE;
  }
  if (Stale(group.versions().policy_version(), current_version)) {
    seen_.insert(group.group_id());
    ++dropped_stale_;
    return skillsd::v1::GROUP_DISPOSITION_DROPPED_STALE;
  }
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || static_cast<int>(queue_.size()) < options_.capacity;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline) || closed_) {
    return absl::UnavailableError("the learner's intake queue is full; retry later");
  }
  // The same id may have arrived while this call waited.
  if (seen_.contains(group.group_id())) {
    ++duplicates_;
    return skillsd::v1::GROUP_DISPOSITION_DUPLICATE;
  }
  if (options_.log != nullptr) {
    absl::Status logged = options_.log->Append(group);
    if (!logged.ok()) return absl::UnavailableError(absl::StrCat("cannot log the group: ", logged.message()));
  }
  seen_.insert(group.group_id());
  queue_.push_back(std::move(group));
  ++arrivals_;
  return skillsd::v1::GROUP_DISPOSITION_ACCEPTED;
}

std::vector<skillsd::v1::Group> GroupIntake::Take(int count, int64_t current_version, absl::Duration timeout) {
  std::vector<skillsd::v1::Group> out;
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    // Drop stale groups; take usable ones (in synchronous mode, only the current version's).
    for (auto it = queue_.begin(); it != queue_.end() && static_cast<int>(out.size()) < count;) {
      const int64_t version = it->versions().policy_version();
      if (Stale(version, current_version)) {
        ++dropped_stale_;
        it = queue_.erase(it);
      } else if (version <= current_version) {
        consumed_.push_back(it->group_id());
        out.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (static_cast<int>(out.size()) >= count || closed_) break;
    // Wait for the next arrival (or Close) until the deadline.
    const int64_t seen = arrivals_;
    auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || arrivals_ != seen; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&changed), deadline)) break;
  }
  return out;
}

std::vector<std::string> GroupIntake::ConsumedIds() const {
  absl::MutexLock lock(&mu_);
  return consumed_;
}

void GroupIntake::RestoreConsumed(const std::vector<std::string>& ids) {
  absl::MutexLock lock(&mu_);
  for (const std::string& id : ids) {
    if (seen_.insert(id).second) consumed_.push_back(id);
  }
}

int GroupIntake::Recover(std::vector<skillsd::v1::Group> logged) {
  absl::MutexLock lock(&mu_);
  int queued = 0;
  for (auto& group : logged) {
    if (!seen_.insert(group.group_id()).second) continue;  // consumed (or logged twice)
    queue_.push_back(std::move(group));
    ++queued;
  }
  arrivals_ += queued;
  return queued;
}

std::vector<skillsd::v1::Group> GroupIntake::Pending() const {
  absl::MutexLock lock(&mu_);
  return std::vector<skillsd::v1::Group>(queue_.begin(), queue_.end());
}

int64_t GroupIntake::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

int64_t GroupIntake::dropped_stale() const {
  absl::MutexLock lock(&mu_);
  return dropped_stale_;
}

int64_t GroupIntake::duplicates() const {
  absl::MutexLock lock(&mu_);
  return duplicates_;
}

void GroupIntake::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace skillsd::learner
