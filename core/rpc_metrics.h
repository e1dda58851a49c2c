// gRPC interceptors that count and time every RPC by service, method and status code, on the server side
// (core/server.h installs it) and the client side (core/channel.h), in the process-wide registry of
// core/metrics.h. Naming follows Prometheus conventions (see there). Thread-safe.
#ifndef SKILLSD_CORE_RPC_METRICS_H_
#define SKILLSD_CORE_RPC_METRICS_H_

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
class ClientInterceptorFactoryInterface;
}  // namespace grpc::experimental

namespace skillsd {

// Records skillsd_rpc_server_{started,handled}_total and skillsd_rpc_server_handling_seconds for every call.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeServerMetricsInterceptorFactory();

// Records skillsd_rpc_client_handled_total and skillsd_rpc_client_handling_seconds for every call made.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeClientMetricsInterceptorFactory();

}  // namespace skillsd

#endif  // SKILLSD_CORE_RPC_METRICS_H_
