#include "tools/warm_start.h"

#include <set>

#include "absl/strings/str_split.h"
#include "core/skill_prompt.h"
#include "env_workers/env_config.h"
#include "env_workers/sokoban_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

// One demonstration turn, read back as text.
struct ReadDemo {
  std::string prompt;                     // the input, decoded
  std::optional<std::string> workflow;    // the skill's workflow as the turn shows it (between [ and ])
  std::vector<std::string> answer_moves;  // the moves the answer names
};

// The demonstrations of `skill_demos` on 12 training levels (one detour each, half with a skill), the skill
// rendered by `skill_template` (which puts the workflow between [ and ]), and the solver's plans of those levels.
struct Demos {
  std::shared_ptr<const sokoban::LevelSet> levels;
  std::vector<ReadDemo> turns;
  std::set<std::string> solver_plans;
};

Demos MakeDemos(SkillDemos skill_demos, const std::string& skill_template) {
  ExperimentConfig config;
  config.env.train_levels = 12;
  config.teacher.skill_template = skill_template;
  Demos out;
  auto levels = BuildLevelSet(config.env);
  EXPECT_TRUE(levels.ok()) << levels.status();
  if (!levels.ok()) return out;
  out.levels = *levels;
  auto tok = model::Tokenizer::FromJson(
      model::Tokenizer::TrainBpeJson(SokobanCorpus(config), 400, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
  EXPECT_TRUE(tok.ok());
  if (!tok.ok()) return out;
  auto chat = model::ChatTemplate::Create(tok->get());
  EXPECT_TRUE(chat.ok());
  if (!chat.ok()) return out;
  for (const sokoban::Level& level : out.levels->levels(Split::kTrain)) {
    std::vector<std::string> names;
    for (sokoban::Action a : level.optimal_actions) names.emplace_back(sokoban::ActionName(a));
    out.solver_plans.insert(WorkflowText(names));
  }
  for (const learner::TrainingSequence& demo :
       Demonstrations(config, **tok, *chat, out.levels, /*detours=*/1, /*skill_fraction=*/0.5, skill_demos)) {
    std::vector<int32_t> prompt, answer;
    for (size_t i = 0; i < demo.tokens.size(); ++i) {
      if (demo.loss_mask[i]) {
        if (demo.tokens[i] != chat->end_of_turn()) answer.push_back(demo.tokens[i]);
      } else {
        prompt.push_back(demo.tokens[i]);
      }
    }
    ReadDemo read;
    read.prompt = (*tok)->Decode(prompt);
    const size_t open = read.prompt.rfind('['), close = read.prompt.rfind(']');
    if (open != std::string::npos && close > open) read.workflow = read.prompt.substr(open + 1, close - open - 1);
    for (const sokoban::AnswerItem& item : sokoban::ParseAnswer((*tok)->Decode(answer), 3).items) {
      read.answer_moves.emplace_back(sokoban::ActionName(item.action));
    }
    out.turns.push_back(std::move(read));
  }
  return out;
}

// Whether the turn shows a workflow that still applies (its next moves, not "done" or the whole one marked as
// left).
bool OnWorkflow(const ReadDemo& turn) {
  return turn.workflow.has_value() && *turn.workflow != "done" && turn.workflow->rfind("from the start", 0) != 0;
}

// Every answer on a workflow names the workflow's next moves.
void ExpectAnswersFollowWorkflows(const Demos& demos) {
  int followed = 0;
  for (const ReadDemo& turn : demos.turns) {
    if (!OnWorkflow(turn)) continue;
    const std::vector<std::string> next = absl::StrSplit(*turn.workflow, ", ");
    ASSERT_FALSE(turn.answer_moves.empty()) << turn.prompt;
    for (size_t k = 0; k < turn.answer_moves.size(); ++k) {
      ASSERT_LT(k, next.size());
      EXPECT_EQ(turn.answer_moves[k], next[k]) << turn.prompt;
    }
    ++followed;
  }
  EXPECT_GT(followed, 10);
}

// With kVaried, a demonstration that shows a skill follows that skill's own plan: on every turn on the workflow the
// answer is the workflow's next moves, and the plans are optimal solutions that are not always the solver's.
TEST(DemonstrationsTest, VariedSkillDemosAnswerWithTheWorkflowsNextMoves) {
  const Demos demos = MakeDemos(SkillDemos::kVaried, "[{golden_workflow}]");
  ExpectAnswersFollowWorkflows(demos);
  int own_plans = 0;
  for (const ReadDemo& turn : demos.turns) {
    if (OnWorkflow(turn) && demos.solver_plans.count(*turn.workflow) == 0 &&
        turn.prompt.find("Moves left: 40") != std::string::npos) {
      ++own_plans;
    }
  }
  EXPECT_GT(own_plans, 0);  // some skills' plans break ties otherwise than the solver
}

// With kSummarised, the skills are the rules summariser's (its analysis lines), their workflows are not all the
// solver's plans (a quarter of the noisy episode's moves were random), and a demonstration that shows one answers
// with the workflow's next moves; played from the start, that workflow solves the level.
TEST(DemonstrationsTest, SummarisedSkillDemosFollowTheSummarisersWorkflow) {
  const Demos demos = MakeDemos(SkillDemos::kSummarised, "{success_analysis}|{mistake_analysis}[{golden_workflow}]");
  ExpectAnswersFollowWorkflows(demos);
  int noisy_workflows = 0, summariser_lines = 0;
  for (const ReadDemo& turn : demos.turns) {
    if (turn.prompt.find("; boxes reached targets at moves ") != std::string::npos) ++summariser_lines;
    if (!OnWorkflow(turn) || demos.solver_plans.count(*turn.workflow) > 0 ||
        turn.prompt.find("Moves left: 40") == std::string::npos) {
      continue;
    }
    ++noisy_workflows;
    // Played from the start, the whole workflow solves a training level (its own: another level's moves do not
    // solve a level by chance).
    std::vector<sokoban::Action> moves;
    for (absl::string_view name : absl::StrSplit(*turn.workflow, ", ")) {
      const std::optional<sokoban::Action> action = sokoban::ActionNamed(name);
      ASSERT_TRUE(action.has_value()) << *turn.workflow;
      moves.push_back(*action);
    }
    bool solves = false;
    for (const sokoban::Level& level : demos.levels->levels(Split::kTrain)) {
      sokoban::Board board(level);
      for (sokoban::Action a : moves) board.Move(a);
      solves = solves || board.solved();
    }
    EXPECT_TRUE(solves) << *turn.workflow;
  }
  EXPECT_GT(noisy_workflows, 0);
  EXPECT_GT(summariser_lines, 0);
}

}  // namespace
}  // namespace skillsd
