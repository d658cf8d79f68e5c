// The standard workload of docs (shared/workload.md): the exact command stream every
// Tally throughput and latency figure runs. Same parameters, same commands, same order
// per client, in every implementation; `tally-load --digest` fingerprints it.
//
// Nothing here knows about the runtime: the stream is generated up front, before
// timing starts, into plain vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/tally-load/parse_result.hpp"

namespace tally::load {

/// The operations of the workload. The numeric values are part of the digest
/// (`op << 40`) and must not change: deposit 0, withdraw 1, balance 2. `transfer` is a
/// Tally extension that the standard mix does not use.
enum class operation : std::uint8_t { deposit = 0, withdraw = 1, balance = 2, transfer = 3 };

/// Number of operations; sizes per-operation arrays.
inline constexpr std::size_t operation_count = 4;

/// All operations in numeric order, for loops over per-operation arrays.
inline constexpr std::array<operation, operation_count> all_operations{
    operation::deposit, operation::withdraw, operation::balance, operation::transfer};

/// Returns the stable lowercase name: "deposit", "withdraw", "balance", "transfer".
std::string_view to_string(operation op) noexcept;

/// Parses a name produced by to_string(); nullopt for anything else.
std::optional<operation> operation_from_string(std::string_view name) noexcept;

/// Index of `op` into per-operation arrays.
constexpr std::size_t index_of(operation op) noexcept { return static_cast<std::size_t>(op); }

/// How accounts are drawn.
enum class account_distribution : std::uint8_t { uniform, zipf };

/// Returns "uniform" or "zipf".
std::string_view to_string(account_distribution distribution) noexcept;

/// Parses "uniform" or "zipf"; nullopt for anything else.
std::optional<account_distribution> account_distribution_from_string(
    std::string_view name) noexcept;

/// One command of a client's list. `amount` is in integer cents and is drawn for
/// balance queries too (then ignored). `target_account` is only meaningful for
/// transfers (the credited account, never equal to `account`) and 0 otherwise.
struct workload_command {
  operation op = operation::deposit;
  std::uint64_t account = 0;
  std::int64_t amount = 0;
  std::uint64_t target_account = 0;

  friend bool operator==(const workload_command& a, const workload_command& b) noexcept {
    return a.op == b.op && a.account == b.account && a.amount == b.amount &&
           a.target_account == b.target_account;
  }
  friend bool operator!=(const workload_command& a, const workload_command& b) noexcept {
    return !(a == b);
  }
};

/// Percent of commands per operation, indexed by index_of(op); sums to 100.
/// `x = r_op mod 100` is mapped to operations by cumulative percent in the order
/// deposit, withdraw, balance, transfer, so the default 45/45/10/0 mix is exactly
/// "x < 45 deposit, x < 90 withdraw, otherwise balance" of the workload spec.
struct operation_mix {
  std::array<std::uint32_t, operation_count> percent{45, 45, 10, 0};

