// How episodes are played, from the configuration: one place for the rollout settings of training (the actor) and
// of evaluation (skillsd eval, skillsd-actor --eval, the warm start's checks).
#ifndef SKILLSD_ACTOR_PLAY_OPTIONS_H_
#define SKILLSD_ACTOR_PLAY_OPTIONS_H_

#include <cstdint>

#include "actor/rollout.h"
#include "core/config.h"
#include "env_workers/env.h"
#include "skillsd/v1/learner.pb.h"

namespace skillsd::actor {

// Training rollouts of one assignment: the configured history window, the env's step limit, the episode ended at
// its first deadlock, and the assignment's sampling (unset fields: temperature 1, top-p 1, 32 new tokens).
PlayOptions RolloutPlayOptions(const ExperimentConfig& config, const EnvSpec& spec,
                               const skillsd::v1::SamplingParams& sampling, uint64_t seed);

enum class EvalPolicy {
  kGreedy,   // one episode a level, the most likely token each step
  kSampled,  // actor.eval_episodes_per_level episodes a level at algorithm.temperature
};

// Evaluation: the plain prompt, the configured history window and step limit, no deadlock ending.
PlayOptions EvalPlayOptions(const ExperimentConfig& config, EvalPolicy policy, uint64_t seed);

// The episodes per level `policy` plays.
int EvalEpisodesPerLevel(const ExperimentConfig& config, EvalPolicy policy);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_PLAY_OPTIONS_H_
