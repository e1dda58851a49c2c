#include "core/channel.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/file_util.h"
#include "core/logging.h"
#include "core/rpc_metrics.h"
#include "core/status.h"
#include "skillsd/v1/options.pb.h"

namespace skillsd {
namespace {

std::string DurationJson(absl::Duration d) { return absl::StrCat("\"", absl::ToDoubleSeconds(d), "s\""); }

}  // namespace

std::string ServiceConfigJson(const std::vector<const google::protobuf::ServiceDescriptor*>& services,
                              const ChannelOptions& options) {
  std::vector<std::string> idempotent;
  std::vector<std::string> unary;
  for (const google::protobuf::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      const std::string name =
          absl::StrCat("{\"service\": \"", service->full_name(), "\", \"method\": \"", method->name(), "\"}");
      if (method->client_streaming() || method->server_streaming()) continue;
      if (method->options().GetExtension(skillsd::v1::idempotent)) {
        idempotent.push_back(name);
      } else {
        unary.push_back(name);
      }
    }
  }
  std::vector<std::string> configs;
  if (!idempotent.empty()) {
    std::string retry;
    if (options.max_attempts > 1) {
      retry = absl::StrCat(", \"retryPolicy\": {\"maxAttempts\": ", std::min(options.max_attempts, 5),
                           ", \"initialBackoff\": ", DurationJson(options.initial_backoff),
                           ", \"maxBackoff\": ", DurationJson(options.max_backoff),
                           ", \"backoffMultiplier\": 2, \"retryableStatusCodes\": [\"UNAVAILABLE\"]}");
    }
    configs.push_back(absl::StrCat("{\"name\": [", absl::StrJoin(idempotent, ", "),
                                   "], \"timeout\": ", DurationJson(options.default_deadline), retry, "}"));
  }
  if (!unary.empty()) {
    configs.push_back(absl::StrCat("{\"name\": [", absl::StrJoin(unary, ", "),
                                   "], \"timeout\": ", DurationJson(options.default_deadline), "}"));
  }
  return absl::StrCat("{\"methodConfig\": [", absl::StrJoin(configs, ", "), "]}");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const std::string& target, const ChannelOptions& options,
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_ca_file.empty()) {
    if (!options.token_file.empty()) {
      return absl::InvalidArgumentError("a bearer token (--token_file) needs TLS (--tls_ca_file)");
    }
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs TLS (--tls_ca_file)");
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options.tls_ca_file));
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs both --tls_cert_file and --tls_key_file");
    }
    if (!options.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options.tls_cert_file));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options.tls_key_file));
    }
    creds = grpc::SslCredentials(ssl);
    if (!options.token_file.empty()) {
      ASSIGN_OR_RETURN(std::string token, ReadTokenFile(options.token_file));
      creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(token));
    }
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_time_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  args.SetServiceConfigJSON(ServiceConfigJson(services, options));
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeClientMetricsInterceptorFactory());
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, creds, args, std::move(interceptors));
}

const google::protobuf::ServiceDescriptor* ServiceDescriptorByName(const std::string& full_name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
  if (service == nullptr) {
    SKILLSD_LOG(FATAL) << "service " << full_name << " is not linked into this binary";
  }
  return service;
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

}  // namespace skillsd
