#include "weights/snapshot.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/crc32c.h"

namespace skillsd::weights {

int ElementSize(skillsd::v1::DType dtype) {
  switch (dtype) {
    case skillsd::v1::DTYPE_F32:
      return 4;
    case skillsd::v1::DTYPE_BF16:
    case skillsd::v1::DTYPE_F16:
      return 2;
    default:
      return 0;
  }
}

int64_t Snapshot::total_bytes() const {
  int64_t total = 0;
  for (const SnapshotTensor& t : tensors) total += static_cast<int64_t>(t.data.size());
  return total;
}

void ComputeChecksums(Snapshot* snapshot) {
  for (SnapshotTensor& t : snapshot->tensors) t.crc32c = Crc32c(t.data.data(), t.data.size());
}

bool StreamSnapshot(const Snapshot& snapshot, size_t chunk_bytes,
                    const std::function<bool(const skillsd::v1::WeightsChunk&)>& emit) {
  if (chunk_bytes == 0) chunk_bytes = 1;
  skillsd::v1::WeightsChunk chunk;
  auto* header = chunk.mutable_header();
  header->set_version(snapshot.version);
  header->set_total_bytes(snapshot.total_bytes());
  header->set_model_config_json(snapshot.model_config_json);
  for (const SnapshotTensor& t : snapshot.tensors) {
    auto* info = header->add_tensors();
    info->set_name(t.name);
    info->set_dtype(t.dtype);
    for (int64_t d : t.shape) info->add_shape(d);
    info->set_byte_size(static_cast<int64_t>(t.data.size()));
    info->set_crc32c(t.crc32c);
  }
  if (!emit(chunk)) return false;
  int64_t chunks = 0;
  for (size_t i = 0; i < snapshot.tensors.size(); ++i) {
    const std::string& data = snapshot.tensors[i].data;
    for (size_t offset = 0; offset < data.size(); offset += chunk_bytes) {
      chunk.Clear();
      auto* piece = chunk.mutable_data();
      piece->set_tensor_index(static_cast<int32_t>(i));
      piece->set_offset(static_cast<int64_t>(offset));
      piece->set_data(data.data() + offset, std::min(chunk_bytes, data.size() - offset));
      ++chunks;
      if (!emit(chunk)) return false;
    }
  }
  chunk.Clear();
  chunk.mutable_end()->set_version(snapshot.version);
  chunk.mutable_end()->set_chunks(chunks);
  return emit(chunk);
}

absl::Status SnapshotAssembler::Fail(absl::Status status) {
  in_progress_ = false;
  partial_ = Snapshot();
  expected_.clear();
  return status;
}

absl::StatusOr<std::optional<Snapshot>> SnapshotAssembler::Add(const skillsd::v1::WeightsChunk& chunk) {
  using skillsd::v1::WeightsChunk;
  switch (chunk.chunk_case()) {
    case WeightsChunk::kHeader: {
      if (in_progress_) return Fail(absl::InvalidArgumentError("header before the previous snapshot ended"));
      const auto& h = chunk.header();
      partial_ = Snapshot();
      expected_.clear();
      partial_.version = h.version();
      partial_.model_config_json = h.model_config_json();
      int64_t total = 0;
      absl::flat_hash_set<std::string> names;
      for (const auto& info : h.tensors()) {
        SnapshotTensor t;
        t.name = info.name();
        t.dtype = info.dtype();
        t.crc32c = info.crc32c();
        if (t.name.empty() || !names.insert(t.name).second) {
          return Fail(absl::InvalidArgumentError(absl::StrCat("tensor name '", t.name, "' empty or repeated")));
        }
        const int size = ElementSize(t.dtype);
        if (size == 0) return Fail(absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': no dtype")));
        int64_t elements = 1;
        for (int64_t d : info.shape()) {
          if (d < 0 || (d > 0 && elements > (int64_t{1} << 50) / d)) {
            return Fail(absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': bad shape")));
          }
          elements *= d;
          t.shape.push_back(d);
        }
        if (info.byte_size() != elements * size) {
          return Fail(absl::InvalidArgumentError(
              absl::StrCat("tensor '", t.name, "': ", info.byte_size(), " bytes for ", elements, " elements")));
        }
        total += info.byte_size();
        if (total > max_total_bytes_) return Fail(absl::ResourceExhaustedError("snapshot larger than allowed"));
        t.data.reserve(static_cast<size_t>(info.byte_size()));
        expected_.push_back(info.byte_size());
        partial_.tensors.push_back(std::move(t));
      }
      if (total != h.total_bytes()) return Fail(absl::InvalidArgumentError("total_bytes disagrees with the tensors"));
      in_progress_ = true;
      tensor_ = 0;
      chunks_ = 0;
      return std::optional<Snapshot>();
    }
    case WeightsChunk::kData: {
      if (!in_progress_) return Fail(absl::InvalidArgumentError("data before a header"));
      const auto& d = chunk.data();
      // Data arrives in header order, each tensor's bytes in order; finished (and empty) tensors are passed over.
      while (tensor_ < partial_.tensors.size() &&
             static_cast<int64_t>(partial_.tensors[tensor_].data.size()) == expected_[tensor_] &&
             static_cast<int64_t>(tensor_) < d.tensor_index()) {
        ++tensor_;
      }
      if (d.tensor_index() < 0 || static_cast<size_t>(d.tensor_index()) != tensor_ ||
          tensor_ >= partial_.tensors.size()) {
        return Fail(absl::InvalidArgumentError("data for a tensor out of order"));
      }
      SnapshotTensor& t = partial_.tensors[tensor_];
      if (d.offset() != static_cast<int64_t>(t.data.size()) ||
          static_cast<int64_t>(t.data.size() + d.data().size()) > expected_[tensor_]) {
        return Fail(
            absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "': data at a wrong offset or too long")));
      }
      t.data += d.data();
      ++chunks_;
      return std::optional<Snapshot>();
    }
    case WeightsChunk::kEnd: {
      if (!in_progress_) return Fail(absl::InvalidArgumentError("end before a header"));
      if (chunk.end().version() != partial_.version || chunk.end().chunks() != chunks_) {
        return Fail(absl::InvalidArgumentError("end marker disagrees with the stream"));
      }
      for (size_t i = 0; i < partial_.tensors.size(); ++i) {
        const SnapshotTensor& t = partial_.tensors[i];
        if (static_cast<int64_t>(t.data.size()) != expected_[i]) {
          return Fail(absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' is incomplete")));
        }
        if (Crc32c(t.data.data(), t.data.size()) != t.crc32c) {
          return Fail(absl::DataLossError(absl::StrCat("tensor '", t.name, "': checksum mismatch")));
        }
      }
      Snapshot done = std::move(partial_);
      in_progress_ = false;
      partial_ = Snapshot();
      return std::optional<Snapshot>(std::move(done));
    }
    default:
      return Fail(absl::InvalidArgumentError("empty chunk"));
  }
}

}  // namespace skillsd::weights
