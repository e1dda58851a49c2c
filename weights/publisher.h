// The learner's side of weight distribution: holds the newest snapshot for each subscriber role and wakes
// subscribers when a newer one is published. Actors get every version; the teacher gets the initial weights and
// then every K-th version (dynamic teacher), or only the initial weights (frozen teacher). Thread-safe.
#ifndef SKILLSD_WEIGHTS_PUBLISHER_H_
#define SKILLSD_WEIGHTS_PUBLISHER_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skillsd/v1/weights.pb.h"
#include "weights/snapshot.h"

namespace skillsd::weights {

class WeightsPublisher {
 public:
  // `teacher_interval` = K (>= 1); `teacher_frozen`: the teacher keeps the first snapshot published.
  WeightsPublisher(int teacher_interval, bool teacher_frozen);

  // Makes `snapshot` the newest for actors, and for the teacher when its schedule says so (the first snapshot
  // always; then versions divisible by K unless frozen). Versions must increase; an older or equal version is
  // ignored (returns false).
  bool Publish(std::shared_ptr<const Snapshot> snapshot);

  // The newest snapshot for `role` (nullptr before the first).
  std::shared_ptr<const Snapshot> Latest(skillsd::v1::SubscriberRole role) const;

  // Waits up to `timeout` for a snapshot of `role` newer than `have_version`; nullptr on timeout or after Close.
  std::shared_ptr<const Snapshot> WaitNewer(skillsd::v1::SubscriberRole role, int64_t have_version,
                                            absl::Duration timeout) const;

  // Wakes every waiter; later waits return at once (server drain).
  void Close();
  bool closed() const;

 private:
  const int teacher_interval_;
  const bool teacher_frozen_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> actor_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Snapshot> teacher_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_PUBLISHER_H_
