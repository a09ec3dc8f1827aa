// SPDX-License-Identifier: Apache-2.0
// DurabilityModel's power loss: which unsynced mutations and directory
// entries survive, and rewriting the base file system to match.
#include <algorithm>
#include <map>
#include <set>

#include "shardwal/testing/durability_model.h"
#include "src/testing/file_bytes.h"

namespace shardwal {
namespace {

using namespace testing_internal;
// [first, second): a range of file offsets.
using Range = std::pair<std::uint64_t, std::uint64_t>;

std::uint64_t UniformUpTo(std::uint64_t max, std::mt19937_64& rng) {
  return std::uniform_int_distribution<std::uint64_t>(0, max)(rng);
}

// Writes `len` zeros at `offset`, a bounded buffer at a time.
Status WriteZeros(WritableFile& file, std::uint64_t offset, std::uint64_t len) {
  static const std::string kZeros(64 << 10, '\0');
  while (len > 0) {
    const std::uint64_t n = std::min<std::uint64_t>(len, kZeros.size());
    if (Status s = WriteBack(file, offset, std::string_view(kZeros).substr(0, n)); !s.ok()) return s;
    offset += n;
    len -= n;
  }
  return Status::OK();
}

// A set of file offsets, kept as disjoint ranges.
class RangeSet {
 public:
  void Add(Range r) {
    if (r.first >= r.second) return;
    auto it = ranges_.upper_bound(r.first);
    if (it != ranges_.begin() && std::prev(it)->second >= r.first) --it;
    while (it != ranges_.end() && it->first <= r.second) {  // overlapping or touching: merge
      r.first = std::min(r.first, it->first);
      r.second = std::max(r.second, it->second);
      it = ranges_.erase(it);
    }
    ranges_.emplace(r.first, r.second);
  }

  // The parts of `r` outside the set, in order.
  std::vector<Range> Missing(Range r) const {
    std::vector<Range> out;
    auto it = ranges_.upper_bound(r.first);
    if (it != ranges_.begin() && std::prev(it)->second > r.first) --it;
    std::uint64_t at = r.first;
    for (; it != ranges_.end() && it->first < r.second; ++it) {
      if (it->first > at) out.emplace_back(at, it->first);
      at = std::max(at, it->second);
    }
    if (at < r.second) out.emplace_back(at, r.second);
    return out;
  }

