#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/groups.h"
#include "learner/step_report.h"
#include "learner/test_groups.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

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

}  // namespace
}  // namespace skillsd::learner

namespace skillsd::learner {
namespace {

// A step's summary: solve and invalid rates over its episodes, the skill diagnostics summed over groups and read
// as rates, and nothing where nothing was measured.
TEST(StepReportTest, GroupsSummaryRates) {
  skillsd::v1::Group a = MakeGroup("v0/t0", 0, {1, 0, 0, 0});
  skillsd::v1::Group b = MakeGroup("v0/t1", 0, {1, 1, 0, 0});
  for (auto* group : {&a, &b}) {
    for (auto& t : *group->mutable_trajectories()) {
      t.mutable_stats()->set_solved(t.stats().episode_return() > 0.5);
      t.mutable_stats()->set_turns(5);
      t.mutable_stats()->set_invalid_actions(1);
    }
  }
  auto* d = b.mutable_skill_diagnostics();
  d->set_skill_turns(10);
  d->set_on_workflow_turns(4);
  d->set_gap_sum_on(2.0);
  d->set_gap_tokens_on(8);
  d->set_probed_on(4);
  d->set_teacher_optimal_on(3);
  d->set_student_optimal_on(1);
  d->set_probed_workflow(5);
  d->set_teacher_follows(4);
  skillsd::v1::Group c;  // no episodes, the same diagnostics: every field of both is summed
  *c.mutable_skill_diagnostics() = *d;
  GroupsSummary summary = SummarizeGroups({a, b, c});
  EXPECT_EQ(summary.episodes, 8);
  std::map<std::string, std::optional<double>> rates;
  for (const auto& [name, value] : summary.Rates()) rates[name] = value;
  EXPECT_NEAR(rates["train_solve_rate"].value_or(-1), 3.0 / 8, 1e-9);
  EXPECT_NEAR(rates["invalid_rate"].value_or(-1), 8.0 / 40, 1e-9);
  EXPECT_EQ(summary.skill.skill_turns(), 20);
  EXPECT_NEAR(summary.skill.gap_sum_on(), 4.0, 1e-12);
  EXPECT_NEAR(rates["workflow_applies"].value_or(-1), 0.4, 1e-9);
  EXPECT_NEAR(rates["teacher_gap_on"].value_or(-1), 0.25, 1e-9);
  EXPECT_NEAR(rates["teacher_optimal_on"].value_or(-1), 0.75, 1e-9);
  EXPECT_NEAR(rates["student_optimal_on"].value_or(-1), 0.25, 1e-9);
  EXPECT_NEAR(rates["teacher_follows_workflow"].value_or(-1), 0.8, 1e-9);
  EXPECT_FALSE(rates["teacher_gap_off"].has_value());
  EXPECT_FALSE(rates["teacher_optimal_off"].has_value());
  summary = SummarizeGroups({a});
  for (const auto& [name, value] : summary.Rates()) rates[name] = value;
  EXPECT_FALSE(rates["workflow_applies"].has_value());
  EXPECT_EQ(rates["skill_turns"].value_or(-1), 0);
}

}  // namespace
}  // namespace skillsd::learner
