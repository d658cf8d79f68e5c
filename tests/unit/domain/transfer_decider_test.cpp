// Transfers in the pure deciders: the account's transfer steps (debit, credit,
// refund, settle) and the transfer aggregate's lifecycle, without actors.
#include <gtest/gtest.h>

#include <limits>
#include <set>

#include "tally/bank.hpp"
#include "tally/transfer.hpp"

using namespace tally;
using namespace tally::bank;

namespace {

account_state open_with(money balance) {
  account_state state;
  state.status = account_status::open;
  state.balance = balance;
  return state;
}

template <class State, class Command>
error_code rejection_of(const State& state, const Command& command) {
  auto decision = decide(state, command);
  return decision ? error_code::none : decision.error().code();
}

// Decides and applies; fails the test on a rejection.
template <class State, class Command>
State decide_and_apply(State state, const Command& command) {
  auto decision = decide(state, command);
  EXPECT_TRUE(decision) << to_string(decision.error().code());
  if (!decision)
    return state;
  for (const auto& event : *decision)
    state = evolve(std::move(state), event);
  return state;
}

const std::string stream = transfer_stream_id("t1");

transfer_state requested_transfer() {
  return decide_and_apply(transfer_state{}, transfer_command{request_transfer{stream, "a", "b", 30}});
}

}  // namespace

// -- Account side ----------------------------------------------------------------------

TEST(transfer_account_steps, debit_takes_money_out_and_remembers_the_transfer) {
  auto state = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t1", 30}});
  EXPECT_EQ(state.balance, 70);
  ASSERT_EQ(state.outgoing_transfers.size(), 1u);
  EXPECT_EQ(state.outgoing_transfers.at("t1"), 30);
  EXPECT_EQ(state.outgoing_total, 30);
}

TEST(transfer_account_steps, debit_follows_the_withdrawal_rules_in_order) {
  EXPECT_EQ(rejection_of(open_with(100), account_command{debit_for_transfer{"a", "", 5}}),
            error_code::invalid_argument);
  EXPECT_EQ(rejection_of(account_state{}, account_command{debit_for_transfer{"a", "t", 0}}),
            error_code::amount_must_be_positive);
  EXPECT_EQ(rejection_of(account_state{}, account_command{debit_for_transfer{"a", "t", 5}}),
            error_code::account_not_found);
  account_state closed;
  closed.status = account_status::closed;
  EXPECT_EQ(rejection_of(closed, account_command{debit_for_transfer{"a", "t", 5}}),
            error_code::account_closed);
  EXPECT_EQ(rejection_of(open_with(4), account_command{debit_for_transfer{"a", "t", 5}}),
            error_code::insufficient_funds);
  auto debited = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t", 5}});
  EXPECT_EQ(rejection_of(debited, account_command{debit_for_transfer{"a", "t", 5}}),
            error_code::transfer_already_exists);
}

TEST(transfer_account_steps, debits_are_limited_per_account) {
  auto state = open_with(10000);
  for (std::size_t i = 0; i < outgoing_transfers_max; ++i)
    state = evolve(std::move(state), account_event{money_debited_for_transfer{"t" + std::to_string(i), 1}});
  EXPECT_EQ(rejection_of(state, account_command{debit_for_transfer{"a", "one-more", 1}}),
            error_code::limit_exceeded);
}

TEST(transfer_account_steps, credit_needs_an_open_account_with_room) {
  EXPECT_EQ(decide_and_apply(open_with(5), account_command{credit_for_transfer{"b", "t1", 30}}).balance, 35);
  account_state closed;
  closed.status = account_status::closed;
  EXPECT_EQ(rejection_of(closed, account_command{credit_for_transfer{"b", "t1", 30}}),
            error_code::account_closed);
  EXPECT_EQ(rejection_of(account_state{}, account_command{credit_for_transfer{"b", "t1", 30}}),
            error_code::account_not_found);
  const money max = std::numeric_limits<money>::max();
  EXPECT_EQ(rejection_of(open_with(max), account_command{credit_for_transfer{"b", "t1", 1}}),
            error_code::balance_would_overflow);
}

TEST(transfer_account_steps, deposits_leave_room_for_refunds_of_outgoing_transfers) {
  const money max = std::numeric_limits<money>::max();
  auto state = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t1", 40}});
  // Balance 60 + 40 owed back: a deposit may take it to max - 40, not further.
  EXPECT_EQ(rejection_of(state, account_command{deposit_money{"a", max - 99}}),
            error_code::balance_would_overflow);
  state = decide_and_apply(std::move(state), account_command{deposit_money{"a", max - 100}});
  state = decide_and_apply(std::move(state), account_command{refund_for_transfer{"a", "t1", 40}});
  EXPECT_EQ(state.balance, max);
  EXPECT_TRUE(state.outgoing_transfers.empty());
}

