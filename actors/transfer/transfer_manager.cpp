#include "actors/transfer/transfer_manager.hpp"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "tally/assert.hpp"
#include "tally/bank.hpp"
#include "tally/protocol.hpp"
#include "tally/transfer.hpp"

namespace tally {

namespace {

using bank::transfer_status;
using bank::transfer_step;

// What the manager does next for one transfer.
enum class stage : std::uint8_t {
  load,        // read the transfer's own stream: new, or how far it got
  validate,    // both accounts exist and are open (new transfers only)
  request,     // transfer_requested
  debit,       // source
  credit,      // target
  settle,      // source: the debited amount arrived
  complete,    // transfer_completed
  compensate,  // transfer_compensating (the credit was refused)
  refund,      // source gets the amount back
  fail,        // transfer_failed
};

// A transfer that re-reads its stream more often than this is stuck in a loop (a bug).
constexpr int loads_max = 4;

struct running_transfer {
  bank::transfer_money request;
  stage next = stage::load;
  error_code reason = error_code::none;  // for compensate, refund and fail
  std::uint64_t position = 0;            // of the latest event appended or found
  bool duplicate = false;                // requested before this request arrived
  bool resumed = false;                  // picked up after a restart, no caller
  int loads = 0;
  std::vector<caf::response_promise> waiting;
};

struct manager_state {
  static inline const char* name = "tally.transfers";

