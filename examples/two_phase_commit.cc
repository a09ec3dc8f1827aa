// SPDX-License-Identifier: Apache-2.0
// Example: transactions that span shards, logged with two-phase commit.
//
//   two_phase_commit DIR [--fresh]
//
// A bank keeps account balances; a transfer debits one account and credits
// another. Every account is a tag ("account/alice"), and the two accounts of
// a transfer are picked on different shards, so each transaction spans
// shards. A coordinator logs a transfer as one transaction (all its records
// carry the same txn_id):
//
//   kTxnBegin                  on the coordinator's tag
//   kData, kData               the debit and the credit, each on its account's tag
//   kTxnPrepare                group durability: when it returns, the prepare
//                              and every lower LSN (the data, on every shard)
//                              are durable -- the transaction can now commit
//   kTxnCommit or kTxnAbort    group durability: the decision is durable
//                              before anyone is told
//
// The transactions are interleaved (all data first, then the prepares, then
// the decisions), so a decision lies far from its data, on another shard.
// The coordinator then stops as if it had crashed: some transactions are
// prepared but undecided (in doubt), some never reached prepare (incomplete).
//
// Recovery reads the log back with ReplayCommitted: only data of committed
// transactions (and records outside any transaction, txn_id 0) is delivered;
// aborted, incomplete and in-doubt transactions are rolled back. The program
// checks that the delivered records are exactly those of the committed
// transactions and prints the TxnReplayReport.
//
// Exit status: 0 correct, 1 wrong data delivered, 2 usage or I/O error.
// DIR must not hold a WAL yet; --fresh removes it first.
#include <shardwal/recovery.h>
#include <shardwal/wal.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using shardwal::AppendOptions;
using shardwal::Durability;
using shardwal::Lsn;
using shardwal::RecordType;

const std::vector<std::string> kAccounts = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
constexpr std::int64_t kOpeningBalance = 1000;
const std::string kCoordinator = "coordinator";

std::string AccountTag(const std::string& name) { return "account/" + name; }

// How far the coordinator gets with a transaction before it "crashes".
enum class Fate { kCommit, kAbort, kInDoubt, kIncomplete };

struct Transfer {
  std::uint64_t txn_id;
  std::string from, to;
  std::int64_t amount;
  Fate fate;
  std::vector<Lsn> data_lsns;  // of the debit and the credit
};

// What the replay should deliver: LSN -> (tag, payload).
using Delivered = std::map<Lsn, std::pair<std::string, std::string>>;

