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

// Solver demonstrations on the training levels of `levels`, one training sequence per turn (see warm_start.cc).
std::vector<learner::TrainingSequence> Demonstrations(const ExperimentConfig& config, const model::Tokenizer& tok,
                                                      const model::ChatTemplate& chat,
                                                      std::shared_ptr<const sokoban::LevelSet> levels, int detours,
                                                      double skill_fraction);

// In-process Sokoban environments over `levels`, as many as asked for.
actor::EnvBatchFactory LocalSokobanEnvs(const ExperimentConfig& config,
                                        std::shared_ptr<const sokoban::LevelSet> levels);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_WARM_START_H_
