// The LibTorch-free half of model/safetensors.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "model/safetensors.h"

namespace skillsd::model {

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
  }
  return "?";
}

int DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

absl::StatusOr<std::vector<TensorEntry>> ParseSafetensorsHeader(absl::string_view header_json, uint64_t data_size) {
  absl::StatusOr<JsonValue> root = ParseJson(header_json);
  if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat("header: ", root.status().message()));
  if (!root->is_object()) return absl::InvalidArgumentError("header: not a JSON object");
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : root->object()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return absl::InvalidArgumentError("header: __metadata__ must be an object");
      for (const auto& [k, v] : value.object()) {
        if (!v.is_string())
          return absl::InvalidArgumentError(absl::StrCat("header: __metadata__.", k, " not a string"));
      }
      continue;
    }
    const std::string& tensor_name = name;  // (C++17 lambdas cannot capture structured bindings; clang refuses)
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor_name, "': ", why));
    };
    if (!value.is_object()) return bad("entry is not an object");
    TensorEntry e;
    e.name = name;
    const JsonValue* dtype = value.Find("dtype");
    if (dtype == nullptr || !dtype->is_string()) return bad("missing dtype");
    if (dtype->string() == "F32") {
      e.dtype = DType::kF32;
    } else if (dtype->string() == "BF16") {
      e.dtype = DType::kBF16;
    } else if (dtype->string() == "F16") {
      e.dtype = DType::kF16;
    } else {
      return bad(absl::StrCat("unsupported dtype ", dtype->string(), " (F32, BF16, F16)"));
    }
    const JsonValue* shape = value.Find("shape");
    if (shape == nullptr || !shape->is_array()) return bad("missing shape");
    uint64_t elements = 1;
    for (const JsonValue& d : shape->array()) {
      if (!d.is_integer() || d.integer() < 0) return bad("shape entries must be non-negative integers");
      const uint64_t dim = static_cast<uint64_t>(d.integer());
      if (dim != 0 && elements > (uint64_t{1} << 62) / dim) return bad("shape too large");
      elements *= dim;
      e.shape.push_back(d.integer());
    }
    const JsonValue* offsets = value.Find("data_offsets");
    if (offsets == nullptr || !offsets->is_array() || offsets->array().size() != 2 ||
        !offsets->array()[0].is_integer() || !offsets->array()[1].is_integer() || offsets->array()[0].integer() < 0 ||
        offsets->array()[1].integer() < offsets->array()[0].integer()) {
      return bad("data_offsets must be [begin, end] with 0 <= begin <= end");
    }
    e.begin = static_cast<uint64_t>(offsets->array()[0].integer());
    e.end = static_cast<uint64_t>(offsets->array()[1].integer());
    if (e.end > data_size)
      return bad(
          absl::StrCat("data ends at byte ", e.end, " past the data section (", data_size, " bytes): truncated file?"));
    if (e.end - e.begin != elements * static_cast<uint64_t>(DTypeSize(e.dtype))) {
      return bad(absl::StrCat("holds ", e.end - e.begin, " bytes but its shape needs ", elements * DTypeSize(e.dtype)));
    }
    entries.push_back(std::move(e));
  }
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name, "' overlap"));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

}  // namespace skillsd::model
