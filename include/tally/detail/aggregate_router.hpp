// The router: stream id -> aggregate actor. It spawns an aggregate on its first
// command, keeps at most router_options::resident_max alive (least recently used
// are passivated first), passivates aggregates idle longer than idle_max, and never
// lets two actors of one stream live at once: commands for a stream whose actor is
// passivating wait here until that actor is gone, then go to its successor.
#pragma once

#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "caf/all.hpp"

#include "tally/detail/aggregate_actor.hpp"
#include "tally/detail/flat_string_map.hpp"

namespace tally::detail {

template <class Aggregate, class = void>
struct has_owns_stream : std::false_type {};
template <class Aggregate>
struct has_owns_stream<Aggregate, std::void_t<decltype(Aggregate::owns_stream(std::string_view{}))>>
  : std::true_type {};

/// A valid stream id that belongs to Aggregate (when it says which ids it owns): a
/// command for another aggregate type's stream must never rehydrate its events.
template <class Aggregate>
bool owns_stream(const std::string& stream_id) {
  if (!is_valid_stream_id(stream_id))
    return false;
  if constexpr (has_owns_stream<Aggregate>::value)
    return Aggregate::owns_stream(stream_id);
  return true;
}

/// A command held back while its stream's previous actor passivates.
struct waiting_command {
  caf::response_promise promise;
  std::function<void(const caf::actor&)> forward;
};

struct router_entry {
  caf::actor actor;
  const char* state = nullptr;  ///< the aggregate's state (state_address()), for prefetch
  const void* behavior_slot = nullptr;    ///< behavior_address(), once the aggregate noted it
  const void* behavior_object = nullptr;  ///< (both only for prefetch)
  std::uint64_t last_used_tick = 0;  ///< router tick of the last command
  std::list<std::string>::iterator recency;  ///< position in router_state::recency
  bool passivating = false;
  std::vector<waiting_command> waiting;
};

/// Counters a router reports for metrics and tests.
struct router_counters {
  std::uint64_t resident = 0;
  std::uint64_t spawned = 0;
  std::uint64_t passivated = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, router_counters& x) {
  return f(caf::meta::type_name("router_counters"), x.resident, x.spawned, x.passivated);
}

struct router_state {
  static inline const char* name = "tally.router";

