// A conformance suite for any implementation of skillsd.v1.EnvService (proto/skillsd/v1/env.proto): what the
// contract promises an actor, checked over gRPC against a running server, whatever language it is written in.
// `skillsd env-check --target=HOST:PORT` runs it and prints the report; docs/environments.md lists the checks.
//
//   ASSIGN_OR_RETURN(auto channel, CreateChannel(target, options, {DescriptorOf<skillsd::v1::EnvService>()}));
//   EnvCheckReport report = RunEnvChecks(channel, {});
//   std::cout << FormatEnvCheckReport(report);
//
// The suite asks only what the contract says; where a behaviour is the environment's own (stochastic steps, how
// answers are parsed, whether there is an oracle) it checks the shape and the bookkeeping, not the values.
#ifndef SKILLSD_TOOLS_ENV_CHECK_H_
#define SKILLSD_TOOLS_ENV_CHECK_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/time/time.h"

namespace skillsd {

struct EnvCheckOptions {
  // Deadline of each call.
  absl::Duration call_deadline = absl::Seconds(10);
  // Sessions driven at once by the concurrency check, one thread each.
  int concurrent_sessions = 16;
  // The server's largest accepted message (our servers' default, --max_message_bytes). The limits check sends
  // one request just over it, so the channel must allow sending at least this + 1 MiB.
  int max_message_bytes = 64 << 20;
};

struct EnvCheckResult {
  std::string name;                   // "spec", "batch", ...
  std::string what;                   // one line: what the check covers
  std::vector<std::string> failures;  // each: what was asked, what came back, what the contract wants
  std::vector<std::string> notes;     // parts skipped, and why
  bool passed() const { return failures.empty(); }
};

struct EnvCheckReport {
  std::string target;
  std::string summary;  // "sokoban: 400 train and 64 test tasks, 4 actions, batches up to 1024", or why not
  std::vector<EnvCheckResult> checks;
  bool passed() const;
};

// Runs every check against the server behind `channel`. Never fails as a call: what the server got wrong is in
// the report. The checks create, step and close their own sessions and close every session they open.
EnvCheckReport RunEnvChecks(const std::shared_ptr<grpc::Channel>& channel, const EnvCheckOptions& options);

// The report as a person reads it: one line per check (PASS/FAIL and what it covers), each failure and note
// under its check, and a last line with the count.
std::string FormatEnvCheckReport(const EnvCheckReport& report);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_ENV_CHECK_H_
