// The kill-under-load audit on small journals: silent on a consistent one, and naming
// each kind of damage the driver exists to catch (so a passing crash run means
// something).
#include "tests/crash/crash_audit.hpp"
#include "tests/crash/transfer_audit.hpp"

#include <gtest/gtest.h>

#include "tally/ids.hpp"
#include "tally/transfer.hpp"

namespace tally::crash {

using bank::transfer_step;
using bank::transfer_step_id;
namespace {

command_record make_record(const std::string& key, operation op, command_state state, bool accepted,
                           std::uint64_t version, std::uint64_t position, const std::string& error = {}) {
  command_record record;
  record.key = key;
  record.id = to_string(*command_id::from_text(key));
  record.op = std::move(op);
  record.state = state;
  record.outcome.accepted = accepted;
  record.outcome.error = error;
  record.outcome.version = version;
  record.outcome.position = position;
  return record;
}

logged_event event_of(const command_record& record, std::uint64_t position, std::uint64_t version) {
  auto expected = expected_events(record.op).front();
  return logged_event{position, expected.stream_id, version, expected.type, expected.amount, record.id};
}

/// A consistent history of one account: opened, 100 in, 30 out, a refused withdrawal
/// of 1000, and a deposit of 5 that was in doubt and resolved by its retry.
struct consistent_bank {
  std::vector<command_record> commands;
  std::vector<logged_event> log;
  read_models models;

  consistent_bank() {
    const operation open{operation_kind::open_account, "a", 0, {}};
    const operation deposit{operation_kind::deposit_money, "a", 100, {}};
    const operation withdrawal{operation_kind::withdraw_money, "a", 30, {}};
    const operation refused{operation_kind::withdraw_money, "a", 1000, {}};
    const operation doubtful{operation_kind::deposit_money, "a", 5, {}};
    commands = {make_record("k1", open, command_state::acknowledged, true, 1, 1),
                make_record("k2", deposit, command_state::acknowledged, true, 2, 2),
                make_record("k3", withdrawal, command_state::acknowledged, true, 3, 3),
                make_record("k4", refused, command_state::acknowledged, false, 3, 0, "insufficient_funds"),
                make_record("k5", doubtful, command_state::resolved, true, 4, 4)};
    log = {event_of(commands[0], 1, 1), event_of(commands[1], 2, 2), event_of(commands[2], 3, 3),
           event_of(commands[4], 4, 4)};
    const std::int64_t balances_after[] = {0, 100, 70, 75};
    auto& history = models.histories["a"];
    for (std::size_t index = 0; index < log.size(); ++index)
      history.push_back(history_entry{log[index].position, log[index].version, log[index].type, log[index].amount,
                                      balances_after[index], log[index].command_id});
    models.balances["a"] = balance_view{true, 75, 4, "open", 4};
    models.balances["never-opened"] = balance_view{};
    models.totals = totals_view{75, 105, 30, 1, 0, 4, 4};
  }

