// The training modes of SPEC §5 and what each one means, in one table. The actor, the learner and the learner's
// main read a mode's behaviour only from here: adding a mode is a row of kModes (and its value in
// skillsd.v1.TrainingMode, whose name the table's test checks).
//
//   mode                   teacher  skills  student sees  trains on  rollouts  teacher  GRPO  SDL
//                                           the skill     the skill  from      frozen   coef  coef
//   grpo                   -        -       -             -          student   -        1     0
//   opd                    yes      yes     -             -          student   yes      0     1
//   skill_augmented_grpo   -        yes     yes           yes        student   -        1     0
//   skill_sd               yes      yes     -             -          student   -        1     λ
//   skill_sd_frozen        yes      yes     -             -          student   yes      1     λ
//   skill_sd_offpolicy     yes      yes     yes           -          teacher   -        1     λ
//
// λ is algorithm.sdl_coef. Thread-safe (constant data).
#ifndef SKILLSD_CORE_TRAINING_MODE_H_
#define SKILLSD_CORE_TRAINING_MODE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace skillsd {

enum class TrainingMode {
  kGrpo,
  kOpd,
  kSkillAugmentedGrpo,
  kSkillSd,
  kSkillSdFrozen,
  kSkillSdOffPolicy,
};

struct ModeTraits {
  TrainingMode mode;
  absl::string_view name;  // the config's algorithm.mode
  int proto_number;        // its skillsd.v1.TrainingMode value
  // Groups are scored by the teacher (the SDL term needs its log-probs).
  bool needs_teacher;
  // The actor selects a skill per task, reports the group's outcome to the bandit and hands the best trajectory
  // to the skill service for summarising.
  bool uses_skills;
  // The rendered skill is in the prompt the episodes are sampled under.
  bool student_sees_skill;
  // The skill stays in the prompt the student is trained on (otherwise the trained context has no skill).
  bool trains_on_skill;
  // The episodes count as the teacher's (ROLLOUT_SOURCE_TEACHER): sampled under the skill-conditioned prompt.
  bool rollouts_from_teacher;
  // The teacher keeps the initial weights (the learner never pushes it a snapshot).
  bool teacher_frozen;
  double grpo_coef;
  // The SDL coefficient: algorithm.sdl_coef when sdl_from_config, else fixed_sdl_coef.
  bool sdl_from_config;
  double fixed_sdl_coef;

  double SdlCoef(double configured) const { return sdl_from_config ? configured : fixed_sdl_coef; }
};

// Every mode, in enum order.
absl::Span<const ModeTraits> AllModes();
const ModeTraits& Traits(TrainingMode mode);

// "grpo", "opd", "skill_augmented_grpo", "skill_sd", "skill_sd_frozen", "skill_sd_offpolicy".
absl::string_view TrainingModeName(TrainingMode mode);
// INVALID_ARGUMENT naming the known modes for any other name.
absl::StatusOr<TrainingMode> ParseTrainingMode(absl::string_view name);
// The mode of a skillsd.v1.TrainingMode value; INVALID_ARGUMENT for UNSPECIFIED or an unknown value.
absl::StatusOr<TrainingMode> TrainingModeFromProtoNumber(int number);

}  // namespace skillsd

#endif  // SKILLSD_CORE_TRAINING_MODE_H_
