#include "actor/group.h"

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::actor {
namespace {

using skillsd::v1::SEGMENT_ROLE_GENERATED;
using skillsd::v1::SEGMENT_ROLE_OBSERVATION;
using skillsd::v1::SEGMENT_ROLE_PROMPT;
using skillsd::v1::SEGMENT_ROLE_SKILL_SLOT;
using ::testing::ElementsAre;

skillsd::v1::TokenSegment Segment(skillsd::v1::SegmentRole role, std::vector<int32_t> ids) {
  skillsd::v1::TokenSegment s;
  s.set_role(role);
  for (int32_t id : ids) s.add_token_ids(id);
  return s;
}

// Episode e: `turns` turns, each with a prompt, a skill slot holding {9}, an observation and two generated tokens.
EpisodeResult Episode(int e, int turns, double episode_return, bool solved) {
  EpisodeResult r;
  r.task_id = "sokoban/train/3";
  r.totals.episode_return = episode_return;
  r.totals.solved = solved;
  r.totals.completion = solved ? 1.0 : 0.5;
  for (int t = 0; t < turns; ++t) {
    TurnRecord turn;
    turn.context = {Segment(SEGMENT_ROLE_PROMPT, {1, 2}), Segment(SEGMENT_ROLE_SKILL_SLOT, {9}),
                    Segment(SEGMENT_ROLE_OBSERVATION, {3 + e})};
    turn.generated = {5, 6};
    turn.logprobs = {-0.5f, 0.25f};  // a positive log-prob (rounding) is clamped to 0
    turn.moves_before.assign(static_cast<size_t>(t), "Up");
    r.turns.push_back(turn);
  }
  return r;
}

skillsd::v1::WorkAssignment Work() {
  skillsd::v1::WorkAssignment work;
  work.set_work_id("w1");
  work.add_tasks()->set_task_id("sokoban/train/3");
  work.add_group_ids("v4/t0");
  return work;
}

TEST(GroupTest, BuildsOneSequencePerTurnAndPicksTheBestEpisode) {
  const std::vector<EpisodeResult> episodes = {Episode(0, 2, -1.0, false), Episode(1, 1, 10.0, true),
                                               Episode(2, 1, 10.0, true)};
  TaskSkill skill;
  skill.present = true;
  skill.ref.set_skill_id("s1");
  skill.ref.set_skill_bank_version(7);
  const GroupDraft d = BuildGroup(Work(), 0, episodes, 4, skill, Traits(TrainingMode::kSkillSd), "actor-1");
  EXPECT_EQ(d.group.group_id(), "v4/t0");
  EXPECT_EQ(d.group.work_id(), "w1");
  EXPECT_EQ(d.group.actor_id(), "actor-1");
  EXPECT_EQ(d.group.versions().policy_version(), 4);
  EXPECT_EQ(d.group.versions().skill_bank_version(), 7);
  EXPECT_EQ(d.group.skill().skill_id(), "s1");
  ASSERT_EQ(d.group.trajectories_size(), 3);
  EXPECT_EQ(d.group.trajectories(1).trajectory_id(), "v4/t0/e1");
  EXPECT_EQ(d.group.trajectories(0).sequences_size(), 2);
  EXPECT_EQ(d.best, 1);  // the first of the two best
  EXPECT_DOUBLE_EQ(d.total_return, 19.0);
  EXPECT_DOUBLE_EQ(d.solved, 2.0);
  EXPECT_DOUBLE_EQ(d.completion, 2.5);
  EXPECT_EQ(d.generated_tokens, 8);
  ASSERT_EQ(d.moves_before.size(), 4u);
  EXPECT_THAT(d.moves_before[1], ElementsAre("Up"));
  const auto& seq = d.group.trajectories(0).sequences(0);
  ASSERT_EQ(seq.segments_size(), 4);
  // Skill-SD: the student's own context has no skill (the slot is kept, empty).
  EXPECT_EQ(seq.segments(1).role(), SEGMENT_ROLE_SKILL_SLOT);
  EXPECT_EQ(seq.segments(1).token_ids_size(), 0);
  const auto& gen = seq.segments(3);
  EXPECT_EQ(gen.role(), SEGMENT_ROLE_GENERATED);
  EXPECT_THAT(gen.token_ids(), ElementsAre(5, 6));
  EXPECT_THAT(gen.behaviour_logprobs(), ElementsAre(-0.5f, 0.0f));
  EXPECT_THAT(gen.loss_mask(), ElementsAre(true, true));
  EXPECT_EQ(d.group.trajectories(0).source(), skillsd::v1::ROLLOUT_SOURCE_STUDENT);
}

TEST(GroupTest, ModesThatTrainOnTheSkillKeepItAsPrompt) {
  const std::vector<EpisodeResult> episodes = {Episode(0, 1, 0, false)};
  const GroupDraft d = BuildGroup(Work(), 0, episodes, 1, {}, Traits(TrainingMode::kSkillAugmentedGrpo), "a");
  const auto& slot = d.group.trajectories(0).sequences(0).segments(1);
  EXPECT_EQ(slot.role(), SEGMENT_ROLE_PROMPT);
  EXPECT_THAT(slot.token_ids(), ElementsAre(9));
  EXPECT_FALSE(d.group.has_skill());
}

TEST(GroupTest, TeacherRepliesAreAppliedWholeOrNotAtAll) {
  const std::vector<EpisodeResult> episodes = {Episode(0, 2, 0, false)};
  GroupDraft d = BuildGroup(Work(), 0, episodes, 1, {}, Traits(TrainingMode::kSkillSd), "a");
  TeacherPlanOptions options;
  options.min_teacher_version = 1;
  const TeacherPlan plan = PlanTeacher(d.group, d.moves_before, options);
  const skillsd::v1::ScoreRequest& request = plan.request;
  EXPECT_THAT(plan.sent, ElementsAre(0, 1));
  EXPECT_EQ(request.request_id(), "v4/t0");
  ASSERT_EQ(request.sequences_size(), 2);
  ASSERT_EQ(request.sequence_skills_size(), 2);
  skillsd::v1::ScoreResponse reply;
  reply.set_teacher_version(3);
  for (int s = 0; s < 2; ++s) {
    auto* seg = reply.add_sequences()->add_segments();
    seg->add_logprobs(-1.0f - s);
    seg->add_logprobs(-2.0f);
  }
  // A reply one token short in the second sequence changes nothing.
  skillsd::v1::ScoreResponse short_reply = reply;
  short_reply.mutable_sequences(1)->mutable_segments(0)->mutable_logprobs()->RemoveLast();
  const skillsd::v1::Group before = d.group;
  EXPECT_THAT(ApplyTeacherScores(short_reply, plan.sent, &d.group),
              ::skillsd::testing::StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(d.group.SerializeAsString(), before.SerializeAsString());
  skillsd::v1::ScoreResponse extra = reply;
  extra.add_sequences();
  EXPECT_THAT(ApplyTeacherScores(extra, plan.sent, &d.group),
              ::skillsd::testing::StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(d.group.SerializeAsString(), before.SerializeAsString());
  // A plan that does not cover the group's sequences changes nothing either.
  EXPECT_THAT(ApplyTeacherScores(reply, {0}, &d.group), ::skillsd::testing::StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(d.group.SerializeAsString(), before.SerializeAsString());
  ASSERT_OK(ApplyTeacherScores(reply, plan.sent, &d.group));
  EXPECT_TRUE(d.group.teacher_scored());
  EXPECT_EQ(d.group.versions().teacher_version(), 3);
  EXPECT_THAT(d.group.trajectories(0).sequences(1).segments(3).teacher_logprobs(), ElementsAre(-2.0f, -2.0f));
}

// skill.teacher_turns: on_workflow. The skill's workflow is "Up, Left"; the episode's turns have made 0, 1, 2 and 3
// "Up" moves, so the workflow applies at turns 0 and 1 only. Those go to the teacher with the skill (as each turn
// shows it); the others, when the plain teacher is the behaviour policy, are not sent and carry the behaviour
// log-probs, and otherwise are sent without the skill.
TEST(GroupTest, OnWorkflowTheTeacherSeesTheSkillOnlyWhereItsWorkflowApplies) {
  const std::vector<EpisodeResult> episodes = {Episode(0, 4, 0, false)};
  TaskSkill skill;
  skill.present = true;
  skill.ref.set_skill_id("s1");
  skill.ref.mutable_content()->set_golden_workflow("Up, Left");
  GroupDraft d = BuildGroup(Work(), 0, episodes, 5, skill, Traits(TrainingMode::kSkillSd), "a");
  TeacherPlanOptions options;
  options.turns = TeacherTurns::kOnWorkflow;
  options.plain_is_behaviour = true;
  const TeacherPlan plan = PlanTeacher(d.group, d.moves_before, options);
  EXPECT_THAT(plan.sent, ElementsAre(0, 1, -1, -1));
  ASSERT_EQ(plan.request.sequence_skills_size(), 2);
  EXPECT_EQ(plan.request.sequence_skills(0).golden_workflow(), "Up, Left");
  EXPECT_EQ(plan.request.sequence_skills(1).golden_workflow(), "Left");
  skillsd::v1::ScoreResponse reply;
  reply.set_teacher_version(6);
  for (int s = 0; s < 2; ++s) {
    auto* seg = reply.add_sequences()->add_segments();
    seg->add_logprobs(-3.0f);
    seg->add_logprobs(-4.0f);
  }
  ASSERT_OK(ApplyTeacherScores(reply, plan.sent, &d.group));
  EXPECT_EQ(d.group.versions().teacher_version(), 6);
  EXPECT_THAT(d.group.trajectories(0).sequences(1).segments(3).teacher_logprobs(), ElementsAre(-3.0f, -4.0f));
  EXPECT_THAT(d.group.trajectories(0).sequences(2).segments(3).teacher_logprobs(), ElementsAre(-0.5f, 0.0f));
  // A frozen teacher is not the behaviour policy: every turn is sent, the off-workflow ones without the skill.
  options.plain_is_behaviour = false;
  const TeacherPlan frozen = PlanTeacher(d.group, d.moves_before, options);
  EXPECT_THAT(frozen.sent, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(frozen.request.sequence_skills(1).golden_workflow(), "Left");
  EXPECT_EQ(frozen.request.sequence_skills(2).ByteSizeLong(), 0u);
  // The paper's way: every turn shows the skill.
  options.turns = TeacherTurns::kAll;
  options.plain_is_behaviour = true;
  const TeacherPlan all = PlanTeacher(d.group, d.moves_before, options);
  EXPECT_THAT(all.sent, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(all.request.sequence_skills(3).golden_workflow(), "from the start: Up, Left");
  // Nothing sent at all: the behaviour log-probs throughout, teacher version = policy version.
  GroupDraft none = BuildGroup(Work(), 0, {Episode(0, 1, 0, false)}, 5, skill, Traits(TrainingMode::kSkillSd), "a");
  ASSERT_OK(ApplyTeacherScores(skillsd::v1::ScoreResponse(), {-1}, &none.group));
  EXPECT_EQ(none.group.versions().teacher_version(), 5);
  EXPECT_THAT(none.group.trajectories(0).sequences(0).segments(3).teacher_logprobs(), ElementsAre(-0.5f, 0.0f));
}

TEST(GroupTest, TheTeacherIsTheBehaviourPolicyOnlyWithoutSkillAtKOneAndPlainSampling) {
  const std::vector<EpisodeResult> episodes = {Episode(0, 1, 0, false)};
  skillsd::v1::SamplingParams plain;
  plain.set_temperature(1.0f);
  plain.set_top_p(1.0f);
  GroupDraft d = BuildGroup(Work(), 0, episodes, 5, {}, Traits(TrainingMode::kSkillSd), "a");
  EXPECT_TRUE(TeacherIsBehaviourPolicy(d.group, Traits(TrainingMode::kSkillSd), 1, plain));
  EXPECT_FALSE(TeacherIsBehaviourPolicy(d.group, Traits(TrainingMode::kSkillSd), 2, plain));
  skillsd::v1::SamplingParams hot = plain;
  hot.set_temperature(0.7f);
  EXPECT_FALSE(TeacherIsBehaviourPolicy(d.group, Traits(TrainingMode::kSkillSd), 1, hot));
  ScoreWithBehaviourLogprobs(&d.group);
  EXPECT_EQ(d.group.versions().teacher_version(), 5);
  const auto& gen = d.group.trajectories(0).sequences(0).segments(3);
  EXPECT_THAT(gen.teacher_logprobs(), ElementsAre(-0.5f, 0.0f));
  TaskSkill skill;
  skill.present = true;
  skill.ref.set_skill_id("s");
  d = BuildGroup(Work(), 0, episodes, 5, skill, Traits(TrainingMode::kSkillSd), "a");
  EXPECT_FALSE(TeacherIsBehaviourPolicy(d.group, Traits(TrainingMode::kSkillSd), 1, plain));
}

}  // namespace
}  // namespace skillsd::actor
