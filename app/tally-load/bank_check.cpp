#include "app/tally-load/bank_check.hpp"

#include <cstdint>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/tally-load/check.hpp"

namespace tally::load {

namespace {

constexpr double nanoseconds_per_second = 1'000'000'000.0;

std::uint64_t absolute_difference(std::int64_t a, std::int64_t b) noexcept {
  // In unsigned arithmetic, so that extreme values cannot overflow.
  return a >= b ? static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b)
                : static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);
}

nlohmann::json violation_json(const bank_violation& violation) {
  nlohmann::json entry{{"position", violation.position},
                       {"min_position", violation.min_position},
                       {"observed", violation.observed},
                       {"expected", violation.expected},
                       {"client", violation.client},
                       {"read", violation.read_number},
                       {"elapsed_s", static_cast<double>(violation.elapsed_ns) / nanoseconds_per_second}};
  if (violation.account) {
    entry["account"] = *violation.account;
  }
  return entry;
}

}  // namespace

std::optional<std::string> validate(const bank_parameters& parameters) {
  if (parameters.accounts < bank_accounts_min || parameters.accounts > bank_accounts_max) {
    return "accounts must be in " + std::to_string(bank_accounts_min) + ".." +
           std::to_string(bank_accounts_max) + " (got " + std::to_string(parameters.accounts) + ")";
  }
  if (parameters.total < 1 || parameters.total > bank_total_max) {
    return "total must be in 1.." + std::to_string(bank_total_max) + " (got " +
           std::to_string(parameters.total) + ")";
  }
  if (parameters.clients < 1 || parameters.clients > bank_clients_max) {
    return "clients must be in 1.." + std::to_string(bank_clients_max) + " (got " +
           std::to_string(parameters.clients) + ")";
  }
  if (parameters.transfers < 1 || parameters.transfers > bank_transfers_max) {
    return "transfers must be in 1.." + std::to_string(bank_transfers_max) + " (got " +
           std::to_string(parameters.transfers) + ")";
  }
  if (parameters.read_percent > bank_read_percent_max) {
    return "read percent must be in 0.." + std::to_string(bank_read_percent_max) + " (got " +
           std::to_string(parameters.read_percent) + ")";
  }
  return std::nullopt;
}

std::int64_t initial_balance(const bank_parameters& parameters, std::uint64_t account) {
  TALLY_LOAD_CHECK(parameters.accounts >= 1 && account < parameters.accounts);
  const auto accounts = static_cast<std::int64_t>(parameters.accounts);
  const auto index = static_cast<std::int64_t>(account);
  return parameters.total / accounts + (index < parameters.total % accounts ? 1 : 0);
}

std::uint64_t transfers_for_client(const bank_parameters& parameters,
                                   std::uint64_t client) noexcept {
  const std::uint64_t base = parameters.transfers / parameters.clients;
  const std::uint64_t remainder = parameters.transfers % parameters.clients;
  return base + (client < remainder ? 1 : 0);
}

bank_step_generator::bank_step_generator(const bank_parameters& parameters,
                                         std::uint64_t client_seed)
    : accounts_(parameters.accounts), read_percent_(parameters.read_percent),
      generator_(client_seed) {
  TALLY_LOAD_CHECK(accounts_ >= bank_accounts_min);
}

bank_step bank_step_generator::next() {
  bank_step step;
  if (generator_.next() % 100 < read_percent_) {
    step.is_read = true;
    return step;
  }
  step.source = generator_.next() % accounts_;
  const std::uint64_t other = generator_.next() % (accounts_ - 1);
  step.target = other >= step.source ? other + 1 : other;
  step.amount = static_cast<std::int64_t>(
      1 + generator_.next() % static_cast<std::uint64_t>(bank_transfer_amount_max));
  return step;
}

std::string_view to_string(bank_violation_kind kind) noexcept {
  switch (kind) {
    case bank_violation_kind::wrong_total: return "wrong_total";
    case bank_violation_kind::negative_balance: return "negative_balance";
    case bank_violation_kind::unknown_account: return "unknown_account";
    case bank_violation_kind::stale_read: return "stale_read";
  }
  return "unknown";
}

std::uint64_t bank_violation::severity() const noexcept {
  if (kind == bank_violation_kind::unknown_account) {
    return 1;
  }
  return absolute_difference(observed, expected);
}

bank_checker::bank_checker(std::int64_t expected_total, std::uint64_t client)
    : expected_total_(expected_total), client_(client) {}

