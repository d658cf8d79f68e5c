// How fast this disk makes small appends durable, by the ways Linux offers: the journal's
// own (pwrite into the page cache, then fdatasync), a write that is its own sync
// (RWF_DSYNC, O_DSYNC), direct I/O (O_DIRECT, which needs 4 KiB-aligned buffers, offsets
// and sizes), and several syncs in flight at once, into one file or one file each. Every
// file is zero-filled and synced first, as the journal preallocates its segments, so no
// sync has to grow a file. It answers "would the durable journal gain from another
// write path?" before anyone builds one (docs/benchmarks.md, issue 3).
//
// usage: sync_modes_bench [--dir DIR] [--bytes B] [--seconds S] [--threads T]
//   --bytes    bytes per durable write (4096); a multiple of 4096 for the direct modes
//   --seconds  per mode (3)
//   --threads  writers for the concurrent modes (2)
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t direct_alignment = 4096;
constexpr std::size_t file_bytes = std::size_t{256} << 20;  // per file, zero-filled first
constexpr std::size_t threads_max = 64;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "sync_modes_bench: %s\n", message.c_str());
  std::exit(2);
}

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  fail(what + " " + path + ": " + std::strerror(errno));
}

std::uint64_t parse_number(const std::string& flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  auto value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || text[0] == '-')
    fail("invalid number for " + flag + ": " + text);
  return value;
}

enum class mode { write_then_fdatasync, rwf_dsync, o_dsync, direct_then_fdatasync, direct_dsync };

struct mode_info {
  mode kind;
  const char* name;
  int open_flags;
  bool direct;
};

constexpr mode_info modes[] = {
  {mode::write_then_fdatasync, "pwrite+fdatasync (the journal's)", 0, false},
  {mode::rwf_dsync, "pwritev2(RWF_DSYNC)", 0, false},
  {mode::o_dsync, "O_DSYNC pwrite", O_DSYNC, false},
  {mode::direct_then_fdatasync, "O_DIRECT pwrite+fdatasync", O_DIRECT, true},
  {mode::direct_dsync, "O_DIRECT|O_DSYNC pwrite", O_DIRECT | O_DSYNC, true},
};

struct aligned_deleter {
  void operator()(char* p) const noexcept { std::free(p); }
};

std::unique_ptr<char, aligned_deleter> aligned_buffer(std::size_t bytes, char fill) {
  void* memory = nullptr;
  if (posix_memalign(&memory, direct_alignment, bytes) != 0)
    fail("out of memory");
  std::memset(memory, fill, bytes);
  return std::unique_ptr<char, aligned_deleter>{static_cast<char*>(memory)};
}

void write_fully(int descriptor, const char* data, std::size_t bytes, off_t offset,
                 const std::string& path) {
  while (bytes > 0) {
    ssize_t written = ::pwrite(descriptor, data, bytes, offset);
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0)
      fail_errno("pwrite", path);
    data += written;
    bytes -= static_cast<std::size_t>(written);
    offset += written;
  }
}

/// A file of file_bytes zeros, written and synced, so the timed writes overwrite.
void prepare_file(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (descriptor < 0)
    fail_errno("open", path);
  constexpr std::size_t chunk = std::size_t{1} << 20;
  auto zeros = aligned_buffer(chunk, 0);
  for (std::size_t offset = 0; offset < file_bytes; offset += chunk)
    write_fully(descriptor, zeros.get(), chunk, static_cast<off_t>(offset), path);
  if (::fsync(descriptor) != 0)
    fail_errno("fsync", path);
  ::close(descriptor);
}

struct run_result {
  std::vector<double> latencies_us;
  double seconds = 0;
};

