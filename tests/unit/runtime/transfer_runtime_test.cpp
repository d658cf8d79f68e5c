// Transfers end to end on the embedded runtime: every path of the saga (success,
// insufficient funds, refused credit with compensation, validation), idempotent
// retries, concurrency out of one account, and resume after a crash at every step
// (every prefix of a transfer's log replayed into a fresh runtime).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tally/runtime.hpp"

using namespace tally;
using namespace tally::bank;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<runtime> start_on(std::shared_ptr<journal> events) {
  runtime_config config;
  config.events = std::move(events);
  auto started = runtime::start_private(std::move(config), 2);
  EXPECT_TRUE(started) << started.error().to_string();
  return started ? std::move(*started) : nullptr;
}

void open_with(runtime& bank, const std::string& account, money balance) {
  auto opened = bank.execute(open_account{account});
  ASSERT_TRUE(opened && opened->accepted());
  if (balance > 0) {
    auto deposited = bank.execute(deposit_money{account, balance});
    ASSERT_TRUE(deposited && deposited->accepted());
  }
}

money balance_of(runtime& bank, const std::string& account, std::uint64_t position) {
  auto view = bank.balance(account, position);
  EXPECT_TRUE(view) << view.error().to_string();
  return view ? view->balance : -1;
}

std::uint64_t head_of(runtime& bank) {
  auto health = bank.store_health();
  EXPECT_TRUE(health);
  return health ? health->head : 0;
}

// The bank's invariant at the head: balances + in flight == deposits - withdrawals.
void expect_money_conserved(runtime& bank) {
  auto totals = bank.totals(head_of(bank));
  ASSERT_TRUE(totals) << totals.error().to_string();
  EXPECT_EQ(totals->total_balance + totals->money_in_flight,
            totals->total_deposited - totals->total_withdrawn);
}

// Events of `type` in the whole log that belong to `transfer_id`'s steps.
std::size_t count_events(runtime& bank, const std::string& type) {
  auto events = bank.read_all(1, 100000);
  EXPECT_TRUE(events);
  std::size_t count = 0;
  for (const auto& event : *events)
    count += event.type == type ? 1 : 0;
  return count;
}

}  // namespace

TEST(transfers, a_transfer_moves_money_and_completes) {
  auto bank = start_on(nullptr);
  open_with(*bank, "a", 100);
  open_with(*bank, "b", 0);
  auto reply = bank->transfer(transfer_money{"t1", "a", "b", 30});
  ASSERT_TRUE(reply) << reply.error().to_string();
  EXPECT_TRUE(reply->accepted());
  EXPECT_EQ(reply->status, transfer_status::completed);
  EXPECT_FALSE(reply->duplicate);
  EXPECT_EQ(reply->position, head_of(*bank));
  EXPECT_EQ(balance_of(*bank, "a", reply->position), 70);
  EXPECT_EQ(balance_of(*bank, "b", reply->position), 30);
  auto view = bank->transfer_state("t1", reply->position);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->exists);
  EXPECT_EQ(view->status, transfer_status::completed);
  EXPECT_TRUE(view->debited && view->credited && view->settled && !view->refunded);
  EXPECT_EQ(view->in_flight, 0);
  auto totals = bank->totals(reply->position);
  ASSERT_TRUE(totals);
  EXPECT_EQ(totals->money_in_flight, 0);
  EXPECT_EQ(totals->total_balance, 100);
  expect_money_conserved(*bank);
  // The source's write side has settled: it may close once empty.
  auto source = bank->account_state("a");
  ASSERT_TRUE(source);
  EXPECT_TRUE(source->state.outgoing_transfers.empty());
}

TEST(transfers, insufficient_funds_fails_the_transfer_and_moves_nothing) {
  auto bank = start_on(nullptr);
  open_with(*bank, "a", 10);
  open_with(*bank, "b", 0);
  auto reply = bank->transfer(transfer_money{"t1", "a", "b", 11});
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->accepted());
  EXPECT_EQ(reply->status, transfer_status::failed);
  EXPECT_EQ(reply->reason, error_code::insufficient_funds);
  EXPECT_EQ(balance_of(*bank, "a", reply->position), 10);
  EXPECT_EQ(balance_of(*bank, "b", reply->position), 0);
  EXPECT_EQ(count_events(*bank, "money_debited_for_transfer"), 0u);
  EXPECT_EQ(count_events(*bank, "transfer_failed"), 1u);
  expect_money_conserved(*bank);
}

