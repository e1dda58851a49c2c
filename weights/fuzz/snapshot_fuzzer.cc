// libFuzzer target: weight snapshot chunks as a subscriber receives them. The input is a series of chunks, each
// a 2-byte little-endian length and that many bytes of a WeightsChunk; they go through one SnapshotAssembler.
// Whatever arrives, nothing crashes, and a snapshot handed out is whole: every tensor's bytes match its dtype,
// shape and checksum, and streaming it again reassembles to the same snapshot.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "core/crc32c.h"
#include "weights/snapshot.h"

namespace {

void CheckWhole(const skillsd::weights::Snapshot& snapshot) {
  for (const auto& t : snapshot.tensors) {
    int64_t elements = 1;
    for (int64_t d : t.shape) {
      if (d < 0) std::abort();
      elements *= d;
    }
    if (static_cast<int64_t>(t.data.size()) != elements * skillsd::weights::ElementSize(t.dtype)) std::abort();
    if (skillsd::Crc32c(t.data.data(), t.data.size()) != t.crc32c) std::abort();
  }
  skillsd::weights::SnapshotAssembler again;
  std::optional<skillsd::weights::Snapshot> copy;
  skillsd::weights::StreamSnapshot(snapshot, 7, [&](const skillsd::v1::WeightsChunk& chunk) {
    auto added = again.Add(chunk);
    if (!added.ok()) std::abort();
    if (added->has_value()) copy = std::move(**added);
    return true;
  });
  if (!copy.has_value() || copy->version != snapshot.version || copy->tensors.size() != snapshot.tensors.size()) {
    std::abort();
  }
  for (size_t i = 0; i < copy->tensors.size(); ++i) {
    if (copy->tensors[i].data != snapshot.tensors[i].data || copy->tensors[i].name != snapshot.tensors[i].name) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skillsd::weights::SnapshotAssembler assembler(/*max_total_bytes=*/1 << 20);
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t n = std::min<size_t>(data[at] | (static_cast<size_t>(data[at + 1]) << 8), size - at - 2);
    skillsd::v1::WeightsChunk chunk;
    const bool parsed = chunk.ParseFromArray(data + at + 2, static_cast<int>(n));
    at += 2 + n;
    if (!parsed) continue;
    auto added = assembler.Add(chunk);
    if (added.ok() && added->has_value()) CheckWhole(**added);
  }
  return 0;
}
