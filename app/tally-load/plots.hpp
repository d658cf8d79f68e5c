// SVG plots of a run for people: the latency percentile curve (HdrHistogram style,
// x = "nines" on a log scale, y = latency on a log scale, one line per operation) and
// the throughput per second. Hand-written SVG 1.1: no dependencies, opens in any
// browser.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/tally-load/latency_histogram.hpp"
#include "app/tally-load/parse_result.hpp"
#include "app/tally-load/run_stats.hpp"

namespace tally::load {

/// One line of the percentile plot. `histogram` must outlive the render call.
struct latency_series {
  std::string name;
  const latency_histogram* histogram = nullptr;
};

/// Highest percentile plotted: 99.99 (four nines).
inline constexpr double plot_nines_max = 4.0;

/// Renders the latency percentile curve: x from percentile 0 to 99.99 on a nines
/// scale (labels 0, 90, 99, 99.9, 99.99), y in µs on a log scale with decade
/// gridlines; one polyline per non-empty series (class "series", data-name = name)
/// and a legend with each series' name and max. Empty series are skipped; with none
/// left the plot says "no data". Returns a complete SVG document.
std::string render_latency_percentile_svg(const std::vector<latency_series>& series,
                                          const std::string& title);

/// Renders commands completed per second (one point per second, y linear from 0).
/// The last second is usually partial and is drawn dashed. Returns an SVG document.
std::string render_throughput_svg(const std::vector<std::uint64_t>& completed_per_second,
                                  const std::string& title);

/// Writes "latency_percentiles.svg" (overall + one line per operation that ran) and
/// "throughput.svg" into `directory`, creating it when missing. Returns the written
/// paths, or an error naming the path.
parse_result<std::vector<std::string>> write_plots(const std::string& directory,
                                                   const run_stats& stats,
                                                   const std::string& title);

/// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace tally::load
