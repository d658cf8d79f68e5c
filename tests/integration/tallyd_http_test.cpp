// The real tallyd over HTTP: every route, the bad-input battery, idempotency,
// authentication, the event feed and a SIGTERM under load.
#include <atomic>
#include <climits>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/daemon_process.hpp"

using namespace tally::testing;
using tally::http_common::header_list;
using tally::http_common::http_client;
using tally::http_common::http_response;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

class tallyd_test : public ::testing::Test {
protected:
  void SetUp() override {
    directory_ = make_temp_directory("tallyd_it");
    ASSERT_TRUE(daemon_.start(base_flags(directory_ + "/data"), directory_ + "/tallyd.log"))
      << daemon_.log();
    client_ = std::make_unique<http_client>(daemon_.where(), 10s);
  }

  void TearDown() override {
    client_.reset();
    EXPECT_EQ(daemon_.stop(), 0) << daemon_.log();
  }

  http_response post(const std::string& target, const json& body, const header_list& headers = {}) {
    return client_->request("POST", target, body.dump(), headers);
  }
  http_response get(const std::string& target) { return client_->request("GET", target); }

  std::uint64_t open(const std::string& id) {
    auto reply = post("/accounts", {{"command_id", "open-" + id}, {"account_id", id}});
    EXPECT_EQ(reply.status, 201u) << reply.body;
    return body_of(reply).value("position", 0ULL);
  }
  std::uint64_t deposit(const std::string& id, std::int64_t amount, const std::string& command) {
    auto reply = post("/accounts/" + id + "/deposits", {{"command_id", command}, {"amount", amount}});
    EXPECT_EQ(reply.status, 200u) << reply.body;
    return body_of(reply).value("position", 0ULL);
  }

  std::string directory_;
  daemon_process daemon_;
  std::unique_ptr<http_client> client_;
};

}  // namespace

