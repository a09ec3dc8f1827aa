// SPDX-License-Identifier: Apache-2.0
// HttpEndpoint: the HTTP paths (with httplib::Client) and the dashboard in a
// real headless browser (Debian's `chromium`; the test fails, not skips,
// without it: scripts/setup.sh installs it).
#include "shardwal/http_endpoint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "shardwal/testing/fault_injection_file_system.h"
#include "shardwal/wal.h"
#include "tests/test_util.h"

extern char** environ;

namespace shardwal {
namespace {

using nlohmann::json;
using testing::TempDir;
using testing::TestOptions;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct WalWithEndpoint {
  TempDir dir;
  std::shared_ptr<FaultInjectionFileSystem> fault_fs;
  std::unique_ptr<Wal> wal;
  std::unique_ptr<HttpEndpoint> http;  // after wal: destroyed first

  explicit WalWithEndpoint(bool faulty = false, std::uint32_t shards = 2) {
    Options options = TestOptions(dir.path(), shards);
    if (faulty) {
      fault_fs = std::make_shared<FaultInjectionFileSystem>();
      options.file_system = fault_fs;
    }
    auto w = Wal::Open(options);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return;
    wal = std::move(*w);
    auto h = HttpEndpoint::Start(wal.get());
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (h.ok()) http = std::move(*h);
  }
  bool ok() const { return wal && http; }

  httplib::Result Get(const std::string& path) const {
    httplib::Client client("127.0.0.1", http->port());
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    return client.Get(path.c_str());
  }
  json GetJson(const std::string& path) const {
    auto r = Get(path);
    EXPECT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u);
    return json::parse(r->body);
  }
};

// ---- HTTP ---------------------------------------------------------------------------------

TEST(HttpEndpoint, MetricsIsPrometheusText) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w.wal->Append("a", "payload").ok());
  auto r = w.Get("/metrics");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
      << r->get_header_value("Content-Type");
  EXPECT_NE(r->body.find("# TYPE "), std::string::npos) << r->body;
  // A sample line (not a comment) of a shardwal_ metric.
  EXPECT_TRUE(std::regex_search(r->body, std::regex("(^|\n)shardwal_[a-z0-9_]+(\\{[^}]*\\})? [-+0-9.eE]+")))
      << r->body;
}

TEST(HttpEndpoint, HealthIsOkJson) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  json j = w.GetJson("/health");
  EXPECT_EQ(j.value("status", ""), "ok") << j.dump();
}

TEST(HttpEndpoint, HealthIs503WithTheErrorOnceTheWalFailed) {
  WalWithEndpoint w(/*faulty=*/true, /*shards=*/1);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w.wal->Append("a", "before").ok());
  EXPECT_EQ(w.Get("/health")->status, 200);
  // Every segment fdatasync from now on fails: the next append's does.
  w.fault_fs->InjectFault(FaultInjectionFileSystem::Op::kSync, 1, EIO, ".wal", /*sticky=*/true);
  auto appended = w.wal->Append("a", "after");
  ASSERT_FALSE(appended.ok());
  ASSERT_FALSE(w.wal->health().ok());

  auto r = w.Get("/health");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  json j = json::parse(r->body);
  EXPECT_EQ(j.value("status", ""), "failed") << r->body;
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_NE(j["error"].dump().find("injected"), std::string::npos) << "the error is not the WAL's: " << r->body;
  // The JSON snapshot says so too, and the other paths still answer.
  json m = w.GetJson("/metrics.json");
  EXPECT_EQ(m["health"]["status"], "failed");
  EXPECT_NE(m["health"]["error"].get<std::string>().find("injected"), std::string::npos) << m["health"].dump();
  EXPECT_EQ(w.Get("/metrics")->status, 200);
  w.http.reset();
  EXPECT_FALSE(w.wal->Close().ok());  // it reports the injected failure
}