  std::vector<std::string> audit(const std::vector<logged_event>& previous = {}) const {
    return audit_journal(commands, log, previous, models);
  }
};

::testing::AssertionResult mentions(const std::vector<std::string>& violations, const std::string& text) {
  for (const auto& line : violations)
    if (line.find(text) != std::string::npos)
      return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << "no violation mentions \"" << text << "\"; got:";
  for (const auto& line : violations)
    failure << "\n  " << line;
  return failure;
}

TEST(crash_audit, finds_nothing_wrong_with_a_consistent_journal) {
  consistent_bank bank;
  EXPECT_TRUE(bank.audit().empty()) << bank.audit().front();
  auto previous = bank.log;
  previous.pop_back();
  EXPECT_TRUE(bank.audit(previous).empty());
}

TEST(crash_audit, reports_an_acknowledged_command_missing_from_the_journal) {
  consistent_bank bank;
  bank.log.erase(bank.log.begin() + 1);  // the deposit of 100
  for (std::size_t index = 0; index < bank.log.size(); ++index)
    bank.log[index].position = index + 1;
  EXPECT_TRUE(mentions(bank.audit(), "not in the journal (lost)"));
}

TEST(crash_audit, reports_an_event_no_client_sent) {
  consistent_bank bank;
  bank.log.push_back(logged_event{5, "a", 5, "money_deposited", 7, to_string(*command_id::from_text("never-sent"))});
  EXPECT_TRUE(mentions(bank.audit(), "an event no client's command caused"));
}

TEST(crash_audit, reports_a_command_applied_twice) {
  consistent_bank bank;
  bank.log.push_back(event_of(bank.commands[1], 5, 5));
  EXPECT_TRUE(mentions(bank.audit(), "applied more than once"));
}

TEST(crash_audit, reports_gaps_in_positions_and_versions) {
  consistent_bank bank;
  bank.log[3].position = 5;
  EXPECT_TRUE(mentions(bank.audit(), "journal position gap"));
  consistent_bank other;
  other.log[3].version = 6;
  EXPECT_TRUE(mentions(other.audit(), "stream version gap"));
}

TEST(crash_audit, reports_a_rejected_command_that_is_in_the_journal) {
  consistent_bank bank;
  bank.log.push_back(event_of(bank.commands[3], 5, 5));
  EXPECT_TRUE(mentions(bank.audit(), "rejected (insufficient_funds) but in the journal"));
}

TEST(crash_audit, reports_a_reply_whose_position_the_journal_does_not_have) {
  consistent_bank bank;
  bank.commands[2].outcome.position = 9;
  EXPECT_TRUE(mentions(bank.audit(), "reply said v3 at position 9"));
}

TEST(crash_audit, reports_events_whose_content_differs_from_the_command) {
  consistent_bank bank;
  bank.log[1].amount = 101;
  auto violations = bank.audit();
  EXPECT_TRUE(mentions(violations, "the journal's events differ from the command"));
  EXPECT_TRUE(mentions(violations, "the clients' tally is 75, the journal's replay 76"));
}

TEST(crash_audit, reports_an_overdraft_in_the_journal) {
  consistent_bank bank;
  bank.log[2].amount = 130;
  EXPECT_TRUE(mentions(bank.audit(), "balance below zero (-30)"));
}

TEST(crash_audit, reports_read_models_that_differ_from_the_replay) {
  consistent_bank balance;
  balance.models.balances["a"].balance = 74;
  EXPECT_TRUE(mentions(balance.audit(), "balances read model says 74"));
  consistent_bank history;
  history.models.histories["a"][2].balance_after = 71;
  EXPECT_TRUE(mentions(history.audit(), "history entry v3"));
  consistent_bank short_history;
  short_history.models.histories["a"].pop_back();
  EXPECT_TRUE(mentions(short_history.audit(), "the history read model has 3 events, the journal 4"));
  consistent_bank totals;
  totals.models.totals.total_deposited = 104;
  EXPECT_TRUE(mentions(totals.audit(), "totals read model"));
  consistent_bank phantom;
  phantom.models.balances["never-opened"].found = true;
  EXPECT_TRUE(mentions(phantom.audit(), "account never-opened has no events, but the balances read model knows it"));
}

TEST(crash_audit, reports_a_journal_that_lost_what_an_earlier_audit_saw) {
  consistent_bank bank;
  auto previous = bank.log;
  previous.push_back(logged_event{5, "a", 5, "money_deposited", 1, bank.commands[1].id});
  EXPECT_TRUE(mentions(bank.audit(previous), "the journal shrank from 5 to 4 events"));
  auto changed = bank.log;
  changed[2].amount = 31;
  EXPECT_TRUE(mentions(bank.audit(changed), "became"));
}

TEST(crash_audit, reports_an_in_doubt_command_half_in_the_journal_only_when_its_content_differs) {
  consistent_bank bank;
  bank.commands[4].state = command_state::in_doubt;
  // All of it or none of it is fine while unresolved (here: all, so the tally misses 5).
  EXPECT_TRUE(mentions(bank.audit(), "the clients' tally is 70, the journal's replay 75"));
  bank.log[3].amount = 6;
  EXPECT_TRUE(mentions(bank.audit(), "in doubt and partly or twice in the journal"));
}

TEST(crash_audit, a_retry_of_an_applied_command_must_return_the_original_outcome) {
  consistent_bank bank;
  auto record = bank.commands[4];
  record.state = command_state::in_doubt;
  const std::vector<logged_event> applied{bank.log[3]};
  command_outcome original;
  original.accepted = true;
  original.version = 4;
  original.position = 4;
  original.replayed = true;
  EXPECT_FALSE(check_retry(record, applied, 4, original).has_value());
  auto unmarked = original;
  unmarked.replayed = false;
  EXPECT_TRUE(check_retry(record, applied, 4, unmarked).has_value());
  command_outcome refused;
  refused.error = "account_already_exists";
  auto wrong = check_retry(record, applied, 4, refused);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(wrong->find("was applied before the kill"), std::string::npos) << *wrong;
  auto moved = original;
  moved.position = 5;
  EXPECT_TRUE(check_retry(record, applied, 4, moved).has_value());
}

TEST(crash_audit, a_retry_of_a_command_that_was_not_applied_is_decided_afresh) {
  consistent_bank bank;
  auto record = bank.commands[4];
  record.state = command_state::in_doubt;
  command_outcome fresh;
  fresh.accepted = true;
  fresh.version = 4;
  fresh.position = 4;
  EXPECT_FALSE(check_retry(record, {}, 3, fresh).has_value());
  command_outcome refused;
  refused.error = "insufficient_funds";
  EXPECT_FALSE(check_retry(record, {}, 3, refused).has_value());
  EXPECT_TRUE(check_retry(record, {}, 4, fresh).has_value());  // not after the head
  auto replayed = fresh;
  replayed.replayed = true;
  EXPECT_TRUE(check_retry(record, {}, 3, replayed).has_value());
}

/// The consistent bank plus a closable account, opened (position 5) and closed
/// (position 6), as the driver's clients open and close one.
consistent_bank with_closed_account() {
  consistent_bank bank;
  const std::string id = closable_account_name(0, 3, 0);
  bank.commands.push_back(make_record("k6", operation{operation_kind::open_account, id, 0, {}},
                                      command_state::acknowledged, true, 1, 5));
  bank.commands.push_back(make_record("k7", operation{operation_kind::close_account, id, 0, {}},
                                      command_state::resolved, true, 2, 6));
  bank.log.push_back(event_of(bank.commands[5], 5, 1));
  bank.log.push_back(event_of(bank.commands[6], 6, 2));
  auto& history = bank.models.histories[id];
  for (std::size_t index = 4; index < 6; ++index)
    history.push_back(history_entry{bank.log[index].position, bank.log[index].version, bank.log[index].type, 0, 0,
                                    bank.log[index].command_id});
  bank.models.balances[id] = balance_view{true, 0, 2, "closed", 6};
  bank.models.totals = totals_view{75, 105, 30, 1, 1, 6, 6};
  return bank;
}

TEST(crash_audit, finds_nothing_wrong_with_a_closed_account_and_reports_what_contradicts_it) {
  ASSERT_TRUE(is_closable_account(closable_account_name(2, 7, 9)));
  ASSERT_FALSE(is_closable_account("account-3"));
  auto bank = with_closed_account();
  EXPECT_TRUE(bank.audit().empty()) << bank.audit().front();

  auto still_open = with_closed_account();  // the balances model missed the close
  still_open.models.balances[bank.commands[5].op.account_id].status = "open";
  EXPECT_TRUE(mentions(still_open.audit(), "balances read model says 0 at v2 (open)"));

  auto uncounted = with_closed_account();  // the totals model missed it
  uncounted.models.totals.accounts_closed = 0;
  uncounted.models.totals.accounts_open = 2;
  EXPECT_TRUE(mentions(uncounted.audit(), "totals read model"));

  auto lost = with_closed_account();  // the acknowledged close is not in the journal
  lost.log.pop_back();
  lost.models.histories[bank.commands[5].op.account_id].pop_back();
  EXPECT_TRUE(mentions(lost.audit(), "not in the journal (lost)"));
}

TEST(crash_audit, reports_an_event_after_a_close_and_a_close_at_a_balance) {
  auto bank = with_closed_account();
  const auto& id = bank.commands[5].op.account_id;
  bank.commands.push_back(make_record("k8", operation{operation_kind::deposit_money, id, 5, {}},
                                      command_state::acknowledged, true, 3, 7));
  bank.log.push_back(event_of(bank.commands.back(), 7, 3));
  EXPECT_TRUE(mentions(bank.audit(), "event after the account was closed"));

  auto funded = consistent_bank{};  // account a closed at 75
  funded.commands.push_back(make_record("k6", operation{operation_kind::close_account, "a", 0, {}},
                                        command_state::acknowledged, true, 5, 5));
  funded.log.push_back(event_of(funded.commands.back(), 5, 5));
  EXPECT_TRUE(mentions(funded.audit(), "closed at balance 75"));
}


// Transfers: t1 completed (a -> b 40), t2 failed for insufficient funds (no account
// step), t3 compensated (debited from a, refunded). Account events before the steps
// are left out: audit_transfers only reads the transfer streams and the steps.
struct transfer_journal {
  std::vector<submitted_transfer> transfers{{"t1", "a", "b", 40, "completed", 0, {}},
                                            {"t2", "a", "b", 5000, "failed", 0, "insufficient_funds"},
                                            {"t3", "a", "c", 7, "failed", 0, "account_closed"}};
  std::vector<logged_event> log;