TEST_F(tallyd_test, every_route_happy_path_with_read_your_writes_and_time_travel) {
  EXPECT_EQ(get("/health").status, 200u);
  auto opened = open("alice");
  EXPECT_EQ(opened, 1u);
  auto after_deposit = deposit("alice", 1000, "dep-1");
  auto withdrawal = post("/accounts/alice/withdrawals", {{"command_id", "wd-1"}, {"amount", 300}});
  ASSERT_EQ(withdrawal.status, 200u) << withdrawal.body;
  auto reply = body_of(withdrawal);
  EXPECT_EQ(reply["outcome"], "accepted");
  EXPECT_EQ(reply["version"], 3);
  auto position = reply["position"].get<std::uint64_t>();
  EXPECT_GT(position, after_deposit);

  // Read-your-writes: the balance reflects the withdrawal's position.
  auto balance = get("/accounts/alice?min_position=" + std::to_string(position));
  ASSERT_EQ(balance.status, 200u) << balance.body;
  auto view = body_of(balance);
  EXPECT_EQ(view["balance"], 700);
  EXPECT_GE(view["as_of_position"].get<std::uint64_t>(), position);
  EXPECT_EQ(view["status"], "open");

  auto history = get("/accounts/alice/events?min_position=" + std::to_string(position));
  ASSERT_EQ(history.status, 200u) << history.body;
  auto page = body_of(history);
  ASSERT_EQ(page["events"].size(), 3u);
  EXPECT_EQ(page["events"][1]["type"], "money_deposited");
  EXPECT_EQ(page["events"][2]["balance_after"], 700);
  auto paged = body_of(get("/accounts/alice/events?from_version=2&limit=1&min_position="
                           + std::to_string(position)));
  ASSERT_EQ(paged["events"].size(), 1u);
  EXPECT_EQ(paged["events"][0]["version"], 2);
  EXPECT_EQ(paged["next_version"], 3);

  // Time travel by version and by time.
  auto at_two = body_of(get("/accounts/alice/state?version=2"));
  EXPECT_EQ(at_two["balance"], 1000);
  EXPECT_EQ(at_two["version"], 2);
  auto deposit_time = page["events"][1]["timestamp_ns"].get<std::int64_t>();
  auto at_time = body_of(get("/accounts/alice/state?at=" + std::to_string(deposit_time)));
  EXPECT_EQ(at_time["balance"], 1000);
  auto rfc3339 = page["events"][1]["timestamp"].get<std::string>();
  auto at_text = body_of(get("/accounts/alice/state?at=" + rfc3339));
  EXPECT_EQ(at_text["balance"], 1000);
  auto before = body_of(get("/accounts/alice/state?at=1"));
  EXPECT_EQ(before["status"], "not_opened");
  EXPECT_EQ(get("/accounts/alice/state?version=9").status, 404u);
  EXPECT_EQ(get("/accounts/nobody/state?version=1").status, 404u);

  auto totals = get("/totals?min_position=" + std::to_string(position));
  ASSERT_EQ(totals.status, 200u);
  EXPECT_EQ(body_of(totals)["total_balance"], 700);
  EXPECT_GE(body_of(totals)["as_of_position"].get<std::uint64_t>(), position);

  // Domain rejections.
  auto overdraft = post("/accounts/alice/withdrawals", {{"command_id", "wd-2"}, {"amount", 5000}});
  EXPECT_EQ(overdraft.status, 409u);
  EXPECT_EQ(body_of(overdraft)["error"], "insufficient_funds");
  auto not_empty = post("/accounts/alice/close", {{"command_id", "close-1"}});
  EXPECT_EQ(not_empty.status, 409u);
  EXPECT_EQ(body_of(not_empty)["error"], "account_not_empty");
  EXPECT_EQ(post("/accounts/ghost/deposits", {{"command_id", "g"}, {"amount", 1}}).status, 422u);
  EXPECT_EQ(post("/accounts", {{"command_id", "open-again"}, {"account_id", "alice"}}).status, 409u);
  EXPECT_EQ(get("/accounts/ghost").status, 404u);

  // Close: empty the account first; the close takes its id from the header.
  ASSERT_EQ(post("/accounts/alice/withdrawals", {{"command_id", "wd-3"}, {"amount", 700}}).status, 200u);
  auto closed = client_->request("POST", "/accounts/alice/close", "", {{"Idempotency-Key", "close-2"}});
  ASSERT_EQ(closed.status, 200u) << closed.body;
  auto closed_position = body_of(closed)["position"].get<std::uint64_t>();
  auto final_view = body_of(get("/accounts/alice?min_position=" + std::to_string(closed_position)));
  EXPECT_EQ(final_view["status"], "closed");

  auto metrics = get("/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("tally_commands_total{outcome=\"accepted\"} 5"), std::string::npos)
    << metrics.body;
  EXPECT_NE(metrics.body.find("tally_command_latency_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("tally_projection_lag_events{projection=\"balances\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("tally_resident_accounts"), std::string::npos);
  EXPECT_NE(metrics.body.find("tally_http_open_connections 1"), std::string::npos);
}

TEST_F(tallyd_test, bad_input_battery_gets_documented_errors_and_changes_nothing) {
  open("acc");
  auto last = deposit("acc", 500, "seed");
  struct bad_request {
    const char* name;
    std::string method;
    std::string target;
    std::string body;
    header_list headers;
    unsigned status;
    const char* error;
  };
  const header_list json_type{{"Content-Type", "application/json"}};
  auto amount = [](const std::string& value) {
    return R"({"command_id":"bad","amount":)" + value + "}";
  };
  const std::string deposits = "/accounts/acc/deposits";
  std::string deep = R"({"command_id":"bad","amount":1,"x":)" + std::string(40, '[')
                     + std::string(40, ']') + "}";
  const bad_request cases[] = {
    {"amount 0", "POST", deposits, amount("0"), json_type, 422, "amount_must_be_positive"},
    {"amount negative", "POST", deposits, amount("-5"), json_type, 422, "amount_must_be_positive"},
    {"amount INT64_MIN", "POST", deposits, amount("-9223372036854775808"), json_type, 422,
     "amount_must_be_positive"},
    {"amount INT64_MAX+1", "POST", deposits, amount("9223372036854775808"), json_type, 422,
     "amount_out_of_range"},
    {"amount overflow", "POST", deposits, amount("123456789012345678901234567890"), json_type, 422,
     "amount_out_of_range"},
    {"amount 1.5", "POST", deposits, amount("1.5"), json_type, 400, "amount_not_an_integer"},
    {"amount 1e2", "POST", deposits, amount("1e2"), json_type, 400, "amount_not_an_integer"},
    {"amount string", "POST", deposits, amount("\"100\""), json_type, 400, "amount_not_an_integer"},
    {"amount null", "POST", deposits, amount("null"), json_type, 400, "amount_not_an_integer"},
    {"amount missing", "POST", deposits, R"({"command_id":"bad"})", json_type, 400, "amount_required"},
    {"id empty", "POST", "/accounts//deposits", amount("1"), json_type, 400, "account_id_invalid"},
    {"id too long", "POST", "/accounts/" + std::string(65, 'a') + "/deposits", amount("1"), json_type,
     400, "account_id_invalid"},
    {"id dot-dot", "GET", "/accounts/..", "", {}, 400, "account_id_invalid"},
    {"id percent", "POST", "/accounts/%2e%2e%2fx/deposits", amount("1"), json_type, 400,
     "account_id_invalid"},
    {"id traversal", "POST", "/accounts/../x/deposits", amount("1"), json_type, 404, "route_not_found"},
    {"open id control char", "POST", "/accounts", R"({"command_id":"bad","account_id":"a\u0007b"})",
     json_type, 400, "account_id_invalid"},
    {"open id non-utf8", "POST", "/accounts", "{\"command_id\":\"bad\",\"account_id\":\"a\xff\"}",
     json_type, 400, "malformed_json"},
    {"open id traversal", "POST", "/accounts", R"({"command_id":"bad","account_id":"../x"})", json_type,
     400, "account_id_invalid"},
    {"open id too long", "POST", "/accounts",
     R"({"command_id":"bad","account_id":")" + std::string(65, 'b') + R"("})", json_type, 400,
     "account_id_invalid"},
    {"malformed", "POST", deposits, "{\"command_id\":", json_type, 400, "malformed_json"},
    {"truncated", "POST", deposits, R"({"command_id":"bad","amount":1)", json_type, 400,
     "malformed_json"},
    {"trailing garbage", "POST", deposits, amount("1") + "xyz", json_type, 400, "malformed_json"},
    {"duplicate keys", "POST", deposits, R"({"command_id":"bad","amount":1,"amount":2})", json_type,
     400, "duplicate_key"},
    {"unknown field", "POST", deposits, R"({"command_id":"bad","amount":1,"memo":"x"})", json_type,
     400, "unknown_field"},
    {"nesting", "POST", deposits, deep, json_type, 400, "nesting_too_deep"},
    {"wrong content type", "POST", deposits, amount("1"), {{"Content-Type", "text/plain"}}, 415,
     "unsupported_media_type"},
    {"no command id", "POST", deposits, R"({"amount":1})", json_type, 400, "command_id_required"},
    {"body too large", "POST", deposits, std::string(70 * 1024, ' '), json_type, 413,
     "request_body_too_large"},
    {"unknown route", "GET", "/nope", "", {}, 404, "route_not_found"},
    {"wrong method", "DELETE", "/accounts/acc", "", {}, 405, "method_not_allowed"},
    {"bad query", "GET", "/accounts/acc?min_position=x", "", {}, 400, "parameter_invalid"},
    // Transfers: the body checks, then the bank's rules that refuse before anything is
    // recorded.
    {"transfer unknown field", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc2","amount":1,"memo":"x"})", json_type, 400,
     "unknown_field"},
    {"transfer no source", "POST", "/transfers", R"({"transfer_id":"bad","target":"acc","amount":1})",
     json_type, 400, "source_required"},
    {"transfer bad target", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"../x","amount":1})", json_type, 400,
     "target_invalid"},
    {"transfer amount string", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc2","amount":"1"})", json_type, 400,
     "amount_not_an_integer"},
    {"transfer amount 0", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc2","amount":0})", json_type, 422,
     "amount_must_be_positive"},
    {"transfer same account", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc","amount":1})", json_type, 422,
     "accounts_must_be_different"},
    {"transfer no id", "POST", "/transfers", R"({"source":"acc","target":"acc2","amount":1})",
     json_type, 400, "transfer_id_required"},
    {"transfer id with colon", "POST", "/transfers",
     R"({"transfer_id":"a:b","source":"acc","target":"acc2","amount":1})", json_type, 400,
     "transfer_id_invalid"},
    {"transfer id conflict", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc2","amount":1})",
     {{"Content-Type", "application/json"}, {"Idempotency-Key", "other"}}, 400,
     "transfer_id_conflict"},
    {"transfer wrong content type", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"acc2","amount":1})",
     {{"Content-Type", "text/plain"}}, 415, "unsupported_media_type"},
    {"transfer to an account never opened", "POST", "/transfers",
     R"({"transfer_id":"bad","source":"acc","target":"ghost","amount":1})", json_type, 422,
     "account_not_found"},
    {"transfer status bad id", "GET", "/transfers/..", "", {}, 400, "transfer_id_invalid"},
    {"transfer status body", "GET", "/transfers/bad", "{}", json_type, 400, "unexpected_body"},
    {"transfer status unknown", "GET", "/transfers/bad", "", {}, 404, "transfer_not_found"},
    {"transfers wrong method", "GET", "/transfers", "", {}, 405, "method_not_allowed"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    auto response = client_->request(test.method, test.target, test.body, test.headers);
    ASSERT_TRUE(response.ok()) << response.error;
    EXPECT_EQ(response.status, test.status) << response.body;
    auto body = body_of(response);
    EXPECT_EQ(body.value("error", ""), test.error) << response.body;
    EXPECT_TRUE(body.contains("message"));
    // Nothing changed, and the daemon still serves.
    auto view = body_of(get("/accounts/acc?min_position=" + std::to_string(last)));
    EXPECT_EQ(view["balance"], 500);
    EXPECT_EQ(view["version"], 2);
    EXPECT_EQ(get("/health").status, 200u);
  }
  auto totals = body_of(get("/totals"));
  EXPECT_EQ(totals["events"], 2);
  EXPECT_EQ(totals["as_of_position"], 2);

  // Headers over the limit, and garbage that is not HTTP, on raw connections.
  std::string huge_header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'a')
                            + "\r\nConnection: close\r\n\r\n";
  auto raw = tally::http_common::raw_exchange(daemon_.where(), huge_header, 3s);
  EXPECT_EQ(raw.rfind("HTTP/1.1 431", 0), 0u) << raw.substr(0, 200);
  auto garbage = tally::http_common::raw_exchange(daemon_.where(), "HELLO\x01\r\n\r\n", 3s);
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage.substr(0, 200);
  EXPECT_EQ(get("/health").status, 200u);
  EXPECT_EQ(body_of(get("/totals"))["events"], 2);
}

