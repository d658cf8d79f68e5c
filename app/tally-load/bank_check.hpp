// The bank mode of tally-load (`tally-load bank`), after Jepsen's bank test: N accounts
// hold a total T between them; C clients move small amounts between random distinct
// accounts and read the bank while they do. Money is neither created nor lost, so every
// read must show the same total, no account below zero, and every account that was
// opened. This file holds what does not need a target: the parameters, each client's
// deterministic choice of operations, and the checker that classifies what a read
// shows. The runner is app/load-drivers/bank_driver.hpp.
//
// A read is consistent only when all it shows reflects one position. The totals read
// model answers total_balance and money_in_flight together at one as_of_position, so
// the total is checked there (wrong_total). Balances are read one by one, each at its
// own as_of_position (all at or past the read's min_position), so they are checked one
// by one (negative_balance, unknown_account); their sum is not a consistent total
// while transfers run, and is compared with T only after the run, at rest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "app/tally-load/workload.hpp"

namespace tally::load {

/// Limits of the bank mode's parameters. Every read reads every account's balance, so
/// the accounts are bounded more tightly than the standard workload's; the clients are
/// threads.
inline constexpr std::uint64_t bank_accounts_min = 2;
inline constexpr std::uint64_t bank_accounts_max = 10'000;
inline constexpr std::int64_t bank_total_max = 1'000'000'000'000'000;  // 10^15 minor units
inline constexpr std::uint64_t bank_clients_max = 1'024;
inline constexpr std::uint64_t bank_transfers_max = 100'000'000;
inline constexpr std::uint32_t bank_read_percent_max = 99;  // 100 would never finish
/// Transfers move 1..bank_transfer_amount_max minor units.
inline constexpr std::int64_t bank_transfer_amount_max = 5;

/// Parameters of a bank run, with the defaults of the mode.
struct bank_parameters {
  std::uint64_t accounts = 8;
  std::int64_t total = 100;          ///< minor units over all accounts at setup
  std::uint64_t clients = 16;
  std::uint64_t transfers = 5'000;   ///< over all clients
  std::uint32_t read_percent = 50;   ///< chance (in %) that a client's next step is a read
  std::uint64_t seed = 42;
};

/// Checks the parameters against the limits above. Returns an error message naming
/// the parameter, or nullopt when valid.
std::optional<std::string> validate(const bank_parameters& parameters);

/// What account `account` holds at setup: T / N each, and one more for the first
/// T mod N accounts.
std::int64_t initial_balance(const bank_parameters& parameters, std::uint64_t account);

/// Transfers client `client` issues: floor(X/C) + (client < X mod C ? 1 : 0).
std::uint64_t transfers_for_client(const bank_parameters& parameters, std::uint64_t client) noexcept;

/// One step of a client: a read of the whole bank, or a transfer.
struct bank_step {
  bool is_read = false;
  std::uint64_t source = 0;  ///< transfers only
  std::uint64_t target = 0;  ///< transfers only, never equal to source
  std::int64_t amount = 0;   ///< transfers only, in 1..bank_transfer_amount_max
};

/// A client's steps, drawn from SplitMix64 seeded with client_seeds(seed, C)[client]:
/// a read when `next() mod 100 < read_percent`, else a transfer from three more draws:
/// source = `next() mod N`, target = `next() mod (N - 1)` moved past the source (so it
/// is uniform over the other accounts), amount = `1 + next() mod 5`.
class bank_step_generator {
public:
  bank_step_generator(const bank_parameters& parameters, std::uint64_t client_seed);
  bank_step next();

private:
  std::uint64_t accounts_;
  std::uint32_t read_percent_;
  split_mix64 generator_;
};

/// The kinds of violation a read can show.
enum class bank_violation_kind : std::uint8_t {
  wrong_total = 0,       ///< total_balance + money_in_flight != T (totals read model)
  negative_balance = 1,  ///< an account below zero
  unknown_account = 2,   ///< an account opened at setup reads as never opened
  stale_read = 3,        ///< an answer reflects a position below the min_position asked for
};

inline constexpr std::size_t bank_violation_kind_count = 4;
inline constexpr std::array<bank_violation_kind, bank_violation_kind_count> all_bank_violation_kinds{
    bank_violation_kind::wrong_total, bank_violation_kind::negative_balance,
    bank_violation_kind::unknown_account, bank_violation_kind::stale_read};

/// "wrong_total", "negative_balance", "unknown_account", "stale_read".
std::string_view to_string(bank_violation_kind kind) noexcept;

/// One violation as a read showed it.
struct bank_violation {
  bank_violation_kind kind = bank_violation_kind::wrong_total;
  std::uint64_t position = 0;      ///< as_of_position of the answer that showed it
  std::uint64_t min_position = 0;  ///< the position the read asked for (P)
  std::optional<std::uint64_t> account;  ///< the account (all kinds but wrong_total)
  std::int64_t observed = 0;  ///< total, balance, 0 (unknown account) or as_of_position
  std::int64_t expected = 0;  ///< T, 0 (the least balance), 1 (opened) or min_position
  std::uint64_t client = 0;
  std::uint64_t read_number = 0;  ///< the client's read, from 1
  std::uint64_t elapsed_ns = 0;   ///< since the clients started
  /// How bad it is, to pick the worst: |observed - expected| for a total, a balance and
  /// a stale position; 1 for an unknown account.
  std::uint64_t severity() const noexcept;
};

/// One kind's violations: how many, and the first, the worst and the last of them.
struct bank_violation_summary {
  std::uint64_t count = 0;
  std::optional<bank_violation> first;  ///< earliest elapsed_ns
  std::optional<bank_violation> worst;  ///< highest severity; the earliest among equals
  std::optional<bank_violation> last;   ///< latest elapsed_ns
};

/// What one read returned: the totals at one position and each account's balance.
struct bank_totals_read {
  std::int64_t total_balance = 0;
  std::int64_t money_in_flight = 0;
  bool overflow = false;  ///< the true sum did not fit (then it is not compared)
  std::uint64_t as_of_position = 0;
};

struct bank_balance_read {
  bool exists = false;  ///< false: the account reads as never opened
  std::int64_t balance = 0;
  std::uint64_t as_of_position = 0;
};

/// Checks reads and keeps first, worst and last per kind. One checker per client
/// (no locks); merge() them at the end.
class bank_checker {
public:
  /// `expected_total`: what total_balance + money_in_flight must show at every
  /// position (T, plus money the store held before the run, if any).
  bank_checker(std::int64_t expected_total, std::uint64_t client);

