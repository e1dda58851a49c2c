// The closed string choices of the configuration as enums, with their one spelling each. The config parser turns
// the YAML strings into these once; everything after it switches on the enum.
#ifndef SKILLSD_CORE_CONFIG_ENUMS_H_
#define SKILLSD_CORE_CONFIG_ENUMS_H_

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace skillsd {

// The dtype the model's weights are held in (model.dtype).
enum class ModelDtype { kFloat32, kBFloat16 };

// How much of a skill's golden workflow a turn shows (skill.workflow_view; see core/skill_prompt.h): all of it, or
// what is left after the moves already made.
enum class WorkflowView { kFull, kRemaining };

// The turns whose teacher context holds the skill (skill.teacher_turns): every turn of a group with a skill (the
// paper), or only those where the skill's workflow still applies; the other turns are scored by the teacher
// without the skill.
enum class TeacherTurns { kAll, kOnWorkflow };

// Each enum's names, in enum order. Adding a value adds its name here.
template <typename E>
struct EnumNames;
template <>
struct EnumNames<ModelDtype> {
  static constexpr std::pair<ModelDtype, const char*> kNames[] = {{ModelDtype::kFloat32, "float32"},
                                                                  {ModelDtype::kBFloat16, "bfloat16"}};
};
template <>
struct EnumNames<WorkflowView> {
  static constexpr std::pair<WorkflowView, const char*> kNames[] = {{WorkflowView::kFull, "full"},
                                                                    {WorkflowView::kRemaining, "remaining"}};
};
template <>
struct EnumNames<TeacherTurns> {
  static constexpr std::pair<TeacherTurns, const char*> kNames[] = {{TeacherTurns::kAll, "all"},
                                                                    {TeacherTurns::kOnWorkflow, "on_workflow"}};
};

template <typename E>
const char* EnumName(E value) {
  for (const auto& [v, name] : EnumNames<E>::kNames) {
    if (v == value) return name;
  }
  return "?";
}

// False (and `out` unchanged) for a name that is not one of E's.
template <typename E>
bool ParseEnum(absl::string_view name, E* out) {
  for (const auto& [v, n] : EnumNames<E>::kNames) {
    if (name == n) {
      *out = v;
      return true;
    }
  }
  return false;
}

// "one of {float32, bfloat16}", for error messages.
template <typename E>
std::string EnumChoices() {
  return absl::StrCat(
      "one of {",
      absl::StrJoin(EnumNames<E>::kNames, ", ", [](std::string* out, const auto& entry) { out->append(entry.second); }),
      "}");
}

}  // namespace skillsd

#endif  // SKILLSD_CORE_CONFIG_ENUMS_H_