TEST_F(tallyd_test, the_same_command_id_twice_appends_one_event_and_replies_the_same) {
  open("idem");
  auto first = post("/accounts/idem/deposits", {{"command_id", "same"}, {"amount", 10}});
  auto second = client_->request("POST", "/accounts/idem/deposits", R"({"amount":10})",
                                 {{"Idempotency-Key", "same"}});
  ASSERT_EQ(first.status, 200u);
  ASSERT_EQ(second.status, 200u);
  EXPECT_EQ(first.body, second.body);
  EXPECT_EQ(second.header("idempotent-replayed"), "true");
  auto position = body_of(first)["position"].get<std::uint64_t>();
  auto page = body_of(get("/accounts/idem/events?min_position=" + std::to_string(position)));
  EXPECT_EQ(page["total_events"], 2);
  EXPECT_EQ(body_of(get("/accounts/idem?min_position=" + std::to_string(position)))["balance"], 10);
  // The same id with other content is refused.
  auto reused = post("/accounts/idem/deposits", {{"command_id", "same"}, {"amount", 11}});
  EXPECT_EQ(reused.status, 409u) << reused.body;
  EXPECT_EQ(body_of(reused)["error"], "command_id_reused_with_different_payload");
}

TEST_F(tallyd_test, event_feed_catches_up_then_follows_live) {
  open("feed");
  deposit("feed", 5, "feed-1");
  std::vector<tally::http_common::sse_event> seen;
  std::thread writer{[this] {
    std::this_thread::sleep_for(300ms);
    http_client other{daemon_.where(), 10s};
    other.request("POST", "/accounts/feed/deposits", R"({"command_id":"feed-2","amount":6})");
  }};
  http_client feed{daemon_.where(), 10s};
  auto head = feed.stream_events("/events?from=1", {}, [&](const auto& event) {
    seen.push_back(event);
    return seen.size() < 3;
  }, 10s);
  writer.join();
  EXPECT_EQ(head.status, 200u) << head.error;
  ASSERT_EQ(seen.size(), 3u) << head.error;
  EXPECT_EQ(seen[0].type, "account_opened");
  EXPECT_EQ(seen[0].id, "1");
  EXPECT_EQ(seen[2].id, "3");
  EXPECT_EQ(json::parse(seen[2].data)["amount"], 6);
  // From a later position only.
  std::vector<std::string> ids;
  http_client again{daemon_.where(), 10s};
  again.stream_events("/events?from=2", {}, [&](const auto& event) {
    ids.push_back(event.id);
    return ids.size() < 2;
  }, 10s);
  EXPECT_EQ(ids, (std::vector<std::string>{"2", "3"}));
}

