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

namespace skillsd {

// The process-wide registry every component registers its metrics in. Never null.
prometheus::Registry& MetricsRegistry();

// Exponential latency buckets from 100 µs to ~100 s, for RPC and phase timings.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// Serves the process-wide registry (plus process metrics) over HTTP at /metrics, for the rest of the process's
// life: one registry per process, so one endpoint per process. The first call binds `address` ("0.0.0.0:9100",
// IPv4; port 0 picks a free port); later calls return the same endpoint's port whatever their address, which
// suits tests that start several servers in one process. The endpoint is never stopped (a process has no reason
// to stop serving metrics before it exits), so a drain is not slowed by it. Fails with UNAVAILABLE when it
// cannot bind.
absl::StatusOr<int> StartProcessMetricsServer(const std::string& address);

// Records skillsd_rpc_server_{started,handled}_total and skillsd_rpc_server_handling_seconds for every call.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeServerMetricsInterceptorFactory();

// Records skillsd_rpc_client_handled_total and skillsd_rpc_client_handling_seconds for every call made.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeClientMetricsInterceptorFactory();

}  // namespace skillsd

#endif  // SKILLSD_CORE_METRICS_H_
