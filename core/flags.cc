#include "core/flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, config, "", "Experiment config (YAML). Empty: built-in defaults.");
ABSL_FLAG(std::vector<std::string>, set, {},
          "Comma-separated config overrides, section.key=value (e.g. learner.total_steps=5).");
ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, -1, "gRPC port; -1 = this binary's default, 0 = any free port.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; -1 = this binary's default, 0 = any free port.");
ABSL_FLAG(bool, metrics, true, "Serve Prometheus /metrics.");
ABSL_FLAG(int, health_port, -1, "Plaintext port serving only gRPC health checks (for probes); -1 = none.");
ABSL_FLAG(std::string, port_file, "", "Write the bound ports here (JSON) once listening.");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate chain of this process (server, and client for mTLS).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA bundle: verifies servers this process calls, and clients when --tls_require_client_cert.");
ABSL_FLAG(bool, tls_require_client_cert, false, "Mutual TLS: refuse clients without a certificate from the CA.");
ABSL_FLAG(std::string, tls_server_name, "", "Expected name in servers' certificates, when not the target host.");
ABSL_FLAG(std::string, token_file, "", "Bearer token file: required from clients, sent to servers. Needs TLS.");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "Largest gRPC message sent or received.");
ABSL_FLAG(int, keepalive_time_ms, 20000, "Keepalive ping interval.");
ABSL_FLAG(int, max_connection_age_ms, 0, "Close server connections after this age (client rebalancing); 0 = never.");
ABSL_FLAG(int, drain_grace_ms, 500, "On SIGTERM: time in NOT_SERVING before refusing new calls.");
ABSL_FLAG(int, shutdown_deadline_ms, 20000, "On SIGTERM: time in-flight calls get to finish.");
ABSL_FLAG(int, rpc_deadline_ms, 30000, "Default deadline of outgoing unary calls.");

namespace skillsd {

std::vector<char*> ParseFlags(int argc, char** argv, const char* usage) {
  absl::SetProgramUsageMessage(usage);
  return absl::ParseCommandLine(argc, argv);
}

absl::StatusOr<ExperimentConfig> ConfigFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_config);
  const std::vector<std::string> overrides = absl::GetFlag(FLAGS_set);
  if (path.empty()) return ParseConfig("", "<defaults>", overrides);
  return LoadConfig(path, overrides);
}

ServerOptions ServerOptionsFromFlags(const std::string& name, int default_port, int default_metrics_port) {
  ServerOptions o;
  o.name = name;
  const std::string host = absl::GetFlag(FLAGS_host);
  const int port = absl::GetFlag(FLAGS_port);
  o.address = absl::StrCat(host, ":", port < 0 ? default_port : port);
  if (absl::GetFlag(FLAGS_metrics)) {
    const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
    o.metrics_address = absl::StrCat(host, ":", metrics_port < 0 ? default_metrics_port : metrics_port);
  }
  const int health_port = absl::GetFlag(FLAGS_health_port);
  if (health_port >= 0) o.health_address = absl::StrCat(host, ":", health_port);
  o.port_file = absl::GetFlag(FLAGS_port_file);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  o.tls_require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  o.token_file = absl::GetFlag(FLAGS_token_file);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.keepalive_time_ms = absl::GetFlag(FLAGS_keepalive_time_ms);
  o.max_connection_age_ms = absl::GetFlag(FLAGS_max_connection_age_ms);
  o.drain_grace = absl::Milliseconds(absl::GetFlag(FLAGS_drain_grace_ms));
  o.shutdown_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_deadline_ms));
  return o;
}

ChannelOptions ChannelOptionsFromFlags() {
  ChannelOptions o;
  o.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.token_file = absl::GetFlag(FLAGS_token_file);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.keepalive_time_ms = absl::GetFlag(FLAGS_keepalive_time_ms);
  o.default_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_rpc_deadline_ms));
  return o;
}

}  // namespace skillsd
