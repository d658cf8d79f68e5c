#include "app/tally-load/fsync_baseline.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "app/tally-load/latency_histogram.hpp"

namespace tally::load {

namespace {

using result_list = parse_result<std::vector<fsync_baseline_result>>;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string system_error(const char* call, const std::string& path) {
  return std::string{call} + " failed for '" + path + "': " + std::strerror(errno);
}

// Owns the temp file: closes and unlinks it whatever happens.
class temp_file {
public:
  explicit temp_file(const std::string& directory) : path_(directory + "/tally-fsync-raw-XXXXXX") {
    descriptor_ = ::mkstemp(path_.data());
  }
  ~temp_file() {
    if (descriptor_ >= 0) {
      ::close(descriptor_);
      ::unlink(path_.c_str());
    }
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  int descriptor() const noexcept { return descriptor_; }
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
  int descriptor_ = -1;
};

// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
bool write_all(int descriptor, const char* bytes, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t written = ::pwrite(descriptor, bytes, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
    offset += static_cast<std::uint64_t>(written);
  }
  return true;
}

parse_result<fsync_baseline_result> run_one(const fsync_baseline_config& config,
                                            std::uint32_t batch_size) {
  using result = parse_result<fsync_baseline_result>;
  temp_file file{config.directory};
  if (file.descriptor() < 0) {
    return result::failure(system_error("mkstemp", file.path()));
  }
  const std::size_t batch_bytes = static_cast<std::size_t>(batch_size) * config.record_bytes;
  // Records are not all zeros so that no layer can skip or compress them cheaply.
  std::string batch(batch_bytes, '\0');
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  // The file is used up to the largest whole number of batches below the limit.
  const std::uint64_t file_bytes = fsync_file_bytes_max / batch_bytes * batch_bytes;
  if (config.preparation == file_preparation::preallocated) {
    const std::string zeros(std::min<std::size_t>(std::size_t{1} << 20, file_bytes), '\0');
    // Preallocate only what the run can plausibly use, bounded by the file limit.
    const std::uint64_t prepared_bytes =
        std::min<std::uint64_t>(file_bytes, config.events_per_batch_size_max * config.record_bytes +
                                                batch_bytes);
    for (std::uint64_t offset = 0; offset < prepared_bytes; offset += zeros.size()) {
      const std::size_t size =
          static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), prepared_bytes - offset));
      if (!write_all(file.descriptor(), zeros.data(), size, offset)) {
        return result::failure(system_error("pwrite", file.path()));
      }
    }
    if (::fsync(file.descriptor()) != 0) {
      return result::failure(system_error("fsync", file.path()));
    }
  }

  latency_histogram sync_latency;
  fsync_baseline_result outcome;
  outcome.batch_size = batch_size;
  std::uint64_t offset = 0;
  const auto duration_ns =
      static_cast<std::uint64_t>(config.duration_per_batch_size_s * 1'000'000'000.0);
  const std::uint64_t start_ns = now_ns();
  std::uint64_t untimed_ns = 0;
  while (true) {
    if (offset + batch_bytes > file_bytes) {
      if (config.preparation == file_preparation::appended) {
        // Start over in an empty file; the truncation is not part of the measurement.
        const std::uint64_t truncate_start_ns = now_ns();
        if (::ftruncate(file.descriptor(), 0) != 0 || ::fsync(file.descriptor()) != 0) {
          return result::failure(system_error("ftruncate", file.path()));
        }
        untimed_ns += now_ns() - truncate_start_ns;
      }
      offset = 0;
    }
    if (!write_all(file.descriptor(), batch.data(), batch.size(), offset)) {
      return result::failure(system_error("pwrite", file.path()));
    }
    const std::uint64_t sync_start_ns = now_ns();
    if (::fdatasync(file.descriptor()) != 0) {
      return result::failure(system_error("fdatasync", file.path()));
    }
    sync_latency.record_ns(now_ns() - sync_start_ns);
    offset += batch_bytes;
    outcome.events += batch_size;
    outcome.syncs += 1;
    const std::uint64_t elapsed_ns = now_ns() - start_ns - untimed_ns;
    if (elapsed_ns >= duration_ns || outcome.events >= config.events_per_batch_size_max) {
      outcome.elapsed_s = static_cast<double>(elapsed_ns) / 1'000'000'000.0;
      break;
    }
  }
  outcome.events_per_s =
      outcome.elapsed_s > 0.0 ? static_cast<double>(outcome.events) / outcome.elapsed_s : 0.0;
  outcome.fdatasync_latency_us_p50 = static_cast<double>(sync_latency.percentile_ns(50.0)) / 1000.0;
  outcome.fdatasync_latency_us_p99 = static_cast<double>(sync_latency.percentile_ns(99.0)) / 1000.0;
  outcome.fdatasync_latency_us_max = static_cast<double>(sync_latency.max_ns()) / 1000.0;
  return result::success(outcome);
}

}  // namespace

