// tallyd over HTTP against the HTTP ceiling (http_ceiling_server): the same keep-alive
// clients and command lists (the standard workload, closed loop) against both, in
// interleaved pairs, and the median ratio. Start both servers first (see
// bench/run_http_bench.sh).
//
// usage: http_bench --tallyd http://HOST:PORT --ceiling http://HOST:PORT
//                   [--accounts N] [--clients C] [--commands T] [--pairs K] [--dist D]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/load-drivers/http_driver.hpp"

using namespace tally::load;

namespace {

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "http_bench: %s\n", message.c_str());
  std::exit(2);
}

http_target parse_url(const std::string& url) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0)
    fail("URL must start with http://: " + url);
  auto rest = url.substr(prefix.size());
  auto colon = rest.rfind(':');
  if (colon == std::string::npos)
    fail("URL needs a port: " + url);
  http_target target;
  target.host = rest.substr(0, colon);
  target.port = static_cast<std::uint16_t>(std::stoul(rest.substr(colon + 1)));
  return target;
}

}  // namespace

int main(int argc, char** argv) {
  workload_parameters workload;
  workload.commands = 100000;
  std::string tallyd_url;
  std::string ceiling_url;
  std::uint64_t pairs = 5;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc)
      fail("missing value for " + flag);
    std::string value = argv[i + 1];
    if (flag == "--tallyd")
      tallyd_url = value;
    else if (flag == "--ceiling")
      ceiling_url = value;
    else if (flag == "--accounts")
      workload.accounts = std::stoull(value);
    else if (flag == "--clients")
      workload.clients = std::stoull(value);
    else if (flag == "--commands")
      workload.commands = std::stoull(value);
    else if (flag == "--pairs")
      pairs = std::stoull(value);
    else if (flag == "--dist") {
      auto dist = account_distribution_from_string(value);
      if (!dist)
        fail("--dist must be uniform or zipf");
      workload.distribution = *dist;
    } else
      fail("unknown flag " + flag);
  }
  if (tallyd_url.empty() || ceiling_url.empty())
    fail("--tallyd and --ceiling are required");
  if (auto problem = validate(workload))
    fail(*problem);
  auto tallyd = parse_url(tallyd_url);
  auto ceiling = parse_url(ceiling_url);
  if (auto problem = http_open_accounts(tallyd, workload.accounts, 16))
    fail("opening accounts on tallyd: " + *problem);
  auto lists = generate_workload(workload);
  std::printf("HTTP, N=%llu C=%llu T=%llu dist=%s, %llu pairs (ceiling first in each)\n",
              static_cast<unsigned long long>(workload.accounts),
              static_cast<unsigned long long>(workload.clients),
              static_cast<unsigned long long>(workload.commands),
              std::string{to_string(workload.distribution)}.c_str(),
              static_cast<unsigned long long>(pairs));
  std::vector<double> tally_rates;
  std::vector<double> ceiling_rates;
  std::vector<double> ratios;
  for (std::uint64_t pair = 1; pair <= pairs; ++pair) {
    std::printf("pair %llu\n", static_cast<unsigned long long>(pair));
    auto top = run_http(ceiling, lists, workload.accounts, std::nullopt, run_controls{});
    print_run_line("ceiling", top);
    auto run = run_http(tallyd, lists, workload.accounts, std::nullopt, run_controls{});
    print_run_line("tallyd", run);
    tally_rates.push_back(run.commands_per_second());
    ceiling_rates.push_back(top.commands_per_second());
    ratios.push_back(run.commands_per_second() / top.commands_per_second());
  }
  std::printf("median: tallyd %.0f cmd/s, ceiling %.0f cmd/s, ratio (median of pairs) %.3f\n",
              median(tally_rates), median(ceiling_rates), median(ratios));
  return 0;
}