TEST(HttpEndpoint, MetricsJsonParsesAndItsAppendsGrow) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w.wal->Append("a", "x").ok());
  json before = w.GetJson("/metrics.json");
  for (const char* key : {"counters", "gauges", "histograms", "shards", "health"}) {
    EXPECT_TRUE(before.contains(key)) << key << " missing: " << before.dump();
  }
  ASSERT_TRUE(before["counters"]["appends"].is_number_unsigned()) << before.dump();
  ASSERT_EQ(before["shards"].size(), 2u);
  for (const char* h : {"append_to_durable_seconds", "fsync_seconds", "batch_records"}) {
    const json& hist = before["histograms"][h];
    for (const char* f : {"count", "sum", "p50", "p90", "p99", "p999", "buckets"}) {
      EXPECT_TRUE(hist.contains(f)) << h << "." << f << " missing: " << hist.dump();
    }
  }
  const json& shard = before["shards"][0];
  EXPECT_TRUE(shard["gauges"].contains("buffered_bytes")) << shard.dump();
  EXPECT_TRUE(shard["gauges"].contains("durable_frontier")) << shard.dump();
  EXPECT_TRUE(shard["histograms"]["fsync_seconds"].contains("p999")) << shard.dump();
  // The dashboard's clock: a Unix start time, and per shard the last flush's.
  EXPECT_GT(before["start_time_seconds"].get<double>(), 1.7e9) << before.dump();
  EXPECT_TRUE(shard["health"].contains("last_flush_timestamp_seconds")) << shard.dump();
  EXPECT_TRUE(shard["health"].contains("device_free_bytes")) << shard.dump();

  for (int i = 0; i < 25; ++i) ASSERT_TRUE(w.wal->Append("tag" + std::to_string(i), "payload").ok());
  json after = w.GetJson("/metrics.json");
  EXPECT_GE(after["counters"]["appends"].get<std::uint64_t>(), before["counters"]["appends"].get<std::uint64_t>() + 25)
      << after["counters"].dump();
  EXPECT_EQ(after["gauges"]["last_lsn"].get<std::uint64_t>(), w.wal->LastLsn());
  std::uint64_t shard_appends = 0;
  for (const json& s : after["shards"]) shard_appends += s["counters"]["appends"].get<std::uint64_t>();
  EXPECT_EQ(shard_appends, after["counters"]["appends"].get<std::uint64_t>());
}

// The replicated watermark R is in the snapshot beside W: 0 without a
// replicator, what the replica acknowledged (never above W) with one.
TEST(HttpEndpoint, MetricsJsonHasTheReplicatedWatermark) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.wal->Append("tag" + std::to_string(i), "payload").ok());
  json before = w.GetJson("/metrics.json");
  ASSERT_TRUE(before["gauges"].contains("replicated_lsn")) << before["gauges"].dump();
  EXPECT_EQ(before["gauges"]["replicated_lsn"].get<std::uint64_t>(), 0u);
  auto replicator = w.wal->AttachReplicator("test replica");
  ASSERT_TRUE(replicator.ok()) << replicator.status().ToString();
  for (std::uint32_t shard = 0; shard < 2; ++shard) (*replicator)->Advance(shard, 7);
  json after = w.GetJson("/metrics.json");
  EXPECT_EQ(after["gauges"]["replicated_lsn"].get<std::uint64_t>(), 7u) << after["gauges"].dump();
  EXPECT_EQ(after["gauges"]["replicated_lsn"].get<std::uint64_t>(), w.wal->ReplicatedLsn());
  EXPECT_LE(after["gauges"]["replicated_lsn"].get<std::uint64_t>(),
            after["gauges"]["durable_lsn"].get<std::uint64_t>());
}

TEST(HttpEndpoint, DashboardIsOneSelfContainedPage) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  auto r = w.Get("/");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/html", 0), 0u);
  EXPECT_NE(r->body.find("<script>"), std::string::npos);
  EXPECT_NE(r->body.find("metrics.json"), std::string::npos);
  for (const char* external : {"<script src", "<link", "@import", "url(", "src=\"http", "href=\"http", "//cdn"}) {
    EXPECT_EQ(r->body.find(external), std::string::npos) << "the page loads something from outside: " << external;
  }
}

TEST(HttpEndpoint, UnknownPathIs404) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  auto r = w.Get("/no/such/page");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("not found"), std::string::npos) << r->body;
}

