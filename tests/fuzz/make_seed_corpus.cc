// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpus of segment_reader_fuzzer (tests/fuzz/corpus/):
// small segments written by a real Wal (two shards, two epochs, every record
// type, empty and non-empty tags and payloads, one- and multi-record
// batches), lz4 and zstd compressed segments, a torn copy, damaged copies (synced bytes; unsynced bytes that
// reached the disk out of order), lifecycle shapes and the MANIFEST. Each
// seed is the fuzzer's config byte followed by the file (see
// segment_reader_fuzzer.cc).
//
//   make_seed_corpus <output directory>
//
// The committed corpus was made with this program (build it with
// -DSHARDWAL_BUILD_FUZZERS=ON, e.g. in build/fuzz after scripts/fuzz.sh):
//
//   build/fuzz/tests/fuzz/make_seed_corpus tests/fuzz/corpus
//
// It writes the format this build writes (kFormatVersion) and overwrites
// only the names it writes. The v1-* seeds were written by it before format
// 2 and are kept as they are, so that version 1 input stays fuzzed: after a
// format change, rename the old seeds with their version's prefix before
// rerunning it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shardwal/wal.h"
#include "src/foundation/format.h"

namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Write(const std::filesystem::path& p, unsigned char config, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(config));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool Check(const shardwal::Status& s) {
  if (!s.ok()) std::fprintf(stderr, "make_seed_corpus: %s\n", s.ToString().c_str());
  return s.ok();
}

