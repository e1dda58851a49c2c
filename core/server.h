// The one gRPC server skeleton every skillsd service runs on:
//   - gRPC health service (grpc.health.v1) and server reflection (v1alpha, as gRPC 1.51 ships it);
//   - keepalive and message-size limits from options (oversize messages get RESOURCE_EXHAUSTED);
//   - TLS, or mutual TLS (clients without a certificate signed by the CA are refused), from PEM files;
//   - bearer-token auth from a token file (missing or wrong token: UNAUTHENTICATED); needs TLS, since a token
//     over plaintext could be read off the wire;
//   - Prometheus /metrics on its own HTTP port, with per-RPC counters and latency histograms;
//   - an optional plaintext port serving only health checks, for Kubernetes gRPC probes (which speak neither
//     TLS nor tokens);
//   - graceful drain: health NOT_SERVING, a grace period for load balancers to notice, then stop accepting,
//     let in-flight calls finish until the shutdown deadline, cancel the rest.
//
//   BlockShutdownSignals();                       // first thing in main
//   ASSIGN_OR_RETURN(auto server, GrpcServer::Start(options, {&my_service}));
//   WaitForShutdownSignal();
//   server->Drain();
#ifndef SKILLSD_CORE_SERVER_H_
#define SKILLSD_CORE_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace skillsd {

struct ServerOptions {
  // Process name for logs ("skillsd-env").
  std::string name = "skillsd";
  // gRPC listen address, "host:port"; port 0 picks a free port (see GrpcServer::port()).
  std::string address = "0.0.0.0:0";
  // /metrics listen address; empty = no metrics endpoint.
  std::string metrics_address;
  // Plaintext health-only listen address; empty = none.
  std::string health_address;
  // Largest message accepted or sent, bytes.
  int max_message_bytes = 64 << 20;
  // Server keepalive pings (detects dead clients) and the fastest client ping rate it tolerates.
  int keepalive_time_ms = 30000;
  int keepalive_timeout_ms = 10000;
  int min_client_ping_interval_ms = 5000;
  // Close connections after this age so clients rebalance across replicas behind a Service; 0 = never.
  int max_connection_age_ms = 0;
  // TLS: PEM files. cert+key enable TLS; ca + require_client_cert enable mutual TLS.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  bool tls_require_client_cert = false;
  // Bearer token file (its first line is the token); empty = no token auth.
  std::string token_file;
  // Drain: time in NOT_SERVING before refusing new calls, then the deadline for in-flight calls.
  absl::Duration drain_grace = absl::Milliseconds(500);
  absl::Duration shutdown_deadline = absl::Seconds(20);
  // When set, {"grpc_port":..,"metrics_port":..,"health_port":..,"pid":..} is written here (atomically) once
  // the server listens, so launchers and tests can use port 0.
  std::string port_file;
};

// A running gRPC server. Thread-safe.
class GrpcServer {
 public:
  // Builds and starts the server with `services` (not owned; they must outlive the server). Fails with a clear
  // status on unreadable TLS/token files, inconsistent options, or a port that cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const ServerOptions& options,
                                                           const std::vector<grpc::Service*>& services);
  // Shuts down immediately (deadline now) if Drain() was not called.
  ~GrpcServer();

  int port() const { return port_; }
  // -1 when there is no metrics endpoint / health port.
  int metrics_port() const { return metrics_port_; }
  int health_port() const { return health_port_; }

  // Sets the health status of the server and of every registered service.
  void SetServing(bool serving);

  // Graceful drain as described above. Blocks until the server has stopped. Idempotent; thread-safe.
  void Drain();

  // Blocks until the server has stopped (after Drain() from another thread).
  void Wait();

 private:
  GrpcServer() = default;

  ServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  int port_ = -1;
  int health_port_ = -1;
  int metrics_port_ = -1;
  absl::Mutex drain_mu_;
  bool drained_ ABSL_GUARDED_BY(drain_mu_) = false;
};

// What a service binary's main does after building its services: starts the server, logs where it listens,
// waits for SIGTERM/SIGINT, drains and returns the exit code (0 on a clean drain). BlockShutdownSignals() must
// have been called first.
int ServeUntilSignalled(const ServerOptions& options, const std::vector<grpc::Service*>& services);

}  // namespace skillsd

#endif  // SKILLSD_CORE_SERVER_H_