TEST(transfer_account_steps, refund_must_match_an_outgoing_transfer_and_its_amount) {
  auto state = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t1", 30}});
  EXPECT_EQ(rejection_of(state, account_command{refund_for_transfer{"a", "t2", 30}}),
            error_code::transfer_not_found);
  EXPECT_EQ(rejection_of(state, account_command{refund_for_transfer{"a", "t1", 31}}),
            error_code::transfer_not_found);
  state = decide_and_apply(std::move(state), account_command{refund_for_transfer{"a", "t1", 30}});
  EXPECT_EQ(state.balance, 100);
  EXPECT_EQ(state.outgoing_total, 0);
  EXPECT_EQ(rejection_of(state, account_command{refund_for_transfer{"a", "t1", 30}}),
            error_code::transfer_not_found);
}

TEST(transfer_account_steps, settle_forgets_the_transfer_and_keeps_the_balance) {
  auto state = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t1", 30}});
  EXPECT_EQ(rejection_of(state, account_command{settle_transfer{"a", "other"}}),
            error_code::transfer_not_found);
  state = decide_and_apply(std::move(state), account_command{settle_transfer{"a", "t1"}});
  EXPECT_EQ(state.balance, 70);
  EXPECT_TRUE(state.outgoing_transfers.empty());
  EXPECT_EQ(state.outgoing_total, 0);
}

TEST(transfer_account_steps, an_account_with_unsettled_outgoing_transfers_cannot_close) {
  auto state = decide_and_apply(open_with(30), account_command{debit_for_transfer{"a", "t1", 30}});
  EXPECT_EQ(state.balance, 0);
  EXPECT_EQ(rejection_of(state, account_command{close_account{"a"}}), error_code::transfers_in_progress);
  state = decide_and_apply(std::move(state), account_command{settle_transfer{"a", "t1"}});
  EXPECT_EQ(rejection_of(state, account_command{close_account{"a"}}), error_code::none);
}

TEST(transfer_account_steps, account_ids_cannot_look_like_other_aggregates_streams) {
  EXPECT_EQ(rejection_of(account_state{}, account_command{open_account{"transfer:x"}}),
            error_code::invalid_argument);
  EXPECT_FALSE(is_valid_account_id("a:b"));
  EXPECT_TRUE(is_valid_account_id("alice-1"));
  EXPECT_FALSE(account_aggregate::owns_stream(transfer_stream_id("x")));
  EXPECT_TRUE(transfer_aggregate::owns_stream(transfer_stream_id("x")));
  EXPECT_FALSE(transfer_aggregate::owns_stream("alice"));
}

TEST(transfer_account_steps, only_client_commands_are_client_commands) {
  EXPECT_TRUE(is_client_command(account_command{deposit_money{"a", 1}}));
  EXPECT_FALSE(is_client_command(account_command{debit_for_transfer{"a", "t", 1}}));
  EXPECT_FALSE(is_client_command(account_command{credit_for_transfer{"a", "t", 1}}));
  EXPECT_FALSE(is_client_command(account_command{refund_for_transfer{"a", "t", 1}}));
  EXPECT_FALSE(is_client_command(account_command{settle_transfer{"a", "t"}}));
}

TEST(transfer_account_steps, transfer_events_round_trip_through_their_payloads) {
  std::vector<account_event> events{money_debited_for_transfer{"t-1", 7},
                                    money_credited_for_transfer{"t-2", 8},
                                    money_refunded_for_transfer{"t-3", 9}, transfer_settled{"t-4"}};
  for (const auto& event : events) {
    auto decoded = decode_event(event_name(event), account_event_schema_version, encode_payload(event));
    ASSERT_TRUE(decoded) << event_name(event);
    EXPECT_TRUE(*decoded == event) << event_name(event);
    EXPECT_TRUE(is_transfer_step_event(event_name(event)));
  }
  EXPECT_FALSE(decode_event("money_debited_for_transfer", 1, std::string(8, '\0')));  // no id
  EXPECT_FALSE(decode_event("transfer_settled", 1, ""));
}

