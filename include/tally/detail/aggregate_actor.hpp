// The aggregate actor: a thin shell around a pure decider. It handles its commands
// strictly in mailbox order: decide against the current state, evolve the state, and
// hand the events to the event store, which replies to the caller once they are
// durable. Appends are pipelined (the next command is decided while earlier appends
// are in flight, on the state they will produce); the store's expected-version check
// keeps them in order. When the store refuses an append, the state the aggregate
// decided its later commands on ran ahead of the stream: it reloads its state, and the
// store hands those commands back to be decided again on it, in their order, before
// anything else. Their callers get the answer of that decision, never the conflict.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "caf/all.hpp"

#include "tally/aggregate.hpp"
#include "tally/assert.hpp"
#include "tally/detail/owned_promise.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/event_store.hpp"
#include "tally/journal.hpp"
#include "tally/protocol.hpp"

namespace tally::detail {

template <class Aggregate>
struct aggregate_state {
  static inline const char* name = "tally.aggregate";

  std::string stream_id;
  typename Aggregate::state_type state = Aggregate::initial_state();
  std::uint64_t version = 0;             ///< including appends still in flight
  std::uint64_t snapshot_version = 0;    ///< version of the last snapshot taken or loaded
  caf::actor store;
  caf::strong_actor_ptr store_control;    ///< answers our callers (see append_queue)
  std::shared_ptr<append_queue> queue;    ///< null: appends go as messages
  aggregate_options options;
  /// A 16-bit tag per id of `recent` (0: empty slot), in one cache line: a command
  /// that is not a retry (nearly all) is told apart by these alone, without reading the
  /// 256 bytes of ids, which are usually not in the cache.
  std::array<std::uint16_t, recent_command_ids_max> recent_tags{};
  std::size_t recent_next = 0;
  /// Commands the store handed back, decided again as soon as the reload completes (in
  /// the reload's own continuation, so no other message comes between). Empty whenever
  /// the actor takes a message.
  handed_back_commands handed_back;
  /// Passivating: once nothing is handed back any more, the actor stops.
  bool stopping = false;
  /// Where CAF keeps this actor's behavior: the behavior stack's element and the
  /// behavior object, which CAF reads first whenever the actor runs and which are
  /// usually long out of the caches. Noted by the actor at its first command, read by
  /// its router, which prefetches them with the state (behavior_address()). Only ever
  /// used as prefetch addresses, so a stale one costs nothing.
  std::atomic<const void*> behavior_slot{nullptr};
  std::atomic<const void*> behavior_object{nullptr};
  /// The ids of the last commands that appended (a ring): a retry of one of them is
  /// answered by the store with the original outcome, without deciding it again.
  std::array<command_id, recent_command_ids_max> recent{};
};

template <class Aggregate>
using aggregate_actor_type = caf::stateful_actor<aggregate_state<Aggregate>>;

/// The bytes of aggregate_state that handling a command reads: all but the ids of
/// `recent`, which come last (state_address() checks that).
template <class Aggregate>
constexpr std::size_t aggregate_state_hot_bytes =
  sizeof(aggregate_state<Aggregate>) - sizeof(std::array<command_id, recent_command_ids_max>);

/// Where the state of `aggregate` (just spawned as aggregate_actor<Aggregate> by the
/// caller) lives. CAF's stateful_actor reaches its state through a reference member,
/// which is read here, while the spawner still has the new actor in its caches.
template <class Aggregate>
const char* state_address(const caf::actor& aggregate) noexcept {
  auto* actor = static_cast<aggregate_actor_type<Aggregate>*>(
    caf::actor_cast<caf::abstract_actor*>(aggregate));
  const char* state = reinterpret_cast<const char*>(&actor->state);
  TALLY_ASSERT(reinterpret_cast<const char*>(&actor->state.recent)
               == state + aggregate_state_hot_bytes<Aggregate>);
  return state;
}

/// Starts loading what an aggregate's next command reads of its state (at
/// state_address()). The router calls it as it hands a command over: the aggregate
/// runs after the router's turn, so its state, usually long out of the caches, is
/// there by then.
template <class Aggregate>
void prefetch_state(const char* state) noexcept {
  for (std::size_t offset = 0; offset < aggregate_state_hot_bytes<Aggregate>; offset += 64)
    prefetch(state + offset);
  prefetch(state + aggregate_state_hot_bytes<Aggregate> - 1);
}

/// The behavior addresses an aggregate noted (null until its first command), read
/// from its state at `state` (state_address()). The caller's load waits for the
/// state's line; a router does it once per aggregate and keeps the answer.
template <class Aggregate>
std::pair<const void*, const void*> behavior_address(const char* state) noexcept {
  const auto* aggregate = reinterpret_cast<const aggregate_state<Aggregate>*>(state);
  return {aggregate->behavior_slot.load(std::memory_order_relaxed),
          aggregate->behavior_object.load(std::memory_order_relaxed)};
}

/// Starts loading what CAF reads of an aggregate's behavior when the aggregate runs:
/// the stack's element and the first lines of the behavior object (its match cases).
inline void prefetch_behavior(const void* slot, const void* object) noexcept {
  constexpr std::size_t object_lines = 4;
  prefetch(slot);
  for (std::size_t line = 0; line < object_lines; ++line)
    prefetch(static_cast<const char*>(object) + line * 64);
}

template <class Aggregate>
void rehydrate(aggregate_actor_type<Aggregate>* self, bool use_snapshot);

template <class Aggregate>
void decide_handed_back(aggregate_actor_type<Aggregate>* self);

/// Stops the aggregate after a failure; commands handed back to it get the failure, as
/// no one else would answer them.
template <class Aggregate>
void stop_after_failure(aggregate_actor_type<Aggregate>* self, caf::error failure) {
  auto& st = self->state;
  for (auto& command : st.handed_back)
    owned_by(command.promise, caf::actor_cast<caf::strong_actor_ptr>(self)).deliver(failure);
  st.handed_back.clear();
  self->quit(std::move(failure));
}

/// Applies loaded events; asks for the rest while the stream is incomplete.
template <class Aggregate>
void apply_loaded(aggregate_actor_type<Aggregate>* self, std::vector<recorded_event>& events,
                  bool complete) {
  auto& st = self->state;
  for (const auto& event : events) {
    TALLY_ASSERT_MSG(event.stream_id == st.stream_id && event.stream_version == st.version + 1,
                     "stream versions must be contiguous");
    auto decoded = Aggregate::decode_event(event.type, event.schema_version, event.payload);
    if (!decoded) {
      stop_after_failure<Aggregate>(self, make_caf_error(status{error_code::journal_corrupt,
                                                                "cannot decode event at position "
                                                                  + std::to_string(event.position)
                                                                  + ": "
                                                                  + decoded.error().to_string()}));
      return;
    }
    st.state = Aggregate::evolve(std::move(st.state), *decoded);
    st.version = event.stream_version;
  }
  if (complete) {
    decide_handed_back<Aggregate>(self);
    return;
  }
  self->request(st.store, caf::infinite, read_stream_atom::value, st.stream_id, st.version + 1,
                std::uint64_t{read_events_max})
    .await(
      [self](std::vector<recorded_event>& more) {
        bool done = more.size() < read_events_max;
        apply_loaded<Aggregate>(self, more, done);
      },
      [self](caf::error& failure) { stop_after_failure<Aggregate>(self, std::move(failure)); });
}

/// Loads the latest snapshot plus the events after it, and takes the commands the store
/// handed back. Other messages wait (await) until the state is complete and those
/// commands are decided again, so no command is decided on a partial state or before
/// a command that came first.
template <class Aggregate>
void rehydrate(aggregate_actor_type<Aggregate>* self, bool use_snapshot) {
  auto& st = self->state;
  st.state = Aggregate::initial_state();
  st.version = 0;
  st.snapshot_version = 0;
  st.recent.fill(command_id{});
  st.recent_tags.fill(0);
  st.recent_next = 0;
  self->request(st.store, caf::infinite, rehydrate_atom::value, st.stream_id, use_snapshot)
    .await(
      [self](loaded_stream& loaded, handed_back_commands& handed_back) {
        auto& st = self->state;
        // After the ones taken earlier (a rehydration without the snapshot follows one
        // with it), in order.
        std::move(handed_back.begin(), handed_back.end(), std::back_inserter(st.handed_back));
        if (loaded.has_snapshot) {
          std::optional<typename Aggregate::state_type> restored;
          if (loaded.latest_snapshot.format_version == Aggregate::state_format_version)
            restored = Aggregate::decode_state(loaded.latest_snapshot.state);
          if (!restored) {
            // Unknown format (older or newer code wrote it): replay everything.
            rehydrate<Aggregate>(self, false);
            return;
          }
          st.state = std::move(*restored);
          st.version = loaded.latest_snapshot.stream_version;
          st.snapshot_version = st.version;
        }
        apply_loaded<Aggregate>(self, loaded.events, loaded.complete);
      },
      [self](caf::error& failure) { stop_after_failure<Aggregate>(self, std::move(failure)); });
}

/// Stops once the store has no command handed back to this aggregate: one it handed
/// back after the aggregate's last reload would otherwise never be answered. If there
/// is one, the aggregate reloads, decides it again, and asks once more.
template <class Aggregate>
void stop_when_nothing_is_handed_back(aggregate_actor_type<Aggregate>* self) {
  auto& st = self->state;
  TALLY_ASSERT(st.stopping);
  self->request(st.store, caf::infinite, handed_back_atom::value, st.stream_id)
    .await(
      [self](handed_back_commands& handed_back) {
        if (handed_back.empty()) {
          self->quit();
          return;
        }
        auto& st = self->state;
        TALLY_ASSERT(st.handed_back.empty());
        st.handed_back = std::move(handed_back);
        rehydrate<Aggregate>(self, true);
      },
      [self](caf::error& failure) { stop_after_failure<Aggregate>(self, std::move(failure)); });
}

/// The tag of `id` in aggregate_state::recent_tags: never 0, the tag of an empty slot.
inline std::uint16_t recent_tag(const command_id& id) noexcept {
  auto folded = id.high ^ id.low;
  folded ^= folded >> 32;
  folded ^= folded >> 16;
  return static_cast<std::uint16_t>(folded | 1u);
}

template <class Aggregate>
void remember(aggregate_state<Aggregate>& st, const command_id& id) {
  st.recent[st.recent_next] = id;
  st.recent_tags[st.recent_next] = recent_tag(id);
  st.recent_next = (st.recent_next + 1) % recent_command_ids_max;
}

template <class Aggregate>
bool is_recent(const aggregate_state<Aggregate>& st, const command_id& id) {
  const auto tag = recent_tag(id);
  for (std::size_t slot = 0; slot < recent_command_ids_max; ++slot)
    if (st.recent_tags[slot] == tag && st.recent[slot] == id)
      return true;
  return false;
}

/// Hands `request` to the store: an append_request (`atom`: append_atom), answered after
/// the commit or handed back, or an outcome_request (outcome_atom) for a command this
/// aggregate did not append. Both travel the append queue, so the store sees one
/// aggregate's commands in the order they were decided.
template <class Aggregate, class Request, class Atom>
void send_to_store(aggregate_actor_type<Aggregate>* self, Atom atom, Request request,
                   const caf::response_promise& promise) {
  auto& st = self->state;
  if (st.queue) {
    if (st.queue->push(queued_command{std::move(request), owned_by(promise, st.store_control),
                                      self->address()}))
      self->send(st.store, appended_atom::value);
    return;
  }
  owned_by(promise, caf::actor_cast<caf::strong_actor_ptr>(self))
    .delegate(st.store, atom, std::move(request), caf::actor_cast<caf::actor>(self));
}

/// Decides one command (a message holding its command_envelope) and hands it to the
/// store, or answers `promise` at once. `decisions` counts how often the command was
/// decided, this time included. The store gets the command along, so it can hand it
/// back if this decision rests on a state the stream does not have.
template <class Aggregate>
void handle_command(aggregate_actor_type<Aggregate>* self, caf::message command,
                    const caf::response_promise& promise, std::uint32_t decisions) {
  using command_type = typename Aggregate::command_type;
  auto& st = self->state;
  TALLY_ASSERT(command.match_elements<command_envelope<command_type>>());
  TALLY_ASSERT(decisions >= 1 && decisions <= command_decisions_max);
  const auto& envelope = command.get_as<command_envelope<command_type>>(0);
  TALLY_ASSERT(Aggregate::stream_of(envelope.command) == st.stream_id);
  const auto id = envelope.id;
  const auto command_hash = Aggregate::command_hash(envelope.command);
  auto look_up = [&](bool decided, command_reply refusal) {
    send_to_store(self, outcome_atom::value,
                  outcome_request{st.stream_id, id, command_hash, st.version, decided, refusal,
                                  std::move(command), decisions},
                  promise);
  };
  // At most once per command id: the store answers retries with the original outcome
  // (after the original commits, if it is still in flight). If the store refused the
  // original's append, there is no outcome and no decision of ours: it hands the retry
  // back, behind the original. Older ids are caught by the store's own check, which then
  // makes us reload our state.
  if (is_recent(st, id)) {
    // The refusal is only the answer of a sender that cannot decide again (none here).
    look_up(false, command_reply{error_code::wrong_expected_version, st.version, 0, false});
    return;
  }
  if (envelope.expected_version != any_version && envelope.expected_version != st.version) {
    command_reply conflict{error_code::wrong_expected_version, st.version, 0, false};
    if (st.version == 0) {
      // The stream is empty and no append of ours is in flight: the caller's version is
      // not the stream's.
      owned_by(promise, caf::actor_cast<caf::strong_actor_ptr>(self)).deliver(conflict);
      return;
    }
    // A retry of an applied command names the version from before it, which is stale
    // now: the store answers the original outcome when it knows the id (bank_simulation
    // seed 48 found a retry after a restart answered this). And our version may be
    // ahead of the stream's (an append of ours is being refused): then the store hands
    // the command back and we check the version again on the reloaded state.
    look_up(true, conflict);
    return;
  }
  auto decision = Aggregate::decide(st.state, envelope.command);
  if (!decision) {
    command_reply rejection{decision.error().code(), st.version, 0, false};
    if (st.version == 0) {
      // Nothing was ever appended to this stream, so no earlier command for it can have
      // been applied, and no append of ours is in flight: the rejection stands.
      owned_by(promise, caf::actor_cast<caf::strong_actor_ptr>(self)).deliver(rejection);
      return;
    }
    // A retry of a command that was applied long ago (e.g. an open or a transfer step)
    // would now be refused by the rules; the store still knows its id and answers the
    // original outcome. A rejection decided on a state that ran ahead of the stream is
    // handed back. Only otherwise is it a rejection.
    look_up(true, rejection);
    return;
  }
  TALLY_ASSERT(!decision->empty());
  append_request request;
  request.stream_id = st.stream_id;
  request.expected_version = st.version;
  request.command = id;
  request.correlation = envelope.correlation;
  request.command_hash = command_hash;
  request.events.reserve(decision->size());
  for (const auto& event : *decision) {
    request.events.push_back(pending_event{std::string{Aggregate::event_type_name(event)},
                                           Aggregate::event_schema_version(event),
                                           Aggregate::encode_event(event)});
    st.state = Aggregate::evolve(std::move(st.state), event);
  }
  request.decidable_command = std::move(command);  // `envelope` is not used past here
  request.decisions = decisions;
  st.version += decision->size();
  remember(st, id);
  // The store replies to the caller once the events are durable.
  send_to_store(self, append_atom::value, std::move(request), promise);
  const auto interval = st.options.snapshot_interval_events;
  if (interval > 0 && st.version - st.snapshot_version >= interval) {
    st.snapshot_version = st.version;
    self->send(st.store, snapshot_atom::value,
               snapshot{st.stream_id, st.version, Aggregate::state_format_version,
                        Aggregate::encode_state(st.state)});
  }
}

/// Decides the commands the store handed back, in the order they first came, now that
/// the state is the stream's; then, when passivating, checks that nothing more is.
template <class Aggregate>
void decide_handed_back(aggregate_actor_type<Aggregate>* self) {
  auto& st = self->state;
  auto handed_back = std::move(st.handed_back);
  st.handed_back.clear();
  for (auto& command : handed_back)
    handle_command<Aggregate>(self, std::move(command.envelope), command.promise,
                              command.decisions + 1);
  if (st.stopping)
    stop_when_nothing_is_handed_back<Aggregate>(self);
}

/// The behavior of one aggregate instance (stream `stream_id`).
template <class Aggregate>
caf::behavior aggregate_actor(aggregate_actor_type<Aggregate>* self, std::string stream_id,
                              caf::actor store, std::shared_ptr<append_queue> queue,
                              aggregate_options options) {
  using command_type = typename Aggregate::command_type;
  auto& st = self->state;
  st.stream_id = std::move(stream_id);
  st.store = std::move(store);
  st.store_control = caf::actor_cast<caf::strong_actor_ptr>(st.store);
  st.queue = std::move(queue);
  st.options = options;
  rehydrate<Aggregate>(self, true);
  return {
    [self](command_envelope<command_type>& envelope) {
      TALLY_ASSERT(self->state.handed_back.empty());
      auto& st = self->state;
      if (st.behavior_object.load(std::memory_order_relaxed) == nullptr
          && !self->bhvr_stack().empty()) {
        const auto& current = self->bhvr_stack().back();
        st.behavior_slot.store(&current, std::memory_order_relaxed);
        st.behavior_object.store(current.as_behavior_impl().get(), std::memory_order_relaxed);
      }
      auto promise = self->make_response_promise();
      handle_command<Aggregate>(self, caf::make_message(std::move(envelope)), promise, 1);
    },
    [self](rollback_atom, const std::string&) {
      // The store refused one of our appends: our state ran ahead of the journal. The
      // commands decided on it since are handed back with the reload.
      rehydrate<Aggregate>(self, true);
    },
    [self](query_atom) -> snapshot {
      // The write-side state, for audits and tests (queries normally use read models).
      auto& st = self->state;
      return snapshot{st.stream_id, st.version, Aggregate::state_format_version,
                      Aggregate::encode_state(st.state)};
    },
    [self](passivate_atom) {
      // Every command routed before this one is decided and handed to the store; stop
      // once none of them is handed back.
      self->state.stopping = true;
      stop_when_nothing_is_handed_back<Aggregate>(self);
    },
  };
}

}  // namespace tally::detail
