#include "app/tally-load/digest.hpp"

namespace tally::load {

namespace {

constexpr std::uint64_t hash_multiplier = 1000003;

std::string format_totals(const operation_totals& totals) {
  return std::to_string(totals.count) + ", " + std::to_string(totals.amount_sum) + ", " +
         std::to_string(totals.account_sum);
}

bool has_transfers(const workload_digest& digest) {
  return digest.per_operation[index_of(operation::transfer)].count > 0;
}

}  // namespace

workload_digest compute_digest(const std::vector<std::vector<workload_command>>& clients) {
  workload_digest digest;
  for (const std::vector<workload_command>& commands : clients) {
    for (const workload_command& command : commands) {
      operation_totals& totals = digest.per_operation[index_of(command.op)];
      const auto amount = static_cast<std::uint64_t>(command.amount);
      totals.count += 1;
      totals.amount_sum += amount;
      totals.account_sum += command.account;
      digest.hash = digest.hash * hash_multiplier +
                    (static_cast<std::uint64_t>(command.op) << 40) + (command.account << 10) +
                    amount;
      if (command.op == operation::transfer) {
        digest.hash = digest.hash * hash_multiplier + (command.target_account << 10);
      }
    }
  }
  if (!clients.empty()) {
    const std::vector<workload_command>& first_client = clients.front();
    for (std::size_t i = 0; i < first_client.size() && i < digest_first_commands_count; ++i) {
      digest.first_commands.push_back(first_client[i]);
    }
  }
  return digest;
}

std::string format_command(const workload_command& command) {
  const std::string account = std::to_string(command.account);
  const std::string amount = std::to_string(command.amount);
  switch (command.op) {
    case operation::deposit:
      return "D " + account + " " + amount;
    case operation::withdraw:
      return "W " + account + " " + amount;
    case operation::balance:
      return "Q " + account;
    case operation::transfer:
      return "T " + account + " " + std::to_string(command.target_account) + " " + amount;
  }
  return "? " + account + " " + amount;
}

std::string format_command_count(std::uint64_t commands) {
  if (commands >= 1'000'000 && commands % 1'000'000 == 0) {
    return std::to_string(commands / 1'000'000) + "M";
  }
  if (commands >= 1'000 && commands % 1'000 == 0) {
    return std::to_string(commands / 1'000) + "k";
  }
  return std::to_string(commands);
}

std::string format_digest_row(const workload_parameters& parameters,
                              const workload_digest& digest) {
  std::string row = "| " + format_command_count(parameters.commands) + " " +
                    std::string{to_string(parameters.distribution)} + " | ";
  row += format_totals(digest.per_operation[index_of(operation::deposit)]) + " | ";
  row += format_totals(digest.per_operation[index_of(operation::withdraw)]) + " | ";
  row += std::to_string(digest.per_operation[index_of(operation::balance)].count) + " | ";
  if (has_transfers(digest)) {
    row += format_totals(digest.per_operation[index_of(operation::transfer)]) + " | ";
  }
  row += std::to_string(digest.hash) + " | ";
  for (std::size_t i = 0; i < digest.first_commands.size(); ++i) {
    row += (i == 0 ? "" : ", ") + format_command(digest.first_commands[i]);
  }
  row += " |";
  return row;
}

std::string format_digest_table(const workload_parameters& parameters,
                                const workload_digest& digest) {
  std::string table = "workload: accounts=" + std::to_string(parameters.accounts) +
                      " clients=" + std::to_string(parameters.clients) +
                      " commands=" + std::to_string(parameters.commands) +
                      " seed=" + std::to_string(parameters.seed) +
                      " dist=" + std::string{to_string(parameters.distribution)} +
                      " mix=" + to_string(parameters.mix) + "\n";
  const bool transfers = has_transfers(digest);
  table += "| T, dist | deposits (n, Σamt, Σacct) | withdraws (n, Σamt, Σacct) | queries n | ";
  table += transfers ? "transfers (n, Σamt, Σacct) | " : "";
  table += "hash | client 0 first cmds |\n";
  table += transfers ? "|---|---|---|---|---|---|---|\n" : "|---|---|---|---|---|---|\n";
  table += format_digest_row(parameters, digest) + "\n";
  return table;
}

}  // namespace tally::load
