// SPDX-License-Identifier: Apache-2.0
#include "src/foundation/manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "src/foundation/crc32c.h"

namespace shardwal {

namespace {
constexpr std::string_view kCrcMarker = "\n#crc32c:";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool ParseWalIdHex(const std::string& hex, format::WalId* out) {
  if (hex.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = HexDigit(hex[2 * i]), lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

namespace {

// JSON text followed by "\n#crc32c:xxxxxxxx\n": the MANIFEST's and the
// shard identity's shape.
std::string WithChecksum(const std::string& body) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x\n", crc32c::Value(body));
  return body + std::string(kCrcMarker) + crc;
}

// The JSON object of a checksummed text, or Corruption naming `path`.
Result<nlohmann::json> ParseChecksummed(const std::string& text, const std::string& path, std::string_view what) {
  const auto bad = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  const auto at = text.rfind(kCrcMarker);
  if (at == std::string::npos) return bad("no checksum line (truncated or not a shardwal " + std::string(what) + ")");
  const std::string body = text.substr(0, at);
  unsigned stored = 0;
  if (std::sscanf(text.c_str() + at + kCrcMarker.size(), "%8x", &stored) != 1 || stored != crc32c::Value(body)) {
    return bad("checksum mismatch");
  }
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON");
  return j;
}

Result<std::string> ReadSmallFile(FileSystem& fs, const std::string& path) {
  auto file = fs.NewReadableFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size > (64u << 20)) return Status::Corruption(path + ": " + std::to_string(*size) + " bytes is too large");
  std::string text(*size, '\0');
  auto got = (*file)->PRead(0, text.size(), text.data());
  if (!got.ok()) return got.status();
  text.resize(*got);
  return text;
}

bool IsUnsigned(const nlohmann::json& j, const char* key) { return j.contains(key) && j[key].is_number_unsigned(); }

}  // namespace

Status ReplaceFileDurably(FileSystem& fs, const std::string& dir, std::string_view name, const std::string& text,
                          FileAccess access) {
  const std::string path = dir + "/" + std::string(name);
  const std::string tmp = path + ".tmp";
  if (auto e = fs.FileExists(tmp); e.ok() && *e) {
    if (Status s = fs.DeleteFile(tmp); !s.ok()) return s;
  }
  auto file = fs.NewWritableFile(tmp, access);
  if (!file.ok()) return file.status().WithContext("writing " + path);
  iovec iov{const_cast<char*>(text.data()), text.size()};
  if (Status s = (*file)->PWritev(&iov, 1, 0); !s.ok()) return s.WithContext("writing " + path);
  if (Status s = (*file)->Sync(); !s.ok()) return s.WithContext("syncing " + path);
  if (Status s = (*file)->Close(); !s.ok()) return s;
  if (Status s = fs.RenameFile(tmp, path); !s.ok()) return s.WithContext("installing " + path);
  return fs.SyncDir(dir).WithContext("syncing " + dir + " after installing " + path);
}

// ---- WalSettings ------------------------------------------------------------------

WalSettings WalSettings::From(const Options& o) {
  WalSettings w;
  w.segment_bytes = o.segment_bytes.value_or(0);
  w.preallocation = o.preallocation.value_or(Preallocation::kZeroFill);
  w.recycle_segments = o.recycle_segments.value_or(0);
  w.retain_segments = o.retain_segments.value_or(0);
  w.retain_bytes = o.retain_bytes.value_or(0);
  w.retain_age = o.retain_age.value_or(std::chrono::seconds(0));
  w.max_wal_bytes = o.max_wal_bytes.value_or(0);
  return w;
}

void WalSettings::FillUnset(Options* o) const {
  if (!o->segment_bytes) o->segment_bytes = segment_bytes;
  if (!o->preallocation) o->preallocation = preallocation;
  if (!o->recycle_segments) o->recycle_segments = recycle_segments;
  if (!o->retain_segments) o->retain_segments = retain_segments;
  if (!o->retain_bytes) o->retain_bytes = retain_bytes;
  if (!o->retain_age) o->retain_age = retain_age;
  if (!o->max_wal_bytes) o->max_wal_bytes = max_wal_bytes;
}

// ---- ShardIdentity --------------------------------------------------------------

std::string ShardIdentity::Serialize() const {
  nlohmann::json j;
  j["format"] = 1;
  j["wal_id"] = WalIdHex(wal_id);
  j["shard"] = shard;
  return WithChecksum(j.dump(1));
}

Result<ShardIdentity> ShardIdentity::Parse(const std::string& text, const std::string& path) {
  auto j = ParseChecksummed(text, path, "shard identity");
  if (!j.ok()) return j.status();
  ShardIdentity id;
  if (!IsUnsigned(*j, "format") || (*j)["format"].get<std::uint64_t>() != 1) {
    return Status::NotSupported(path + ": unknown shard identity format");
  }
  if (!j->contains("wal_id") || !(*j)["wal_id"].is_string() ||
      !ParseWalIdHex((*j)["wal_id"].get<std::string>(), &id.wal_id) || !IsUnsigned(*j, "shard")) {
    return Status::Corruption(path + ": malformed shard identity");
  }
  id.shard = (*j)["shard"].get<std::uint32_t>();
  return id;
}

Result<ShardIdentity> ShardIdentity::Load(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + std::string(format::kShardIdentityFileName);
  auto exists = fs.FileExists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::NotFound(path + " does not exist");
  auto text = ReadSmallFile(fs, path);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

Status ShardIdentity::Save(FileSystem& fs, const std::string& dir, FileAccess access) const {
  return ReplaceFileDurably(fs, dir, format::kShardIdentityFileName, Serialize(), access);
}

std::string WalIdHex(const format::WalId& id) {
  std::string s;
  char buf[3];
  for (auto b : id) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

Manifest Manifest::Rebuilt(const format::WalId& id, std::vector<ManifestEpoch> epochs, Lsn checkpoint_lsn) {
  Manifest m;
  m.wal_id_ = id;
  m.epochs_ = std::move(epochs);
  m.checkpoint_lsn_ = checkpoint_lsn;
  return m;
}

Manifest Manifest::Create(const format::WalId& id, std::vector<std::string> shard_dirs, Consistency consistency) {
  Manifest m;
  m.wal_id_ = id;
  m.epochs_.push_back(ManifestEpoch{1, 1, std::move(shard_dirs), false, consistency});
  return m;
}

const ManifestEpoch* Manifest::FindEpoch(std::uint32_t epoch) const {
  for (const auto& e : epochs_) {
    if (e.epoch == epoch) return &e;
  }
  return nullptr;
}

std::vector<std::string> Manifest::AllShardDirs() const {
  std::vector<std::string> dirs;
  for (const auto& e : epochs_) {
    for (const auto& d : e.shard_dirs) {
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
  }
  return dirs;
}

Lsn Manifest::VoidFrom(std::uint32_t epoch) const {
  Lsn bound = std::numeric_limits<Lsn>::max();
  for (const auto& e : epochs_) {
    if (e.epoch > epoch) bound = std::min(bound, e.first_lsn);
  }
  return bound;
}

Lsn Manifest::GapsAcceptedBelow() const {
  Lsn below = 0;
  for (const auto& e : epochs_) {
    if (e.gaps_accepted) below = std::max(below, e.first_lsn);
  }
  return below;
}

bool Manifest::GapAcceptedAt(Lsn lsn) const {
  if (lsn < GapsAcceptedBelow()) return true;
  for (std::size_t i = 0; i < epochs_.size(); ++i) {
    if (epochs_[i].consistency != Consistency::kPerShard) continue;
    const Lsn end = i + 1 < epochs_.size() ? epochs_[i + 1].first_lsn : std::numeric_limits<Lsn>::max();
    if (lsn >= epochs_[i].first_lsn && lsn < end) return true;
  }
  return false;
}

std::uint64_t Manifest::FirstSegment(const std::string& dir) const { return Inventory(dir).first_segment; }

Lsn Manifest::ReleasedThrough(const std::string& dir) const {
  const ShardInventory& inv = Inventory(dir);
  if (inv.released_through == kNoLsn && inv.first_segment > 1) return checkpoint_lsn_;
  return inv.released_through;
}

const ShardInventory& Manifest::Inventory(const std::string& dir) const {
  static const ShardInventory kNone;
  auto it = inventory_.find(dir);
  return it == inventory_.end() ? kNone : it->second;
}

void Manifest::SetInventory(const std::string& dir, const ShardInventory& inventory) { inventory_[dir] = inventory; }

std::optional<std::uint32_t> Manifest::ShardIndexOf(const std::string& dir) const {
  for (auto e = epochs_.rbegin(); e != epochs_.rend(); ++e) {
    auto it = std::find(e->shard_dirs.begin(), e->shard_dirs.end(), dir);
    if (it != e->shard_dirs.end()) return static_cast<std::uint32_t>(it - e->shard_dirs.begin());
  }
  return std::nullopt;
}

void Manifest::SetCheckpoint(Lsn lsn, const std::map<std::string, std::uint64_t>& first_segment,
                             const std::set<std::uint32_t>& in_use, const std::map<std::string, Lsn>& released_through) {
  checkpoint_lsn_ = std::max(checkpoint_lsn_, lsn);
  for (const auto& [dir, seq] : first_segment) {
    if (seq > FirstSegment(dir)) inventory_[dir].first_segment = seq;
  }
  for (const auto& [dir, through] : released_through) {
    Lsn& r = inventory_[dir].released_through;
    r = std::max(r, through);
  }
  // An epoch older than every segment left matters only through its
  // first_lsn (voiding records of still older epochs, which are gone too),
  // or through gaps it accepted above the checkpoint. The newest stays.
  const std::uint32_t oldest_in_use = in_use.empty() ? current().epoch : *in_use.begin();
  std::erase_if(epochs_, [&](const ManifestEpoch& e) {
    const bool gaps_matter = e.gaps_accepted && e.first_lsn > checkpoint_lsn_ + 1;
    return e.epoch < oldest_in_use && e.epoch != current().epoch && !gaps_matter;
  });
  // A directory no epoch names any more has nothing left to track.
  const std::vector<std::string> dirs = AllShardDirs();
  std::erase_if(inventory_, [&](const auto& kv) {
    return std::find(dirs.begin(), dirs.end(), kv.first) == dirs.end();
  });
}

void Manifest::BeginEpoch(Lsn first_lsn, std::vector<std::string> shard_dirs, const std::set<std::uint32_t>& in_use,
                          bool gaps_accepted, Consistency consistency) {
  // Keep the promise of an epoch about to be pruned: gaps it accepted, and
  // gaps among what a per-shard epoch acknowledged (all below first_lsn:
  // this epoch starts above every record recovery kept).
  bool per_shard_before = false;
  for (const auto& e : epochs_) per_shard_before = per_shard_before || e.consistency == Consistency::kPerShard;
  gaps_accepted = gaps_accepted || per_shard_before || GapsAcceptedBelow() >= first_lsn;
  epochs_.push_back(
      ManifestEpoch{current().epoch + 1, first_lsn, std::move(shard_dirs), gaps_accepted, consistency});
  // An epoch with no segments matters only through its first_lsn, which
  // voids records of earlier epochs; a later epoch starting at or below it
  // voids at least as much, so it can go.
  for (std::size_t i = epochs_.size() - 1; i-- > 0;) {
    const bool repeated = epochs_[i + 1].first_lsn <= epochs_[i].first_lsn;
    if (repeated && !in_use.count(epochs_[i].epoch)) epochs_.erase(epochs_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

std::string Manifest::Serialize(const std::string& base_dir) const {
  const std::string prefix = base_dir.empty() ? "" : base_dir + "/";
  auto stored = [&](const std::string& d) {
    return !prefix.empty() && d.size() > prefix.size() && d.starts_with(prefix) ? d.substr(prefix.size()) : d;
  };
  nlohmann::json j;
  j["format"] = kFormatVersion;
  j["wal_id"] = WalIdHex(wal_id_);
  j["shard_count"] = current().shard_dirs.size();
  j["checkpoint_lsn"] = checkpoint_lsn_;
  j["shards"] = nlohmann::json::object();
  for (const auto& dir : AllShardDirs()) {
    const ShardInventory& inv = Inventory(dir);
    j["shards"][stored(dir)] = {{"first_segment", inv.first_segment},
                                {"last_segment", inv.last_segment},
                                {"durable_lsn", inv.durable_lsn}};
    // Optional (older MANIFESTs lack it; older readers ignore it).
    if (inv.released_through != kNoLsn) j["shards"][stored(dir)]["released_through"] = inv.released_through;
  }
  j["epochs"] = nlohmann::json::array();
  for (const auto& e : epochs_) {
    std::vector<std::string> dirs;
    for (const auto& d : e.shard_dirs) dirs.push_back(stored(d));
    nlohmann::json je = {{"epoch", e.epoch}, {"first_lsn", e.first_lsn}, {"shard_count", e.shard_dirs.size()},
                         {"shard_dirs", dirs}, {"consistency", ConsistencyName(e.consistency)}};
    if (e.gaps_accepted) je["gaps_accepted"] = true;
    j["epochs"].push_back(std::move(je));
  }
  if (settings_) {
    j["settings"] = {{"segment_bytes", settings_->segment_bytes},
                     {"preallocation", PreallocationName(settings_->preallocation)},
                     {"recycle_segments", settings_->recycle_segments},
                     {"retain_segments", settings_->retain_segments},
                     {"retain_bytes", settings_->retain_bytes},
                     {"retain_age_seconds", settings_->retain_age.count()},
                     {"max_wal_bytes", settings_->max_wal_bytes}};
  }
  return WithChecksum(j.dump(1));
}

Result<Manifest> Manifest::Parse(const std::string& text, const std::string& path, const std::string& base_dir) {
  const auto bad = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  auto parsed = ParseChecksummed(text, path, "MANIFEST");
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& j = *parsed;
  const auto& fmt = j.contains("format") ? j["format"] : nlohmann::json();
  if (!fmt.is_number_unsigned()) return bad("no format version");
  if (fmt.get<std::uint64_t>() < 1 || fmt.get<std::uint64_t>() > kFormatVersion) {
    return Status::NotSupported(path + ": manifest format " + std::to_string(fmt.get<std::uint64_t>()) +
                                " (this build reads 1 to " + std::to_string(kFormatVersion) + ")");
  }
  // Relative directories are inside the WAL's directory.
  const auto resolve = [&](std::string dir) {
    return dir.front() != '/' && !base_dir.empty() ? base_dir + "/" + dir : dir;
  };
  Manifest m;
  m.format_ = fmt.get<std::uint32_t>();
  if (!j.contains("wal_id") || !j["wal_id"].is_string() || !ParseWalIdHex(j["wal_id"].get<std::string>(), &m.wal_id_)) {
    return bad("bad wal_id");
  }
  if (!j.contains("epochs") || !j["epochs"].is_array() || j["epochs"].empty()) return bad("no epochs");
  for (const auto& e : j["epochs"]) {
    ManifestEpoch ep;
    if (!e.is_object() || !e.contains("epoch") || !e.contains("first_lsn") || !e.contains("shard_dirs") ||
        !e["epoch"].is_number_unsigned() || !e["first_lsn"].is_number_unsigned() || !e["shard_dirs"].is_array()) {
      return bad("malformed epoch entry");
    }
    ep.epoch = e["epoch"].get<std::uint32_t>();
    ep.first_lsn = e["first_lsn"].get<Lsn>();
    if (e.contains("gaps_accepted")) {
      if (!e["gaps_accepted"].is_boolean()) return bad("malformed gaps_accepted");
      ep.gaps_accepted = e["gaps_accepted"].get<bool>();
    }
    if (e.contains("consistency")) {
      const auto c = e["consistency"].is_string() ? ParseConsistency(e["consistency"].get<std::string>()) : std::nullopt;
      if (!c) return bad("malformed consistency of epoch " + std::to_string(ep.epoch));
      ep.consistency = *c;
    }
    for (const auto& d : e["shard_dirs"]) {
      if (!d.is_string() || d.get<std::string>().empty()) return bad("malformed shard directory");
      ep.shard_dirs.push_back(resolve(d.get<std::string>()));
    }
    if (ep.shard_dirs.empty()) return bad("epoch " + std::to_string(ep.epoch) + " has no shards");
    if (e.contains("shard_count") &&
        (!e["shard_count"].is_number_unsigned() || e["shard_count"].get<std::uint64_t>() != ep.shard_dirs.size())) {
      return bad("epoch " + std::to_string(ep.epoch) + " lists " + std::to_string(ep.shard_dirs.size()) +
                 " shard directories but says shard_count " + e["shard_count"].dump());
    }
    if (!m.epochs_.empty() && ep.epoch <= m.epochs_.back().epoch) return bad("epochs out of order");
    m.epochs_.push_back(std::move(ep));
  }
  if (j.contains("checkpoint_lsn")) {
    if (!j["checkpoint_lsn"].is_number_unsigned()) return bad("malformed checkpoint_lsn");
    m.checkpoint_lsn_ = j["checkpoint_lsn"].get<Lsn>();
  }
  if (j.contains("first_segment")) {  // format 1
    if (!j["first_segment"].is_object()) return bad("malformed first_segment");
    for (const auto& [dir, seq] : j["first_segment"].items()) {
      if (dir.empty() || !seq.is_number_unsigned() || seq.get<std::uint64_t>() == 0) {
        return bad("malformed first_segment entry for '" + dir + "'");
      }
      m.inventory_[resolve(dir)].first_segment = seq.get<std::uint64_t>();
    }
  }
  if (j.contains("shards")) {
    if (!j["shards"].is_object()) return bad("malformed shards");
    for (const auto& [dir, inv] : j["shards"].items()) {
      if (dir.empty() || !inv.is_object() || !IsUnsigned(inv, "first_segment") || !IsUnsigned(inv, "last_segment") ||
          !IsUnsigned(inv, "durable_lsn") || inv["first_segment"].get<std::uint64_t>() == 0) {
        return bad("malformed shards entry for '" + dir + "'");
      }
      if (inv.contains("released_through") && !IsUnsigned(inv, "released_through")) {
        return bad("malformed released_through for '" + dir + "'");
      }
      m.inventory_[resolve(dir)] = ShardInventory{inv["first_segment"].get<std::uint64_t>(),
                                                  inv["last_segment"].get<std::uint64_t>(),
                                                  inv["durable_lsn"].get<Lsn>(),
                                                  inv.value("released_through", Lsn{kNoLsn})};
    }
  }
  if (j.contains("settings")) {
    const auto& st = j["settings"];
    WalSettings w;
    const auto prealloc = st.is_object() && st.contains("preallocation") && st["preallocation"].is_string()
                              ? ParsePreallocation(st["preallocation"].get<std::string>())
                              : std::nullopt;
    if (!st.is_object() || !prealloc || !IsUnsigned(st, "segment_bytes") || !IsUnsigned(st, "recycle_segments") ||
        !IsUnsigned(st, "retain_segments") || !IsUnsigned(st, "retain_bytes") ||
        !IsUnsigned(st, "retain_age_seconds") || !IsUnsigned(st, "max_wal_bytes")) {
      return bad("malformed settings");
    }
    w.segment_bytes = st["segment_bytes"].get<std::uint64_t>();
    w.preallocation = *prealloc;
    w.recycle_segments = st["recycle_segments"].get<std::uint32_t>();
    w.retain_segments = st["retain_segments"].get<std::uint32_t>();
    w.retain_bytes = st["retain_bytes"].get<std::uint64_t>();
    w.retain_age = std::chrono::seconds(st["retain_age_seconds"].get<std::int64_t>());
    w.max_wal_bytes = st["max_wal_bytes"].get<std::uint64_t>();
    m.settings_ = w;
  }
  return m;
}

Result<Manifest> Manifest::Load(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + std::string(kFileName);
  auto exists = fs.FileExists(path);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::NotFound(path + " does not exist");
  auto text = ReadSmallFile(fs, path);
  if (!text.ok()) return text.status();
  return Parse(*text, path, dir);
}

Status Manifest::Save(FileSystem& fs, const std::string& dir, FileAccess access) const {
  return ReplaceFileDurably(fs, dir, kFileName, Serialize(dir), access);
}

}  // namespace shardwal
