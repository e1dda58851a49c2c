// The environment interface, EnvPool style: Reset and Step on text, the spec as data. The actor and the env
// service see only this, so further environments (AppWorld through a bridge, say) plug in without touching them.
#ifndef SKILLSD_ENV_WORKERS_ENV_H_
#define SKILLSD_ENV_WORKERS_ENV_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skillsd {

// Which set of tasks a task comes from: the fixed training and test splits, or generated from a seed.
enum class Split { kTrain, kTest, kProcedural };

// "train", "test", "procedural".
absl::string_view SplitName(Split split);
// INVALID_ARGUMENT for any other name.
absl::StatusOr<Split> ParseSplit(absl::string_view name);

// Which task to play: `index` indexes the fixed splits; `seed` names a procedural task.
struct EnvTask {
  Split split = Split::kTrain;
  int index = 0;
  uint64_t seed = 0;
};

// The canonical task id, "<env>/<split>/<index>" or "<env>/procedural/<seed>": "sokoban/train/17".
std::string TaskId(absl::string_view env, const EnvTask& task);
// The task of a canonical id (any env name); INVALID_ARGUMENT naming the expected form otherwise.
absl::StatusOr<EnvTask> ParseTaskId(absl::string_view task_id);

// One action on its own: its name (as events and optimal_actions name it) and the answer that plays just it.
struct NamedAction {
  std::string name;
  std::string answer;
};

// Static facts about an environment.
struct EnvSpec {
  std::string name;           // "sokoban"
  std::string system_prompt;  // rules, symbols, answer format
  int max_steps = 0;          // episode step limit
  int max_actions_per_turn = 0;
  int train_levels = 0;
  int test_levels = 0;
  // The training tasks in the order the learner hands them out (a curriculum, or index order). The learner takes
  // its task list from here (EnvService.GetSpec), so it needs no code of the environment.
  std::vector<EnvTask> train_tasks;
  // The actions, when the environment has a fixed set (Sokoban: Up, Down, Left, Right); empty otherwise. The actor
  // reads which of them a model ranks first from the first token that tells their answers apart.
  std::vector<NamedAction> actions;
};

// What one executed action did (the facts the rule summariser works from).
struct ActionEvent {
  int turn = 0;
  std::string action;  // "Up", ... or the offending text when invalid
  bool invalid = false;
  bool bumped = false;
  bool moved = false;
  bool pushed_box = false;
  bool box_onto_target = false;
  bool box_off_target = false;
  bool deadlock = false;
  double reward = 0;
};

// Totals of the current episode.
struct EpisodeTotals {
  double episode_return = 0;
  int steps = 0;
  int turns = 0;
  int invalid_actions = 0;
  int bumps = 0;
  int deadlocks = 0;
  bool solved = false;
  double completion = 0;   // boxes on targets / boxes
  bool truncated = false;  // ended unsolved: by the step limit (or at a deadlock: actor.end_on_deadlock)
};

// The result of Reset (reward 0, no events) or Step.
struct EnvTurn {
  std::string task_id;      // canonical id of the task being played
  std::string observation;  // text for the next user turn
  double reward = 0;        // of this turn
  bool done = false;        // solved or out of steps
  std::vector<ActionEvent> events;
  EpisodeTotals totals;
  // When asked for and the environment has an oracle: the actions that begin a shortest solution from the state
  // this turn leads to (empty when none does: solved, or no longer solvable). A measurement, never a reward.
  std::optional<std::vector<std::string>> optimal_actions;
};

// One environment instance playing one episode at a time. Not thread-safe; the caller serialises.
class Env {
 public:
  virtual ~Env() = default;
  virtual const EnvSpec& spec() const = 0;
  // Starts an episode of `task`. INVALID_ARGUMENT for an unknown split or an index out of range; the current
  // episode is unchanged then.
  virtual absl::StatusOr<EnvTurn> Reset(const EnvTask& task) = 0;
  // Applies a model answer (free text; never fails on any bytes: an unusable answer is an invalid action).
  // FAILED_PRECONDITION when no episode is running (before Reset, or after the episode ended).
  virtual absl::StatusOr<EnvTurn> Step(absl::string_view answer) = 0;
  // The oracle, for measurement: the actions that begin a shortest solution from the current state (empty when
  // none does). UNIMPLEMENTED for environments without one (the default); FAILED_PRECONDITION before Reset.
  virtual absl::StatusOr<std::vector<std::string>> OptimalActions();
};

// Sets turn->optimal_actions from env.OptimalActions(); leaves it unset after a turn that ended the episode (no
// turn follows it), when the env has no oracle, or when the oracle gave up (a measurement is skipped, the episode
// goes on).
void AddOptimalActions(Env& env, EnvTurn* turn);

}  // namespace skillsd

#endif  // SKILLSD_ENV_WORKERS_ENV_H_
