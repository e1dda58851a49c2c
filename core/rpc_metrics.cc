#include "core/rpc_metrics.h"

#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "core/metrics.h"

namespace skillsd {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

const char* CodeName(int code) {
  if (code < 0 || code >= static_cast<int>(std::size(kCodeNames))) return "UNKNOWN";
  return kCodeNames[code];
}

// "/skillsd.v1.EnvService/Step" -> {"skillsd.v1.EnvService", "Step"}.
std::pair<std::string, std::string> SplitMethod(absl::string_view full) {
  if (!full.empty() && full[0] == '/') full.remove_prefix(1);
  const size_t slash = full.find('/');
  if (slash == absl::string_view::npos) return {std::string(full), ""};
  return {std::string(full.substr(0, slash)), std::string(full.substr(slash + 1))};
}

// Process metrics in the standard names (as client_golang and client_python export them), read from /proc.

struct RpcMetrics {
  prometheus::Family<prometheus::Counter>& server_started;
  prometheus::Family<prometheus::Counter>& server_handled;
  prometheus::Family<prometheus::Histogram>& server_seconds;
  prometheus::Family<prometheus::Counter>& client_handled;
  prometheus::Family<prometheus::Histogram>& client_seconds;

  static RpcMetrics& Get() {
    static RpcMetrics* metrics = new RpcMetrics{
        prometheus::BuildCounter()
            .Name("skillsd_rpc_server_started_total")
            .Help("RPCs started on the server.")
            .Register(MetricsRegistry()),
        prometheus::BuildCounter()
            .Name("skillsd_rpc_server_handled_total")
            .Help("RPCs completed on the server, by status code.")
            .Register(MetricsRegistry()),
        prometheus::BuildHistogram()
            .Name("skillsd_rpc_server_handling_seconds")
            .Help("Time from the start of an RPC to its status, on the server.")
            .Register(MetricsRegistry()),
        prometheus::BuildCounter()
            .Name("skillsd_rpc_client_handled_total")
            .Help("RPCs completed by clients of this process, by status code.")
            .Register(MetricsRegistry()),
        prometheus::BuildHistogram()
            .Name("skillsd_rpc_client_handling_seconds")
            .Help("Time from the start of an RPC to its status, on the client.")
            .Register(MetricsRegistry()),
    };
    return *metrics;
  }
};

class ServerMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ServerMetricsInterceptor(grpc::experimental::ServerRpcInfo* info)
      : start_(std::chrono::steady_clock::now()) {
    std::tie(service_, method_) = SplitMethod(info->method());
    RpcMetrics::Get().server_started.Add({{"grpc_service", service_}, {"grpc_method", method_}}).Increment();
  }

  ~ServerMetricsInterceptor() override {
    // A call cancelled before it sent a status never reaches PRE_SEND_STATUS.
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    RpcMetrics& m = RpcMetrics::Get();
    m.server_handled.Add({{"grpc_service", service_}, {"grpc_method", method_}, {"grpc_code", CodeName(code)}})
        .Increment();
    m.server_seconds.Add({{"grpc_service", service_}, {"grpc_method", method_}}, LatencyBuckets()).Observe(seconds);
  }

  std::chrono::steady_clock::time_point start_;
  std::string service_;
  std::string method_;
  bool recorded_ = false;
};

class ServerMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new ServerMetricsInterceptor(info);
  }
};

class ClientMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ClientMetricsInterceptor(grpc::experimental::ClientRpcInfo* info)
      : start_(std::chrono::steady_clock::now()) {
    std::tie(service_, method_) = SplitMethod(info->method());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      RpcMetrics& m = RpcMetrics::Get();
      m.client_handled
          .Add({{"grpc_service", service_},
                {"grpc_method", method_},
                {"grpc_code", CodeName(status == nullptr ? 2 : status->error_code())}})
          .Increment();
      m.client_seconds.Add({{"grpc_service", service_}, {"grpc_method", method_}}, LatencyBuckets()).Observe(seconds);
    }
    methods->Proceed();
  }

 private:
  std::chrono::steady_clock::time_point start_;
  std::string service_;
  std::string method_;
};

class ClientMetricsFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo* info) override {
    return new ClientMetricsInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeServerMetricsInterceptorFactory() {
  return std::make_unique<ServerMetricsFactory>();
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeClientMetricsInterceptorFactory() {
  return std::make_unique<ClientMetricsFactory>();
}

}  // namespace skillsd
