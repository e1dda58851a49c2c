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

// In-process Sokoban environments over `levels`, as many as asked for.
actor::EnvBatchFactory LocalSokobanEnvs(const ExperimentConfig& config,
                                        std::shared_ptr<const sokoban::LevelSet> levels);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_WARM_START_H_
