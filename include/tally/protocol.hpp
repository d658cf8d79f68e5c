// The message protocol between clients, routers, aggregate actors, the event store
// and projections: atoms, message types and their CAF inspect() overloads. Every type
// here is inspectable, so it can be printed and, later, sent to remote nodes; the one
// exception is event_batch (a shared pointer for zero-copy local fan-out).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "caf/all.hpp"

#include "tally/bank.hpp"
#include "tally/error.hpp"
#include "tally/event.hpp"
#include "tally/ids.hpp"
#include "tally/journal.hpp"
#include "tally/log_histogram.hpp"
#include "tally/read_models.hpp"
#include "tally/transfer.hpp"

// Our error codes travel as caf::error with category "tally".
CAF_ERROR_CODE_ENUM(tally::error_code, "tally")

namespace tally {

// -- Atoms (text <= 10 characters) ----------------------------------------------------

using append_atom = caf::atom_constant<caf::atom("append")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using read_stream_atom = caf::atom_constant<caf::atom("readstream")>;
using read_all_atom = caf::atom_constant<caf::atom("readall")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using rollback_atom = caf::atom_constant<caf::atom("rollback")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;
using resident_atom = caf::atom_constant<caf::atom("resident")>;
using catch_up_atom = caf::atom_constant<caf::atom("catchup")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using rehydrate_atom = caf::atom_constant<caf::atom("rehydrate")>;
using handed_back_atom = caf::atom_constant<caf::atom("handedback")>;

/// Converts our error code into a caf::error of category "tally".
inline caf::error make_caf_error(error_code code) { return caf::make_error(code); }

/// Converts our status into a caf::error (the message travels as context).
inline caf::error make_caf_error(const status& failure) {
  return caf::make_error(failure.code(), failure.message());
}

/// Converts a caf::error back into a status; errors of other categories (CAF's own,
/// e.g. request_receiver_down) become internal_error with CAF's rendering.
status to_status(const caf::error& failure);

/// Registers the "tally" error category with `config`, so actor_system::render()
/// prints our codes by name. runtime::make_config() calls it.
void add_error_category(caf::actor_system_config& config);

// -- Commands and replies ------------------------------------------------------------

/// A command for an aggregate plus its metadata. `id` is the idempotency key: a
/// command id is applied at most once; a retry returns the original outcome.
template <class Command>
struct command_envelope {
  command_id id;                              ///< required, never nil
  command_id correlation;                     ///< optional (nil when absent)
  std::uint64_t expected_version = any_version;  ///< optimistic concurrency, or any_version
  Command command;
};

/// The outcome of a command. `outcome == none` means accepted: its events are durable,
/// `stream_version` is the stream's version after them and `position` the global
/// position of the last one. Otherwise `outcome` names the rule the command broke
/// (a rejection; no event was appended), `stream_version` is the version the
/// decision saw and `position` is 0. `duplicate` marks the reply to a retried command
/// id: the original outcome, nothing appended now.
struct command_reply {
  error_code outcome = error_code::none;
  std::uint64_t stream_version = 0;
  std::uint64_t position = 0;
  bool duplicate = false;

  bool accepted() const noexcept { return outcome == error_code::none; }
};

/// The outcome of a transfer request. `outcome == none`: the transfer reached an end,
/// `status` says which (completed, or failed with `reason`: its debit or credit was
/// refused; a failed transfer moved no money), and `position` is the global position
/// of its last event (for read-your-writes). Otherwise `outcome` names the rule the
/// request broke (no event was appended). `duplicate`: the transfer id had been
/// requested before; this is its outcome, nothing was requested now.
struct transfer_reply {
  error_code outcome = error_code::none;
  bank::transfer_status status = bank::transfer_status::not_requested;
  error_code reason = error_code::none;
  std::uint64_t position = 0;
  bool duplicate = false;