  void append(const std::string& stream, const std::string& type, std::int64_t amount, const std::string& transfer,
              transfer_step step) {
    std::uint64_t version = 1;
    for (const auto& event : log)
      version += event.stream_id == stream ? 1 : 0;
    log.push_back(logged_event{log.size() + 1, stream, version, type, amount,
                               to_string(transfer_step_id(transfer, step))});
  }

  transfer_journal() {
    append("transfer:t1", "transfer_requested", 40, "t1", transfer_step::request);
    append("a", "money_debited_for_transfer", 40, "t1", transfer_step::debit);
    append("b", "money_credited_for_transfer", 40, "t1", transfer_step::credit);
    append("a", "transfer_settled", 0, "t1", transfer_step::settle);
    append("transfer:t1", "transfer_completed", 0, "t1", transfer_step::complete);
    append("transfer:t2", "transfer_requested", 5000, "t2", transfer_step::request);
    append("transfer:t2", "transfer_failed", 0, "t2", transfer_step::fail);
    append("transfer:t3", "transfer_requested", 7, "t3", transfer_step::request);
    append("a", "money_debited_for_transfer", 7, "t3", transfer_step::debit);
    append("transfer:t3", "transfer_compensating", 0, "t3", transfer_step::compensate);
    append("a", "money_refunded_for_transfer", 7, "t3", transfer_step::refund);
    append("transfer:t3", "transfer_failed", 0, "t3", transfer_step::fail);
  }
};

TEST(crash_audit, finds_nothing_wrong_with_consistent_transfers) {
  transfer_journal journal;
  const auto violations = audit_transfers(journal.transfers, journal.log, true);
  EXPECT_TRUE(violations.empty()) << violations.front();
}

TEST(crash_audit, reports_a_transfer_debited_twice) {
  transfer_journal journal;
  journal.append("a", "money_debited_for_transfer", 40, "t1", transfer_step::debit);
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, true), "transfer t1: 2 debits"));
}

