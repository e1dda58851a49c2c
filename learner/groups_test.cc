#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/groups.h"
#include "learner/intake.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

// A valid group: G trajectories, each one sequence [prompt, skill slot, generated, observation, generated].
skillsd::v1::Group MakeGroup(const std::string& id, int64_t version, const std::vector<double>& rewards) {
  skillsd::v1::Group g;
  g.set_group_id(id);
  g.mutable_task()->set_task_id("sokoban/train/3");
  g.mutable_versions()->set_policy_version(version);
  g.set_teacher_scored(true);
  for (size_t t = 0; t < rewards.size(); ++t) {
    auto* traj = g.add_trajectories();
    traj->set_policy_version(version);
    traj->mutable_stats()->set_episode_return(rewards[t]);
    auto* seq = traj->add_sequences();
    auto add = [&](skillsd::v1::SegmentRole role, std::vector<int32_t> ids) {
      auto* seg = seq->add_segments();
      seg->set_role(role);
      for (int32_t id : ids) {
        seg->add_token_ids(id);
        if (role == skillsd::v1::SEGMENT_ROLE_GENERATED) {
          seg->add_behaviour_logprobs(-1.0f - 0.1f * static_cast<float>(id % 3));
          seg->add_loss_mask(true);
          seg->add_teacher_logprobs(-0.5f);
        }
      }
    };
    add(skillsd::v1::SEGMENT_ROLE_PROMPT, {1, 2, 3});
    add(skillsd::v1::SEGMENT_ROLE_SKILL_SLOT, {});
    add(skillsd::v1::SEGMENT_ROLE_GENERATED, {4, 5});
    add(skillsd::v1::SEGMENT_ROLE_OBSERVATION, {6});
    add(skillsd::v1::SEGMENT_ROLE_GENERATED, {7});
  }
  return g;
}

GroupRequirements Requirements() {
  GroupRequirements r;
  r.vocab_size = 10;
  r.current_version = 3;
  r.needs_teacher = true;
  return r;
}

TEST(ValidateGroupTest, AcceptsAWellFormedGroup) {
  EXPECT_OK(ValidateGroup(MakeGroup("g", 3, {1, 0}), Requirements()));
}

TEST(ValidateGroupTest, NamesTheBadField) {
  auto g = MakeGroup("g", 3, {1, 0});
  g.mutable_trajectories(1)->mutable_sequences(0)->mutable_segments(2)->add_behaviour_logprobs(-1);
  EXPECT_THAT(ValidateGroup(g, Requirements()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("trajectories[1].sequences[0].segments[2]: 3 log-probs and 2 mask entries for 2")));
  g = MakeGroup("g", 3, {1});
  g.mutable_trajectories(0)->mutable_sequences(0)->mutable_segments(0)->set_token_ids(0, 10);
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vocabulary")));
  g = MakeGroup("g", 4, {1});
  EXPECT_THAT(ValidateGroup(g, Requirements()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("policy_version")));
  g = MakeGroup("", 3, {1});
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("group_id")));
  g = MakeGroup("g", 3, {1});
  g.mutable_trajectories(0)->mutable_sequences(0)->mutable_segments(4)->clear_teacher_logprobs();
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("teacher")));
  g = MakeGroup("g", 3, {1});
  g.mutable_trajectories(0)->mutable_sequences(0)->mutable_segments(2)->set_behaviour_logprobs(0, 0.5f);
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("<= 0")));
  g = MakeGroup("g", 3, {1});
  g.mutable_trajectories(0)->mutable_sequences(0)->mutable_segments(1)->add_token_ids(1);
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SKILL_SLOT")));
  g = MakeGroup("g", 3, {1});
  g.mutable_trajectories(0)->set_policy_version(2);
  EXPECT_THAT(ValidateGroup(g, Requirements()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("differs")));
}

TEST(ToTrainingSequencesTest, FlattensSegmentsWithGroupAdvantages) {
  const auto seqs = ToTrainingSequences(MakeGroup("g", 3, {2.0, 0.0}), {});
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_THAT(seqs[0].tokens, ::testing::ElementsAre(1, 2, 3, 4, 5, 6, 7));
  EXPECT_THAT(seqs[0].loss_mask, ::testing::ElementsAre(0, 0, 0, 1, 1, 0, 1));
  EXPECT_FLOAT_EQ(seqs[0].old_logprobs[3], -1.1f);
  EXPECT_FLOAT_EQ(seqs[0].teacher_logprobs[6], -0.5f);
  EXPECT_NEAR(seqs[0].advantage, 1.0 / (1.0 + 1e-6), 1e-9);  // (2 - 1) / (std 1 + eps)
  EXPECT_NEAR(seqs[1].advantage, -1.0 / (1.0 + 1e-6), 1e-9);
  EXPECT_EQ(seqs[0].weight, 1.0);
}

TEST(ToTrainingSequencesTest, BalancedTrajectoriesWeighEquallyInTotal) {
  skillsd::v1::Group g = MakeGroup("g", 3, {2.0, 0.0});
  // Give the second trajectory a second sequence: 3 loss tokens + 3 more = 6 against 3.
  *g.mutable_trajectories(1)->add_sequences() = g.trajectories(1).sequences(0);
  AdvantageOptions options;
  options.balance_trajectories = true;
  const auto seqs = ToTrainingSequences(g, options);
  ASSERT_EQ(seqs.size(), 3u);
  auto loss_weight = [](const TrainingSequence& s) {
    double w = 0;
    for (uint8_t m : s.loss_mask) w += m ? s.weight : 0;
    return w;
  };
  const double first = loss_weight(seqs[0]), second = loss_weight(seqs[1]) + loss_weight(seqs[2]);
  EXPECT_DOUBLE_EQ(first, second);
  EXPECT_DOUBLE_EQ(first + second, 9.0);  // the total stays the group's token count
}

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

}  // namespace
}  // namespace skillsd::learner