  /// Checks one read made with min_position `min_position`: the totals (wrong_total,
  /// stale_read) and balances[i] of account i (negative_balance, unknown_account,
  /// stale_read). Returns how many violations it found.
  std::uint64_t check_read(std::uint64_t min_position, const bank_totals_read& totals,
                           const std::vector<bank_balance_read>& balances,
                           std::uint64_t elapsed_ns);

  /// Records a violation found elsewhere (the final check at rest).
  void record(const bank_violation& violation);

  /// Adds another checker's findings.
  void merge(const bank_checker& other);

  const bank_violation_summary& summary(bank_violation_kind kind) const noexcept {
    return summaries_[static_cast<std::size_t>(kind)];
  }
  std::uint64_t violations() const noexcept;
  std::uint64_t reads_checked() const noexcept { return reads_checked_; }

private:
  void add(const bank_violation& violation);

  std::int64_t expected_total_;
  std::uint64_t client_;
  std::uint64_t reads_checked_ = 0;
  std::array<bank_violation_summary, bank_violation_kind_count> summaries_{};
};

/// One violation as text: "position 123 (read at >= 120, client 3, read 7, 0.25 s):
/// account 5 balance -2" or "... total 101, expected 100".
std::string describe(const bank_violation& violation);

/// The violations of every kind as JSON: {"count": n, "<kind>": {"count", "first",
/// "worst", "last"}, ...}, each violation {"position", "min_position", "account"?,
/// "observed", "expected", "client", "read", "elapsed_s"}.
nlohmann::json violations_json(const bank_checker& checker);

/// The violations as lines for stdout: "violations: none", or a line per kind with
/// its count and first, worst and last.
std::string format_violations(const bank_checker& checker);

}  // namespace tally::load
