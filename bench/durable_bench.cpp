// The standard workload (../shared/workload.md) on the durable file journal (every
// command acknowledged only after its batch is fdatasync'ed), uniform and zipf, and
// beside each run the raw disk ceiling: write()+fdatasync of records of the same size
// at the batch size the journal actually formed, in the same directory.
//
// usage: durable_bench [--data-dir DIR] [--accounts N] [--clients C] [--commands T]
//                      [--threads W] [--dist uniform|zipf|both] [--preallocate-bytes B]
// --preallocate-bytes sets file_journal_options::preallocate_bytes (default: the
// journal's default; 0: off); the raw baseline then writes into a preallocated file too.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "app/load-drivers/embedded_driver.hpp"
#include "app/tally-load/fsync_baseline.hpp"
#include "tally/file_journal.hpp"
#include "tally/runtime.hpp"

using namespace tally;
using namespace tally::load;

namespace {

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "durable_bench: %s\n", message.c_str());
  std::exit(2);
}

std::uint64_t parse_number(const std::string& flag, const char* text) {
  char* end = nullptr;
  auto value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0')
    fail("invalid number for " + flag + ": " + text);
  return value;
}

/// Bytes of a segment up to its last non-zero byte: its records without the zeros
/// preallocated after them.
std::uint64_t bytes_before_zero_tail(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::uint64_t end = std::filesystem::file_size(path);
  std::string chunk(64 * 1024, '\0');
  while (end > 0) {
    std::uint64_t begin = end > chunk.size() ? end - chunk.size() : 0;
    in.seekg(static_cast<std::streamoff>(begin));
    in.read(chunk.data(), static_cast<std::streamsize>(end - begin));
    auto last = std::string_view{chunk.data(), static_cast<std::size_t>(end - begin)}
                  .find_last_not_of('\0');
    if (last != std::string_view::npos)
      return begin + last + 1;
    end = begin;
  }
  return 0;
}

std::uint64_t directory_bytes(const std::filesystem::path& directory) {
  std::uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory))
    if (entry.is_regular_file() && entry.path().extension() == ".log")
      bytes += bytes_before_zero_tail(entry.path());
  return bytes;
}

