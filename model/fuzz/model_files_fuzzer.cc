// libFuzzer target: what a model folder's files are parsed with before any tensor is read: config.json
// (ParseModelConfig) and a safetensors header (ParseSafetensorsHeader). The first byte picks which; the next 8
// bytes of a header input give the size of the data section. An accepted header's entries lie inside the data,
// are sized exactly for their dtypes and shapes, and do not overlap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model/model_config.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    const std::string json(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto config = skillsd::model::ParseModelConfig(json);
    if (config.ok() && !skillsd::model::ParseModelConfig(skillsd::model::ToJson(*config)).ok()) std::abort();
    return 0;
  }
  if (size < 9) return 0;
  uint64_t data_size = 0;
  std::memcpy(&data_size, data + 1, sizeof(data_size));
  data_size %= uint64_t{1} << 40;
  const std::string header(reinterpret_cast<const char*>(data) + 9, size - 9);
  auto entries = skillsd::model::ParseSafetensorsHeader(header, data_size);
  if (!entries.ok()) return 0;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& e : *entries) {
    uint64_t elements = 1;
    for (int64_t d : e.shape) {
      if (d < 0) std::abort();
      elements *= static_cast<uint64_t>(d);
    }
    if (e.end > data_size || e.begin > e.end) std::abort();
    if (e.end - e.begin != elements * static_cast<uint64_t>(skillsd::model::DTypeSize(e.dtype))) std::abort();
    spans.emplace_back(e.begin, e.end);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second && spans[i].first != spans[i].second) std::abort();
  }
  return 0;
}
