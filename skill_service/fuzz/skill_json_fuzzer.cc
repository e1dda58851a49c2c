// libFuzzer target: the parser of a summariser's reply (an LLM's text, so outside bytes): ParseSkillJson finds
// the three-field JSON skill in arbitrary text or says why not. An accepted skill's fields are valid UTF-8 (they
// go into prompts and protobuf strings, which must be UTF-8).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/utf8.h"
#include "skill_service/summarizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto skill = skillsd::skill::ParseSkillJson(text);
  if (!skill.ok()) return 0;
  for (const std::string* field : {&skill->success_analysis(), &skill->mistake_analysis(), &skill->golden_workflow()}) {
    if (skillsd::ValidUtf8(*field) != *field) std::abort();
  }
  return 0;
}
