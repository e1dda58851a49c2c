// libFuzzer target: the YAML experiment config parser on arbitrary text. Whatever arrives, ParseConfig answers
// with a config or a status; an accepted config written back with ToYaml parses again (the round trip the
// `skillsd config` command relies on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<skillsd::ExperimentConfig> config = skillsd::ParseConfig(text, "fuzz");
  if (!config.ok()) return 0;
  const std::string yaml = skillsd::ToYaml(*config);
  absl::StatusOr<skillsd::ExperimentConfig> again = skillsd::ParseConfig(yaml, "round trip");
  if (!again.ok() || skillsd::ToYaml(*again) != yaml) std::abort();
  return 0;
}
