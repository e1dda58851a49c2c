#include "core/server.h"

#include <unistd.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/rpc_metrics.h"
#include "core/signals.h"
#include "core/status.h"

namespace skillsd {
namespace {

// Checks "authorization: Bearer <token>" on every call. Runs inline in gRPC's auth filter.
class TokenAuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(std::string token) : expected_(absl::StrCat("Bearer ", token)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata, OutputMetadata* response_metadata) override {
    auto it = auth_metadata.find("authorization");
    if (it == auth_metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
    }
    const grpc::string_ref& got = it->second;
    // Constant-time comparison, so the token cannot be guessed byte by byte from timings.
    unsigned char diff = got.size() == expected_.size() ? 0 : 1;
    for (size_t i = 0; i < got.size(); ++i) {
      diff |= static_cast<unsigned char>(got.data()[i] ^ expected_[i % expected_.size()]);
    }
    if (diff != 0) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
    consumed_auth_metadata->insert(
        std::make_pair(std::string(it->first.data(), it->first.size()), std::string(got.data(), got.size())));
    return grpc::Status::OK;
  }

 private:
  const std::string expected_;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const ServerOptions& o) {
  const bool tls = !o.tls_cert_file.empty() || !o.tls_key_file.empty();
  if (!tls) {
    if (!o.token_file.empty()) {
      return absl::InvalidArgumentError(
          "token auth (--token_file) needs TLS (--tls_cert_file and --tls_key_file): a bearer token over "
          "plaintext could be read off the wire");
    }
    if (o.tls_require_client_cert || !o.tls_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_ca_file / --tls_require_client_cert need --tls_cert_file and "
          "--tls_key_file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls_cert_file and --tls_key_file");
  }
  if (o.tls_require_client_cert && o.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_require_client_cert needs --tls_ca_file to verify clients");
  }
  grpc::SslServerCredentialsOptions ssl(o.tls_require_client_cert
                                            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(o.tls_cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadFile(o.tls_key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!o.tls_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(o.tls_ca_file));
  }
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(ssl);
  if (creds == nullptr) return absl::InvalidArgumentError("TLS certificate or key is not valid PEM");
  if (!o.token_file.empty()) {
    ASSIGN_OR_RETURN(std::string token, ReadTokenFile(o.token_file));
    creds->SetAuthMetadataProcessor(std::make_shared<TokenAuthProcessor>(std::move(token)));
  }
  return creds;
}

void ApplyCommonArgs(const ServerOptions& o, grpc::ServerBuilder& builder) {
  // gRPC sets SO_REUSEPORT by default: a second process on the same port would silently share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.SetMaxSendMessageSize(o.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, o.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, o.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, o.min_client_ping_interval_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  if (o.max_connection_age_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, o.max_connection_age_ms);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, o.max_connection_age_ms);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const ServerOptions& options,
                                                              const std::vector<grpc::Service*>& services) {
  if (options.max_message_bytes <= 0) return absl::InvalidArgumentError("max_message_bytes must be > 0");
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds, MakeCredentials(options));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<GrpcServer> server(new GrpcServer());
  server->options_ = options;

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, creds, &server->port_);
  ApplyCommonArgs(options, builder);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeServerMetricsInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat(options.name, ": cannot listen on ", options.address));
  }
  if (!options.health_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(), &server->health_port_);
    ApplyCommonArgs(options, health_builder);
    server->health_server_ = health_builder.BuildAndStart();
    if (server->health_server_ == nullptr || server->health_port_ <= 0) {
      server->server_->Shutdown(std::chrono::system_clock::now());
      return absl::UnavailableError(
          absl::StrCat(options.name, ": cannot listen for health checks on ", options.health_address));
    }
  }

  if (!options.metrics_address.empty()) {
    absl::StatusOr<int> metrics = StartProcessMetricsServer(options.metrics_address);
    if (!metrics.ok()) {
      server->server_->Shutdown(std::chrono::system_clock::now());
      if (server->health_server_) server->health_server_->Shutdown(std::chrono::system_clock::now());
      return metrics.status();
    }
    server->metrics_port_ = *metrics;
  }

  if (!options.port_file.empty()) {
    const std::string json =
        absl::StrCat("{\"grpc_port\": ", server->port_, ", \"metrics_port\": ", server->metrics_port(),
                     ", \"health_port\": ", server->health_port_, ", \"pid\": ", ::getpid(), "}\n");
    absl::Status written = WriteFileAtomically(options.port_file, json);
    if (!written.ok()) {
      server->Drain();
      return written;
    }
  }
  server->SetServing(true);
  return server;
}

GrpcServer::~GrpcServer() {
  absl::MutexLock lock(&drain_mu_);
  if (!drained_) {
    const auto now = std::chrono::system_clock::now();
    if (health_server_) health_server_->Shutdown(now);
    if (server_) server_->Shutdown(now);
    drained_ = true;
  }
}

void GrpcServer::SetServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
  if (health_server_) health_server_->GetHealthCheckService()->SetServingStatus(serving);
}

void GrpcServer::Drain() {
  absl::MutexLock lock(&drain_mu_);
  if (drained_) return;
  SKILLSD_LOG(INFO) << options_.name << ": draining (health NOT_SERVING, " << absl::FormatDuration(options_.drain_grace)
                    << " grace, " << absl::FormatDuration(options_.shutdown_deadline) << " for in-flight calls)";
  SetServing(false);
  absl::SleepFor(options_.drain_grace);
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoSeconds(options_.shutdown_deadline);
  server_->Shutdown(deadline);
  server_->Wait();
  if (health_server_) {
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
  drained_ = true;
  SKILLSD_LOG(INFO) << options_.name << ": stopped";
}

void GrpcServer::Wait() { server_->Wait(); }

int ServeUntilSignalled(const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  auto server = GrpcServer::Start(options, services);
  if (!server.ok()) {
    SKILLSD_LOG(ERROR) << options.name << ": " << server.status();
    return 1;
  }
  SKILLSD_LOG(INFO) << options.name << ": serving gRPC on port " << (*server)->port() << ", metrics on port "
                    << (*server)->metrics_port() << ", health-only port " << (*server)->health_port();
  const int signo = WaitForShutdownSignal();
  SKILLSD_LOG(INFO) << options.name << ": received signal " << signo;
  (*server)->Drain();
  return 0;
}

}  // namespace skillsd
