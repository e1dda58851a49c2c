// A FIFO with a capacity that producers and consumers share, and that can be closed: the one queue of the
// services' request paths (the teacher's scoring queue, the learner's intake, the skill service's summary queue).
// A full queue refuses an item (RESOURCE_EXHAUSTED) instead of growing; an item it has taken leaves only through a
// consumer, Remove or Close, so nothing accepted is lost.
//
// Producers that must make an item durable before they acknowledge it reserve room first (Reserve), persist, then
// Commit: the queue never holds an item nobody acknowledged, and never refuses one already persisted. Consumers
// that finish an item after taking it call Done, so that WaitDrained means "nothing queued and nothing in hand".
// Thread-safe.
#ifndef SKILLSD_CORE_BOUNDED_QUEUE_H_
#define SKILLSD_CORE_BOUNDED_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
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
    if (items_.size() + reserved_ >= capacity_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full (", items_.size(), " of ", capacity_, " waiting); retry later"));
    }
    items_.push_back(std::move(item));
    ++pushes_;
    return absl::OkStatus();
  }

  // Holds room for `n` more items for this caller until Commit or Release, waiting until `deadline` for it:
  // RESOURCE_EXHAUSTED when there is none by then (at once for a past deadline, and always when `n` exceeds the
  // capacity), FAILED_PRECONDITION once closed.
  absl::Status Reserve(size_t n, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (n > capacity_) {
      return absl::ResourceExhaustedError(absl::StrCat(n, " items are more than the queue holds (", capacity_, ")"));
    }
    auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || items_.size() + reserved_ + n <= capacity_;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&room), deadline)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full (", items_.size() + reserved_, " of ", capacity_, " taken); retry later"));
    }
    if (closed_) return absl::FailedPreconditionError("the queue is closed");
    reserved_ += n;
    return absl::OkStatus();
  }

  // Queues `items` into room reserved earlier (`reserved` of it, at least items.size()) and frees the rest of
  // it. Once closed, nothing is queued and the items come back.
  std::vector<T> Commit(std::vector<T> items, size_t reserved) {
    absl::MutexLock lock(&mu_);
    reserved_ -= std::min(reserved_, reserved);
    if (closed_) return items;
    for (T& item : items) items_.push_back(std::move(item));
    pushes_ += items.size();
    return {};
  }

  // Frees reserved room unused.
  void Release(size_t reserved) {
    absl::MutexLock lock(&mu_);
    reserved_ -= std::min(reserved_, reserved);
  }

  // Queues `item` whatever the capacity: for what was accepted before a restart, which must not be refused.
  // False (and nothing queued) once closed.
  bool PushBeyondCapacity(T item) {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    ++pushes_;
    return true;
  }

  enum class Pick { kTake, kDrop, kKeep };
  // Scans the queue front to back, taking (in order) the items `pick` says kTake, up to `max`, and removing those
  // it says kDrop; kKeep items stay where they are. While fewer than `max` are taken and the queue is open, waits
  // for the next push, until `deadline`. `pick` runs under the queue's lock: it must not call the queue.
  std::vector<T> TakeIf(size_t max, absl::Time deadline, const std::function<Pick(const T&)>& pick) {
    std::vector<T> out;
    absl::MutexLock lock(&mu_);
    while (true) {
      for (auto it = items_.begin(); it != items_.end() && out.size() < max;) {
        const Pick p = pick(*it);
        if (p == Pick::kKeep) {
          ++it;
          continue;
        }
        if (p == Pick::kTake) out.push_back(std::move(*it));
        it = items_.erase(it);
      }
      if (out.size() >= max || closed_) break;
      const uint64_t seen = pushes_;
      auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || pushes_ != seen; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&changed), deadline)) break;
    }
    in_hand_ += out.size();
    return out;
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
    in_hand_ += batch.size();
    return batch;
  }

  // A consumer has finished `n` items it took (PopBatch, TakeIf).
  void Done(size_t n) {
    absl::MutexLock lock(&mu_);
    in_hand_ -= std::min(in_hand_, n);
  }

  // Waits until nothing is queued and consumers have finished everything they took (or the queue is closed).
  void WaitDrained() const {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || (items_.empty() && in_hand_ == 0); };
    mu_.Await(absl::Condition(&drained));
  }

  // Copies of the queued items, in order.
  std::vector<T> Snapshot() const {
    absl::MutexLock lock(&mu_);
    return std::vector<T>(items_.begin(), items_.end());
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
  size_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // room held by Reserve for a Commit to come
  size_t in_hand_ ABSL_GUARDED_BY(mu_) = 0;   // taken by consumers, not Done yet
  uint64_t pushes_ ABSL_GUARDED_BY(mu_) = 0;  // items ever queued (wakes TakeIf)
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace skillsd

#endif  // SKILLSD_CORE_BOUNDED_QUEUE_H_
