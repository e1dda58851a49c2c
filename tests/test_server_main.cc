// skillsd-test-server: the shared server skeleton serving TestEnvService, so tests can exercise a real process
// (SIGTERM drain, port files). Test-only; not installed.
#include "core/flags.h"
#include "core/service_main.h"
#include "tests/test_service.h"

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv, {"skillsd-test-server", "test server", 0, 0},
      [](const skillsd::ExperimentConfig&) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::make_unique<skillsd::testing::TestEnvService>());
        return services;
      });
}
