#include "core/crc32c.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace skillsd {
namespace {

TEST(Crc32cTest, KnownValuesAndBothImplementationsAgree) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  for (size_t n : {0, 1, 7, 8, 9, 63, 1000}) {
    EXPECT_EQ(Crc32cExtend(0, data.data(), n), Crc32cExtendPortable(0, data.data(), n)) << n;
  }
  // Extending in pieces equals one pass.
  EXPECT_EQ(Crc32cExtend(Crc32c(data.data(), 300), data.data() + 300, 700), Crc32c(data.data(), 1000));
}

}  // namespace
}  // namespace skillsd