 private:
  std::map<std::uint64_t, std::uint64_t> ranges_;  // first -> second
};

// All of a mutation, as Survivors::kept holds it: a write's bytes, or the
// size change (of a resize, or of a write clipped to no bytes by a cut).
std::vector<Range> Whole(const auto& m) {
  if (m.len > 0) return {{m.offset, m.offset + m.len}};
  if (m.new_size > m.old_size) return {{m.old_size, m.new_size}};
  return {};
}

// Undoes the write `m` in `r` (a part of it): puts back the bytes it
// overwrote there, and zeros where it lay beyond the file's end then (only
// below `size`, where the file is cut afterwards anyway).
Status UndoWrite(WritableFile& file, const auto& m, Range r, std::uint64_t size) {
  const std::uint64_t old_end = m.offset + m.old_bytes.size();
  if (r.first < old_end) {
    const std::string_view old_bytes(m.old_bytes);
    const std::uint64_t end = std::min(r.second, old_end);
    if (Status s = WriteBack(file, r.first, old_bytes.substr(r.first - m.offset, end - r.first)); !s.ok()) return s;
  }
  const std::uint64_t zeros_from = std::max(r.first, old_end), zeros_to = std::min(r.second, size);
  return zeros_from < zeros_to ? WriteZeros(file, zeros_from, zeros_to - zeros_from) : Status::OK();
}

}  // namespace

DurabilityModel::Survivors DurabilityModel::ChooseSurvivors(const FileState& file, LossMode mode,
                                                                               std::mt19937_64& rng) {
  const std::vector<Mutation>& ms = file.unsynced;
  auto is_write = [](const Mutation& m) { return m.kind == Mutation::Kind::kWrite; };
  Survivors keep;
  keep.kept.resize(ms.size());
  // The first `whole` mutations, then the first `partial` bytes of the next
  // one (a write).
  auto prefix = [&](std::size_t whole, std::uint64_t partial) {
    for (std::size_t i = 0; i < whole; ++i) keep.kept[i] = Whole(ms[i]);
    if (partial > 0 && whole < ms.size()) keep.kept[whole] = {{ms[whole].offset, ms[whole].offset + partial}};
  };
  switch (mode) {
    case LossMode::kDropUnsynced:
      break;
    case LossMode::kKeepRandomPrefix: {
      // Counted in bytes, so that for appends this is "a random prefix of the
      // unsynced bytes", one draw per file as ever.
      auto weight = [&](const Mutation& m) { return is_write(m) ? m.len : 1; };
      std::uint64_t total = 0;
      for (const Mutation& m : ms) total += weight(m);
      std::uint64_t budget = UniformUpTo(total, rng);
      std::size_t whole = 0;
      for (; whole < ms.size() && budget >= weight(ms[whole]); ++whole) budget -= weight(ms[whole]);
      // `budget` is now less than the next one's length: a part of it, if a write.
      prefix(whole, whole < ms.size() && is_write(ms[whole]) ? budget : 0);
      break;
    }
    case LossMode::kTearLastWrite: {
      auto last = std::find_if(ms.rbegin(), ms.rend(), is_write);
      if (last == ms.rend()) {
        prefix(ms.size(), 0);
        break;
      }
      // Strictly shorter than the write, so it really is torn.
      const std::uint64_t torn = last->len == 0 ? 0 : UniformUpTo(last->len - 1, rng);
      prefix(static_cast<std::size_t>(std::prev(last.base()) - ms.begin()), torn);
      break;
    }
    case LossMode::kRandomPages: {
      // One probability per file, so that across seeds some files keep
      // nearly everything and others nearly nothing.
      std::bernoulli_distribution survives(std::uniform_real_distribution<double>(0.0, 1.0)(rng));
      for (std::size_t i = 0; i < ms.size(); ++i) {
        const Mutation& m = ms[i];
        // A size change is one metadata update: all or nothing.
        if (!is_write(m) || m.zero_fill || m.len == 0) {
          if (survives(rng)) keep.kept[i] = Whole(m);
          continue;
        }
        const std::uint64_t end = m.offset + m.len;
        std::vector<Range>& kept = keep.kept[i];
        for (std::uint64_t page = m.offset / kPageSize; page * kPageSize < end; ++page) {
          if (!survives(rng)) continue;
          const Range part{std::max(m.offset, page * kPageSize), std::min(end, (page + 1) * kPageSize)};
          if (!kept.empty() && kept.back().second == part.first) {
            kept.back().second = part.second;  // adjacent pages: one range
          } else {
            kept.push_back(part);
          }
        }
      }
      break;
    }
    case LossMode::kTornSector: {
      auto last = std::find_if(ms.rbegin(), ms.rend(), [&](const Mutation& m) { return is_write(m) && m.len > 0; });
      if (last == ms.rend()) {
        prefix(ms.size(), 0);
        break;
      }
      const std::uint64_t end = last->offset + last->len;
      const std::uint64_t first_sector = last->offset / kSectorSize, last_sector = (end - 1) / kSectorSize;
      const std::uint64_t torn = first_sector + UniformUpTo(last_sector - first_sector, rng);
      // The write's part of the torn sector: a proper, non-empty prefix of it
      // is new (none if it is a single byte).
      const std::uint64_t a = std::max(last->offset, torn * kSectorSize);
      const std::uint64_t b = std::min(end, (torn + 1) * kSectorSize);
      const std::uint64_t new_bytes = b - a >= 2 ? 1 + UniformUpTo(b - a - 2, rng) : 0;
      prefix(static_cast<std::size_t>(std::prev(last.base()) - ms.begin()), a + new_bytes - last->offset);
      keep.min_size = b;  // the sector reached the disk whole: old bytes, or zeros, after the new ones
      break;
    }
  }
  return keep;
}

Status DurabilityModel::RollBack(const std::string& path, const FileState& file, const Survivors& keep) {
  auto out = base_->ReopenWritableFile(path);
  if (!out.ok()) return IgnoreMissing(out.status());
  WritableFile& f = **out;
  const std::vector<Mutation>& ms = file.unsynced;
  // The durable size, grown to cover whatever survives.
  std::uint64_t size = std::max(ms.empty() ? file.size : ms.front().old_size, keep.min_size);
  for (const std::vector<Range>& kept : keep.kept) {
    for (const Range& r : kept) size = std::max(size, r.second);
  }
  // Newest first, so that each undone write gets back exactly what it
  // overwrote, except where a newer surviving write lies on top (its bytes
  // are final, and the bytes it overwrote are the older write's anyway).
  RangeSet newer_kept;
  Status s;
  for (std::size_t i = ms.size(); i-- > 0 && s.ok();) {
    const Mutation& m = ms[i];
    if (m.len == 0) continue;  // a size change: `size` says what survives of it
    RangeSet kept_here;
    for (const Range& r : keep.kept[i]) kept_here.Add(r);
    for (const Range& lost : kept_here.Missing({m.offset, m.offset + m.len})) {
      for (const Range& r : newer_kept.Missing(lost)) {
        if (s.ok()) s = UndoWrite(f, m, r, size);
      }
    }
    for (const Range& r : keep.kept[i]) newer_kept.Add(r);
  }
  if (s.ok()) s = f.Truncate(size);
  Status closed = f.Close();
  return s.ok() ? closed : s;
}

void DurabilityModel::KeepConflictingEntries(const std::set<std::string>& lost_creations,
                                                      std::map<std::string, std::string>* reverts,
                                                      std::vector<const PendingDeletion*>* restores) {
  // Whether a file is under `name` after the loss, other than one moved
  // back or restored there: unless it leaves (a lost creation, a reverted
  // rename), whatever is there now stays.
  std::map<std::string, bool> exists;  // base lookups, cached
  auto taken = [&](const std::string& name) {
    if (lost_creations.contains(name) || reverts->contains(name)) return false;
    auto [it, fresh] = exists.try_emplace(name, true);
    if (fresh) {
      auto e = base_->FileExists(name);
      it->second = !e.ok() || *e;  // in doubt, taken: never clobber a file
    }
    return it->second;
  };
  // Keeping a rename keeps its file under its new name, which may take the
  // name another reverted rename needed: repeat until nothing changes (it
  // ends: reverts only ever shrinks).
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> claimed;  // names a reverted rename or a restored file goes to
    for (auto it = reverts->begin(); it != reverts->end();) {
      if (taken(it->second) || !claimed.insert(it->second).second) {
        it = reverts->erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    // A deletion kept durable frees nothing, so it needs no new round.
    std::erase_if(*restores, [&](const PendingDeletion* d) {
      return taken(d->durable_name) || !claimed.insert(d->durable_name).second;
    });
  }
}

Status DurabilityModel::RevertRenames(const std::map<std::string, std::string>& reverts) {
  // Through temporary names, so that chains and cycles of renames (a -> b
  // while b -> a) cannot clobber each other.
  std::vector<std::pair<std::string, std::string>> moves;  // temporary name, durable name
  Status result;
  for (const auto& [path, durable_name] : reverts) {
    std::string tmp = path + ".fault-injection-unrename-" + std::to_string(moves.size());
    Status s = base_->RenameFile(path, tmp);
    if (s.ok()) moves.emplace_back(std::move(tmp), durable_name);
    if (result.ok()) result = IgnoreMissing(std::move(s));
  }
  for (const auto& [tmp, durable_name] : moves) {
    Status s = base_->RenameFile(tmp, durable_name);
    if (result.ok()) result = std::move(s);
  }
  return result;
}

Status DurabilityModel::RestoreDeletion(const PendingDeletion& deletion) {
  auto file = base_->NewWritableFile(deletion.durable_name);
  // Its directory is gone (removed by the test): nowhere to come back to.
  if (!file.ok()) return IgnoreMissing(file.status());
  Status s = WriteBack(**file, 0, deletion.content);
  Status closed = (*file)->Close();
  return s.ok() ? closed : s;
}

Status DurabilityModel::SimulatePowerLoss(const PowerLossOptions& options) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(options.seed);
  // Directory entries draw from a generator of their own, so that what a
  // seed does to file contents does not depend on the entry policy.
  std::mt19937_64 entry_rng(options.seed ^ 0x9e3779b97f4a7c15u);
  const DirEntryLoss policy = options.dir_entry_loss();
  auto lose_entry = [&] {
    return policy == DirEntryLoss::kLoseAll ||
           (policy == DirEntryLoss::kRandom && std::bernoulli_distribution(0.5)(entry_rng));
  };
  Status result;
  auto keep_first_error = [&](Status s) {
    if (result.ok() && !s.ok()) result = std::move(s);
  };

  std::set<std::string> lost_creations;
  for (const std::string& path : unsynced_creations_) {
    if (lose_entry()) lost_creations.insert(path);
  }
  std::map<std::string, std::string> reverts;  // path -> durable name
  for (const auto& [path, durable_name] : unsynced_renames_) {
    if (lose_entry()) reverts.emplace(path, durable_name);
  }
  std::vector<const PendingDeletion*> restores;
  if (options.may_undo_deletions()) {
    for (const PendingDeletion& deletion : pending_deletions_) {
      if (lose_entry()) restores.push_back(&deletion);
    }
  }
  KeepConflictingEntries(lost_creations, &reverts, &restores);

  for (const auto& [path, file] : files_) {
    if (lost_creations.contains(path)) continue;  // deleted below
    keep_first_error(RollBack(path, file, ChooseSurvivors(file, options.mode, rng)));
  }
  // Names are freed (lost creations, reverted renames) before they are
  // taken again (reverted renames, restored files).
  for (const std::string& path : lost_creations) keep_first_error(IgnoreMissing(base_->DeleteFile(path)));
  keep_first_error(RevertRenames(reverts));
  for (const PendingDeletion* deletion : restores) keep_first_error(RestoreDeletion(*deletion));

  files_.clear();
  unsynced_creations_.clear();
  unsynced_renames_.clear();
  pending_deletions_.clear();
  pending_deletion_bytes_ = 0;
  return result;
}

}  // namespace shardwal
