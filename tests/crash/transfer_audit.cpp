#include "tests/crash/transfer_audit.hpp"

#include <map>
#include <sstream>
#include <unordered_map>

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

}  // namespace

std::vector<std::string> audit_transfers(const std::vector<submitted_transfer>& transfers,
                                         const std::vector<logged_event>& log, bool quiescent) {
  std::vector<std::string> violations;

  // Index the submitted transfers by stream id and by the derived id of each account step.
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
    const bool is_step = event.type == "money_debited_for_transfer" || event.type == "money_credited_for_transfer"
                         || event.type == "money_refunded_for_transfer" || event.type == "transfer_settled";
    if (!is_step)
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

    bool compensating = false;
    std::string ended;  // how the transfer stream ended: completed, failed or empty
    for (const auto* event : steps.stream_events) {
      if (event->type == "transfer_compensating")
        compensating = true;
      else if (event->type == "transfer_completed" || event->type == "transfer_failed") {
        if (!ended.empty())
          violations.push_back("transfer " + transfer.transfer_id + " ended twice: " + describe(*event));
        ended = event->type == "transfer_completed" ? "completed" : "failed";
      }
    }
    if (ended.empty()) {
      if (quiescent)
        violations.push_back("transfer " + transfer.transfer_id + " (" + transfer.source + " -> " + transfer.target
                             + " " + std::to_string(transfer.amount) + ") has not ended after quiescence"
                             + (steps.stream_events.empty() ? " (lost: not in the journal)" : ""));
      if (!transfer.final_status.empty())
        violations.push_back("transfer " + transfer.transfer_id + " was answered " + transfer.final_status
                             + " but has not ended in the journal");
      continue;
    }
    if (!transfer.final_status.empty() && transfer.final_status != ended)
      violations.push_back("transfer " + transfer.transfer_id + " was answered " + transfer.final_status
                           + " but the journal says " + ended);
    const auto counts = [&] {
      return "debits " + std::to_string(steps.debits.size()) + ", credits " + std::to_string(steps.credits.size())
             + ", refunds " + std::to_string(steps.refunds.size()) + ", settles " + std::to_string(steps.settles.size());
    };
    bool steps_match = false;
    if (ended == "completed")
      steps_match = steps.debits.size() == 1 && steps.credits.size() == 1 && steps.settles.size() == 1
                    && steps.refunds.empty() && !compensating;
    else if (compensating)
      steps_match = steps.debits.size() == 1 && steps.refunds.size() == 1 && steps.credits.empty()
                    && steps.settles.empty();
    else
      steps_match = steps.debits.empty() && steps.credits.empty() && steps.refunds.empty() && steps.settles.empty();
    if (!steps_match)
      violations.push_back("transfer " + transfer.transfer_id + " " + ended + (compensating ? " after compensating" : "")
                           + " but its account steps are " + counts());
  }
  return violations;
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
