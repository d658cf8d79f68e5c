#include "app/tally-load/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <vector>

#include "app/tally-load/latency_histogram.hpp"

namespace tally::load {

progress_counters::progress_counters()
    : bucket_counts_(new std::atomic<std::uint64_t>[latency_histogram::bucket_count]) {
  for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i) {
    bucket_counts_[i].store(0, std::memory_order_relaxed);
  }
}

void progress_counters::record_reply(std::uint64_t latency_ns) noexcept {
  const std::size_t bucket = latency_histogram::bucket_index(latency_ns);
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  completed_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t progress_counters::latency_ns_percentile(double percentile) const noexcept {
  // Copy the counts first: the clients keep recording while this runs.
  std::vector<std::uint64_t> counts(latency_histogram::bucket_count);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    counts[i] = bucket_counts_[i].load(std::memory_order_relaxed);
    total += counts[i];
  }
  if (total == 0) {
    return 0;
  }
  const double clamped = std::min(100.0, std::max(0.0, percentile));
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(total))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) {
      const std::uint64_t lowest = latency_histogram::bucket_lowest_ns(i);
      return lowest + (latency_histogram::bucket_highest_ns(i) - lowest) / 2;
    }
  }
  return latency_histogram::bucket_highest_ns(counts.size() - 1);
}

std::string format_progress_line(const progress_snapshot& snapshot) {
  const double elapsed_s = static_cast<double>(snapshot.elapsed_ns) / 1e9;
  const double rate_per_s =
      elapsed_s > 0.0 ? static_cast<double>(snapshot.completed) / elapsed_s : 0.0;
  const double percent = snapshot.total > 0 ? 100.0 * static_cast<double>(snapshot.completed) /
                                                  static_cast<double>(snapshot.total)
                                            : 0.0;
  char remaining[32] = "?";
  if (rate_per_s > 0.0 && snapshot.total >= snapshot.completed) {
    std::snprintf(remaining, sizeof(remaining), "%.1f s",
                  static_cast<double>(snapshot.total - snapshot.completed) / rate_per_s);
  }
  char line[256];
  std::snprintf(line, sizeof(line),
                "  %llu/%llu  %.1f%%  %.0f cmd/s  p99 %.0f us  elapsed %.1f s  remaining %s",
                static_cast<unsigned long long>(snapshot.completed),
                static_cast<unsigned long long>(snapshot.total), percent, rate_per_s,
                static_cast<double>(snapshot.latency_ns_p99) / 1000.0, elapsed_s, remaining);
  return line;
}

progress_reporter::progress_reporter(progress_mode mode, int descriptor)
    : enabled_(mode == progress_mode::automatic && ::isatty(descriptor) == 1),
      descriptor_(descriptor) {}

progress_reporter::progress_reporter(bool enabled, int descriptor)
    : enabled_(enabled), descriptor_(descriptor) {}

void progress_reporter::update(const progress_snapshot& snapshot) {
  if (!enabled_) {
    return;
  }
  if (drawn_ && snapshot.elapsed_ns < last_draw_ns_ + update_interval_ns) {
    return;
  }
  draw(snapshot);
}

void progress_reporter::finish(const progress_snapshot& snapshot) {
  if (!enabled_) {
    return;
  }
  draw(snapshot);
  const char newline = '\n';
  // Progress is best effort: a failed write to the terminal must not fail the run.
  [[maybe_unused]] const ssize_t written = ::write(descriptor_, &newline, 1);
}

void progress_reporter::draw(const progress_snapshot& snapshot) {
  std::string line = "\r" + format_progress_line(snapshot);
  const std::size_t visible_size = line.size() - 1;
  // Blank out what is left of a longer previous line.
  if (visible_size < last_line_size_) {
    line.append(last_line_size_ - visible_size, ' ');
  }
  last_line_size_ = visible_size;
  std::size_t offset = 0;
  while (offset < line.size()) {
    const ssize_t written = ::write(descriptor_, line.data() + offset, line.size() - offset);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      break;  // best effort, see finish()
    }
    offset += static_cast<std::size_t>(written);
  }
  drawn_ = true;
  last_draw_ns_ = snapshot.elapsed_ns;
}

}  // namespace tally::load
