#include "learner/work_plan.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace skillsd::learner {
namespace {

std::vector<skillsd::v1::TaskRef> Tasks(int n) {
  std::vector<skillsd::v1::TaskRef> tasks(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) tasks[static_cast<size_t>(i)].set_task_id("env/train/" + std::to_string(i));
  return tasks;
}

TEST(GroupIdTest, RoundTripsAndRejectsAnythingElse) {
  EXPECT_EQ(FormatGroupId({12, 3}), "v12/t3");
  for (const GroupId id : {GroupId{0, 0}, GroupId{12, 3}, GroupId{1'000'000'000'000, 65535}}) {
    const std::optional<GroupId> back = ParseGroupId(FormatGroupId(id));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->version, id.version);
    EXPECT_EQ(back->slot, id.slot);
  }
  for (const char* bad : {"", "v", "v1", "v1/t", "v/t1", "1/t2", "v1/t2x", "v1/t-2", "v-1/t2", "v1/t 2", "x1/t2",
                          "v1/t99999999999", "v1/e2", "v1/t2/e0"}) {
    EXPECT_FALSE(ParseGroupId(bad).has_value()) << bad;
  }
}

TEST(WorkPlanTest, LeasesEachTaskOnceUntilItsLeaseRunsOut) {
  WorkPlan plan(/*version=*/4, Tasks(5), /*cursor=*/3, /*count=*/3);
  const absl::Time now = absl::FromUnixSeconds(1000);
  skillsd::v1::WorkAssignment first;
  plan.Lease(now, absl::Minutes(1), &first);
  ASSERT_EQ(first.tasks_size(), 3);
  EXPECT_EQ(first.tasks(0).task_id(), "env/train/3");
  EXPECT_EQ(first.tasks(2).task_id(), "env/train/0");  // cycles through the order
  EXPECT_EQ(first.group_ids(1), "v4/t1");
  skillsd::v1::WorkAssignment none;
  plan.Lease(now + absl::Seconds(59), absl::Minutes(1), &none);
  EXPECT_EQ(none.tasks_size(), 0);
  plan.MarkDone("v4/t0");
  plan.MarkDone("v3/t1");  // another version's group: ignored
  plan.MarkDone("v4/t9");  // no such slot: ignored
  skillsd::v1::WorkAssignment again;
  plan.Lease(now + absl::Minutes(2), absl::Minutes(1), &again);
  ASSERT_EQ(again.tasks_size(), 2);
  EXPECT_EQ(again.group_ids(0), "v4/t1");
  EXPECT_EQ(again.group_ids(1), "v4/t2");
}

TEST(WorkPlanTest, NoTasksGivesNoWork) {
  WorkPlan plan(0, {}, 0, 4);
  skillsd::v1::WorkAssignment work;
  plan.Lease(absl::Now(), absl::Minutes(1), &work);
  EXPECT_EQ(work.tasks_size(), 0);
}

}  // namespace
}  // namespace skillsd::learner