std::uint64_t bank_checker::check_read(std::uint64_t min_position, const bank_totals_read& totals,
                                       const std::vector<bank_balance_read>& balances,
                                       std::uint64_t elapsed_ns) {
  ++reads_checked_;
  std::uint64_t found = 0;
  bank_violation violation;
  violation.min_position = min_position;
  violation.client = client_;
  violation.read_number = reads_checked_;
  violation.elapsed_ns = elapsed_ns;
  auto report = [&](bank_violation_kind kind, std::uint64_t position,
                    std::optional<std::uint64_t> account, std::int64_t observed,
                    std::int64_t expected) {
    violation.kind = kind;
    violation.position = position;
    violation.account = account;
    violation.observed = observed;
    violation.expected = expected;
    add(violation);
    ++found;
  };
  if (totals.as_of_position < min_position) {
    report(bank_violation_kind::stale_read, totals.as_of_position, std::nullopt,
           static_cast<std::int64_t>(totals.as_of_position),
           static_cast<std::int64_t>(min_position));
  }
  if (!totals.overflow) {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(totals.total_balance, totals.money_in_flight, &sum)) {
      // Far beyond any total the mode allows: wrong, shown saturated.
      sum = totals.money_in_flight > 0 ? INT64_MAX : INT64_MIN;
      report(bank_violation_kind::wrong_total, totals.as_of_position, std::nullopt, sum,
             expected_total_);
    } else if (sum != expected_total_) {
      report(bank_violation_kind::wrong_total, totals.as_of_position, std::nullopt, sum,
             expected_total_);
    }
  }
  for (std::size_t account = 0; account < balances.size(); ++account) {
    const bank_balance_read& read = balances[account];
    if (read.as_of_position < min_position) {
      report(bank_violation_kind::stale_read, read.as_of_position, account,
             static_cast<std::int64_t>(read.as_of_position), static_cast<std::int64_t>(min_position));
    }
    if (!read.exists) {
      report(bank_violation_kind::unknown_account, read.as_of_position, account, 0, 1);
    } else if (read.balance < 0) {
      report(bank_violation_kind::negative_balance, read.as_of_position, account, read.balance, 0);
    }
  }
  return found;
}

void bank_checker::record(const bank_violation& violation) { add(violation); }

void bank_checker::add(const bank_violation& violation) {
  bank_violation_summary& summary = summaries_[static_cast<std::size_t>(violation.kind)];
  summary.count += 1;
  if (!summary.first || violation.elapsed_ns < summary.first->elapsed_ns) {
    summary.first = violation;
  }
  if (!summary.worst || violation.severity() > summary.worst->severity() ||
      (violation.severity() == summary.worst->severity() &&
       violation.elapsed_ns < summary.worst->elapsed_ns)) {
    summary.worst = violation;
  }
  if (!summary.last || violation.elapsed_ns >= summary.last->elapsed_ns) {
    summary.last = violation;
  }
}

void bank_checker::merge(const bank_checker& other) {
  reads_checked_ += other.reads_checked_;
  for (std::size_t kind = 0; kind < bank_violation_kind_count; ++kind) {
    const bank_violation_summary& theirs = other.summaries_[kind];
    if (theirs.count == 0) {
      continue;
    }
    bank_violation_summary& ours = summaries_[kind];
    // add() each of their three, then correct the count: first, worst and last are
    // each the extreme of their own order, so the merged ones are among the six.
    const std::uint64_t count = ours.count + theirs.count;
    for (const auto* violation : {&theirs.first, &theirs.worst, &theirs.last}) {
      add(**violation);
    }
    ours.count = count;
  }
}

std::uint64_t bank_checker::violations() const noexcept {
  std::uint64_t total = 0;
  for (const bank_violation_summary& summary : summaries_) {
    total += summary.count;
  }
  return total;
}

std::string describe(const bank_violation& violation) {
  char when[160];
  std::snprintf(when, sizeof(when), "position %llu (read at >= %llu, client %llu, read %llu, %.3f s)",
                static_cast<unsigned long long>(violation.position),
                static_cast<unsigned long long>(violation.min_position),
                static_cast<unsigned long long>(violation.client),
                static_cast<unsigned long long>(violation.read_number),
                static_cast<double>(violation.elapsed_ns) / nanoseconds_per_second);
  std::string text = when;
  text += ": ";
  const std::string account =
      violation.account ? "account " + std::to_string(*violation.account) + " " : std::string{};
  switch (violation.kind) {
    case bank_violation_kind::wrong_total:
      text += "total_balance + money_in_flight " + std::to_string(violation.observed) +
              ", expected " + std::to_string(violation.expected);
      break;
    case bank_violation_kind::negative_balance:
      text += account + "balance " + std::to_string(violation.observed);
      break;
    case bank_violation_kind::unknown_account:
      text += account + "reads as never opened";
      break;
    case bank_violation_kind::stale_read:
      text += account + (violation.account ? "balance" : "totals") + " as of position " +
              std::to_string(violation.observed) + ", asked for >= " +
              std::to_string(violation.expected);
      break;
  }
  return text;
}

nlohmann::json violations_json(const bank_checker& checker) {
  nlohmann::json document{{"count", checker.violations()}};
  for (bank_violation_kind kind : all_bank_violation_kinds) {
    const bank_violation_summary& summary = checker.summary(kind);
    nlohmann::json entry{{"count", summary.count}};
    if (summary.count > 0) {
      entry["first"] = violation_json(*summary.first);
      entry["worst"] = violation_json(*summary.worst);
      entry["last"] = violation_json(*summary.last);
    }
    document[std::string{to_string(kind)}] = std::move(entry);
  }
  return document;
}

std::string format_violations(const bank_checker& checker) {
  if (checker.violations() == 0) {
    return "violations: none\n";
  }
  std::string text = "violations: " + std::to_string(checker.violations()) + "\n";
  for (bank_violation_kind kind : all_bank_violation_kinds) {
    const bank_violation_summary& summary = checker.summary(kind);
    if (summary.count == 0) {
      continue;
    }
    text += "  " + std::string{to_string(kind)} + ": " + std::to_string(summary.count) + "\n";
    text += "    first: " + describe(*summary.first) + "\n";
    text += "    worst: " + describe(*summary.worst) + "\n";
    text += "    last:  " + describe(*summary.last) + "\n";
  }
  return text;
}

}  // namespace tally::load
