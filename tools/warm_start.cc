#include "tools/warm_start.h"

#include "absl/strings/str_cat.h"
#include "actor/context.h"
#include "core/random.h"
#include "core/skill_prompt.h"
#include "env_workers/env_config.h"
#include "env_workers/sokoban.h"
#include "env_workers/sokoban_env.h"

namespace skillsd {
namespace {

// The moves of `actions` by name.
std::vector<std::string> MoveNames(const std::vector<sokoban::Action>& actions) {
  std::vector<std::string> names;
  for (sokoban::Action a : actions) names.emplace_back(sokoban::ActionName(a));
  return names;
}

// One demonstration turn: the input (with the skill in its slot, or not) and the answer tokens as targets.
learner::TrainingSequence Demo(const model::ChatTemplate& chat, const std::string& system_prompt,
                               const std::vector<actor::Turn>& history, const std::string& observation,
                               int history_turns, const std::vector<int32_t>& skill,
                               const std::vector<int32_t>& answer_tokens) {
  learner::TrainingSequence s;
  s.tokens = actor::Flatten(actor::BuildContext(chat, system_prompt, history, observation, history_turns, skill));
  s.loss_mask.assign(s.tokens.size(), 0);
  s.tokens.insert(s.tokens.end(), answer_tokens.begin(), answer_tokens.end());
  s.loss_mask.resize(s.tokens.size(), 1);
  return s;
}

// An optimal solution from `state` with every tie between optimal moves broken at random; NOT_FOUND when there is
// none within `max_moves`.
absl::StatusOr<std::vector<sokoban::Action>> RandomOptimalPlan(const sokoban::Level& state, int max_moves, Rng& rng) {
  sokoban::Board board(state);
  std::vector<sokoban::Action> plan;
  while (!board.solved()) {
    if (static_cast<int>(plan.size()) >= max_moves) return absl::NotFoundError("no plan within the moves left");
    absl::StatusOr<std::vector<sokoban::Action>> best =
        sokoban::OptimalFirstActions(board.CurrentState(state), max_moves - static_cast<int>(plan.size()));
    if (!best.ok()) return best.status();
    if (best->empty()) return absl::NotFoundError("no optimal move");
    const sokoban::Action a = (*best)[rng.Uniform(static_cast<uint32_t>(best->size()))];
    board.Move(a);
    plan.push_back(a);
  }
  return plan;
}

}  // namespace

// Text of the Sokoban interface for training the tiny tokenizer: the system prompt, the observations and
// answers of optimal and random play on the training levels, feedback lines, chat roles and skill prompts.
std::vector<std::string> SokobanCorpus(const ExperimentConfig& config) {
  std::vector<std::string> corpus;
  auto levels = BuildLevelSet(config.env);
  if (!levels.ok()) return corpus;
  const sokoban::SokobanEnvOptions options = SokobanEnvOptionsFromConfig(config.env);
  sokoban::SokobanEnv env(*levels, options);
  for (const char* role : {"system\n", "user\n", "assistant\n"}) corpus.push_back(role);
  corpus.push_back(config.teacher.skill_template);
  Rng rng(config.run.seed);
  const int train = static_cast<int>((*levels)->levels(Split::kTrain).size());
  for (int i = 0; i < train; ++i) {
    corpus.push_back(env.spec().system_prompt);  // once per episode, as the model sees it
    for (int pass = 0; pass < 2; ++pass) {       // optimal play, then random play
      auto turn = env.Reset({Split::kTrain, i, 0});
      if (!turn.ok()) continue;
      corpus.push_back(turn->observation);
      const auto& plan = env.level().optimal_actions;
      for (size_t step = 0; !turn->done && step < 60; step += options.max_actions_per_turn) {
        std::vector<sokoban::Action> actions;
        for (int k = 0; k < options.max_actions_per_turn; ++k) {
          const size_t at = step + static_cast<size_t>(k);
          actions.push_back(pass == 0 && at < plan.size() ? plan[at] : static_cast<sokoban::Action>(rng.Uniform(4)));
        }
        const std::string answer = sokoban::FormatAnswer(actions);
        corpus.push_back(answer);
        turn = env.Step(answer);
        if (!turn.ok()) break;
        corpus.push_back(turn->observation);
      }
    }
  }
  return corpus;
}

// Solver demonstrations on the training levels, a turn at a time: optimal play from each level's start, and
// from `detours` states per level reached by a few random moves first (so the model also sees how to go on from
// positions its own sampling leads to). A fraction of the turns show a skill in the skill slot — the optimal
// workflow, as the skill prompt renders it at that turn — so the model learns to read skills (the teacher is the
// same model with a skill in its prompt).
std::vector<learner::TrainingSequence> Demonstrations(const ExperimentConfig& config, const model::Tokenizer& tok,
                                                      const model::ChatTemplate& chat,
                                                      std::shared_ptr<const sokoban::LevelSet> levels, int detours,
                                                      double skill_fraction, SkillDemos skill_demos) {
  const sokoban::SokobanEnvOptions env_options = SokobanEnvOptionsFromConfig(config.env);
  sokoban::SokobanEnv env(levels, env_options);
  Rng rng(config.run.seed);
  const WorkflowView view = config.skill.workflow_view;
  std::vector<learner::TrainingSequence> demos;
  const int train = static_cast<int>(levels->levels(Split::kTrain).size());
  for (int level = 0; level < train; ++level) {
    for (int variant = 0; variant <= detours; ++variant) {
      auto turn = env.Reset({Split::kTrain, level, 0});
      if (!turn.ok()) continue;
      const sokoban::Level start = env.level();
      std::vector<std::string> moves_so_far;  // moves that changed the board
      std::vector<actor::Turn> history;
      if (variant > 0) {
        const int walk = 1 + static_cast<int>(rng.Uniform(6));
        for (int k = 0; k < walk && turn.ok() && !turn->done; ++k) {
          const auto action = static_cast<sokoban::Action>(rng.Uniform(4));
          const std::string move(sokoban::ActionName(action));
          const std::string answer = sokoban::FormatAnswer({action});
          std::vector<int32_t> tokens = tok.EncodeOrdinary(answer);
          tokens.push_back(chat.end_of_turn());
          history.push_back({turn->observation, tokens});
          turn = env.Step(answer);
          if (turn.ok() && !turn->events.empty() && turn->events.front().moved) moves_so_far.push_back(move);
        }
        if (!turn.ok() || turn->done) continue;
      }
      auto plan = sokoban::Solve(env.board().CurrentState(env.level()), config.env.max_steps - turn->totals.steps);
      if (!plan.ok()) continue;  // the walk deadlocked a box
      skillsd::v1::SkillContent skill;
      skill.set_success_analysis(absl::StrCat("Solved in ", start.optimal_length, " moves."));
      skill.set_mistake_analysis("None.");
      skill.set_golden_workflow(WorkflowText(MoveNames(start.optimal_actions)));
      // kVaried: a demonstration from the start shows, with probability skill_fraction, a skill on every turn, and
      // follows that skill's own plan; the others show none.
      bool all_skill = false;
      if (skill_demos == SkillDemos::kVaried && variant == 0) {
        all_skill = rng.Bernoulli(skill_fraction);
        if (all_skill) {
          auto own = RandomOptimalPlan(start, config.env.max_steps, rng);
          if (!own.ok()) continue;
          *plan = *own;
          skill.set_golden_workflow(WorkflowText(MoveNames(*own)));
        }
      } else if (skill_demos == SkillDemos::kVaried && WorkflowApplies(skill, moves_so_far)) {
        // A detour that happened to follow the workflow: its skill turns answer with the workflow's next moves too
        // (the rest of an optimal plan is optimal from here).
        plan->assign(start.optimal_actions.begin() + static_cast<long>(moves_so_far.size()),
                     start.optimal_actions.end());
      }
      const std::vector<std::string> names = MoveNames(*plan);
      for (size_t at = 0; turn.ok() && !turn->done && at < names.size(); at += env_options.max_actions_per_turn) {
        const size_t n = std::min(names.size() - at, static_cast<size_t>(env_options.max_actions_per_turn));
        const std::string answer = sokoban::FormatAnswer(absl::MakeConstSpan(*plan).subspan(at, n));
        std::vector<int32_t> answer_tokens = tok.EncodeOrdinary(answer);
        answer_tokens.push_back(chat.end_of_turn());
        std::vector<int32_t> skill_tokens;
        const bool with_skill =
            skill_demos == SkillDemos::kVaried && variant == 0 ? all_skill : rng.Bernoulli(skill_fraction);
        if (with_skill) {
          skill_tokens =
              chat.Content(RenderSkill(config.teacher.skill_template, SkillForTurn(skill, moves_so_far, view)));
        }
        demos.push_back(Demo(chat, env.spec().system_prompt, history, turn->observation, config.actor.history_turns,
                             skill_tokens, answer_tokens));
        history.push_back({turn->observation, answer_tokens});
        turn = env.Step(answer);
        moves_so_far.insert(moves_so_far.end(), names.begin() + static_cast<long>(at),
                            names.begin() + static_cast<long>(at + n));
      }
    }
  }
  return demos;
}

actor::EnvBatchFactory LocalSokobanEnvs(const ExperimentConfig& config,
                                        std::shared_ptr<const sokoban::LevelSet> levels) {
  return [config, levels](size_t slots) -> absl::StatusOr<std::unique_ptr<actor::EnvBatch>> {
    std::vector<std::unique_ptr<Env>> envs;
    for (size_t i = 0; i < slots; ++i) {
      envs.push_back(std::make_unique<sokoban::SokobanEnv>(levels, SokobanEnvOptionsFromConfig(config.env)));
    }
    return std::unique_ptr<actor::EnvBatch>(std::make_unique<actor::LocalEnvBatch>(std::move(envs)));
  };
}

}  // namespace skillsd
