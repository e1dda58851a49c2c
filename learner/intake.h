// The learner's intake of scored groups: exactly once by group id (a resent group is acknowledged as
// DUPLICATE and not queued again, also across restarts once the consumed ids are restored from a checkpoint),
// through a bounded queue with backpressure (core/bounded_queue.h: Submit waits for room until its deadline, then
// UNAVAILABLE, which clients retry; a group is logged before it is queued and acknowledged). Synchronous mode
// (max_policy_lag 0, the paper's): a step takes only groups of the current policy version; asynchronous: groups up to
// max_policy_lag versions old; older groups are acknowledged as DROPPED_STALE and counted. Thread-safe.
#ifndef SKILLSD_LEARNER_INTAKE_H_
#define SKILLSD_LEARNER_INTAKE_H_

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/bounded_queue.h"
#include "learner/intake_log.h"
#include "skillsd/v1/learner.pb.h"
#include "skillsd/v1/rollout.pb.h"

namespace skillsd::learner {

struct IntakeOptions {
  int capacity = 256;      // queued groups
  int max_policy_lag = 0;  // 0 = synchronous
  // When set, accepted groups are appended here (durably) before Submit returns ACCEPTED. Not owned.
  IntakeLog* log = nullptr;
};

class GroupIntake {
 public:
  explicit GroupIntake(IntakeOptions options)
      : options_(options), queue_(static_cast<size_t>(std::max(1, options.capacity))) {}

  // Queues a group that passed ValidateGroup. `current_version` is the learner's policy version now.
  absl::StatusOr<skillsd::v1::GroupDisposition> Submit(skillsd::v1::Group group, int64_t current_version,
                                                       absl::Time deadline);

  // Removes and returns up to `count` groups usable at `current_version` (in arrival order), waiting up to
  // `timeout` for the first one; stale groups found on the way are dropped and counted. The returned groups'
  // ids count as consumed.
  std::vector<skillsd::v1::Group> Take(int count, int64_t current_version, absl::Duration timeout);

  // Ids to store in a checkpoint (consumed groups), and to restore from one.
  std::vector<std::string> ConsumedIds() const;
  void RestoreConsumed(const std::vector<std::string>& ids);

  // After a restart: queues the logged groups whose ids were not consumed (call after RestoreConsumed), even
  // beyond the capacity. Returns how many were queued.
  int Recover(std::vector<skillsd::v1::Group> logged);

  // Copies of the queued groups (what the log must keep after a checkpoint).
  std::vector<skillsd::v1::Group> Pending() const;

  int64_t queued() const;
  int64_t dropped_stale() const;
  int64_t duplicates() const;
  // Wakes waiters; Submit then fails with UNAVAILABLE.
  void Close();

 private:
  bool Stale(int64_t version, int64_t current_version) const {
    return version < current_version - options_.max_policy_lag;
  }

  const IntakeOptions options_;
  // Lock order: mu_, then the queue's own lock (never the other way: Take does not hold mu_ while it waits).
  mutable absl::Mutex mu_;
  BoundedQueue<skillsd::v1::Group> queue_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);      // queued, consumed or dropped
  absl::flat_hash_set<std::string> arriving_ ABSL_GUARDED_BY(mu_);  // waiting for room in a Submit now
  std::vector<std::string> consumed_ ABSL_GUARDED_BY(mu_);
  std::vector<skillsd::v1::Group> closed_with_ ABSL_GUARDED_BY(mu_);  // still queued at Close: kept for Pending
  std::atomic<int64_t> dropped_stale_{0};
  int64_t duplicates_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_INTAKE_H_