// The listening sockets on `port` in /proc/net/tcp{,6}, as "ADDR:PORT" hex.
std::vector<std::string> ListeningOn(std::uint16_t port) {
  std::vector<std::string> out;
  char want[8];
  std::snprintf(want, sizeof want, "%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.size() > 5 && local.substr(local.size() - 4) == want) out.push_back(local);
    }
  }
  return out;
}

TEST(HttpEndpoint, BindsLoopbackByDefault) {
  EXPECT_EQ(HttpEndpointOptions{}.address, "127.0.0.1");
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w.http->address(), "127.0.0.1");
  EXPECT_NE(w.http->port(), 0);
  const auto listening = ListeningOn(w.http->port());
  ASSERT_EQ(listening.size(), 1u);
  EXPECT_EQ(listening[0].substr(0, 8), "0100007F") << "not bound to 127.0.0.1 only: " << listening[0];
}

TEST(HttpEndpoint, PortInUseFailsNamingAddressAndPort) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  // Taken by a plain socket...
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(sock, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t taken = ntohs(addr.sin_port);
  HttpEndpointOptions o;
  o.port = taken;
  auto r = HttpEndpoint::Start(w.wal.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(taken)), std::string::npos)
      << r.status().ToString();
  ::close(sock);
  // ... and by another endpoint (httplib's default SO_REUSEPORT would let
  // both bind and share the connections).
  o.port = w.http->port();
  auto again = HttpEndpoint::Start(w.wal.get(), o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("127.0.0.1:" + std::to_string(o.port)), std::string::npos)
      << again.status().ToString();
}

TEST(HttpEndpoint, BadAddressFailsNamingIt) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  HttpEndpointOptions o;
  o.address = "256.0.0.1";
  o.port = 8080;
  auto r = HttpEndpoint::Start(w.wal.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("256.0.0.1:8080"), std::string::npos) << r.status().ToString();
}

TEST(HttpEndpoint, StopsPromptlyWithAKeepAliveConnectionOpen) {
  WalWithEndpoint w;
  ASSERT_TRUE(w.ok());
  httplib::Client client("127.0.0.1", w.http->port());
  client.set_keep_alive(true);
  ASSERT_EQ(client.Get("/health")->status, 200);
  ASSERT_EQ(client.Get("/metrics")->status, 200);
  const auto t0 = Clock::now();
  w.http.reset();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
}

// ---- the dashboard in headless Chromium -----------------------------------------------

#ifndef SHARDWAL_TEST_ARTIFACT_DIR
#define SHARDWAL_TEST_ARTIFACT_DIR "test-artifacts"
#endif

// `chromium` on PATH ($SHARDWAL_CHROMIUM overrides), or empty.
std::string FindChromium() {
  if (const char* env = std::getenv("SHARDWAL_CHROMIUM"); env != nullptr && *env != '\0') return env;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const std::string candidate = (d.empty() ? "." : d) + "/chromium";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

struct Browser {
  std::string binary;
  TempDir home;  // HOME and the profile: fresh for every run
  int runs = 0;

  // Runs chromium headless on `url` with `extra` flags; stdout to a string.
  // Fails the test (and returns nullopt) on a timeout or a non-zero exit.
  std::optional<std::string> Run(const std::string& url, const std::vector<std::string>& extra,
                                 std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const std::string n = std::to_string(++runs);
    const std::string profile = home.Sub("profile-" + n), out_path = home.Sub("stdout-" + n),
                      err_path = home.Sub("stderr-" + n);
    std::vector<std::string> args = {binary,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--disable-crash-reporter",
                                     "--disable-extensions",
                                     "--disable-background-networking",
                                     "--user-data-dir=" + profile};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("HOME=")) continue;
      env_strings.emplace_back(*e);
    }
    env_strings.push_back("HOME=" + home.path());
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);  // its own process group: its helpers are killed with it
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << binary << ": " << std::strerror(rc);
      return std::nullopt;
    }
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    bool exited = false;
    while (!(exited = ::waitpid(pid, &status, WNOHANG) == pid) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid, SIGKILL);  // whatever of its process group is left
    if (!exited) ::waitpid(pid, &status, 0);
    std::string out = ReadFile(out_path);
    if (!exited) {
      ADD_FAILURE() << "chromium did not finish in " << timeout.count() << " s; stderr:\n" << Tail(ReadFile(err_path));
      return std::nullopt;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << "chromium failed (wait status " << status << "); stderr:\n" << Tail(ReadFile(err_path));
      return std::nullopt;
    }
    return out;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  static std::string Tail(const std::string& s) { return s.size() > 4000 ? s.substr(s.size() - 4000) : s; }
};

