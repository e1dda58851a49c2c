#include "core/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>
#include "absl/strings/string_view.h"

#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/logging.h"

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
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    const long ticks = sysconf(_SC_CLK_TCK);
    const long page = sysconf(_SC_PAGESIZE);
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) start at field 3.
    const size_t close = stat.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream rest(stat.substr(close + 2));
      std::vector<std::string> f{"", ""};  // fields 1 (pid) and 2 (comm) skipped; f[n - 1] is field n
      std::string token;
      while (rest >> token) f.push_back(token);
      auto field = [&](size_t n) -> double { return n - 1 < f.size() ? std::atof(f[n - 1].c_str()) : 0.0; };
      const double cpu = (field(14) + field(15)) / ticks;
      families.push_back(Gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu,
                               prometheus::MetricType::Counter));
      families.push_back(Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23)));
      families.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", field(24) * page));
      families.push_back(Gauge("skillsd_process_threads", "Threads of the process.", field(20)));
      families.push_back(Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                               BootTime() + field(22) / ticks));
    }
    families.push_back(Gauge("process_open_fds", "Number of open file descriptors.", OpenFds()));
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      families.push_back(
          Gauge("process_max_fds", "Maximum number of open file descriptors.", static_cast<double>(limit.rlim_cur)));
    }
    return families;
  }

 private:
  static prometheus::MetricFamily Gauge(const std::string& name, const std::string& help, double value,
                                        prometheus::MetricType type = prometheus::MetricType::Gauge) {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(metric);
    return family;
  }

  static double BootTime() {
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
      if (key == "btime") {
        double value = 0;
        in >> value;
        return value;
      }
      in.ignore(1 << 20, '\n');
    }
    return 0;
  }

  static double OpenFds() {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return 0;
    int count = 0;
    while (struct dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    return count - 1;  // the descriptor of the directory being read
  }
};

// The RPC metric families, created once.
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

prometheus::Registry& MetricsRegistry() {
  static prometheus::Registry* registry = new prometheus::Registry();
  return *registry;
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries bounds;
  for (double b = 1e-4; b < 150; b *= 2.5) bounds.push_back(b);
  return bounds;
}

absl::StatusOr<int> StartProcessMetricsServer(const std::string& address) {
  static absl::Mutex mu(absl::kConstInit);
  static prometheus::Exposer* exposer ABSL_GUARDED_BY(mu) = nullptr;
  absl::MutexLock lock(&mu);
  if (exposer == nullptr) {
    try {
      exposer = new prometheus::Exposer(address, /*num_threads=*/2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("metrics server cannot listen on ", address, ": ", e.what()));
    }
    // The exposer holds collectables by weak_ptr, so they must stay owned for the process's life. The registry
    // is a never-destroyed singleton, hence the no-op deleter.
    static auto* registry = new std::shared_ptr<prometheus::Registry>(&MetricsRegistry(), [](auto*) {});
    static auto* process = new std::shared_ptr<ProcessCollector>(std::make_shared<ProcessCollector>());
    exposer->RegisterCollectable(*registry);
    exposer->RegisterCollectable(*process);
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError(absl::StrCat("metrics server has no port on ", address));
  return ports[0];
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeServerMetricsInterceptorFactory() {
  return std::make_unique<ServerMetricsFactory>();
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeClientMetricsInterceptorFactory() {
  return std::make_unique<ClientMetricsFactory>();
}

}  // namespace skillsd
