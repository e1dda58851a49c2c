// skillsd-skill. Skill service: summarises trajectories into skills, keeps the per-task bank, selects skills by UCB1.
#include "core/flags.h"
#include "core/service_main.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-skill",
       "Skill service: summarises trajectories into skills, keeps the per-task bank, selects skills by UCB1.",
       skillsd::kSkillPort, skillsd::kSkillMetricsPort},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        // Health, reflection and /metrics only, until this binary's service lands.
        return std::vector<std::unique_ptr<grpc::Service>>();
      });
}
