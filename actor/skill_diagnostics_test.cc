#include "actor/skill_diagnostics.h"

#include "actor/test_tokenizer.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::actor {
namespace {

EnvSpec SokobanActions() {
  EnvSpec spec;
  for (const char* name : {"Up", "Down", "Left", "Right"}) {
    spec.actions.push_back({name, absl::StrCat("<answer>", name, "</answer>")});
  }
  return spec;
}

TEST(MoveProbeTest, FindsTheTokenThatNamesTheMove) {
  const auto tok = TinyTokenizer();
  const std::optional<MoveProbe> probe = MakeMoveProbe(SokobanActions(), *tok);
  ASSERT_TRUE(probe.has_value());
  EXPECT_THAT(probe->names, ::testing::ElementsAre("Up", "Down", "Left", "Right"));
  // The prefix is where all four answers agree; each move's token is where they part.
  for (size_t a = 0; a < 4; ++a) {
    std::vector<int32_t> answer = probe->prefix;
    answer.push_back(probe->tokens[a]);
    EXPECT_EQ(tok->EncodeOrdinary(SokobanActions().actions[a].answer).at(probe->prefix.size()), probe->tokens[a]);
    EXPECT_THAT(tok->Decode(answer), ::testing::StartsWith("<answer>"));
  }
  const std::vector<int32_t> left_up = tok->EncodeOrdinary("<answer>Left || Up</answer>");
  const int j = MovePosition(*probe, left_up);
  ASSERT_GE(j, 0);
  EXPECT_EQ(left_up[static_cast<size_t>(j)], probe->tokens[2]);
  EXPECT_EQ(MovePosition(*probe, tok->EncodeOrdinary("no answer at all")), -1);
  EXPECT_EQ(MovePosition(*probe, probe->prefix), -1);  // cut off before the move
  // Actions whose answers cannot be told apart by one token are not probed.
  EnvSpec same;
  same.actions = {{"A", "<answer>x</answer>"}, {"B", "<answer>x</answer>"}};
  EXPECT_FALSE(MakeMoveProbe(same, *tok).has_value());
  EXPECT_FALSE(MakeMoveProbe(EnvSpec(), *tok).has_value());
}

// One episode of three turns under the workflow "Up, Left": the first two follow it, the third (after Down) has
// left it. The teacher ranks Up first everywhere, the student Right; Up is optimal at turns 0 and 2.
TEST(DiagnoseGroupTest, CountsGapsAndOptimalTopMovesOnAndOffTheWorkflow) {
  const auto tok = TinyTokenizer();
  const MoveProbe probe = *MakeMoveProbe(SokobanActions(), *tok);
  const size_t p = probe.tokens.size();
  const std::vector<int32_t> answer = tok->EncodeOrdinary("<answer>Up</answer>");
  const int j = MovePosition(probe, answer);
  ASSERT_GE(j, 0);
  skillsd::v1::Group group;
  group.mutable_skill()->set_skill_id("s1");
  group.mutable_skill()->mutable_content()->set_golden_workflow("Up, Left");
  auto* trajectory = group.add_trajectories();
  skillsd::v1::ScoreResponse response;
  EpisodeResult episode;
  const std::vector<std::vector<std::string>> before = {{}, {"Up"}, {"Down"}};
  const std::vector<std::vector<std::string>> optimal = {{"Up"}, {"Left", "Down"}, {"Up", "Right"}};
  for (int t = 0; t < 3; ++t) {
    TurnRecord turn;
    turn.generated = answer;
    turn.moves_before = before[static_cast<size_t>(t)];
    turn.optimal_actions = optimal[static_cast<size_t>(t)];
    turn.probe_logprobs.assign(answer.size() * p, -3.0f);
    turn.probe_logprobs[static_cast<size_t>(j) * p + 3] = -0.1f;  // the student: Right
    episode.turns.push_back(turn);
    auto* segment = trajectory->add_sequences()->add_segments();
    segment->set_role(skillsd::v1::SEGMENT_ROLE_GENERATED);
    auto* scores = response.add_sequences()->add_segments();
    for (size_t k = 0; k < answer.size(); ++k) {
      segment->add_token_ids(answer[k]);
      segment->add_behaviour_logprobs(-1.0f);
      segment->add_teacher_logprobs(t < 2 ? -0.5f : -1.5f);  // +0.5 per token on the workflow, -0.5 off it
      for (size_t a = 0; a < p; ++a) scores->add_probe_logprobs(a == 0 ? -0.2f : -2.0f);  // the teacher: Up
    }
  }
  const std::vector<EpisodeResult> episodes = {episode};
  skillsd::v1::SkillDiagnostics d = DiagnoseGroup(group, episodes, response, &probe);
  EXPECT_EQ(d.skill_turns(), 3);
  EXPECT_EQ(d.on_workflow_turns(), 2);
  EXPECT_EQ(d.gap_tokens_on(), static_cast<int64_t>(2 * answer.size()));
  EXPECT_NEAR(d.gap_sum_on() / d.gap_tokens_on(), 0.5, 1e-6);
  EXPECT_NEAR(d.gap_sum_off() / d.gap_tokens_off(), -0.5, 1e-6);
  EXPECT_EQ(d.probed_on(), 2);
  EXPECT_EQ(d.teacher_optimal_on(), 1);  // Up is optimal at turn 0, not at turn 1
  EXPECT_EQ(d.student_optimal_on(), 0);
  EXPECT_EQ(d.probed_off(), 1);
  EXPECT_EQ(d.teacher_optimal_off(), 1);
  EXPECT_EQ(d.student_optimal_off(), 1);  // Right is optimal at turn 2
  // Following the workflow (next: Up at turn 0, Left at turn 1): the teacher does once, the student never.
  EXPECT_EQ(d.probed_workflow(), 2);
  EXPECT_EQ(d.teacher_follows(), 1);
  EXPECT_EQ(d.student_follows(), 0);
  // A turn in a state with no solution left, or without the oracle, is not probed.
  std::vector<EpisodeResult> unsolvable = episodes;
  unsolvable[0].turns[0].optimal_actions = std::vector<std::string>();
  unsolvable[0].turns[1].optimal_actions.reset();
  d = DiagnoseGroup(group, unsolvable, response, &probe);
  EXPECT_EQ(d.probed_on(), 0);
  EXPECT_EQ(d.skill_turns(), 3);
  EXPECT_EQ(d.probed_workflow(), 2);  // following the workflow needs no oracle
  // Without a skill there is nothing to diagnose; without the teacher's probes nothing is probed.
  skillsd::v1::Group plain = group;
  plain.clear_skill();
  EXPECT_EQ(DiagnoseGroup(plain, episodes, response, &probe).skill_turns(), 0);
  skillsd::v1::ScoreResponse unprobed = response;
  for (auto& s : *unprobed.mutable_sequences()) s.mutable_segments(0)->clear_probe_logprobs();
  d = DiagnoseGroup(group, episodes, unprobed, &probe);
  EXPECT_EQ(d.probed_on() + d.probed_off(), 0);
  EXPECT_EQ(d.gap_tokens_on(), static_cast<int64_t>(2 * answer.size()));
  // skill.teacher_turns: on_workflow: the off-workflow turn was not sent (sent -1); the behaviour policy scored it,
  // so the student's probe (Right) stands for the teacher's there. With only Up optimal at turn 2, neither is.
  skillsd::v1::ScoreResponse on_only = response;
  on_only.mutable_sequences()->RemoveLast();
  std::vector<EpisodeResult> up_only = episodes;
  up_only[0].turns[2].optimal_actions = std::vector<std::string>{"Up"};
  d = DiagnoseGroup(group, up_only, on_only, &probe, {0, 1, -1});
  EXPECT_EQ(d.probed_on(), 2);
  EXPECT_EQ(d.teacher_optimal_on(), 1);
  EXPECT_EQ(d.teacher_follows(), 1);
  EXPECT_EQ(d.probed_off(), 1);
  EXPECT_EQ(d.teacher_optimal_off(), 0);
  EXPECT_EQ(d.student_optimal_off(), 0);
}

}  // namespace
}  // namespace skillsd::actor
