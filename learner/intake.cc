#include "learner/intake.h"

#include "absl/strings/str_cat.h"

namespace skillsd::learner {

absl::StatusOr<skillsd::v1::GroupDisposition> GroupIntake::Submit(skillsd::v1::Group group, int64_t current_version,
                                                                  absl::Time deadline) {
  const std::string id = group.group_id();
  {
    absl::MutexLock lock(&mu_);
    if (seen_.contains(id)) {
      ++duplicates_;
      return skillsd::v1::GROUP_DISPOSITION_DUPLICATE;
    }
    if (arriving_.contains(id)) {
      // The same group is waiting for room in another call: its outcome is not known yet, so this copy is not
      // acknowledged either way (the sender retries).
      return absl::UnavailableError(absl::StrCat("group ", id, " is being submitted already; retry later"));
    }
    if (Stale(group.versions().policy_version(), current_version)) {
      seen_.insert(id);
      ++dropped_stale_;
      return skillsd::v1::GROUP_DISPOSITION_DROPPED_STALE;
    }
    arriving_.insert(id);
  }
  // Room first (waiting without the intake's lock, so that Take can make some), then the log, then the queue:
  // an acknowledged group is durable and queued, a refused one neither.
  const absl::Status room = queue_.Reserve(1, deadline);
  absl::MutexLock lock(&mu_);
  arriving_.erase(id);
  if (!room.ok()) return absl::UnavailableError("the learner's intake queue is full; retry later");
  if (seen_.contains(id)) {  // restored (RestoreConsumed, Recover) while this call waited
    queue_.Release(1);
    ++duplicates_;
    return skillsd::v1::GROUP_DISPOSITION_DUPLICATE;
  }
  if (options_.log != nullptr) {
    absl::Status logged = options_.log->Append(group);
    if (!logged.ok()) {
      queue_.Release(1);
      return absl::UnavailableError(absl::StrCat("cannot log the group: ", logged.message()));
    }
  }
  std::vector<skillsd::v1::Group> one;
  one.push_back(std::move(group));
  std::vector<skillsd::v1::Group> refused = queue_.Commit(std::move(one), 1);
  if (!refused.empty()) return absl::UnavailableError("the learner's intake is closed");  // logged: recovered later
  seen_.insert(id);
  return skillsd::v1::GROUP_DISPOSITION_ACCEPTED;
}

std::vector<skillsd::v1::Group> GroupIntake::Take(int count, int64_t current_version, absl::Duration timeout) {
  using Pick = BoundedQueue<skillsd::v1::Group>::Pick;
  // Stale groups are dropped on the way; usable ones taken (in synchronous mode, only the current version's);
  // groups of a later version wait.
  std::vector<skillsd::v1::Group> out =
      queue_.TakeIf(static_cast<size_t>(std::max(0, count)), absl::Now() + timeout, [&](const skillsd::v1::Group& g) {
        const int64_t version = g.versions().policy_version();
        if (Stale(version, current_version)) {
          ++dropped_stale_;
          return Pick::kDrop;
        }
        return version <= current_version ? Pick::kTake : Pick::kKeep;
      });
  queue_.Done(out.size());  // the learner's loop holds them now (pending_), not the queue
  absl::MutexLock lock(&mu_);
  for (const auto& g : out) consumed_.push_back(g.group_id());
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
    if (queue_.PushBeyondCapacity(std::move(group))) ++queued;
  }
  return queued;
}

std::vector<skillsd::v1::Group> GroupIntake::Pending() const {
  absl::MutexLock lock(&mu_);
  std::vector<skillsd::v1::Group> pending = queue_.Snapshot();
  pending.insert(pending.end(), closed_with_.begin(), closed_with_.end());
  return pending;
}

int64_t GroupIntake::queued() const { return static_cast<int64_t>(queue_.size()); }

int64_t GroupIntake::dropped_stale() const { return dropped_stale_.load(); }

int64_t GroupIntake::duplicates() const {
  absl::MutexLock lock(&mu_);
  return duplicates_;
}

void GroupIntake::Close() {
  absl::MutexLock lock(&mu_);
  std::vector<skillsd::v1::Group> left = queue_.Close();
  closed_with_.insert(closed_with_.end(), std::make_move_iterator(left.begin()), std::make_move_iterator(left.end()));
}

}  // namespace skillsd::learner
