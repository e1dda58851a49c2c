// The evaluation protocol, one for every caller (skillsd eval, skillsd-actor --eval, the warm start): every level
// of a split played with the plain prompt and no skills, greedily or sampled (actor/play_options.h), all episodes
// decoding together.
#ifndef SKILLSD_ACTOR_EVALUATION_H_
#define SKILLSD_ACTOR_EVALUATION_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "actor/play_options.h"
#include "actor/rollout.h"

namespace skillsd::actor {

// Environments for `slots` episodes at once (in-process envs, or sessions on env workers).
using EnvBatchFactory = std::function<absl::StatusOr<std::unique_ptr<EnvBatch>>(size_t slots)>;

// Plays levels 0..levels-1 of `split`, EvalEpisodesPerLevel times each (all levels once, then again), with
// `model` under inference mode.
absl::StatusOr<std::vector<EpisodeResult>> Evaluate(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                    const model::ChatTemplate& chat, const ExperimentConfig& config,
                                                    const EnvBatchFactory& envs, Split split, int levels,
                                                    EvalPolicy policy, uint64_t seed);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_EVALUATION_H_
