// SPDX-License-Identifier: Apache-2.0
// `shardwal replay DIR (--until-lsn L | --until-time T) --out FILE`: exports
// the prefix of the log up to a moment, in LSN order, to a file an engine
// can restore from. The format (docs/tools.md, "Replay export format"):
//
//   FileHeader (80 bytes) | Record | Record | ... | Record      (end of file)
//
//   FileHeader: magic "SHRDEXP\x01", u32 version (1), u32 header_bytes (80),
//     u64 record_count, u64 first_lsn, u64 last_lsn, u64 checkpoint_lsn,
//     u64 cut_lsn, u64 until_lsn, u64 until_time_ns, u32 reserved (0),
//     u32 header_crc (CRC32C of bytes [0, 76)).
//   Record: u64 lsn, u64 txn_id, u64 commit_time_ns, u32 shard,
//     u32 payload_bytes, u16 tag_bytes, u8 type, u8 flags (0),
//     u32 crc (CRC32C of header bytes [0, 36), then the tag, then the
//     payload), then tag_bytes of tag and payload_bytes of payload.
//
// All integers little-endian. Written to FILE.tmp, fsync'd, renamed over
// FILE, and the directory fsync'd: FILE is either absent, the old file, or
// the whole new export.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>

#include "shardwal/options.h"
#include "tools/cli_common.h"
#include "tools/wal_commands.h"
#include "tools/wal_text.h"

namespace shardwal::tools {

namespace {

static_assert(std::endian::native == std::endian::little, "the export writer assumes a little-endian host");

constexpr char kExportMagic[8] = {'S', 'H', 'R', 'D', 'E', 'X', 'P', '\x01'};
constexpr std::uint32_t kExportVersion = 1;
constexpr std::uint32_t kFileHeaderBytes = 80;
constexpr std::uint32_t kRecordHeaderBytes = 40;

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host (asserted above)
  out->append(b, sizeof(T));
}

struct ExportSummary {
  std::uint64_t records = 0;
  Lsn first_lsn = kNoLsn, last_lsn = kNoLsn;
  std::uint64_t bytes = 0;
  // The first record left out by the bound (none: the log ended first).
  std::optional<Lsn> next_lsn;
  std::uint64_t next_commit_time_ns = 0;
};

// Writes the export to `tmp`; the caller renames it.
class ExportWriter {
 public:
  ~ExportWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IOError("cannot create " + path + ": " + std::strerror(errno), errno);
    buf_.assign(kFileHeaderBytes, '\0');  // the real header goes in at Finish
    return Status::OK();
  }
  Status Add(const ReplayRecord& r) {
    const std::size_t at = buf_.size();
    Put<std::uint64_t>(&buf_, r.lsn);
    Put<std::uint64_t>(&buf_, r.txn_id);
    Put<std::uint64_t>(&buf_, r.commit_time_ns);
    Put<std::uint32_t>(&buf_, r.shard);
    Put<std::uint32_t>(&buf_, static_cast<std::uint32_t>(r.payload.size()));
    Put<std::uint16_t>(&buf_, static_cast<std::uint16_t>(r.tag.size()));
    Put<std::uint8_t>(&buf_, static_cast<std::uint8_t>(r.type));
    Put<std::uint8_t>(&buf_, 0);
    std::uint32_t crc = Crc32c(0, buf_.data() + at, kRecordHeaderBytes - 4);
    crc = Crc32c(crc, r.tag.data(), r.tag.size());
    crc = Crc32c(crc, r.payload.data(), r.payload.size());
    Put<std::uint32_t>(&buf_, crc);
    buf_.append(r.tag);
    buf_.append(r.payload);
    if (summary_.records++ == 0) summary_.first_lsn = r.lsn;
    summary_.last_lsn = r.lsn;
    if (buf_.size() >= (4u << 20)) return FlushBuffer();
    return Status::OK();
  }
  // Writes the header, syncs and closes.
  Status Finish(Lsn checkpoint, Lsn cut, Lsn until_lsn, std::uint64_t until_time_ns, ExportSummary* summary) {
    if (Status s = FlushBuffer(); !s.ok()) return s;
    std::string h;
    h.append(kExportMagic, sizeof kExportMagic);
    Put<std::uint32_t>(&h, kExportVersion);
    Put<std::uint32_t>(&h, kFileHeaderBytes);
    Put<std::uint64_t>(&h, summary_.records);
    Put<std::uint64_t>(&h, summary_.first_lsn);
    Put<std::uint64_t>(&h, summary_.last_lsn);
    Put<std::uint64_t>(&h, checkpoint);
    Put<std::uint64_t>(&h, cut);
    Put<std::uint64_t>(&h, until_lsn);
    Put<std::uint64_t>(&h, until_time_ns);
    Put<std::uint32_t>(&h, 0);
    Put<std::uint32_t>(&h, Crc32c(0, h.data(), h.size()));
    if (::pwrite(fd_, h.data(), h.size(), 0) != static_cast<ssize_t>(h.size())) {
      return Status::IOError("writing " + path_ + ": " + std::strerror(errno), errno);
    }
    if (::fsync(fd_) != 0) return Status::IOError("fsync " + path_ + ": " + std::strerror(errno), errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::IOError("close " + path_ + ": " + std::strerror(errno), errno);
    summary_.bytes = written_;
    summary->records = summary_.records;
    summary->first_lsn = summary_.first_lsn;
    summary->last_lsn = summary_.last_lsn;
    summary->bytes = summary_.bytes;
    return Status::OK();
  }

 private:
  Status FlushBuffer() {
    std::size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IOError("writing " + path_ + ": " + std::strerror(errno), errno);
      }
      done += static_cast<std::size_t>(n);
    }
    written_ += buf_.size();
    buf_.clear();
    return Status::OK();
  }

  std::string path_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t written_ = 0;
  ExportSummary summary_;
};

