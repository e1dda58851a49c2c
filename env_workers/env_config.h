// Builds the Sokoban level set and env options from the experiment config, so every process (env workers,
// the learner's curriculum, tools) derives the same levels from the same file.
#ifndef SKILLSD_ENV_WORKERS_ENV_CONFIG_H_
#define SKILLSD_ENV_WORKERS_ENV_CONFIG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "env_workers/levels.h"
#include "env_workers/sokoban_env.h"

namespace skillsd {

sokoban::LevelSetOptions LevelSetOptionsFromConfig(const EnvConfig& env);
sokoban::SokobanEnvOptions SokobanEnvOptionsFromConfig(const EnvConfig& env);

// Generates the splits of `env` (a fraction of a second for the default 96 + 64 levels).
absl::StatusOr<std::shared_ptr<const sokoban::LevelSet>> BuildLevelSet(const EnvConfig& env);

}  // namespace skillsd

#endif  // SKILLSD_ENV_WORKERS_ENV_CONFIG_H_
