// SPDX-License-Identifier: Apache-2.0
// The `shardwal` CLI's errors (tests/tools_fixture.h): a missing,
// unreadable, empty or foreign directory exits 2 for every WAL command and
// creates nothing; usage errors exit 2 and change nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/tools_fixture.h"

namespace shardwal {
namespace {

using namespace tools_test;
namespace stdfs = std::filesystem;

TEST_F(ToolsTest, MissingUnreadableOrForeignDirectoryExits2) {
  const std::string missing = dir_.Sub("no-such-wal");
  const std::string empty = dir_.Sub("empty");
  stdfs::create_directory(empty);
  const std::string file = dir_.Sub("plain-file");
  std::ofstream(file) << "x";
  const std::string foreign = dir_.Sub("foreign");
  stdfs::create_directory(foreign);
  std::ofstream(foreign + "/MANIFEST") << "MANIFEST-000001 of some other database\n";
  const std::string out = dir_.Sub("export.bin");
  const std::vector<std::string> commands = {"verify",  "dump",   "stats", "replay --until-lsn 1 --out " + Quote(out),
                                             "recover", "checkpoint"};
  for (const auto& c : commands) {
    const std::string lsn = c == "checkpoint" ? " 1" : "";
    CliResult r = Cli(c + " " + Quote(missing) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("no such directory"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(empty) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("no MANIFEST"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(file) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("not a directory"), std::string::npos) << c << "\n" << r.err;
    r = Cli(c + " " + Quote(foreign) + lsn);
    EXPECT_EQ(r.code, 2) << c << "\n" << Describe(r);
    EXPECT_NE(r.err.find("not a shardwal MANIFEST"), std::string::npos) << c << "\n" << r.err;
  }
  // Not even the commands that write create a WAL where there was none.
  EXPECT_FALSE(stdfs::exists(missing));
  EXPECT_TRUE(stdfs::is_empty(empty));
  EXPECT_FALSE(stdfs::exists(out));
  if (::geteuid() != 0) {  // root reads everything
    const std::string locked = CopyWal("locked");
    stdfs::permissions(locked, stdfs::perms::none);
    const CliResult r = Cli("verify " + Quote(locked));
    stdfs::permissions(locked, stdfs::perms::owner_all);
    EXPECT_EQ(r.code, 2) << Describe(r);
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
}

TEST_F(ToolsTest, UsageErrorsExit2) {
  const std::string wal = CopyWal("usage");
  const auto before = Snapshot(wal);
  const std::string w = Quote(wal);
  const std::string out = Quote(dir_.Sub("x.bin"));
  for (const std::string& args : std::vector<std::string>{
           std::string(""),
           std::string("verify"),
           "verify " + w + " --bogus",
           "verify " + w + " --mode sometimes",
           "dump " + w + " --payload base64",
           "dump " + w + " --from 10 --to 5",
           "dump " + w + " --from ten",
           "dump " + w + " --from -5",
           "dump " + w + " --to 99999999999999999999999",
           "dump " + w + " --shard 7",
           std::string("stats"),
           "replay " + w + " --out " + out,
           "replay " + w + " --until-lsn 5",
           "replay " + w + " --until-lsn 5 --until-time 5 --out " + out,
           "replay " + w + " --until-time yesterday --out " + out,
           "replay " + w + " --until-time 2024-13-01T00:00:00Z --out " + out,
           "replay " + w + " --until-lsn -1 --out " + out,
           "replay " + w + " --until-lsn 5 --out " + Quote(wal + "/shard-0/export.bin"),
           "replay " + w + " --until-lsn 5 --out " + Quote(wal + "/export.bin"),
           "checkpoint " + w,
           "checkpoint " + w + " 0",
           "checkpoint " + w + " -5",
           "recover " + w + " --mode all",
       }) {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.code, 2) << "shardwal " << args << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty()) << "shardwal " << args;
  }
  EXPECT_FALSE(stdfs::exists(wal + "/shard-0/export.bin"));
  EXPECT_TRUE(Snapshot(wal) == before) << "a usage error modified the WAL";
  EXPECT_EQ(Cli("verify --help").code, 0);
}

}  // namespace
}  // namespace shardwal
