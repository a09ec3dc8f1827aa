// `shardwal verify`, `dump` and `stats`: read-only looks at a WAL directory
// through LogReader (no lock, nothing modified, safe while another process
// appends), and the helpers every WAL-directory command shares.
#include "tools/cli_common.h"

#include <CLI/CLI.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "shardwal/file_system.h"
#include "shardwal/options.h"
#include "src/foundation/crc32c.h"
#include "src/foundation/manifest.h"

namespace shardwal::tools {

using json = nlohmann::ordered_json;

// ---- helpers -------------------------------------------------------------------

void Fail(std::string_view command, const std::string& message, int code) {
  std::cout.flush();
  std::cerr << "shardwal " << command << ": " << message << std::endl;
  throw CLI::RuntimeError(code);
}

namespace {

std::string Errno(int e) { return std::strerror(e); }

// A segment file (shard*.wal) in a subdirectory of `dir`, or "".
std::string SomeShardSegment(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return "";
  std::string found;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string sub = dir + "/" + name;
    DIR* sd = ::opendir(sub.c_str());
    if (sd == nullptr) continue;
    while (const dirent* f = ::readdir(sd)) {
      const std::string file = f->d_name;
      if (file.rfind("shard", 0) == 0 && file.size() > 4 && file.compare(file.size() - 4, 4, ".wal") == 0) {
        found = sub + "/" + file;
        break;
      }
    }
    ::closedir(sd);
    if (!found.empty()) break;
  }
  ::closedir(d);
  return found;
}

}  // namespace

std::string CheckWalDir(std::string_view command, const std::string& given) {
  if (given.empty()) Fail(command, "no WAL directory given", kExitUsageOrDir);
  std::string dir = given;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    const int e = errno;
    Fail(command, e == ENOENT ? dir + ": no such directory" : "cannot access " + dir + ": " + Errno(e),
         kExitUsageOrDir);
  }
  if (!S_ISDIR(st.st_mode)) Fail(command, dir + " is not a directory", kExitUsageOrDir);
  if (DIR* d = ::opendir(dir.c_str()); d != nullptr) {
    ::closedir(d);
  } else {
    Fail(command, "cannot read directory " + dir + ": " + Errno(errno), kExitUsageOrDir);
  }
  const std::string manifest = dir + "/MANIFEST";
  const int fd = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) {
      // A WAL that lost its MANIFEST is damage, not a foreign directory.
      if (const std::string seg = SomeShardSegment(dir); !seg.empty()) {
        Fail(command,
             dir + " has no MANIFEST, but holds shard segments (" + seg +
                 "): the WAL's MANIFEST was lost; `shardwal recover --rebuild-manifest " +
                 dir + "` rebuilds it from the segments",
             kExitFailure);
      }
      Fail(command, dir + " is not a shardwal WAL: it has no MANIFEST", kExitUsageOrDir);
    }
    Fail(command, "cannot read " + manifest + ": " + Errno(e), kExitUsageOrDir);
  }
  char head[64];
  const ssize_t n = ::read(fd, head, sizeof head);
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) Fail(command, "cannot read " + manifest + ": " + Errno(read_errno), kExitUsageOrDir);
  // A shardwal MANIFEST is a JSON object. Anything else is another
  // program's file (a damaged one of ours is the library's to report).
  ssize_t i = 0;
  while (i < n && std::isspace(static_cast<unsigned char>(head[i])) != 0) ++i;
  if (i < n && head[i] != '{') {
    Fail(command, dir + " is not a shardwal WAL: " + manifest + " is not a shardwal MANIFEST", kExitUsageOrDir);
  }
  return dir;
}

Result<ManifestInfo> ReadManifestInfo(const std::string& dir) {
  // Through the library's parser: checksum, format and every field checked.
  auto m = Manifest::Load(*FileSystem::Default(), dir);
  if (!m.ok()) return m.status();
  ManifestInfo info;
  info.wal_id = WalIdHex(m->wal_id());
  info.shard_dirs = m->current().shard_dirs;
  info.shard_count = static_cast<std::uint32_t>(info.shard_dirs.size());
  info.checkpoint_lsn = m->checkpoint_lsn();
  info.epochs = m->epochs().size();
  info.epoch = m->current().epoch;
  return info;
}

