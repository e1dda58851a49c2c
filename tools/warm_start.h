// The warm start's data, from the Sokoban levels and their solver: the text the tiny tokenizer is trained on
// (skillsd model init) and the demonstration turns the supervised warm start trains on (skillsd sft); and
// in-process Sokoban environments for evaluating without env workers (skillsd eval, the warm start's checks).
#ifndef SKILLSD_TOOLS_WARM_START_H_
#define SKILLSD_TOOLS_WARM_START_H_

#include <memory>
#include <string>
#include <vector>

#include "actor/evaluation.h"
#include "core/config.h"
#include "env_workers/levels.h"
#include "learner/trainer.h"
#include "model/chat.h"
#include "model/tokenizer.h"

namespace skillsd {

// Text of the Sokoban interface for training the tiny tokenizer: the system prompt, the observations and
// answers of optimal and random play on the training levels, feedback lines, chat roles and skill prompts.
std::vector<std::string> SokobanCorpus(const ExperimentConfig& config);

// Which plan a demonstration with a skill follows.
enum class SkillDemos {
  // The solver's, as every demonstration: the skill shows the same moves the plain prompt leads to, so the model
  // can match it without reading the skill.
  kSolver,
  // A plan of its own, an optimal solution with ties broken at random (the env's oracle): with a skill the answer
  // is the workflow's next move, without one the solver's, so at every tie the skill is the only way to the answer
  // and the model learns to read it (issue #18 item 4, attempt 1).
  kVaried,
  // The skills the rules summariser writes in RL, mistakes included: for each level, the summary of an episode that
  // solved it with a quarter of its moves random (bumps, detours and their undoing in its workflow, its "boxes
  // reached targets at moves" and its mistakes). A demonstration with the skill follows that workflow, detours and
  // all, so reading the skill is the only way to its answers (issue #18 item 4, attempt 2).
  kSummarised,
};

// Solver demonstrations on the training levels of `levels`, one training sequence per turn (see warm_start.cc).
std::vector<learner::TrainingSequence> Demonstrations(const ExperimentConfig& config, const model::Tokenizer& tok,
                                                      const model::ChatTemplate& chat,
                                                      std::shared_ptr<const sokoban::LevelSet> levels, int detours,
                                                      double skill_fraction,
                                                      SkillDemos skill_demos = SkillDemos::kSolver);

// The same data from any environment with a fixed action set, over an EnvBatch (in-process envs, or sessions on
// a running env worker in any language): nothing here knows the env. The corpus: chat roles, the skill prompt,
// the spec's system prompt and action answers, and the observations and answers of an episode on each training
// task following the env's oracle, then of one with random actions. FAILED_PRECONDITION when the spec names no
// actions.
absl::StatusOr<std::vector<std::string>> EnvCorpus(const ExperimentConfig& config, actor::EnvBatch& env);

// The characters the tokenizer must not merge across, for an env it knows only by its text: the angle brackets
// of the answer format and every character of the observations' grids (three or more consecutive lines of one
// length, without spaces), so that each cell stays its own token (as sokoban::kGridSymbols does for Sokoban).
std::string EnvSymbols(const std::vector<std::string>& corpus);

// Demonstrations from the env's oracle: `episodes_per_task` episodes on each training task of the spec, each turn
// answering one of the optimal actions the env lists (ties broken at random, the answer the spec gives for that
// action); one training sequence per turn, no skills. On a stochastic env an episode may end unsolved (a slip
// into a hole); its turns still show an optimal move from each state. FAILED_PRECONDITION when the env has no
// oracle or names no actions.
absl::StatusOr<std::vector<learner::TrainingSequence>> OracleDemonstrations(const ExperimentConfig& config,
                                                                            const model::Tokenizer& tok,
                                                                            const model::ChatTemplate& chat,
                                                                            actor::EnvBatch& env,
                                                                            int episodes_per_task);

// In-process Sokoban environments over `levels`, as many as asked for.
actor::EnvBatchFactory LocalSokobanEnvs(const ExperimentConfig& config,
                                        std::shared_ptr<const sokoban::LevelSet> levels);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_WARM_START_H_