TEST(transfer_account_steps, money_moves_are_counted_as_balance_and_in_flight_changes) {
  EXPECT_EQ(balance_change(money_debited_for_transfer{"t", 5}), -5);
  EXPECT_EQ(in_flight_change(money_debited_for_transfer{"t", 5}), 5);
  EXPECT_EQ(balance_change(money_credited_for_transfer{"t", 5}), 5);
  EXPECT_EQ(in_flight_change(money_credited_for_transfer{"t", 5}), -5);
  EXPECT_EQ(balance_change(money_refunded_for_transfer{"t", 5}), 5);
  EXPECT_EQ(in_flight_change(money_refunded_for_transfer{"t", 5}), -5);
  EXPECT_EQ(balance_change(transfer_settled{"t"}), 0);
  EXPECT_EQ(in_flight_change(transfer_settled{"t"}), 0);
}

TEST(transfer_account_steps, snapshots_keep_outgoing_transfers) {
  auto state = decide_and_apply(open_with(100), account_command{debit_for_transfer{"a", "t1", 30}});
  state = decide_and_apply(std::move(state), account_command{debit_for_transfer{"a", "t2", 20}});
  auto decoded = decode_state(encode_state(state));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(*decoded == state);
  auto bytes = encode_state(state);
  EXPECT_FALSE(decode_state(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decode_state(bytes + "x"));
  // Version 1 layout (status + balance only) is refused: snapshots of it replay fully.
  EXPECT_FALSE(decode_state(bytes.substr(0, 9)));
}

// -- Transfer aggregate ----------------------------------------------------------------

TEST(transfer_decider, validates_a_request_without_state) {
  EXPECT_EQ(validate(transfer_money{"t1", "a", "b", 5}), error_code::none);
  EXPECT_EQ(validate(transfer_money{"", "a", "b", 5}), error_code::invalid_argument);
  EXPECT_EQ(validate(transfer_money{"t:1", "a", "b", 5}), error_code::invalid_argument);
  EXPECT_EQ(validate(transfer_money{std::string(transfer_id_bytes_max + 1, 'x'), "a", "b", 5}),
            error_code::invalid_argument);
  EXPECT_EQ(validate(transfer_money{"t1", "a b", "b", 5}), error_code::invalid_argument);
  EXPECT_EQ(validate(transfer_money{"t1", "a", "b", 0}), error_code::amount_must_be_positive);
  EXPECT_EQ(validate(transfer_money{"t1", "a", "a", 5}), error_code::accounts_must_be_different);
}

TEST(transfer_decider, a_transfer_id_is_requested_once) {
  auto state = requested_transfer();
  EXPECT_EQ(state.status, transfer_status::requested);
  EXPECT_EQ(state.amount, 30);
  EXPECT_EQ(rejection_of(state, transfer_command{request_transfer{stream, "a", "b", 30}}),
            error_code::transfer_already_exists);
}

TEST(transfer_decider, success_path_ends_completed) {
  auto state = decide_and_apply(requested_transfer(), transfer_command{complete_transfer{stream}});
  EXPECT_EQ(state.status, transfer_status::completed);
  EXPECT_TRUE(is_finished(state.status));
  for (const auto& command : {transfer_command{complete_transfer{stream}},
                              transfer_command{fail_transfer{stream, error_code::insufficient_funds}},
                              transfer_command{begin_compensation{stream, error_code::account_closed}}})
    EXPECT_EQ(rejection_of(state, command), error_code::transfer_already_exists);
}

TEST(transfer_decider, refused_debit_ends_failed_with_the_reason) {
  auto state = decide_and_apply(requested_transfer(),
                     transfer_command{fail_transfer{stream, error_code::insufficient_funds}});
  EXPECT_EQ(state.status, transfer_status::failed);
  EXPECT_EQ(state.reason, error_code::insufficient_funds);
}

TEST(transfer_decider, refused_credit_compensates_then_fails) {
  auto state = decide_and_apply(requested_transfer(),
                     transfer_command{begin_compensation{stream, error_code::account_closed}});
  EXPECT_EQ(state.status, transfer_status::compensating);
  // Once compensating, the credit path is closed for good.
  EXPECT_EQ(rejection_of(state, transfer_command{complete_transfer{stream}}),
            error_code::transfer_already_exists);
  state = decide_and_apply(std::move(state), transfer_command{fail_transfer{stream, error_code::account_closed}});
  EXPECT_EQ(state.status, transfer_status::failed);
  EXPECT_EQ(state.reason, error_code::account_closed);
}

TEST(transfer_decider, steps_before_the_request_are_refused) {
  for (const auto& command : {transfer_command{complete_transfer{stream}},
                              transfer_command{fail_transfer{stream, error_code::insufficient_funds}},
                              transfer_command{begin_compensation{stream, error_code::account_closed}}})
    EXPECT_EQ(rejection_of(transfer_state{}, command), error_code::transfer_not_found);
  EXPECT_EQ(rejection_of(transfer_state{}, transfer_command{request_transfer{"alice", "a", "b", 1}}),
            error_code::invalid_argument);
  EXPECT_EQ(rejection_of(requested_transfer(), transfer_command{fail_transfer{stream, error_code::none}}),
            error_code::invalid_argument);
}

TEST(transfer_decider, events_and_state_round_trip) {
  std::vector<transfer_event> events{transfer_requested{"a", "b", 30},
                                     transfer_compensating{error_code::account_closed},
                                     transfer_completed{}, transfer_failed{error_code::insufficient_funds}};
  for (const auto& event : events) {
    auto decoded = decode_transfer_event(event_name(event), transfer_event_schema_version,
                                         encode_payload(event));
    ASSERT_TRUE(decoded) << event_name(event);
    EXPECT_EQ(encode_payload(*decoded), encode_payload(event));
    EXPECT_EQ(decoded->index(), event.index());
    EXPECT_TRUE(is_transfer_event(event_name(event)));
  }
  EXPECT_FALSE(decode_transfer_event("transfer_failed", 1, std::string(1, '\0')));  // no reason
  EXPECT_FALSE(decode_transfer_event("transfer_requested", 1, "garbage"));
  EXPECT_FALSE(decode_transfer_event("transfer_completed", 2, ""));
  auto state = decide_and_apply(requested_transfer(),
                     transfer_command{begin_compensation{stream, error_code::account_closed}});
  auto decoded = decode_transfer_state(encode_state(state));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(*decoded == state);
  EXPECT_TRUE(decode_transfer_state(encode_state(transfer_state{})));
}

TEST(transfer_decider, step_ids_are_deterministic_and_distinct) {
  std::set<command_id> ids;
  for (auto step : {transfer_step::request, transfer_step::debit, transfer_step::credit,
                    transfer_step::settle, transfer_step::complete, transfer_step::compensate,
                    transfer_step::refund, transfer_step::fail}) {
    EXPECT_EQ(transfer_step_id("t1", step), transfer_step_id("t1", step));
    EXPECT_NE(transfer_step_id("t1", step), transfer_step_id("t2", step));
    ids.insert(transfer_step_id("t1", step));
  }
  EXPECT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.count(transfer_correlation_id("t1")), 0u);
}