  bool accepted() const noexcept { return outcome == error_code::none; }
};

// -- Event store protocol ----------------------------------------------------------

/// An event as the aggregate produces it, before the store assigns position,
/// version, ids and time.
struct pending_event {
  std::string type;
  std::uint16_t schema_version = 1;
  std::string payload;
};

/// How often an aggregate decides one command at most. It decides a command again when
/// the store finds that the decision rested on a state the stream does not have: an
/// earlier append of the same aggregate was refused (a retry of a command id the
/// aggregate had forgotten, backpressure), and the aggregate had decided this one on top
/// of it. Every further decision needs another refusal ahead of the command, so a few
/// are plenty; the command that would need more is answered `limit_exceeded` (nothing
/// was appended; the caller retries with the same command id).
inline constexpr std::uint32_t command_decisions_max = 8;
static_assert(command_decisions_max >= 2, "a command must be decided again at least once");

/// One command's events for one stream: appended atomically or not at all.
struct append_request {
  std::string stream_id;
  std::uint64_t expected_version = 0;  ///< stream version before the append
  command_id command;
  command_id correlation;
  std::uint64_t command_hash = 0;
  std::vector<pending_event> events;
  /// The command itself (a message holding its command_envelope) when the sender can
  /// decide it again: if the store finds that the expected version is not the stream's,
  /// the decision rested on a state that ran ahead of the stream, and the store hands
  /// the command back to the sender (see event_store.hpp) instead of answering
  /// wrong_expected_version. Empty: the conflict is the answer (senders without a
  /// decider, such as tests of the store).
  caf::message decidable_command;
  std::uint32_t decisions = 1;  ///< how often the sender decided it, this time included
};

/// A command an aggregate decided not to append: its decider refused it (or its
/// expected version did not match), or it is a quick retry of a command id the aggregate
/// appended itself and has no decision of its own. The store answers the original
/// outcome when the id was applied; otherwise `refusal`, unless the decision rested on a
/// state the stream does not have: then it hands the command back like an append whose
/// expected version did not match (see append_request::decidable_command).
struct outcome_request {
  std::string stream_id;
  command_id command;
  std::uint64_t command_hash = 0;
  std::uint64_t decided_at_version = 0;  ///< the aggregate's stream version at the decision
  bool decided = true;     ///< false: a retry of an id in flight, no decision of its own
  command_reply refusal;   ///< the answer when the id is unknown and the decision stands
  caf::message decidable_command;
  std::uint32_t decisions = 1;
};

/// What an aggregate needs to rehydrate: the latest usable snapshot (if any) and
/// the events after it, up to the stream's current version.
struct loaded_stream {
  bool has_snapshot = false;
  snapshot latest_snapshot;
  std::vector<recorded_event> events;
  bool complete = true;  ///< false: more events follow (ask again from the next version)
};

// event_batch (tally/event.hpp): committed events published by the store, in global
// order, zero-copy and local only.

/// The store's health, for /health and tests.
struct store_status {
  bool available = true;
  std::string failure;            ///< why the store stopped (empty while available)
  std::uint64_t head = 0;         ///< last durable position (see head_atom)
  std::uint64_t batches_committed = 0;
  std::uint64_t events_committed = 0;
  std::string journal;            ///< journal description
  log_histogram batch_events;     ///< events per committed batch
  log_histogram commit_latency_us;  ///< journal write + sync per batch, microseconds
  std::uint64_t pending_events = 0;  ///< assigned, not yet committed
};

// -- inspect() overloads ---------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, command_id& x) {
  return f(caf::meta::type_name("command_id"), x.high, x.low);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recorded_event& x) {
  return f(caf::meta::type_name("recorded_event"), x.position, x.stream_id, x.stream_version,
           x.event_id, x.type, x.schema_version, x.payload, x.command, x.correlation,
           x.command_hash, x.timestamp_ns);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot& x) {
  return f(caf::meta::type_name("snapshot"), x.stream_id, x.stream_version, x.format_version,
           x.state);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, command_reply& x) {
  return f(caf::meta::type_name("command_reply"), x.outcome, x.stream_version, x.position,
           x.duplicate);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pending_event& x) {
  return f(caf::meta::type_name("pending_event"), x.type, x.schema_version, x.payload);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_request& x) {
  return f(caf::meta::type_name("append_request"), x.stream_id, x.expected_version, x.command,
           x.correlation, x.command_hash, x.events, x.decidable_command, x.decisions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome_request& x) {
  return f(caf::meta::type_name("outcome_request"), x.stream_id, x.command, x.command_hash,
           x.decided_at_version, x.decided, x.refusal, x.decidable_command, x.decisions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, loaded_stream& x) {
  return f(caf::meta::type_name("loaded_stream"), x.has_snapshot, x.latest_snapshot, x.events,
           x.complete);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_status& x) {
  return f(caf::meta::type_name("store_status"), x.available, x.failure, x.head,
           x.batches_committed, x.events_committed, x.journal, x.batch_events,
           x.commit_latency_us, x.pending_events);
}

template <class Inspector, class Command>
typename Inspector::result_type inspect(Inspector& f, command_envelope<Command>& x) {
  return f(caf::meta::type_name("command_envelope"), x.id, x.correlation, x.expected_version,
           x.command);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, balance_view& x) {
  return f(caf::meta::type_name("balance_view"), x.exists, x.status, x.balance, x.version,
           x.as_of_position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_entry& x) {
  return f(caf::meta::type_name("history_entry"), x.position, x.version, x.type, x.amount,
           x.balance_after, x.timestamp_ns, x.command);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("history_page"), x.entries, x.next_version, x.total_events,
           x.as_of_position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, totals_view& x) {
  return f(caf::meta::type_name("totals_view"), x.total_balance, x.total_balance_overflow,
           x.accounts_open, x.accounts_closed, x.events, x.total_deposited, x.total_withdrawn,
           x.money_in_flight, x.as_of_position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_reply& x) {
  return f(caf::meta::type_name("transfer_reply"), x.outcome, x.status, x.reason, x.position,
           x.duplicate);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_view& x) {
  return f(caf::meta::type_name("transfer_view"), x.transfer_id, x.exists, x.status, x.source,
           x.target, x.amount, x.reason, x.debited, x.credited, x.refunded, x.settled,
           x.in_flight, x.requested_position, x.last_position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfers_page& x) {
  return f(caf::meta::type_name("transfers_page"), x.transfers, x.money_in_flight,
           x.transfers_in_progress, x.transfers_completed, x.transfers_failed, x.as_of_position);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfers_query& x) {
  return f(caf::meta::type_name("transfers_query"), x.transfer_id, x.after_transfer_id,
           x.max_transfers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, balance_query& x) {
  return f(caf::meta::type_name("balance_query"), x.account_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_query& x) {
  return f(caf::meta::type_name("history_query"), x.account_id, x.from_version, x.max_events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, totals_query&) {
  return f(caf::meta::type_name("totals_query"));
}

namespace detail {

// CAF 0.17 has no inspect() for std::variant; this one writes the index, then the
// alternative. Found by ADL for variants of our own types.
template <std::size_t I, class Inspector, class... Ts>
caf::error load_variant_alternative(Inspector& f, std::variant<Ts...>& x, std::uint8_t index) {
  if constexpr (I < sizeof...(Ts)) {
    if (index == I)
      return f(x.template emplace<I>());
    return load_variant_alternative<I + 1>(f, x, index);
  } else {
    return caf::sec::invalid_argument;
  }
}

template <class Inspector, class... Ts>
typename Inspector::result_type inspect_variant(Inspector& f, std::variant<Ts...>& x) {
  if constexpr (Inspector::reads_state) {
    auto index = static_cast<std::uint8_t>(x.index());
    return std::visit(
      [&](auto& alternative) {
        return f(caf::meta::type_name("variant"), index, alternative);
      },
      x);
  } else {
    std::uint8_t index = 0;
    if (auto failure = f(index))
      return failure;
    return load_variant_alternative<0>(f, x, index);
  }
}

}  // namespace detail

namespace bank {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, open_account& x) {
  return f(caf::meta::type_name("open_account"), x.account_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deposit_money& x) {
  return f(caf::meta::type_name("deposit_money"), x.account_id, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, withdraw_money& x) {
  return f(caf::meta::type_name("withdraw_money"), x.account_id, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, close_account& x) {
  return f(caf::meta::type_name("close_account"), x.account_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, debit_for_transfer& x) {
  return f(caf::meta::type_name("debit_for_transfer"), x.account_id, x.transfer_id, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, credit_for_transfer& x) {
  return f(caf::meta::type_name("credit_for_transfer"), x.account_id, x.transfer_id, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_for_transfer& x) {
  return f(caf::meta::type_name("refund_for_transfer"), x.account_id, x.transfer_id, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, settle_transfer& x) {
  return f(caf::meta::type_name("settle_transfer"), x.account_id, x.transfer_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_command& x) {
  return tally::detail::inspect_variant(f, x);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_money& x) {
  return f(caf::meta::type_name("transfer_money"), x.transfer_id, x.source, x.target, x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_transfer& x) {
  return f(caf::meta::type_name("request_transfer"), x.transfer_stream, x.source, x.target,
           x.amount);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, begin_compensation& x) {
  return f(caf::meta::type_name("begin_compensation"), x.transfer_stream, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, complete_transfer& x) {
  return f(caf::meta::type_name("complete_transfer"), x.transfer_stream);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fail_transfer& x) {
  return f(caf::meta::type_name("fail_transfer"), x.transfer_stream, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_command& x) {
  return tally::detail::inspect_variant(f, x);
}

}  // namespace bank

}  // namespace tally

// Shared immutable batches are fanned out to local subscribers without copying.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::event_batch)