TEST(crash_audit, reports_a_lost_transfer_after_quiescence) {
  transfer_journal journal;
  journal.transfers.push_back(submitted_transfer{"t4", "b", "c", 3, "", 0, {}});
  EXPECT_TRUE(audit_transfers(journal.transfers, journal.log, false).empty());
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, true), "transfer t4"));
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, true), "lost"));
  journal.transfers.back().final_status = "completed";
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, false),
                       "transfer t4 was answered completed but has not ended"));
}

TEST(crash_audit, reports_transfer_steps_that_do_not_match_how_the_transfer_ended) {
  transfer_journal journal;
  journal.log.erase(journal.log.begin() + 3);  // t1's settle
  for (std::size_t index = 0; index < journal.log.size(); ++index)
    journal.log[index].position = index + 1;
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, true), "transfer t1 completed but"));
  transfer_journal credited;
  credited.append("c", "money_credited_for_transfer", 7, "t3", transfer_step::credit);
  EXPECT_TRUE(mentions(audit_transfers(credited.transfers, credited.log, true),
                       "transfer t3 failed after compensating but"));
  transfer_journal answered_wrong;
  answered_wrong.transfers[1].final_status = "completed";
  EXPECT_TRUE(mentions(audit_transfers(answered_wrong.transfers, answered_wrong.log, true),
                       "transfer t2 was answered completed but the journal says failed"));
}

