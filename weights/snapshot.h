// Weight snapshots as they cross the wire (proto/skillsd/v1/weights.proto): a header listing every tensor
// (name, dtype, shape, bytes, CRC32C), the tensors' bytes in chunks, and an end marker. StreamSnapshot cuts a
// snapshot into chunks; SnapshotAssembler puts one back together and verifies it — sizes, order, offsets,
// per-tensor checksums, the end marker — and hands out nothing unless everything checks. No LibTorch, no gRPC.
#ifndef SKILLSD_WEIGHTS_SNAPSHOT_H_
#define SKILLSD_WEIGHTS_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skillsd/v1/weights.pb.h"

namespace skillsd::weights {

struct SnapshotTensor {
  std::string name;
  skillsd::v1::DType dtype = skillsd::v1::DTYPE_F32;
  std::vector<int64_t> shape;
  std::string data;  // little-endian elements
  uint32_t crc32c = 0;
};

struct Snapshot {
  int64_t version = -1;
  std::string model_config_json;
  std::vector<SnapshotTensor> tensors;
  int64_t total_bytes() const;
};

// Bytes per element of a wire dtype (0 for DTYPE_UNSPECIFIED).
int ElementSize(skillsd::v1::DType dtype);

// Fills every tensor's checksum.
void ComputeChecksums(Snapshot* snapshot);

// Emits the snapshot as chunks with at most `chunk_bytes` of tensor data each; stops early (returning false)
// when `emit` returns false.
bool StreamSnapshot(const Snapshot& snapshot, size_t chunk_bytes,
                    const std::function<bool(const skillsd::v1::WeightsChunk&)>& emit);

// Reassembles streamed snapshots. Not thread-safe.
class SnapshotAssembler {
 public:
  explicit SnapshotAssembler(int64_t max_total_bytes = int64_t{64} << 30) : max_total_bytes_(max_total_bytes) {}

  // Feeds the next chunk: nullopt while a snapshot is incomplete, the snapshot when its end marker arrives and
  // everything checked. Any inconsistency (DATA_LOSS for a checksum, INVALID_ARGUMENT otherwise) discards the
  // partial snapshot; the next chunk must then be a header.
  absl::StatusOr<std::optional<Snapshot>> Add(const skillsd::v1::WeightsChunk& chunk);

 private:
  absl::Status Fail(absl::Status status);

  const int64_t max_total_bytes_;
  bool in_progress_ = false;
  Snapshot partial_;
  std::vector<int64_t> expected_;  // byte size of each tensor, from the header
  size_t tensor_ = 0;              // tensor being filled
  int64_t chunks_ = 0;             // data chunks received
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_SNAPSHOT_H_
