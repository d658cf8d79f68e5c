// The aggregate actor: a thin shell around a pure decider. It handles its commands
// strictly in mailbox order: decide against the current state, evolve the state, and
// hand the events to the event store, which replies to the caller once they are
// durable. Appends are pipelined (the next command is decided while earlier appends
// are in flight); the store's expected-version check keeps them in order, and any
// append the store refuses makes the aggregate reload its state from the journal.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "caf/all.hpp"

#include "tally/aggregate.hpp"
#include "tally/assert.hpp"
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
  /// The ids of the last commands that appended (a ring): a retry of one of them is
  /// answered by the store with the original outcome, without deciding it again.
  std::array<command_id, recent_command_ids_max> recent{};
  std::size_t recent_next = 0;
};

template <class Aggregate>
using aggregate_actor_type = caf::stateful_actor<aggregate_state<Aggregate>>;

template <class Aggregate>
void rehydrate(aggregate_actor_type<Aggregate>* self, bool use_snapshot);

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
      self->quit(make_caf_error(status{error_code::journal_corrupt,
                                       "cannot decode event at position "
                                         + std::to_string(event.position) + ": "
                                         + decoded.error().to_string()}));
      return;
    }
    st.state = Aggregate::evolve(std::move(st.state), *decoded);
    st.version = event.stream_version;
  }
  if (complete)
    return;
  self->request(st.store, caf::infinite, read_stream_atom::value, st.stream_id, st.version + 1,
                std::uint64_t{read_events_max})
    .await(
      [self](std::vector<recorded_event>& more) {
        bool done = more.size() < read_events_max;
        apply_loaded<Aggregate>(self, more, done);
      },
      [self](caf::error& failure) { self->quit(std::move(failure)); });
}

/// Loads the latest snapshot plus the events after it. Other messages wait (await)
/// until the state is complete, so no command is decided on a partial state.
template <class Aggregate>
void rehydrate(aggregate_actor_type<Aggregate>* self, bool use_snapshot) {
  auto& st = self->state;
  st.state = Aggregate::initial_state();
  st.version = 0;
  st.snapshot_version = 0;
  st.recent.fill(command_id{});
  st.recent_next = 0;
  self->request(st.store, caf::infinite, load_atom::value, st.stream_id, use_snapshot)
    .await(
      [self](loaded_stream& loaded) {
        auto& st = self->state;
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
      [self](caf::error& failure) { self->quit(std::move(failure)); });
}

template <class Aggregate>
void remember(aggregate_state<Aggregate>& st, const command_id& id) {
  st.recent[st.recent_next] = id;
  st.recent_next = (st.recent_next + 1) % recent_command_ids_max;
}

template <class Aggregate>
bool is_recent(const aggregate_state<Aggregate>& st, const command_id& id) {
  return std::find(st.recent.begin(), st.recent.end(), id) != st.recent.end();
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
      auto& st = self->state;
      TALLY_ASSERT(Aggregate::stream_of(envelope.command) == st.stream_id);
      const auto command_hash = Aggregate::command_hash(envelope.command);
      // At most once per command id: the store answers retries with the original
      // outcome (after the original commits, if it is still in flight). Older ids
      // are caught by the store's own check, which then makes us reload our state.
      if (is_recent(st, envelope.id)) {
        self->delegate(st.store, outcome_atom::value, envelope.id, command_hash, st.stream_id);
        return;
      }
      if (envelope.expected_version != any_version && envelope.expected_version != st.version) {
        command_reply conflict{error_code::wrong_expected_version, st.version, 0, false};
        if (st.version == 0) {
          self->make_response_promise().deliver(conflict);
          return;
        }
        // A retry of an applied command names the version from before it, which is
        // stale now: the store answers the original outcome when it knows the id
        // (bank_simulation seed 48 found a retry after a restart answered this).
        self->delegate(st.store, outcome_atom::value, envelope.id, command_hash, st.stream_id,
                       conflict);
        return;
      }
      auto decision = Aggregate::decide(st.state, envelope.command);
      if (!decision) {
        command_reply rejection{decision.error().code(), st.version, 0, false};
        if (st.version == 0) {
          // Nothing was ever appended to this stream, so no earlier command for it
          // can have been applied: the rejection stands.
          self->make_response_promise().deliver(rejection);
          return;
        }
        // A retry of a command that was applied long ago (e.g. an open or a transfer
        // step) would now be refused by the rules; the store still knows its id and
        // answers the original outcome. Only otherwise is it a rejection.
        self->delegate(st.store, outcome_atom::value, envelope.id, command_hash, st.stream_id,
                       rejection);
        return;
      }
      TALLY_ASSERT(!decision->empty());
      append_request request;
      request.stream_id = st.stream_id;
      request.expected_version = st.version;
      request.command = envelope.id;
      request.correlation = envelope.correlation;
      request.command_hash = command_hash;
      request.events.reserve(decision->size());
      for (const auto& event : *decision) {
        request.events.push_back(pending_event{std::string{Aggregate::event_type_name(event)},
                                               Aggregate::event_schema_version(event),
                                               Aggregate::encode_event(event)});
        st.state = Aggregate::evolve(std::move(st.state), event);
      }
      st.version += decision->size();
      remember(st, envelope.id);
      // The store replies to the caller once the events are durable.
      if (st.queue) {
        caf::response_promise promise{st.store_control, *self->current_mailbox_element()};
        if (st.queue->push(queued_append{std::move(request), std::move(promise), self->address()}))
          self->send(st.store, appended_atom::value);
      } else {
        self->delegate(st.store, append_atom::value, std::move(request),
                       caf::actor_cast<caf::actor>(self));
      }
      const auto interval = st.options.snapshot_interval_events;
      if (interval > 0 && st.version - st.snapshot_version >= interval) {
        st.snapshot_version = st.version;
        self->send(st.store, snapshot_atom::value,
                   snapshot{st.stream_id, st.version, Aggregate::state_format_version,
                            Aggregate::encode_state(st.state)});
      }
    },
    [self](rollback_atom, const std::string&) {
      // The store refused one of our appends: our state ran ahead of the journal.
      rehydrate<Aggregate>(self, true);
    },
    [self](query_atom) -> snapshot {
      // The write-side state, for audits and tests (queries normally use read models).
      auto& st = self->state;
      return snapshot{st.stream_id, st.version, Aggregate::state_format_version,
                      Aggregate::encode_state(st.state)};
    },
    [self](passivate_atom) {
      // Every command routed before this one is decided and handed to the store.
      self->quit();
    },
  };
}

}  // namespace tally::detail