std::unique_ptr<LogReader> OpenReaderOrFail(std::string_view command, const std::string& dir, RecoveryMode mode) {
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  auto reader = LogReader::Open(o);
  if (reader.ok()) return std::move(*reader);
  const Status& s = reader.status();
  if (s.IsNotFound()) Fail(command, s.message(), kExitUsageOrDir);
  std::string msg = s.ToString();
  if (s.IsCorruption() && s.message().find("MANIFEST") == std::string::npos) {
    msg += "\n(mode " + std::string(RecoveryModeName(mode)) +
           "; `shardwal verify` lists every anomaly, and --mode point-in-time or salvage reads past them)";
  }
  Fail(command, msg, kExitFailure);
}

std::vector<std::string> RecoveryModeNames() {
  std::vector<std::string> names;
  for (auto m : {RecoveryMode::kTolerateTornTail, RecoveryMode::kAbsolute, RecoveryMode::kPointInTime,
                 RecoveryMode::kSalvage}) {
    names.emplace_back(RecoveryModeName(m));
  }
  return names;
}

std::string FormatTimeNs(std::uint64_t ns) {
  const auto secs = static_cast<std::time_t>(ns / 1'000'000'000ull);
  const auto frac = static_cast<unsigned long>(ns % 1'000'000'000ull);
  std::tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09luZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<std::uint64_t> ParseTimeNs(std::string_view s, std::string* error) {
  auto bad = [&](const std::string& why) -> std::optional<std::uint64_t> {
    *error = "'" + std::string(s) + "' is not a time (" + why +
             "): give nanoseconds since the Unix epoch or an ISO-8601 UTC time such as 2024-05-01T12:00:00.5Z";
    return std::nullopt;
  };
  if (s.empty()) return bad("empty");
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t v = 0;
    for (char c : s) {
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (v > (UINT64_MAX - d) / 10) return bad("too large");
      v = v * 10 + d;
    }
    return v;
  }
  std::size_t pos = 0;
  // Reads exactly `width` digits.
  auto digits = [&](std::size_t width, int* out) {
    if (pos + width > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos += width;
    *out = v;
    return true;
  };
  auto take = [&](char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, &year) || !take('-') || !digits(2, &month) || !take('-') || !digits(2, &day)) {
    return bad("expected YYYY-MM-DD");
  }
  std::uint64_t frac_ns = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!digits(2, &hour) || !take(':') || !digits(2, &minute)) return bad("expected HH:MM after the date");
    if (take(':')) {
      if (!digits(2, &second)) return bad("expected seconds");
      if (take('.') || take(',')) {
        int n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (n == 9) return bad("more than 9 fractional digits");
          frac_ns = frac_ns * 10 + static_cast<std::uint64_t>(s[pos] - '0');
          ++pos;
          ++n;
        }
        if (n == 0) return bad("expected digits after the decimal point");
        for (; n < 9; ++n) frac_ns *= 10;
      }
    }
  }
  std::int64_t offset_s = 0;  // local time = UTC + offset
  if (take('Z') || take('z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const bool minus = s[pos] == '-';
    ++pos;
    int oh = 0, om = 0;
    if (!digits(2, &oh)) return bad("expected a zone offset +HH:MM");
    if (take(':')) {
      if (!digits(2, &om)) return bad("expected a zone offset +HH:MM");
    } else if (pos < s.size()) {
      if (!digits(2, &om)) return bad("expected a zone offset +HH:MM");
    }
    if (oh > 23 || om > 59) return bad("zone offset out of range");
    offset_s = (minus ? -1 : 1) * (oh * 3600 + om * 60);
  }
  if (pos != s.size()) return bad("unexpected '" + std::string(s.substr(pos)) + "'");
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return bad("no such date");
  if (hour > 23 || minute > 59 || second > 60) return bad("time of day out of range");
  const std::int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  if (secs < 0) return bad("before 1970");
  if (static_cast<std::uint64_t>(secs) > (UINT64_MAX - frac_ns) / 1'000'000'000ull) return bad("too late");
  return static_cast<std::uint64_t>(secs) * 1'000'000'000ull + frac_ns;
}

std::string EscapeText(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += ch;
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
    }
  }
  return out;
}

std::string HexBytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

