// libFuzzer target: the answer parser and the level parser take arbitrary bytes and must never crash, hang or
// read out of bounds; a parsed answer never holds more items than allowed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "env_workers/sokoban.h"
#include "env_workers/sokoban_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const int max_actions = size > 0 ? 1 + data[0] % 8 : 3;
  const skillsd::sokoban::ParsedAnswer parsed = skillsd::sokoban::ParseAnswer(text, max_actions);
  if (static_cast<int>(parsed.items.size()) > max_actions) std::abort();
  if (!parsed.found && !parsed.items.empty()) std::abort();
  auto level = skillsd::sokoban::ParseLevel(text);
  if (level.ok()) {
    // A level that parses can be rendered and played.
    skillsd::sokoban::Board board(*level);
    for (size_t i = 0; i < size && i < 64; ++i) board.Move(static_cast<skillsd::sokoban::Action>(data[i] % 4));
    std::string out;
    board.Render(&out);
  }
  return 0;
}