// Compressed batches (Options::compression): one segment per codec, a few
// multi-record batches of compressible text and one incompressible batch
// stored raw. Seeds "seg-<codec>" (plain), "-fixup" (checksums fixed up,
// the stored bytes' CRC included, so mutations of the compressed bytes
// reach the decompressor) and "-torn".
bool WriteCompressedSeeds(const std::filesystem::path& out) {
  using namespace shardwal;
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    char tmpl[] = "/tmp/shardwal-seeds-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return false;
    const std::string dir = tmpl;
    Options o;
    o.dir = dir;
    o.num_shards = 1;
    o.compression = c;
    o.preallocation = Preallocation::kNone;
    o.recycle_segments = 0;
    auto wal = Wal::Open(o);
    if (!Check(wal.status())) return false;
    for (int b = 0; b < 3; ++b) {
      std::vector<std::string> payloads;
      for (int i = 0; i < 8; ++i) payloads.push_back("level=info msg=\"request served\" status=200 n=" + std::to_string(b * 8 + i));
      std::vector<RecordSpec> batch;
      for (const auto& p : payloads) batch.push_back(RecordSpec{"svc", p});
      if (!Check((*wal)->AppendBatch(batch).status())) return false;
    }
    std::string noise(200, '\0');
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
    if (!Check((*wal)->Append("rnd", noise).status()) || !Check((*wal)->Close())) return false;
    const std::string bytes = ReadAll(dir + "/shard-0/" + format::SegmentFileName(0, 1));
    const std::string base = "seg-" + std::string(CompressionName(c));
    Write(out / base, 0x00, bytes);
    Write(out / (base + "-fixup"), 0x01, bytes);
    Write(out / (base + "-torn"), 0x00, bytes.substr(0, bytes.size() - 90));
    std::filesystem::remove_all(dir);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace shardwal;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  char tmpl[] = "/tmp/shardwal-seeds-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;

  Options o;
  o.dir = dir;
  o.num_shards = 2;
  o.durability = Durability::kGroup;  // one append, one batch
  o.preallocation = Preallocation::kNone;  // small files; the preallocated shape is made below
  o.recycle_segments = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    auto wal = Wal::Open(o);
    if (!Check(wal.status())) return 1;
    auto put = [&](std::string_view tag, std::string_view payload, RecordType type = RecordType::kData,
                   std::uint64_t txn = 0) {
      AppendOptions ao;
      ao.type = type;
      ao.txn_id = txn;
      return Check((*wal)->Append(tag, payload, ao).status());
    };
    bool ok = put("a", "hello") && put("", "untagged") && put("b", "") && put("a", "x", RecordType::kTxnBegin, 7) &&
              put("b", "in txn", RecordType::kData, 7) && put("a", "", RecordType::kTxnPrepare, 7) &&
              put("c", "", RecordType::kTxnCommit, 7) && put("d", "", RecordType::kTxnAbort, 8) &&
              put("user", "\x01\x02\x03", static_cast<RecordType>(200));
    if (!ok) return 1;
    // Multi-record batches.
    std::vector<RecordSpec> batch;
    std::vector<std::string> payloads;
    for (int i = 0; i < 6; ++i) payloads.push_back("batch record " + std::to_string(i + epoch * 6));
    for (int i = 0; i < 6; ++i) batch.push_back(RecordSpec{i % 2 ? "a" : "b", payloads[i]});
    if (!Check((*wal)->AppendBatch(batch).status())) return 1;
    if (!Check((*wal)->Close())) return 1;
  }

  int n = 0;
  for (int shard = 0; shard < 2; ++shard) {
    for (const auto& e : std::filesystem::directory_iterator(dir + "/shard-" + std::to_string(shard))) {
      const std::string name = e.path().filename().string();
      if (name.size() < 4 || name.substr(name.size() - 4) != ".wal") continue;
      const std::string bytes = ReadAll(e.path());
      const std::string base = "seg-" + name.substr(0, name.size() - 4);
      Write(out / (base + "-plain"), 0x00, bytes);
      if (n++ == 0) {
        Write(out / (base + "-fixup-ra100"), 0x01 | (2 << 1), bytes);            // checksums fixed, read-ahead 100
        Write(out / (base + "-ra64-ioerr2"), (1 << 1) | (2 << 4), bytes);        // read-ahead 64, 2nd read fails
        Write(out / (base + "-torn"), 0x00, bytes.substr(0, bytes.size() - 7));  // torn last batch
      }
    }
  }
  // Lifecycle shapes: a preallocated segment that lost its seal (zeros
  // after the data), and a recycled one (a newer segment's batches written
  // over an older segment's, whose stale batches follow).
  const std::string shard0 = dir + "/shard-0/";
  const std::string older = ReadAll(shard0 + format::SegmentFileName(0, 1));
  const std::string newer = ReadAll(shard0 + format::SegmentFileName(0, 2));
  auto with_flags = [](std::string seg, std::uint16_t flags) {
    format::SegmentHeader h;
    if (!format::DecodeSegmentHeader(seg.data(), seg.size(), &h).ok()) return seg;
    h.flags = flags;
    format::EncodeSegmentHeader(h, seg.data());
    return seg;
  };
  const std::string unsealed = newer.substr(0, newer.size() - format::BatchHeaderBytes(format::kFormatVersion));
  Write(out / "seg-preallocated-zeros", 0x00,
        with_flags(unsealed, format::kSegmentPreallocated) + std::string(4096, '\0'));
  std::string recycled = with_flags(unsealed, format::kSegmentRecycled | format::kSegmentPreallocated);
  if (older.size() > recycled.size()) recycled += older.substr(recycled.size());
  Write(out / "seg-recycled-stale", 0x00, recycled + std::string(1024, '\0'));
  // Damage: a flipped byte in the first batch, which every later batch says
  // was synced (corruption, not a torn tail); and a segment whose last
  // batch reached the disk but whose second-to-last did not in full, as
  // unsynced pages may (the last batch's synced offset is below the
  // damage: a torn tail). Each also with checksums fixed up.
  const std::size_t seg_header = format::SegmentHeaderBytes(format::kFormatVersion);
  const std::size_t hb = format::BatchHeaderBytes(format::kFormatVersion);
  std::string synced_damage = older;
  if (synced_damage.size() > seg_header + hb + format::kRecordHeaderBytes) {
    synced_damage[seg_header + hb + format::kRecordHeaderBytes] ^= 0x20;
  }
  Write(out / "seg-damage-synced", 0x00, synced_damage);
  std::vector<std::size_t> batches;  // offsets of the batches (not the seal)
  for (std::size_t at = seg_header; at + hb <= unsealed.size();) {
    format::BatchHeader bh;
    if (!format::DecodeBatchHeader(unsealed.data() + at, &bh).ok() || bh.seal) break;
    batches.push_back(at);
    at += hb + bh.body_bytes;
  }
  if (batches.size() >= 2) {
    std::string reordered = with_flags(unsealed, 0);
    const std::size_t last = batches.back(), before = batches[batches.size() - 2];
    format::BatchHeader bh;
    if (format::DecodeBatchHeader(reordered.data() + last, &bh).ok()) {
      bh.synced_offset = before;  // the batch before it was written, not yet synced
      format::EncodeBatchHeader(bh, reordered.data() + last);
    }
    reordered[before + hb + 1] ^= 0x01;  // one of its pages did not make it
    Write(out / "seg-unsynced-out-of-order", 0x00, reordered);
    Write(out / "seg-unsynced-out-of-order-fixup-raw", 0x81 | (3 << 1), reordered);  // read-ahead 128
  }
  Write(out / "manifest", 0x00, ReadAll(dir + "/MANIFEST"));
  std::filesystem::remove_all(dir);
  if (!WriteCompressedSeeds(out)) return 1;
  std::printf("wrote %d segments' seeds and the MANIFEST to %s\n", n, out.c_str());
  return 0;
}
