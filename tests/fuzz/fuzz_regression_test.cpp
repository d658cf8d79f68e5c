// Replays the fuzz targets' inputs in the normal build, without clang or libFuzzer:
// every seed in tests/fuzz/corpus/<target>/ and every saved crash input in
// tests/fuzz/regressions/<target>/, the latter each as a named test. A target checks its
// properties with TALLY_ASSERT, which aborts: the test fails and the line "replaying
// <file>" on stderr names the input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_targets.hpp"

#ifndef TALLY_FUZZ_DIRECTORY
#error "TALLY_FUZZ_DIRECTORY must be the path of tests/fuzz"
#endif

namespace tally::fuzz {
namespace {

namespace fs = std::filesystem;

using fuzz_function = int (*)(const std::uint8_t*, std::size_t);

struct fuzz_target {
  const char* name;
  fuzz_function function;
};

const fuzz_target fuzz_targets[] = {
  {"json_command", &fuzz_json_command},
  {"record_codec", &fuzz_record_codec},
  {"segment_scanner", &fuzz_segment_scanner},
  {"http_request", &fuzz_http_request},
};

/// Every crash a fuzzer found: tests/fuzz/regressions/<target>/<file>, fixed since.
struct regression_case {
  const char* target;
  const char* file;
};

const regression_case regression_cases[] = {
  // nlohmann's "last read" token (client bytes) ended up in the malformed_json message.
  {"json_command", "malformed-json-message-echoes-raw-bytes"},
  // Beast does not bound a chunk-size line: the read buffer grew with the client's bytes.
  {"http_request", "unterminated-chunk-extension-grows-read-buffer"},
  // Beast 1.74 asserted (debug builds) that it holds 5 bytes when it resumes a last
  // chunk's trailer; a stream may give it fewer (app/http_common/boost_assert_handler.cpp).
  {"http_request", "chunk-trailer-resumed-with-fewer-than-5-bytes"},
};

// How GoogleTest (and so the CTest names) show a parameter: its name, not its bytes.
void PrintTo(const fuzz_target& target, std::ostream* out) { *out << target.name; }
void PrintTo(const regression_case& regression, std::ostream* out) {
  *out << regression.target << "/" << regression.file;
}

fs::path fuzz_directory() { return fs::path{TALLY_FUZZ_DIRECTORY}; }

// The inputs in `directory`, sorted; names starting with '.' (.gitkeep) are not inputs.
std::vector<fs::path> input_files(const fs::path& directory) {
  std::vector<fs::path> out;
  if (!fs::is_directory(directory))
    return out;
  for (const auto& entry : fs::directory_iterator{directory})
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.')
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream stream{path, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{stream}, std::istreambuf_iterator<char>{}};
}

fuzz_function function_of(std::string_view target) {
  for (const auto& candidate : fuzz_targets)
    if (candidate.name == target)
      return candidate.function;
  return nullptr;
}

void replay(const fs::path& file, fuzz_function function) {
  // Printed before the run: a failing property aborts the process.
  std::fprintf(stderr, "replaying %s\n", file.c_str());
  std::fflush(stderr);
  std::string bytes = read_file(file);
  EXPECT_EQ(function(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0)
    << file;
}

class fuzz_corpus : public ::testing::TestWithParam<fuzz_target> {};

TEST_P(fuzz_corpus, every_seed_passes_its_target) {
  auto files = input_files(fuzz_directory() / "corpus" / GetParam().name);
  // A handful of deliberate seeds per target; an empty directory is a packaging bug.
  EXPECT_GE(files.size(), 4u) << "too few seeds in corpus/" << GetParam().name;
  for (const auto& file : files)
    replay(file, GetParam().function);
}

INSTANTIATE_TEST_SUITE_P(all_targets, fuzz_corpus, ::testing::ValuesIn(fuzz_targets),
                         [](const ::testing::TestParamInfo<fuzz_target>& info) {
                           return std::string{info.param.name};
                         });

class fuzz_regression : public ::testing::TestWithParam<regression_case> {};

TEST_P(fuzz_regression, saved_crash_input_passes) {
  fs::path file = fuzz_directory() / "regressions" / GetParam().target / GetParam().file;
  ASSERT_TRUE(fs::is_regular_file(file)) << file << " is missing";
  auto function = function_of(GetParam().target);
  ASSERT_NE(function, nullptr) << "no fuzz target " << GetParam().target;
  replay(file, function);
}

std::string test_name_of(const regression_case& regression) {
  std::string name = std::string{regression.target} + "__" + regression.file;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)))
      c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(saved, fuzz_regression, ::testing::ValuesIn(regression_cases),
                         [](const ::testing::TestParamInfo<regression_case>& info) {
                           return test_name_of(info.param);
                         });

// A crash input saved without its named case above would still be replayed, but not
// show up by name; this keeps the list and the directory in step.
TEST(fuzz_regressions, every_saved_input_has_a_named_case) {
  std::set<std::string> named;
  for (const auto& regression : regression_cases)
    named.insert(std::string{regression.target} + "/" + regression.file);
  for (const auto& target : fuzz_targets) {
    for (const auto& file : input_files(fuzz_directory() / "regressions" / target.name)) {
      auto key = std::string{target.name} + "/" + file.filename().string();
      EXPECT_EQ(named.count(key), 1u) << key << " has no entry in regression_cases";
      replay(file, target.function);
    }
  }
}

}  // namespace
}  // namespace tally::fuzz