  caf::actor accounts;
  caf::actor transfers;
  caf::actor projection;
  caf::actor store;
  transfer_manager_options options;
  std::unordered_map<std::string, running_transfer> running;
  bool accepting = true;
  std::vector<caf::response_promise> drain_waiters;
};

using manager_actor = caf::stateful_actor<manager_state>;

void advance(manager_actor* self, const std::string& transfer_id);

running_transfer* find(manager_actor* self, const std::string& transfer_id) {
  auto it = self->state.running.find(transfer_id);
  return it == self->state.running.end() ? nullptr : &it->second;
}

void release_drain_waiters(manager_actor* self) {
  auto& st = self->state;
  if (st.accepting || !st.running.empty())
    return;
  for (auto& waiter : st.drain_waiters)
    waiter.deliver(true);
  st.drain_waiters.clear();
}

void finish(manager_actor* self, const std::string& transfer_id, const transfer_reply& reply) {
  auto it = self->state.running.find(transfer_id);
  if (it == self->state.running.end())
    return;
  for (auto& promise : it->second.waiting)
    promise.deliver(reply);
  self->state.running.erase(it);
  release_drain_waiters(self);
}

void finish_with_rejection(manager_actor* self, const std::string& transfer_id, error_code rule) {
  transfer_reply reply;
  reply.outcome = rule;
  finish(self, transfer_id, reply);
}

void finish_with_status(manager_actor* self, const std::string& transfer_id, transfer_status status,
                        error_code reason) {
  auto* transfer = find(self, transfer_id);
  if (!transfer)
    return;
  TALLY_ASSERT(bank::is_finished(status));
  transfer_reply reply{error_code::none, status, reason, transfer->position, transfer->duplicate};
  finish(self, transfer_id, reply);
}

// A system failure (store unavailable, shutting down, ...): the transfer stays where
// its stream says and resumes on the next start or on a retry with the same id.
void abort_transfer(manager_actor* self, const std::string& transfer_id, const caf::error& failure) {
  auto it = self->state.running.find(transfer_id);
  if (it == self->state.running.end())
    return;
  for (auto& promise : it->second.waiting)
    promise.deliver(failure);
  self->state.running.erase(it);
  release_drain_waiters(self);
}

void abort_with_bug(manager_actor* self, const std::string& transfer_id, const std::string& what) {
  spdlog::error("transfer stuck transfer_id={} problem=\"{}\" action=resume_on_next_start", transfer_id,
                what);
  abort_transfer(self, transfer_id, make_caf_error(status{error_code::internal_error, what}));
}

void go_to(manager_actor* self, const std::string& transfer_id, stage next) {
  auto* transfer = find(self, transfer_id);
  if (!transfer)
    return;
  transfer->next = next;
  advance(self, transfer_id);
}

// Sends one step command (with the step's derived id) to `router`; `on_reply` gets
// accepted and rejected replies, a failure aborts the transfer.
template <class Command, class OnReply>
void send_step(manager_actor* self, const caf::actor& router, const std::string& transfer_id,
               transfer_step step, Command command, OnReply on_reply) {
  command_envelope<Command> envelope;
  envelope.id = bank::transfer_step_id(transfer_id, step);
  envelope.correlation = bank::transfer_correlation_id(transfer_id);
  envelope.command = std::move(command);
  self->request(router, caf::infinite, std::move(envelope))
    .then(
      [self, transfer_id, on_reply](command_reply& reply) mutable {
        auto* transfer = find(self, transfer_id);
        if (!transfer)
          return;
        if (reply.accepted())
          transfer->position = std::max(transfer->position, reply.position);
        on_reply(*transfer, reply);
      },
      [self, transfer_id](caf::error& failure) { abort_transfer(self, transfer_id, failure); });
}

// A step on an account never names an expected version, so its answer is the bank's
// decision or the original outcome of its derived id, never wrong_expected_version: when
// the account's actor decided it on a state that ran ahead of the stream (right behind
// a resent step whose id the store already has, after a restart), the actor decides it
// again on its reloaded state (aggregate_actor.hpp). A step decided too often that way
// fails with limit_exceeded, which aborts the transfer to resume later.
template <class Command, class OnReply>
void send_account_step(manager_actor* self, const std::string& transfer_id, transfer_step step,
                       Command command, OnReply on_reply) {
  send_step(self, self->state.accounts, transfer_id, step,
            bank::account_command{std::move(command)}, std::move(on_reply));
}

template <class Command, class OnReply>
void send_transfer_step(manager_actor* self, const std::string& transfer_id, transfer_step step,
                        Command command, OnReply on_reply) {
  send_step(self, self->state.transfers, transfer_id, step,
            bank::transfer_command{std::move(command)}, std::move(on_reply));
}

// The transfer's own stream says where it stands.
void load(manager_actor* self, const std::string& transfer_id) {
  auto* transfer = find(self, transfer_id);
  if (++transfer->loads > loads_max) {
    abort_with_bug(self, transfer_id, "its steps keep disagreeing with its stream");
    return;
  }
  auto stream = bank::transfer_stream_id(transfer_id);
  self->request(self->state.transfers, caf::infinite, query_atom::value, stream)
    .then(
      [self, transfer_id, stream](const snapshot& saved) {
        auto* transfer = find(self, transfer_id);
        if (!transfer)
          return;
        auto state = bank::decode_transfer_state(saved.state);
        TALLY_ASSERT(state.has_value());
        if (state->status == transfer_status::not_requested) {
          if (transfer->resumed) {
            abort_with_bug(self, transfer_id, "listed as unfinished but its stream is empty");
            return;
          }
          go_to(self, transfer_id, stage::validate);
          return;
        }
        auto& request = transfer->request;
        if (!transfer->resumed
            && (state->source != request.source || state->target != request.target
                || state->amount != request.amount)) {
          finish_with_rejection(self, transfer_id, error_code::transfer_already_exists);
          return;
        }
        request.source = state->source;
        request.target = state->target;
        request.amount = state->amount;
        transfer->duplicate = transfer->duplicate || transfer->loads == 1;
        transfer->reason = state->reason;
        switch (state->status) {
          case transfer_status::requested:
            go_to(self, transfer_id, stage::debit);
            return;
          case transfer_status::compensating:
            go_to(self, transfer_id, stage::refund);
            return;
          case transfer_status::completed:
          case transfer_status::failed:
            break;
          case transfer_status::not_requested:
            TALLY_ASSERT_MSG(false, "handled above");
        }
        // Finished before: answer with the position of its last event.
        auto finished = state->status;
        auto reason = state->reason;
        self->request(self->state.store, caf::infinite, read_stream_atom::value, stream,
                      saved.stream_version, std::uint64_t{1})
          .then(
            [self, transfer_id, finished, reason](const std::vector<recorded_event>& events) {
              auto* transfer = find(self, transfer_id);
              if (!transfer)
                return;
              if (!events.empty())
                transfer->position = std::max(transfer->position, events.front().position);
              finish_with_status(self, transfer_id, finished, reason);
            },
            [self, transfer_id](caf::error& failure) { abort_transfer(self, transfer_id, failure); });
      },
      [self, transfer_id](caf::error& failure) { abort_transfer(self, transfer_id, failure); });
}

// Both accounts must exist and be open before anything is recorded. (They may still
// change before the debit and credit: those steps decide again.)
void validate_accounts(manager_actor* self, const std::string& transfer_id) {
  auto* transfer = find(self, transfer_id);
  auto check = [](const snapshot& saved) {
    auto state = bank::decode_state(saved.state);
    TALLY_ASSERT(state.has_value());
    if (state->status == bank::account_status::not_opened)
      return error_code::account_not_found;
    if (state->status == bank::account_status::closed)
      return error_code::account_closed;
    return error_code::none;
  };
  auto& accounts = self->state.accounts;
  self->request(accounts, caf::infinite, query_atom::value, transfer->request.source)
    .then(
      [self, transfer_id, check](const snapshot& source) {
        auto* transfer = find(self, transfer_id);
        if (!transfer)
          return;
        if (auto rule = check(source); rule != error_code::none) {
          finish_with_rejection(self, transfer_id, rule);
          return;
        }
        self->request(self->state.accounts, caf::infinite, query_atom::value,
                      transfer->request.target)
          .then(
            [self, transfer_id, check](const snapshot& target) {
              if (auto rule = check(target); rule != error_code::none) {
                finish_with_rejection(self, transfer_id, rule);
                return;
              }
              go_to(self, transfer_id, stage::request);
            },
            [self, transfer_id](caf::error& failure) { abort_transfer(self, transfer_id, failure); });
      },
      [self, transfer_id](caf::error& failure) { abort_transfer(self, transfer_id, failure); });
}

void advance(manager_actor* self, const std::string& transfer_id) {
  auto* transfer = find(self, transfer_id);
  if (!transfer)
    return;
  const auto& request = transfer->request;
  auto stream = bank::transfer_stream_id(transfer_id);
  switch (transfer->next) {
    case stage::load:
      load(self, transfer_id);
      return;
    case stage::validate:
      validate_accounts(self, transfer_id);
      return;
    case stage::request:
      send_transfer_step(
        self, transfer_id, transfer_step::request,
        bank::request_transfer{stream, request.source, request.target, request.amount},
        [self, transfer_id](running_transfer& transfer, const command_reply& reply) {
          if (reply.accepted()) {
            transfer.duplicate = transfer.duplicate || reply.duplicate;
            go_to(self, transfer_id, stage::debit);
          } else if (reply.outcome == error_code::transfer_already_exists) {
            go_to(self, transfer_id, stage::load);  // requested meanwhile: see how
          } else {
            finish_with_rejection(self, transfer_id, reply.outcome);
          }
        });
      return;
    case stage::debit:
      send_account_step(self, transfer_id, transfer_step::debit,
                        bank::debit_for_transfer{request.source, transfer_id, request.amount},
                        [self, transfer_id](running_transfer& transfer, const command_reply& reply) {
                          if (reply.accepted()) {
                            go_to(self, transfer_id, stage::credit);
                          } else {
                            transfer.reason = reply.outcome;
                            go_to(self, transfer_id, stage::fail);
                          }
                        });
      return;
    case stage::credit:
      send_account_step(self, transfer_id, transfer_step::credit,
                        bank::credit_for_transfer{request.target, transfer_id, request.amount},
                        [self, transfer_id](running_transfer& transfer, const command_reply& reply) {
                          if (reply.accepted()) {
                            go_to(self, transfer_id, stage::settle);
                          } else {
                            transfer.reason = reply.outcome;
                            go_to(self, transfer_id, stage::compensate);
                          }
                        });
      return;
    case stage::settle:
      send_account_step(self, transfer_id, transfer_step::settle,
                        bank::settle_transfer{request.source, transfer_id},
                        [self, transfer_id](running_transfer&, const command_reply& reply) {
                          if (reply.accepted())
                            go_to(self, transfer_id, stage::complete);
                          else
                            abort_with_bug(self, transfer_id,
                                           "the source refused the settlement: "
                                             + std::string{to_string(reply.outcome)});
                        });
      return;
    case stage::complete:
      send_transfer_step(self, transfer_id, transfer_step::complete,
                         bank::complete_transfer{stream},
                         [self, transfer_id](running_transfer&, const command_reply& reply) {
                           if (reply.accepted())
                             finish_with_status(self, transfer_id, transfer_status::completed,
                                                error_code::none);
                           else
                             go_to(self, transfer_id, stage::load);
                         });
      return;
    case stage::compensate:
      send_transfer_step(self, transfer_id, transfer_step::compensate,
                         bank::begin_compensation{stream, transfer->reason},
                         [self, transfer_id](running_transfer&, const command_reply& reply) {
                           if (reply.accepted())
                             go_to(self, transfer_id, stage::refund);
                           else
                             go_to(self, transfer_id, stage::load);
                         });
      return;
    case stage::refund:
      send_account_step(self, transfer_id, transfer_step::refund,
                        bank::refund_for_transfer{request.source, transfer_id, request.amount},
                        [self, transfer_id](running_transfer&, const command_reply& reply) {
                          if (reply.accepted())
                            go_to(self, transfer_id, stage::fail);
                          else
                            abort_with_bug(self, transfer_id,
                                           "the source refused the refund: "
                                             + std::string{to_string(reply.outcome)});
                        });
      return;
    case stage::fail:
      send_transfer_step(self, transfer_id, transfer_step::fail,
                         bank::fail_transfer{stream, transfer->reason},
                         [self, transfer_id](running_transfer& transfer, const command_reply& reply) {
                           if (reply.accepted())
                             finish_with_status(self, transfer_id, transfer_status::failed,
                                                transfer.reason);
                           else
                             go_to(self, transfer_id, stage::load);
                         });
      return;
  }
}

// Lists unfinished transfers page by page (once the projection reached `head`) and
// drives each one that is not running already.
void resume_page(manager_actor* self, std::uint64_t head, std::string after,
                 std::shared_ptr<std::uint64_t> resumed, caf::response_promise promise) {
  auto& st = self->state;
  transfers_query query;
  query.after_transfer_id = after;
  query.max_transfers = st.options.resume_page_transfers;
  self->request(st.projection, caf::infinite, query_atom::value, query, head,
                static_cast<std::uint64_t>(st.options.resume_wait.count()))
    .then(
      [self, head, resumed, promise](const transfers_page& page) mutable {
        auto& st = self->state;
        for (const auto& view : page.transfers) {
          if (st.running.count(view.transfer_id) != 0 || !st.accepting)
            continue;
          running_transfer transfer;
          transfer.request = bank::transfer_money{view.transfer_id, view.source, view.target,
                                                  view.amount};
          transfer.resumed = true;
          transfer.duplicate = true;
          st.running.emplace(view.transfer_id, std::move(transfer));
          ++*resumed;
          advance(self, view.transfer_id);
        }
        if (page.transfers.size() < st.options.resume_page_transfers) {
          if (*resumed > 0)
            spdlog::info("transfers resumed count={}", *resumed);
          promise.deliver(*resumed);
          return;
        }
        resume_page(self, head, page.transfers.back().transfer_id, resumed, promise);
      },
      [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
}

caf::behavior transfer_manager(manager_actor* self, caf::actor accounts, caf::actor transfers,
                               caf::actor projection, caf::actor store,
                               transfer_manager_options options) {
  auto& st = self->state;
  st.accounts = std::move(accounts);
  st.transfers = std::move(transfers);
  st.projection = std::move(projection);
  st.store = std::move(store);
  st.options = options;
  TALLY_ASSERT(st.options.transfers_in_progress_max > 0 && st.options.resume_page_transfers > 0);
  return {
    [self](bank::transfer_money& request) {
      auto& st = self->state;
      auto promise = self->make_response_promise();
      if (!st.accepting) {
        promise.deliver(make_caf_error(error_code::shutting_down));
        return;
      }
      if (auto rule = bank::validate(request); rule != error_code::none) {
        transfer_reply reply;
        reply.outcome = rule;
        promise.deliver(reply);
        return;
      }
      if (auto* running = find(self, request.transfer_id)) {
        // A retry while the original is still in progress: the same answer.
        const auto& original = running->request;
        if (original.source != request.source || original.target != request.target
            || original.amount != request.amount) {
          transfer_reply reply;
          reply.outcome = error_code::transfer_already_exists;
          promise.deliver(reply);
          return;
        }
        running->duplicate = true;
        running->waiting.push_back(std::move(promise));
        return;
      }
      if (st.running.size() >= st.options.transfers_in_progress_max) {
        promise.deliver(make_caf_error(
          status{error_code::limit_exceeded, "too many transfers in progress"}));
        return;
      }
      running_transfer transfer;
      transfer.request = request;
      transfer.waiting.push_back(std::move(promise));
      auto transfer_id = request.transfer_id;
      st.running.emplace(transfer_id, std::move(transfer));
      advance(self, transfer_id);
    },
    [self](resume_atom) {
      auto promise = self->make_response_promise();
      self->request(self->state.store, caf::infinite, head_atom::value)
        .then(
          [self, promise](std::uint64_t head) mutable {
            resume_page(self, head, std::string{}, std::make_shared<std::uint64_t>(0), promise);
          },
          [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
    },
    [self](drain_atom) {
      auto& st = self->state;
      st.accepting = false;
      st.drain_waiters.push_back(self->make_response_promise());
      release_drain_waiters(self);
    },
  };
}

}  // namespace

caf::actor spawn_transfer_manager(caf::actor_system& system, caf::actor accounts,
                                  caf::actor transfers, caf::actor transfers_projection,
                                  caf::actor store, transfer_manager_options options) {
  return system.spawn(transfer_manager, std::move(accounts), std::move(transfers),
                      std::move(transfers_projection), std::move(store), options);
}

}  // namespace tally