// The text and data-value of the first element with data-testid="id" in a
// dumped DOM.
struct Element {
  bool found = false;
  std::string text;
  double value = 0;  // data-value, else the text as a number
};
Element FindByTestId(const std::string& dom, const std::string& id) {
  Element e;
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<[a-z0-9]+ ([^>]*data-testid=\"" + id + "\"[^>]*)>([^<]*)<"))) return e;
  e.found = true;
  const std::string attrs = m[1].str();
  e.text = m[2].str();
  std::smatch v;
  const std::string number = std::regex_search(attrs, v, std::regex("data-value=\"([^\"]*)\"")) ? v[1].str() : e.text;
  e.value = std::strtod(number.c_str(), nullptr);
  return e;
}
int CountOf(const std::string& dom, const std::string& needle) {
  int n = 0;
  for (auto pos = dom.find(needle); pos != std::string::npos; pos = dom.find(needle, pos + 1)) ++n;
  return n;
}

// Appends from a few threads at a steady, uneven pace until destroyed.
class Appender {
 public:
  explicit Appender(Wal& wal) {
    for (int t = 0; t < 4; ++t) {
      threads_.emplace_back([this, &wal, t] {
        std::minstd_rand rng(static_cast<unsigned>(t) + 1);
        std::string payload(200, 'x');
        std::uint64_t i = 0;
        while (!stop_.load(std::memory_order_relaxed)) {
          if (!wal.Append("sensor." + std::to_string(t * 100 + i++ % 100), payload).ok()) return;
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
        }
      });
    }
  }
  ~Appender() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

TEST(HttpDashboard, LoadsAndUpdatesInHeadlessChromium) {
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty())
      << "chromium not found on PATH: the dashboard test needs a headless browser. Install it with "
         "scripts/setup.sh (Debian package 'chromium'), or point SHARDWAL_CHROMIUM at a Chromium binary.";
  WalWithEndpoint w(/*faulty=*/false, /*shards=*/4);
  ASSERT_TRUE(w.ok());
  Appender appender(*w.wal);
  const std::string url = "http://127.0.0.1:" + std::to_string(w.http->port()) + "/";
  Browser browser{chromium};

