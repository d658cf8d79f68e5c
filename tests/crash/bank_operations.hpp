// The operations the kill-under-load driver sends, and what each one means for the
// bookkeeping: its HTTP request, the events an accepted one appends, and the balance
// changes the client-side tally counts. Everything per operation is in a switch over
// operation_kind, so a new operation is one enum value and one case in each function
// here; the audit and the driver work from these functions only. A transfer is the one
// operation whose events are not its own: the transfer process manager appends them
// under ids derived from the transfer id (tally/transfer.hpp), and transfer_audit.hpp
// matches them by those ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/http_common/http_client.hpp"

namespace tally::crash {

enum class operation_kind : std::uint8_t {
  open_account,
  deposit_money,
  withdraw_money,
  transfer_money,  ///< POST /transfers: account_id is the source, target_account_id the target
  close_account,   ///< only on a closable account (is_closable_account), at balance 0
};

/// Accounts a client opens only to close them: no other command ever addresses one, so
/// a close is never refused and no command is refused as account_closed. Their ids
/// start with "closable-"; every other account id of the driver does not.
bool is_closable_account(const std::string& account_id) noexcept;

/// The id of the `number`-th closable account `client` opens in `round`.
std::string closable_account_name(std::uint32_t round, std::uint32_t client, std::uint64_t number);

/// One command as a client sends it.
struct operation {
  operation_kind kind = operation_kind::open_account;
  std::string account_id;         ///< the account it addresses; a transfer's source
  std::int64_t amount = 0;        ///< minor units; 0 for open_account
  std::string target_account_id;  ///< a transfer's target; empty for the other kinds
};

/// An event an accepted operation appends (the audit matches it against the journal).
struct expected_event {
  std::string stream_id;
  std::string type;          ///< the journal's event type name
  std::int64_t amount = 0;   ///< 0 for events without an amount
};

/// The command name tallyd echoes in its reply ("open_account", ...); for a transfer,
/// whose reply echoes no command name, "transfer_money".
std::string_view operation_name(operation_kind kind) noexcept;

/// The POST target of `op`.
std::string request_target(const operation& op);

/// The JSON body of `op` with `command_key` as its command id (a transfer's transfer id).
std::string request_body(const operation& op, const std::string& command_key);

/// The events an accepted `op` appends, in order, under its own command id. For a
/// completed transfer: its account steps (debit and settle on the source, credit on the
/// target), each under its own derived id, not the transfer's; its own stream's events
/// and the steps of a failed transfer are transfer_audit's business.
std::vector<expected_event> expected_events(const operation& op);

/// The balance changes an accepted `op` (a transfer: a completed one) makes, per account
/// (open: the account with 0, so the tally knows it exists). A failed transfer makes none.
std::vector<std::pair<std::string, std::int64_t>> balance_changes(const operation& op);

/// What a command's reply said. A transfer's reply is decided once the transfer ended:
/// accepted when it completed; when it failed, not accepted, with the rule its debit
/// broke as `error` and the position of its transfer_failed event.
struct command_outcome {
  bool accepted = false;
  std::string error;            ///< the rule that refused it (a failed transfer: the reason); empty when accepted
  std::uint64_t version = 0;    ///< stream version after it (or the version the decision saw); 0 for transfers
  std::uint64_t position = 0;   ///< global position of its last event; 0 when rejected
  std::string transfer_status;  ///< transfers: "completed" or "failed"; empty for the other kinds
  bool replayed = false;        ///< the daemon answered from an earlier application (Idempotent-Replayed)
  unsigned http_status = 0;
};

enum class reply_reading : std::uint8_t {
  decided,    ///< accepted, or rejected by a rule of the bank that may refuse it
  in_doubt,   ///< no reply, or 503: it may or may not have been applied (retry it)
  violation,  ///< a reply that must not happen (500, a rule that cannot apply, a wrong echo)
};

/// Reads the reply to `op` sent with `command_key`: fills `out` when decided, and
/// `problem` (what was wrong or missing) otherwise.
reply_reading read_command_reply(const operation& op, const std::string& command_key,
                                 const http_common::http_response& response, command_outcome& out,
                                 std::string& problem);

}  // namespace tally::crash
