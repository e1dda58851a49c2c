#include "actor/evaluation.h"

#include <torch/torch.h>

#include "core/status.h"

namespace skillsd::actor {

absl::StatusOr<std::vector<EpisodeResult>> Evaluate(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                    const model::ChatTemplate& chat, const ExperimentConfig& config,
                                                    const EnvBatchFactory& envs, Split split, int levels,
                                                    EvalPolicy policy, uint64_t seed) {
  const int per_level = EvalEpisodesPerLevel(config, policy);
  std::vector<EnvTask> tasks;
  for (int e = 0; e < per_level; ++e) {
    for (int i = 0; i < levels; ++i) tasks.push_back({split, i, 0});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<EnvBatch> batch, envs(tasks.size()));
  c10::InferenceMode guard;
  return PlayEpisodes(model, tokenizer, chat, *batch, tasks, EvalPlayOptions(config, policy, seed));
}

}  // namespace skillsd::actor