/// `threads` writers, each making `bytes` durable at a time at the next free offset of
/// file 0 (shared) or of its own file, until `seconds` pass or the files are full.
run_result run_mode(const mode_info& info, const std::vector<std::string>& paths, bool shared_file,
                    std::size_t threads, std::size_t bytes, double seconds) {
  std::vector<int> descriptors;
  for (const auto& path : paths) {
    int descriptor = ::open(path.c_str(), O_RDWR | O_CLOEXEC | info.open_flags);
    if (descriptor < 0)
      fail_errno(std::string{"open ("} + info.name + ")", path);
    descriptors.push_back(descriptor);
  }
  auto data = aligned_buffer(bytes, 'x');
  std::atomic<std::uint64_t> shared_offset{0};
  std::vector<std::vector<double>> latencies(threads);
  const auto deadline = std::chrono::steady_clock::now()
                        + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(seconds));
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < threads; ++t)
    writers.emplace_back([&, t] {
      const std::size_t file = shared_file ? 0 : t;
      const int descriptor = descriptors[file];
      std::uint64_t own_offset = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        std::uint64_t offset = shared_file ? shared_offset.fetch_add(bytes) : own_offset;
        own_offset += bytes;
        if (offset + bytes > file_bytes)
          return;
        auto before = std::chrono::steady_clock::now();
        if (info.kind == mode::rwf_dsync) {
          iovec vector{data.get(), bytes};
          if (::pwritev2(descriptor, &vector, 1, static_cast<off_t>(offset), RWF_DSYNC)
              != static_cast<ssize_t>(bytes))
            fail_errno("pwritev2", paths[file]);
        } else {
          write_fully(descriptor, data.get(), bytes, static_cast<off_t>(offset), paths[file]);
        }
        if (info.kind == mode::write_then_fdatasync || info.kind == mode::direct_then_fdatasync)
          if (::fdatasync(descriptor) != 0)
            fail_errno("fdatasync", paths[file]);
        latencies[t].push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - before)
            .count());
      }
    });
  for (auto& writer : writers)
    writer.join();
  run_result result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (auto& own : latencies)
    result.latencies_us.insert(result.latencies_us.end(), own.begin(), own.end());
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  for (int descriptor : descriptors)
    ::close(descriptor);
  return result;
}

void print(const char* name, const char* layout, std::size_t threads, const run_result& result) {
  const auto& sorted = result.latencies_us;
  if (sorted.empty()) {
    std::printf("%-34s %-13s %2zu: no write completed\n", name, layout, threads);
    return;
  }
  auto at = [&](double quantile) {
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(quantile * sorted.size()))];
  };
  std::printf("%-34s %-13s %2zu: %8.0f durable writes/s  p50 %5.0f us  p99 %6.0f us\n", name,
              layout, threads, static_cast<double>(sorted.size()) / result.seconds, at(0.5),
              at(0.99));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "sync-modes-data";
  std::size_t bytes = 4096;
  double seconds = 3;
  std::size_t threads = 2;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      fail("missing value for " + flag);
    const char* value = argv[i + 1];
    if (flag == "--dir")
      dir = value;
    else if (flag == "--bytes")
      bytes = parse_number(flag, value);
    else if (flag == "--seconds")
      seconds = static_cast<double>(parse_number(flag, value));
    else if (flag == "--threads")
      threads = parse_number(flag, value);
    else
      fail("unknown flag " + flag + " (--dir, --bytes, --seconds, --threads)");
  }
  if (bytes == 0 || bytes > (std::size_t{16} << 20))
    fail("--bytes must be in 1..16777216");
  if (seconds < 1 || seconds > 600)
    fail("--seconds must be in 1..600");
  if (threads < 1 || threads > threads_max)
    fail("--threads must be in 1.." + std::to_string(threads_max));
  const bool direct_possible = bytes % direct_alignment == 0;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error)
    fail("cannot create " + dir + ": " + error.message());
  std::vector<std::string> paths;
  for (std::size_t t = 0; t < threads; ++t)
    paths.push_back(dir + "/sync-modes-" + std::to_string(t) + ".dat");
  std::printf("sync_modes_bench: %zu-byte durable writes into zero-filled files in %s, %.0f s per mode\n",
              bytes, std::filesystem::absolute(dir).c_str(), seconds);
  for (const auto& path : paths)
    prepare_file(path);
  const std::vector<std::string> one_file{paths[0]};
  for (const auto& info : modes) {
    if (info.direct && !direct_possible) {
      std::printf("%-34s skipped: --bytes is not a multiple of %zu\n", info.name, direct_alignment);
      continue;
    }
    print(info.name, "one file", 1, run_mode(info, one_file, true, 1, bytes, seconds));
  }
  if (threads > 1) {
    const auto& journal_mode = modes[0];
    print(journal_mode.name, "shared file", threads,
          run_mode(journal_mode, one_file, true, threads, bytes, seconds));
    print(journal_mode.name, "file each", threads,
          run_mode(journal_mode, paths, false, threads, bytes, seconds));
  }
  for (const auto& path : paths)
    std::filesystem::remove(path, error);
  return 0;
}
