#include "app/tally-load/plots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace tally::load {

namespace {

// Canvas: the plot area sits inside fixed margins; the legend lives in the right one.
constexpr double canvas_width = 960.0;
constexpr double canvas_height = 560.0;
constexpr double margin_left = 90.0;
constexpr double margin_right = 190.0;
constexpr double margin_top = 56.0;
constexpr double margin_bottom = 64.0;
constexpr double plot_width = canvas_width - margin_left - margin_right;
constexpr double plot_height = canvas_height - margin_top - margin_bottom;
// Samples per nine: enough for a smooth curve, few enough for a small file.
constexpr int samples_per_nine = 50;
// Latencies are drawn in µs; values below this (0 ns) are drawn at it on the log axis.
constexpr double latency_us_floor = 0.01;

// Colour-blind-friendly palette (Okabe & Ito).
constexpr const char* palette[] = {"#000000", "#E69F00", "#56B4E9", "#009E73",
                                   "#D55E00", "#0072B2", "#CC79A7", "#F0E442"};

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", value);
  return buffer;
}

std::string document_start(const std::string& title) {
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
         number(canvas_width) + "\" height=\"" + number(canvas_height) + "\" viewBox=\"0 0 " +
         number(canvas_width) + " " + number(canvas_height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<title>" + xml_escape(title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + number(canvas_width) + "\" height=\"" +
         number(canvas_height) + "\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"" + number(canvas_width / 2) +
         "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
         xml_escape(title) + "</text>\n";
  svg += "<rect x=\"" + number(margin_left) + "\" y=\"" + number(margin_top) + "\" width=\"" +
         number(plot_width) + "\" height=\"" + number(plot_height) +
         "\" fill=\"none\" stroke=\"#444444\"/>\n";
  return svg;
}

std::string axis_labels(const std::string& x_label, const std::string& y_label) {
  std::string svg = "<text x=\"" + number(margin_left + plot_width / 2) + "\" y=\"" +
                    number(canvas_height - 18) + "\" text-anchor=\"middle\">" +
                    xml_escape(x_label) + "</text>\n";
  const double y_center = margin_top + plot_height / 2;
  svg += "<text x=\"22\" y=\"" + number(y_center) +
         "\" text-anchor=\"middle\" transform=\"rotate(-90 22 " + number(y_center) + ")\">" +
         xml_escape(y_label) + "</text>\n";
  return svg;
}

std::string no_data(const std::string& svg_so_far) {
  return svg_so_far + "<text x=\"" + number(margin_left + plot_width / 2) + "\" y=\"" +
         number(margin_top + plot_height / 2) + "\" text-anchor=\"middle\">no data</text>\n" +
         "</svg>\n";
}

std::string format_tick(double value) {
  char buffer[32];
  if (value >= 1.0 || value == 0.0) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%g", value);
  }
  return buffer;
}

std::string format_us(double value_us) {
  char buffer[32];
  if (value_us >= 1'000'000.0) {
    std::snprintf(buffer, sizeof(buffer), "%.2f s", value_us / 1'000'000.0);
  } else if (value_us >= 1'000.0) {
    std::snprintf(buffer, sizeof(buffer), "%.2f ms", value_us / 1'000.0);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f us", value_us);
  }
  return buffer;
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  const double nice = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
  return nice * magnitude;
}

double percentile_at_nines(double nines) { return 100.0 * (1.0 - std::pow(10.0, -nines)); }

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default: escaped += c; break;
    }
  }
  return escaped;
}

