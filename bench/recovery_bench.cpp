// Recovery benchmark for the file journal: builds an N-event store with the real
// open_file_journal + append_batch, then measures
//   (a) open_file_journal (recovery scan + index build), warm and, when the page cache
//       can be dropped (root), cold;
//   (b) a full replay through read_all pages;
//   (c) a raw sequential read() of the same segment files in 1 MiB chunks,
// and prints them side by side. Events look like the bank's: ~130 bytes on disk,
// stream ids "acct-<n>" over --streams streams, one command id per event.
//
//   recovery_bench [--events N] [--data-dir DIR] [--batch N] [--streams N] [--reuse]
//                  [--keep] [--opens N] [--no-cold]
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"
#include "tally/journal.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// CPU seconds (user + system) this process used so far: on a shared machine the wall
// time of one run says as much about the neighbours as about the code.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct options {
  std::uint64_t events = 10'000'000;
  std::string data_dir = "bench-data/recovery";
  std::size_t batch = 4096;
  std::size_t streams = 10'000;
  std::size_t opens = 3;
  bool reuse = false;
  bool keep = false;
  bool cold = true;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "recovery_bench: %s\nusage: recovery_bench [--events N] [--data-dir DIR] "
               "[--batch N] [--streams N] [--opens N] [--reuse] [--keep] [--no-cold]\n",
               message);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--events")
      out.events = std::stoull(value());
    else if (arg == "--data-dir")
      out.data_dir = value();
    else if (arg == "--batch")
      out.batch = std::stoull(value());
    else if (arg == "--streams")
      out.streams = std::stoull(value());
    else if (arg == "--opens")
      out.opens = std::stoull(value());
    else if (arg == "--reuse")
      out.reuse = true;
    else if (arg == "--keep")
      out.keep = true;
    else if (arg == "--no-cold")
      out.cold = false;
    else
      usage(("unknown argument " + arg).c_str());
  }
  if (out.events == 0 || out.batch == 0 || out.batch > tally::append_batch_events_max
      || out.streams == 0 || out.opens == 0)
    usage("--events, --batch (<= 65536), --streams and --opens must be positive");
  return out;
}

// True when the page cache could be dropped (needs root).
bool drop_page_cache() {
  ::sync();
  int descriptor = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (descriptor < 0)
    return false;
  bool ok = ::write(descriptor, "3\n", 2) == 2;
  ::close(descriptor);
  return ok;
}

