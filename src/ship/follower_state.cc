// SPDX-License-Identifier: Apache-2.0
#include "src/ship/follower_state.h"

#include <sys/uio.h>

#include <charconv>
#include <sstream>

#include "src/foundation/format.h"

namespace shardwal::ship {

namespace {

bool ParseU64(const std::string& text, std::uint64_t* out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string FollowerState::Encode() const {
  std::ostringstream out;
  out << "shardwal-follower 1\n";
  out << "stream " << stream << "\n";
  out << "nats " << nats_url << "\n";
  out << "wal_id " << (wal_id.empty() ? "-" : wal_id) << "\n";
  out << "shards " << shards << "\n";
  out << "base ";
  if (base) {
    out << *base;
  } else {
    out << "-";
  }
  out << "\nresume_seq " << resume_seq << "\n";
  out << "watermark " << watermark << "\n";
  for (std::size_t i = 0; i < shard.size(); ++i) {
    const FollowerShardState& s = shard[i];
    out << "shard " << i << " " << s.done_seq << " " << s.chain_lsn << " " << s.applied_lsn << " "
        << s.position.segment_seq << " " << s.position.offset << " " << s.position.segment_last_lsn << " "
        << s.position.last_commit_ns << "\n";
  }
  return out.str();
}

Result<FollowerState> FollowerState::Parse(const std::string& text, const std::string& path) {
  FollowerState st;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  const auto bad = [&](const std::string& why) {
    return Status::Corruption(path + " line " + std::to_string(lineno) + ": " + why + " ('" + line + "')");
  };
  while (std::getline(in, line)) {
    ++lineno;
    const std::size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp);
    const std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    std::uint64_t n = 0;
    if (lineno == 1) {
      if (line != "shardwal-follower 1") return bad("not a follower state file of format 1");
    } else if (key == "stream") {
      st.stream = value;
    } else if (key == "nats") {
      st.nats_url = value;
    } else if (key == "wal_id") {
      st.wal_id = value == "-" ? "" : value;
    } else if (key == "shards" && ParseU64(value, &n)) {
      // 0: no message received yet. Bounded before it sizes anything.
      if (n > format::kMaxShards) return bad("shards " + value + " (a WAL has 1.." + std::to_string(format::kMaxShards) + ")");
      st.shards = static_cast<std::uint32_t>(n);
    } else if (key == "base") {
      if (value != "-") {
        if (!ParseU64(value, &n)) return bad("bad base");
        st.base = n;
      }
    } else if (key == "resume_seq" && ParseU64(value, &n)) {
      st.resume_seq = n;
    } else if (key == "watermark" && ParseU64(value, &n)) {
      st.watermark = n;
    } else if (key == "shard") {
      std::istringstream f(value);
      std::uint64_t v[8];
      for (auto& x : v) {
        std::string word;
        if (!(f >> word) || !ParseU64(word, &x)) return bad("a shard line needs 8 numbers");
      }
      if (v[0] != st.shard.size()) return bad("shard lines out of order");
      FollowerShardState s;
      s.done_seq = v[1];
      s.chain_lsn = v[2];
      s.applied_lsn = v[3];
      s.position.segment_seq = v[4];
      s.position.offset = v[5];
      s.position.segment_last_lsn = v[6];
      s.position.shard_last_lsn = v[3];
      s.position.last_commit_ns = v[7];
      st.shard.push_back(s);
    } else if (!line.empty()) {
      return bad("unknown line");
    }
  }
  if (lineno == 0) return Status::Corruption(path + " is empty");
  if (st.stream.empty()) return Status::Corruption(path + ": no stream line");
  if (st.shard.empty()) st.shard.resize(st.shards);  // nothing held yet
  if (st.shard.size() != st.shards) {
    return Status::Corruption(path + ": " + std::to_string(st.shard.size()) + " shard lines for " +
                              std::to_string(st.shards) + " shards");
  }
  return st;
}

Result<std::string> ReadSmallFile(FileSystem& fs, const std::string& path) {
  auto exists = fs.FileExists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::NotFound(path + " does not exist");
  auto file = fs.NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string text(*size, '\0');
  auto n = (*file)->PRead(0, text.size(), text.data());
  if (!n.ok()) return n.status();
  text.resize(*n);
  return text;
}

Status ReplaceFile(FileSystem& fs, const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  // Left by a crash between its creation and the rename: never the live copy.
  auto stale = fs.FileExists(tmp);
  if (!stale.ok()) return stale.status().WithContext("writing " + path);
  if (*stale) {
    if (Status s = fs.DeleteFile(tmp); !s.ok()) return s.WithContext("writing " + path);
  }
  auto f = fs.NewWritableFile(tmp);
  if (!f.ok()) return f.status().WithContext("writing " + path);
  iovec iov{const_cast<char*>(text.data()), text.size()};
  Status s = (*f)->PWritev(&iov, 1, 0);
  if (s.ok()) s = (*f)->Sync();
  if (s.ok()) s = (*f)->Close();
  if (s.ok()) s = fs.RenameFile(tmp, path);
  if (s.ok()) s = fs.SyncDir(dir);
  return s.WithContext("writing " + path);
}

Result<FollowerState> LoadFollowerState(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + kFollowerFileName;
  auto text = ReadSmallFile(fs, path);
  if (!text.ok()) return text.status();
  return FollowerState::Parse(*text, path);
}

Status SaveFollowerState(FileSystem& fs, const std::string& dir, const FollowerState& s) {
  return ReplaceFile(fs, dir, kFollowerFileName, s.Encode());
}

Result<std::string> ReadPromotedFence(FileSystem& fs, const std::string& dir) {
  auto text = ReadSmallFile(fs, dir + "/" + kPromotedFileName);
  if (!text.ok() && text.status().IsNotFound()) return std::string();
  if (!text.ok()) return text.status();
  std::string t = std::move(*text);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

}  // namespace shardwal::ship
