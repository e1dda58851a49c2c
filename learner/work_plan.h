// The work of one policy version: the tasks of the step, leased to actors, and the ids of their groups.
#ifndef SKILLSD_LEARNER_WORK_PLAN_H_
#define SKILLSD_LEARNER_WORK_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skillsd/v1/common.pb.h"
#include "skillsd/v1/learner.pb.h"

namespace skillsd::learner {

// A group's id: the policy version it was planned for and its task's slot in that version's plan, "v12/t3".
// The learner writes it into the work and reads it back when the group comes in.
struct GroupId {
  int64_t version = 0;
  int slot = 0;
};
std::string FormatGroupId(const GroupId& id);
// nullopt unless `id` is exactly "v<version>/t<slot>" (decimal, non-negative).
std::optional<GroupId> ParseGroupId(absl::string_view id);

// Not thread-safe: the learner calls it under its mutex.
class WorkPlan {
 public:
  WorkPlan() = default;
  // The `count` tasks of `version`: order[cursor], order[cursor + 1], ... (cycling through `order`).
  WorkPlan(int64_t version, const std::vector<skillsd::v1::TaskRef>& order, int64_t cursor, int count);

  int64_t version() const { return version_; }
  // Leases every task that is neither done nor under a lease at `now` until now + `lease`, adding it and its
  // group id to `work`. Adds nothing when every task is done or leased.
  void Lease(absl::Time now, absl::Duration lease, skillsd::v1::WorkAssignment* work);
  // The group `group_id` is in: its task is not handed out again. Ids of another version (or of no plan) are
  // ignored.
  void MarkDone(absl::string_view group_id);

 private:
  int64_t version_ = -1;
  std::vector<skillsd::v1::TaskRef> tasks_;
  std::vector<absl::Time> leased_until_;  // per task; InfinitePast = free
  std::vector<bool> done_;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_WORK_PLAN_H_