TEST(crash_audit, reports_a_transfer_stream_no_client_submitted) {
  transfer_journal journal;
  journal.append("transfer:t9", "transfer_requested", 1, "t9", transfer_step::request);
  journal.append("a", "money_debited_for_transfer", 1, "t9", transfer_step::debit);
  const auto violations = audit_transfers(journal.transfers, journal.log, false);
  EXPECT_TRUE(mentions(violations, "a transfer stream no client submitted"));
  EXPECT_TRUE(mentions(violations, "a transfer step no submitted transfer derives"));
}

TEST(crash_audit, the_totals_invariant_names_a_wrong_total_and_a_negative_balance) {
  EXPECT_FALSE(check_totals_invariant(60, 40, 130, 30, 9).has_value());
  EXPECT_TRUE(check_totals_invariant(100, 40, 130, 30, 9).value().rfind("wrong_total", 0) == 0);
  EXPECT_TRUE(check_totals_invariant(-1, 101, 130, 30, 9).value().rfind("negative_balance", 0) == 0);
}

// A whole bank with transfers, as audit_journal sees it at quiescence: a and b opened,
// 100 deposited on a, t1 moved 40 from a to b (completed), t2 asked for 5000 from a and
// failed for insufficient funds without touching an account.
struct bank_with_transfers {
  std::vector<command_record> commands;
  std::vector<logged_event> log;
  read_models models;

  static command_record transfer_record(const std::string& transfer_id, std::int64_t amount,
                                        const std::string& status, std::uint64_t position) {
    auto record = make_record(transfer_id, operation{operation_kind::transfer_money, "a", amount, "b"},
                              command_state::acknowledged, status == "completed", 0, position,
                              status == "completed" ? "" : "insufficient_funds");
    record.outcome.transfer_status = status;
    return record;
  }

  void append(const std::string& stream, const std::string& type, std::int64_t amount, const std::string& command) {
    std::uint64_t version = 1;
    for (const auto& event : log)
      version += event.stream_id == stream ? 1 : 0;
    log.push_back(logged_event{log.size() + 1, stream, version, type, amount, command});
  }

  void append_step(const std::string& stream, const std::string& type, std::int64_t amount,
                   const std::string& transfer_id, transfer_step step) {
    append(stream, type, amount, to_string(transfer_step_id(transfer_id, step)));
  }

  bank_with_transfers() {
    commands = {make_record("k1", operation{operation_kind::open_account, "a", 0, {}}, command_state::acknowledged,
                            true, 1, 1),
                make_record("k2", operation{operation_kind::open_account, "b", 0, {}}, command_state::acknowledged,
                            true, 1, 2),
                make_record("k3", operation{operation_kind::deposit_money, "a", 100, {}}, command_state::acknowledged,
                            true, 2, 3),
                transfer_record("t1", 40, "completed", 8), transfer_record("t2", 5000, "failed", 10)};
    append("a", "account_opened", 0, commands[0].id);
    append("b", "account_opened", 0, commands[1].id);
    append("a", "money_deposited", 100, commands[2].id);
    append_step("transfer:t1", "transfer_requested", 40, "t1", transfer_step::request);
    append_step("a", "money_debited_for_transfer", 40, "t1", transfer_step::debit);
    append_step("b", "money_credited_for_transfer", 40, "t1", transfer_step::credit);
    append_step("a", "transfer_settled", 0, "t1", transfer_step::settle);
    append_step("transfer:t1", "transfer_completed", 0, "t1", transfer_step::complete);
    append_step("transfer:t2", "transfer_requested", 5000, "t2", transfer_step::request);
    append_step("transfer:t2", "transfer_failed", 0, "t2", transfer_step::fail);

    const std::map<std::uint64_t, std::int64_t> balance_after{{1, 0}, {2, 0}, {3, 100}, {5, 60}, {6, 40}, {7, 60}};
    for (const auto& event : log)
      if (event.stream_id == "a" || event.stream_id == "b")
        models.histories[event.stream_id].push_back(history_entry{event.position, event.version, event.type,
                                                                  event.amount, balance_after.at(event.position),
                                                                  event.command_id});
    models.balances["a"] = balance_view{true, 60, 4, "open", 10};
    models.balances["b"] = balance_view{true, 40, 2, "open", 10};
    models.transfers["t1"] = transfer_view{true, "completed", "a", "b", 40, true, true, false, true, 0, ""};
    models.transfers["t2"] =
      transfer_view{true, "failed", "a", "b", 5000, false, false, false, false, 0, "insufficient_funds"};
    models.totals = totals_view{100, 100, 0, 2, 0, 6, 10, 0};
  }

