// The projection actor: keeps one read model current from committed events.
//
// Start-up: load the checkpoint (position P and the model's state; through the
// checkpoint writer when the store blocks on I/O), subscribe to the
// store (which answers with its head H and from then on sends every committed batch
// after H), pull the events P+1..H from the journal in pages, then apply the batches
// that arrived meanwhile. Every event is applied exactly once, in global order: the
// next expected position is known and asserted.
//
// Queries carry a min_position: an answer waits (bounded) until the model has
// applied that position, so a caller can read its own writes.
//
// Projections run on the scheduler. A checkpoint store that blocks on I/O (files) is
// used through one detached checkpoint_writer actor shared by the projections: they
// encode their model and hand it over, and applying events never waits for a disk.
//
// A Model provides:
//   using query_type; using answer_type;         // answer_type has as_of_position
//   static constexpr const char* name;
//   void apply(const recorded_event&);           // every event, in order
//   answer_type answer(const query_type&, std::uint64_t position) const;
//   std::string encode() const; bool decode(std::string_view);  // checkpoints
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "caf/all.hpp"

#include "tally/assert.hpp"
#include "tally/checkpoint_store.hpp"
#include "tally/protocol.hpp"

// A model's frozen state goes to the local checkpoint writer without copying (declared
// before checkpoint_writer's behavior, which takes it).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::checkpoint_image_ptr)

namespace tally {

struct projection_options {
  /// Save a checkpoint every this many applied events (0: only when asked).
  std::uint64_t checkpoint_interval_events = 100000;
  /// A checkpoint encodes the whole model, so a model that grows with the log (the
  /// history: about 80 bytes per event) costs more at every interval: re-encoding it
  /// every 100,000 events is quadratic over a run (at 10 M events, 790 MB and 1.2 s of
  /// encoding each time, docs/benchmarks.md). So a periodic checkpoint also
  /// waits until the events applied since the last one, times this, reach the last
  /// checkpoint's size: the bytes encoded stay at most this many per event applied,
  /// and such a model is saved at positions that grow geometrically. The price: a
  /// restart replays up to (last checkpoint's bytes / this) events into it. Small
  /// models (balances, totals) keep the interval. 0: no bound (every interval).
  std::uint64_t checkpoint_bytes_per_event_max = checkpoint_bytes_per_event_max_default;
  /// Events per catch-up read.
  std::uint64_t catch_up_page_events = 4096;
  /// Queries waiting for a position at once; more are refused with limit_exceeded.
  std::size_t waiting_queries_max = 100000;
  /// Longest a query may wait for its min_position.
  std::chrono::milliseconds query_wait_max{std::chrono::seconds{30}};
};

namespace detail {

/// Logs a failed checkpoint save (defined in actors/projections/projection_log.cpp, so
/// this header needs no logging library).
void log_checkpoint_failure(const char* projection, std::uint64_t position, const status& failure);
/// Logs a checkpoint that could not be loaded (the projection rebuilds from the log).
void log_checkpoint_load_failure(const char* projection, const status& failure);

template <class Model>
struct waiting_query {
  std::uint64_t min_position = 0;
  typename Model::query_type query;
  caf::response_promise promise;
};

template <class Model>
struct projection_state {
  static inline const char* name = "tally.projection";

