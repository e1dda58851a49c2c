#include "core/service_main.h"

#include "absl/strings/str_cat.h"
#include "core/flags.h"
#include "core/logging.h"
#include "core/server.h"
#include "core/signals.h"

namespace skillsd {

int ServiceMain(int argc, char** argv, const BinaryInfo& info, const ServiceFactory& make_services) {
  BlockShutdownSignals();
  const std::string usage = absl::StrCat(info.name, " [flags]: ", info.description);
  std::vector<char*> positional = ParseFlags(argc, argv, usage.c_str());
  if (positional.size() > 1) {
    SKILLSD_LOG(ERROR) << info.name << ": unexpected argument '" << positional[1] << "' (see --help)";
    return 2;
  }
  absl::StatusOr<ExperimentConfig> config = ConfigFromFlags();
  if (!config.ok()) {
    SKILLSD_LOG(ERROR) << info.name << ": " << config.status();
    return 2;
  }
  absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> services = make_services(*config);
  if (!services.ok()) {
    SKILLSD_LOG(ERROR) << info.name << ": " << services.status();
    return 2;
  }
  std::vector<grpc::Service*> raw;
  for (const auto& service : *services) raw.push_back(service.get());
  return ServeUntilSignalled(ServerOptionsFromFlags(info.name, info.default_port, info.default_metrics_port), raw);
}

}  // namespace skillsd
