// Plays episodes in-process: one Env per episode, every live episode decoding together in one KV-cache batch
// per turn, contexts from BuildContext. Used for evaluation (greedy or sampled) and the SFT warm start; the actor
// process plays the same way against remote env workers.
#ifndef SKILLSD_ACTOR_ROLLOUT_H_
#define SKILLSD_ACTOR_ROLLOUT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actor/context.h"
#include "env_workers/env.h"
#include "model/chat.h"
#include "model/inference.h"
#include "model/tokenizer.h"

namespace skillsd::actor {

struct EpisodeResult {
  std::string task_id;
  EpisodeTotals totals;
};

struct PlayOptions {
  int history_turns = 1;            // 0 = full history
  model::SamplingOptions sampling;  // stop_tokens gets <|im_end|> added
  int max_turns = 40;
};

// Plays one episode of each task, each on its own env (envs.size() == tasks.size()).
absl::StatusOr<std::vector<EpisodeResult>> PlayEpisodes(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                        const model::ChatTemplate& chat,
                                                        const std::vector<std::unique_ptr<Env>>& envs,
                                                        const std::vector<EnvTask>& tasks, const PlayOptions& options);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_ROLLOUT_H_
