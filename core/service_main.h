// The body of every service binary's main: block shutdown signals, parse flags, load the experiment config,
// build the services, serve them on the shared skeleton until SIGTERM/SIGINT, drain, exit.
//
//   int main(int argc, char** argv) {
//     return skillsd::ServiceMain(argc, argv, {"skillsd-env", "Environment workers ...", kEnvPort,
//                                              kEnvMetricsPort},
//                                 [](const skillsd::ExperimentConfig& config) { return MakeEnvServices(config); });
//   }
#ifndef SKILLSD_CORE_SERVICE_MAIN_H_
#define SKILLSD_CORE_SERVICE_MAIN_H_

#include <functional>
#include <memory>
#include <vector>

#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "core/config.h"

namespace skillsd {

struct BinaryInfo {
  const char* name;         // "skillsd-env"
  const char* description;  // one line for --help
  int default_port;
  int default_metrics_port;
};

// Builds the services a binary serves, from the validated config. A failure is logged and ends the process
// with exit code 2 before anything listens.
using ServiceFactory =
    std::function<absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>>(const ExperimentConfig&)>;

// Returns the process exit code: 0 after a clean drain, 1 when the server cannot start, 2 on bad flags/config.
int ServiceMain(int argc, char** argv, const BinaryInfo& info, const ServiceFactory& make_services);

}  // namespace skillsd

#endif  // SKILLSD_CORE_SERVICE_MAIN_H_