struct ReplayFlags {
  std::string dir;
  Lsn until_lsn = 0;
  CLI::Option* until_lsn_opt = nullptr;
  std::string until_time;
  CLI::Option* until_time_opt = nullptr;
  std::string out;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
  bool json = false;
};

namespace fs = std::filesystem;

// True when `path` lies in (or is) `dir`, comparing canonical forms.
bool Inside(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path d = fs::weakly_canonical(dir, ec);
  if (ec) return false;
  const fs::path p = fs::weakly_canonical(path, ec);
  if (ec) return false;
  auto di = d.begin(), pi = p.begin();
  for (; di != d.end(); ++di, ++pi) {
    if (pi == p.end() || *di != *pi) return false;
  }
  return true;
}

void RunReplay(const ReplayFlags& f) {
  const bool by_time = f.until_time_opt->count() != 0;
  std::uint64_t until_time_ns = 0;
  if (by_time) {
    std::string err;
    const auto t = ParseTimeNs(f.until_time, &err);
    if (!t) throw CLI::ValidationError("--until-time", err);
    until_time_ns = *t;
  }
  const Lsn until_lsn = by_time ? kNoLsn : f.until_lsn;
  if (f.out.empty()) throw CLI::ValidationError("--out", "an empty file name");
  const std::string dir = CheckWalDir("replay", f.dir);
  const auto reader = OpenReaderOrFail("replay", dir, *ParseRecoveryMode(f.mode));
  const RecoveryReport& rep = reader->report();
  // Never write into the WAL's directories: replay is read-only.
  std::vector<std::string> wal_dirs{dir};
  for (const auto& s : rep.shards) wal_dirs.push_back(s.dir);
  for (const auto& d : wal_dirs) {
    if (Inside(fs::path(f.out), d)) {
      Fail("replay", "--out " + f.out + " lies inside the WAL directory " + d + "; write the export elsewhere",
           kExitUsageOrDir);
    }
  }
  if (!by_time && until_lsn < rep.checkpoint_lsn) {
    Fail("replay",
         "--until-lsn " + std::to_string(until_lsn) + " is below the checkpoint at LSN " +
             std::to_string(rep.checkpoint_lsn) + ": the WAL no longer holds the log up to it (it starts at LSN " +
             std::to_string(rep.checkpoint_lsn + 1) + ")",
         kExitFailure);
  }
  if (!by_time && until_lsn > rep.cut_lsn) {
    std::cerr << "shardwal replay: warning: --until-lsn " << until_lsn << " is above the consistent cut "
              << rep.cut_lsn << ": exporting up to LSN " << rep.cut_lsn << std::endl;
  }

  const std::string tmp = f.out + ".tmp";
  ExportWriter w;
  if (Status s = w.Open(tmp); !s.ok()) Fail("replay", s.ToString(), kExitFailure);
  ExportSummary summary;
  Status write_status;
  const Status s = reader->Replay(rep.checkpoint_lsn + 1, [&](const ReplayRecord& r) {
    // The export is a prefix in LSN order: it ends at the first record
    // past the bound, even if a later LSN (another shard) committed
    // earlier - that one was not yet covered by the durable watermark.
    if ((by_time && r.commit_time_ns > until_time_ns) || (!by_time && r.lsn > until_lsn)) {
      summary.next_lsn = r.lsn;
      summary.next_commit_time_ns = r.commit_time_ns;
      return false;
    }
    write_status = w.Add(r);
    return write_status.ok();
  });
  Status done = !s.ok() ? s : write_status;
  if (done.ok()) done = w.Finish(rep.checkpoint_lsn, rep.cut_lsn, until_lsn, until_time_ns, &summary);
  if (done.ok() && std::rename(tmp.c_str(), f.out.c_str()) != 0) {
    done = Status::IOError("cannot rename " + tmp + " to " + f.out + ": " + std::strerror(errno), errno);
  }
  if (!done.ok()) {
    ::unlink(tmp.c_str());
    Fail("replay", done.ToString(), kExitFailure);
  }
  {
    fs::path parent = fs::path(f.out).parent_path();
    if (parent.empty()) parent = ".";
    if (const int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  if (summary.records == 0) {
    std::cerr << "shardwal replay: warning: no record "
              << (by_time ? "committed at or before " + FormatTimeNs(until_time_ns)
                          : "at or below LSN " + std::to_string(until_lsn))
              << " above the checkpoint (LSN " << rep.checkpoint_lsn << "): the export holds none" << std::endl;
  }
  if (f.json) {
    nlohmann::ordered_json j;
    j["dir"] = dir;
    j["out"] = f.out;
    j["records"] = summary.records;
    j["first_lsn"] = summary.first_lsn;
    j["last_lsn"] = summary.last_lsn;
    j["bytes"] = summary.bytes;
    j["checkpoint_lsn"] = rep.checkpoint_lsn;
    j["cut_lsn"] = rep.cut_lsn;
    j["until_lsn"] = until_lsn;
    j["until_time_ns"] = until_time_ns;
    j["next_lsn"] = summary.next_lsn ? nlohmann::ordered_json(*summary.next_lsn) : nlohmann::ordered_json(nullptr);
    std::cout << JsonText(j) << std::endl;
    return;
  }
  std::cout << "replay " << dir << " -> " << f.out << "\n";
  std::cout << "  bound: "
            << (by_time ? "commit time <= " + FormatTimeNs(until_time_ns) + " (" + std::to_string(until_time_ns) + " ns)"
                        : "LSN <= " + std::to_string(until_lsn))
            << "\n";
  std::cout << "  exported: " << summary.records << " records";
  if (summary.records != 0) std::cout << " (LSN " << summary.first_lsn << ".." << summary.last_lsn << ")";
  std::cout << ", " << summary.bytes << " bytes\n";
  if (rep.checkpoint_lsn != kNoLsn) {
    std::cout << "  starts after the checkpoint at LSN " << rep.checkpoint_lsn << "\n";
  }
  if (summary.next_lsn) {
    std::cout << "  stopped before LSN " << *summary.next_lsn << " (committed "
              << FormatTimeNs(summary.next_commit_time_ns) << ")\n";
  } else {
    std::cout << "  the log ends at the consistent cut, LSN " << rep.cut_lsn << "\n";
  }
  std::cout.flush();
}

}  // namespace

void AddReplayCommand(CLI::App& app) {
  auto f = std::make_shared<ReplayFlags>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Export the log up to a moment (an LSN, or a commit time) in LSN order to a file, for restoring an engine to "
      "that point; the format is in docs/tools.md.");
  AddDirArg(cmd, &f->dir);
  CLI::Option_group* until = cmd->add_option_group("until", "Where the export ends (give exactly one)");
  f->until_lsn_opt = AddLsnOption(until, "--until-lsn", &f->until_lsn, "Export records with LSN <= L")->type_name("L");
  f->until_time_opt =
      until
          ->add_option("--until-time", f->until_time,
                       "Export the LSN prefix of records committed at or before T: nanoseconds since the Unix epoch, "
                       "or ISO-8601 such as 2024-05-01T12:00:00.25Z (no zone: UTC)")
          ->type_name("T");
  until->require_option(1);
  cmd->add_option("--out", f->out, "The export file (written to FILE.tmp, then renamed)")->required()->type_name("FILE");
  AddModeOption(cmd, &f->mode, "Recovery mode to read with (salvage reads past damage)");
  cmd->add_flag("--json", f->json, "Print the summary as one JSON object");
  cmd->footer(
      "Read-only for the WAL (no lock): safe while another process appends. The export starts after the WAL's "
      "checkpoint.\n"
      "Exit status: 0 ok, 1 the WAL could not be read or FILE not written, 2 bad usage or a directory that is "
      "missing, unreadable or not a WAL.");
  cmd->callback([f] { RunReplay(*f); });
}

}  // namespace shardwal::tools
