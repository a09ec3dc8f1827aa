// SPDX-License-Identifier: Apache-2.0
// Status and Result<T>: a failed Result's value cannot be taken quietly.
// value(), * and -> on a failed Result abort in every build type, printing
// which accessor was misused and the status that was missed (the message a
// bad_variant_access would have lost).
#include "shardwal/status.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace shardwal {
namespace {

Result<std::string> Failed() {
  return Status::IOError("fdatasync shard 2 /data/shard-2/000000000007.seg", 5);
}

TEST(ResultTest, OkResultGivesItsValue) {
  Result<std::string> r(std::string("payload"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), "payload");
  EXPECT_EQ(*r, "payload");
  EXPECT_EQ(r->size(), 7u);
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(std::move(r).value(), "payload");
}

TEST(ResultTest, FailedResultKeepsItsStatus) {
  Result<std::string> r = Failed();
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_TRUE(r.status().IsIOError());
  EXPECT_EQ(r.status().sys_errno(), 5);
}

using ResultDeathTest = ::testing::Test;

// The regex names the accessor and the missed status, file and errno included.
TEST_F(ResultDeathTest, ValueOfFailedResultAbortsPrintingTheStatus) {
  EXPECT_DEATH({ Result<std::string> r = Failed(); (void)r.value().size(); },
               "shardwal: value\\(\\) of a failed Result: IOError: fdatasync shard 2 "
               "/data/shard-2/000000000007.seg.*errno 5");
}

TEST_F(ResultDeathTest, DereferenceOfFailedResultAborts) {
  EXPECT_DEATH({ Result<std::string> r = Failed(); (void)(*r).size(); },
               "shardwal: operator\\* of a failed Result: IOError");
  EXPECT_DEATH({ Result<std::string> r = Failed(); (void)r->size(); },
               "shardwal: operator-> of a failed Result: IOError");
}

TEST_F(ResultDeathTest, ConstAndRvalueAccessorsAbortToo) {
  EXPECT_DEATH({ const Result<std::string> r = Failed(); (void)r.value().size(); },
               "value\\(\\) of a failed Result: IOError");
  EXPECT_DEATH({ (void)Failed().value().size(); }, "value\\(\\) of a failed Result: IOError");
}

TEST(StatusTest, ToStringNamesCodeMessageAndErrno) {
  Status s = Status::IOError("open /data/shard-0/MANIFEST", 2);
  EXPECT_NE(s.ToString().find("IOError"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("/data/shard-0/MANIFEST"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("errno 2"), std::string::npos) << s.ToString();
  EXPECT_EQ(Status::OK().ToString(), "OK");
  EXPECT_TRUE(s.WithContext("recovering shard 0").message().find("recovering shard 0") != std::string::npos);
}

}  // namespace
}  // namespace shardwal