std::string_view to_string(file_preparation preparation) noexcept {
  return preparation == file_preparation::preallocated ? "preallocated" : "appended";
}

std::optional<std::string> validate(const fsync_baseline_config& config) {
  if (config.directory.empty()) {
    return std::string{"fsync-raw needs a directory (--data-dir)"};
  }
  struct stat status {};
  if (::stat(config.directory.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
    return "data directory '" + config.directory + "' does not exist or is not a directory";
  }
  if (config.record_bytes < 1 || config.record_bytes > fsync_record_bytes_max) {
    return "record bytes must be in 1.." + std::to_string(fsync_record_bytes_max) + " (got " +
           std::to_string(config.record_bytes) + ")";
  }
  if (config.batch_sizes.empty()) {
    return std::string{"at least one batch size is needed"};
  }
  for (std::uint32_t batch_size : config.batch_sizes) {
    if (batch_size < 1 || batch_size > fsync_batch_size_max) {
      return "batch size must be in 1.." + std::to_string(fsync_batch_size_max) + " (got " +
             std::to_string(batch_size) + ")";
    }
    if (std::uint64_t{batch_size} * config.record_bytes > fsync_file_bytes_max) {
      return "batch size " + std::to_string(batch_size) + " of " +
             std::to_string(config.record_bytes) + "-byte records exceeds the file limit";
    }
  }
  if (!(config.duration_per_batch_size_s > 0.0) || config.duration_per_batch_size_s > 3600.0) {
    return std::string{"duration per batch size must be in (0, 3600] seconds"};
  }
  if (config.events_per_batch_size_max < 1) {
    return std::string{"events per batch size must be at least 1"};
  }
  return std::nullopt;
}

parse_result<std::vector<fsync_baseline_result>> run_fsync_baseline(
    const fsync_baseline_config& config) {
  if (const std::optional<std::string> error = validate(config)) {
    return result_list::failure(*error);
  }
  std::vector<fsync_baseline_result> results;
  for (std::uint32_t batch_size : config.batch_sizes) {
    parse_result<fsync_baseline_result> one = run_one(config, batch_size);
    if (!one) {
      return result_list::failure(one.error());
    }
    results.push_back(one.value());
  }
  return result_list::success(std::move(results));
}

std::string format_fsync_baseline(const fsync_baseline_config& config,
                                  const std::vector<fsync_baseline_result>& results) {
  char line[256];
  std::string text = "fsync-raw: directory=" + config.directory +
                     " record_bytes=" + std::to_string(config.record_bytes) +
                     " file=" + std::string{to_string(config.preparation)} +
                     " (one pwrite + one fdatasync per batch)\n";
  std::snprintf(line, sizeof(line), "%10s %12s %10s %10s %14s %12s %12s %12s\n", "batch",
                "events", "syncs", "seconds", "events_per_s", "sync_us_p50", "sync_us_p99",
                "sync_us_max");
  text += line;
  for (const fsync_baseline_result& result : results) {
    std::snprintf(line, sizeof(line), "%10u %12llu %10llu %10.3f %14.0f %12.1f %12.1f %12.1f\n",
                  result.batch_size, static_cast<unsigned long long>(result.events),
                  static_cast<unsigned long long>(result.syncs), result.elapsed_s,
                  result.events_per_s, result.fdatasync_latency_us_p50,
                  result.fdatasync_latency_us_p99, result.fdatasync_latency_us_max);
    text += line;
  }
  return text;
}

}  // namespace tally::load