  Model model;
  std::uint64_t position = 0;        ///< last applied global position
  std::uint64_t catch_up_until = 0;  ///< the store's head when we subscribed
  std::uint64_t skip_until = 0;      ///< a feed that starts after the head skips to here
  bool catching_up = true;
  std::deque<event_batch> held_back;  ///< live batches that arrived during catch-up
  caf::actor store;
  std::shared_ptr<checkpoint_store> checkpoints;
  caf::actor checkpoint_writer;  ///< does the checkpoint I/O when set (checkpoint_writer)
  projection_options options;
  std::uint64_t applied_since_checkpoint = 0;
  std::uint64_t last_checkpoint_bytes = 0;  ///< encoded size of the last checkpoint
  bool periodic_checkpoint_running = false;  ///< one at the writer at a time
  std::uint64_t next_query_id = 1;
  std::map<std::uint64_t, waiting_query<Model>> waiting;  ///< by query id
  std::multimap<std::uint64_t, std::uint64_t> waiting_by_position;  ///< min_position -> id
};

template <class Model>
using projection_actor_type = caf::stateful_actor<projection_state<Model>>;

/// Whether Model offers `checkpoint_image_ptr take_image() const` (save_checkpoint).
template <class Model, class = void>
struct model_takes_image : std::false_type {};
template <class Model>
struct model_takes_image<
  Model, std::enable_if_t<std::is_same_v<decltype(std::declval<const Model&>().take_image()),
                                         checkpoint_image_ptr>>> : std::true_type {};

/// The actor that saves and loads checkpoints for projections when the store blocks on
/// I/O (spawn it detached): (checkpoint_atom, projection, position, state or image) ->
/// the encoded size, or the save's error; (load_atom, projection) -> (found, position,
/// state). An image is encoded here, on the writer's thread.
inline caf::behavior checkpoint_writer(caf::event_based_actor*,
                                       std::shared_ptr<checkpoint_store> checkpoints) {
  TALLY_ASSERT(checkpoints != nullptr);
  auto save = [checkpoints](const std::string& projection, std::uint64_t position,
                            std::string state) -> caf::result<std::uint64_t> {
    const std::uint64_t bytes = state.size();
    if (status failure = checkpoints->save(projection, checkpoint{position, std::move(state)}))
      return make_caf_error(failure);
    return bytes;
  };
  return {
    [save](checkpoint_atom, const std::string& projection, std::uint64_t position,
           std::string& state) { return save(projection, position, std::move(state)); },
    [save](checkpoint_atom, const std::string& projection, std::uint64_t position,
           const checkpoint_image_ptr& image) {
      TALLY_ASSERT(image != nullptr);
      return save(projection, position, image->encode());
    },
    [checkpoints](load_atom, const std::string& projection)
      -> std::tuple<bool, std::uint64_t, std::string> {
      auto saved = checkpoints->load(projection);
      if (!saved)
        return {false, 0, std::string{}};
      return {true, saved->position, std::move(saved->state)};
    },
  };
}

/// Saves the model and its position. A checkpoint only shortens the next start (the
/// journal is the source of truth), so a failed save does not stop the read model: it
/// is logged, tried again after the next interval, and passed to `done` (the position
/// saved, or the failure) so that a shutdown that asked for the checkpoint reports it.
/// With a checkpoint writer `done` runs when the writer answers, else at once. A model
/// that offers a checkpoint_image (take_image()) is encoded by the writer, so the
/// projection goes on applying events meanwhile.
template <class Model, class Done>
void save_checkpoint(projection_actor_type<Model>* self, Done done) {
  auto& st = self->state;
  st.applied_since_checkpoint = 0;
  const std::uint64_t position = st.position;
  if (!st.checkpoints) {
    done(status{}, position);
    return;
  }
  if (!st.checkpoint_writer) {
    std::string encoded = st.model.encode();
    st.last_checkpoint_bytes = encoded.size();
    status failure = st.checkpoints->save(Model::name, checkpoint{position, std::move(encoded)});
    if (failure)
      log_checkpoint_failure(Model::name, position, failure);
    done(failure, position);
    return;
  }
  // The writer answers with the encoded size, the same way for an image and for bytes.
  auto saved = [self, done, position](std::uint64_t bytes) mutable {
    self->state.last_checkpoint_bytes = bytes;
    done(status{}, position);
  };
  auto failed = [done, position](caf::error& error) mutable {
    status failure = to_status(error);
    log_checkpoint_failure(Model::name, position, failure);
    done(failure, position);
  };
  if constexpr (model_takes_image<Model>::value) {
    self->request(st.checkpoint_writer, caf::infinite, checkpoint_atom::value,
                  std::string{Model::name}, position, st.model.take_image())
      .then(std::move(saved), std::move(failed));
  } else {
    std::string encoded = st.model.encode();
    self->request(st.checkpoint_writer, caf::infinite, checkpoint_atom::value,
                  std::string{Model::name}, position, std::move(encoded))
      .then(std::move(saved), std::move(failed));
  }
}

template <class Model>
void release_waiting(projection_actor_type<Model>* self) {
  auto& st = self->state;
  while (!st.waiting_by_position.empty()
         && st.waiting_by_position.begin()->first <= st.position) {
    auto id = st.waiting_by_position.begin()->second;
    st.waiting_by_position.erase(st.waiting_by_position.begin());
    auto it = st.waiting.find(id);
    if (it == st.waiting.end())
      continue;  // expired already
    it->second.promise.deliver(st.model.answer(it->second.query, st.position));
    st.waiting.erase(it);
  }
}

/// Whether `Model` has `prefetch(const recorded_event&) const`: a hint that the event is
/// applied soon (optional).
template <class Model, class = void>
struct model_takes_prefetch : std::false_type {};
template <class Model>
struct model_takes_prefetch<Model, std::void_t<decltype(std::declval<const Model&>().prefetch(
                                     std::declval<const recorded_event&>()))>> : std::true_type {};

/// Whether `Model` has `prefetch_update(const recorded_event&) const`: a second hint,
/// given after prefetch() had time to load the lookup, for what applying the event
/// writes (optional).
template <class Model, class = void>
struct model_takes_prefetch_update : std::false_type {};
template <class Model>
struct model_takes_prefetch_update<
  Model, std::void_t<decltype(std::declval<const Model&>().prefetch_update(
           std::declval<const recorded_event&>()))>> : std::true_type {};

/// Whether a periodic checkpoint is due (projection_options).
template <class Model>
bool checkpoint_due(const projection_state<Model>& st) {
  const auto& options = st.options;
  if (options.checkpoint_interval_events == 0 || st.periodic_checkpoint_running
      || st.applied_since_checkpoint < options.checkpoint_interval_events)
    return false;
  const std::uint64_t per_event = options.checkpoint_bytes_per_event_max;
  // Rounded up: due exactly when since * per_event >= bytes.
  return per_event == 0
         || st.applied_since_checkpoint
              >= (st.last_checkpoint_bytes + per_event - 1) / per_event;
}

template <class Model>
void apply_events(projection_actor_type<Model>* self, const std::vector<recorded_event>& events,
                  std::uint64_t until_position) {
  auto& st = self->state;
  // A model whose lookups miss the caches (a map per stream) takes a hint a few events
  // ahead, so those misses overlap instead of following one another; one whose update
  // writes elsewhere (an array per stream) takes a second one, nearer, once the lookup
  // it needs is loaded.
  constexpr std::size_t prefetch_ahead = 8;
  constexpr std::size_t prefetch_update_ahead = 4;
  // The first events of a batch get their hints all at once, so that their misses
  // overlap too (a batch holds about 20 events).
  if constexpr (model_takes_prefetch<Model>::value)
    for (std::size_t index = 0; index < std::min(prefetch_ahead, events.size()); ++index)
      st.model.prefetch(events[index]);
  if constexpr (model_takes_prefetch_update<Model>::value)
    for (std::size_t index = 0; index < std::min(prefetch_update_ahead, events.size()); ++index)
      st.model.prefetch_update(events[index]);
  for (std::size_t index = 0; index < events.size(); ++index) {
    const auto& event = events[index];
    if (event.position > until_position)
      break;
    if constexpr (model_takes_prefetch<Model>::value)
      if (index + prefetch_ahead < events.size())
        st.model.prefetch(events[index + prefetch_ahead]);
    if constexpr (model_takes_prefetch_update<Model>::value)
      if (index + prefetch_update_ahead < events.size())
        st.model.prefetch_update(events[index + prefetch_update_ahead]);
    TALLY_ASSERT_MSG(event.position == st.position + 1,
                     "a projection must apply every position exactly once, in order");
    if (event.position > st.skip_until)
      st.model.apply(event);
    st.position = event.position;
    ++st.applied_since_checkpoint;
  }
  if (checkpoint_due(st)) {
    // One periodic save at a time: the next waits for this one's size (and for the
    // writer, when a large image takes it a while). A failure is logged.
    st.periodic_checkpoint_running = true;
    save_checkpoint(self, [self](const status&, std::uint64_t) {
      self->state.periodic_checkpoint_running = false;
    });
  }
  release_waiting(self);
}

template <class Model>
void finish_catch_up(projection_actor_type<Model>* self) {
  auto& st = self->state;
  TALLY_ASSERT(st.position == st.catch_up_until);
  st.catching_up = false;
  while (!st.held_back.empty()) {
    auto batch = std::move(st.held_back.front());
    st.held_back.pop_front();
    apply_events(self, *batch, UINT64_MAX);
  }
}

template <class Model>
void catch_up(projection_actor_type<Model>* self) {
  auto& st = self->state;
  if (st.position >= st.catch_up_until) {
    finish_catch_up(self);
    return;
  }
  self->request(st.store, caf::infinite, read_all_atom::value, st.position + 1,
                st.options.catch_up_page_events)
    .then(
      [self](const std::vector<recorded_event>& events) {
        auto& st = self->state;
        if (events.empty()) {
          self->quit(make_caf_error(status{error_code::journal_corrupt,
                                           "journal ends before position "
                                             + std::to_string(st.catch_up_until)}));
          return;
        }
        apply_events(self, events, st.catch_up_until);
        catch_up(self);
      },
      [self](caf::error& failure) { self->quit(std::move(failure)); });
}

/// Takes a loaded checkpoint (an unreadable one means rebuilding from the log).
template <class Model>
void restore_checkpoint(projection_actor_type<Model>* self, std::uint64_t position,
                        std::string_view state) {
  auto& st = self->state;
  if (st.model.decode(state)) {
    st.position = position;
    st.last_checkpoint_bytes = state.size();  // the spacing goes on after a restart
  } else {
    st.model = Model{};
  }
}

/// Subscribes to the store, then catches up from the position restored (if any).
template <class Model>
void subscribe_to_store(projection_actor_type<Model>* self) {
  auto& st = self->state;
  self->request(st.store, caf::infinite, subscribe_atom::value, caf::actor_cast<caf::actor>(self))
    .then(
      [self](std::uint64_t head) {
        auto& st = self->state;
        if (head < st.position) {
          // Ahead of the journal: a checkpoint from a journal that lost its tail (the
          // model cannot be trusted: rebuild from 0), or a feed asked to start after
          // the head (it waits for the live batches).
          if (st.checkpoints) {
            st.model = Model{};
            st.position = 0;
          } else {
            st.catching_up = false;
            st.skip_until = st.position;
            st.position = head;
            return;
          }
        }
        st.catch_up_until = head;
        catch_up(self);
      },
      [self](caf::error& failure) { self->quit(std::move(failure)); });
}

/// The behavior of a projection over Model.
/// `model` is the initial read model; without a checkpoint the projection starts after
/// `start_after` (0: from the first event). With `checkpoint_writer` (an actor running
/// detail::checkpoint_writer over `checkpoints`) every checkpoint load and save goes
/// through it, so the projection itself never blocks on I/O.
template <class Model>
caf::behavior projection_actor_with_writer(projection_actor_type<Model>* self, Model model,
                                           caf::actor store,
                                           std::shared_ptr<checkpoint_store> checkpoints,
                                           projection_options options, std::uint64_t start_after,
                                           caf::actor checkpoint_writer) {
  using query_type = typename Model::query_type;
  auto& st = self->state;
  st.model = std::move(model);
  st.position = start_after;
  st.store = std::move(store);
  st.checkpoints = std::move(checkpoints);
  st.checkpoint_writer = std::move(checkpoint_writer);
  st.options = options;
  if (st.checkpoints && st.checkpoint_writer) {
    // await: no query or batch is handled before the checkpoint is in.
    self->request(st.checkpoint_writer, caf::infinite, load_atom::value, std::string{Model::name})
      .await(
        [self](bool found, std::uint64_t position, const std::string& state) {
          if (found)
            restore_checkpoint(self, position, state);
          subscribe_to_store(self);
        },
        [self](caf::error& failure) {
          // A checkpoint only saves time: without it, rebuild from the log.
          log_checkpoint_load_failure(Model::name, to_status(failure));
          subscribe_to_store(self);
        });
  } else {
    if (st.checkpoints)
      if (auto saved = st.checkpoints->load(Model::name))
        restore_checkpoint(self, saved->position, saved->state);
    subscribe_to_store(self);
  }
  return {
    [self](const event_batch& batch) {
      auto& st = self->state;
      if (st.catching_up)
        st.held_back.push_back(batch);
      else
        apply_events(self, *batch, UINT64_MAX);
    },
    [self](query_atom, query_type& query, std::uint64_t min_position, std::uint64_t wait_ms) {
      auto& st = self->state;
      auto promise = self->make_response_promise();
      if (st.position >= min_position) {
        promise.deliver(st.model.answer(query, st.position));
        return;
      }
      if (wait_ms == 0) {
        promise.deliver(make_caf_error(error_code::position_not_reached));
        return;
      }
      if (st.waiting.size() >= st.options.waiting_queries_max) {
        promise.deliver(make_caf_error(status{error_code::limit_exceeded,
                                              "too many queries waiting for a position"}));
        return;
      }
      auto id = st.next_query_id++;
      st.waiting.emplace(id, waiting_query<Model>{min_position, std::move(query), promise});
      st.waiting_by_position.emplace(min_position, id);
      auto wait = std::min(std::chrono::milliseconds{wait_ms}, st.options.query_wait_max);
      self->delayed_send(self, wait, expire_atom::value, id);
    },
    [self](expire_atom, std::uint64_t id) {
      auto& st = self->state;
      auto it = st.waiting.find(id);
      if (it == st.waiting.end())
        return;  // answered already
      it->second.promise.deliver(make_caf_error(status{
        error_code::position_not_reached,
        "read model is at position " + std::to_string(st.position) + ", asked for "
          + std::to_string(it->second.min_position)}));
      auto [first, last] = st.waiting_by_position.equal_range(it->second.min_position);
      for (auto entry = first; entry != last; ++entry)
        if (entry->second == id) {
          st.waiting_by_position.erase(entry);
          break;
        }
      st.waiting.erase(it);
    },
    [self](head_atom) -> std::uint64_t { return self->state.position; },
    [self](checkpoint_atom) {
      auto promise = self->make_response_promise();
      save_checkpoint(self, [promise](const status& failure, std::uint64_t position) mutable {
        if (failure)
          promise.deliver(make_caf_error(failure));
        else
          promise.deliver(position);
      });
    },
  };
}

/// A projection without a checkpoint writer (its checkpoint store must not block).
template <class Model>
caf::behavior projection_actor(projection_actor_type<Model>* self, Model model, caf::actor store,
                               std::shared_ptr<checkpoint_store> checkpoints,
                               projection_options options, std::uint64_t start_after) {
  return projection_actor_with_writer<Model>(self, std::move(model), std::move(store),
                                             std::move(checkpoints), options, start_after, {});
}

}  // namespace detail
}  // namespace tally
