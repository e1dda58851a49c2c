#include "env_workers/env_config.h"

namespace skillsd {

sokoban::LevelSetOptions LevelSetOptionsFromConfig(const EnvConfig& env) {
  sokoban::LevelSetOptions o;
  o.generator.side = env.room_size;
  o.generator.num_boxes = env.num_boxes;
  o.generator.min_optimal_length = env.min_optimal_length;
  o.generator.max_optimal_length = env.max_steps;
  o.generator.reverse_steps = env.reverse_steps;
  o.train_levels = env.train_levels;
  o.warm_start_levels = env.warm_start_levels;
  o.test_levels = env.test_levels;
  o.curriculum_by_length = env.curriculum == "optimal_length";
  return o;
}

sokoban::SokobanEnvOptions SokobanEnvOptionsFromConfig(const EnvConfig& env) {
  sokoban::SokobanEnvOptions o;
  o.max_steps = env.max_steps;
  o.max_actions_per_turn = env.max_actions_per_turn;
  o.compact_prompt = env.prompt == "compact";
  o.coordinates = env.coordinates;
  o.step_reward = env.step_reward;
  o.box_on_target_reward = env.box_on_target_reward;
  o.box_off_target_reward = env.box_off_target_reward;
  o.solved_reward = env.solved_reward;
  return o;
}

absl::StatusOr<std::shared_ptr<const sokoban::LevelSet>> BuildLevelSet(const EnvConfig& env) {
  return sokoban::LevelSet::Build(LevelSetOptionsFromConfig(env));
}

}  // namespace skillsd
