// Hugging Face safetensors: read (mmap; F32, BF16, F16; one file or shards listed in
// model.safetensors.index.json) and write (atomically: temp file + rename). Every malformed, truncated or
// inconsistent file is a clear error that names the file and the tensor.
//
// The header parser needs no LibTorch (it is what the fuzz target drives); the tensor functions do.
#ifndef SKILLSD_MODEL_SAFETENSORS_H_
#define SKILLSD_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace at {
class Tensor;
}

namespace skillsd::model {

enum class DType { kF32, kBF16, kF16 };
absl::string_view DTypeName(DType dtype);  // "F32", "BF16", "F16"
int DTypeSize(DType dtype);

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

// Parses and validates the header of a safetensors file whose data section holds `data_size` bytes: dtypes
// supported, shapes non-negative, offsets inside the data, sized exactly for their shapes, and not overlapping.
// Entries come back in name order; "__metadata__" (string values only) is checked and skipped.
absl::StatusOr<std::vector<TensorEntry>> ParseSafetensorsHeader(absl::string_view header_json, uint64_t data_size);

using TensorMap = std::map<std::string, at::Tensor>;

// Reads one .safetensors file into CPU tensors of the stored dtype.
absl::StatusOr<TensorMap> ReadSafetensors(const std::string& path);

// Reads the weights of a model folder: model.safetensors, or the shards named by model.safetensors.index.json.
absl::StatusOr<TensorMap> ReadModelWeights(const std::string& dir);

// Writes `tensors` (any device; F32, BF16 or F16) to `path` atomically, names sorted, header padded to 8 bytes.
absl::Status WriteSafetensors(const std::string& path, const TensorMap& tensors);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_SAFETENSORS_H_
