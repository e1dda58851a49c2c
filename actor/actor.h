// The actor's loop (one call = one work assignment): asks the learner for work, plays G episodes per task
// against env workers with the current policy (all episodes of the assignment decoding together), picks a skill
// per task (UCB1 in the skill service), has the teacher score each group under the skill-conditioned prompt,
// submits every group to the learner with its idempotent id, hands the group's best trajectory to the skill
// service for summarising and reports the outcome for the bandit. A group whose scoring fails is not submitted
// (never half-scored); the work is retried, and the learner's lease hands unfinished tasks out again.
//
// The services are reached through typed clients (actor/clients.h) over the stubs given, so a test can hand in
// the generated gMock stubs (actor/actor_loop_test.cc).
#ifndef SKILLSD_ACTOR_ACTOR_H_
#define SKILLSD_ACTOR_ACTOR_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actor/clients.h"
#include "actor/group.h"
#include "actor/rollout.h"
#include "actor/skill_diagnostics.h"
#include "core/config.h"
#include "core/skill_prompt.h"
#include "core/training_mode.h"
#include "model/chat.h"
#include "model/tokenizer.h"
#include "weights/model_snapshot.h"

namespace skillsd::actor {

struct ActorStubs {
  std::shared_ptr<skillsd::v1::LearnerService::StubInterface> learner;
  std::shared_ptr<skillsd::v1::EnvService::StubInterface> env;
  std::shared_ptr<skillsd::v1::TeacherService::StubInterface> teacher;  // may be null: modes without a teacher
  std::shared_ptr<skillsd::v1::SkillService::StubInterface> skill;      // may be null: no skills
};

// What one assignment took and gave (for the terminal, metrics and actor.csv).
struct WorkReport {
  bool finished = false;  // the learner has no more work: training is over
  bool idle = false;      // no work right now
  int64_t policy_version = -1;
  int groups = 0, episodes = 0;
  int groups_with_skill = 0;
  int teacher_scored = 0;  // groups scored by the teacher (not skipped as identical to the behaviour policy)
  double mean_return = 0, solve_rate = 0, completion = 0;
  double rollout_s = 0, teacher_s = 0, submit_s = 0, skill_s = 0;
  int64_t generated_tokens = 0;
};

// Not thread-safe: one thread calls RunOnce (its retry state and request counter are the actor's own). The stubs
// and the model holder may be shared with other threads.
class Actor {
 public:
  // `holder` holds the policy (the subscriber installs the learner's snapshots into it).
  Actor(const ExperimentConfig& config, std::string actor_id, std::shared_ptr<weights::ModelHolder> holder,
        const model::Tokenizer* tokenizer, model::ChatTemplate chat, ActorStubs stubs);

  // One assignment, start to finish: fetch work (or replay the one that failed), wait for its policy, pick the
  // skills, play, then per task build the group, score it and submit it, and share it with the skill service.
  // CANCELLED once `stop` (may be null) is set while waiting for weights.
  absl::StatusOr<WorkReport> RunOnce(const std::atomic<bool>* stop = nullptr);

 private:
  // The work to do: the failed assignment again while its lease lasts, else the learner's next. Empty when
  // there is none (`report` says finished or idle).
  absl::StatusOr<std::optional<skillsd::v1::WorkAssignment>> NextWork(WorkReport* report);
  absl::Status WaitForPolicy(int64_t version, const std::atomic<bool>* stop) const;
  // One skill per task; a task without one (or with the skill service down) plays and trains without.
  std::vector<TaskSkill> SelectSkills(const skillsd::v1::WorkAssignment& work) const;
  // Episodes of tasks with a skill also record the env's optimal actions and the policy's ranking of the moves
  // (move_probe_, set here from the env's spec), for the skill diagnostics.
  absl::StatusOr<std::vector<EpisodeResult>> Play(const skillsd::v1::WorkAssignment& work, const ModeTraits& mode,
                                                  const std::vector<TaskSkill>& skills, model::CausalLMImpl& model);
  // Fills every GENERATED segment's teacher log-probs (teacher RPC, or the behaviour log-probs when the teacher
  // is provably the behaviour policy) and, for a group with a skill, its skill diagnostics from `episodes` (its
  // own, as played). False: the teacher was skipped.
  absl::StatusOr<bool> Score(const skillsd::v1::WorkAssignment& work, const ModeTraits& mode,
                             absl::Span<const EpisodeResult> episodes, GroupDraft* draft) const;
  // Submits the group (left in place); any acknowledgement (accepted, duplicate, dropped as stale) is success.
  absl::Status Submit(skillsd::v1::Group* group) const;
  // The group's best trajectory to summarise and its outcome for the bandit; failures are logged, not returned
  // (the group has trained either way).
  void ShareWithSkillService(const GroupDraft& draft) const;
  // Averages and metrics of a finished assignment.
  void Finish(double returns, double solved, double completion, WorkReport* report) const;

  const ExperimentConfig config_;
  const std::string actor_id_;
  std::shared_ptr<weights::ModelHolder> holder_;
  const model::Tokenizer* tokenizer_;
  const model::ChatTemplate chat_;
  const LearnerClient learner_;
  const EnvClient env_;
  const std::optional<TeacherClient> teacher_;  // empty: modes without a teacher
  const std::optional<SkillClient> skill_;      // empty: no skills
  int64_t request_counter_ = 0;
  std::optional<skillsd::v1::WorkAssignment> retry_;  // work whose last attempt failed: replayed first
  std::optional<MoveProbe> move_probe_;               // of the env's moves; empty when they cannot be probed
};

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_ACTOR_H_
