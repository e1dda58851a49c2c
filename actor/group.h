// A task's group as the learner receives it, and its round trip through the teacher: pure functions over the
// episodes the actor played (no RPCs, no clocks), so each can be tested alone and the actor loop stays a list of
// steps (actor/actor.h).
#ifndef SKILLSD_ACTOR_GROUP_H_
#define SKILLSD_ACTOR_GROUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "actor/rollout.h"
#include "core/config_enums.h"
#include "core/training_mode.h"
#include "skillsd/v1/learner.pb.h"
#include "skillsd/v1/teacher.pb.h"

namespace skillsd::actor {

// The skill picked for a task (none when the bank had none for it, or the skill service was down).
struct TaskSkill {
  bool present = false;
  skillsd::v1::SkillRef ref;  // skill_bank_version set whenever the service answered
};

// One group, built, with what the actor's later steps need from its episodes.
struct GroupDraft {
  skillsd::v1::Group group;
  std::vector<std::vector<std::string>> moves_before;   // per sequence, in order: the moves made before that turn
  int best = 0;                                         // the episode with the highest return (the first on ties)
  double total_return = 0, solved = 0, completion = 0;  // summed over the episodes
  int64_t generated_tokens = 0;
};

// The group of work.tasks(task) from its G episodes (in order): every turn one sequence, the generated tokens
// with their behaviour log-probs and a full loss mask, the skill slot as the mode trains on it (prompt text when
// the student trains with the skill, emptied when not).
GroupDraft BuildGroup(const skillsd::v1::WorkAssignment& work, int task, absl::Span<const EpisodeResult> episodes,
                      int64_t policy_version, const TaskSkill& skill, const ModeTraits& mode,
                      const std::string& actor_id);

// True when the group carries a skill (the skill service picked one for its task).
bool HasSkill(const skillsd::v1::Group& group);

// True when the teacher without a skill is the behaviour policy exactly (SPEC §4), so its log-probs on a turn
// without the skill are the behaviour log-probs: a teacher synced every step (K = 1: it is θ_old), episodes
// sampled under the student's own context and plain sampling.
bool PlainTeacherIsBehaviourPolicy(const ModeTraits& mode, int teacher_sync_interval,
                                   const skillsd::v1::SamplingParams& sampling);
// The same for a whole group: it has no skill, and the case above; the teacher pass can be skipped.
bool TeacherIsBehaviourPolicy(const skillsd::v1::Group& group, const ModeTraits& mode, int teacher_sync_interval,
                              const skillsd::v1::SamplingParams& sampling);

// Scores the group with its own behaviour log-probs (the case above); teacher version = policy version.
void ScoreWithBehaviourLogprobs(skillsd::v1::Group* group);

// What the teacher is asked for a group.
struct TeacherPlanOptions {
  WorkflowView view = WorkflowView::kRemaining;  // how a turn shows the skill's workflow
  TeacherTurns turns = TeacherTurns::kAll;       // the turns whose teacher context holds the skill
  bool plain_is_behaviour = false;               // PlainTeacherIsBehaviourPolicy: turns without it are not sent
  int64_t min_teacher_version = 0;
};
struct TeacherPlan {
  skillsd::v1::ScoreRequest request;  // the sequences the teacher scores, each with its skill (or none)
  // Per sequence of the group (its turns, in episode order): its index in the request, or -1 when it was not sent
  // (no skill and plain_is_behaviour: the behaviour log-probs are the teacher's).
  std::vector<int> sent;
};
// With TeacherTurns::kAll every turn of a group with a skill shows it (as the turn's view shows the workflow);
// with kOnWorkflow only the turns where the workflow still applies (WorkflowApplies, core/skill_prompt.h).
TeacherPlan PlanTeacher(const skillsd::v1::Group& group, const std::vector<std::vector<std::string>>& moves_before,
                        const TeacherPlanOptions& options);

// Writes the teacher's log-probs into every GENERATED segment: from the reply for the sequences `sent` names (see
// TeacherPlan), the behaviour log-probs for the others; teacher version: the reply's, or the policy version when
// nothing was sent. INTERNAL, and the group unchanged, when the reply does not match the sent sequences segment
// for segment and token for token.
absl::Status ApplyTeacherScores(const skillsd::v1::ScoreResponse& response, absl::Span<const int> sent,
                                skillsd::v1::Group* group);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_GROUP_H_
