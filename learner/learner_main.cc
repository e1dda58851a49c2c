// skillsd-learner. Learner: trains the policy with Skill-SD and publishes weights.
#include "core/flags.h"
#include "core/service_main.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-learner", "Learner: trains the policy with Skill-SD and publishes weights.", skillsd::kLearnerPort,
       skillsd::kLearnerMetricsPort},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        // Health, reflection and /metrics only, until this binary's service lands.
        return std::vector<std::unique_ptr<grpc::Service>>();
      });
}
