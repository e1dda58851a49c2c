// skillsd-teacher. Teacher: scores student tokens under skill-conditioned prompts.
#include "core/flags.h"
#include "core/service_main.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-teacher", "Teacher: scores student tokens under skill-conditioned prompts.", skillsd::kTeacherPort,
       skillsd::kTeacherMetricsPort},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        // Health, reflection and /metrics only, until this binary's service lands.
        return std::vector<std::unique_ptr<grpc::Service>>();
      });
}
