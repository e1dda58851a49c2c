#include "core/training_mode.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace skillsd {
namespace {

// Columns: mode, name, proto number, needs_teacher, uses_skills, student_sees_skill, trains_on_skill,
// rollouts_from_teacher, teacher_frozen, grpo_coef, sdl_from_config, fixed_sdl_coef.
constexpr ModeTraits kModes[] = {
    {TrainingMode::kGrpo, "grpo", 1, false, false, false, false, false, false, 1.0, false, 0.0},
    {TrainingMode::kOpd, "opd", 2, true, true, false, false, false, true, 0.0, false, 1.0},
    {TrainingMode::kSkillAugmentedGrpo, "skill_augmented_grpo", 3, false, true, true, true, false, false, 1.0, false,
     0.0},
    {TrainingMode::kSkillSd, "skill_sd", 4, true, true, false, false, false, false, 1.0, true, 0.0},
    {TrainingMode::kSkillSdFrozen, "skill_sd_frozen", 5, true, true, false, false, false, true, 1.0, true, 0.0},
    {TrainingMode::kSkillSdOffPolicy, "skill_sd_offpolicy", 6, true, true, true, false, true, false, 1.0, true, 0.0},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < sizeof(kModes) / sizeof(kModes[0]); ++i) {
    if (static_cast<size_t>(kModes[i].mode) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kModes lists the modes in enum order");

}  // namespace

absl::Span<const ModeTraits> AllModes() { return kModes; }

const ModeTraits& Traits(TrainingMode mode) { return kModes[static_cast<size_t>(mode)]; }

absl::string_view TrainingModeName(TrainingMode mode) { return Traits(mode).name; }

absl::StatusOr<TrainingMode> ParseTrainingMode(absl::string_view name) {
  std::vector<absl::string_view> names;
  for (const ModeTraits& m : kModes) {
    if (m.name == name) return m.mode;
    names.push_back(m.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown training mode '", name, "' (one of ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<TrainingMode> TrainingModeFromProtoNumber(int number) {
  for (const ModeTraits& m : kModes) {
    if (m.proto_number == number) return m.mode;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown or unspecified training mode ", number));
}

}  // namespace skillsd
