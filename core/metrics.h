// Prometheus metrics for every process: one process-wide registry, an HTTP exposer serving /metrics, process
// metrics (CPU, memory, file descriptors, threads, start time), and gRPC interceptors that count every RPC and
// time it, by service, method and code, on the server and the client side.
//
// Naming follows Prometheus conventions: base units (_seconds, _bytes), counters end in _total, histograms
// rather than summaries, bounded label values (gRPC method names and status codes only).
//
// Thread-safe.
#ifndef SKILLSD_CORE_METRICS_H_
#define SKILLSD_CORE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
class ClientInterceptorFactoryInterface;
}  // namespace grpc::experimental

namespace prometheus {
class Exposer;
}

namespace skillsd {

// The process-wide registry every component registers its metrics in. Never null.
prometheus::Registry& MetricsRegistry();

// Exponential latency buckets from 100 µs to ~100 s, for RPC and phase timings.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// Serves the process-wide registry (plus process metrics) over HTTP at /metrics.
class MetricsServer {
 public:
  // Binds `address` ("0.0.0.0:9100"; port 0 picks a free port). Fails with UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address);
  ~MetricsServer();

  // The bound port.
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

// Records skillsd_rpc_server_{started,handled}_total and skillsd_rpc_server_handling_seconds for every call.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeServerMetricsInterceptorFactory();

// Records skillsd_rpc_client_handled_total and skillsd_rpc_client_handling_seconds for every call made.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeClientMetricsInterceptorFactory();

}  // namespace skillsd

#endif  // SKILLSD_CORE_METRICS_H_