TEST(transfers, invalid_requests_are_rejected_without_any_event) {
  auto bank = start_on(nullptr);
  open_with(*bank, "a", 10);
  open_with(*bank, "closed", 0);
  ASSERT_TRUE(bank->execute(close_account{"closed"})->accepted());
  auto before = head_of(*bank);
  struct expectation {
    transfer_money request;
    error_code rule;
  };
  for (const auto& [request, rule] : std::vector<expectation>{
         {{"t1", "a", "a", 5}, error_code::accounts_must_be_different},
         {{"t2", "a", "nobody", 5}, error_code::account_not_found},
         {{"t3", "nobody", "a", 5}, error_code::account_not_found},
         {{"t4", "a", "closed", 5}, error_code::account_closed},
         {{"t5", "a", "b", -5}, error_code::amount_must_be_positive},
         {{"bad:id", "a", "b", 5}, error_code::invalid_argument},
       }) {
    auto reply = bank->transfer(request);
    ASSERT_TRUE(reply) << request.transfer_id;
    EXPECT_EQ(reply->outcome, rule) << request.transfer_id;
  }
  EXPECT_EQ(head_of(*bank), before);
}

TEST(transfers, a_retried_transfer_id_answers_the_original_outcome_and_moves_money_once) {
  auto bank = start_on(nullptr);
  open_with(*bank, "a", 100);
  open_with(*bank, "b", 0);
  auto first = bank->transfer(transfer_money{"t1", "a", "b", 30});
  ASSERT_TRUE(first && first->status == transfer_status::completed);
  auto head = head_of(*bank);
  auto retry = bank->transfer(transfer_money{"t1", "a", "b", 30});
  ASSERT_TRUE(retry) << retry.error().to_string();
  EXPECT_EQ(retry->status, transfer_status::completed);
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->position, first->position);
  EXPECT_EQ(head_of(*bank), head);
  auto other = bank->transfer(transfer_money{"t1", "a", "b", 31});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->outcome, error_code::transfer_already_exists);
  EXPECT_EQ(balance_of(*bank, "a", head), 70);
}

TEST(transfers, concurrent_transfers_out_of_one_account_never_debit_more_than_its_balance) {
  auto bank = start_on(nullptr);
  const money balance = 1000;
  open_with(*bank, "source", balance);
  for (int i = 0; i < 10; ++i)
    open_with(*bank, "target" + std::to_string(i), 0);
  std::mutex mutex;
  std::condition_variable done;
  std::vector<result<transfer_reply>> replies;
  const int transfers = 100;
  for (int i = 0; i < transfers; ++i)
    bank->transfer_async(transfer_money{"t" + std::to_string(i), "source",
                                        "target" + std::to_string(i % 10), 10 + i % 7 * 5},
                         [&](result<transfer_reply> reply) {
                           std::lock_guard guard{mutex};
                           replies.push_back(std::move(reply));
                           done.notify_all();
                         });
  {
    std::unique_lock guard{mutex};
    ASSERT_TRUE(done.wait_for(guard, 60s, [&] { return replies.size() == transfers; }));
  }
  money debited = 0;
  int completed = 0;
  for (const auto& reply : replies) {
    ASSERT_TRUE(reply) << reply.error().to_string();
    ASSERT_TRUE(reply->accepted());
    if (reply->status == transfer_status::completed)
      ++completed;
    else
      EXPECT_EQ(reply->reason, error_code::insufficient_funds);
  }
  auto head = head_of(*bank);
  money received = 0;
  for (int i = 0; i < 10; ++i)
    received += balance_of(*bank, "target" + std::to_string(i), head);
  debited = balance - balance_of(*bank, "source", head);
  EXPECT_GT(completed, 0);
  EXPECT_LT(completed, transfers);  // the balance runs out
  EXPECT_LE(debited, balance);
  EXPECT_EQ(debited, received);
  expect_money_conserved(*bank);
}