  caf::actor store;
  std::shared_ptr<append_queue> queue;
  router_options options;
  bool accepting = true;
  /// Advances every sweep_interval: recency is tracked in ticks, not clock reads, so a
  /// command costs no clock call and at most one list move per tick.
  std::uint64_t tick = 0;
  flat_string_map<router_entry> entries;  ///< references last until the next insert or erase
  std::list<std::string> recency;  ///< active (not passivating) streams, most recent first
  std::unordered_map<caf::actor_addr, std::string> streams_by_actor;
  std::vector<caf::response_promise> drain_waiters;
  router_counters counters;
};

using router_actor_type = caf::stateful_actor<router_state>;

inline void begin_passivation(router_actor_type* self, router_entry& entry) {
  auto& st = self->state;
  TALLY_ASSERT(!entry.passivating);
  entry.passivating = true;
  st.recency.erase(entry.recency);
  entry.recency = st.recency.end();
  self->send(entry.actor, passivate_atom::value);
}

template <class Aggregate>
void start_aggregate(router_actor_type* self, const std::string& stream_id, router_entry& entry) {
  auto& st = self->state;
  // Make room: passivate the least recently used active aggregates.
  while (st.recency.size() >= st.options.resident_max)
    begin_passivation(self, st.entries.at(st.recency.back()));
  entry.actor = self->spawn(aggregate_actor<Aggregate>, stream_id, st.store, st.queue,
                            st.options.aggregate);
  entry.state = state_address<Aggregate>(entry.actor);
  entry.behavior_slot = nullptr;  // the new actor notes its own at its first command
  entry.behavior_object = nullptr;
  self->monitor(entry.actor);
  st.streams_by_actor[entry.actor.address()] = stream_id;
  st.recency.push_front(stream_id);
  entry.recency = st.recency.begin();
  entry.last_used_tick = st.tick;
  entry.passivating = false;
  ++st.counters.spawned;
}

/// Finds or starts the aggregate of `stream_id`.
template <class Aggregate>
router_entry& find_or_start(router_actor_type* self, const std::string& stream_id) {
  auto& st = self->state;
  if (auto* found = st.entries.find(stream_id))
    return *found;
  auto& entry = st.entries[stream_id];
  start_aggregate<Aggregate>(self, stream_id, entry);
  return entry;
}

/// The live actor of `stream_id` (started if needed), or nullptr while its previous
/// actor passivates: then the caller holds the request back with hold_back().
template <class Aggregate>
router_entry* ready_entry(router_actor_type* self, const std::string& stream_id) {
  auto& st = self->state;
  auto& entry = find_or_start<Aggregate>(self, stream_id);
  if (entry.passivating)
    return nullptr;
  if (entry.last_used_tick != st.tick) {
    entry.last_used_tick = st.tick;
    st.recency.splice(st.recency.begin(), st.recency, entry.recency);
  }
  return &entry;
}

/// Keeps a request for `stream_id` until its next actor starts (bounded).
inline void hold_back(router_actor_type* self, const std::string& stream_id,
                      caf::response_promise& promise,
                      std::function<void(const caf::actor&)> forward) {
  auto& st = self->state;
  auto& entry = st.entries.at(stream_id);
  TALLY_ASSERT(entry.passivating);
  if (entry.waiting.size() >= st.options.waiting_commands_max) {
    promise.deliver(make_caf_error(status{error_code::limit_exceeded,
                                          "too many commands waiting for stream " + stream_id}));
    return;
  }
  entry.waiting.push_back(waiting_command{promise, std::move(forward)});
}

inline void schedule_sweep(router_actor_type* self) {
  self->delayed_send(self, self->state.options.sweep_interval, sweep_atom::value);
}

/// The stream of `message` when it is a command of `Aggregate`, else null.
template <class Aggregate>
const std::string* command_stream(caf::mailbox_element& message) {
  using command_type = typename Aggregate::command_type;
  auto& content = message.content();
  if (!content.template match_elements<command_envelope<command_type>>())
    return nullptr;
  return &Aggregate::stream_of(content.template get_as<command_envelope<command_type>>(0).command);
}

/// Starts loading what the next two commands waiting in the router's mailbox will
/// touch, so that the misses overlap the work on this one: the router takes one
/// message at a time, and its table and the aggregates are far larger than the caches.
/// The command after next gets its entry loaded (the slot, read here, stays in cache;
/// the entry does not); the next one, whose entry that hint loaded one command ago, gets
/// its aggregate's actor object loaded: the line the hand-over's enqueue reads first and
/// the mailbox it writes. Reads the mailbox's cache of normal-priority messages, which
/// only this actor's thread touches (CAF 0.17.6's scheduled_actor mailbox); changes
/// nothing.
template <class Aggregate>
void prefetch_next_routes(router_actor_type* self) {
  auto& mailbox = self->mailbox();
  auto& normal = std::get<caf::scheduled_actor::normal_queue_index>(mailbox.queue().queues());
  auto* next = normal.peek();
  if (next == nullptr)
    return;
  auto& st = self->state;
  if (const auto* stream_id = command_stream<Aggregate>(*next))
    if (const auto* entry = st.entries.find(*stream_id); entry != nullptr && entry->actor) {
      auto* actor = static_cast<aggregate_actor_type<Aggregate>*>(
        caf::actor_cast<caf::abstract_actor*>(entry->actor));
      prefetch(actor);
      prefetch(&actor->mailbox());
    }
  // The list ends at a sentinel node inside the mailbox itself, which is not a
  // mailbox_element: only a node outside the mailbox is one (no cast before this test).
  const auto* after = reinterpret_cast<const char*>(next->next);
  const auto* mailbox_begin = reinterpret_cast<const char*>(&mailbox);
  if (after == nullptr || (after >= mailbox_begin && after < mailbox_begin + sizeof(mailbox)))
    return;
  if (const auto* stream_id =
        command_stream<Aggregate>(*static_cast<caf::mailbox_element*>(next->next)))
    st.entries.prefetch(*stream_id);
}

/// The router of aggregate type `Aggregate`.
/// `queue` is the store's append queue (null: aggregates send appends as messages).
template <class Aggregate>
caf::behavior aggregate_router(router_actor_type* self, caf::actor store,
                               std::shared_ptr<append_queue> queue, router_options options) {
  using command_type = typename Aggregate::command_type;
  TALLY_ASSERT(options.resident_max >= 1);
  auto& st = self->state;
  st.store = std::move(store);
  st.queue = std::move(queue);
  st.options = options;
  self->set_down_handler([self](caf::down_msg& down) {
    auto& st = self->state;
    auto by_actor = st.streams_by_actor.find(down.source);
    if (by_actor == st.streams_by_actor.end())
      return;
    auto stream_id = std::move(by_actor->second);
    st.streams_by_actor.erase(by_actor);
    auto& entry = st.entries.at(stream_id);
    if (!entry.passivating)
      st.recency.erase(entry.recency);  // it stopped on its own (failure)
    else
      ++st.counters.passivated;
    if (!entry.waiting.empty() && st.accepting) {
      // Commands arrived while it was passivating: its successor takes them, and it
      // rehydrates first, so it sees everything its predecessor appended.
      auto waiting = std::move(entry.waiting);
      entry.waiting.clear();
      start_aggregate<Aggregate>(self, stream_id, entry);
      for (auto& command : waiting)
        command.forward(entry.actor);
    } else {
      st.entries.erase(stream_id);
    }
    if (!st.accepting && st.entries.empty()) {
      for (auto& waiter : st.drain_waiters)
        waiter.deliver(true);
      st.drain_waiters.clear();
    }
  });
  schedule_sweep(self);
  return {
    [self](command_envelope<command_type>& envelope) {
      auto& st = self->state;
      prefetch_next_routes<Aggregate>(self);
      if (!st.accepting) {
        self->make_response_promise().deliver(make_caf_error(error_code::shutting_down));
        return;
      }
      const auto& stream_id = Aggregate::stream_of(envelope.command);
      if (envelope.id.is_nil() || !owns_stream<Aggregate>(stream_id)) {
        self->make_response_promise().deliver(command_reply{error_code::invalid_argument, 0, 0, false});
        return;
      }
      if (auto* entry = ready_entry<Aggregate>(self, stream_id)) {
        // The aggregate (and after it the store) answers the caller directly.
        self->delegate(entry->actor, std::move(envelope));
        prefetch_state<Aggregate>(entry->state);
        if (entry->behavior_object != nullptr)
          prefetch_behavior(entry->behavior_slot, entry->behavior_object);
        else
          std::tie(entry->behavior_slot, entry->behavior_object) =
            behavior_address<Aggregate>(entry->state);
        return;
      }
      auto stream_copy = stream_id;
      auto promise = self->make_response_promise();
      hold_back(self, stream_copy, promise,
                [promise, envelope = std::move(envelope)](const caf::actor& target) mutable {
                  promise.delegate(target, std::move(envelope));
                });
    },
    [self](query_atom, const std::string& stream_id) {
      // The write-side state of one stream (rehydrating it if needed).
      auto promise = self->make_response_promise();
      if (!owns_stream<Aggregate>(stream_id)) {
        promise.deliver(make_caf_error(error_code::invalid_argument));
        return;
      }
      if (auto* entry = ready_entry<Aggregate>(self, stream_id)) {
        promise.delegate(entry->actor, query_atom::value);
        return;
      }
      hold_back(self, stream_id, promise, [promise](const caf::actor& target) mutable {
        promise.delegate(target, query_atom::value);
      });
    },
    [self](sweep_atom) {
      auto& st = self->state;
      ++st.tick;
      // Recency is ordered by tick of last use, oldest at the back.
      auto idle_ticks = st.options.idle_max.count() / std::max<std::int64_t>(1, st.options.sweep_interval.count());
      while (st.options.idle_max.count() > 0 && !st.recency.empty()) {
        auto& oldest = st.entries.at(st.recency.back());
        if (static_cast<std::int64_t>(st.tick - oldest.last_used_tick) <= idle_ticks)
          break;
        begin_passivation(self, oldest);
      }
      if (st.accepting)
        schedule_sweep(self);
    },
    [self](resident_atom) -> router_counters {
      auto counters = self->state.counters;
      counters.resident = self->state.entries.size();
      return counters;
    },
    [self](drain_atom) {
      // Stop taking commands; passivate everyone; answer once all are gone.
      auto& st = self->state;
      auto promise = self->make_response_promise();
      st.accepting = false;
      st.entries.for_each([self](const std::string&, router_entry& entry) {
        if (!entry.passivating)
          begin_passivation(self, entry);
      });
      st.entries.for_each([](const std::string&, router_entry& entry) {
        for (auto& command : entry.waiting)
          command.promise.deliver(make_caf_error(error_code::shutting_down));
        entry.waiting.clear();
      });
      if (st.entries.empty())
        promise.deliver(true);
      else
        st.drain_waiters.push_back(std::move(promise));
    },
  };
}

}  // namespace tally::detail
