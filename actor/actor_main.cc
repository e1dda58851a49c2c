// skillsd-actor. Actor: plays episodes with the student policy and submits scored groups.
#include "core/flags.h"
#include "core/service_main.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-actor", "Actor: plays episodes with the student policy and submits scored groups.", skillsd::kActorPort,
       skillsd::kActorMetricsPort},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        // Health, reflection and /metrics only, until this binary's service lands.
        return std::vector<std::unique_ptr<grpc::Service>>();
      });
}