  // Virtual time: the page's 1 s polls run back to back, each fetch in real
  // time. 5 s of it: about 5 snapshots.
  auto dump = [&] { return browser.Run(url, {"--virtual-time-budget=5000", "--dump-dom"}); };
  std::optional<std::string> first = dump();
  ASSERT_TRUE(first.has_value());
  const Element updates = FindByTestId(*first, "updates"), last = FindByTestId(*first, "last-lsn");
  ASSERT_TRUE(updates.found && last.found) << "not the dashboard:\n" << first->substr(0, 2000);
  EXPECT_GE(updates.value, 3) << "the page did not poll /metrics.json repeatedly";
  EXPECT_GT(last.value, 0);
  EXPECT_EQ(FindByTestId(*first, "status").text, "ok");
  // Rates come from two snapshots. (Their values are not checked: under
  // virtual time the polls are only milliseconds apart in real time.)
  const Element commits = FindByTestId(*first, "commits-rate");
  EXPECT_TRUE(commits.found && !commits.text.empty() && std::isdigit(static_cast<unsigned char>(commits.text[0])))
      << "no commits/s computed: '" << commits.text << "'";
  EXPECT_GE(FindByTestId(*first, "durable-lsn").value, 1);
  const Element replicated = FindByTestId(*first, "replicated-lsn");
  EXPECT_TRUE(replicated.found && replicated.text == "0") << "no replicator: R is 0, not '" << replicated.text << "'";
  // (The script holds the row template too: count in the table's body.)
  const auto body_start = first->find("data-testid=\"shards\">");
  ASSERT_NE(body_start, std::string::npos);
  const std::string table = first->substr(body_start, first->find("</tbody>", body_start) - body_start);
  EXPECT_EQ(CountOf(table, "data-testid=\"shard-row\""), 4) << "one row per shard: " << table;
  EXPECT_GE(CountOf(*first, "<polyline"), 3) << "the charts drew no lines";
  // The operator's panels (issue 12) drew data, with clock times on their
  // time axes, and the page's script raised no error.
  EXPECT_EQ(FindByTestId(*first, "js-errors").value, 0) << FindByTestId(*first, "js-errors").text;
  for (const char* chart : {"chart-fsync-latency", "chart-write", "chart-free", "chart-errors", "chart-checkpoint",
                            "chart-retained", "chart-segments", "chart-commits", "chart-latency"}) {
    // (Found by plain search: std::regex recurses per character on long inputs.)
    const std::string id = std::string("data-testid=\"") + chart + "\"";
    const auto at = first->find(id);
    ASSERT_NE(at, std::string::npos) << chart << " missing";
    const auto tag_end = first->find('>', at), svg_end = first->find("</svg>", at);
    ASSERT_TRUE(tag_end != std::string::npos && svg_end != std::string::npos) << chart;
    const std::string attrs = first->substr(at, tag_end - at);
    const std::string svg = first->substr(tag_end + 1, svg_end - tag_end - 1);
    const auto points = attrs.find("data-points=\"");
    ASSERT_NE(points, std::string::npos) << chart << " never drawn: " << attrs;
    // (At least one: under virtual time an interval may be a few real
    // milliseconds, without an fdatasync in it.)
    EXPECT_GE(std::atoi(attrs.c_str() + points + 13), 1) << chart << ": no point drawn";
    EXPECT_GE(CountOf(svg, "<polyline"), 1) << chart << " drew no line";
    const auto tick = svg.find("class=\"xtick\"");
    ASSERT_NE(tick, std::string::npos) << chart << ": no time axis labels";
    const auto label = svg.find('>', tick);
    EXPECT_TRUE(std::regex_match(svg.substr(label + 1, 8), std::regex("[0-2][0-9]:[0-5][0-9]:[0-5][0-9]")))
        << chart << ": time axis label is not HH:MM:SS: " << svg.substr(label + 1, 12);
  }
  for (const char* tile : {"fsync-p99", "write-rate", "checkpoint-lsn", "errors-total"}) {
    const Element e = FindByTestId(*first, tile);
    EXPECT_TRUE(e.found && !e.text.empty() && e.text != "\u2014") << tile << " not computed: '" << e.text << "'";
  }
  EXPECT_GT(FindByTestId(*first, "min-free").value, 0) << "no device free space";
  EXPECT_EQ(CountOf(table, "data-testid=\"shard-free\""), 4) << "a free-space cell per shard";

  // A few seconds later, a fresh load shows the WAL moved on.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::optional<std::string> second = dump();
  ASSERT_TRUE(second.has_value());
  const Element last2 = FindByTestId(*second, "last-lsn");
  EXPECT_GE(FindByTestId(*second, "updates").value, 3);
  EXPECT_GT(last2.value, last.value) << "the dashboard did not follow the appends";

  // The screenshot, kept as a test artifact.
  const fs::path artifacts = SHARDWAL_TEST_ARTIFACT_DIR;
  std::error_code ec;
  fs::create_directories(artifacts, ec);
  ASSERT_FALSE(ec) << artifacts << ": " << ec.message();
  const fs::path png = artifacts / "dashboard.png";
  fs::remove(png, ec);
  ASSERT_TRUE(browser
                  .Run(url, {"--virtual-time-budget=20000", "--window-size=1280,900", "--hide-scrollbars",
                             "--screenshot=" + png.string()})
                  .has_value());
  const std::string bytes = Browser::ReadFile(png.string());
  ASSERT_GT(bytes.size(), 10u * 1024) << png << " is missing or tiny";
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png << " is not a PNG";
  std::cout << "dashboard screenshot: " << fs::absolute(png).string() << std::endl;
}

}  // namespace
}  // namespace shardwal
