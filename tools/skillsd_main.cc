// skillsd: the tools binary. Subcommands:
//
//   skillsd health --target=HOST:PORT [--service=NAME] [--timeout_ms=N] [TLS/token flags]
//       gRPC health check; prints the status; exit 0 when SERVING, 1 otherwise, 2 on error.
//   skillsd config [--config=FILE] [--set=k=v,...]
//       validates an experiment config and prints it in full (every key, defaults filled in); exit 2 on error.
//   skillsd version
//       prints the version.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/config.h"
#include "core/flags.h"
#include "core/grpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "health: the server to check, host:port.");
ABSL_FLAG(std::string, service, "", "health: service name to check; empty = the whole server.");
ABSL_FLAG(int, timeout_ms, 5000, "health: deadline of the check.");

namespace skillsd {
namespace {

constexpr char kUsage[] =
    "skillsd <command> [flags]\n"
    "commands:\n"
    "  health   gRPC health check of a server (--target=HOST:PORT)\n"
    "  config   validate and print an experiment config (--config=FILE, --set=k=v)\n"
    "  version  print the version\n";

int Health() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    std::cerr << "skillsd health: --target is required\n";
    return 2;
  }
  auto channel = CreateChannel(target, ChannelOptionsFromFlags(), {DescriptorOf<grpc::health::v1::Health>()});
  if (!channel.ok()) {
    std::cerr << "skillsd health: " << channel.status() << "\n";
    return 2;
  }
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "skillsd health: " << target << ": " << FromGrpcStatus(status) << "\n";
    return 2;
  }
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int Config() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd config: " << config.status().message() << "\n";
    return 2;
  }
  std::cout << ToYaml(*config);
  return 0;
}

}  // namespace
}  // namespace skillsd

int main(int argc, char** argv) {
  std::vector<char*> args = skillsd::ParseFlags(argc, argv, skillsd::kUsage);
  if (args.size() < 2) {
    std::cerr << skillsd::kUsage;
    return 2;
  }
  const std::string command = args[1];
  if (command == "health") return skillsd::Health();
  if (command == "config") return skillsd::Config();
  if (command == "version") {
    std::cout << "skillsd " << SKILLSD_VERSION << "\n";
    return 0;
  }
  std::cerr << "skillsd: unknown command '" << command << "'\n" << skillsd::kUsage;
  return 2;
}