std::string render_latency_percentile_svg(const std::vector<latency_series>& series,
                                          const std::string& title) {
  std::string svg = document_start(title);
  svg += axis_labels("percentile (log scale of nines)", "latency (us, log scale)");

  std::vector<const latency_series*> drawn;
  for (const latency_series& one : series) {
    if (one.histogram != nullptr && one.histogram->count() > 0) {
      drawn.push_back(&one);
    }
  }
  if (drawn.empty()) {
    return no_data(svg);
  }

  // Sample every curve once; the samples decide the y range.
  std::vector<std::vector<std::pair<double, double>>> curves;  // (nines, latency_us)
  double latency_us_low = 0.0;
  double latency_us_high = 0.0;
  bool first_sample = true;
  const int sample_count = static_cast<int>(plot_nines_max) * samples_per_nine;
  for (const latency_series* one : drawn) {
    std::vector<std::pair<double, double>> curve;
    for (int i = 0; i <= sample_count; ++i) {
      const double nines = static_cast<double>(i) / samples_per_nine;
      const double latency_us = std::max(
          latency_us_floor,
          static_cast<double>(one->histogram->percentile_ns(percentile_at_nines(nines))) / 1000.0);
      curve.emplace_back(nines, latency_us);
      latency_us_low = first_sample ? latency_us : std::min(latency_us_low, latency_us);
      latency_us_high = first_sample ? latency_us : std::max(latency_us_high, latency_us);
      first_sample = false;
    }
    curves.push_back(std::move(curve));
  }
  const double decade_low = std::floor(std::log10(latency_us_low));
  double decade_high = std::ceil(std::log10(latency_us_high));
  if (decade_high <= decade_low) {
    decade_high = decade_low + 1;
  }
  const auto x_of = [](double nines) { return margin_left + nines / plot_nines_max * plot_width; };
  const auto y_of = [&](double latency_us) {
    const double fraction = (std::log10(latency_us) - decade_low) / (decade_high - decade_low);
    return margin_top + plot_height - fraction * plot_height;
  };

  // Grid and ticks: one vertical line per nine, one horizontal line per decade.
  const char* nine_labels[] = {"0", "90", "99", "99.9", "99.99", "99.999"};
  svg += "<g class=\"grid\" stroke=\"#dddddd\">\n";
  for (int nine = 0; nine <= static_cast<int>(plot_nines_max); ++nine) {
    const double x = x_of(nine);
    svg += "<line x1=\"" + number(x) + "\" y1=\"" + number(margin_top) + "\" x2=\"" + number(x) +
           "\" y2=\"" + number(margin_top + plot_height) + "\"/>\n";
  }
  for (double decade = decade_low; decade <= decade_high; decade += 1.0) {
    const double y = y_of(std::pow(10.0, decade));
    svg += "<line x1=\"" + number(margin_left) + "\" y1=\"" + number(y) + "\" x2=\"" +
           number(margin_left + plot_width) + "\" y2=\"" + number(y) + "\"/>\n";
  }
  svg += "</g>\n<g class=\"ticks\">\n";
  for (int nine = 0; nine <= static_cast<int>(plot_nines_max); ++nine) {
    svg += "<text x=\"" + number(x_of(nine)) + "\" y=\"" + number(margin_top + plot_height + 18) +
           "\" text-anchor=\"middle\">" + nine_labels[nine] + "</text>\n";
  }
  for (double decade = decade_low; decade <= decade_high; decade += 1.0) {
    svg += "<text x=\"" + number(margin_left - 8) + "\" y=\"" +
           number(y_of(std::pow(10.0, decade)) + 4) + "\" text-anchor=\"end\">" +
           format_tick(std::pow(10.0, decade)) + "</text>\n";
  }
  svg += "</g>\n";

  // Curves and legend.
  for (std::size_t i = 0; i < drawn.size(); ++i) {
    const char* colour = palette[i % (sizeof(palette) / sizeof(palette[0]))];
    svg += "<polyline class=\"series\" data-name=\"" + xml_escape(drawn[i]->name) +
           "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" +
           (i == 0 ? "2.5" : "1.5") + "\" points=\"";
    for (const auto& [nines, latency_us] : curves[i]) {
      svg += number(x_of(nines)) + "," + number(y_of(latency_us)) + " ";
    }
    svg += "\"/>\n";
    const double legend_y = margin_top + 14 + static_cast<double>(i) * 34;
    const double legend_x = margin_left + plot_width + 16;
    svg += "<line x1=\"" + number(legend_x) + "\" y1=\"" + number(legend_y - 4) + "\" x2=\"" +
           number(legend_x + 22) + "\" y2=\"" + number(legend_y - 4) + "\" stroke=\"" + colour +
           "\" stroke-width=\"3\"/>\n";
    svg += "<text class=\"legend\" x=\"" + number(legend_x + 28) + "\" y=\"" + number(legend_y) +
           "\">" + xml_escape(drawn[i]->name) + "</text>\n";
    svg += "<text x=\"" + number(legend_x + 28) + "\" y=\"" + number(legend_y + 14) +
           "\" font-size=\"10\" fill=\"#555555\">n=" + std::to_string(drawn[i]->histogram->count()) +
           " max " + format_us(static_cast<double>(drawn[i]->histogram->max_ns()) / 1000.0) +
           "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::string render_throughput_svg(const std::vector<std::uint64_t>& completed_per_second,
                                  const std::string& title) {
  std::string svg = document_start(title);
  svg += axis_labels("time since start (s)", "commands completed per second");
  if (completed_per_second.empty()) {
    return no_data(svg);
  }
  const std::uint64_t peak = *std::max_element(completed_per_second.begin(),
                                               completed_per_second.end());
  const double y_step = nice_step(std::max<double>(1.0, static_cast<double>(peak)), 5);
  const double y_max = std::max(y_step, std::ceil(static_cast<double>(peak) / y_step) * y_step);
  const double seconds = static_cast<double>(completed_per_second.size());
  const double x_step = nice_step(seconds, 10);
  const auto x_of = [&](double second) { return margin_left + second / seconds * plot_width; };
  const auto y_of = [&](double rate) { return margin_top + plot_height - rate / y_max * plot_height; };

  svg += "<g class=\"grid\" stroke=\"#dddddd\">\n";
  for (double rate = 0.0; rate <= y_max + y_step / 2; rate += y_step) {
    svg += "<line x1=\"" + number(margin_left) + "\" y1=\"" + number(y_of(rate)) + "\" x2=\"" +
           number(margin_left + plot_width) + "\" y2=\"" + number(y_of(rate)) + "\"/>\n";
  }
  svg += "</g>\n<g class=\"ticks\">\n";
  for (double rate = 0.0; rate <= y_max + y_step / 2; rate += y_step) {
    svg += "<text x=\"" + number(margin_left - 8) + "\" y=\"" + number(y_of(rate) + 4) +
           "\" text-anchor=\"end\">" + format_tick(rate) + "</text>\n";
  }
  for (double second = 0.0; second <= seconds + x_step / 2; second += x_step) {
    svg += "<text x=\"" + number(x_of(second)) + "\" y=\"" + number(margin_top + plot_height + 18) +
           "\" text-anchor=\"middle\">" + format_tick(second) + "</text>\n";
  }
  svg += "</g>\n";

  // Each second's count is drawn at the middle of its second. The last second is
  // usually cut short by the end of the run, so its segment is dashed.
  const std::size_t full_seconds = completed_per_second.size() > 1 ? completed_per_second.size() - 1 : 1;
  svg += "<polyline class=\"series\" data-name=\"throughput\" fill=\"none\" stroke=\"#0072B2\" "
         "stroke-width=\"2\" points=\"";
  for (std::size_t second = 0; second < full_seconds; ++second) {
    svg += number(x_of(static_cast<double>(second) + 0.5)) + "," +
           number(y_of(static_cast<double>(completed_per_second[second]))) + " ";
  }
  svg += "\"/>\n";
  if (completed_per_second.size() > 1) {
    const std::size_t last = completed_per_second.size() - 1;
    svg += "<polyline class=\"partial\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2\" "
           "stroke-dasharray=\"5,4\" points=\"" +
           number(x_of(static_cast<double>(last) - 0.5)) + "," +
           number(y_of(static_cast<double>(completed_per_second[last - 1]))) + " " +
           number(x_of(static_cast<double>(last) + 0.5)) + "," +
           number(y_of(static_cast<double>(completed_per_second[last]))) + "\"/>\n";
  }
  for (std::size_t second = 0; second < completed_per_second.size(); ++second) {
    svg += "<circle cx=\"" + number(x_of(static_cast<double>(second) + 0.5)) + "\" cy=\"" +
           number(y_of(static_cast<double>(completed_per_second[second]))) +
           "\" r=\"2.5\" fill=\"#0072B2\"><title>" + std::to_string(second) + " s: " +
           std::to_string(completed_per_second[second]) + "</title></circle>\n";
  }
  const double legend_x = margin_left + plot_width + 16;
  std::uint64_t total = 0;
  for (std::uint64_t count : completed_per_second) {
    total += count;
  }
  svg += "<text class=\"legend\" x=\"" + number(legend_x) + "\" y=\"" + number(margin_top + 14) +
         "\">throughput</text>\n";
  svg += "<text x=\"" + number(legend_x) + "\" y=\"" + number(margin_top + 30) +
         "\" font-size=\"10\" fill=\"#555555\">peak " + std::to_string(peak) + "/s, total " +
         std::to_string(total) + "</text>\n";
  svg += "</svg>\n";
  return svg;
}

parse_result<std::vector<std::string>> write_plots(const std::string& directory,
                                                   const run_stats& stats,
                                                   const std::string& title) {
  using result = parse_result<std::vector<std::string>>;
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return result::failure("cannot create plot directory '" + directory + "': " + error.message());
  }
  std::vector<latency_series> series{{"all", &stats.overall_latency()}};
  for (operation op : all_operations) {
    series.push_back({std::string{to_string(op)}, &stats.latency(op)});
  }
  const std::vector<std::pair<std::string, std::string>> files{
      {"latency_percentiles.svg",
       render_latency_percentile_svg(series, title + ": latency by percentile")},
      {"throughput.svg", render_throughput_svg(stats.completed_per_second(),
                                               title + ": throughput per second")},
  };
  std::vector<std::string> paths;
  for (const auto& [name, content] : files) {
    const std::string path = (std::filesystem::path{directory} / name).string();
    std::ofstream file{path, std::ios::trunc};
    file << content;
    file.flush();
    if (!file) {
      return result::failure("cannot write plot file '" + path + "'");
    }
    paths.push_back(path);
  }
  return result::success(std::move(paths));
}

}  // namespace tally::load
