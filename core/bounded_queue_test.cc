#include "core/bounded_queue.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::ElementsAre;

size_t Length(const std::string& s) { return s.size(); }

TEST(BoundedQueueTest, RefusesWhenFullAndKeepsWhatItTook) {
  BoundedQueue<std::string> queue(2);
  ASSERT_OK(queue.TryPush("a"));
  ASSERT_OK(queue.TryPush("bb"));
  EXPECT_THAT(queue.TryPush("c"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_THAT(queue.PopBatch(100, absl::ZeroDuration(), Length), ElementsAre("a", "bb"));
  ASSERT_OK(queue.TryPush("c"));
}

TEST(BoundedQueueTest, BatchesByWeightAndAlwaysTakesOne) {
  BoundedQueue<std::string> queue(10);
  for (const char* s : {"aaa", "bb", "cccc", "d"}) ASSERT_OK(queue.TryPush(s));
  EXPECT_THAT(queue.PopBatch(5, absl::ZeroDuration(), Length), ElementsAre("aaa", "bb"));
  EXPECT_THAT(queue.PopBatch(2, absl::ZeroDuration(), Length), ElementsAre("cccc"));  // over weight, but alone
  EXPECT_THAT(queue.PopBatch(2, absl::ZeroDuration(), Length), ElementsAre("d"));
}

TEST(BoundedQueueTest, LingersForCompanyUntilTheTargetWeight) {
  BoundedQueue<std::string> queue(10);
  ASSERT_OK(queue.TryPush("a"));
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_OK(queue.TryPush("b"));
  });
  // Waits (up to a minute) for the second item, which makes the weight 2, and takes both at once.
  EXPECT_THAT(queue.PopBatch(2, absl::Minutes(1), Length), ElementsAre("a", "b"));
  later.join();
}

TEST(BoundedQueueTest, RemoveTellsWhetherTheItemWasStillQueued) {
  BoundedQueue<int> queue(4);
  ASSERT_OK(queue.TryPush(1));
  ASSERT_OK(queue.TryPush(2));
  EXPECT_TRUE(queue.Remove(1));
  EXPECT_FALSE(queue.Remove(1));
  EXPECT_THAT(queue.PopBatch(10, absl::ZeroDuration(), [](const int&) { return size_t{1}; }), ElementsAre(2));
  EXPECT_FALSE(queue.Remove(2));  // a consumer took it
}

TEST(BoundedQueueTest, CloseHandsBackTheRestWakesConsumersAndRefusesPushes) {
  BoundedQueue<int> queue(4);
  std::vector<int> got = {-1};
  std::thread consumer([&] { got = queue.PopBatch(10, absl::Minutes(1), [](const int&) { return size_t{1}; }); });
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_OK(queue.TryPush(7));  // the consumer lingers for more
  std::vector<int> left;
  // Close may land before or after the consumer took 7: either way 7 is handed to exactly one of them.
  absl::SleepFor(absl::Milliseconds(20));
  left = queue.Close();
  consumer.join();
  std::vector<int> all = got;
  all.insert(all.end(), left.begin(), left.end());
  EXPECT_THAT(all, ElementsAre(7));
  EXPECT_THAT(queue.TryPush(8), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(queue.PopBatch(10, absl::ZeroDuration(), [](const int&) { return size_t{1}; }).empty());
}

}  // namespace
}  // namespace skillsd
