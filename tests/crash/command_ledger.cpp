#include "tests/crash/command_ledger.hpp"

#include <nlohmann/json.hpp>

#include "tally/assert.hpp"
#include "tally/ids.hpp"

namespace tally::crash {

using json = nlohmann::json;

std::string_view to_string(command_state state) noexcept {
  switch (state) {
    case command_state::in_flight: return "in_flight";
    case command_state::acknowledged: return "acknowledged";
    case command_state::in_doubt: return "in_doubt";
    case command_state::resolved: return "resolved";
  }
  return "unknown";
}

bool is_applied(const command_record& record) noexcept {
  return (record.state == command_state::acknowledged || record.state == command_state::resolved)
         && record.outcome.accepted;
}

namespace {

json outcome_fields(const command_outcome& outcome) {
  auto fields = json{{"outcome", outcome.accepted ? "accepted" : "rejected"},
                     {"error", outcome.error},
                     {"version", outcome.version},
                     {"position", outcome.position},
                     {"replayed", outcome.replayed},
                     {"status", outcome.http_status}};
  if (!outcome.transfer_status.empty())
    fields["transfer_status"] = outcome.transfer_status;
  return fields;
}

}  // namespace

command_ledger::command_ledger(const std::string& log_path) : log_(log_path, std::ios::trunc) {}

void command_ledger::log_line(const std::string& line) {
  // Flushed line by line: the log is for post-mortems, also of a driver that crashed.
  log_ << line << std::endl;
}

void command_ledger::learn_open(const command_record& record) {
  if (record.op.kind == operation_kind::open_account && record.outcome.accepted
      && !is_closable_account(record.op.account_id))
    open_accounts_.push_back(record.op.account_id);
}

command_ledger::submitted command_ledger::submit(const operation& op, std::uint32_t client,
                                                 std::uint32_t round) {
  std::lock_guard guard{mutex_};
  command_record record;
  record.key = "r" + std::to_string(round) + "-c" + std::to_string(client) + "-"
               + std::to_string(records_.size());
  auto id = command_id::from_text(record.key);
  TALLY_ASSERT(id.has_value());
  record.id = tally::to_string(*id);
  record.op = op;
  record.client = client;
  record.round = round;
  auto line = json{{"event", "submit"},
                   {"key", record.key},
                   {"id", record.id},
                   {"command", operation_name(op.kind)},
                   {"account_id", op.account_id},
                   {"amount", op.amount},
                   {"client", client},
                   {"round", round}};
  if (op.kind == operation_kind::transfer_money)
    line["target_account_id"] = op.target_account_id;  // the key is the transfer id
  log_line(line.dump());
  records_.push_back(std::move(record));
  ++counts_.submitted;
  return {records_.size() - 1, records_.back().key};
}

void command_ledger::acknowledge(std::size_t index, const command_outcome& outcome) {
  std::lock_guard guard{mutex_};
  auto& record = records_.at(index);
  TALLY_ASSERT(record.state == command_state::in_flight);
  record.state = command_state::acknowledged;
  record.outcome = outcome;
  ++counts_.acknowledged;
  learn_open(record);
  auto line = outcome_fields(outcome);
  line["event"] = "reply";
  line["key"] = record.key;
  log_line(line.dump());
}

void command_ledger::mark_in_doubt(std::size_t index, const std::string& why) {
  std::lock_guard guard{mutex_};
  auto& record = records_.at(index);
  TALLY_ASSERT(record.state == command_state::in_flight);
  record.state = command_state::in_doubt;
  record.doubt = why;
  ++counts_.in_doubt_ever;
  log_line(json{{"event", "in_doubt"}, {"key", record.key}, {"why", why}}.dump());
}

void command_ledger::resolve(std::size_t index, const command_outcome& outcome) {
  std::lock_guard guard{mutex_};
  auto& record = records_.at(index);
  TALLY_ASSERT(record.state == command_state::in_doubt);
  record.state = command_state::resolved;
  record.outcome = outcome;
  ++counts_.resolved;
  learn_open(record);
  auto line = outcome_fields(outcome);
  line["event"] = "resolved";
  line["key"] = record.key;
  log_line(line.dump());
}

void command_ledger::note(std::size_t index, const std::string& what) {
  std::lock_guard guard{mutex_};
  log_line(json{{"event", "note"}, {"key", records_.at(index).key}, {"what", what}}.dump());
}

command_record command_ledger::record(std::size_t index) const {
  std::lock_guard guard{mutex_};
  return records_.at(index);
}

std::vector<command_record> command_ledger::records() const {
  std::lock_guard guard{mutex_};
  return {records_.begin(), records_.end()};
}

std::vector<std::size_t> command_ledger::in_doubt() const {
  std::lock_guard guard{mutex_};
  std::vector<std::size_t> out;
  for (std::size_t index = 0; index < records_.size(); ++index)
    if (records_[index].state == command_state::in_doubt)
      out.push_back(index);
  return out;
}

std::vector<std::string> command_ledger::open_accounts() const {
  std::lock_guard guard{mutex_};
  return open_accounts_;
}

command_ledger::counts command_ledger::totals() const {
  std::lock_guard guard{mutex_};
  return counts_;
}

}  // namespace tally::crash
