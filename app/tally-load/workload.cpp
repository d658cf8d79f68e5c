#include "app/tally-load/workload.hpp"

#include <algorithm>
#include <charconv>

#include "app/tally-load/check.hpp"

namespace tally::load {

namespace {

constexpr std::array<std::string_view, operation_count> operation_names{
    "deposit", "withdraw", "balance", "transfer"};

// Splits `text` at `separator`; empty items are kept so that "a,,b" is an error later.
std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> items;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) {
      items.push_back(text.substr(begin));
      return items;
    }
    items.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

// Maps x = r_op mod 100 to an operation by cumulative percent (see operation_mix).
operation pick_operation(const operation_mix& mix, std::uint64_t x) noexcept {
  std::uint64_t cumulative_percent = 0;
  for (operation op : all_operations) {
    cumulative_percent += mix.percent[index_of(op)];
    if (x < cumulative_percent) {
      return op;
    }
  }
  // Unreachable for a mix summing to 100; callers validate.
  return operation::balance;
}

}  // namespace

std::string_view to_string(operation op) noexcept {
  const std::size_t index = index_of(op);
  return index < operation_names.size() ? operation_names[index] : std::string_view{"unknown"};
}

std::optional<operation> operation_from_string(std::string_view name) noexcept {
  for (operation op : all_operations) {
    if (operation_names[index_of(op)] == name) {
      return op;
    }
  }
  return std::nullopt;
}

std::string_view to_string(account_distribution distribution) noexcept {
  return distribution == account_distribution::zipf ? "zipf" : "uniform";
}

std::optional<account_distribution> account_distribution_from_string(
    std::string_view name) noexcept {
  if (name == "uniform") {
    return account_distribution::uniform;
  }
  if (name == "zipf") {
    return account_distribution::zipf;
  }
  return std::nullopt;
}

operation_mix with_transfer_share(std::uint32_t transfer_percent) {
  TALLY_LOAD_CHECK(transfer_percent <= 100);
  const operation_mix standard{};
  const std::uint32_t rest_percent = 100 - transfer_percent;
  operation_mix mix;
  mix.percent.fill(0);
  mix.percent[index_of(operation::transfer)] = transfer_percent;
  // Scaled shares in hundredths of a percent, so that the remainders compare exactly.
  constexpr std::array<operation, 3> scaled{operation::deposit, operation::withdraw,
                                            operation::balance};
  std::array<std::uint32_t, 3> remainder{};
  std::uint32_t assigned_percent = transfer_percent;
  for (std::size_t i = 0; i < scaled.size(); ++i) {
    const std::uint32_t product = standard.percent[index_of(scaled[i])] * rest_percent;
    mix.percent[index_of(scaled[i])] = product / 100;
    remainder[i] = product % 100;
    assigned_percent += product / 100;
  }
  // Largest remainder first; a stable order (deposit, withdraw, balance) breaks ties.
  while (assigned_percent < 100) {
    std::size_t largest = 0;
    for (std::size_t i = 1; i < scaled.size(); ++i) {
      if (remainder[i] > remainder[largest]) {
        largest = i;
      }
    }
    mix.percent[index_of(scaled[largest])] += 1;
    remainder[largest] = 0;
    assigned_percent += 1;
  }
  return mix;
}

parse_result<operation_mix> parse_operation_mix(std::string_view text) {
  operation_mix mix;
  mix.percent.fill(0);
  std::array<bool, operation_count> named{};
  for (std::string_view item : split(text, ',')) {
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return parse_result<operation_mix>::failure("mix item '" + std::string{item} +
                                                  "' is not of the form operation=percent");
    }
    const std::string_view name = item.substr(0, equals);
    const std::string_view number = item.substr(equals + 1);
    const std::optional<operation> op = operation_from_string(name);
    if (!op) {
      return parse_result<operation_mix>::failure(
          "unknown operation '" + std::string{name} +
          "' in mix (expected deposit, withdraw, balance or transfer)");
    }
    if (named[index_of(*op)]) {
      return parse_result<operation_mix>::failure("operation '" + std::string{name} +
                                                  "' appears twice in mix");
    }
    named[index_of(*op)] = true;
    std::uint32_t percent = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(),
                                              percent);
    if (number.empty() || error != std::errc{} || end != number.data() + number.size() ||
        percent > 100) {
      return parse_result<operation_mix>::failure("percent '" + std::string{number} +
                                                  "' for '" + std::string{name} +
                                                  "' is not an integer in 0..100");
    }
    mix.percent[index_of(*op)] = percent;
  }
  const bool only_transfer_named = named[index_of(operation::transfer)] &&
                                   !named[index_of(operation::deposit)] &&
                                   !named[index_of(operation::withdraw)] &&
                                   !named[index_of(operation::balance)];
  if (only_transfer_named) {
    return parse_result<operation_mix>::success(
        with_transfer_share(mix.percent[index_of(operation::transfer)]));
  }
  std::uint32_t sum_percent = 0;
  for (std::uint32_t percent : mix.percent) {
    sum_percent += percent;
  }
  if (sum_percent != 100) {
    return parse_result<operation_mix>::failure(
        "mix percents sum to " + std::to_string(sum_percent) +
        ", they must sum to 100 (or give only transfer=P to scale the standard mix)");
  }
  return parse_result<operation_mix>::success(mix);
}

