#include "core/random.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace skillsd {
namespace {

TEST(RngTest, DeterministicAndInRange) {
  Rng a(42), b(42);
  std::set<uint32_t> values;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t x = a.Uniform(7);
    EXPECT_EQ(x, b.Uniform(7));
    EXPECT_LT(x, 7u);
    values.insert(x);
  }
  EXPECT_EQ(values.size(), 7u);
  EXPECT_EQ(Rng(1).Next(), Rng(1).Next());
  EXPECT_NE(Rng(1).Next(), Rng(2).Next());
}

}  // namespace
}  // namespace skillsd
