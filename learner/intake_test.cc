#include "learner/intake.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/intake_log.h"
#include "learner/test_groups.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

TEST(IntakeTest, ExactlyOnceAndStaleGroups) {
  GroupIntake intake({/*capacity=*/8, /*max_policy_lag=*/0});
  const absl::Time soon = absl::Now() + absl::Seconds(1);
  EXPECT_EQ(*intake.Submit(MakeGroup("a", 3, {1}), 3, soon), skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
  EXPECT_EQ(*intake.Submit(MakeGroup("a", 3, {1}), 3, soon), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  EXPECT_EQ(*intake.Submit(MakeGroup("old", 2, {1}), 3, soon), skillsd::v1::GROUP_DISPOSITION_DROPPED_STALE);
  EXPECT_EQ(intake.queued(), 1);
  std::vector<skillsd::v1::Group> taken = intake.Take(4, 3, absl::Milliseconds(10));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].group_id(), "a");
  // Consumed ids stay known: a resend after training is still a duplicate, also after a restart.
  EXPECT_EQ(*intake.Submit(MakeGroup("a", 3, {1}), 4, soon), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  GroupIntake restarted({8, 0});
  restarted.RestoreConsumed(intake.ConsumedIds());
  EXPECT_EQ(*restarted.Submit(MakeGroup("a", 4, {1}), 4, soon), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  EXPECT_EQ(intake.dropped_stale(), 1);
  EXPECT_EQ(intake.duplicates(), 2);
}

TEST(IntakeTest, AsynchronousLagAndVersionOrder) {
  GroupIntake intake({8, /*max_policy_lag=*/2});
  const absl::Time soon = absl::Now() + absl::Seconds(1);
  for (int v = 0; v <= 5; ++v) ASSERT_OK(intake.Submit(MakeGroup("g" + std::to_string(v), v, {1}), 5, soon).status());
  // At version 5 with lag 2, versions 3..5 are usable; 0..2 were dropped on arrival.
  EXPECT_EQ(intake.dropped_stale(), 3);
  // At version 4, the version-5 group waits for later.
  std::vector<skillsd::v1::Group> taken = intake.Take(8, 4, absl::Milliseconds(10));
  EXPECT_EQ(taken.size(), 2u);
  EXPECT_EQ(intake.queued(), 1);
}

TEST(IntakeTest, BackpressureAndWakeups) {
  GroupIntake intake({/*capacity=*/1, 0});
  ASSERT_OK(intake.Submit(MakeGroup("a", 0, {1}), 0, absl::Now() + absl::Seconds(1)).status());
  // Full: waits for room until the deadline, then UNAVAILABLE.
  EXPECT_THAT(intake.Submit(MakeGroup("b", 0, {1}), 0, absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kUnavailable));
  // A consumer making room lets a waiting producer in.
  std::thread consumer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    intake.Take(1, 0, absl::Seconds(1));
  });
  EXPECT_EQ(*intake.Submit(MakeGroup("c", 0, {1}), 0, absl::Now() + absl::Seconds(5)),
            skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
  consumer.join();
  // A waiting consumer wakes up when a group arrives.
  intake.Take(1, 0, absl::Milliseconds(1));
  std::thread producer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    (void)intake.Submit(MakeGroup("d", 0, {1}), 0, absl::Now() + absl::Seconds(1));
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(intake.Take(1, 0, absl::Seconds(5)).size(), 1u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  producer.join();
}

// Nothing acknowledged is lost: accepted groups survive a crash through the log, consumed ones are not
// trained twice, and a torn last record (a crash mid-append) is ignored.
TEST(IntakeLogTest, AcknowledgedGroupsSurviveACrash) {
  char pattern[] = "/tmp/skillsd_intake_XXXXXX";
  const std::string path = std::string(mkdtemp(pattern)) + "/intake.log";
  std::vector<std::string> consumed;
  {
    ASSERT_OK_AND_ASSIGN(auto log, IntakeLog::Open(path));
    GroupIntake intake({8, 0, log.get()});
    const absl::Time soon = absl::Now() + absl::Seconds(1);
    for (const char* id : {"a", "b", "c"}) {
      ASSERT_EQ(*intake.Submit(MakeGroup(id, 0, {1, 0}), 0, soon), skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
    }
    ASSERT_EQ(intake.Take(1, 0, absl::Milliseconds(1)).size(), 1u);  // "a" trained and checkpointed
    consumed = intake.ConsumedIds();
  }  // crash: "b" and "c" were acknowledged but not trained
  {
    // A crash in the middle of the next append leaves a torn record.
    std::string torn = MakeGroup("d", 0, {1}).SerializeAsString();
    FILE* f = fopen(path.c_str(), "ab");
    const uint32_t length = static_cast<uint32_t>(torn.size()), crc = 0;
    fwrite(&length, 4, 1, f);
    fwrite(&crc, 4, 1, f);
    fwrite(torn.data(), 1, torn.size() / 2, f);
    fclose(f);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<skillsd::v1::Group> logged, IntakeLog::ReadAll(path));
  EXPECT_EQ(logged.size(), 3u);
  GroupIntake restarted({8, 0});
  restarted.RestoreConsumed(consumed);
  EXPECT_EQ(restarted.Recover(logged), 2);
  std::vector<skillsd::v1::Group> pending = restarted.Take(8, 0, absl::Milliseconds(1));
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].group_id(), "b");
  EXPECT_EQ(pending[1].group_id(), "c");
  // Compaction after a checkpoint keeps only what is still pending.
  ASSERT_OK_AND_ASSIGN(auto log, IntakeLog::Open(path));
  ASSERT_OK(log->Rewrite({MakeGroup("c", 0, {1})}));
  ASSERT_OK(log->Append(MakeGroup("e", 0, {1})));
  ASSERT_OK_AND_ASSIGN(logged, IntakeLog::ReadAll(path));
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[1].group_id(), "e");
  // Damage before the last record is DATA_LOSS, never silently skipped.
  {
    FILE* f = fopen(path.c_str(), "r+b");
    fseek(f, 10, SEEK_SET);
    fputc('X', f);
    fclose(f);
  }
  EXPECT_THAT(IntakeLog::ReadAll(path), StatusIs(absl::StatusCode::kDataLoss));
}

// A group waiting for room is not acknowledged twice: a copy sent meanwhile is refused (retry), and once the
// first is in, the copy is a duplicate.
TEST(IntakeTest, ACopyArrivingWhileTheFirstWaitsIsNotAcknowledged) {
  GroupIntake intake({/*capacity=*/1, 0});
  ASSERT_OK(intake.Submit(MakeGroup("a", 0, {1}), 0, absl::Now() + absl::Seconds(1)).status());
  absl::StatusOr<skillsd::v1::GroupDisposition> first;
  std::thread waiting([&] { first = intake.Submit(MakeGroup("b", 0, {1}), 0, absl::Now() + absl::Seconds(10)); });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_THAT(intake.Submit(MakeGroup("b", 0, {1}), 0, absl::Now() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("being submitted")));
  ASSERT_EQ(intake.Take(1, 0, absl::Seconds(1)).size(), 1u);  // room for "b"
  waiting.join();
  ASSERT_OK(first.status());
  EXPECT_EQ(*first, skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
  EXPECT_EQ(*intake.Submit(MakeGroup("b", 0, {1}), 0, absl::Now()), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  EXPECT_EQ(intake.queued(), 1);
}

}  // namespace
}  // namespace skillsd::learner