std::string JsonText(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::uint32_t Crc32c(std::uint32_t crc, const void* data, std::size_t n) {
  return crc32c::Extend(crc, data, n);  // ISA-L, as the WAL itself uses
}

bool AnomalyIsBenign(const Anomaly& a, RecoveryMode mode) {
  switch (a.kind) {
    case Anomaly::Kind::kTornTail:
    case Anomaly::Kind::kZeroedTail: return mode != RecoveryMode::kAbsolute;
    case Anomaly::Kind::kIgnoredFile: return true;
    default: return false;
  }
}

// ---- report rendering shared by verify and stats ----------------------------------

namespace {

std::string LsnRange(Lsn first, Lsn last) {
  return first == kNoLsn ? "-" : std::to_string(first) + ".." + std::to_string(last);
}

json AnomalyJson(const Anomaly& a, RecoveryMode mode) {
  json j;
  j["kind"] = std::string(AnomalyKindName(a.kind));
  j["shard"] = a.shard;
  j["file"] = a.file;
  j["offset"] = a.offset;
  j["bytes"] = a.bytes;
  j["last_good_lsn"] = a.last_good_lsn;
  j["message"] = a.message;
  j["benign"] = AnomalyIsBenign(a, mode);
  j["text"] = a.ToString();
  return j;
}

// The WAL-wide numbers of a report.
void ReportTotalsJson(const RecoveryReport& r, json* j) {
  (*j)["checkpoint_lsn"] = r.checkpoint_lsn;
  (*j)["cut_lsn"] = r.cut_lsn;
  (*j)["first_lsn"] = r.first_lsn;
  (*j)["max_lsn_seen"] = r.max_lsn_seen;
  (*j)["records"] = r.records;
  (*j)["records_checkpointed"] = r.records_checkpointed;
  (*j)["bytes_scanned"] = r.bytes_scanned;
  std::uint64_t segments = 0, above = 0;
  for (const auto& s : r.shards) {
    segments += s.segments;
    above += s.records_cut;
  }
  (*j)["segments"] = segments;
  (*j)["records_above_cut"] = above;
  (*j)["missing_lsns"] = r.missing_lsns;  // the library lists the first 1000
  (*j)["missing_lsns_truncated"] = r.missing_lsns.size() >= 1000;
}

// A fixed-width table, right-aligned numbers, the last column left-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const {
    std::vector<std::size_t> w(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size() && i < w.size(); ++i) w[i] = std::max(w[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        const bool last = i + 1 == row.size();
        if (i != 0) line += "  ";
        if (last) {
          line += row[i];
        } else {
          line += std::string(w[i] - row[i].size(), ' ') + row[i];
        }
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// ---- verify -----------------------------------------------------------------------

struct VerifyFlags {
  std::string dir;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
  bool json = false;
};

void RunVerify(const VerifyFlags& f) {
  const std::string dir = CheckWalDir("verify", f.dir);
  const RecoveryMode mode = *ParseRecoveryMode(f.mode);
  Options o;
  o.dir = dir;
  o.recovery_mode = mode;
  auto reader = LogReader::Open(o);
  std::optional<RecoveryReport> report;
  RecoveryMode report_mode = mode;
  std::string error;
  std::string rescan_error;
  if (reader.ok()) {
    report = (*reader)->report();
  } else {
    if (reader.status().IsNotFound()) Fail("verify", reader.status().message(), kExitUsageOrDir);
    error = reader.status().ToString();
    // The requested mode stops at the first anomaly it does not accept;
    // salvage reads past everything and lists it all.
    if (mode != RecoveryMode::kSalvage) {
      o.recovery_mode = RecoveryMode::kSalvage;
      if (auto salvage = LogReader::Open(o); salvage.ok()) {
        report = (*salvage)->report();
        report_mode = RecoveryMode::kSalvage;
      } else {
        rescan_error = salvage.status().ToString();
      }
    }
  }
  std::size_t damaged = 0, benign = 0;
  if (report) {
    for (const auto& a : report->anomalies) (AnomalyIsBenign(a, mode) ? benign : damaged)++;
  }
  const bool clean = reader.ok() && damaged == 0;

  if (f.json) {
    json j;
    j["dir"] = dir;
    j["mode"] = f.mode;
    j["clean"] = clean;
    j["error"] = error.empty() ? json(nullptr) : json(error);
    if (!rescan_error.empty()) j["rescan_error"] = rescan_error;
    j["report_mode"] = report ? json(std::string(RecoveryModeName(report_mode))) : json(nullptr);
    if (report) {
      ReportTotalsJson(*report, &j);
      json shards = json::array();
      for (const auto& s : report->shards) {
        shards.push_back({{"shard", s.shard},
                          {"dir", s.dir},
                          {"segments", s.segments},
                          {"bytes", s.bytes},
                          {"records", s.records},
                          {"first_lsn", s.first_lsn},
                          {"last_lsn", s.last_lsn},
                          {"records_above_cut", s.records_cut}});
      }
      j["shards"] = std::move(shards);
      json anomalies = json::array();
      for (const auto& a : report->anomalies) anomalies.push_back(AnomalyJson(a, mode));
      j["anomalies"] = std::move(anomalies);
    }
    std::cout << JsonText(j) << std::endl;
  } else {
    std::ostream& out = std::cout;
    out << "verify " << dir << " (mode " << f.mode << ")\n";
    if (!error.empty()) {
      out << "error: " << error << "\n";
      if (report) {
        out << "re-scanned in salvage mode to list every anomaly:\n";
      } else if (!rescan_error.empty() && rescan_error != error) {
        out << "a salvage re-scan failed too: " << rescan_error << "\n";
      }
    }
    if (report) {
      Table t({"shard", "segments", "bytes", "records", "LSNs", "above_cut", "dir"});
      for (const auto& s : report->shards) {
        t.Add({std::to_string(s.shard), std::to_string(s.segments), std::to_string(s.bytes), std::to_string(s.records),
               LsnRange(s.first_lsn, s.last_lsn), std::to_string(s.records_cut), s.dir});
      }
      t.Print(out);
      out << "checkpoint LSN " << report->checkpoint_lsn << ", consistent cut " << report->cut_lsn << ", "
          << report->records << " records (LSN " << LsnRange(report->first_lsn, report->cut_lsn) << ")"
          << ", highest LSN seen " << report->max_lsn_seen << "\n";
      if (!report->missing_lsns.empty()) {
        out << report->missing_lsns.size() << (report->missing_lsns.size() >= 1000 ? "+" : "")
            << " LSNs missing below the highest, first " << report->missing_lsns.front() << "\n";
      }
      if (report->anomalies.empty()) {
        out << "anomalies: none\n";
      } else {
        out << "anomalies: " << report->anomalies.size() << "\n";
        for (const auto& a : report->anomalies) {
          out << "  " << (AnomalyIsBenign(a, mode) ? "[tolerated] " : "[damage] ") << a.ToString() << "\n";
        }
      }
    }
    if (clean) {
      out << "result: clean";
      if (benign != 0) out << " (" << benign << " tolerated: a torn or zeroed tail is what a crash leaves)";
      out << "\n";
    } else {
      out << "result: DAMAGED";
      if (damaged != 0) {
        out << " (" << damaged << " anomal" << (damaged == 1 ? "y" : "ies") << " that mode " << f.mode
            << " does not accept)";
      }
      out << "\n";
    }
    out.flush();
  }
  if (!clean) throw CLI::RuntimeError(kExitFailure);
}

// ---- dump -------------------------------------------------------------------------

struct DumpFlags {
  std::string dir;
  Lsn from = 0;
  Lsn to = 0;
  CLI::Option* to_opt = nullptr;
  std::vector<std::string> tags;
  std::vector<std::uint32_t> shards;
  bool json = false;
  std::string payload = "none";
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
};

// Buffered stdout: a dump may be millions of lines.
class OutBuffer {
 public:
  ~OutBuffer() { Flush(); }
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= (1u << 20)) Flush();
  }
  void Flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
    std::fflush(stdout);
  }

 private:
  std::string buf_;
};

std::string TypeName(RecordType t) {
  const auto v = static_cast<unsigned>(t);
  if (v >= kFirstUserRecordType) return "user:" + std::to_string(v);
  return std::string(RecordTypeName(t));
}

void RunDump(const DumpFlags& f) {
  if (f.to_opt->count() != 0 && f.to < f.from) {
    throw CLI::ValidationError("--to", "--to " + std::to_string(f.to) + " is below --from " + std::to_string(f.from));
  }
  const std::string dir = CheckWalDir("dump", f.dir);
  const auto reader = OpenReaderOrFail("dump", dir, *ParseRecoveryMode(f.mode));
  const RecoveryReport& rep = reader->report();
  for (const std::uint32_t s : f.shards) {
    if (s >= rep.shards.size()) {
      Fail("dump", "--shard " + std::to_string(s) + ": the WAL has shards 0.." + std::to_string(rep.shards.size() - 1),
           kExitUsageOrDir);
    }
  }
  const bool has_to = f.to_opt->count() != 0;
  const int payload_mode = f.payload == "hex" ? 1 : f.payload == "text" ? 2 : 0;
  OutBuffer out;
  std::string line;
  const Status s = reader->Replay(std::max<Lsn>(f.from, 1), [&](const ReplayRecord& r) {
    if (has_to && r.lsn > f.to) return false;
    if (!f.shards.empty() && std::find(f.shards.begin(), f.shards.end(), r.shard) == f.shards.end()) return true;
    if (!f.tags.empty() && std::find(f.tags.begin(), f.tags.end(), r.tag) == f.tags.end()) return true;
    if (f.json) {
      json j;
      j["lsn"] = r.lsn;
      j["shard"] = r.shard;
      j["type"] = TypeName(r.type);
      if (IsValidUtf8(r.tag)) {
        j["tag"] = std::string(r.tag);
      } else {
        j["tag"] = EscapeText(r.tag);
        j["tag_hex"] = HexBytes(r.tag);
      }
      j["bytes"] = r.payload.size();
      if (r.txn_id != 0) j["txn"] = r.txn_id;
      j["commit_time_ns"] = r.commit_time_ns;
      j["commit_time"] = FormatTimeNs(r.commit_time_ns);
      if (payload_mode == 1) j["payload"] = HexBytes(r.payload);
      if (payload_mode == 2) j["payload"] = EscapeText(r.payload);
      line = JsonText(j);
    } else {
      line = "lsn=" + std::to_string(r.lsn) + " shard=" + std::to_string(r.shard) + " time=" +
             FormatTimeNs(r.commit_time_ns) + " type=" + TypeName(r.type);
      if (r.txn_id != 0) line += " txn=" + std::to_string(r.txn_id);
      line += " tag=\"" + EscapeText(r.tag) + "\" bytes=" + std::to_string(r.payload.size());
      if (payload_mode == 1) line += " payload=" + HexBytes(r.payload);
      if (payload_mode == 2) line += " payload=\"" + EscapeText(r.payload) + "\"";
    }
    line += '\n';
    out.Append(line);
    return true;
  });
  out.Flush();
  if (!s.ok()) Fail("dump", s.ToString(), kExitFailure);
}

// ---- stats ------------------------------------------------------------------------

struct StatsFlags {
  std::string dir;
  bool json = false;
  bool tags = false;
  std::string mode = std::string(RecoveryModeName(RecoveryMode::kTolerateTornTail));
};

struct TagCount {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

void RunStats(const StatsFlags& f) {
  const std::string dir = CheckWalDir("stats", f.dir);
  const RecoveryMode mode = *ParseRecoveryMode(f.mode);
  const auto reader = OpenReaderOrFail("stats", dir, mode);
  const RecoveryReport& rep = reader->report();
  auto manifest = ReadManifestInfo(dir);
  if (!manifest.ok()) Fail("stats", manifest.status().ToString(), kExitFailure);

  // Per shard: the durable frontier is its last LSN at or below the cut
  // (what the report keeps); its last LSN is the highest valid one found,
  // which is above the cut where a shard flushed ahead of the others before
  // a crash. Those records are only visible to a salvage read, so look
  // there (from the cut on) only when some shard has any.
  std::vector<Lsn> last(rep.shards.size(), kNoLsn);
  for (std::size_t i = 0; i < rep.shards.size(); ++i) last[i] = rep.shards[i].last_lsn;
  const bool any_above = std::any_of(rep.shards.begin(), rep.shards.end(), [](const auto& s) { return s.records_cut; });
  if (any_above && mode != RecoveryMode::kSalvage) {
    Options o;
    o.dir = dir;
    o.recovery_mode = RecoveryMode::kSalvage;
    if (auto salvage = LogReader::Open(o); salvage.ok() && (*salvage)->report().shards.size() == last.size()) {
      const Status s = (*salvage)->Replay(rep.cut_lsn + 1, [&](const ReplayRecord& r) {
        if (r.shard < last.size()) last[r.shard] = std::max(last[r.shard], r.lsn);
        return true;
      });
      if (!s.ok()) std::cerr << "shardwal stats: reading records above the cut: " << s.ToString() << std::endl;
    }
  }

  std::map<std::string, TagCount> tags;
  if (f.tags) {
    const Status s = reader->Replay(kNoLsn, [&](const ReplayRecord& r) {
      TagCount& t = tags[std::string(r.tag)];
      ++t.records;
      t.bytes += r.payload.size();
      return true;
    });
    if (!s.ok()) Fail("stats", s.ToString(), kExitFailure);
  }

  std::uint64_t segments = 0, bytes = 0;
  for (const auto& s : rep.shards) {
    segments += s.segments;
    bytes += s.bytes;
  }
  if (f.json) {
    json j;
    j["dir"] = dir;
    j["mode"] = f.mode;
    j["wal_id"] = manifest->wal_id;
    j["epoch"] = manifest->epoch;
    j["shard_count"] = manifest->shard_count;
    ReportTotalsJson(rep, &j);
    j["bytes"] = bytes;
    j["anomaly_count"] = rep.anomalies.size();
    json shards = json::array();
    for (std::size_t i = 0; i < rep.shards.size(); ++i) {
      const ShardRecovery& s = rep.shards[i];
      shards.push_back({{"shard", s.shard},
                        {"dir", s.dir},
                        {"segments", s.segments},
                        {"bytes", s.bytes},
                        {"records", s.records},
                        {"first_lsn", s.first_lsn},
                        {"last_lsn", last[i]},
                        {"durable_frontier", s.last_lsn},
                        {"records_above_cut", s.records_cut}});
    }
    j["shards"] = std::move(shards);
    if (f.tags) {
      json t = json::array();
      for (const auto& [tag, c] : tags) {
        json e;
        if (IsValidUtf8(tag)) {
          e["tag"] = tag;
        } else {
          e["tag"] = EscapeText(tag);
          e["tag_hex"] = HexBytes(tag);
        }
        e["records"] = c.records;
        e["bytes"] = c.bytes;
        t.push_back(std::move(e));
      }
      j["tags"] = std::move(t);
    }
    std::cout << JsonText(j) << std::endl;
    return;
  }
  std::ostream& out = std::cout;
  out << "WAL " << dir << ": id " << manifest->wal_id << ", epoch " << manifest->epoch << ", "
      << manifest->shard_count << " shards (read in mode " << f.mode << ")\n";
  Table t({"shard", "segments", "bytes", "records", "first_lsn", "last_lsn", "frontier", "above_cut", "dir"});
  std::uint64_t above = 0;
  for (std::size_t i = 0; i < rep.shards.size(); ++i) {
    const ShardRecovery& s = rep.shards[i];
    above += s.records_cut;
    t.Add({std::to_string(s.shard), std::to_string(s.segments), std::to_string(s.bytes), std::to_string(s.records),
           std::to_string(s.first_lsn), std::to_string(last[i]), std::to_string(s.last_lsn),
           std::to_string(s.records_cut), s.dir});
  }
  t.Add({"total", std::to_string(segments), std::to_string(bytes), std::to_string(rep.records),
         std::to_string(rep.first_lsn), std::to_string(rep.max_lsn_seen), std::to_string(rep.cut_lsn),
         std::to_string(above), ""});
  t.Print(out);
  out << "checkpoint LSN: " << rep.checkpoint_lsn;
  if (rep.records_checkpointed != 0) out << " (" << rep.records_checkpointed << " records at or below it still on disk)";
  out << "\n";
  out << "consistent cut: " << rep.cut_lsn << "\n";
  out << "records: " << rep.records << " (LSN " << LsnRange(rep.first_lsn, rep.cut_lsn) << ")\n";
  out << "anomalies: " << rep.anomalies.size();
  if (!rep.anomalies.empty()) out << " (`shardwal verify` lists them)";
  out << "\n";
  if (f.tags) {
    out << "\n";
    Table tt({"records", "bytes", "tag"});
    for (const auto& [tag, c] : tags) {
      tt.Add({std::to_string(c.records), std::to_string(c.bytes), tag.empty() ? "(untagged)" : "\"" + EscapeText(tag) + "\""});
    }
    tt.Print(out);
  }
  out.flush();
}

}  // namespace

CLI::Option* AddDirArg(CLI::App* cmd, std::string* dir) {
  return cmd->add_option("dir", *dir, "The WAL directory (the one holding MANIFEST)")->required()->type_name("DIR");
}

CLI::Option* AddModeOption(CLI::App* cmd, std::string* mode, const std::string& help) {
  return cmd->add_option("--mode", *mode, help)
      ->type_name("MODE")
      ->capture_default_str()
      ->check(CLI::IsMember(RecoveryModeNames()));
}

CLI::Option* AddLsnOption(CLI::App* cmd, const std::string& name, Lsn* lsn, const std::string& help, Lsn min) {
  return cmd->add_option(name, *lsn, help)
      ->type_name("LSN")
      ->check(CLI::Validator(
          [min](std::string& v) -> std::string {
            const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (!digits) return "'" + v + "' is not an LSN (a non-negative integer)";
            Lsn n = 0;
            for (const char c : v) {
              const auto d = static_cast<Lsn>(c - '0');
              if (n > (~Lsn{0} - d) / 10) return "'" + v + "' is too large for an LSN";
              n = n * 10 + d;
            }
            if (n < min) return "must be at least " + std::to_string(min) + ", got " + v;
            return std::string();
          },
          ""));
}

// ---- registration ---------------------------------------------------------------

void AddVerifyCommand(CLI::App& app) {
  auto f = std::make_shared<VerifyFlags>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check every shard and segment of a WAL (MANIFEST, headers, framing, CRC32C, LSN order) without modifying "
      "anything; print a per-shard summary and every anomaly with shard, file, offset and LSN.");
  AddDirArg(cmd, &f->dir);
  AddModeOption(cmd, &f->mode,
                "Recovery mode to verify against: tolerate-torn-tail accepts a torn tail, absolute accepts nothing; "
                "point-in-time and salvage read past damage (which is still reported as damage)");
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 clean (a torn or zeroed tail is reported, and clean), 1 anything corrupt or missing, 2 bad "
      "usage or a directory that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunVerify(*f); });
}