TEST(tallyd_security, refuses_a_non_loopback_bind_without_a_token) {
  auto directory = make_temp_directory("tallyd_sec");
  auto result = run_program({TALLYD_PATH, "--listen", "0.0.0.0:0", "--journal", "memory",
                             "--allow-root"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("token-file"), std::string::npos) << result.output;
}

TEST(tallyd_security, invalid_configuration_exits_2_naming_the_key) {
  auto result = run_program({TALLYD_PATH, "--journal", "memory", "--connections-max", "zero"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("connections-max"), std::string::npos) << result.output;
  auto help = run_program({TALLYD_PATH, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--token-file"), std::string::npos);
  if (::geteuid() == 0) {
    auto root = run_program({TALLYD_PATH, "--listen", "127.0.0.1:0", "--journal", "memory"});
    EXPECT_EQ(root.exit_code, 2) << root.output;
    EXPECT_NE(root.output.find("running_as_root"), std::string::npos) << root.output;
  }
}

TEST(tallyd_security, a_token_is_required_on_every_route_but_health) {
  auto directory = make_temp_directory("tallyd_token");
  const std::string token = "s3cret-token-0123456789";
  auto token_file = directory + "/token";
  { std::ofstream{token_file} << token << "\n"; }
  ::chmod(token_file.c_str(), 0600);
  daemon_process daemon;
  auto flags = base_flags(directory + "/data");
  flags.insert(flags.end(), {"--token-file", token_file});
  ASSERT_TRUE(daemon.start(flags, directory + "/tallyd.log")) << daemon.log();
  http_client client{daemon.where(), 10s};
  EXPECT_EQ(client.request("GET", "/health").status, 200u);
  auto missing = client.request("GET", "/totals");
  EXPECT_EQ(missing.status, 401u);
  EXPECT_EQ(body_of(missing)["error"], "unauthorized");
  EXPECT_EQ(client.request("GET", "/totals", "", {{"Authorization", "Bearer wrong"}}).status, 401u);
  EXPECT_EQ(client.request("GET", "/totals", "", {{"Authorization", "Bearer " + token + "x"}}).status,
            401u);
  EXPECT_EQ(client.request("POST", "/accounts", R"({"command_id":"c","account_id":"a"})").status, 401u);
  EXPECT_EQ(client.request("GET", "/totals", "", {{"Authorization", "Bearer " + token}}).status, 200u);
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(daemon.log().find(token), std::string::npos) << "the token must never be logged";
}

TEST(tallyd_shutdown, sigterm_under_load_exits_0_and_keeps_every_acknowledged_command) {
  auto directory = make_temp_directory("tallyd_term");
  auto data = directory + "/data";
  daemon_process daemon;
  ASSERT_TRUE(daemon.start(base_flags(data), directory + "/tallyd.log")) << daemon.log();
  constexpr int clients = 4;
  struct acknowledged {
    std::string account;
    std::uint64_t position;
  };
  std::mutex mutex;
  std::vector<acknowledged> acks;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      http_client client{daemon.where(), 10s};
      auto account = "load-" + std::to_string(c);
      client.request("POST", "/accounts",
                     json{{"command_id", "open-" + account}, {"account_id", account}}.dump());
      for (int i = 0; !stop.load() && i < 100000; ++i) {
        auto reply = client.request("POST", "/accounts/" + account + "/deposits",
                                    json{{"command_id", account + "-" + std::to_string(i)},
                                         {"amount", 1}}.dump());
        if (!reply.ok() || reply.status == 503)
          break;
        if (reply.status == 200) {
          std::lock_guard guard{mutex};
          acks.push_back({account, body_of(reply)["position"].get<std::uint64_t>()});
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  auto code = daemon.stop(SIGTERM, 15s);
  stop = true;
  for (auto& thread : threads)
    thread.join();
  ASSERT_EQ(code, 0) << daemon.log();
  ASSERT_GT(acks.size(), 10u);
  // Restart on the same data directory: every acknowledged deposit is there.
  daemon_process again;
  ASSERT_TRUE(again.start(base_flags(data), directory + "/tallyd2.log")) << again.log();
  http_client client{again.where(), 10s};
  std::map<std::string, std::set<std::uint64_t>> positions;
  for (int c = 0; c < clients; ++c) {
    auto account = "load-" + std::to_string(c);
    std::uint64_t from = 1;
    while (from != 0) {
      auto page = body_of(client.request("GET", "/accounts/" + account + "/events?limit=1000&from_version="
                                                  + std::to_string(from)));
      for (auto& event : page["events"])
        positions[account].insert(event["position"].get<std::uint64_t>());
      from = page["next_version"].is_null() ? 0 : page["next_version"].get<std::uint64_t>();
    }
    auto balance = body_of(client.request("GET", "/accounts/" + account));
    EXPECT_EQ(balance["balance"].get<std::size_t>() + 1, positions[account].size());
  }
  for (const auto& ack : acks)
    EXPECT_EQ(positions[ack.account].count(ack.position), 1u) << ack.account << " " << ack.position;
  EXPECT_EQ(again.stop(), 0) << again.log();
}

TEST(tallyd_limits, connections_over_the_limit_get_503_and_the_daemon_keeps_serving) {
  auto directory = make_temp_directory("tallyd_conn");
  daemon_process daemon;
  auto flags = base_flags(directory + "/data");
  flags.insert(flags.end(), {"--connections-max", "1", "--request-log"});
  ASSERT_TRUE(daemon.start(flags, directory + "/tallyd.log")) << daemon.log();
  {
    http_client first{daemon.where(), 10s};
    ASSERT_EQ(first.request("GET", "/health").status, 200u);  // kept alive: 1 connection open
    http_client second{daemon.where(), 10s};
    auto refused = second.request("GET", "/health");
    EXPECT_EQ(refused.status, 503u) << refused.error;
    EXPECT_EQ(body_of(refused)["error"], "too_many_connections");
    EXPECT_EQ(refused.header("retry-after"), "1");
  }
  // Once the first connection is gone, a new one is served.
  std::this_thread::sleep_for(200ms);
  http_client third{daemon.where(), 10s};
  EXPECT_EQ(third.request("GET", "/health").status, 200u);
  third.close();
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_NE(daemon.log().find("request method=GET target=/health status=200"), std::string::npos);
}

TEST(tallyd_limits, commands_over_the_in_flight_limit_get_503_and_nothing_is_lost) {
  auto directory = make_temp_directory("tallyd_bp");
  daemon_process daemon;
  auto flags = base_flags(directory + "/data");
  flags.insert(flags.end(), {"--commands-in-flight-max", "1"});
  ASSERT_TRUE(daemon.start(flags, directory + "/tallyd.log")) << daemon.log();
  {
    http_client client{daemon.where(), 10s};
    ASSERT_EQ(client.request("POST", "/accounts", R"({"command_id":"o","account_id":"bp"})").status, 201u);
  }
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::mutex mutex;
  std::uint64_t last_position = 1;
  std::vector<std::thread> threads;
  for (int c = 0; c < 6; ++c)
    threads.emplace_back([&, c] {
      http_client client{daemon.where(), 10s};
      for (int i = 0; i < 60; ++i) {
        auto reply = client.request("POST", "/accounts/bp/deposits",
                                    json{{"command_id", std::to_string(c) + "-" + std::to_string(i)},
                                         {"amount", 1}}.dump());
        if (reply.status == 200) {
          ++accepted;
          std::lock_guard guard{mutex};
          last_position = std::max(last_position, body_of(reply)["position"].get<std::uint64_t>());
        } else if (reply.status == 503 && body_of(reply)["error"] == "too_many_commands_in_flight"
                 && reply.header("retry-after") == "1")
          ++refused;
        else
          ++other;
      }
    });
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(accepted.load() + refused.load(), 360);
  http_client client{daemon.where(), 10s};
  auto balance = body_of(client.request("GET", "/accounts/bp?min_position=" + std::to_string(last_position)));
  EXPECT_EQ(balance["balance"], accepted.load());
  auto metrics = client.request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("tally_commands_refused_backpressure_total " + std::to_string(refused.load())),
            std::string::npos);
  client.close();
  EXPECT_EQ(daemon.stop(), 0);
}

namespace {

/// Reads the whole of GET /totals at `position` and checks the invariant
/// total_balance + money_in_flight == total_deposited - total_withdrawn.
json totals_with_invariant(http_client& client, std::uint64_t position) {
  auto response = client.request("GET", "/totals?min_position=" + std::to_string(position));
  EXPECT_EQ(response.status, 200u) << response.body;
  auto totals = body_of(response);
  EXPECT_GE(totals.value("as_of_position", 0ULL), position);
  EXPECT_EQ(totals["total_balance"].get<std::int64_t>() + totals["money_in_flight"].get<std::int64_t>(),
            totals["total_deposited"].get<std::int64_t>() - totals["total_withdrawn"].get<std::int64_t>())
    << totals.dump();
  return totals;
}

}  // namespace

TEST_F(tallyd_test, transfers_complete_or_fail_replay_by_id_and_show_in_the_read_models) {
  open("alice");
  open("bob");
  deposit("alice", 1000, "fund-alice");

  // A transfer that completes: the reply comes once the money arrived.
  const json request{{"transfer_id", "t-1"}, {"source", "alice"}, {"target", "bob"}, {"amount", 300}};
  auto completed = post("/transfers", request);
  ASSERT_EQ(completed.status, 200u) << completed.body;
  auto reply = body_of(completed);
  EXPECT_EQ(reply["outcome"], "completed");
  EXPECT_EQ(reply["status"], "completed");
  EXPECT_EQ(reply["transfer_id"], "t-1");
  EXPECT_EQ(reply["source"], "alice");
  EXPECT_EQ(reply["target"], "bob");
  EXPECT_EQ(reply["amount"], 300);
  EXPECT_EQ(reply["duplicate"], false);
  EXPECT_FALSE(reply.contains("reason"));
  EXPECT_EQ(completed.header("idempotent-replayed"), "");
  auto position = reply["position"].get<std::uint64_t>();
  EXPECT_GT(position, 3u);

  // The same id again (body field, then header): the same outcome and position, nothing new.
  auto again = post("/transfers", request);
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(body_of(again)["duplicate"], true);
  EXPECT_EQ(body_of(again)["position"], position);
  EXPECT_EQ(body_of(again)["outcome"], "completed");
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  auto by_header = client_->request("POST", "/transfers",
                                    R"({"source":"alice","target":"bob","amount":300})",
                                    {{"Idempotency-Key", "t-1"}});
  ASSERT_EQ(by_header.status, 200u) << by_header.body;
  EXPECT_EQ(body_of(by_header)["position"], position);
  EXPECT_EQ(body_of(by_header)["duplicate"], true);

  // The same id with another amount is a different transfer: refused, nothing recorded.
  auto reused = post("/transfers", {{"transfer_id", "t-1"}, {"source", "alice"}, {"target", "bob"},
                                    {"amount", 301}});
  EXPECT_EQ(reused.status, 409u) << reused.body;
  EXPECT_EQ(body_of(reused)["error"], "transfer_already_exists");
  EXPECT_EQ(body_of(reused)["outcome"], "rejected");
  EXPECT_EQ(body_of(reused)["position"], 0);

  // A transfer that fails: the debit is refused; it ends failed and moves nothing.
  auto failed = post("/transfers", {{"transfer_id", "t-2"}, {"source", "alice"}, {"target", "bob"},
                                    {"amount", 5000}});
  ASSERT_EQ(failed.status, 200u) << failed.body;
  auto failure = body_of(failed);
  EXPECT_EQ(failure["outcome"], "failed");
  EXPECT_EQ(failure["status"], "failed");
  EXPECT_EQ(failure["reason"], "insufficient_funds");
  auto failed_position = failure["position"].get<std::uint64_t>();
  EXPECT_GT(failed_position, position);
  auto failed_again = post("/transfers", {{"transfer_id", "t-2"}, {"source", "alice"},
                                          {"target", "bob"}, {"amount", 5000}});
  EXPECT_EQ(body_of(failed_again)["outcome"], "failed");
  EXPECT_EQ(body_of(failed_again)["position"], failed_position);
  EXPECT_EQ(body_of(failed_again)["duplicate"], true);

  // The transfers read model, with read-your-writes.
  auto view_response = get("/transfers/t-1?min_position=" + std::to_string(position));
  ASSERT_EQ(view_response.status, 200u) << view_response.body;
  auto view = body_of(view_response);
  EXPECT_EQ(view["transfer_id"], "t-1");
  EXPECT_EQ(view["status"], "completed");
  EXPECT_EQ(view["source"], "alice");
  EXPECT_EQ(view["target"], "bob");
  EXPECT_EQ(view["amount"], 300);
  EXPECT_EQ(view["debited"], true);
  EXPECT_EQ(view["credited"], true);
  EXPECT_EQ(view["settled"], true);
  EXPECT_EQ(view["refunded"], false);
  EXPECT_EQ(view["in_flight"], 0);
  EXPECT_FALSE(view.contains("reason"));
  EXPECT_GE(view["as_of_position"].get<std::uint64_t>(), position);
  auto failed_view = body_of(get("/transfers/t-2?min_position=" + std::to_string(failed_position)));
  EXPECT_EQ(failed_view["status"], "failed");
  EXPECT_EQ(failed_view["reason"], "insufficient_funds");
  EXPECT_EQ(failed_view["debited"], false);
  EXPECT_EQ(failed_view["in_flight"], 0);
  auto unknown = get("/transfers/never");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(body_of(unknown)["error"], "transfer_not_found");
  EXPECT_TRUE(body_of(unknown).contains("as_of_position"));
  // A position nobody reached: answered 503 after the bounded wait.
  auto too_far = get("/transfers/t-1?min_position=1000000");
  EXPECT_EQ(too_far.status, 503u);
  EXPECT_EQ(body_of(too_far)["error"], "position_not_reached");
  EXPECT_EQ(too_far.header("retry-after"), "1");

  // Balances and totals: the money moved once, nothing is in flight, nothing was created.
  auto alice = body_of(get("/accounts/alice?min_position=" + std::to_string(failed_position)));
  auto bob = body_of(get("/accounts/bob?min_position=" + std::to_string(failed_position)));
  EXPECT_EQ(alice["balance"], 700);
  EXPECT_EQ(bob["balance"], 300);
  auto totals = totals_with_invariant(*client_, failed_position);
  EXPECT_EQ(totals["money_in_flight"], 0);
  EXPECT_EQ(totals["total_balance"], 1000);

  // An account with an outgoing transfer settled can close once it is empty.
  auto emptied = post("/transfers", {{"transfer_id", "t-3"}, {"source", "alice"}, {"target", "bob"},
                                     {"amount", 700}});
  ASSERT_EQ(body_of(emptied)["outcome"], "completed") << emptied.body;
  auto closed = post("/accounts/alice/close", {{"command_id", "close-alice"}});
  EXPECT_EQ(closed.status, 200u) << closed.body;
  // A transfer to a closed account is refused before anything is recorded.
  auto to_closed = post("/transfers", {{"transfer_id", "t-4"}, {"source", "bob"},
                                       {"target", "alice"}, {"amount", 1}});
  EXPECT_EQ(to_closed.status, 409u) << to_closed.body;
  EXPECT_EQ(body_of(to_closed)["error"], "account_closed");
  EXPECT_EQ(get("/transfers/t-4?min_position="
                + std::to_string(body_of(closed)["position"].get<std::uint64_t>()))
              .status,
            404u);

  auto metrics = get("/metrics").body;
  for (const char* line : {"tally_transfers_total{outcome=\"completed\"} 4\n",
                           "tally_transfers_total{outcome=\"failed\"} 2\n",
                           "tally_transfers_total{outcome=\"transfer_already_exists\"} 1\n",
                           "tally_transfers_total{outcome=\"account_closed\"} 1\n",
                           "tally_money_in_flight 0\n", "tally_transfers_in_progress 0\n",
                           "tally_commands_in_flight 0\n",
                           "tally_transfer_latency_seconds_count 8\n"})
    EXPECT_NE(metrics.find(line), std::string::npos) << line << metrics;
  EXPECT_NE(metrics.find("tally_projection_position{projection=\"transfers\"}"), std::string::npos);
}

TEST_F(tallyd_test, a_transfer_whose_credit_is_refused_is_refunded_and_ends_failed) {
  open("payer");
  open("full");
  deposit("payer", 1000, "fund-payer");
  // The target cannot take more without overflowing int64: the credit is refused after
  // the debit, so the saga compensates and refunds the payer.
  auto last = deposit("full", INT64_MAX - 10, "fill-up");
  auto reply = post("/transfers", {{"transfer_id", "overflow"}, {"source", "payer"},
                                   {"target", "full"}, {"amount", 100}});
  ASSERT_EQ(reply.status, 200u) << reply.body;
  EXPECT_EQ(body_of(reply)["outcome"], "failed");
  EXPECT_EQ(body_of(reply)["reason"], "balance_would_overflow");
  auto position = body_of(reply)["position"].get<std::uint64_t>();
  EXPECT_GT(position, last);
  auto view = body_of(get("/transfers/overflow?min_position=" + std::to_string(position)));
  EXPECT_EQ(view["status"], "failed");
  EXPECT_EQ(view["reason"], "balance_would_overflow");
  EXPECT_EQ(view["debited"], true);
  EXPECT_EQ(view["credited"], false);
  EXPECT_EQ(view["refunded"], true);
  EXPECT_EQ(view["in_flight"], 0);
  EXPECT_EQ(body_of(get("/accounts/payer?min_position=" + std::to_string(position)))["balance"], 1000);
  auto totals = body_of(get("/totals?min_position=" + std::to_string(position)));
  EXPECT_EQ(totals["money_in_flight"], 0);
}

TEST(tallyd_limits, transfers_count_against_the_in_flight_limit_and_money_is_conserved) {
  auto directory = make_temp_directory("tallyd_transfer_bp");
  daemon_process daemon;
  auto flags = base_flags(directory + "/data");
  flags.insert(flags.end(), {"--commands-in-flight-max", "1"});
  ASSERT_TRUE(daemon.start(flags, directory + "/tallyd.log")) << daemon.log();
  constexpr int accounts = 3;
  constexpr std::int64_t opening_balance = 10000;
  {
    http_client client{daemon.where(), 10s};
    for (int a = 0; a < accounts; ++a) {
      auto id = "acct-" + std::to_string(a);
      ASSERT_EQ(client.request("POST", "/accounts",
                               json{{"command_id", "open-" + id}, {"account_id", id}}.dump())
                  .status,
                201u);
      ASSERT_EQ(client.request("POST", "/accounts/" + id + "/deposits",
                               json{{"command_id", "fund-" + id}, {"amount", opening_balance}}.dump())
                  .status,
                200u);
    }
  }
  std::atomic<int> completed{0}, refused{0}, other{0};
  std::mutex mutex;
  std::uint64_t last_position = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < 4; ++c)
    threads.emplace_back([&, c] {
      http_client client{daemon.where(), 10s};
      for (int i = 0; i < 25; ++i) {
        // Around the ring of accounts, so every account both pays and receives.
        auto source = "acct-" + std::to_string((c + i) % accounts);
        auto target = "acct-" + std::to_string((c + i + 1) % accounts);
        auto reply = client.request("POST", "/transfers",
                                    json{{"transfer_id", "ring-" + std::to_string(c) + "-"
                                                           + std::to_string(i)},
                                         {"source", source},
                                         {"target", target},
                                         {"amount", 1 + i}}.dump());
        auto body = body_of(reply);
        if (reply.status == 200 && body["outcome"] == "completed") {
          ++completed;
          std::lock_guard guard{mutex};
          last_position = std::max(last_position, body["position"].get<std::uint64_t>());
        } else if (reply.status == 503 && body["error"] == "too_many_commands_in_flight"
                   && reply.header("retry-after") == "1") {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(completed.load() + refused.load(), 100);
  // Four clients against a limit of one: some transfers overlap and are refused (runs
  // here refuse most of them).
  EXPECT_GT(refused.load(), 0);
  ASSERT_GT(completed.load(), 0);
  http_client client{daemon.where(), 10s};
  auto totals = totals_with_invariant(client, last_position);
  EXPECT_EQ(totals["money_in_flight"], 0);
  EXPECT_EQ(totals["total_balance"], accounts * opening_balance);
  std::int64_t sum = 0;
  for (int a = 0; a < accounts; ++a)
    sum += body_of(client.request("GET", "/accounts/acct-" + std::to_string(a) + "?min_position="
                                           + std::to_string(last_position)))["balance"]
             .get<std::int64_t>();
  EXPECT_EQ(sum, accounts * opening_balance);
  auto metrics = client.request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("tally_commands_refused_backpressure_total " + std::to_string(refused.load())),
            std::string::npos);
  EXPECT_NE(metrics.find("tally_transfers_total{outcome=\"completed\"} "
                         + std::to_string(completed.load()) + "\n"),
            std::string::npos);
  client.close();
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}