std::vector<std::string> segment_files(const std::string& directory) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("segment-", 0) == 0 && name.size() > 4
        && name.compare(name.size() - 4, 4, ".log") == 0)
      out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<tally::journal> open_or_die(const std::string& directory,
                                            tally::recovery_report* report,
                                            bool index_checkpoint = true) {
  tally::file_journal_options journal_options{directory};
  journal_options.index_checkpoint = index_checkpoint;
  auto opened = tally::open_file_journal(tally::posix_file_system(), journal_options, report);
  if (!opened) {
    std::fprintf(stderr, "recovery_bench: open failed: %s\n", opened.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*opened);
}

void build(const options& opts) {
  std::error_code ignored;
  std::filesystem::remove_all(opts.data_dir, ignored);
  std::filesystem::create_directories(std::filesystem::path(opts.data_dir).parent_path(), ignored);
  auto journal = open_or_die(opts.data_dir, nullptr);
  std::mt19937_64 random{42};
  std::vector<std::uint64_t> versions(opts.streams, 0);
  std::vector<tally::recorded_event> batch;
  batch.reserve(opts.batch);
  auto start = clock_type::now();
  std::uint64_t position = 0;
  std::uint64_t batches = 0;
  while (position < opts.events) {
    batch.clear();
    std::size_t count = static_cast<std::size_t>(
      std::min<std::uint64_t>(opts.batch, opts.events - position));
    for (std::size_t i = 0; i < count; ++i) {
      tally::recorded_event event;
      std::size_t stream = static_cast<std::size_t>(random() % opts.streams);
      event.position = ++position;
      event.stream_id = "acct-" + std::to_string(stream);
      event.stream_version = ++versions[stream];
      event.command = tally::command_id{random() | 1, random()};
      event.event_id = event.command.derive("event", 0);
      event.type = "deposited";
      event.schema_version = 1;
      char payload[16];
      int written = std::snprintf(payload, sizeof payload, "{\"a\":%u}",
                                  static_cast<unsigned>(random() % 100000));
      event.payload.assign(payload, static_cast<std::size_t>(written));
      event.command_hash = random();
      event.timestamp_ns = 1'700'000'000'000'000'000LL + static_cast<std::int64_t>(position);
      batch.push_back(std::move(event));
    }
    if (auto appended = journal->append_batch(batch)) {
      std::fprintf(stderr, "recovery_bench: append failed: %s\n", appended.to_string().c_str());
      std::exit(1);
    }
    ++batches;
  }
  double elapsed = seconds_since(start);
  std::printf("built %llu events in %llu batches of %zu (one fdatasync each) in %.1f s: "
              "%.0f events/s\n",
              static_cast<unsigned long long>(position), static_cast<unsigned long long>(batches),
              opts.batch, elapsed, static_cast<double>(position) / elapsed);
}

struct open_result {
  double seconds = 0;
  double cpu = 0;
  tally::recovery_report report;
};

open_result measure_open(const options& opts, bool index_checkpoint = true) {
  open_result out;
  auto start = clock_type::now();
  double cpu_start = cpu_seconds();
  auto journal = open_or_die(opts.data_dir, &out.report, index_checkpoint);
  out.seconds = seconds_since(start);
  out.cpu = cpu_seconds() - cpu_start;
  if (journal->head() != opts.events) {
    std::fprintf(stderr, "recovery_bench: recovered head %llu, expected %llu\n",
                 static_cast<unsigned long long>(journal->head()),
                 static_cast<unsigned long long>(opts.events));
    std::exit(1);
  }
  auto close_start = clock_type::now();
  journal.reset();
  std::printf("  open: %.3f s wall, %.3f s cpu (recovery %.3f s: %llu events from the index "
              "checkpoint, %llu segments scanned, %llu bytes checked), close %.3f s\n",
              out.seconds, out.cpu, static_cast<double>(out.report.scan_duration_us) / 1e6,
              static_cast<unsigned long long>(out.report.checkpoint_events),
              static_cast<unsigned long long>(out.report.segments_scanned),
              static_cast<unsigned long long>(out.report.bytes_scanned), seconds_since(close_start));
  return out;
}

struct replay_result {
  double seconds = 0;
  std::uint64_t events = 0;
  std::uint64_t payload_bytes = 0;
};

replay_result measure_replay(const options& opts) {
  auto journal = open_or_die(opts.data_dir, nullptr);
  replay_result out;
  auto start = clock_type::now();
  std::uint64_t next = 1;
  constexpr std::size_t page = 4096;
  for (;;) {
    auto events = journal->read_all(next, page);
    if (!events) {
      std::fprintf(stderr, "recovery_bench: read_all failed: %s\n",
                   events.error().to_string().c_str());
      std::exit(1);
    }
    if (events->empty())
      break;
    for (const auto& event : *events)
      out.payload_bytes += event.payload.size();
    out.events += events->size();
    next = events->back().position + 1;
  }
  out.seconds = seconds_since(start);
  return out;
}

struct raw_result {
  double seconds = 0;
  std::uint64_t bytes = 0;
};

raw_result measure_raw_read(const std::vector<std::string>& files) {
  raw_result out;
  std::vector<char> buffer(1 << 20);
  auto start = clock_type::now();
  for (const auto& path : files) {
    int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) {
      std::perror(path.c_str());
      std::exit(1);
    }
    for (;;) {
      ssize_t read = ::read(descriptor, buffer.data(), buffer.size());
      if (read < 0) {
        std::perror(path.c_str());
        std::exit(1);
      }
      if (read == 0)
        break;
      out.bytes += static_cast<std::uint64_t>(read);
    }
    ::close(descriptor);
  }
  out.seconds = seconds_since(start);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  options opts = parse(argc, argv);
  bool reused = false;
  if (opts.reuse && std::filesystem::exists(opts.data_dir)) {
    std::printf("reusing %s\n", opts.data_dir.c_str());
    reused = true;
  } else {
    build(opts);
  }
  auto files = segment_files(opts.data_dir);
  std::uint64_t bytes = 0;
  for (const auto& path : files)
    bytes += std::filesystem::file_size(path);
  double events = static_cast<double>(opts.events);
  std::printf("store: %llu events, %zu segment files, %.1f MB (%.1f bytes/event)\n",
              static_cast<unsigned long long>(opts.events), files.size(),
              static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / events);

  // Cold: page cache dropped (root only), then the first open reads from the device.
  bool cold = opts.cold && drop_page_cache();
  open_result cold_open;
  raw_result cold_raw;
  if (cold) {
    std::printf("cold open (page cache dropped):\n");
    cold_open = measure_open(opts);
    drop_page_cache();
    cold_raw = measure_raw_read(files);
  } else {
    std::printf("cold figures skipped (--no-cold, or the page cache cannot be dropped)\n");
  }
  // Warm: everything in the page cache.
  (void)measure_raw_read(files);
  std::printf("warm opens:\n");
  open_result best;
  best.seconds = 1e30;
  for (std::size_t i = 0; i < opts.opens; ++i) {
    open_result run = measure_open(opts);
    if (run.seconds < best.seconds)
      best = run;
  }
  std::printf("warm open with a full scan (index_checkpoint = false):\n");
  open_result full_scan = measure_open(opts, false);
  replay_result replay = measure_replay(opts);
  raw_result raw = measure_raw_read(files);

  auto mbps = [](double b, double s) { return b / s / 1e6; };
  std::printf("\n%-40s %10s %14s %10s\n", "measurement", "seconds", "events/s", "MB/s");
  if (cold) {
    std::printf("%-40s %10.3f %14.0f %10.0f\n", "open_file_journal, cold", cold_open.seconds,
                events / cold_open.seconds, mbps(static_cast<double>(bytes), cold_open.seconds));
    std::printf("%-40s %10.3f %14.0f %10.0f\n", "raw read() 1 MiB chunks, cold", cold_raw.seconds,
                events / cold_raw.seconds, mbps(static_cast<double>(cold_raw.bytes), cold_raw.seconds));
  }
  std::printf("%-40s %10.3f %14.0f %10.0f\n", "open_file_journal, warm (best)", best.seconds,
              events / best.seconds, mbps(static_cast<double>(bytes), best.seconds));
  double scan = std::max(1e-6, static_cast<double>(best.report.scan_duration_us) / 1e6);
  std::printf("%-40s %10.3f %14.0f %10.0f\n", "  of which recovery (checkpoint + scan)", scan,
              events / scan, mbps(static_cast<double>(bytes), scan));
  std::printf("%-40s %10.3f %14.0f %10.0f\n", "open, full scan (no checkpoint), warm",
              full_scan.seconds, events / full_scan.seconds,
              mbps(static_cast<double>(bytes), full_scan.seconds));
  std::printf("%-40s %10.3f %14.0f %10.0f\n", "replay read_all (pages of 4096), warm",
              replay.seconds, static_cast<double>(replay.events) / replay.seconds,
              mbps(static_cast<double>(bytes), replay.seconds));
  std::printf("%-40s %10.3f %14.0f %10.0f\n", "raw read() 1 MiB chunks, warm", raw.seconds,
              events / raw.seconds, mbps(static_cast<double>(raw.bytes), raw.seconds));
  if (replay.events != opts.events) {
    std::fprintf(stderr, "recovery_bench: replay saw %llu events, expected %llu\n",
                 static_cast<unsigned long long>(replay.events),
                 static_cast<unsigned long long>(opts.events));
    return 1;
  }
  if (!opts.keep && !reused) {
    std::error_code ignored;
    std::filesystem::remove_all(opts.data_dir, ignored);
    std::printf("removed %s (--keep to keep it)\n", opts.data_dir.c_str());
  }
  return 0;
}
