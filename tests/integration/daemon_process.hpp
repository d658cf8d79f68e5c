// Starts the real tallyd for integration tests: a temp data directory, an ephemeral
// port on 127.0.0.1 (port 0; the daemon prints "listening on HOST:PORT" first on
// stdout), stderr kept in a log file, and a bounded stop. The process handling itself
// is in support/tallyd_process.hpp (shared with the crash driver, tests/crash/).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/tallyd_process.hpp"

namespace tally::testing {

/// Temp directories of this test process, removed when it exits (kept when the
/// environment has TALLY_KEEP_TEST_DIRS, for post-mortems).
struct temp_directories {
  std::vector<std::string> paths;
  ~temp_directories() {
    if (std::getenv("TALLY_KEEP_TEST_DIRS"))
      return;
    for (const auto& path : paths) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }
};

inline std::string make_temp_directory(const std::string& prefix) {
  static temp_directories made_here;
  std::string pattern = ::testing::TempDir() + prefix + "_XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (!made) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  made_here.paths.emplace_back(made);
  return made;
}

/// A running tallyd (the binary this test was built with, TALLYD_PATH).
class daemon_process : public tallyd_process {
public:
  using tallyd_process::start;

  /// Starts tallyd with `args` (after the binary) and waits for its listening line.
  /// Returns false (with the log in `log()`) when it exited or did not listen in time.
  bool start(const std::vector<std::string>& args, const std::string& log_path) {
    return tallyd_process::start(TALLYD_PATH, args, log_path);
  }
};

/// Flags every test passes: loopback, ephemeral port, and --allow-root when the
/// suite runs as root (CI containers do).
inline std::vector<std::string> base_flags(const std::string& data_dir) {
  std::vector<std::string> flags{"--listen", "127.0.0.1:0", "--data-dir", data_dir};
  if (::geteuid() == 0)
    flags.push_back("--allow-root");
  return flags;
}

/// A response's JSON body; a discarded value (is_discarded()) when it is not JSON.
inline nlohmann::json body_of(const http_common::http_response& response) {
  return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

}  // namespace tally::testing