TEST(transfer_decider, money_is_conserved_over_random_transfer_sequences) {
  // Two accounts, random transfers that debit, then either credit+settle or refund:
  // the sum of balances plus what is in flight never changes.
  std::uint64_t seed = 0x5eed;
  auto next = [&seed](std::uint64_t bound) {
    seed += 0x9E3779B97F4A7C15ULL;
    auto z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (z ^ (z >> 31)) % bound;
  };
  std::vector<account_state> accounts{open_with(500), open_with(500)};
  money in_flight = 0;
  for (int i = 0; i < 2000; ++i) {
    auto from = next(2);
    auto to = 1 - from;
    auto id = "t" + std::to_string(i);
    money amount = static_cast<money>(1 + next(200));
    auto debit = decide(accounts[from], account_command{debit_for_transfer{"x", id, amount}});
    if (!debit) {
      EXPECT_EQ(debit.error().code(), error_code::insufficient_funds);
      continue;
    }
    accounts[from] = evolve(accounts[from], debit->front());
    in_flight += amount;
    EXPECT_EQ(accounts[0].balance + accounts[1].balance + in_flight, 1000);
    if (next(4) == 0) {
      accounts[from] = decide_and_apply(accounts[from], account_command{refund_for_transfer{"x", id, amount}});
    } else {
      accounts[to] = decide_and_apply(accounts[to], account_command{credit_for_transfer{"y", id, amount}});
      accounts[from] = decide_and_apply(accounts[from], account_command{settle_transfer{"x", id}});
    }
    in_flight -= amount;
    EXPECT_EQ(accounts[0].balance + accounts[1].balance + in_flight, 1000);
  }
  EXPECT_TRUE(accounts[0].outgoing_transfers.empty() && accounts[1].outgoing_transfers.empty());
}
