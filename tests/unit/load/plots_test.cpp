#include "app/tally-load/plots.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace tally::load {
namespace {

// A structural XML check sufficient for our generated SVG: one prolog, every start tag
// closed by the matching end tag in order, attributes quoted, no stray '<' or '&'.
// Returns an empty string when well formed, else what is wrong.
std::string xml_structure_error(const std::string& text) {
  std::vector<std::string> open;
  std::size_t position = 0;
  bool root_seen = false;
  while (position < text.size()) {
    const char c = text[position];
    if (c == '&') {
      const std::size_t semicolon = text.find(';', position);
      if (semicolon == std::string::npos || semicolon - position > 6) {
        return "bare & at " + std::to_string(position);
      }
      position = semicolon + 1;
      continue;
    }
    if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) {
        return "text outside the root at " + std::to_string(position);
      }
      ++position;
      continue;
    }
    const std::size_t close = text.find('>', position);
    if (close == std::string::npos) {
      return "unterminated tag at " + std::to_string(position);
    }
    std::string tag = text.substr(position + 1, close - position - 1);
    position = close + 1;
    if (tag.rfind("?xml", 0) == 0) {
      if (root_seen || tag.back() != '?') return "misplaced prolog";
      continue;
    }
    if (tag.find('<') != std::string::npos) {
      return "'<' inside tag " + tag;
    }
    std::size_t quotes = 0;
    for (char t : tag) quotes += t == '"' ? 1 : 0;
    if (quotes % 2 != 0) {
      return "unbalanced quotes in tag " + tag;
    }
    if (tag.front() == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) {
        return "end tag </" + name + "> does not match <" + (open.empty() ? "" : open.back()) + ">";
      }
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty()) {
      if (root_seen) return "second root element <" + name + ">";
      root_seen = true;
    }
    if (!self_closing) {
      open.push_back(name);
    }
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (!root_seen) return "no root element";
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream file{path};
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// xmllint is used as a second opinion when the machine has it; the structural
// check above is the one that always runs.
void expect_xmllint_accepts(const std::string& path) {
  if (::access("/usr/bin/xmllint", X_OK) != 0) {
    return;
  }
  const std::string command = "/usr/bin/xmllint --noout '" + path + "' 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << path;
}

run_stats sample_stats() {
  std::mt19937_64 random{11};
  std::exponential_distribution<double> fast{1.0 / 50'000.0};
  std::exponential_distribution<double> slow{1.0 / 400'000.0};
  run_stats stats;
  for (std::uint64_t i = 0; i < 30'000; ++i) {
    const bool deposit = i % 2 == 0;
    const double latency_ns = deposit ? fast(random) : slow(random);
    stats.record_reply(deposit ? operation::deposit : operation::withdraw,
                       static_cast<std::uint64_t>(latency_ns) + 1'000, i * 100'000,
                       command_outcome::accepted);
  }
  return stats;
}

TEST(plots, escape_covers_the_xml_specials) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
}

TEST(plots, the_checker_rejects_broken_xml) {
  EXPECT_FALSE(xml_structure_error("<svg><g></svg>").empty());
  EXPECT_FALSE(xml_structure_error("<svg>a & b</svg>").empty());
  EXPECT_FALSE(xml_structure_error("<svg x=\"1></svg>").empty());
  EXPECT_TRUE(xml_structure_error("<?xml version=\"1.0\"?>\n<svg><g/><t>x &amp; y</t></svg>\n").empty());
}

TEST(plots, percentile_plot_has_one_line_per_operation_axes_and_legend) {
  const run_stats stats = sample_stats();
  const std::string svg = render_latency_percentile_svg(
      {{"all", &stats.overall_latency()},
       {"deposit", &stats.latency(operation::deposit)},
       {"withdraw", &stats.latency(operation::withdraw)},
       {"balance", &stats.latency(operation::balance)}},  // empty: skipped
      "uniform <embedded> & friends");
  EXPECT_EQ(xml_structure_error(svg), "");
  EXPECT_NE(svg.find("data-name=\"all\""), std::string::npos);
  EXPECT_NE(svg.find("data-name=\"deposit\""), std::string::npos);
  EXPECT_NE(svg.find("data-name=\"withdraw\""), std::string::npos);
  EXPECT_EQ(svg.find("data-name=\"balance\""), std::string::npos);
  for (const char* label : {">90<", ">99<", ">99.9<", ">99.99<", "percentile", "latency (us"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  EXPECT_NE(svg.find("uniform &lt;embedded&gt; &amp; friends"), std::string::npos);
}

TEST(plots, empty_data_still_gives_a_valid_document) {
  const latency_histogram empty;
  const std::string percentile_svg = render_latency_percentile_svg({{"all", &empty}}, "empty");
  EXPECT_EQ(xml_structure_error(percentile_svg), "");
  EXPECT_NE(percentile_svg.find("no data"), std::string::npos);
  const std::string throughput_svg = render_throughput_svg({}, "empty");
  EXPECT_EQ(xml_structure_error(throughput_svg), "");
  EXPECT_EQ(xml_structure_error(render_throughput_svg({42}, "one second")), "");
}

TEST(plots, writes_both_files_which_are_well_formed) {
  const std::string directory =
      ::testing::TempDir() + "/tally_plots_" + std::to_string(::getpid()) + "/nested";
  const run_stats stats = sample_stats();
  const parse_result<std::vector<std::string>> written = write_plots(directory, stats, "test run");
  ASSERT_TRUE(written.ok()) << written.error();
  ASSERT_EQ(written.value().size(), 2u);
  const std::string percentile_svg = read_file(directory + "/latency_percentiles.svg");
  const std::string throughput_svg = read_file(directory + "/throughput.svg");
  EXPECT_EQ(xml_structure_error(percentile_svg), "");
  EXPECT_EQ(xml_structure_error(throughput_svg), "");
  EXPECT_NE(percentile_svg.find("data-name=\"deposit\""), std::string::npos);
  EXPECT_NE(throughput_svg.find("data-name=\"throughput\""), std::string::npos);
  // 30,000 replies at 10,000/s: three full seconds of 10,000.
  EXPECT_NE(throughput_svg.find("0 s: 10000"), std::string::npos);
  EXPECT_NE(throughput_svg.find("2 s: 10000"), std::string::npos);
  for (const std::string& path : written.value()) {
    expect_xmllint_accepts(path);
  }
  std::filesystem::remove_all(std::filesystem::path{directory}.parent_path());
}

TEST(plots, an_unwritable_directory_is_an_error_naming_it) {
  const parse_result<std::vector<std::string>> written =
      write_plots("/proc/tally_no_such_dir", sample_stats(), "x");
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().find("/proc/tally_no_such_dir"), std::string::npos);
}

}  // namespace
}  // namespace tally::load
