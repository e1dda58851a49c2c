// Geometry the board, the solver and the generator share (env_workers/sokoban*.cc); not part of the API.
#ifndef SKILLSD_ENV_WORKERS_SOKOBAN_INTERNAL_H_
#define SKILLSD_ENV_WORKERS_SOKOBAN_INTERNAL_H_

#include <cstdint>

#include "env_workers/sokoban.h"

namespace skillsd::sokoban::internal {

// Directions as (row, column) steps, in Action order.
inline constexpr int kDr[kNumActions] = {-1, 1, 0, 0};
inline constexpr int kDc[kNumActions] = {0, 0, -1, 1};

// True when the box at `cell` sits in a 2×2 block of walls and boxes with at least one box off target: no box
// of such a block can ever move again, so the level cannot be solved.
inline bool FrozenBlock(const uint8_t* cells, int width, int cell) {
  const int corners[4] = {cell, cell - 1, cell - width, cell - width - 1};
  for (int top_left : corners) {
    const int block[4] = {top_left, top_left + 1, top_left + width, top_left + width + 1};
    bool full = true;
    bool loose_box = false;
    for (int i : block) {
      const uint8_t f = cells[i];
      if (!(f & (kWall | kBox))) {
        full = false;
        break;
      }
      if ((f & kBox) && !(f & kTarget)) loose_box = true;
    }
    if (full && loose_box) return true;
  }
  return false;
}

}  // namespace skillsd::sokoban::internal

#endif  // SKILLSD_ENV_WORKERS_SOKOBAN_INTERNAL_H_
