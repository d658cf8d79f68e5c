// The fingerprint of a generated workload (`tally-load --digest`): counts and sums per
// operation, a rolling hash over every command in client order, and client 0's first
// commands. Two implementations generate the same stream iff the digests agree.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "app/tally-load/workload.hpp"

namespace tally::load {

/// Counts and sums of one operation. Sums wrap mod 2^64 (they never do for the
/// workload sizes allowed, but the hash arithmetic is mod 2^64 anyway).
struct operation_totals {
  std::uint64_t count = 0;
  std::uint64_t amount_sum = 0;
  std::uint64_t account_sum = 0;
};

/// The digest of a workload.
struct workload_digest {
  std::array<operation_totals, operation_count> per_operation{};
  /// `h = h*1000003 + (op<<40) + (acct<<10) + amt mod 2^64`, starting from 0, folded
  /// over client 0's commands, then client 1's, and so on. A transfer folds a second
  /// term `(target<<10)` right after its own, so streams without transfers hash
  /// exactly as the spec says.
  std::uint64_t hash = 0;
  /// Client 0's first commands (up to digest_first_commands_count).
  std::vector<workload_command> first_commands;
};

/// How many of client 0's commands the digest shows.
inline constexpr std::size_t digest_first_commands_count = 3;

/// Computes the digest of `clients` (client 0 first).
workload_digest compute_digest(const std::vector<std::vector<workload_command>>& clients);

/// Formats one command the way the fingerprint table shows it: "D 12 345" (deposit),
/// "W 7317 803" (withdraw), "Q 7881" (balance; the amount is ignored) and
/// "T 1 2 345" (transfer from 1 to 2).
std::string format_command(const workload_command& command);

/// Formats the size label of the table's first column: 1000000 -> "1M",
/// 100000 -> "100k", other counts in full.
std::string format_command_count(std::uint64_t commands);

/// Formats the table row, e.g.
/// "| 1M uniform | 450449, 225647913, 2250829934 | 449708, ... | 99843 | 4742... | W 7317 803, Q 7881, W 7806 600 |".
/// A transfers column "(n, Σamt, Σacct)" is appended before the hash only when the
/// workload has transfers.
std::string format_digest_row(const workload_parameters& parameters,
                              const workload_digest& digest);

/// Formats the full output of `--digest`: a line with the parameters, the table
/// header and the row.
std::string format_digest_table(const workload_parameters& parameters,
                                const workload_digest& digest);

}  // namespace tally::load
