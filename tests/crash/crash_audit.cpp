#include "tests/crash/crash_audit.hpp"

#include <set>
#include <sstream>
#include <unordered_map>

#include "tally/bank.hpp"
#include "tally/transfer.hpp"
#include "tests/crash/transfer_audit.hpp"

namespace tally::crash {

namespace {

class violation_list {
public:
  explicit violation_list(std::size_t max) : max_(max) {}

  void add(const std::string& text) {
    if (lines_.size() < max_)
      lines_.push_back(text);
    else
      ++dropped_;
  }

  std::vector<std::string> finish() && {
    if (dropped_ > 0)
      lines_.push_back("... and " + std::to_string(dropped_) + " more violations");
    return std::move(lines_);
  }

private:
  std::size_t max_;
  std::size_t dropped_ = 0;
  std::vector<std::string> lines_;
};

std::string describe(const logged_event& event) {
  std::ostringstream text;
  text << "position " << event.position << " (" << event.stream_id << " v" << event.version << " "
       << event.type << " " << event.amount << " command " << event.command_id << ")";
  return text.str();
}

std::string describe(const command_record& record) {
  std::ostringstream text;
  text << to_string(record.state) << " " << operation_name(record.op.kind) << " " << record.op.account_id;
  if (!record.op.target_account_id.empty())
    text << " -> " << record.op.target_account_id;
  if (record.op.amount != 0)
    text << " " << record.op.amount;
  text << " key " << record.key << " (id " << record.id << ", client " << record.client << ", round "
       << record.round << ")";
  return text.str();
}

/// An account as the journal says it is.
struct replayed_account {
  bool opened = false;
  bool closed = false;
  std::int64_t balance = 0;
  std::uint64_t version = 0;
  std::vector<const logged_event*> events;
  std::vector<std::int64_t> balance_after;  ///< per event
};

}  // namespace

std::vector<std::string> audit_journal(const std::vector<command_record>& commands,
                                       const std::vector<logged_event>& log,
                                       const std::vector<logged_event>& previous_log,
                                       const read_models& models, std::size_t violations_max) {
  violation_list violations{violations_max};

  // The journal never loses what an earlier audit saw, acknowledged or not: once an
  // event was served after a recovery it is part of history.
  if (previous_log.size() > log.size())
    violations.add("the journal shrank from " + std::to_string(previous_log.size()) + " to "
                   + std::to_string(log.size()) + " events");
  for (std::size_t index = 0; index < previous_log.size() && index < log.size(); ++index)
    if (previous_log[index] != log[index]) {
      violations.add("the event at " + describe(previous_log[index]) + " became " + describe(log[index]));
      break;
    }

  // Positions 1..N, versions contiguous per stream, balances never negative, never
  // more credited or refunded for transfers than was debited. Transfer streams only
  // have their versions checked here; what they say is audit_transfers' business.
  std::map<std::string, replayed_account> accounts;
  std::map<std::string, std::uint64_t> transfer_stream_versions;
  std::int64_t total_deposited = 0;
  std::int64_t total_withdrawn = 0;
  std::int64_t money_in_flight = 0;
  std::uint64_t account_events = 0;
  for (std::size_t index = 0; index < log.size(); ++index) {
    const auto& event = log[index];
    if (event.position != index + 1)
      violations.add("journal position gap: expected position " + std::to_string(index + 1) + ", found "
                     + describe(event));
    if (bank::is_transfer_stream(event.stream_id)) {
      auto& version = transfer_stream_versions[event.stream_id];
      if (event.version != version + 1)
        violations.add("stream version gap: expected v" + std::to_string(version + 1) + ", found " + describe(event));
      version = event.version;
      if (!bank::is_transfer_event(event.type))
        violations.add("an event type this driver never causes: " + describe(event));
      continue;
    }
    ++account_events;
    auto& account = accounts[event.stream_id];
    if (event.version != account.version + 1)
      violations.add("stream version gap: expected v" + std::to_string(account.version + 1) + ", found "
                     + describe(event));
    account.version = event.version;
    // Money that comes out of a balance (a withdrawal, a debit for a transfer) is checked
    // against overdrafts and added to `total`; money that goes in is checked against
    // overflow and added to `total` times `sign` (a deposit counts up what came in; a
    // credit or refund counts down the money in flight its debit counted up).
    const auto take_out = [&](std::int64_t* total) {
      if (event.amount <= 0 || __builtin_sub_overflow(account.balance, event.amount, &account.balance)
          || __builtin_add_overflow(*total, event.amount, total))
        violations.add("amount out of range: " + describe(event));
      else if (account.balance < 0)
        violations.add("balance below zero (" + std::to_string(account.balance) + ") after " + describe(event));
    };
    const auto put_in = [&](std::int64_t* total, std::int64_t sign) {
      if (event.amount <= 0 || __builtin_add_overflow(account.balance, event.amount, &account.balance)
          || __builtin_add_overflow(*total, sign * event.amount, total))
        violations.add("amount out of range: " + describe(event));
    };
    if (event.type == "account_opened") {
      if (account.opened)
        violations.add("account opened twice: " + describe(event));
      account.opened = true;
    } else if (!account.opened) {
      violations.add("event before the account was opened: " + describe(event));
    } else if (account.closed) {
      violations.add("event after the account was closed: " + describe(event));
    } else if (event.type == "account_closed") {
      if (account.balance != 0)
        violations.add("closed at balance " + std::to_string(account.balance) + ": " + describe(event));
      account.closed = true;
    } else if (event.type == "money_deposited") {
      put_in(&total_deposited, 1);
    } else if (event.type == "money_withdrawn") {
      take_out(&total_withdrawn);
    } else if (event.type == "money_debited_for_transfer") {
      take_out(&money_in_flight);
    } else if (event.type == "money_credited_for_transfer" || event.type == "money_refunded_for_transfer") {
      put_in(&money_in_flight, -1);
      if (money_in_flight < 0)
        violations.add("more credited or refunded for transfers than debited (money in flight "
                       + std::to_string(money_in_flight) + ") after " + describe(event));
    } else if (event.type == "transfer_settled") {
      if (event.amount != 0)
        violations.add("a settlement with an amount: " + describe(event));
    } else {
      violations.add("an event type this driver never causes: " + describe(event));
    }
    account.events.push_back(&event);
    account.balance_after.push_back(account.balance);
  }
  // At quiescence every transfer has ended: whatever was debited was credited or refunded.
  if (money_in_flight != 0)
    violations.add("money in flight after quiescence in the journal's replay: " + std::to_string(money_in_flight));

  // Every event belongs to a command a client sent, with its content, exactly once.
  std::unordered_map<std::string, const command_record*> command_by_id;
  for (const auto& record : commands)
    if (!command_by_id.emplace(record.id, &record).second)
      violations.add("two commands with one id (the driver's keys collide): " + describe(record));
  std::unordered_map<std::string, std::vector<const logged_event*>> events_by_command;
  for (const auto& event : log) {
    // A transfer's events carry ids derived from its transfer id: audit_transfers
    // matches them with the submitted transfers below.
    if (bank::is_transfer_stream(event.stream_id) || bank::is_transfer_step_event(event.type))
      continue;
    if (command_by_id.count(event.command_id) == 0)
      violations.add("an event no client's command caused: " + describe(event));
    else
      events_by_command[event.command_id].push_back(&event);
  }
  for (const auto& record : commands) {
    if (record.op.kind == operation_kind::transfer_money) {
      if (record.state == command_state::in_flight)
        violations.add("audited while still in flight: " + describe(record));
      continue;  // audit_transfers
    }
    auto found = events_by_command.find(record.id);
    const std::vector<const logged_event*> none;
    const auto& events = found == events_by_command.end() ? none : found->second;
    const auto expected = expected_events(record.op);
    auto content_matches = [&] {
      if (events.size() != expected.size())
        return false;
      for (std::size_t index = 0; index < events.size(); ++index)
        if (events[index]->stream_id != expected[index].stream_id || events[index]->type != expected[index].type
            || events[index]->amount != expected[index].amount)
          return false;
      return true;
    };
    switch (record.state) {
      case command_state::in_flight:
        violations.add("audited while still in flight: " + describe(record));
        break;
      case command_state::acknowledged:
      case command_state::resolved:
        if (!record.outcome.accepted) {
          if (!events.empty())
            violations.add("rejected (" + record.outcome.error + ") but in the journal at "
                           + describe(*events.front()) + ": " + describe(record));
        } else if (events.empty()) {
          violations.add("accepted at position " + std::to_string(record.outcome.position)
                         + " but not in the journal (lost): " + describe(record));
        } else if (events.size() > expected.size()) {
          violations.add("applied more than once (" + std::to_string(events.size())
                         + " events, first at " + describe(*events.front()) + "): " + describe(record));
        } else if (!content_matches()) {
          violations.add("the journal's events differ from the command (first " + describe(*events.front())
                         + "): " + describe(record));
        } else if (events.back()->position != record.outcome.position
                   || events.back()->version != record.outcome.version) {
          violations.add("reply said v" + std::to_string(record.outcome.version) + " at position "
                         + std::to_string(record.outcome.position) + ", the journal has it at "
                         + describe(*events.back()) + ": " + describe(record));
        }
        break;
      case command_state::in_doubt:
        if (!events.empty() && !content_matches())
          violations.add("in doubt and partly or twice in the journal (first " + describe(*events.front())
                         + "): " + describe(record));
        break;
    }
  }

  // The transfers: their streams and steps, and the transfers read model.
  const auto transfers = submitted_transfers(commands);
  for (const auto& line : audit_transfers(transfers, log, true))
    violations.add(line);
  for (const auto& line : audit_transfer_views(transfers, log, models.transfers))
    violations.add(line);

  // The clients' tally of accepted commands and completed transfers equals the replay
  // of the journal.
  std::map<std::string, std::int64_t> tally;
  for (const auto& record : commands)
    if (is_applied(record))
      for (const auto& [account_id, change] : balance_changes(record.op))
        tally[account_id] += change;
  std::set<std::string> account_ids;
  for (const auto& [account_id, unused] : tally)
    account_ids.insert(account_id);
  for (const auto& [account_id, unused] : accounts)
    account_ids.insert(account_id);
  for (const auto& [account_id, balance] : models.balances)
    if (balance.found)
      account_ids.insert(account_id);
  std::int64_t total_balance = 0;
  std::uint64_t accounts_open = 0;
  std::uint64_t accounts_closed = 0;
  for (const auto& account_id : account_ids) {
    auto replayed = accounts.find(account_id);
    auto tallied = tally.find(account_id);
    if (replayed == accounts.end()) {
      violations.add("account " + account_id + " has no events, but "
                     + (tallied != tally.end() ? "accepted commands (lost)" : "the balances read model knows it"));
      continue;
    }
    const auto& account = replayed->second;
    total_balance += account.balance;
    accounts_open += account.opened && !account.closed ? 1 : 0;
    accounts_closed += account.closed ? 1 : 0;
    if (tallied == tally.end())
      violations.add("account " + account_id + " is in the journal, but no accepted command opened it");
    else if (tallied->second != account.balance)
      violations.add("account " + account_id + ": the clients' tally is " + std::to_string(tallied->second)
                     + ", the journal's replay " + std::to_string(account.balance));

    // The read models equal the replay.
    auto balance = models.balances.find(account_id);
    if (balance == models.balances.end() || !balance->second.found)
      violations.add("account " + account_id + ": the balances read model does not know it");
    else if (balance->second.balance != account.balance || balance->second.version != account.version
             || balance->second.status != (account.closed ? "closed" : "open"))
      violations.add("account " + account_id + ": balances read model says " + std::to_string(balance->second.balance)
                     + " at v" + std::to_string(balance->second.version) + " (" + balance->second.status
                     + "), the replay " + std::to_string(account.balance) + " at v" + std::to_string(account.version)
                     + (account.closed ? " (closed)" : " (open)"));
    auto history = models.histories.find(account_id);
    if (history == models.histories.end()) {
      violations.add("account " + account_id + ": the history read model was not read");
      continue;
    }
    if (history->second.size() != account.events.size())
      violations.add("account " + account_id + ": the history read model has " + std::to_string(history->second.size())
                     + " events, the journal " + std::to_string(account.events.size()));
    for (std::size_t index = 0; index < history->second.size() && index < account.events.size(); ++index) {
      const auto& entry = history->second[index];
      const auto& event = *account.events[index];
      if (entry.position != event.position || entry.version != event.version || entry.type != event.type
          || entry.amount != event.amount || entry.command_id != event.command_id
          || entry.balance_after != account.balance_after[index]) {
        violations.add("account " + account_id + ": history entry v" + std::to_string(entry.version) + " at position "
                       + std::to_string(entry.position) + " " + entry.type + " " + std::to_string(entry.amount)
                       + " balance_after " + std::to_string(entry.balance_after) + " differs from the journal's "
                       + describe(event) + " balance_after " + std::to_string(account.balance_after[index]));
        break;
      }
    }
  }
  const auto& totals = models.totals;
  const std::uint64_t head = log.size();
  if (totals.as_of_position != head || totals.events != account_events || totals.total_balance != total_balance
      || totals.total_deposited != total_deposited || totals.total_withdrawn != total_withdrawn
      || totals.money_in_flight != money_in_flight || totals.accounts_open != accounts_open
      || totals.accounts_closed != accounts_closed) {
    std::ostringstream text;
    text << "totals read model: as_of_position " << totals.as_of_position << " events " << totals.events
         << " balance " << totals.total_balance << " deposited " << totals.total_deposited << " withdrawn "
         << totals.total_withdrawn << " in flight " << totals.money_in_flight << " open " << totals.accounts_open
         << " closed " << totals.accounts_closed << "; the journal's replay: head " << head << " account events "
         << account_events << " balance " << total_balance << " deposited " << total_deposited << " withdrawn "
         << total_withdrawn << " in flight " << money_in_flight << " open " << accounts_open << " closed "
         << accounts_closed;
    violations.add(text.str());
  }
  // At quiescence the totals read model says what the issue asks in so many words: no
  // money in flight, and the balances hold exactly what came in minus what went out.
  if (auto wrong = check_totals_invariant(totals.total_balance, totals.money_in_flight, totals.total_deposited,
                                          totals.total_withdrawn, totals.as_of_position))
    violations.add("totals read model: " + *wrong);
  if (totals.money_in_flight != 0 || totals.total_balance != totals.total_deposited - totals.total_withdrawn)
    violations.add("totals read model at quiescence: money_in_flight " + std::to_string(totals.money_in_flight)
                   + ", total_balance " + std::to_string(totals.total_balance) + " vs total_deposited - total_withdrawn "
                   + std::to_string(totals.total_deposited - totals.total_withdrawn));
  return std::move(violations).finish();
}

std::optional<std::string> check_retry(const command_record& record,
                                       const std::vector<logged_event>& events_before,
                                       std::uint64_t head_before, const command_outcome& retry) {
  std::ostringstream text;
  text << "retry of in-doubt " << describe(record) << ": ";
  if (!events_before.empty()) {
    const auto& last = events_before.back();
    if (!retry.accepted)
      text << "it was applied before the kill (" << describe(last) << ") but its retry was rejected with "
           << retry.error;
    else if (retry.position != last.position || retry.version != last.version)
      text << "it was applied before the kill (" << describe(last) << ") but its retry replied v"
           << retry.version << " at position " << retry.position;
    else if (!retry.replayed)
      text << "the reply repeats the original but lacks Idempotent-Replayed: true";
    else
      return std::nullopt;
    return text.str();
  }
  if (retry.replayed)
    text << "marked as a replay, but the journal did not have it";
  else if (retry.accepted && retry.position <= head_before)
    text << "decided afresh, but its position " << retry.position << " is not after the head " << head_before;
  else
    return std::nullopt;
  return text.str();
}

}  // namespace tally::crash
