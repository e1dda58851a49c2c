#include "actor/rollout.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace skillsd::actor {

absl::StatusOr<std::vector<EpisodeResult>> PlayEpisodes(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                        const model::ChatTemplate& chat,
                                                        const std::vector<std::unique_ptr<Env>>& envs,
                                                        const std::vector<EnvTask>& tasks, const PlayOptions& options) {
  if (envs.size() != tasks.size()) return absl::InvalidArgumentError("one env per task");
  const size_t n = tasks.size();
  std::vector<EpisodeResult> results(n);
  std::vector<std::vector<Turn>> history(n);
  std::vector<std::string> observation(n);
  std::vector<bool> live(n, true);
  for (size_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(EnvTurn first, envs[i]->Reset(tasks[i]));
    results[i].task_id = first.task_id;
    observation[i] = first.observation;
  }
  model::SamplingOptions sampling = options.sampling;
  sampling.stop_tokens.push_back(chat.end_of_turn());
  for (int turn = 0; turn < options.max_turns; ++turn) {
    std::vector<size_t> playing;
    std::vector<std::vector<int32_t>> prompts;
    for (size_t i = 0; i < n; ++i) {
      if (!live[i]) continue;
      playing.push_back(i);
      prompts.push_back(Flatten(
          BuildContext(chat, envs[i]->spec().system_prompt, history[i], observation[i], options.history_turns, {})));
    }
    if (playing.empty()) break;
    sampling.seed = options.sampling.seed * 1000003 + static_cast<uint64_t>(turn);
    model::DecodeBatch batch(&model, sampling);
    ASSIGN_OR_RETURN(std::vector<int64_t> ids, batch.Add(prompts));
    std::vector<std::vector<int32_t>> answers(playing.size());
    while (batch.live() > 0) {
      for (const model::SampledToken& t : batch.Step()) answers[t.sequence - ids.front()].push_back(t.token);
    }
    for (size_t k = 0; k < playing.size(); ++k) {
      const size_t i = playing[k];
      std::vector<int32_t> text_tokens = answers[k];
      if (!text_tokens.empty() && text_tokens.back() == chat.end_of_turn()) text_tokens.pop_back();
      ASSIGN_OR_RETURN(EnvTurn step, envs[i]->Step(tokenizer.Decode(text_tokens)));
      history[i].push_back({observation[i], answers[k]});
      observation[i] = step.observation;
      results[i].totals = step.totals;
      live[i] = !step.done;
    }
  }
  return results;
}

}  // namespace skillsd::actor
