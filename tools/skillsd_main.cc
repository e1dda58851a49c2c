// skillsd: the tools binary. Subcommands:
//
//   skillsd health --target=HOST:PORT [--service=NAME] [--timeout_ms=N] [TLS/token flags]
//       gRPC health check; prints the status; exit 0 when SERVING, 1 otherwise, 2 on error.
//   skillsd config [--config=FILE] [--set=k=v,...]
//       validates an experiment config and prints it in full (every key, defaults filled in); exit 2 on error.
//   skillsd levels --split=train|test [--format=json|text] [--config=FILE]
//       prints the levels of a split: one JSON object a line (id, index, seed, grid, optimal length, optimal
//       actions), or the grids as text.
//   skillsd levels --stats [--episodes=N] [--config=FILE]
//       prints each split's optimal-length histogram and the solve rate of a uniformly random policy.
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
#include "core/json.h"
#include "env_workers/env_config.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "", "health: the server to check, host:port.");
ABSL_FLAG(std::string, service, "", "health: service name to check; empty = the whole server.");
ABSL_FLAG(int, timeout_ms, 5000, "health: deadline of the check.");
ABSL_FLAG(std::string, split, "train", "levels: train or test.");
ABSL_FLAG(std::string, format, "json", "levels: json (one object a line) or text.");
ABSL_FLAG(bool, stats, false, "levels: print length histograms and the random-policy solve rate instead.");
ABSL_FLAG(int, episodes, 200, "levels --stats: random-policy episodes per level.");

namespace skillsd {
namespace {

constexpr char kUsage[] =
    "skillsd <command> [flags]\n"
    "commands:\n"
    "  health   gRPC health check of a server (--target=HOST:PORT)\n"
    "  config   validate and print an experiment config (--config=FILE, --set=k=v)\n"
    "  levels   print the Sokoban levels of a split (--split, --format) or their statistics (--stats)\n"
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

int Levels() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd levels: " << config.status().message() << "\n";
    return 2;
  }
  auto levels = BuildLevelSet(config->env);
  if (!levels.ok()) {
    std::cerr << "skillsd levels: " << levels.status() << "\n";
    return 1;
  }
  using sokoban::Split;
  if (absl::GetFlag(FLAGS_stats)) {
    std::cout << "fingerprint 0x" << std::hex << (*levels)->Fingerprint() << std::dec << "\n";
    for (Split split : {Split::kTrain, Split::kTest}) {
      const auto& list = (*levels)->levels(split);
      const sokoban::LevelStats stats =
          sokoban::ComputeLevelStats(list, absl::GetFlag(FLAGS_episodes), config->env.max_steps, 1);
      std::cout << sokoban::SplitName(split) << ": " << list.size() << " levels, mean optimal length "
                << stats.mean_optimal_length << " moves\n  optimal length histogram:";
      for (size_t n = 0; n < stats.length_histogram.size(); ++n) {
        if (stats.length_histogram[n] > 0) std::cout << " " << n << ":" << stats.length_histogram[n];
      }
      std::cout << "\n  random policy: " << stats.solved << " of " << stats.episodes << " episodes solved ("
                << 100.0 * stats.random_solve_rate() << "%) within " << config->env.max_steps << " steps\n";
    }
    return 0;
  }
  auto split = sokoban::ParseSplit(absl::GetFlag(FLAGS_split));
  if (!split.ok() || *split == Split::kProcedural) {
    std::cerr << "skillsd levels: --split must be train or test\n";
    return 2;
  }
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "json" && format != "text") {
    std::cerr << "skillsd levels: --format must be json or text\n";
    return 2;
  }
  const auto& list = (*levels)->levels(*split);
  for (size_t i = 0; i < list.size(); ++i) {
    const sokoban::Level& level = list[i];
    const std::string id = sokoban::TaskId(*split, static_cast<int>(i), level.seed);
    if (format == "text") {
      std::cout << id << " (optimal " << level.optimal_length << ": " << level.OptimalActionString() << ")\n"
                << level.Grid() << "\n\n";
      continue;
    }
    std::string actions;
    for (size_t k = 0; k < level.optimal_actions.size(); ++k) {
      actions += absl::StrCat(k ? ", " : "", "\"", sokoban::ActionName(level.optimal_actions[k]), "\"");
    }
    std::cout << "{\"id\": " << JsonQuote(id) << ", \"index\": " << i << ", \"seed\": " << level.seed
              << ", \"grid\": " << JsonQuote(level.Grid()) << ", \"optimal_length\": " << level.optimal_length
              << ", \"optimal_actions\": [" << actions << "]}\n";
  }
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
  if (command == "levels") return skillsd::Levels();
  if (command == "version") {
    std::cout << "skillsd " << SKILLSD_VERSION << "\n";
    return 0;
  }
  std::cerr << "skillsd: unknown command '" << command << "'\n" << skillsd::kUsage;
  return 2;
}