  std::vector<std::string> audit() const { return audit_journal(commands, log, {}, models); }

  /// The log up to and including `position`.
  std::vector<logged_event> log_through(std::uint64_t position) const {
    return {log.begin(), log.begin() + static_cast<std::ptrdiff_t>(position)};
  }
};

TEST(crash_audit, finds_nothing_wrong_with_a_consistent_journal_with_transfers) {
  bank_with_transfers bank;
  const auto violations = bank.audit();
  EXPECT_TRUE(violations.empty()) << violations.front();
}

TEST(crash_audit, the_client_tally_counts_a_completed_transfer_and_not_a_failed_one) {
  // The clients believe t2 completed: their tally moves 5000 that the journal never moved.
  bank_with_transfers believed_completed;
  believed_completed.commands[4].outcome.accepted = true;
  believed_completed.commands[4].outcome.error.clear();
  believed_completed.commands[4].outcome.transfer_status = "completed";
  auto violations = believed_completed.audit();
  EXPECT_TRUE(mentions(violations, "account a: the clients' tally is -4940, the journal's replay 60"));
  EXPECT_TRUE(mentions(violations, "account b: the clients' tally is 5040, the journal's replay 40"));
  EXPECT_TRUE(mentions(violations, "transfer t2 was answered completed but the journal says failed"));
  // The clients believe t1 failed: their tally misses the 40 it moved.
  bank_with_transfers believed_failed;
  believed_failed.commands[3].outcome.accepted = false;
  believed_failed.commands[3].outcome.error = "insufficient_funds";
  believed_failed.commands[3].outcome.transfer_status = "failed";
  violations = believed_failed.audit();
  EXPECT_TRUE(mentions(violations, "account a: the clients' tally is 100, the journal's replay 60"));
  EXPECT_TRUE(mentions(violations, "transfer t1 was answered failed but the journal says completed"));
}

TEST(crash_audit, reports_a_transfer_reply_whose_position_the_journal_does_not_have) {
  bank_with_transfers bank;
  bank.commands[3].outcome.position = 7;  // the settlement, not the completion
  EXPECT_TRUE(mentions(bank.audit(), "transfer t1 was answered completed at position 7 but the journal ended it at "
                                     "position 8"));
}

TEST(crash_audit, reports_money_left_in_flight_after_quiescence) {
  // t1 was debited and then nothing: the credit, the settlement and the end are missing.
  bank_with_transfers bank;
  bank.log = bank.log_through(5);
  bank.commands.pop_back();  // t2
  bank.commands.back().state = command_state::in_doubt;
  bank.models.transfers.erase("t2");
  auto violations = bank.audit();
  EXPECT_TRUE(mentions(violations, "money in flight after quiescence in the journal's replay: 40"));
  EXPECT_TRUE(mentions(violations, "transfer t1 (a -> b 40) has not ended after quiescence"));
  // The totals read model agreeing with that journal still breaks quiescence.
  bank.models.totals = totals_view{60, 100, 0, 2, 0, 4, 5, 40};
  violations = bank.audit();
  EXPECT_TRUE(mentions(violations, "totals read model at quiescence: money_in_flight 40"));
  EXPECT_FALSE(mentions(violations, "wrong_total"));
}

