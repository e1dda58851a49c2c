#include "actor/play_options.h"

namespace skillsd::actor {

PlayOptions RolloutPlayOptions(const ExperimentConfig& config, const EnvSpec& spec,
                               const skillsd::v1::SamplingParams& sampling, uint64_t seed) {
  PlayOptions play;
  play.history_turns = config.actor.history_turns;
  play.max_turns = spec.max_steps;
  play.end_on_deadlock = config.actor.end_on_deadlock;
  play.deadlock_step_reward = config.env.step_reward;
  play.sampling.temperature = sampling.temperature() > 0 ? sampling.temperature() : 1.0;
  play.sampling.top_k = sampling.top_k();
  play.sampling.top_p = sampling.top_p() > 0 ? sampling.top_p() : 1.0;
  play.sampling.max_new_tokens = sampling.max_new_tokens() > 0 ? sampling.max_new_tokens() : 32;
  play.sampling.seed = seed;
  return play;
}

PlayOptions EvalPlayOptions(const ExperimentConfig& config, EvalPolicy policy, uint64_t seed) {
  PlayOptions play;
  play.history_turns = config.actor.history_turns;
  play.max_turns = config.env.max_steps;
  play.sampling.max_new_tokens = config.algorithm.max_new_tokens;
  play.sampling.seed = seed;
  if (policy == EvalPolicy::kGreedy) {
    play.sampling.top_k = 1;
  } else {
    play.sampling.temperature = config.algorithm.temperature;
  }
  return play;
}

int EvalEpisodesPerLevel(const ExperimentConfig& config, EvalPolicy policy) {
  return policy == EvalPolicy::kGreedy ? 1 : config.actor.eval_episodes_per_level;
}

}  // namespace skillsd::actor
