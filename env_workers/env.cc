#include "env_workers/env.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace skillsd {

absl::string_view SplitName(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kTest:
      return "test";
    case Split::kProcedural:
      return "procedural";
  }
  return "unknown";
}

absl::StatusOr<Split> ParseSplit(absl::string_view name) {
  if (name == "train") return Split::kTrain;
  if (name == "test") return Split::kTest;
  if (name == "procedural") return Split::kProcedural;
  return absl::InvalidArgumentError(absl::StrCat("unknown split '", name, "' (train, test or procedural)"));
}

std::string TaskId(absl::string_view env, const EnvTask& task) {
  if (task.split == Split::kProcedural) return absl::StrCat(env, "/procedural/", task.seed);
  return absl::StrCat(env, "/", SplitName(task.split), "/", task.index);
}

absl::StatusOr<EnvTask> ParseTaskId(absl::string_view task_id) {
  const std::vector<absl::string_view> parts = absl::StrSplit(task_id, '/');
  uint64_t number = 0;
  absl::StatusOr<Split> split = parts.size() == 3 ? ParseSplit(parts[1]) : absl::InvalidArgumentError("");
  if (parts[0].empty() || !split.ok() || !absl::SimpleAtoi(parts[2], &number)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a task id is <env>/<train|test|procedural>/<index or seed>, like sokoban/train/17; got '", task_id, "'"));
  }
  EnvTask task;
  task.split = *split;
  if (task.split == Split::kProcedural) {
    task.seed = number;
  } else {
    if (number > 1'000'000'000)
      return absl::InvalidArgumentError(absl::StrCat("level index out of range in '", task_id, "'"));
    task.index = static_cast<int>(number);
  }
  return task;
}

absl::StatusOr<std::vector<std::string>> Env::OptimalActions() {
  return absl::UnimplementedError(absl::StrCat(spec().name, " has no oracle of optimal actions"));
}

void AddOptimalActions(Env& env, EnvTurn* turn) {
  if (turn->done) return;
  absl::StatusOr<std::vector<std::string>> best = env.OptimalActions();
  if (best.ok()) turn->optimal_actions = *std::move(best);
}

}  // namespace skillsd
