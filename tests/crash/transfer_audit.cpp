#include "tests/crash/transfer_audit.hpp"

#include <map>
#include <sstream>
#include <unordered_map>

#include "tally/bank.hpp"
#include "tally/ids.hpp"
#include "tally/transfer.hpp"

namespace tally::crash {

using bank::is_transfer_stream;
using bank::transfer_step;
using bank::transfer_step_id;
using bank::transfer_stream_id;

namespace {

std::string describe(const logged_event& event) {
  std::ostringstream text;
  text << "position " << event.position << " (" << event.stream_id << " v" << event.version << " " << event.type
       << " " << event.amount << " command " << event.command_id << ")";
  return text.str();
}

/// What the journal holds for one transfer.
struct journaled_transfer {
  std::vector<const logged_event*> stream_events;  ///< on "transfer:<id>"
  std::vector<const logged_event*> debits, credits, refunds, settles;
};

/// How a transfer's stream ended, read from its events.
struct transfer_ending {
  bool compensating = false;
  std::string status;                     ///< "completed", "failed", or empty: not ended
  const logged_event* ended_by = nullptr;  ///< the (first) transfer_completed or transfer_failed
  std::size_t endings = 0;                ///< how many such events; more than one is a violation
};

transfer_ending ending_of(const journaled_transfer& steps) {
  transfer_ending ending;
  for (const auto* event : steps.stream_events) {
    if (event->type == "transfer_compensating") {
      ending.compensating = true;
    } else if (event->type == "transfer_completed" || event->type == "transfer_failed") {
      if (ending.endings++ == 0) {
        ending.status = event->type == "transfer_completed" ? "completed" : "failed";
        ending.ended_by = event;
      }
    }
  }
  return ending;
}

/// Sorts the transfer events of `log` by submitted transfer: its own stream's events,
/// and its account steps found by their derived command ids. An event that belongs to
/// no submitted transfer, or a step on the wrong account, with the wrong type or
/// amount, is a violation added to `violations`.
std::vector<journaled_transfer> sort_by_transfer(const std::vector<submitted_transfer>& transfers,
                                                 const std::vector<logged_event>& log,
                                                 std::vector<std::string>& violations) {
  struct step_owner {
    std::size_t transfer = 0;
    transfer_step step = transfer_step::request;
  };
  std::unordered_map<std::string, std::size_t> transfer_by_stream;
  std::unordered_map<std::string, step_owner> step_by_command_id;
  for (std::size_t index = 0; index < transfers.size(); ++index) {
    const auto& transfer_id = transfers[index].transfer_id;
    transfer_by_stream.emplace(transfer_stream_id(transfer_id), index);
    for (auto step : {transfer_step::debit, transfer_step::credit, transfer_step::refund, transfer_step::settle})
      step_by_command_id.emplace(to_string(transfer_step_id(transfer_id, step)), step_owner{index, step});
  }

  std::vector<journaled_transfer> journaled(transfers.size());
  for (const auto& event : log) {
    if (is_transfer_stream(event.stream_id)) {
      auto owner = transfer_by_stream.find(event.stream_id);
      if (owner == transfer_by_stream.end())
        violations.push_back("a transfer stream no client submitted: " + describe(event));
      else
        journaled[owner->second].stream_events.push_back(&event);
      continue;
    }
    if (!bank::is_transfer_step_event(event.type))
      continue;
    auto owner = step_by_command_id.find(event.command_id);
    if (owner == step_by_command_id.end()) {
      violations.push_back("a transfer step no submitted transfer derives: " + describe(event));
      continue;
    }
    const auto& transfer = transfers[owner->second.transfer];
    auto& steps = journaled[owner->second.transfer];
    // Debit, refund and settle are on the source, the credit on the target.
    const auto expect = [&](transfer_step step, std::string_view type, const std::string& account,
                            std::vector<const logged_event*>& into) {
      if (owner->second.step != step)
        return false;
      if (event.type != type || event.stream_id != account
          || (step != transfer_step::settle && event.amount != transfer.amount))
        violations.push_back("transfer " + transfer.transfer_id + ": step event on the wrong account, of the wrong "
                             "type or amount: " + describe(event));
      into.push_back(&event);
      return true;
    };
    expect(transfer_step::debit, "money_debited_for_transfer", transfer.source, steps.debits)
        || expect(transfer_step::credit, "money_credited_for_transfer", transfer.target, steps.credits)
        || expect(transfer_step::refund, "money_refunded_for_transfer", transfer.source, steps.refunds)
        || expect(transfer_step::settle, "transfer_settled", transfer.source, steps.settles);
  }
  return journaled;
}

}  // namespace

std::vector<submitted_transfer> submitted_transfers(const std::vector<command_record>& commands) {
  std::vector<submitted_transfer> transfers;
  for (const auto& record : commands) {
    if (record.op.kind != operation_kind::transfer_money)
      continue;
    submitted_transfer transfer{record.key, record.op.account_id, record.op.target_account_id, record.op.amount,
                                {}, 0, {}};
    const bool decided = record.state == command_state::acknowledged || record.state == command_state::resolved;
    if (decided) {
      transfer.final_status = record.outcome.transfer_status;
      transfer.final_position = record.outcome.position;
      transfer.reason = record.outcome.error;
    }
    transfers.push_back(std::move(transfer));
  }
  return transfers;
}

std::vector<std::string> audit_transfers(const std::vector<submitted_transfer>& transfers,
                                         const std::vector<logged_event>& log, bool quiescent) {
  std::vector<std::string> violations;
  const auto journaled = sort_by_transfer(transfers, log, violations);

  for (std::size_t index = 0; index < transfers.size(); ++index) {
    const auto& transfer = transfers[index];
    const auto& steps = journaled[index];
    const auto once = [&](const std::vector<const logged_event*>& events, const char* what) {
      if (events.size() > 1)
        violations.push_back("transfer " + transfer.transfer_id + ": " + std::to_string(events.size()) + " " + what
                             + " (the second at " + describe(*events[1]) + ")");
    };
    once(steps.debits, "debits");
    once(steps.credits, "credits");
    once(steps.refunds, "refunds");
    once(steps.settles, "settles");

    if (!steps.stream_events.empty()) {
      const auto& first = *steps.stream_events.front();
      if (first.type != "transfer_requested" || first.amount != transfer.amount)
        violations.push_back("transfer " + transfer.transfer_id + " of " + std::to_string(transfer.amount)
                             + " does not start with its request: " + describe(first));
    }
    const auto ending = ending_of(steps);
    if (ending.endings > 1)
      violations.push_back("transfer " + transfer.transfer_id + " ended " + std::to_string(ending.endings)
                           + " times (the first at " + describe(*ending.ended_by) + ")");
    if (ending.status.empty()) {
      if (quiescent)
        violations.push_back("transfer " + transfer.transfer_id + " (" + transfer.source + " -> " + transfer.target
                             + " " + std::to_string(transfer.amount) + ") has not ended after quiescence"
                             + (steps.stream_events.empty() ? " (lost: not in the journal)" : ""));
      if (!transfer.final_status.empty())
        violations.push_back("transfer " + transfer.transfer_id + " was answered " + transfer.final_status
                             + " but has not ended in the journal");
      continue;
    }
    if (!transfer.final_status.empty() && transfer.final_status != ending.status)
      violations.push_back("transfer " + transfer.transfer_id + " was answered " + transfer.final_status
                           + " but the journal says " + ending.status);
    else if (transfer.final_position != 0 && transfer.final_position != ending.ended_by->position)
      violations.push_back("transfer " + transfer.transfer_id + " was answered " + transfer.final_status
                           + " at position " + std::to_string(transfer.final_position) + " but the journal ended it at "
                           + describe(*ending.ended_by));
    const auto counts = [&] {
      return "debits " + std::to_string(steps.debits.size()) + ", credits " + std::to_string(steps.credits.size())
             + ", refunds " + std::to_string(steps.refunds.size()) + ", settles " + std::to_string(steps.settles.size());
    };
    bool steps_match = false;
    if (ending.status == "completed")
      steps_match = steps.debits.size() == 1 && steps.credits.size() == 1 && steps.settles.size() == 1
                    && steps.refunds.empty() && !ending.compensating;
    else if (ending.compensating)
      steps_match = steps.debits.size() == 1 && steps.refunds.size() == 1 && steps.credits.empty()
                    && steps.settles.empty();
    else
      steps_match = steps.debits.empty() && steps.credits.empty() && steps.refunds.empty() && steps.settles.empty();
    if (!steps_match)
      violations.push_back("transfer " + transfer.transfer_id + " " + ending.status
                           + (ending.compensating ? " after compensating" : "") + " but its account steps are "
                           + counts());
  }
  return violations;
}

std::vector<std::string> audit_transfer_views(const std::vector<submitted_transfer>& transfers,
                                              const std::vector<logged_event>& log,
                                              const std::map<std::string, transfer_view>& views) {
  std::vector<std::string> violations;
  std::vector<std::string> ignored;  // audit_transfers reports what does not belong to a transfer
  const auto journaled = sort_by_transfer(transfers, log, ignored);
  std::unordered_map<std::string, std::size_t> transfer_by_id;
  for (std::size_t index = 0; index < transfers.size(); ++index)
    transfer_by_id.emplace(transfers[index].transfer_id, index);

  for (const auto& [transfer_id, view] : views) {
    auto found = transfer_by_id.find(transfer_id);
    if (found == transfer_by_id.end()) {
      if (view.found)
        violations.push_back("the transfers read model knows transfer " + transfer_id + ", which no client submitted");
      continue;
    }
    const auto& transfer = transfers[found->second];
    const auto& steps = journaled[found->second];
    const auto ending = ending_of(steps);
    const bool in_journal = !steps.stream_events.empty();
    if (view.found != in_journal) {
      violations.push_back("transfer " + transfer_id + ": the transfers read model " + (view.found ? "knows" : "does not know")
                           + " it, the journal " + (in_journal ? "has" : "does not have") + " it");
      continue;
    }
    if (!view.found)
      continue;
    // What the read model must say, from the journal.
    const std::string status = !ending.status.empty() ? ending.status
                               : ending.compensating  ? "compensating"
                                                      : "requested";
    const bool debited = !steps.debits.empty();
    const bool credited = !steps.credits.empty();
    const bool refunded = !steps.refunds.empty();
    const bool settled = !steps.settles.empty();
    const std::int64_t in_flight = debited && !credited && !refunded ? transfer.amount : 0;
    std::ostringstream said;
    said << view.status << " " << view.source << " -> " << view.target << " " << view.amount << " debited "
         << view.debited << " credited " << view.credited << " refunded " << view.refunded << " settled "
         << view.settled << " in_flight " << view.in_flight << " reason '" << view.reason << "'";
    std::ostringstream replayed;
    replayed << status << " " << transfer.source << " -> " << transfer.target << " " << transfer.amount << " debited "
             << debited << " credited " << credited << " refunded " << refunded << " settled " << settled
             << " in_flight " << in_flight;
    if (view.status != status || view.source != transfer.source || view.target != transfer.target
        || view.amount != transfer.amount || view.debited != debited || view.credited != credited
        || view.refunded != refunded || view.settled != settled || view.in_flight != in_flight)
      violations.push_back("transfer " + transfer_id + ": the transfers read model says " + said.str()
                           + ", the journal " + replayed.str());
    else if (status == "failed" && transfer.final_status == "failed" && view.reason != transfer.reason)
      violations.push_back("transfer " + transfer_id + ": the transfers read model says it failed for '" + view.reason
                           + "', its reply said '" + transfer.reason + "'");
  }
  return violations;
}

std::optional<std::string> check_transfer_retry(const command_record& record,
                                                const std::vector<logged_event>& log_before,
                                                std::uint64_t head_before, const command_outcome& retry) {
  const auto stream = transfer_stream_id(record.key);
  journaled_transfer before;
  for (const auto& event : log_before)
    if (event.stream_id == stream)
      before.stream_events.push_back(&event);
  const auto ending = ending_of(before);
  std::ostringstream text;
  text << "retry of in-doubt transfer " << record.key << " (" << record.op.account_id << " -> "
       << record.op.target_account_id << " " << record.op.amount << "): ";
  if (ending.ended_by != nullptr) {
    if (retry.transfer_status != ending.status || retry.position != ending.ended_by->position)
      text << "it had ended before the kill (" << describe(*ending.ended_by) << ") but its retry answered "
           << retry.transfer_status << " at position " << retry.position;
    else if (!retry.replayed)
      text << "the reply repeats how it ended but lacks Idempotent-Replayed: true";
    else
      return std::nullopt;
    return text.str();
  }
  if (!before.stream_events.empty() && !retry.replayed)
    text << "it was requested before the kill (" << describe(*before.stream_events.front())
         << ") but its retry is not marked as a replay";
  else if (before.stream_events.empty() && retry.replayed)
    text << "marked as a replay, but the journal did not have it";
  else if (retry.position <= head_before)
    text << "it had not ended before the retry, but the retry answered " << retry.transfer_status << " at position "
         << retry.position << ", not after the head " << head_before;
  else
    return std::nullopt;
  return text.str();
}

std::optional<std::string> check_totals_invariant(std::int64_t total_balance, std::int64_t money_in_flight,
                                                  std::int64_t total_deposited, std::int64_t total_withdrawn,
                                                  std::uint64_t as_of_position) {
  std::ostringstream text;
  text << "at as_of_position " << as_of_position << ": total_balance " << total_balance << " + money_in_flight "
       << money_in_flight << " vs total_deposited " << total_deposited << " - total_withdrawn " << total_withdrawn;
  if (total_balance < 0 || money_in_flight < 0)
    return "negative_balance " + text.str();
  if (total_balance + money_in_flight != total_deposited - total_withdrawn)
    return "wrong_total " + text.str();
  return std::nullopt;
}

}  // namespace tally::crash
