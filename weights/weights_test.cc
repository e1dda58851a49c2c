// The snapshot protocol: checksums, chunking and reassembly, tampering detected, the teacher's push schedule,
// and whole snapshots streamed over real loopback gRPC into models that swap atomically.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/crc32c.h"
#include "core/server.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/test_model.h"
#include "weights/model_snapshot.h"
#include "weights/publisher.h"
#include "weights/snapshot.h"
#include "weights/subscriber.h"
#include "weights/weights_service.h"

namespace skillsd::weights {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

Snapshot TestSnapshot(int64_t version) {
  Snapshot s;
  s.version = version;
  s.model_config_json = "{}";
  for (int t = 0; t < 3; ++t) {
    SnapshotTensor tensor;
    tensor.name = absl::StrCat("t", t);
    tensor.dtype = t == 1 ? skillsd::v1::DTYPE_BF16 : skillsd::v1::DTYPE_F32;
    tensor.shape = {t == 2 ? 0 : 5, 3};
    tensor.data.resize(static_cast<size_t>(tensor.shape[0] * 3 * ElementSize(tensor.dtype)));
    for (size_t i = 0; i < tensor.data.size(); ++i) tensor.data[i] = static_cast<char>(version + t * 31 + i);
    s.tensors.push_back(tensor);
  }
  ComputeChecksums(&s);
  return s;
}

std::vector<skillsd::v1::WeightsChunk> Chunks(const Snapshot& s, size_t chunk_bytes) {
  std::vector<skillsd::v1::WeightsChunk> out;
  StreamSnapshot(s, chunk_bytes, [&](const skillsd::v1::WeightsChunk& c) {
    out.push_back(c);
    return true;
  });
  return out;
}

absl::StatusOr<std::optional<Snapshot>> Feed(SnapshotAssembler& a,
                                             const std::vector<skillsd::v1::WeightsChunk>& chunks) {
  absl::StatusOr<std::optional<Snapshot>> last = std::optional<Snapshot>();
  for (const auto& c : chunks) {
    last = a.Add(c);
    if (!last.ok()) return last;
  }
  return last;
}

TEST(SnapshotTest, RoundTripsAtAnyChunkSize) {
  const Snapshot s = TestSnapshot(4);
  for (size_t chunk : {1, 7, 1 << 20}) {
    SnapshotAssembler a;
    ASSERT_OK_AND_ASSIGN(std::optional<Snapshot> got, Feed(a, Chunks(s, chunk)));
    ASSERT_TRUE(got.has_value()) << chunk;
    EXPECT_EQ(got->version, 4);
    ASSERT_EQ(got->tensors.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(got->tensors[i].data, s.tensors[i].data);
      EXPECT_EQ(got->tensors[i].shape, s.tensors[i].shape);
    }
  }
}

TEST(SnapshotTest, TamperingIsDetectedAndTheNextSnapshotStillAssembles) {
  const Snapshot s = TestSnapshot(1);
  std::vector<skillsd::v1::WeightsChunk> chunks = Chunks(s, 8);
  SnapshotAssembler a;
  // A flipped byte: checksum mismatch at the end marker.
  auto flipped = chunks;
  (*flipped[2].mutable_data()->mutable_data())[0] ^= 1;
  EXPECT_THAT(Feed(a, flipped), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checksum")));
  // A chunk missing: wrong offset.
  auto missing = chunks;
  missing.erase(missing.begin() + 2);
  EXPECT_THAT(Feed(a, missing), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset")));
  // Header lies about a size.
  auto lying = chunks;
  lying[0].mutable_header()->mutable_tensors(0)->set_byte_size(4);
  EXPECT_THAT(Feed(a, lying), StatusIs(absl::StatusCode::kInvalidArgument));
  // End marker counts a different number of chunks.
  auto bad_end = chunks;
  bad_end.back().mutable_end()->set_chunks(1);
  EXPECT_THAT(Feed(a, bad_end), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end marker")));
  // Data without a header.
  EXPECT_THAT(a.Add(chunks[1]), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("before a header")));
  // Too large for the receiver.
  SnapshotAssembler small(10);
  EXPECT_THAT(Feed(small, chunks), StatusIs(absl::StatusCode::kResourceExhausted));
  // After all that, a good snapshot assembles.
  ASSERT_OK_AND_ASSIGN(std::optional<Snapshot> good, Feed(a, chunks));
  EXPECT_TRUE(good.has_value());
}

TEST(PublisherTest, TeacherScheduleDynamicAndFrozen) {
  WeightsPublisher dynamic(2, false), frozen(2, true);
  std::vector<int64_t> teacher_dynamic, teacher_frozen;
  for (int64_t v = 0; v <= 5; ++v) {
    auto s = std::make_shared<Snapshot>(TestSnapshot(v));
    ASSERT_TRUE(dynamic.Publish(s));
    ASSERT_TRUE(frozen.Publish(s));
    teacher_dynamic.push_back(dynamic.Latest(skillsd::v1::SUBSCRIBER_ROLE_TEACHER)->version);
    teacher_frozen.push_back(frozen.Latest(skillsd::v1::SUBSCRIBER_ROLE_TEACHER)->version);
    EXPECT_EQ(dynamic.Latest(skillsd::v1::SUBSCRIBER_ROLE_ACTOR)->version, v);
  }
  EXPECT_THAT(teacher_dynamic, ::testing::ElementsAre(0, 0, 2, 2, 4, 4));
  EXPECT_THAT(teacher_frozen, ::testing::ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_FALSE(dynamic.Publish(std::make_shared<Snapshot>(TestSnapshot(3))));  // older: ignored
  EXPECT_EQ(dynamic.WaitNewer(skillsd::v1::SUBSCRIBER_ROLE_ACTOR, 5, absl::Milliseconds(10)), nullptr);
}

model::ModelConfig Config(int64_t hidden = 16) {
  return model::TestModelConfig(/*vocab=*/20, hidden, /*layers=*/1, /*heads=*/2, /*kv_heads=*/1);
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<WeightsServiceImpl>(&publisher_, /*chunk_bytes=*/1000);
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.drain_grace = absl::ZeroDuration();
    options.shutdown_deadline = absl::Seconds(2);
    auto server = GrpcServer::Start(options, {service_.get()});
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    auto channel =
        CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), {}, {DescriptorOf<skillsd::v1::WeightsService>()});
    ASSERT_TRUE(channel.ok());
    channel_ = *channel;
  }
  void TearDown() override {
    publisher_.Close();
    server_->Drain();
  }

  WeightsPublisher publisher_{2, false};
  std::unique_ptr<WeightsServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(StreamTest, SubscribersInstallVersionsOnTheirSchedule) {
  model::CausalLM learner = model::RandomModel(Config(), 1);
  ModelHolder actor_model(model::RandomModel(Config(), 2)), teacher_model(model::RandomModel(Config(), 3));
  WeightsSubscriber actor(channel_, "actor-0", skillsd::v1::SUBSCRIBER_ROLE_ACTOR,
                          [&](const Snapshot& s) { return actor_model.Install(s); });
  WeightsSubscriber teacher(channel_, "teacher-0", skillsd::v1::SUBSCRIBER_ROLE_TEACHER,
                            [&](const Snapshot& s) { return teacher_model.Install(s); });
  actor.Start();
  teacher.Start();
  model::TensorMap at_version_4;
  for (int64_t v = 0; v <= 5; ++v) {
    {
      torch::NoGradGuard g;
      for (auto& p : learner->parameters()) p.add_(0.01);  // a training step
    }
    ASSERT_OK_AND_ASSIGN(Snapshot s, SnapshotFromModel(*learner, v, skillsd::v1::DTYPE_F32));
    publisher_.Publish(std::make_shared<Snapshot>(std::move(s)));
    ASSERT_TRUE(actor.WaitForVersion(v, absl::Seconds(10))) << v;
    if (v == 4) {
      for (const auto& [name, t] : learner->StateDict()) at_version_4[name] = t.clone();
    }
  }
  ASSERT_TRUE(teacher.WaitForVersion(4, absl::Seconds(10)));
  EXPECT_EQ(actor_model.version(), 5);
  EXPECT_EQ(teacher_model.version(), 4);  // K = 2: versions 0, 2, 4
  for (const auto& [name, t] : learner->StateDict()) {
    EXPECT_TRUE(torch::equal(t, (*actor_model.Current())->StateDict().at(name))) << name;
    EXPECT_TRUE(torch::equal(at_version_4.at(name), (*teacher_model.Current())->StateDict().at(name))) << name;
  }
  EXPECT_EQ(actor.rejected(), 0);
  actor.Stop();
  teacher.Stop();
}

TEST_F(StreamTest, Bf16OnTheWireAndWrongArchitectureRejected) {
  model::CausalLM learner = model::RandomModel(Config(), 4);
  ModelHolder holder(model::RandomModel(Config(), 5));
  WeightsSubscriber actor(channel_, "actor-1", skillsd::v1::SUBSCRIBER_ROLE_ACTOR,
                          [&](const Snapshot& s) { return holder.Install(s); });
  actor.Start();
  ASSERT_OK_AND_ASSIGN(Snapshot s, SnapshotFromModel(*learner, 0, skillsd::v1::DTYPE_BF16));
  EXPECT_EQ(s.total_bytes() * 2, SnapshotFromModel(*learner, 0, skillsd::v1::DTYPE_F32)->total_bytes());
  publisher_.Publish(std::make_shared<Snapshot>(std::move(s)));
  ASSERT_TRUE(actor.WaitForVersion(0, absl::Seconds(10)));
  for (const auto& [name, t] : learner->StateDict()) {
    EXPECT_TRUE(torch::equal(t.to(torch::kBFloat16).to(torch::kFloat32), (*holder.Current())->StateDict().at(name)))
        << name;
  }
  // A snapshot of another architecture is refused; version 0 stays installed.
  model::CausalLM other = model::RandomModel(Config(32), 6);
  ASSERT_OK_AND_ASSIGN(Snapshot wrong, SnapshotFromModel(*other, 1, skillsd::v1::DTYPE_F32));
  publisher_.Publish(std::make_shared<Snapshot>(std::move(wrong)));
  for (int i = 0; i < 200 && actor.rejected() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(actor.rejected(), 1);
  EXPECT_EQ(holder.version(), 0);
  actor.Stop();
}

}  // namespace
}  // namespace skillsd::weights
