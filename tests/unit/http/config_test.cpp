#include "app/tallyd/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

using namespace tally::daemon;

namespace {

struct fixture {
  std::map<std::string, std::string> environment;

  config_outcome parse(std::vector<std::string> flags) {
    std::vector<const char*> argv{"tallyd"};
    for (auto& flag : flags)
      argv.push_back(flag.c_str());
    return parse_config(static_cast<int>(argv.size()), argv.data(), [this](const std::string& name) {
      auto it = environment.find(name);
      return it == environment.end() ? nullptr : it->second.c_str();
    });
  }
};

std::string write_file(const std::string& name, const std::string& text) {
  auto path = ::testing::TempDir() + name;
  std::ofstream{path} << text;
  return path;
}

}  // namespace

TEST(config, defaults_are_secure) {
  fixture f;
  auto out = f.parse({"--data-dir", "/tmp/x"});
  ASSERT_EQ(out.action, config_outcome::kind::run) << out.message;
  EXPECT_EQ(out.config.listen.host, "127.0.0.1");
  EXPECT_EQ(out.config.request_body_bytes_max, 64u * 1024);
  EXPECT_EQ(out.config.request_header_bytes_max, 8u * 1024);
  EXPECT_FALSE(out.config.allow_root);
  EXPECT_FALSE(out.config.request_log);
  EXPECT_EQ(out.config.journal, journal_kind::file);
  EXPECT_EQ(out.config.transfers_in_progress_max, 10'000u);  // the runtime's own default
}

TEST(config, transfers_in_progress_max_reaches_the_configuration) {
  fixture f;
  f.environment["TALLY_TRANSFERS_IN_PROGRESS_MAX"] = "25";
  auto out = f.parse({"--journal", "memory"});
  ASSERT_EQ(out.action, config_outcome::kind::run) << out.message;
  EXPECT_EQ(out.config.transfers_in_progress_max, 25u);
  auto flag = f.parse({"--journal", "memory", "--transfers-in-progress-max", "3"});
  ASSERT_EQ(flag.action, config_outcome::kind::run) << flag.message;
  EXPECT_EQ(flag.config.transfers_in_progress_max, 3u);
}

TEST(config, checkpoint_bytes_per_event_max_reaches_the_configuration) {
  fixture f;
  auto defaults = f.parse({"--journal", "memory"});
  ASSERT_EQ(defaults.action, config_outcome::kind::run) << defaults.message;
  EXPECT_EQ(defaults.config.checkpoint_bytes_per_event_max, 256u);  // the runtime's default
  f.environment["TALLY_CHECKPOINT_BYTES_PER_EVENT_MAX"] = "0";
  auto off = f.parse({"--journal", "memory"});
  ASSERT_EQ(off.action, config_outcome::kind::run) << off.message;
  EXPECT_EQ(off.config.checkpoint_bytes_per_event_max, 0u);
  auto bad = f.parse({"--journal", "memory", "--checkpoint-bytes-per-event-max", "lots"});
  EXPECT_EQ(bad.action, config_outcome::kind::error);
  EXPECT_NE(bad.message.find("checkpoint-bytes-per-event-max"), std::string::npos) << bad.message;
}

TEST(config, flags_beat_environment_beat_file) {
  fixture f;
  auto path = write_file("tallyd_precedence.conf",
                         "# comment\nread-timeout-ms = 1000\nconnections-max = 7\n"
                         "log-level = \"debug\"\njournal = memory\n");
  f.environment["TALLY_CONFIG"] = path;
  f.environment["TALLY_READ_TIMEOUT_MS"] = "2000";
  f.environment["TALLY_CONNECTIONS_MAX"] = "8";
  auto out = f.parse({"--connections-max=9"});
  ASSERT_EQ(out.action, config_outcome::kind::run) << out.message;
  EXPECT_EQ(out.config.read_timeout_ms, 2000u);
  EXPECT_EQ(out.config.connections_max, 9u);
  EXPECT_EQ(out.config.log_level, "debug");
  EXPECT_EQ(out.config.journal, journal_kind::memory);
  EXPECT_EQ(out.config.config, path);
}

TEST(config, errors_name_the_key_and_source) {
  struct expectation {
    std::vector<std::string> flags;
    std::map<std::string, std::string> environment;
    const char* needle;
  };
  const expectation cases[] = {
    {{"--journal", "memory", "--read-timeout-ms", "abc"}, {}, "key 'read-timeout-ms' (flag"},
    {{"--journal", "memory"}, {{"TALLY_CONNECTIONS_MAX", "0"}}, "key 'connections-max' (environment"},
    {{"--journal", "sqlite"}, {}, "key 'journal'"},
    {{"--journal", "memory", "--listen", "127.0.0.1"}, {}, "key 'listen'"},
    {{"--journal", "memory", "--listen", "example.com:80"}, {}, "key 'listen'"},
    {{"--journal", "memory", "--listen", "0.0.0.0:0"}, {}, "key 'token-file'"},
    {{"--journal", "memory", "--log-level", "loud"}, {}, "key 'log-level'"},
    {{}, {}, "key 'data-dir' is required"},
    {{"--journal", "memory", "--no-such-flag"}, {}, "--no-such-flag"},
    {{"--journal", "memory", "--request-body-bytes-max", "99999999999"}, {}, "request-body-bytes-max"},
    {{"--journal", "memory", "--config", "/nonexistent/tallyd.conf"}, {}, "key 'config'"},
    {{"--journal", "memory", "--transfers-in-progress-max", "0"}, {}, "key 'transfers-in-progress-max'"},
  };
  for (const auto& test : cases) {
    fixture f;
    f.environment = test.environment;
    auto out = f.parse(test.flags);
    EXPECT_EQ(out.action, config_outcome::kind::error) << test.needle;
    EXPECT_NE(out.message.find(test.needle), std::string::npos) << out.message;
  }
}

TEST(config, file_parsing_is_strict) {
  EXPECT_TRUE(parse_config_file("a", "f").error.find("f:1: expected key = value") == 0);
  EXPECT_NE(parse_config_file("nope = 1", "f").error.find("unknown key 'nope'"), std::string::npos);
  EXPECT_NE(parse_config_file("journal = file\njournal = memory", "f").error.find("f:2"),
            std::string::npos);
  EXPECT_NE(parse_config_file("config = x", "f").error.find("only allowed"), std::string::npos);
  EXPECT_NE(parse_config_file("journal = \"memory", "f").error.find("unbalanced"), std::string::npos);
  auto ok = parse_config_file("\n  # c\njournal = memory\r\ndata-dir=\"/a b\"\n", "f");
  ASSERT_EQ(ok.error, "");
  ASSERT_EQ(ok.entries.size(), 2u);
  EXPECT_EQ(ok.entries[1].value, "/a b");
}

TEST(config, help_lists_every_option) {
  fixture f;
  auto out = f.parse({"--help"});
  ASSERT_EQ(out.action, config_outcome::kind::help);
  for (const auto& name : config_option_names())
    EXPECT_NE(out.message.find("--" + name), std::string::npos) << name;
  EXPECT_NE(out.message.find("TALLY_READ_TIMEOUT_MS"), std::string::npos);
}

TEST(config, boolean_flags) {
  fixture f;
  auto out = f.parse({"--journal", "memory", "--allow-root", "--request-log"});
  ASSERT_EQ(out.action, config_outcome::kind::run) << out.message;
  EXPECT_TRUE(out.config.allow_root);
  EXPECT_TRUE(out.config.request_log);
  fixture g;
  g.environment["TALLY_ALLOW_ROOT"] = "yes";
  EXPECT_EQ(g.parse({"--journal", "memory"}).action, config_outcome::kind::error);
}

TEST(config, listen_addresses) {
  listen_address out;
  EXPECT_EQ(parse_listen_address("127.0.0.1:0", out), "");
  EXPECT_EQ(out.port, 0);
  EXPECT_EQ(parse_listen_address("localhost:8080", out), "");
  EXPECT_EQ(out.host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("[::1]:9", out), "");
  EXPECT_EQ(out.host, "::1");
  EXPECT_NE(parse_listen_address("127.0.0.1:65536", out), "");
  EXPECT_NE(parse_listen_address(":80", out), "");
  EXPECT_TRUE(is_loopback_host("127.0.0.2"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("10.1.2.3"));
}