std::string to_string(const operation_mix& mix) {
  std::string text;
  for (operation op : all_operations) {
    const std::uint32_t percent = mix.percent[index_of(op)];
    if (percent == 0) {
      continue;
    }
    if (!text.empty()) {
      text += ',';
    }
    text += to_string(op);
    text += '=';
    text += std::to_string(percent);
  }
  return text;
}

std::optional<std::string> validate(const workload_parameters& parameters) {
  if (parameters.accounts < 1 || parameters.accounts > workload_accounts_max) {
    return "accounts must be in 1.." + std::to_string(workload_accounts_max) + " (got " +
           std::to_string(parameters.accounts) + ")";
  }
  if (parameters.clients < 1 || parameters.clients > workload_clients_max) {
    return "clients must be in 1.." + std::to_string(workload_clients_max) + " (got " +
           std::to_string(parameters.clients) + ")";
  }
  if (parameters.commands < 1 || parameters.commands > workload_commands_max) {
    return "commands must be in 1.." + std::to_string(workload_commands_max) + " (got " +
           std::to_string(parameters.commands) + ")";
  }
  std::uint32_t sum_percent = 0;
  for (std::uint32_t percent : parameters.mix.percent) {
    sum_percent += percent;
  }
  if (sum_percent != 100) {
    return "mix percents must sum to 100 (got " + std::to_string(sum_percent) + ")";
  }
  if (parameters.mix.percent[index_of(operation::transfer)] > 0 && parameters.accounts < 2) {
    return "transfers need at least 2 accounts";
  }
  return std::nullopt;
}

account_sampler::account_sampler(account_distribution distribution, std::uint64_t accounts)
    : distribution_(distribution), accounts_(accounts) {
  TALLY_LOAD_CHECK(accounts >= 1 && accounts <= workload_accounts_max);
  if (distribution_ != account_distribution::zipf) {
    return;
  }
  // The spec fixes the summation order (increasing k) and the term (one correctly
  // rounded division for s = 1) so that every language builds the same bits.
  cdf_.resize(static_cast<std::size_t>(accounts));
  double sum = 0.0;
  for (std::size_t k = 0; k < cdf_.size(); ++k) {
    sum += 1.0 / static_cast<double>(k + 1);
    cdf_[k] = sum;
  }
}

std::uint64_t account_sampler::sample(std::uint64_t draw) const noexcept {
  if (distribution_ == account_distribution::uniform) {
    return draw % accounts_;
  }
  // (draw >> 11) has 53 bits, so the conversion and the scaling by 2^-53 are exact.
  const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;
  const double t = u * cdf_.back();
  // upper_bound returns the first element strictly greater than t: the smallest k
  // with cdf[k] > t.
  const auto found = std::upper_bound(cdf_.begin(), cdf_.end(), t);
  if (found == cdf_.end()) {
    return accounts_ - 1;
  }
  return static_cast<std::uint64_t>(found - cdf_.begin());
}

std::vector<std::uint64_t> client_seeds(std::uint64_t seed, std::uint64_t clients) {
  split_mix64 master{seed};
  std::vector<std::uint64_t> seeds;
  seeds.reserve(static_cast<std::size_t>(clients));
  for (std::uint64_t client = 0; client < clients; ++client) {
    seeds.push_back(master.next());
  }
  return seeds;
}

std::uint64_t commands_for_client(const workload_parameters& parameters,
                                  std::uint64_t client) noexcept {
  const std::uint64_t base = parameters.commands / parameters.clients;
  const std::uint64_t remainder = parameters.commands % parameters.clients;
  return base + (client < remainder ? 1 : 0);
}

std::vector<workload_command> generate_client_commands(const workload_parameters& parameters,
                                                       const account_sampler& sampler,
                                                       std::uint64_t client_seed,
                                                       std::uint64_t count) {
  split_mix64 generator{client_seed};
  std::vector<workload_command> commands;
  commands.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    // Exactly three draws per command, in this order, whatever the operation.
    const std::uint64_t r_op = generator.next();
    const std::uint64_t r_acct = generator.next();
    const std::uint64_t r_amt = generator.next();
    workload_command command;
    command.op = pick_operation(parameters.mix, r_op % 100);
    command.account = sampler.sample(r_acct);
    command.amount = static_cast<std::int64_t>(1 + r_amt % 1000);
    if (command.op == operation::transfer) {
      // Transfers are an extension: a fourth draw picks the credited account from the
      // same distribution; a draw equal to the debited account moves to the next id,
      // because a transfer to oneself is rejected by the bank and would skew counts.
      command.target_account = sampler.sample(generator.next());
      if (command.target_account == command.account) {
        command.target_account = (command.account + 1) % sampler.accounts();
      }
    }
    commands.push_back(command);
  }
  return commands;
}

std::vector<std::vector<workload_command>> generate_workload(
    const workload_parameters& parameters) {
  TALLY_LOAD_CHECK(!validate(parameters).has_value());
  const account_sampler sampler{parameters.distribution, parameters.accounts};
  const std::vector<std::uint64_t> seeds = client_seeds(parameters.seed, parameters.clients);
  std::vector<std::vector<workload_command>> clients;
  clients.reserve(seeds.size());
  for (std::uint64_t client = 0; client < parameters.clients; ++client) {
    clients.push_back(generate_client_commands(parameters, sampler, seeds[client],
                                               commands_for_client(parameters, client)));
  }
  return clients;
}

}  // namespace tally::load
