// tally-demo: the embedded runtime in a few lines. Opens accounts, runs commands
// (some of which are rejected by the bank's rules) and prints balances from the read
// model, waiting for each one's own write (read-your-writes).
#include <cstdio>
#include <string>

#include "tally/runtime.hpp"

namespace {

const char* outcome_text(const tally::result<tally::command_reply>& reply) {
  if (!reply)
    return "failed";
  return reply->accepted() ? "accepted" : "rejected";
}

}  // namespace

int main() {
  auto started = tally::runtime::start_private();
  if (!started) {
    std::fprintf(stderr, "tally-demo: cannot start: %s\n", started.error().to_string().c_str());
    return 1;
  }
  auto& bank = **started;
  using namespace tally::bank;
  const tally::bank::account_command commands[] = {
    open_account{"alice"},         open_account{"bob"},          deposit_money{"alice", 10000},
    deposit_money{"bob", 2500},    withdraw_money{"alice", 4000}, withdraw_money{"bob", 9999},
    deposit_money{"carol", 100},   open_account{"alice"},         deposit_money{"alice", -5},
  };
  std::uint64_t last_position = 0;
  for (const auto& command : commands) {
    auto reply = bank.execute(command);
    std::printf("%-15s %-6s -> %s", std::string{command_name(command)}.c_str(),
                target_account(command).c_str(), outcome_text(reply));
    if (reply && reply->accepted()) {
      std::printf(" (version %llu, position %llu)\n",
                  static_cast<unsigned long long>(reply->stream_version),
                  static_cast<unsigned long long>(reply->position));
      last_position = reply->position;
    } else if (reply) {
      std::printf(": %s\n", std::string{tally::to_string(reply->outcome)}.c_str());
    } else {
      std::printf(": %s\n", reply.error().to_string().c_str());
    }
  }
  std::printf("\nbalances from the read model (as of position %llu):\n",
              static_cast<unsigned long long>(last_position));
  for (const char* account : {"alice", "bob", "carol"}) {
    auto view = bank.balance(account, last_position);
    if (!view) {
      std::fprintf(stderr, "query failed: %s\n", view.error().to_string().c_str());
      return 1;
    }
    std::printf("  %-6s %8s  (%s)\n", account, tally::format_money(view->balance).c_str(),
                std::string{to_string(view->status)}.c_str());
  }
  auto totals = bank.totals(last_position);
  if (totals)
    std::printf("  total  %8s  (%llu accounts open)\n", tally::format_money(totals->total_balance).c_str(),
                static_cast<unsigned long long>(totals->accounts_open));
  auto stopped = bank.shutdown();
  return stopped.is_ok() ? 0 : 1;
}
