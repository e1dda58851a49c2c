// Weight publishing throughput on loopback, as a fraction of raw gRPC streaming bandwidth measured in the same
// run: "raw" reads the chunks of a snapshot and drops them; "publish" is the whole path — the learner's snapshot
// (copy + CRC32C), the stream, reassembly with checksum verification, and the install into a model — to 1 and to
// 3 subscribers at once.
//   build/bin/weights_benchmark [--hidden 512] [--layers 4]
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/logging.h"
#include "core/server.h"
#include "skillsd/v1/weights.grpc.pb.h"
#include "weights/model_snapshot.h"
#include "weights/publisher.h"
#include "weights/subscriber.h"
#include "weights/weights_service.h"

namespace {

using namespace skillsd;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int Arg(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  logging::SetMinSeverity(logging::Severity::kWarning);
  torch::set_num_threads(2);
  model::ModelConfig c;
  c.vocab_size = 387;
  c.hidden_size = Arg(argc, argv, "hidden", 512);
  c.intermediate_size = 3 * c.hidden_size;
  c.num_hidden_layers = Arg(argc, argv, "layers", 4);
  c.num_attention_heads = 8;
  c.num_key_value_heads = 4;
  c.head_dim = c.hidden_size / 8;
  c.tie_word_embeddings = true;
  model::CausalLM learner = model::RandomModel(c, 1);

  weights::WeightsPublisher publisher(1, false);
  weights::WeightsServiceImpl service(&publisher, 1 << 20);
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.drain_grace = absl::ZeroDuration();
  options.max_message_bytes = 8 << 20;
  auto server = GrpcServer::Start(options, {&service});
  SKILLSD_CHECK(server.ok()) << server.status();
  const std::string target = absl::StrCat("127.0.0.1:", (*server)->port());
  ChannelOptions channel_options;
  channel_options.max_message_bytes = 8 << 20;

  // Raw: a subscriber that reads the chunks of each version and drops them.
  int64_t version = 0;
  auto publish = [&]() -> int64_t {
    auto snapshot = weights::SnapshotFromModel(*learner, version, skillsd::v1::DTYPE_F32);
    SKILLSD_CHECK(snapshot.ok());
    const int64_t bytes = snapshot->total_bytes();
    publisher.Publish(std::make_shared<weights::Snapshot>(std::move(snapshot).value()));
    ++version;
    return bytes;
  };
  const int rounds = 5;
  // Raw streaming to `readers` concurrent readers: MB/s per reader.
  auto raw = [&](int readers) {
    struct Reader {
      std::unique_ptr<skillsd::v1::WeightsService::Stub> stub;
      grpc::ClientContext context;
      std::unique_ptr<grpc::ClientReader<skillsd::v1::WeightsChunk>> reader;
    };
    std::vector<std::unique_ptr<Reader>> rs;
    for (int i = 0; i < readers; ++i) {
      auto r = std::make_unique<Reader>();
      r->stub = skillsd::v1::WeightsService::NewStub(
          *CreateChannel(target, channel_options, {DescriptorOf<skillsd::v1::WeightsService>()}));
      skillsd::v1::SubscribeRequest request;
      request.set_role(skillsd::v1::SUBSCRIBER_ROLE_ACTOR);
      request.set_have_version(version - 1);
      r->reader = r->stub->Subscribe(&r->context, request);
      rs.push_back(std::move(r));
    }
    auto drain_one_version = [&] {
      std::vector<std::thread> threads;
      for (auto& r : rs) {
        threads.emplace_back([&r] {
          skillsd::v1::WeightsChunk chunk;
          while (r->reader->Read(&chunk) && !chunk.has_end()) {
          }
        });
      }
      for (auto& t : threads) t.join();
    };
    publish();  // warm-up version
    drain_one_version();
    double seconds = 0;
    int64_t bytes = 0;
    for (int r = 0; r < rounds; ++r) {
      const int64_t size = publish();
      const auto start = Clock::now();
      drain_one_version();
      seconds += Since(start);
      bytes += size;
    }
    for (auto& r : rs) {
      r->context.TryCancel();
      r->reader->Finish();
    }
    return bytes / seconds / 1e6;
  };
  const double raw_1 = raw(1), raw_3 = raw(3);
  std::cout << "model: " << c.NumParameters() / 1e6 << " M parameters, snapshot " << c.NumParameters() * 4 / 1e6
            << " MB (fp32)\n";
  std::cout << "raw gRPC streaming: " << raw_1 << " MB/s to 1 reader, " << raw_3 << " MB/s per reader to 3\n";

  for (int subscribers : {1, 3}) {
    std::vector<std::unique_ptr<weights::ModelHolder>> holders;
    std::vector<std::unique_ptr<weights::WeightsSubscriber>> subs;
    for (int s = 0; s < subscribers; ++s) {
      holders.push_back(std::make_unique<weights::ModelHolder>(model::RandomModel(c, 10 + s)));
      auto channel = *CreateChannel(target, channel_options, {DescriptorOf<skillsd::v1::WeightsService>()});
      weights::ModelHolder* holder = holders.back().get();
      subs.push_back(std::make_unique<weights::WeightsSubscriber>(
          channel, absl::StrCat("bench-", s), skillsd::v1::SUBSCRIBER_ROLE_ACTOR,
          [holder](const weights::Snapshot& snapshot) { return holder->Install(snapshot); }));
      subs.back()->Start();
    }
    for (auto& s : subs) SKILLSD_CHECK(s->WaitForVersion(version - 1, absl::Seconds(60)));
    int64_t bytes = 0;
    const auto start = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      bytes += publish();  // learner side included: snapshot + checksums
      for (auto& s : subs) SKILLSD_CHECK(s->WaitForVersion(version - 1, absl::Seconds(60)));
    }
    const double mb_s = bytes / Since(start) / 1e6;
    const double raw_mb_s = subscribers == 1 ? raw_1 : raw_3;
    std::cout << "publish to " << subscribers << " subscriber(s): " << mb_s << " MB/s per subscriber ("
              << 100.0 * mb_s / raw_mb_s << "% of raw streaming to as many readers), " << mb_s * subscribers
              << " MB/s in total\n";
    for (auto& s : subs) s->Stop();
  }
  publisher.Close();
  (*server)->Drain();
  return 0;
}
