#include "core/file_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempDir() {
  char pattern[] = "/tmp/skillsd_file_util_XXXXXX";
  return mkdtemp(pattern);
}

TEST(FileUtilTest, WriteThenRead) {
  const std::string path = TempDir() + "/a.txt";
  ASSERT_OK(WriteFileAtomically(path, std::string("hello\0world", 11)));
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFile(path));
  EXPECT_EQ(data, std::string("hello\0world", 11));
  ASSERT_OK(WriteFileAtomically(path, "replaced"));
  ASSERT_OK_AND_ASSIGN(data, ReadFile(path));
  EXPECT_EQ(data, "replaced");
}

TEST(FileUtilTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadFile("/nonexistent/x"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/x")));
}

TEST(FileUtilTest, FailedWriteLeavesOldFile) {
  const std::string dir = TempDir();
  const std::string path = dir + "/keep.txt";
  ASSERT_OK(WriteFileAtomically(path, "old"));
  // A directory in place of the temp file's directory entry makes the rename fail.
  EXPECT_FALSE(WriteFileAtomically(dir + "/missing_dir/keep.txt", "new").ok());
  ASSERT_OK_AND_ASSIGN(std::string data, ReadFile(path));
  EXPECT_EQ(data, "old");
}

TEST(FileUtilTest, TokenFile) {
  const std::string dir = TempDir();
  ASSERT_OK(WriteFileAtomically(dir + "/token", "  s3cret \nignored\n"));
  ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(dir + "/token"));
  EXPECT_EQ(token, "s3cret");
  ASSERT_OK(WriteFileAtomically(dir + "/empty", "\n"));
  EXPECT_THAT(ReadTokenFile(dir + "/empty"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(FileUtilTest, MakeDirectories) {
  const std::string dir = TempDir() + "/a/b/c";
  ASSERT_OK(MakeDirectories(dir));
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_OK(MakeDirectories(dir));  // idempotent
  ASSERT_OK(WriteFileAtomically(dir + "/file", "x"));
  EXPECT_THAT(MakeDirectories(dir + "/file"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("file")));
}

}  // namespace
}  // namespace skillsd
