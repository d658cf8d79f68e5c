// The real tallyd when things go wrong around it: the disk refuses a write (fail-stop,
// exit 1, nothing acknowledged lost), an operator sends a second signal during the
// graceful stop (exit at once), and an event-feed client stops reading (dropped, the
// daemon keeps serving).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <csignal>
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/daemon_process.hpp"

using namespace tally::testing;
using tally::http_common::http_client;
using tally::http_common::http_response;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The value of one Prometheus sample line "NAME VALUE" in `metrics`, or -1.
double metric_value(const std::string& metrics, const std::string& name) {
  std::size_t at = 0;
  while ((at = metrics.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || metrics[at - 1] == '\n')
      return std::stod(metrics.substr(at + name.size() + 1));
    at += name.size();
  }
  return -1;
}

// A TCP connection to the daemon with a tiny receive buffer that the test reads only
// when it chooses to: an event-feed client that stopped reading.
class stalled_reader {
public:
  explicit stalled_reader(const tally::http_common::endpoint& where) {
    descriptor_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(descriptor_, 0) << std::strerror(errno);
    int receive_bytes = 1024;  // set before connect, so the window stays small
    ::setsockopt(descriptor_, SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(where.port);
    ::inet_pton(AF_INET, where.host.c_str(), &address.sin_addr);
    connected_ = ::connect(descriptor_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    EXPECT_TRUE(connected_) << std::strerror(errno);
  }
  ~stalled_reader() {
    if (descriptor_ >= 0)
      ::close(descriptor_);
  }

  bool send_all(const std::string& bytes) {
    return connected_ && ::send(descriptor_, bytes.data(), bytes.size(), MSG_NOSIGNAL)
                           == static_cast<ssize_t>(bytes.size());
  }

  /// Reads until the peer closes (returns true) or `timeout` passes (false).
  bool read_until_closed(std::string& received, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char chunk[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd readable{descriptor_, POLLIN, 0};
      if (::poll(&readable, 1, 100) <= 0)
        continue;
      auto got = ::recv(descriptor_, chunk, sizeof chunk, 0);
      if (got == 0)
        return true;
      if (got < 0)
        return errno == ECONNRESET;
      received.append(chunk, static_cast<std::size_t>(got));
    }
    return false;
  }

private:
  int descriptor_ = -1;
  bool connected_ = false;
};

}  // namespace

// RLIMIT_FSIZE (set with util-linux's prlimit, which execs tallyd) makes the journal's
// write fail with EFBIG once the segment reaches the limit: a real write failure from
// the kernel, no fault hook. tallyd must fail-stop: the command of the failed batch
// gets 503 store_unavailable with Retry-After, the daemon logs why and exits 1, and
// after a restart (which truncates the torn tail) every acknowledged deposit is there.
TEST(tallyd_failure, a_refused_journal_write_stops_the_daemon_with_exit_1_and_loses_nothing) {
  constexpr std::uint64_t file_bytes_max = 96 * 1024;  // about 700 deposit events
  auto directory = make_temp_directory("tallyd_fsize");
  auto data = directory + "/data";
  std::vector<std::string> args{"--fsize=" + std::to_string(file_bytes_max), "--", TALLYD_PATH};
  for (auto& flag : base_flags(data))
    args.push_back(flag);
  // Small preallocation steps, so the limit is reached after hundreds of commits, by
  // a batch's write or by the zeros written after it in the same commit.
  args.push_back("--journal-preallocate-bytes");
  args.push_back("4096");
  daemon_process daemon;
  ASSERT_TRUE(daemon.start("/usr/bin/prlimit", args, directory + "/tallyd.log"))
    << daemon.start_problem() << "\n" << daemon.log();

  http_client client{daemon.where(), 10s};
  auto opened = client.request("POST", "/accounts",
                               json{{"command_id", "open-fsize"}, {"account_id", "fsize"}}.dump());
  ASSERT_EQ(opened.status, 201u) << opened.body;
  std::uint64_t acknowledged = 0;
  http_response refused;
  for (int i = 0; i < 100'000; ++i) {
    auto reply = client.request("POST", "/accounts/fsize/deposits",
                                json{{"command_id", "d-" + std::to_string(i)}, {"amount", 1}}.dump());
    if (reply.ok() && reply.status == 200) {
      ++acknowledged;
      continue;
    }
    refused = reply;
    break;
  }
  ASSERT_GT(acknowledged, 100u) << "the limit was hit too early to test anything";
  ASSERT_TRUE(refused.ok()) << "no reply for the failed command: " << refused.error;
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_EQ(body_of(refused).value("error", ""), "store_unavailable") << refused.body;
  EXPECT_FALSE(refused.header("retry-after").empty());

  EXPECT_EQ(daemon.wait_exit(20s), 1) << daemon.log();
  const std::string log = daemon.log();
  EXPECT_TRUE(contains(log, "store failed")) << log;
  EXPECT_TRUE(contains(log, "action=fail_stop")) << log;
  EXPECT_TRUE(contains(log, "File too large")) << log;  // the kernel's reason reaches the log
  EXPECT_FALSE(contains(log, "store_unavailable: store_unavailable")) << log;

  // Restart without the limit: recovery keeps the longest valid prefix, which holds
  // every acknowledged deposit and nothing of the failed batch but its one command
  // at most (it was never acknowledged, so it may or may not have reached the disk).
  daemon_process again;
  ASSERT_TRUE(again.start(base_flags(data), directory + "/tallyd2.log")) << again.log();
  http_client after{again.where(), 10s};
  auto balance = body_of(after.request("GET", "/accounts/fsize"));
  ASSERT_TRUE(balance.contains("balance")) << balance.dump();
  EXPECT_GE(balance["balance"].get<std::uint64_t>(), acknowledged);
  EXPECT_LE(balance["balance"].get<std::uint64_t>(), acknowledged + 1);
  // The daemon accepts writes again after the recovery.
  auto more = after.request("POST", "/accounts/fsize/deposits",
                            json{{"command_id", "after-restart"}, {"amount", 1}}.dump());
  EXPECT_EQ(more.status, 200u) << more.body;
  EXPECT_EQ(again.stop(), 0) << again.log();
  auto verified = run_program({TALLY_CLI_PATH, "verify", data});
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
}

// The first SIGTERM starts the graceful stop; a second signal while it runs must end
// the process at once (exit 128 + signal), as docs/http_api.md promises operators.
TEST(tallyd_shutdown, a_second_signal_during_the_stop_exits_at_once) {
  auto directory = make_temp_directory("tallyd_twice");
  daemon_process daemon;
  ASSERT_TRUE(daemon.start(base_flags(directory + "/data"), directory + "/tallyd.log")) << daemon.log();
  ASSERT_GT(daemon.pid(), 0);
  // Two different signals, so that neither can merge into the other while pending.
  ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
  ASSERT_EQ(::kill(daemon.pid(), SIGINT), 0);
  const int code = daemon.wait_exit(10s);
  EXPECT_TRUE(code == 128 + SIGTERM || code == 128 + SIGINT) << "exit code " << code << "\n"
                                                              << daemon.log();
  EXPECT_TRUE(contains(daemon.log(), "second signal received")) << daemon.log();
}

// A feed client that stops reading must not make the daemon buffer without bound: once
// its buffer of --sse-buffer-events-max events overflows while a write is stuck, the
// feed is dropped and counted, and the daemon keeps serving everyone else.
TEST(tallyd_limits, an_event_feed_client_that_stops_reading_is_dropped) {
  auto directory = make_temp_directory("tallyd_slow_feed");
  auto flags = base_flags(directory + "/data");
  flags.insert(flags.end(), {"--sse-buffer-events-max", "16"});
  daemon_process daemon;
  ASSERT_TRUE(daemon.start(flags, directory + "/tallyd.log")) << daemon.log();
  http_client client{daemon.where(), 10s};
  ASSERT_EQ(client.request("POST", "/accounts",
                           json{{"command_id", "open-busy"}, {"account_id", "busy"}}.dump())
              .status,
            201u);

  stalled_reader feed{daemon.where()};
  ASSERT_TRUE(feed.send_all("GET /events?from=1 HTTP/1.1\r\nHost: tallyd\r\n\r\n"));
  // Let the catch-up (one event) finish so the feed is live, then write far more than
  // the socket buffers and the 16-event buffer hold. Stop as soon as it was dropped.
  std::this_thread::sleep_for(300ms);
  double dropped = 0;
  int deposits = 0;
  for (; deposits < 20'000 && dropped < 1; ++deposits) {
    auto reply = client.request("POST", "/accounts/busy/deposits",
                                json{{"command_id", "busy-" + std::to_string(deposits)},
                                     {"amount", 1}}.dump());
    ASSERT_EQ(reply.status, 200u) << reply.body;
    if (deposits % 200 == 199)
      dropped = metric_value(client.request("GET", "/metrics").body,
                             "tally_event_feed_slow_consumers_dropped_total");
  }
  EXPECT_GE(dropped, 1.0) << "after " << deposits << " deposits\n" << daemon.log();
  EXPECT_TRUE(contains(daemon.log(), "event feed dropped reason=slow_consumer")) << daemon.log();
  // The dropped client finds its connection closed once it reads what was sent.
  std::string received;
  EXPECT_TRUE(feed.read_until_closed(received, 10s));
  EXPECT_TRUE(contains(received, "text/event-stream")) << received.substr(0, 300);
  // Everyone else is still served, and a new feed sees every event from the start.
  auto balance = body_of(client.request("GET", "/accounts/busy?min_position=2"));
  EXPECT_EQ(balance.value("balance", -1), deposits);
  std::size_t events = 0;
  http_client fresh{daemon.where(), 10s};
  fresh.stream_events("/events?from=1", {}, [&](const auto&) { return ++events < 2; }, 10s);
  EXPECT_EQ(events, 2u);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}
