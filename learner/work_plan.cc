#include "learner/work_plan.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace skillsd::learner {
namespace {

bool ParseDecimal(absl::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(text, out);
}

}  // namespace

std::string FormatGroupId(const GroupId& id) { return absl::StrCat("v", id.version, "/t", id.slot); }

std::optional<GroupId> ParseGroupId(absl::string_view id) {
  if (!absl::ConsumePrefix(&id, "v")) return std::nullopt;
  const size_t slash = id.find("/t");
  if (slash == absl::string_view::npos) return std::nullopt;
  int64_t version = 0, slot = 0;
  if (!ParseDecimal(id.substr(0, slash), &version) || !ParseDecimal(id.substr(slash + 2), &slot) || slot > INT32_MAX) {
    return std::nullopt;
  }
  return GroupId{version, static_cast<int>(slot)};
}

WorkPlan::WorkPlan(int64_t version, const std::vector<skillsd::v1::TaskRef>& order, int64_t cursor, int count)
    : version_(version) {
  const int64_t n = static_cast<int64_t>(order.size());
  for (int i = 0; i < count && n > 0; ++i) tasks_.push_back(order[static_cast<size_t>((cursor + i) % n)]);
  leased_until_.assign(tasks_.size(), absl::InfinitePast());
  done_.assign(tasks_.size(), false);
}

void WorkPlan::Lease(absl::Time now, absl::Duration lease, skillsd::v1::WorkAssignment* work) {
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (done_[i] || leased_until_[i] > now) continue;
    leased_until_[i] = now + lease;
    *work->add_tasks() = tasks_[i];
    work->add_group_ids(FormatGroupId({version_, static_cast<int>(i)}));
  }
}

void WorkPlan::MarkDone(absl::string_view group_id) {
  const std::optional<GroupId> id = ParseGroupId(group_id);
  if (!id.has_value() || id->version != version_ || static_cast<size_t>(id->slot) >= done_.size()) return;
  done_[static_cast<size_t>(id->slot)] = true;
}

}  // namespace skillsd::learner