  friend bool operator==(const operation_mix& a, const operation_mix& b) noexcept {
    return a.percent == b.percent;
  }
};

/// Parses `deposit=45,withdraw=45,balance=10[,transfer=20]`. Operations that are not
/// named get 0 %. A transfer share alone (`transfer=P`, P in 0..100) keeps the standard
/// mix for the rest, scaled down proportionally (with_transfer_share()). Errors
/// (returned, naming the bad item): unknown operation, an operation named twice, a
/// percent that is not an integer in 0..100, a sum other than 100.
parse_result<operation_mix> parse_operation_mix(std::string_view text);

/// The standard mix with `transfer_percent` (0..100) of transfers; deposit, withdraw
/// and balance share the remaining 100 - P percent in the standard proportions
/// 45 : 45 : 10. Each gets floor(standard * (100 - P) / 100); the percents that floor
/// leaves over go, one each, to the largest fractional parts (ties in the order
/// deposit, withdraw, balance). So transfer=20 is 36/36/8/20, transfer=15 is 38/38/9/15,
/// and transfer=0 is exactly the standard mix.
operation_mix with_transfer_share(std::uint32_t transfer_percent);

/// Formats a mix the way parse_operation_mix() reads it, omitting 0 % operations.
std::string to_string(const operation_mix& mix);

/// Limits on the workload size. They bound the memory of the up-front generation
/// (each command is 32 bytes; the zipf table is 8 bytes per account).
inline constexpr std::uint64_t workload_accounts_max = 100'000'000;
inline constexpr std::uint64_t workload_clients_max = 100'000;
inline constexpr std::uint64_t workload_commands_max = 200'000'000;
static_assert(workload_commands_max * sizeof(std::uint64_t) * 4 <= (std::uint64_t{8} << 30),
              "the command lists of the largest workload must fit in 8 GiB");

/// Parameters of the standard workload with the defaults of the spec.
struct workload_parameters {
  std::uint64_t accounts = 10'000;
  std::uint64_t clients = 64;
  std::uint64_t commands = 1'000'000;
  std::uint64_t seed = 42;
  account_distribution distribution = account_distribution::uniform;
  operation_mix mix{};
};

/// Checks the parameters against the limits above and the rules of the spec
/// (at least one account, client and command; transfers need two accounts).
/// Returns an error message naming the parameter, or nullopt when valid.
std::optional<std::string> validate(const workload_parameters& parameters);

/// SplitMix64, all arithmetic mod 2^64, exactly as in the spec. Seeded with 0, the
/// first two outputs are 0xE220A8397B1DCDAF and 0x6E789E6AA1B965F4.
class split_mix64 {
public:
  explicit split_mix64(std::uint64_t state) noexcept : state_(state) {}

  /// Advances the state and returns the next output.
  std::uint64_t next() noexcept {
    state_ += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state() const noexcept { return state_; }

private:
  std::uint64_t state_;
};

/// Maps a 64-bit draw to an account id in [0, accounts). Immutable after
/// construction, so one sampler may be shared by threads generating clients.
class account_sampler {
public:
  /// Builds the sampler. For zipf (s = 1.0) this builds the cdf table exactly as the
  /// spec says: `cdf[k] = sum_{j=0..k} 1.0/(j+1)` as IEEE doubles added in increasing
  /// k. `accounts` must be >= 1.
  account_sampler(account_distribution distribution, std::uint64_t accounts);

  /// Uniform: `draw mod N`. Zipf: `u = (draw >> 11) * 2^-53`, `t = u * cdf[N-1]`, the
  /// smallest k with `cdf[k] > t`, or N-1 when there is none.
  std::uint64_t sample(std::uint64_t draw) const noexcept;

  account_distribution distribution() const noexcept { return distribution_; }
  std::uint64_t accounts() const noexcept { return accounts_; }

private:
  account_distribution distribution_;
  std::uint64_t accounts_;
  std::vector<double> cdf_;  // empty for uniform
};

/// Returns the initial generator state of each client: the master generator starts
/// from `seed`, and client c takes the master's output number c (0-based).
std::vector<std::uint64_t> client_seeds(std::uint64_t seed, std::uint64_t clients);

/// Number of commands client `client` issues: floor(T/C) + (client < T mod C ? 1 : 0).
std::uint64_t commands_for_client(const workload_parameters& parameters,
                                  std::uint64_t client) noexcept;

/// Generates one client's list: `count` commands from a generator seeded with
/// `client_seed`, each from exactly three draws r_op, r_acct, r_amt in that order
/// (transfers take a fourth draw for the target account). `parameters.mix` must be
/// valid.
std::vector<workload_command> generate_client_commands(const workload_parameters& parameters,
                                                       const account_sampler& sampler,
                                                       std::uint64_t client_seed,
                                                       std::uint64_t count);

/// Generates every client's list, client 0 first. `parameters` must pass validate()
/// (checked: a violation stops the process, since callers validate user input first).
std::vector<std::vector<workload_command>> generate_workload(
    const workload_parameters& parameters);

}  // namespace tally::load