void AddDumpCommand(CLI::App& app) {
  auto f = std::make_shared<DumpFlags>();
  CLI::App* cmd = app.add_subcommand(
      "dump", "Print the records of a WAL in LSN order (merged across shards, up to the consistent cut).");
  AddDirArg(cmd, &f->dir);
  AddLsnOption(cmd, "--from", &f->from, "First LSN to print");
  f->to_opt = AddLsnOption(cmd, "--to", &f->to, "Last LSN to print (inclusive)");
  cmd->add_option("--tag", f->tags, "Only records with this tag (repeatable)")->type_name("TAG")->allow_extra_args(false);
  cmd->add_option("--shard", f->shards, "Only records of this shard (repeatable)")
      ->type_name("S")
      ->allow_extra_args(false);
  cmd->add_flag("--json", f->json, "One JSON object per line");
  cmd->add_option("--payload", f->payload,
                  "Print the payload: none, hex, or text (printable ASCII as is, other bytes escaped: \\n \\t \\\\ "
                  "\\\" \\xNN)")
      ->type_name("HOW")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "hex", "text"}));
  AddModeOption(cmd, &f->mode, "Recovery mode to read with (salvage reads past damage)");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 ok, 1 the WAL could not be read (e.g. corruption the mode does not accept), 2 bad usage or a "
      "directory that is missing, unreadable or not a WAL.");
  cmd->callback([f] { RunDump(*f); });
}

void AddStatsCommand(CLI::App& app) {
  auto f = std::make_shared<StatsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Per shard: segments, bytes, records, first and last LSN and durable frontier; the checkpoint and the "
      "consistent cut; with --tags, records per tag.");
  AddDirArg(cmd, &f->dir);
  cmd->add_flag("--json", f->json, "Print one JSON object instead of text");
  cmd->add_flag("--tags", f->tags, "Count records and payload bytes per tag (reads every record)");
  AddModeOption(cmd, &f->mode, "Recovery mode to read with (salvage reads past damage)");
  cmd->footer(
      "Read-only (no lock): safe while another process appends.\n"
      "Exit status: 0 ok, 1 the WAL could not be read, 2 bad usage or a directory that is missing, unreadable or "
      "not a WAL.");
  cmd->callback([f] { RunStats(*f); });
}

void AddInspectCommands(CLI::App& app) {
  AddVerifyCommand(app);
  AddDumpCommand(app);
  AddStatsCommand(app);
  AddReplayCommand(app);
  AddCheckpointCommand(app);
  AddRecoverCommand(app);
}

}  // namespace shardwal::tools
