// Command-line flags shared by every skillsd binary: the experiment config, listen ports, TLS and token files,
// message limits, keepalive, drain timings and client deadlines. Each binary parses them with
// absl::ParseCommandLine and turns them into options with the functions below.
//
//   --config=FILE          experiment config (YAML); defaults when empty
//   --set=k=v,k=v          config overrides ("learner.total_steps=5")
//   --host, --port         gRPC listen address (port -1 = the binary's default, 0 = any free port)
//   --metrics_port         /metrics HTTP port (-1 = the binary's default, 0 = any free port); --nometrics: none
//   --health_port          plaintext health-only port for Kubernetes probes (-1 = none)
//   --port_file            write the bound ports there as JSON once listening
//   --tls_cert_file --tls_key_file --tls_ca_file --tls_require_client_cert --tls_server_name --token_file
//   --max_message_bytes --keepalive_time_ms --max_connection_age_ms --drain_grace_ms --shutdown_deadline_ms
//   --rpc_deadline_ms      default deadline of this process's outgoing unary calls
#ifndef SKILLSD_CORE_FLAGS_H_
#define SKILLSD_CORE_FLAGS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "core/channel.h"
#include "core/config.h"
#include "core/server.h"

ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(std::vector<std::string>, set);
ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(bool, metrics);
ABSL_DECLARE_FLAG(int, health_port);
ABSL_DECLARE_FLAG(std::string, port_file);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_ca_file);
ABSL_DECLARE_FLAG(bool, tls_require_client_cert);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(std::string, token_file);
ABSL_DECLARE_FLAG(int, max_message_bytes);
ABSL_DECLARE_FLAG(int, keepalive_time_ms);
ABSL_DECLARE_FLAG(int, max_connection_age_ms);
ABSL_DECLARE_FLAG(int, drain_grace_ms);
ABSL_DECLARE_FLAG(int, shutdown_deadline_ms);
ABSL_DECLARE_FLAG(int, rpc_deadline_ms);

namespace skillsd {

// Default ports of each binary (gRPC, metrics). deploy/ (launcher, Kubernetes, Prometheus) uses the same.
inline constexpr int kEnvPort = 50051, kEnvMetricsPort = 9101;
inline constexpr int kSkillPort = 50052, kSkillMetricsPort = 9102;
inline constexpr int kTeacherPort = 50053, kTeacherMetricsPort = 9103;
inline constexpr int kLearnerPort = 50054, kLearnerMetricsPort = 9104;
inline constexpr int kActorPort = 50055, kActorMetricsPort = 9105;

// Parses argv with Abseil flags (usage message included) and returns the positional arguments.
std::vector<char*> ParseFlags(int argc, char** argv, const char* usage);

// The experiment config from --config and --set (defaults when --config is empty).
absl::StatusOr<ExperimentConfig> ConfigFromFlags();

// Server options of a binary named `name` whose defaults are `default_port` and `default_metrics_port`.
ServerOptions ServerOptionsFromFlags(const std::string& name, int default_port, int default_metrics_port);

// Options for channels this process opens (TLS and token files are shared with the server flags: one
// certificate per process serves both directions).
ChannelOptions ChannelOptionsFromFlags();

}  // namespace skillsd

#endif  // SKILLSD_CORE_FLAGS_H_
