#include "core/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>
#include "absl/strings/string_view.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/logging.h"

namespace skillsd {
namespace {

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

namespace {

// GET /metrics over libmicrohttpd: one internal thread polls every connection, so a slow or half-open client
// never holds up a scrape. A connection idle for kIdleTimeoutS seconds is closed, at most kMaxConnections are open
// at once (further ones are refused until one closes), and a request with a body or a header block over 16 KiB is
// refused. (prometheus-cpp's civetweb exposer fails to start in processes that link Debian's LibTorch.)
class MetricsHttpServer {
 public:
  static constexpr unsigned kIdleTimeoutS = 3;  // well inside Prometheus's 10 s scrape timeout
  static constexpr unsigned kMaxConnections = 64;

  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address) {
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad metrics address '", address, "'"));
    }
    std::string host = address.substr(0, colon);
    if (host.empty() || host == "*") host = "0.0.0.0";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("metrics address '", address, "': not an IPv4 address"));
    }
    MHD_Daemon* daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, static_cast<uint16_t>(port), nullptr, nullptr, &Handle, nullptr,
        MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutS,
        MHD_OPTION_CONNECTION_LIMIT, kMaxConnections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(32 << 10),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 64u, MHD_OPTION_END);
    if (daemon == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("metrics server cannot listen on ", address, ": ", std::strerror(errno)));
    }
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(daemon, info == nullptr ? port : info->port));
  }

  int port() const { return port_; }

 private:
  MetricsHttpServer(MHD_Daemon* daemon, int port) : daemon_(daemon), port_(port) {}

  static MHD_Result Reply(MHD_Connection* connection, unsigned int code, const std::string& body) {
    MHD_Response* response =
        MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            code == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
    const MHD_Result queued = MHD_queue_response(connection, code, response);
    MHD_destroy_response(response);
    return queued;
  }

  // Called once the headers are in (and again for each piece of a body, which no valid request has).
  static MHD_Result Handle(void*, MHD_Connection* connection, const char* url, const char* method, const char*,
                           const char*, size_t* upload_data_size, void** request_state) {
    if (*upload_data_size != 0) return MHD_NO;  // a body: close the connection
    if (*request_state == nullptr) {            // the first call of a request: wait for the end of any body
      static int marker;
      *request_state = &marker;
      return MHD_YES;
    }
    if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
      return Reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    }
    if (std::strcmp(url, "/metrics") != 0) return Reply(connection, MHD_HTTP_NOT_FOUND, "not found\n");
    std::vector<prometheus::MetricFamily> families = MetricsRegistry().Collect();
    for (auto& f : ProcessCollector().Collect()) families.push_back(std::move(f));
    return Reply(connection, MHD_HTTP_OK, prometheus::TextSerializer().Serialize(families));
  }

  MHD_Daemon* daemon_;  // never stopped: serves for the life of the process
  int port_;
};

}  // namespace

absl::StatusOr<int> StartProcessMetricsServer(const std::string& address) {
  static absl::Mutex mu(absl::kConstInit);
  // Lives for the rest of the process (never destroyed, never stopped).
  static MetricsHttpServer* server ABSL_GUARDED_BY(mu) = nullptr;
  absl::MutexLock lock(&mu);
  if (server == nullptr) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started = MetricsHttpServer::Start(address);
    if (!started.ok()) return started.status();
    server = started->release();
  }
  return server->port();
}

}  // namespace skillsd
