#include "actor/group.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/skill_prompt.h"
#include "env_workers/env_proto.h"

namespace skillsd::actor {

using skillsd::v1::SEGMENT_ROLE_GENERATED;

GroupDraft BuildGroup(const skillsd::v1::WorkAssignment& work, int task, absl::Span<const EpisodeResult> episodes,
                      int64_t policy_version, const TaskSkill& skill, const ModeTraits& mode,
                      const std::string& actor_id) {
  GroupDraft out;
  skillsd::v1::Group& group = out.group;
  group.set_group_id(work.group_ids(task));
  *group.mutable_task() = work.tasks(task);
  if (!episodes.empty()) group.mutable_task()->set_task_id(episodes.front().task_id);
  group.mutable_versions()->set_policy_version(policy_version);
  group.mutable_versions()->set_skill_bank_version(skill.ref.skill_bank_version());
  if (skill.present) *group.mutable_skill() = skill.ref;
  group.set_actor_id(actor_id);
  group.set_work_id(work.work_id());
  for (size_t g = 0; g < episodes.size(); ++g) {
    const EpisodeResult& r = episodes[g];
    auto* traj = group.add_trajectories();
    traj->set_trajectory_id(absl::StrCat(group.group_id(), "/e", g));
    *traj->mutable_task() = group.task();
    traj->set_policy_version(policy_version);
    traj->set_source(mode.rollouts_from_teacher ? skillsd::v1::ROLLOUT_SOURCE_TEACHER
                                                : skillsd::v1::ROLLOUT_SOURCE_STUDENT);
    ToProto(r.totals, traj->mutable_stats());
    for (const TurnRecord& turn : r.turns) {
      for (const ActionEvent& e : turn.events) ToProto(e, traj->add_events());
      auto* seq = traj->add_sequences();
      for (const auto& seg : turn.context) {
        auto* segment = seq->add_segments();
        *segment = seg;
        if (seg.role() == skillsd::v1::SEGMENT_ROLE_SKILL_SLOT && seg.token_ids_size() > 0) {
          if (mode.trains_on_skill) {
            segment->set_role(skillsd::v1::SEGMENT_ROLE_PROMPT);  // the student trains with the skill in its prompt
          } else {
            segment->clear_token_ids();  // the student's own context has no skill
          }
        }
      }
      auto* gen = seq->add_segments();
      gen->set_role(SEGMENT_ROLE_GENERATED);
      for (size_t k = 0; k < turn.generated.size(); ++k) {
        gen->add_token_ids(turn.generated[k]);
        gen->add_behaviour_logprobs(std::min(0.0f, turn.logprobs[k]));
        gen->add_loss_mask(true);
      }
      out.moves_before.push_back(turn.moves_before);
      out.generated_tokens += static_cast<int64_t>(turn.generated.size());
    }
    out.total_return += r.totals.episode_return;
    out.solved += r.totals.solved ? 1 : 0;
    out.completion += r.totals.completion;
    if (r.totals.episode_return > episodes[static_cast<size_t>(out.best)].totals.episode_return) {
      out.best = static_cast<int>(g);
    }
  }
  return out;
}

bool HasSkill(const skillsd::v1::Group& group) { return group.has_skill() && !group.skill().skill_id().empty(); }

bool PlainTeacherIsBehaviourPolicy(const ModeTraits& mode, int teacher_sync_interval,
                                   const skillsd::v1::SamplingParams& sampling) {
  return !mode.teacher_frozen && !mode.student_sees_skill && teacher_sync_interval == 1 &&
         sampling.temperature() == 1.0f && sampling.top_k() == 0 && sampling.top_p() >= 1.0f;
}

bool TeacherIsBehaviourPolicy(const skillsd::v1::Group& group, const ModeTraits& mode, int teacher_sync_interval,
                              const skillsd::v1::SamplingParams& sampling) {
  return !HasSkill(group) && PlainTeacherIsBehaviourPolicy(mode, teacher_sync_interval, sampling);
}

void ScoreWithBehaviourLogprobs(skillsd::v1::Group* group) {
  for (auto& traj : *group->mutable_trajectories()) {
    for (auto& seq : *traj.mutable_sequences()) {
      for (auto& seg : *seq.mutable_segments()) {
        if (seg.role() == SEGMENT_ROLE_GENERATED) *seg.mutable_teacher_logprobs() = seg.behaviour_logprobs();
      }
    }
  }
  group->set_teacher_scored(true);
  group->mutable_versions()->set_teacher_version(group->versions().policy_version());
}

TeacherPlan PlanTeacher(const skillsd::v1::Group& group, const std::vector<std::vector<std::string>>& moves_before,
                        const TeacherPlanOptions& options) {
  const bool has_skill = HasSkill(group);
  TeacherPlan plan;
  plan.request.set_request_id(group.group_id());
  plan.request.set_min_teacher_version(options.min_teacher_version);
  size_t at = 0;
  for (const auto& traj : group.trajectories()) {
    for (const auto& seq : traj.sequences()) {
      const bool with_skill = has_skill && (options.turns == TeacherTurns::kAll ||
                                            WorkflowApplies(group.skill().content(), moves_before[at]));
      if (!with_skill && options.plain_is_behaviour) {
        plan.sent.push_back(-1);
      } else {
        plan.sent.push_back(plan.request.sequences_size());
        *plan.request.add_sequences() = seq;
        auto* skill = plan.request.add_sequence_skills();
        if (with_skill) *skill = SkillForTurn(group.skill().content(), moves_before[at], options.view);
      }
      ++at;
    }
  }
  return plan;
}

absl::Status ApplyTeacherScores(const skillsd::v1::ScoreResponse& response, absl::Span<const int> sent,
                                skillsd::v1::Group* group) {
  // Checked whole before anything is written.
  size_t at = 0;
  int replied = 0;
  for (const auto& traj : group->trajectories()) {
    for (const auto& seq : traj.sequences()) {
      if (at >= sent.size()) return absl::InternalError("teacher: the plan has too few sequences");
      const int s = sent[at++];
      if (s < 0) continue;
      if (s != replied++) return absl::InternalError("teacher: the plan's sequences are out of order");
      if (s >= response.sequences_size()) return absl::InternalError("teacher: reply has too few sequences");
      int g = 0;
      for (const auto& seg : seq.segments()) {
        if (seg.role() != SEGMENT_ROLE_GENERATED) continue;
        if (g >= response.sequences(s).segments_size() ||
            response.sequences(s).segments(g).logprobs_size() != seg.token_ids_size()) {
          return absl::InternalError("teacher: reply does not match the request");
        }
        ++g;
      }
    }
  }
  if (at != sent.size()) return absl::InternalError("teacher: the plan has too many sequences");
  if (replied != response.sequences_size()) return absl::InternalError("teacher: reply has too many sequences");
  at = 0;
  for (auto& traj : *group->mutable_trajectories()) {
    for (auto& seq : *traj.mutable_sequences()) {
      const int s = sent[at++];
      int g = 0;
      for (auto& seg : *seq.mutable_segments()) {
        if (seg.role() != SEGMENT_ROLE_GENERATED) continue;
        *seg.mutable_teacher_logprobs() =
            s < 0 ? seg.behaviour_logprobs() : response.sequences(s).segments(g++).logprobs();
      }
    }
  }
  group->set_teacher_scored(true);
  group->mutable_versions()->set_teacher_version(replied > 0 ? response.teacher_version()
                                                             : group->versions().policy_version());
  return absl::OkStatus();
}

}  // namespace skillsd::actor
