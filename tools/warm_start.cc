#include "tools/warm_start.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actor/context.h"
#include "core/random.h"
#include "core/skill_prompt.h"
#include "core/status.h"
#include "env_workers/env_config.h"
#include "env_workers/env_proto.h"
#include "env_workers/sokoban.h"
#include "env_workers/sokoban_env.h"
#include "skill_service/summarizer.h"

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

// The actions a workflow names, in order (a workflow's words are move names; anything else ends it).
std::vector<sokoban::Action> WorkflowActions(const skillsd::v1::SkillContent& skill) {
  std::vector<sokoban::Action> actions;
  for (const std::string& name : WorkflowMoves(skill)) {
    const std::optional<sokoban::Action> action = sokoban::ActionNamed(name);
    if (!action.has_value()) break;
    actions.push_back(*action);
  }
  return actions;
}

// An episode of `level` that gets there the way a policy's early successes do: each move is, with probability
// kSummarisedNoise, a random one (bumps included; kept only while the level stays solvable in the moves left),
// otherwise an optimal one with ties broken at random; played in turns of up to max_actions_per_turn moves, as the
// model answers. The trajectory holds what the summariser reads (step events, totals); NOT_FOUND when the episode
// did not end solved.
constexpr double kSummarisedNoise = 0.25;
absl::StatusOr<skillsd::v1::Trajectory> NoisySolvedEpisode(sokoban::SokobanEnv& env, int level,
                                                           const sokoban::SokobanEnvOptions& options, Rng& rng) {
  ASSIGN_OR_RETURN(EnvTurn turn, env.Reset({Split::kTrain, level, 0}));
  const sokoban::Level start = env.level();
  skillsd::v1::Trajectory trajectory;
  // The optimal first moves from the board as it stands, when the check of a random move has searched them already
  // (a search from the same state with the same moves left).
  std::optional<std::vector<sokoban::Action>> known;
  while (!turn.done) {
    sokoban::Board board = env.board();
    std::vector<sokoban::Action> chunk;
    int steps = turn.totals.steps;
    while (static_cast<int>(chunk.size()) < options.max_actions_per_turn && !board.solved()) {
      const int left = options.max_steps - steps;
      if (left <= 0) break;
      std::optional<sokoban::Action> move;
      std::optional<std::vector<sokoban::Action>> next;
      if (rng.Bernoulli(kSummarisedNoise)) {
        const auto random = static_cast<sokoban::Action>(rng.Uniform(sokoban::kNumActions));
        sokoban::Board after = board;
        after.Move(random);
        auto rest = sokoban::OptimalFirstActions(after.CurrentState(start), left - 1);
        if (after.solved() || (rest.ok() && !rest->empty())) {
          move = random;
          if (rest.ok()) next = *std::move(rest);
        }
      }
      if (!move.has_value()) {
        if (!known.has_value()) {
          ASSIGN_OR_RETURN(known, sokoban::OptimalFirstActions(board.CurrentState(start), left));
        }
        if (known->empty()) return absl::NotFoundError("no solution in the moves left");
        move = (*known)[rng.Uniform(static_cast<uint32_t>(known->size()))];
      }
      known = std::move(next);
      board.Move(*move);
      chunk.push_back(*move);
      ++steps;
    }
    if (chunk.empty()) break;
    ASSIGN_OR_RETURN(turn, env.Step(sokoban::FormatAnswer(chunk)));
    for (const ActionEvent& e : turn.events) ToProto(e, trajectory.add_events());
  }
  ToProto(turn.totals, trajectory.mutable_stats());
  if (!turn.totals.solved) return absl::NotFoundError("the noisy episode did not solve the level");
  return trajectory;
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
  const bool own_plans = skill_demos != SkillDemos::kSolver;  // a demonstration with a skill follows its workflow
  for (int level = 0; level < train; ++level) {
    // kSummarised: the level's skill, as the rules summariser writes it from a noisy episode that solved it (the
    // level keeps the solver's skill when that episode failed).
    std::optional<skillsd::v1::SkillContent> summarised;
    if (skill_demos == SkillDemos::kSummarised) {
      absl::StatusOr<skillsd::v1::Trajectory> noisy = NoisySolvedEpisode(env, level, env_options, rng);
      if (noisy.ok()) {
        absl::StatusOr<skillsd::v1::SkillContent> written = skill::RulesSummarizer().Summarize(*noisy);
        if (written.ok()) summarised = *std::move(written);
      }
    }
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
      if (summarised.has_value()) skill = *summarised;
      // kVaried, kSummarised: a demonstration from the start shows, with probability skill_fraction, a skill on
      // every turn, and follows that skill's workflow (kVaried: an optimal plan of its own); the others show none.
      bool all_skill = false;
      if (own_plans && variant == 0) {
        all_skill = rng.Bernoulli(skill_fraction);
        if (all_skill && skill_demos == SkillDemos::kVaried) {
          auto own = RandomOptimalPlan(start, config.env.max_steps, rng);
          if (!own.ok()) continue;
          skill.set_golden_workflow(WorkflowText(MoveNames(*own)));
        }
        if (all_skill) *plan = WorkflowActions(skill);
      } else if (own_plans && WorkflowApplies(skill, moves_so_far)) {
        // A detour that happened to follow the workflow: its skill turns answer with the workflow's next moves too
        // (the rest of a workflow that solved the level from here).
        const std::vector<sokoban::Action> workflow = WorkflowActions(skill);
        plan->assign(workflow.begin() + static_cast<long>(moves_so_far.size()), workflow.end());
      }
      const std::vector<std::string> names = MoveNames(*plan);
      for (size_t at = 0; turn.ok() && !turn->done && at < names.size(); at += env_options.max_actions_per_turn) {
        const size_t n = std::min(names.size() - at, static_cast<size_t>(env_options.max_actions_per_turn));
        const std::string answer = sokoban::FormatAnswer(absl::MakeConstSpan(*plan).subspan(at, n));
        std::vector<int32_t> answer_tokens = tok.EncodeOrdinary(answer);
        answer_tokens.push_back(chat.end_of_turn());
        std::vector<int32_t> skill_tokens;
        const bool with_skill = own_plans && variant == 0 ? all_skill : rng.Bernoulli(skill_fraction);
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

namespace {

// The training tasks of a spec, in its order (index order when it lists none).
std::vector<EnvTask> TrainTasks(const EnvSpec& spec) {
  if (!spec.train_tasks.empty()) return spec.train_tasks;
  std::vector<EnvTask> tasks;
  for (int i = 0; i < spec.train_levels; ++i) tasks.push_back({Split::kTrain, i, 0});
  return tasks;
}

// The answer that plays `action` alone; empty when the spec does not name it.
std::string AnswerFor(const EnvSpec& spec, const std::string& action) {
  for (const NamedAction& a : spec.actions) {
    if (a.name == action) return a.answer;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> EnvCorpus(const ExperimentConfig& config, actor::EnvBatch& env) {
  const EnvSpec& spec = env.spec();
  if (spec.actions.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("env '", spec.name, "' names no actions in its spec: no answers to build a corpus from"));
  }
  std::vector<std::string> corpus;
  for (const char* role : {"system\n", "user\n", "assistant\n"}) corpus.push_back(role);
  corpus.push_back(config.teacher.skill_template);
  for (const NamedAction& a : spec.actions) corpus.push_back(a.answer);
  Rng rng(config.run.seed);
  for (const EnvTask& task : TrainTasks(spec)) {
    corpus.push_back(spec.system_prompt);   // once per episode, as the model sees it
    for (int pass = 0; pass < 2; ++pass) {  // the oracle's play, then random play
      ASSIGN_OR_RETURN(EnvTurn turn, env.Reset(0, task, /*with_optimal_actions=*/pass == 0));
      corpus.push_back(turn.observation);
      for (int t = 0; !turn.done && t < spec.max_steps; ++t) {
        std::string answer;
        if (pass == 0 && turn.optimal_actions.has_value() && !turn.optimal_actions->empty()) {
          answer = AnswerFor(spec, turn.optimal_actions->front());
        }
        if (answer.empty()) answer = spec.actions[rng.Uniform(static_cast<uint32_t>(spec.actions.size()))].answer;
        corpus.push_back(answer);
        ASSIGN_OR_RETURN(std::vector<EnvTurn> next, env.Step({0}, {answer}));
        turn = std::move(next.front());
        corpus.push_back(turn.observation);
      }
    }
  }
  return corpus;
}

std::string EnvSymbols(const std::vector<std::string>& corpus) {
  std::string symbols = "<>";
  for (const std::string& text : corpus) {
    const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
    // A grid: three or more consecutive lines of one length (two or more), none with a space.
    for (size_t begin = 0; begin < lines.size();) {
      size_t end = begin;
      while (end < lines.size() && lines[end].size() >= 2 && lines[end].size() == lines[begin].size() &&
             !absl::StrContains(lines[end], ' ')) {
        ++end;
      }
      if (end - begin >= 3) {
        for (size_t k = begin; k < end; ++k) {
          for (char c : lines[k]) {
            if (symbols.find(c) == std::string::npos) symbols.push_back(c);
          }
        }
      }
      begin = std::max(end, begin + 1);
    }
  }
  return symbols;
}

absl::StatusOr<std::vector<learner::TrainingSequence>> OracleDemonstrations(const ExperimentConfig& config,
                                                                            const model::Tokenizer& tok,
                                                                            const model::ChatTemplate& chat,
                                                                            actor::EnvBatch& env,
                                                                            int episodes_per_task) {
  const EnvSpec& spec = env.spec();
  Rng rng(config.run.seed);
  std::vector<learner::TrainingSequence> demos;
  for (const EnvTask& task : TrainTasks(spec)) {
    for (int episode = 0; episode < episodes_per_task; ++episode) {
      ASSIGN_OR_RETURN(EnvTurn turn, env.Reset(0, task, /*with_optimal_actions=*/true));
      if (!turn.optimal_actions.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "env '", spec.name, "' has no oracle (no optimal_actions with with_optimal_actions): no demonstrations"));
      }
      std::vector<actor::Turn> history;
      for (int t = 0; !turn.done && t < spec.max_steps && !turn.optimal_actions->empty(); ++t) {
        const std::vector<std::string>& best = *turn.optimal_actions;
        const std::string& action = best[rng.Uniform(static_cast<uint32_t>(best.size()))];
        const std::string answer = AnswerFor(spec, action);
        if (answer.empty()) {
          return absl::FailedPreconditionError(absl::StrCat("env '", spec.name, "' lists the optimal action '", action,
                                                            "' that its spec does not name"));
        }
        std::vector<int32_t> answer_tokens = tok.EncodeOrdinary(answer);
        answer_tokens.push_back(chat.end_of_turn());
        demos.push_back(
            Demo(chat, spec.system_prompt, history, turn.observation, config.actor.history_turns, {}, answer_tokens));
        history.push_back({turn.observation, answer_tokens});
        ASSIGN_OR_RETURN(std::vector<EnvTurn> next, env.Step({0}, {answer}));
        turn = std::move(next.front());
        if (!turn.optimal_actions.has_value()) turn.optimal_actions.emplace();
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
