// skillsd-env. Environment workers: hosts Sokoban sessions for actors.
#include "core/flags.h"
#include "core/service_main.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-env", "Environment workers: hosts Sokoban sessions for actors.", skillsd::kEnvPort,
       skillsd::kEnvMetricsPort},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        // Health, reflection and /metrics only, until this binary's service lands.
        return std::vector<std::unique_ptr<grpc::Service>>();
      });
}
