// A FIFO with a capacity that producers and consumers share, and that can be closed: the one queue of the
// services' request paths (the teacher's scoring queue). A full queue refuses an item (RESOURCE_EXHAUSTED) instead
// of growing; an item it has taken leaves only through a consumer, Remove or Close, so nothing accepted is lost.
// Thread-safe.
#ifndef SKILLSD_CORE_BOUNDED_QUEUE_H_
#define SKILLSD_CORE_BOUNDED_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace skillsd {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}

  // Takes `item`, or refuses it and leaves it with the caller: RESOURCE_EXHAUSTED when `capacity` items are
  // queued, FAILED_PRECONDITION once closed.
  absl::Status TryPush(T item) {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("the queue is closed");
    if (items_.size() >= capacity_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full (", items_.size(), " of ", capacity_, " waiting); retry later"));
    }
    items_.push_back(std::move(item));
    return absl::OkStatus();
  }

  // Waits until an item is queued (or the queue is closed), then up to `linger` for the queued weight to reach
  // `target_weight`, then takes items from the front while their weights add up to at most `target_weight` (always
  // at least one). Empty only once the queue is closed.
  std::vector<T> PopBatch(size_t target_weight, absl::Duration linger, const std::function<size_t(const T&)>& weight) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !items_.empty(); };
    mu_.Await(absl::Condition(&ready));
    auto full = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      size_t total = 0;
      for (const T& item : items_) total += weight(item);
      return closed_ || total >= target_weight;
    };
    mu_.AwaitWithTimeout(absl::Condition(&full), linger);
    std::vector<T> batch;
    if (closed_) return batch;
    size_t total = 0;
    while (!items_.empty() && (batch.empty() || total + weight(items_.front()) <= target_weight)) {
      total += weight(items_.front());
      batch.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return batch;
  }

  // Removes the first queued item equal to `item`: true when it was still queued, false when a consumer (or
  // Close) has taken it.
  bool Remove(const T& item) {
    absl::MutexLock lock(&mu_);
    auto it = std::find(items_.begin(), items_.end(), item);
    if (it == items_.end()) return false;
    items_.erase(it);
    return true;
  }

  // Refuses every later push, wakes every waiting consumer, and hands back what was still queued.
  std::vector<T> Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    std::vector<T> left(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
    items_.clear();
    return left;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace skillsd

#endif  // SKILLSD_CORE_BOUNDED_QUEUE_H_
