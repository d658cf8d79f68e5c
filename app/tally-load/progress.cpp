#include "app/tally-load/progress.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace tally::load {

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