TEST(transfers, a_credit_refused_after_the_debit_is_compensated_with_a_refund) {
  // Target closed between request and credit: built with trusted handles (the
  // accounts router takes transfer steps, a second transfer router records the
  // request), then a restart resumes the transfer.
  std::shared_ptr<journal> events = make_memory_journal();
  {
    auto bank = start_on(events);
    open_with(*bank, "a", 100);
    open_with(*bank, "b", 0);
    auto transfers = bank->start_aggregate<transfer_aggregate>(router_options{});
    command_envelope<transfer_command> request;
    request.id = transfer_step_id("t1", transfer_step::request);
    request.command = request_transfer{transfer_stream_id("t1"), "a", "b", 30};
    ASSERT_TRUE(bank->execute_on(transfers, request)->accepted());
    command_envelope<account_command> debit;
    debit.id = transfer_step_id("t1", transfer_step::debit);
    debit.command = debit_for_transfer{"a", "t1", 30};
    ASSERT_TRUE(bank->execute_on(bank->accounts(), debit)->accepted());
    ASSERT_TRUE(bank->execute(close_account{"b"})->accepted());
    ASSERT_FALSE(bank->shutdown());
  }
  auto bank = start_on(events);
  auto resumed = bank->resume_transfers();
  ASSERT_TRUE(resumed);
  auto retry = bank->transfer(transfer_money{"t1", "a", "b", 30});
  ASSERT_TRUE(retry) << retry.error().to_string();
  EXPECT_EQ(retry->status, transfer_status::failed);
  EXPECT_EQ(retry->reason, error_code::account_closed);
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(balance_of(*bank, "a", retry->position), 100);
  EXPECT_EQ(count_events(*bank, "money_refunded_for_transfer"), 1u);
  EXPECT_EQ(count_events(*bank, "money_credited_for_transfer"), 0u);
  auto view = bank->transfer_state("t1", retry->position);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->debited && view->refunded && !view->credited);
  expect_money_conserved(*bank);
  // The source got its money back and has nothing outgoing: it can close when empty.
  ASSERT_TRUE(bank->execute(withdraw_money{"a", 100})->accepted());
  EXPECT_TRUE(bank->execute(close_account{"a"})->accepted());
}

TEST(transfers, a_transfer_cut_short_at_any_step_resumes_and_moves_money_exactly_once) {
  // Record one complete transfer and one compensated transfer, then replay every
  // prefix of that log into a fresh runtime: each must finish the same way, with
  // each step's event present exactly once.
  std::shared_ptr<journal> original = make_memory_journal();
  std::uint64_t setup_head = 0;
  {
    auto bank = start_on(original);
    open_with(*bank, "a", 100);
    open_with(*bank, "b", 0);
    setup_head = head_of(*bank);
    auto reply = bank->transfer(transfer_money{"t1", "a", "b", 30});
    ASSERT_TRUE(reply && reply->status == transfer_status::completed);
    ASSERT_FALSE(bank->shutdown());
  }
  auto log = original->read_all(1, 1000);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), setup_head + 5);  // requested, debited, credited, settled, completed
  for (std::size_t cut = setup_head; cut <= log->size(); ++cut) {
    SCOPED_TRACE("log cut after position " + std::to_string(cut));
    std::shared_ptr<journal> copy = make_memory_journal();
    std::vector<recorded_event> prefix(log->begin(), log->begin() + static_cast<std::ptrdiff_t>(cut));
    if (!prefix.empty()) {
      ASSERT_FALSE(copy->append_batch(prefix));
    }
    auto bank = start_on(copy);
    ASSERT_TRUE(bank->resume_transfers());
    auto reply = bank->transfer(transfer_money{"t1", "a", "b", 30});
    ASSERT_TRUE(reply) << reply.error().to_string();
    EXPECT_EQ(reply->status, transfer_status::completed);
    EXPECT_EQ(reply->duplicate, cut > setup_head);
    EXPECT_EQ(balance_of(*bank, "a", reply->position), 70);
    EXPECT_EQ(balance_of(*bank, "b", reply->position), 30);
    for (const auto* type : {"transfer_requested", "money_debited_for_transfer",
                             "money_credited_for_transfer", "transfer_settled", "transfer_completed"})
      EXPECT_EQ(count_events(*bank, type), 1u) << type;
    expect_money_conserved(*bank);
  }
}

TEST(transfers, unfinished_transfers_resume_on_start_without_any_request) {
  std::shared_ptr<journal> original = make_memory_journal();
  {
    auto bank = start_on(original);
    open_with(*bank, "a", 100);
    open_with(*bank, "b", 0);
    ASSERT_TRUE(bank->transfer(transfer_money{"t1", "a", "b", 30}));
    ASSERT_FALSE(bank->shutdown());
  }
  auto log = original->read_all(1, 1000);
  ASSERT_TRUE(log);
  std::shared_ptr<journal> copy = make_memory_journal();
  // Cut after the debit: money is in flight.
  std::vector<recorded_event> prefix;
  for (const auto& event : *log) {
    prefix.push_back(event);
    if (event.type == "money_debited_for_transfer")
      break;
  }
  ASSERT_FALSE(copy->append_batch(prefix));
  auto bank = start_on(copy);
  // start() resumed it in the background; wait for its completion in the read model.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  transfer_view view;
  do {
    auto found = bank->transfer_state("t1");
    ASSERT_TRUE(found);
    view = *found;
    if (view.status == transfer_status::completed)
      break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(view.status, transfer_status::completed);
  auto page = bank->transfers(transfers_query{}, view.last_position);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->transfers.empty());
  EXPECT_EQ(page->money_in_flight, 0);
  EXPECT_EQ(page->transfers_completed, 1u);
  expect_money_conserved(*bank);
}