TEST(crash_audit, reports_a_totals_read_model_whose_money_in_flight_differs_from_the_replay) {
  bank_with_transfers bank;
  bank.models.totals.money_in_flight = 40;
  bank.models.totals.total_balance = 60;  // the invariant holds, the replay disagrees
  auto violations = bank.audit();
  EXPECT_TRUE(mentions(violations, "in flight 40"));
  EXPECT_TRUE(mentions(violations, "totals read model at quiescence: money_in_flight 40"));
  bank_with_transfers wrong_total;
  wrong_total.models.totals.total_balance = 99;
  EXPECT_TRUE(mentions(wrong_total.audit(), "totals read model: wrong_total"));
}

TEST(crash_audit, reports_a_transfer_debit_that_overdraws_and_a_credit_never_debited) {
  bank_with_transfers overdraft;
  overdraft.log[4].amount = 140;  // the debit of t1
  auto violations = overdraft.audit();
  EXPECT_TRUE(mentions(violations, "balance below zero (-40)"));
  EXPECT_TRUE(mentions(violations, "transfer t1: step event on the wrong account, of the wrong type or amount"));
  bank_with_transfers credit_first;
  std::swap(credit_first.log[4], credit_first.log[5]);  // the credit before the debit
  std::swap(credit_first.log[4].position, credit_first.log[5].position);
  EXPECT_TRUE(mentions(credit_first.audit(), "more credited or refunded for transfers than debited"));
}

TEST(crash_audit, reports_a_transfers_read_model_that_differs_from_the_journal) {
  bank_with_transfers status;
  status.models.transfers["t1"].status = "requested";
  EXPECT_TRUE(mentions(status.audit(), "transfer t1: the transfers read model says requested"));
  bank_with_transfers in_flight;
  in_flight.models.transfers["t1"].in_flight = 40;
  EXPECT_TRUE(mentions(in_flight.audit(), "transfer t1: the transfers read model says"));
  bank_with_transfers reason;
  reason.models.transfers["t2"].reason = "account_closed";
  EXPECT_TRUE(mentions(reason.audit(), "transfer t2: the transfers read model says it failed for 'account_closed'"));
  bank_with_transfers unknown;
  unknown.models.transfers["t1"].found = false;
  EXPECT_TRUE(mentions(unknown.audit(), "transfer t1: the transfers read model does not know it"));
  bank_with_transfers phantom;
  phantom.models.transfers["t9"] = transfer_view{true, "completed", "a", "b", 1, true, true, false, true, 0, ""};
  EXPECT_TRUE(mentions(phantom.audit(), "knows transfer t9, which no client submitted"));
}

TEST(crash_audit, a_retry_of_a_transfer_that_ended_before_the_kill_answers_how_it_ended) {
  bank_with_transfers bank;
  auto record = bank.commands[3];
  record.state = command_state::in_doubt;
  command_outcome original;
  original.accepted = true;
  original.transfer_status = "completed";
  original.position = 8;
  original.replayed = true;
  EXPECT_FALSE(check_transfer_retry(record, bank.log, 10, original).has_value());
  auto unmarked = original;
  unmarked.replayed = false;
  EXPECT_TRUE(check_transfer_retry(record, bank.log, 10, unmarked).has_value());
  auto failed = original;
  failed.accepted = false;
  failed.transfer_status = "failed";
  auto wrong = check_transfer_retry(record, bank.log, 10, failed);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(wrong->find("it had ended before the kill"), std::string::npos) << *wrong;
  auto moved = original;
  moved.position = 11;
  EXPECT_TRUE(check_transfer_retry(record, bank.log, 10, moved).has_value());
}

TEST(crash_audit, a_retry_of_a_transfer_requested_before_the_kill_is_a_replay_that_ends_after_the_head) {
  bank_with_transfers bank;
  auto record = bank.commands[3];
  record.state = command_state::in_doubt;
  const auto before = bank.log_through(5);  // requested and debited, then the kill
  command_outcome resumed;
  resumed.accepted = true;
  resumed.transfer_status = "completed";
  resumed.position = 8;
  resumed.replayed = true;
  EXPECT_FALSE(check_transfer_retry(record, before, 5, resumed).has_value());
  auto unmarked = resumed;
  unmarked.replayed = false;
  EXPECT_TRUE(check_transfer_retry(record, before, 5, unmarked).has_value());
  auto not_after_head = resumed;
  not_after_head.position = 5;
  EXPECT_TRUE(check_transfer_retry(record, before, 5, not_after_head).has_value());
}

