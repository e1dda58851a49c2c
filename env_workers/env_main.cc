// skillsd-env: environment workers. Hosts Sokoban sessions (create/reset by split and index or by seed, step,
// batched step, close; idle sessions expire) on the shared server skeleton.
#include "absl/flags/flag.h"
#include "core/flags.h"
#include "core/logging.h"
#include "core/service_main.h"
#include "env_workers/env_config.h"
#include "env_workers/env_service.h"

ABSL_FLAG(int, max_sessions, 4096, "Most open sessions; CreateSession beyond gets RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, session_idle_seconds, 600, "Sessions unused this long are closed.");
ABSL_FLAG(int, max_batch_size, 1024, "Largest BatchStep accepted.");

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-env", "Environment workers: hosts Sokoban sessions for actors.", skillsd::kEnvPort,
       skillsd::kEnvMetricsPort},
      [](const skillsd::ExperimentConfig& config) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        auto levels = skillsd::BuildLevelSet(config.env);
        if (!levels.ok()) return levels.status();
        SKILLSD_LOG(INFO) << "skillsd-env: " << (*levels)->levels(skillsd::Split::kTrain).size() << " train and "
                          << (*levels)->levels(skillsd::Split::kTest).size() << " test levels, fingerprint " << std::hex
                          << (*levels)->Fingerprint();
        const skillsd::sokoban::SokobanEnvOptions env_options = skillsd::SokobanEnvOptionsFromConfig(config.env);
        skillsd::EnvServiceOptions options;
        options.max_sessions = absl::GetFlag(FLAGS_max_sessions);
        options.idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_session_idle_seconds));
        options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::make_unique<skillsd::EnvServiceImpl>(
            [levels = *levels, env_options] {
              return std::make_unique<skillsd::sokoban::SokobanEnv>(levels, env_options);
            },
            options));
        return services;
      });
}