TEST(transfers, a_resumed_step_right_behind_a_resent_step_on_the_same_account_is_not_failed_by_the_conflict) {
  // Found by the kill-under-load driver (tests/crash/): after a restart, a resumed
  // transfer sends its credit again; the target's actor, fresh after the restart,
  // decides it afresh and appends it, and the store, which has its id, answers the
  // original outcome and makes the actor reload. A step of another transfer that the
  // actor decided right behind it, on the state that ran ahead, is refused with
  // wrong_expected_version, which the saga took for the bank's refusal of the credit:
  // it refunded and failed a transfer that had to complete. Eight transfers t1..t8 into
  // b were cut after their credit and eight u1..u8 into b after their debit, so their
  // credits reach b's actor together after the restart, in any order.
  constexpr int transfers_per_kind = 8;
  std::shared_ptr<journal> original = make_memory_journal();
  {
    auto bank = start_on(original);
    open_with(*bank, "b", 0);
    for (int index = 1; index <= 2 * transfers_per_kind; ++index)
      open_with(*bank, "s" + std::to_string(index), 100);
    for (int index = 1; index <= transfers_per_kind; ++index) {
      auto applied = bank->transfer(transfer_money{"t" + std::to_string(index), "s" + std::to_string(index), "b", 10});
      ASSERT_TRUE(applied && applied->status == transfer_status::completed);
      auto fresh = bank->transfer(
        transfer_money{"u" + std::to_string(index), "s" + std::to_string(transfers_per_kind + index), "b", 10});
      ASSERT_TRUE(fresh && fresh->status == transfer_status::completed);
    }
    ASSERT_FALSE(bank->shutdown());
  }
  auto log = original->read_all(1, 1000);
  ASSERT_TRUE(log);
  // The steps a kill cut off: each t after its credit, each u after its debit.
  std::set<command_id> cut_off;
  for (int index = 1; index <= transfers_per_kind; ++index) {
    const auto t = "t" + std::to_string(index);
    const auto u = "u" + std::to_string(index);
    for (auto step : {transfer_step::settle, transfer_step::complete})
      cut_off.insert(transfer_step_id(t, step));
    for (auto step : {transfer_step::credit, transfer_step::settle, transfer_step::complete})
      cut_off.insert(transfer_step_id(u, step));
  }
  // What is left, with positions and stream versions contiguous again.
  std::vector<recorded_event> kept;
  std::map<std::string, std::uint64_t> versions;
  for (const auto& event : *log) {
    if (cut_off.count(event.command) != 0)
      continue;
    kept.push_back(event);
    kept.back().position = kept.size();
    kept.back().stream_version = ++versions[event.stream_id];
  }
  std::shared_ptr<journal> copy = make_memory_journal();
  ASSERT_FALSE(copy->append_batch(kept));

  auto bank = start_on(copy);
  ASSERT_TRUE(bank->resume_transfers());
  for (int index = 1; index <= transfers_per_kind; ++index)
    for (const auto* kind : {"t", "u"}) {
      const auto transfer_id = kind + std::to_string(index);
      // A retry joins the resumed transfer (or answers how it ended).
      const auto source = "s" + std::to_string(kind[0] == 't' ? index : transfers_per_kind + index);
      auto reply = bank->transfer(transfer_money{transfer_id, source, "b", 10});
      ASSERT_TRUE(reply) << transfer_id << ": " << reply.error().to_string();
      EXPECT_EQ(reply->status, transfer_status::completed)
        << transfer_id << " ended " << to_string(reply->status) << " (" << to_string(reply->reason) << ")";
    }
  EXPECT_EQ(balance_of(*bank, "b", head_of(*bank)), 2 * transfers_per_kind * 10);
  for (const auto* type : {"money_credited_for_transfer", "transfer_settled", "transfer_completed"})
    EXPECT_EQ(count_events(*bank, type), 2u * transfers_per_kind) << type;
  EXPECT_EQ(count_events(*bank, "money_refunded_for_transfer"), 0u);
  expect_money_conserved(*bank);
}

TEST(transfers, transfer_steps_cannot_be_sent_as_client_commands) {
  auto bank = start_on(nullptr);
  open_with(*bank, "a", 0);
  auto credit = bank->execute(credit_for_transfer{"a", "t", 1000});
  ASSERT_FALSE(credit);
  EXPECT_EQ(credit.error().code(), error_code::invalid_argument);
  EXPECT_EQ(balance_of(*bank, "a", head_of(*bank)), 0);
}