void run_one(caf::actor_system& system, const std::filesystem::path& base,
             workload_parameters workload, std::uint64_t preallocate_bytes) {
  auto directory = base / ("journal-" + std::string{to_string(workload.distribution)});
  std::filesystem::remove_all(directory);
  recovery_report report;
  file_journal_options journal_options{directory.string()};
  journal_options.preallocate_bytes = preallocate_bytes;
  auto opened = open_file_journal(posix_file_system(), journal_options, &report);
  if (!opened)
    fail("cannot open journal: " + opened.error().to_string());
  runtime_config config;
  config.events = std::shared_ptr<journal>{std::move(*opened)};
  auto started = runtime::start(system, std::move(config));
  if (!started)
    fail("cannot start: " + started.error().to_string());
  auto& bank = **started;
  if (!open_accounts(bank, workload.accounts))
    fail("opening accounts failed");
  auto before = *bank.store_health();
  auto lists = generate_workload(workload);
  auto run = run_embedded(bank, lists, workload.accounts);
  auto after = *bank.store_health();
  if (auto stopped = bank.shutdown(); !stopped.is_ok())
    fail("shutdown: " + stopped.to_string());
  started->reset();

  auto batches = after.batches_committed - before.batches_committed;
  auto events = after.events_committed - before.events_committed;
  double mean_batch = batches == 0 ? 0 : static_cast<double>(events) / static_cast<double>(batches);
  auto bytes_per_event = directory_bytes(directory) / std::max<std::uint64_t>(1, after.head);
  const auto& latency = run.stats.overall_latency();
  std::printf("%s: %.0f cmd/s (%llu commands, %llu events appended), latency p50 %.1f us p99 %.1f us p99.9 %.1f us\n",
              std::string{to_string(workload.distribution)}.c_str(), run.commands_per_second(),
              static_cast<unsigned long long>(run.commands), static_cast<unsigned long long>(events),
              latency.percentile_ns(50) / 1e3, latency.percentile_ns(99) / 1e3,
              latency.percentile_ns(99.9) / 1e3);
  std::printf("  journal: %llu batches, events/batch mean %.1f p50 <=%llu p99 <=%llu max %llu; "
              "commit (write+fdatasync) p50 <=%llu us p99 <=%llu us; %llu bytes/event on disk\n",
              static_cast<unsigned long long>(batches), mean_batch,
              static_cast<unsigned long long>(after.batch_events.quantile(0.5)),
              static_cast<unsigned long long>(after.batch_events.quantile(0.99)),
              static_cast<unsigned long long>(after.batch_events.max()),
              static_cast<unsigned long long>(after.commit_latency_us.quantile(0.5)),
              static_cast<unsigned long long>(after.commit_latency_us.quantile(0.99)),
              static_cast<unsigned long long>(bytes_per_event));
  double journal_events_per_s = static_cast<double>(events) * 1e9 / static_cast<double>(run.elapsed_ns);

  fsync_baseline_config raw;
  raw.directory = base.string();
  raw.batch_sizes = {static_cast<std::uint32_t>(std::max(1.0, mean_batch + 0.5))};
  raw.record_bytes = static_cast<std::uint32_t>(std::max<std::uint64_t>(16, bytes_per_event));
  raw.duration_per_batch_size_s = 3.0;
  raw.preparation = preallocate_bytes > 0 ? file_preparation::preallocated : file_preparation::appended;
  auto baseline = run_fsync_baseline(raw);
  if (!baseline)
    fail("fsync baseline: " + baseline.error());
  const auto& b = baseline.value().front();
  std::printf("  fsync-raw (%s file) at batch %u, %u-byte records: %.0f events/s, fdatasync p50 %.0f us p99 %.0f us\n",
              std::string{to_string(raw.preparation)}.c_str(), b.batch_size, raw.record_bytes, b.events_per_s, b.fdatasync_latency_us_p50,
              b.fdatasync_latency_us_p99);
  std::printf("  ratio journal events/s / fsync-raw events/s = %.0f / %.0f = %.3f\n",
              journal_events_per_s, b.events_per_s, journal_events_per_s / b.events_per_s);
  std::fflush(stdout);
  std::filesystem::remove_all(directory);
}

}  // namespace

int main(int argc, char** argv) {
  workload_parameters workload;
  std::string data_dir = "bench-data";
  std::string dist = "both";
  std::size_t threads = 0;
  std::uint64_t preallocate_bytes = preallocate_bytes_default;
  for (int i = 1; i + 1 < argc + 1; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      fail("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--data-dir")
      data_dir = value;
    else if (flag == "--accounts")
      workload.accounts = parse_number(flag, value);
    else if (flag == "--clients")
      workload.clients = parse_number(flag, value);
    else if (flag == "--commands")
      workload.commands = parse_number(flag, value);
    else if (flag == "--threads")
      threads = parse_number(flag, value);
    else if (flag == "--dist")
      dist = value;
    else if (flag == "--preallocate-bytes")
      preallocate_bytes = parse_number(flag, value);
    else
      fail("unknown flag " + flag);
  }
  if (dist != "uniform" && dist != "zipf" && dist != "both")
    fail("--dist must be uniform, zipf or both");
  if (auto problem = validate(workload))
    fail(*problem);
  std::filesystem::create_directories(data_dir);
  caf::actor_system_config config;
  runtime::configure_private(config, threads);
  caf::actor_system system{config};
  std::printf("durable journal in %s, N=%llu C=%llu T=%llu, %zu CAF worker threads\n",
              std::filesystem::absolute(data_dir).c_str(),
              static_cast<unsigned long long>(workload.accounts),
              static_cast<unsigned long long>(workload.clients),
              static_cast<unsigned long long>(workload.commands), system.scheduler().num_workers());
  for (auto distribution : {account_distribution::uniform, account_distribution::zipf}) {
    if (dist != "both" && dist != to_string(distribution))
      continue;
    workload.distribution = distribution;
    run_one(system, data_dir, workload, preallocate_bytes);
  }
  return 0;
}
