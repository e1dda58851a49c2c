#include "core/bounded_queue.h"

#include <atomic>
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
size_t Unit(const int&) { return 1; }

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

// Room reserved counts against the capacity until it is committed or released; a commit after Close hands the
// items back.
TEST(BoundedQueueTest, ReservedRoomIsHeldUntilCommitOrRelease) {
  BoundedQueue<int> q(3);
  ASSERT_OK(q.Reserve(2, absl::Now()));
  ASSERT_OK(q.TryPush(1));
  EXPECT_THAT(q.TryPush(2), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(q.Reserve(1, absl::Now() + absl::Milliseconds(20)), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(q.Reserve(4, absl::Now()), StatusIs(absl::StatusCode::kResourceExhausted));  // never fits
  EXPECT_TRUE(q.Commit({7}, 2).empty());  // one of the two used, the other freed
  EXPECT_EQ(q.size(), 2u);
  ASSERT_OK(q.Reserve(1, absl::Now()));
  q.Release(1);
  ASSERT_OK(q.TryPush(3));
  EXPECT_THAT(q.Snapshot(), ElementsAre(1, 7, 3));
  // A producer waiting for room gets it when a consumer takes an item.
  std::thread consumer([&] {
    absl::SleepFor(absl::Milliseconds(30));
    q.PopBatch(1, absl::ZeroDuration(), Unit);
  });
  ASSERT_OK(q.Reserve(1, absl::Now() + absl::Seconds(10)));
  consumer.join();
  q.Close();
  EXPECT_THAT(q.Commit({9}, 1), ElementsAre(9));
  EXPECT_THAT(q.Reserve(1, absl::Now()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(BoundedQueueTest, TakeIfTakesDropsAndKeepsAndWaitsForPushes) {
  using Pick = BoundedQueue<int>::Pick;
  BoundedQueue<int> q(2);
  ASSERT_OK(q.TryPush(1));
  EXPECT_TRUE(q.PushBeyondCapacity(2));
  EXPECT_TRUE(q.PushBeyondCapacity(3));  // beyond the capacity of 2
  const auto odd_taken_even_dropped = [](const int& v) {
    return v == 3 ? Pick::kKeep : v % 2 ? Pick::kTake : Pick::kDrop;
  };
  EXPECT_THAT(q.TakeIf(5, absl::Now() + absl::Milliseconds(10), odd_taken_even_dropped), ElementsAre(1));
  EXPECT_THAT(q.Snapshot(), ElementsAre(3));
  // Waits for the next push when it has fewer than asked for.
  std::thread producer([&] {
    absl::SleepFor(absl::Milliseconds(30));
    ASSERT_OK(q.TryPush(5));
  });
  EXPECT_THAT(q.TakeIf(1, absl::Now() + absl::Seconds(10), odd_taken_even_dropped), ElementsAre(5));
  producer.join();
}

TEST(BoundedQueueTest, DrainedMeansNothingQueuedAndNothingInHand) {
  BoundedQueue<int> q(4);
  ASSERT_OK(q.TryPush(1));
  std::vector<int> taken = q.PopBatch(1, absl::ZeroDuration(), Unit);
  ASSERT_EQ(taken.size(), 1u);
  std::atomic<bool> drained{false};
  std::thread waiter([&] {
    q.WaitDrained();
    drained = true;
  });
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_FALSE(drained.load());  // queue empty, but the item is still in the consumer's hand
  q.Done(1);
  waiter.join();
  EXPECT_TRUE(drained.load());
}

}  // namespace
}  // namespace skillsd