int Fail(const char* what, const shardwal::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool fresh = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--fresh") {
      fresh = true;
    } else if (!arg.starts_with("--") && dir.empty()) {
      dir = arg;
    } else {
      dir.clear();
      break;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: two_phase_commit DIR [--fresh]\n");
    return 2;
  }
  if (fresh) std::filesystem::remove_all(dir);

  shardwal::Options options;
  options.dir = dir;
  options.num_shards = 4;
  auto opened = shardwal::Wal::Open(options);
  if (!opened.ok()) return Fail("open", opened.status());
  shardwal::Wal& wal = **opened;
  if (wal.recovery_report().existing) {
    std::fprintf(stderr, "%s already holds a WAL; pass --fresh to start over\n", dir.c_str());
    return 2;
  }

  Delivered expected;  // what ReplayCommitted must hand back
  auto append = [&](const std::string& tag, const std::string& payload, RecordType type, std::uint64_t txn,
                    Durability d) -> shardwal::Result<Lsn> {
    return wal.Append(tag, payload, AppendOptions{.durability = d, .type = type, .txn_id = txn});
  };

  // Opening balances: plain records outside any transaction (txn_id 0).
  for (const auto& name : kAccounts) {
    auto lsn = append(AccountTag(name), std::to_string(kOpeningBalance), RecordType::kData, 0, Durability::kAsync);
    if (!lsn.ok()) return Fail("append", lsn.status());
    expected[*lsn] = {AccountTag(name), std::to_string(kOpeningBalance)};
  }

  // 24 transfers, fates in a fixed cycle; the credited account is the next
  // one (in list order) that lives on another shard than the debited one.
  const Fate cycle[] = {Fate::kCommit, Fate::kAbort, Fate::kCommit, Fate::kInDoubt, Fate::kCommit, Fate::kIncomplete};
  std::vector<Transfer> transfers;
  for (std::uint64_t i = 0; i < 24; ++i) {
    const std::string& from = kAccounts[i % kAccounts.size()];
    std::string to = kAccounts[(i + 1) % kAccounts.size()];
    for (std::size_t k = 1; k < kAccounts.size(); ++k) {
      to = kAccounts[(i + k) % kAccounts.size()];
      if (wal.ShardForTag(AccountTag(to)) != wal.ShardForTag(AccountTag(from))) break;
    }
    transfers.push_back(Transfer{i + 1, from, to, static_cast<std::int64_t>(10 * (i + 1)), cycle[i % 6], {}});
  }

  const Transfer& first = transfers.front();
  std::printf("e.g. txn %" PRIu64 ": %s (shard %u) -> %s (shard %u), %" PRId64 "\n", first.txn_id,
              first.from.c_str(), wal.ShardForTag(AccountTag(first.from)), first.to.c_str(),
              wal.ShardForTag(AccountTag(first.to)), first.amount);

  // Phase 0: begin every transaction and write its data. Nobody waits yet
  // (kAsync): the prepare below makes it all durable at once.
  for (Transfer& t : transfers) {
    if (auto r = append(kCoordinator, "", RecordType::kTxnBegin, t.txn_id, Durability::kAsync); !r.ok()) {
      return Fail("begin", r.status());
    }
    for (const auto& [account, delta] : {std::pair{t.from, -t.amount}, std::pair{t.to, t.amount}}) {
      auto lsn = append(AccountTag(account), std::to_string(delta), RecordType::kData, t.txn_id, Durability::kAsync);
      if (!lsn.ok()) return Fail("append", lsn.status());
      t.data_lsns.push_back(*lsn);
    }
  }
  // Phase 1: prepare. With group durability the call returns only when the
  // prepare record and all lower LSNs -- this transaction's data on every
  // shard -- are durable. Incomplete transactions never get here.
  for (const Transfer& t : transfers) {
    if (t.fate == Fate::kIncomplete) continue;
    if (auto r = append(kCoordinator, "", RecordType::kTxnPrepare, t.txn_id, Durability::kGroup); !r.ok()) {
      return Fail("prepare", r.status());
    }
  }
  // Phase 2: decide. In-doubt transactions are prepared but never decided.
  for (const Transfer& t : transfers) {
    if (t.fate != Fate::kCommit && t.fate != Fate::kAbort) continue;
    const RecordType decision = t.fate == Fate::kCommit ? RecordType::kTxnCommit : RecordType::kTxnAbort;
    if (auto r = append(kCoordinator, "", decision, t.txn_id, Durability::kGroup); !r.ok()) {
      return Fail("decide", r.status());
    }
    if (t.fate == Fate::kCommit) {
      expected[t.data_lsns[0]] = {AccountTag(t.from), std::to_string(-t.amount)};
      expected[t.data_lsns[1]] = {AccountTag(t.to), std::to_string(t.amount)};
    }
  }

  // A small transaction can also go in one AppendBatch: all its records or
  // none, with consecutive LSNs, and durable on return (group durability).
  // RecordSpec holds string_views: the strings must outlive the call.
  const std::uint64_t batch_txn = 25;
  const std::string from_tag = AccountTag("alice"), to_tag = AccountTag("heidi");
  const std::string debit = std::to_string(-5), credit = std::to_string(5);
  const shardwal::RecordSpec batch[] = {
      {kCoordinator, "", RecordType::kTxnBegin, batch_txn},
      {from_tag, debit, RecordType::kData, batch_txn},
      {to_tag, credit, RecordType::kData, batch_txn},
      {kCoordinator, "", RecordType::kTxnCommit, batch_txn},
  };
  auto range = wal.AppendBatch(batch, Durability::kGroup);
  if (!range.ok()) return Fail("batch", range.status());
  expected[range->first + 1] = {from_tag, debit};
  expected[range->first + 2] = {to_tag, credit};

  // The coordinator "crashes" here: undecided transactions stay undecided.
  if (auto s = wal.Close(); !s.ok()) return Fail("close", s);
  std::printf("wrote %zu transfers over %u shards, %" PRIu64 " records\n", transfers.size() + 1, wal.num_shards(),
              wal.LastLsn());

  // ---- recovery: read the log back, transaction-aware ----
  auto reader = shardwal::LogReader::Open(options);
  if (!reader.ok()) return Fail("read", reader.status());
  Delivered delivered;
  std::map<std::string, std::int64_t> balances;
  shardwal::TxnReplayReport report;
  shardwal::Status s = (*reader)->ReplayCommitted(
      shardwal::kNoLsn,
      [&](const shardwal::ReplayRecord& r) {
        delivered[r.lsn] = {std::string(r.tag), std::string(r.payload)};
        balances[std::string(r.tag)] += std::strtoll(std::string(r.payload).c_str(), nullptr, 10);
        return true;
      },
      &report);
  if (!s.ok()) return Fail("replay", s);

  auto ids = [](const std::vector<std::uint64_t>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ' ';
      out += std::to_string(v[i]);
    }
    return out + "]";
  };
  std::printf("committed: %" PRIu64 "\n", report.committed);
  std::printf("aborted:   %s\n", ids(report.aborted).c_str());
  std::printf("incomplete (rolled back): %s\n", ids(report.incomplete).c_str());
  std::printf("in doubt (prepared, undecided; rolled back): %s\n", ids(report.in_doubt).c_str());
  std::printf("data records delivered %" PRIu64 ", skipped %" PRIu64 "\n", report.data_records_delivered,
              report.data_records_skipped);
  std::printf("balances:");
  for (const auto& [tag, b] : balances) std::printf(" %s=%" PRId64, tag.c_str() + 8, b);
  std::printf("\n");

  // ---- verify ----
  std::vector<std::uint64_t> want_aborted, want_incomplete, want_in_doubt;
  std::uint64_t want_committed = 1, want_skipped = 0;  // 1: the batch transaction
  for (const Transfer& t : transfers) {
    switch (t.fate) {
      case Fate::kCommit: ++want_committed; continue;
      case Fate::kAbort: want_aborted.push_back(t.txn_id); break;
      case Fate::kIncomplete: want_incomplete.push_back(t.txn_id); break;
      case Fate::kInDoubt: want_in_doubt.push_back(t.txn_id); break;
    }
    want_skipped += t.data_lsns.size();
  }
  const std::int64_t total = std::accumulate(balances.begin(), balances.end(), std::int64_t{0},
                                             [](std::int64_t a, const auto& kv) { return a + kv.second; });
  bool ok = true;
  auto check = [&](bool cond, const char* what) {
    if (!cond) std::fprintf(stderr, "MISMATCH: %s\n", what);
    ok = ok && cond;
  };
  check(delivered == expected, "delivered records are not exactly those of committed transactions");
  check(report.committed == want_committed, "committed count");
  check(report.aborted == want_aborted, "aborted transactions");
  check(report.incomplete == want_incomplete, "incomplete transactions");
  check(report.in_doubt == want_in_doubt, "in-doubt transactions");
  check(report.data_records_delivered == expected.size(), "data_records_delivered");
  check(report.data_records_skipped == want_skipped, "data_records_skipped");
  // Transfers move money, they never create it: only whole transactions
  // were applied, so the total is still the opening total.
  check(total == kOpeningBalance * static_cast<std::int64_t>(kAccounts.size()), "total balance changed");
  if (!ok) return 1;
  std::printf("OK: exactly the committed transactions were replayed\n");
  return 0;
}