TEST(crash_audit, a_retry_of_a_transfer_the_journal_did_not_have_is_decided_afresh) {
  bank_with_transfers bank;
  auto record = bank.commands[3];
  record.state = command_state::in_doubt;
  const auto before = bank.log_through(3);
  command_outcome fresh;
  fresh.accepted = true;
  fresh.transfer_status = "completed";
  fresh.position = 8;
  EXPECT_FALSE(check_transfer_retry(record, before, 3, fresh).has_value());
  auto replayed = fresh;
  replayed.replayed = true;
  auto wrong = check_transfer_retry(record, before, 3, replayed);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(wrong->find("marked as a replay, but the journal did not have it"), std::string::npos) << *wrong;
}

TEST(crash_audit, reports_a_transfer_stream_that_does_not_start_with_its_request) {
  transfer_journal journal;
  journal.log[0].amount = 41;  // t1 requested 41, submitted 40
  EXPECT_TRUE(mentions(audit_transfers(journal.transfers, journal.log, true),
                       "transfer t1 of 40 does not start with its request"));
}

http_common::http_response transfer_response(unsigned status, const std::string& body, bool replayed) {
  http_common::http_response response;
  response.status = status;
  response.body = body;
  if (replayed)
    response.headers["idempotent-replayed"] = "true";
  return response;
}

TEST(crash_audit, reads_a_transfer_reply_and_refuses_one_that_cannot_happen) {
  const operation transfer{operation_kind::transfer_money, "a", 40, "b"};
  command_outcome outcome;
  std::string problem;
  const std::string completed =
    R"({"amount":40,"duplicate":false,"outcome":"completed","position":8,"source":"a","status":"completed","target":"b","transfer_id":"t1"})";
  ASSERT_EQ(read_command_reply(transfer, "t1", transfer_response(200, completed, false), outcome, problem),
            reply_reading::decided)
    << problem;
  EXPECT_TRUE(outcome.accepted);
  EXPECT_EQ(outcome.transfer_status, "completed");
  EXPECT_EQ(outcome.position, 8u);

  const std::string failed =
    R"({"amount":40,"duplicate":true,"outcome":"failed","position":9,"reason":"insufficient_funds","source":"a","status":"failed","target":"b","transfer_id":"t1"})";
  outcome = {};
  ASSERT_EQ(read_command_reply(transfer, "t1", transfer_response(200, failed, true), outcome, problem),
            reply_reading::decided)
    << problem;
  EXPECT_FALSE(outcome.accepted);
  EXPECT_EQ(outcome.error, "insufficient_funds");
  EXPECT_TRUE(outcome.replayed);

  // The header and the body disagree on the replay.
  EXPECT_EQ(read_command_reply(transfer, "t1", transfer_response(200, failed, false), outcome, problem),
            reply_reading::violation);
  // No target is ever closed in this driver, so a transfer cannot fail for it.
  std::string closed = failed;
  closed.replace(closed.find("insufficient_funds"), std::string{"insufficient_funds"}.size(), "account_closed");
  EXPECT_EQ(read_command_reply(transfer, "t1", transfer_response(200, closed, true), outcome, problem),
            reply_reading::violation);
  // Another transfer's echo.
  EXPECT_EQ(read_command_reply(transfer, "t2", transfer_response(200, completed, false), outcome, problem),
            reply_reading::violation);
  // A refusal of the request: accounts are open and ids are never reused.
  const std::string refused =
    R"({"amount":40,"code":"transfer_already_exists","duplicate":false,"error":"transfer_already_exists","outcome":"rejected","position":0,"source":"a","target":"b","transfer_id":"t1"})";
  EXPECT_EQ(read_command_reply(transfer, "t1", transfer_response(409, refused, false), outcome, problem),
            reply_reading::violation);
  // The daemon could not finish it: it resumes, a retry tells.
  EXPECT_EQ(read_command_reply(transfer, "t1", transfer_response(503, R"({"error":"store_unavailable"})", false),
                               outcome, problem),
            reply_reading::in_doubt);
}

}  // namespace
}  // namespace tally::crash
