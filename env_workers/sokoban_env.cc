#include "env_workers/sokoban_env.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace skillsd::sokoban {
namespace {

// Position of `needle` in `haystack` ignoring ASCII case, from `from`; npos when absent.
size_t FindNoCase(absl::string_view haystack, absl::string_view needle, size_t from) {
  if (needle.size() > haystack.size()) return absl::string_view::npos;
  for (size_t i = from; i + needle.size() <= haystack.size(); ++i) {
    if (absl::EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return i;
  }
  return absl::string_view::npos;
}

}  // namespace

std::string FormatAnswer(absl::Span<const Action> actions) {
  std::string answer = "<answer>";
  for (size_t k = 0; k < actions.size(); ++k) absl::StrAppend(&answer, k ? " || " : "", ActionName(actions[k]));
  return answer + "</answer>";
}

ParsedAnswer ParseAnswer(absl::string_view text, int max_actions) {
  ParsedAnswer parsed;
  constexpr absl::string_view kOpen = "<answer>";
  constexpr absl::string_view kClose = "</answer>";
  const size_t open = FindNoCase(text, kOpen, 0);
  if (open == absl::string_view::npos) return parsed;
  const size_t begin = open + kOpen.size();
  size_t end = FindNoCase(text, kClose, begin);
  if (end == absl::string_view::npos) end = text.size();
  const absl::string_view body = text.substr(begin, end - begin);
  if (absl::StripAsciiWhitespace(body).empty()) return parsed;
  for (absl::string_view piece : absl::StrSplit(body, "||")) {
    if (static_cast<int>(parsed.items.size()) >= max_actions) {
      ++parsed.dropped;
      continue;
    }
    piece = absl::StripAsciiWhitespace(piece);
    AnswerItem item;
    item.text = std::string(piece.substr(0, 64));
    if (const std::optional<Action> action = ActionNamed(piece)) {
      item.valid = true;
      item.action = *action;
    }
    parsed.items.push_back(std::move(item));
  }
  parsed.found = true;
  return parsed;
}

std::string SystemPrompt(const SokobanEnvOptions& options) {
  if (options.compact_prompt) {
    return absl::StrCat("Sokoban: push each X onto an O. Answer up to ", options.max_actions_per_turn,
                        " moves: <answer>Up || Left</answer>");
  }
  return absl::StrCat(
      "You are solving a Sokoban puzzle. Push every box onto a target.\n"
      "Symbols: # wall, _ floor, O target, X box, \xE2\x88\x9A box on target, P player, S player on target.\n"
      "You move one square Up, Down, Left or Right. Walking into a box pushes it one square if the square "
      "behind it is free; you cannot pull boxes or push two at once. A box pushed into a corner that is not a "
      "target can never be moved out.\n"
      "Answer with up to ",
      options.max_actions_per_turn,
      " moves separated by ||, inside <answer></answer>, for example <answer>Up || Left</answer>. You have ",
      options.max_steps, " moves in total.");
}

SokobanEnv::SokobanEnv(std::shared_ptr<const LevelSet> levels, const SokobanEnvOptions& options)
    : levels_(std::move(levels)), options_(options) {
  spec_.name = "sokoban";
  spec_.system_prompt = SystemPrompt(options_);
  spec_.max_steps = options_.max_steps;
  spec_.max_actions_per_turn = options_.max_actions_per_turn;
  spec_.train_levels = static_cast<int>(levels_->levels(Split::kTrain).size());
  spec_.test_levels = static_cast<int>(levels_->levels(Split::kTest).size());
  for (int index : levels_->curriculum()) spec_.train_tasks.push_back({Split::kTrain, index, 0});
  for (int a = 0; a < kNumActions; ++a) {
    const Action action = static_cast<Action>(a);
    spec_.actions.push_back({std::string(ActionName(action)), FormatAnswer({action})});
  }
}

absl::StatusOr<std::vector<std::string>> SokobanEnv::OptimalActions() {
  if (task_id_.empty()) return absl::FailedPreconditionError("no episode: Reset first");
  std::vector<std::string> names;
  if (board_.solved()) return names;
  // No move bound beyond the search itself: a 16×16 room with 4 boxes stays within the state limit in practice.
  absl::StatusOr<std::vector<Action>> best = OptimalFirstActions(board_.CurrentState(level_), 1000);
  if (absl::IsNotFound(best.status())) return names;  // no longer solvable
  if (!best.ok()) return best.status();
  for (Action a : *best) names.emplace_back(ActionName(a));
  return names;
}

absl::StatusOr<EnvTurn> SokobanEnv::Reset(const EnvTask& task) {
  absl::StatusOr<Level> level = levels_->Get(task.split, task.index, task.seed);
  if (!level.ok()) return level.status();
  level_ = std::move(level).value();
  board_.Load(level_);
  task_id_ = TaskId(spec_.name, task);
  totals_ = EpisodeTotals();
  running_ = true;
  EnvTurn turn;
  turn.task_id = task_id_;
  turn.observation = Observation("");
  turn.totals = totals_;
  return turn;
}

double SokobanEnv::Apply(const AnswerItem& item, EnvTurn* turn) {
  ActionEvent event;
  event.turn = totals_.turns;
  double reward = options_.step_reward;
  if (!item.valid) {
    event.invalid = true;
    event.action = item.text;
    ++totals_.invalid_actions;
  } else {
    event.action = std::string(ActionName(item.action));
    const MoveOutcome m = board_.Move(item.action);
    event.moved = m.moved;
    event.bumped = m.bumped;
    event.pushed_box = m.pushed;
    event.box_onto_target = m.onto_target;
    event.box_off_target = m.off_target;
    event.deadlock = m.deadlock;
    if (m.onto_target) reward += options_.box_on_target_reward;
    if (m.off_target) reward += options_.box_off_target_reward;
    if (m.solved) reward += options_.solved_reward;
    totals_.bumps += m.bumped ? 1 : 0;
    totals_.deadlocks += m.deadlock ? 1 : 0;
  }
  ++totals_.steps;
  event.reward = reward;
  turn->events.push_back(std::move(event));
  return reward;
}

absl::StatusOr<EnvTurn> SokobanEnv::Step(absl::string_view answer) {
  if (!running_) return absl::FailedPreconditionError("no episode running: Reset first");
  const ParsedAnswer parsed = ParseAnswer(answer, options_.max_actions_per_turn);
  EnvTurn turn;
  turn.task_id = task_id_;
  std::string feedback;
  if (!parsed.found) {
    AnswerItem none;
    none.text = "no <answer>";
    turn.reward += Apply(none, &turn);
    feedback = "Your reply had no <answer>...</answer> with moves; that cost a move.";
  } else {
    for (const AnswerItem& item : parsed.items) {
      if (board_.solved() || totals_.steps >= options_.max_steps) break;
      turn.reward += Apply(item, &turn);
    }
    totals_.invalid_actions += parsed.dropped;
    bool had_invalid = parsed.dropped > 0;
    for (const auto& e : turn.events) had_invalid |= e.invalid;
    if (had_invalid) {
      feedback = absl::StrCat("Some moves were not valid (use Up, Down, Left, Right; at most ",
                              options_.max_actions_per_turn, " per answer).");
    }
  }
  ++totals_.turns;
  totals_.episode_return += turn.reward;
  totals_.solved = board_.solved();
  totals_.completion = static_cast<double>(board_.boxes_on_target()) / board_.num_boxes();
  turn.done = totals_.solved || totals_.steps >= options_.max_steps;
  totals_.truncated = turn.done && !totals_.solved;
  running_ = !turn.done;
  turn.totals = totals_;
  turn.observation = Observation(feedback);
  return turn;
}

std::string SokobanEnv::Observation(absl::string_view feedback) const {
  std::string out;
  if (!feedback.empty()) absl::StrAppend(&out, feedback, "\n");
  absl::StrAppend(&out, "Moves left: ", options_.max_steps - totals_.steps,
                  ". Boxes on targets: ", board_.boxes_on_target(), "/", board_.num_boxes(), ".\n");
  board_.Render(&out);
  if (options_.coordinates) {
    out.push_back('\n');
    board_.DescribePositions(&out);
  }
  return out;
}

}  // namespace skillsd::sokoban
