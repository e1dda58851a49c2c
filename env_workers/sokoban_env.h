// Sokoban behind the Env interface: the text the model sees, the parser of its answers, rewards and episode
// facts. See docs/sokoban.md for the exact text interface.
#ifndef SKILLSD_ENV_WORKERS_SOKOBAN_ENV_H_
#define SKILLSD_ENV_WORKERS_SOKOBAN_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "env_workers/env.h"
#include "env_workers/levels.h"
#include "env_workers/sokoban.h"

namespace skillsd::sokoban {

struct SokobanEnvOptions {
  int max_steps = 40;
  int max_actions_per_turn = 3;
  bool compact_prompt = false;
  bool coordinates = false;  // observations also list the player, box and target positions as text  // one-line system
                             // prompt (tiny models: ~30 tokens instead of ~400)
  double step_reward = -0.1;
  double box_on_target_reward = 1.0;
  double box_off_target_reward = -1.0;
  double solved_reward = 10.0;
};

// One item of an answer: a move, or text that is not one.
struct AnswerItem {
  bool valid = false;
  Action action = Action::kUp;
  std::string text;  // the item as written (trimmed, at most 64 bytes)
};

struct ParsedAnswer {
  bool found = false;             // an <answer> tag with at least one item
  std::vector<AnswerItem> items;  // at most max_actions
  int dropped = 0;                // items beyond max_actions
};

// Extracts the actions of "<answer>Up || Left</answer>": the first <answer> tag (any case; a missing closing
// tag means "to the end"), items separated by "||", each Up/Down/Left/Right in any case with surrounding
// whitespace ignored. Total: never fails and never reads out of bounds, whatever the bytes.
ParsedAnswer ParseAnswer(absl::string_view text, int max_actions);
// The answer ParseAnswer reads back as `actions`: "<answer>Up || Left</answer>".
std::string FormatAnswer(absl::Span<const Action> actions);

// The system prompt: rules, symbols, answer format.
std::string SystemPrompt(const SokobanEnvOptions& options);

// Not thread-safe; the caller serialises.
class SokobanEnv : public Env {
 public:
  SokobanEnv(std::shared_ptr<const LevelSet> levels, const SokobanEnvOptions& options);

  const EnvSpec& spec() const override { return spec_; }
  absl::StatusOr<EnvTurn> Reset(const EnvTask& task) override;
  absl::StatusOr<EnvTurn> Step(absl::string_view answer) override;
  // The solver from the current state; empty once solved or deadlocked.
  absl::StatusOr<std::vector<std::string>> OptimalActions() override;

  // The board of the running episode (for tests and tools).
  const Board& board() const { return board_; }
  const Level& level() const { return level_; }

 private:
  std::string Observation(absl::string_view feedback) const;
  // Appends the event of one answer item, applies it, and returns its reward.
  double Apply(const AnswerItem& item, EnvTurn* turn);

  std::shared_ptr<const LevelSet> levels_;
  SokobanEnvOptions options_;
  EnvSpec spec_;
  Level level_;
  Board board_;
  std::string task_id_;
  EpisodeTotals totals_;
  bool running_ = false;
};

}  // namespace skillsd::sokoban

#endif  // SKILLSD_ENV_WORKERS_SOKOBAN_ENV_H_
