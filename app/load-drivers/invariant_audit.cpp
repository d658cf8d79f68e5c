#include "app/load-drivers/invariant_audit.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>

#include "store/file_journal.hpp"
#include "store/verify.hpp"
#include "tally/bank.hpp"
#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"
#include "tally/journal.hpp"
#include "tally/runtime.hpp"
#include "tally/transfer.hpp"

namespace tally::load {

namespace {

// -- Replaying events ------------------------------------------------------------------

// The balance effect of one account event, or the reason it is not an account event the
// harness knows. Deliberately not bank::evolve(): that one asserts on an impossible event
// (a withdrawal below zero), and the audit must report such an event as a failure
// instead of stopping the process. bank::balance_change() is pure: deposits and
// credits and refunds of transfers add, withdrawals and transfer debits subtract.
struct replayed_account {
  std::int64_t balance = 0;
  std::uint64_t version = 0;
};

std::optional<std::string> apply_account_event(replayed_account& account,
                                               const recorded_event& event) {
  auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
  if (!decoded)
    return decoded.error().to_string();
  account.balance += bank::balance_change(*decoded);
  return std::nullopt;
}

// Counts the run's events by kind (invariants 2 and 5).
void count_event(run_event_counts& counts, const std::string& type) {
  if (type == "money_deposited" || type == "money_withdrawn")
    ++counts.deposits_and_withdrawals;
  else if (type == "money_debited_for_transfer")
    ++counts.debits;
  else if (type == "money_credited_for_transfer")
    ++counts.credits;
  else if (type == "money_refunded_for_transfer")
    ++counts.refunds;
  else if (type == "transfer_settled")
    ++counts.settles;
  else if (type == "transfer_requested")
    ++counts.requested;
  else if (type == "transfer_compensating")
    ++counts.compensating;
  else if (type == "transfer_completed")
    ++counts.completed;
  else if (type == "transfer_failed")
    ++counts.failed;
  else
    ++counts.other;
}

// One pass over the global log from position 1: checks that positions and stream
// versions are contiguous and replays every account stream. Records only the first
// problem of each kind, so a broken log gives a few lines, not millions.
class log_scanner {
public:
  /// Events after `window_start` (the baseline's head) are counted in run_counts().
  explicit log_scanner(std::uint64_t window_start = UINT64_MAX) : window_start_(window_start) {}

  void apply(const recorded_event& event) {
    if (event.position != last_position_ + 1 && !position_gap_reported_) {
      position_gap_reported_ = true;
      problems_.push_back("invariant 2 (positions contiguous): position "
                          + std::to_string(event.position) + " follows position "
                          + std::to_string(last_position_));
    }
    last_position_ = event.position;
    ++events_;
    auto& stream = streams_[event.stream_id];
    if (event.stream_version != stream.version + 1 && !version_gap_reported_) {
      version_gap_reported_ = true;
      problems_.push_back("invariant 2 (stream versions contiguous): stream " + event.stream_id
                          + " has version " + std::to_string(event.stream_version)
                          + " after version " + std::to_string(stream.version) + " (position "
                          + std::to_string(event.position) + ")");
    }
    stream.version = event.stream_version;
    if (event.position > window_start_)
      count_event(run_counts_, event.type);
    std::optional<std::string> problem;
    if (bank::is_transfer_stream(event.stream_id)) {
      // A transfer's own stream holds no money; its events only say where it stands, and
      // the totals read model does not count them.
      auto decoded = bank::decode_transfer_event(event.type, event.schema_version, event.payload);
      if (!decoded)
        problem = decoded.error().to_string();
      else if (event.position > window_start_)
        track_transfer(event.stream_id, *decoded);
    } else {
      ++account_events_;
      problem = apply_account_event(stream, event);
    }
    if (problem && !decode_reported_) {
      decode_reported_ = true;
      problems_.push_back("invariant 2 (events decode): event at position "
                          + std::to_string(event.position) + " of stream " + event.stream_id
                          + ": " + *problem);
    }
  }

  /// The run window's events by kind.
  const run_event_counts& run_counts() const noexcept { return run_counts_; }

  /// How many transfers requested in the run window did not complete or fail, and the
  /// stream of the first of them in id order.
  std::uint64_t unfinished_transfers() const noexcept { return unfinished_.size(); }
  std::string first_unfinished_transfer() const {
    return unfinished_.empty() ? std::string{} : *unfinished_.begin();
  }

  std::uint64_t last_position() const noexcept { return last_position_; }
  std::uint64_t events() const noexcept { return events_; }
  /// Events of account streams (all but the transfer streams').
  std::uint64_t account_events() const noexcept { return account_events_; }
  const std::vector<std::string>& problems() const noexcept { return problems_; }

  /// The replayed account, or nullptr when the log has no event of `stream_id`.
  const replayed_account* find(const std::string& stream_id) const {
    auto found = streams_.find(stream_id);
    return found == streams_.end() ? nullptr : &found->second;
  }

  /// Sum of the balances of all streams (what the totals read model must show).
  std::int64_t balance_sum() const {
    std::int64_t sum = 0;
    for (const auto& entry : streams_)
      sum += entry.second.balance;
    return sum;
  }

private:
  void track_transfer(const std::string& stream_id, const bank::transfer_event& event) {
    if (std::holds_alternative<bank::transfer_requested>(event))
      unfinished_.insert(stream_id);
    else if (std::holds_alternative<bank::transfer_completed>(event)
             || std::holds_alternative<bank::transfer_failed>(event))
      unfinished_.erase(stream_id);
  }

  std::uint64_t window_start_;
  run_event_counts run_counts_;
  std::set<std::string> unfinished_;  // ordered: the first one reported is stable
  std::unordered_map<std::string, replayed_account> streams_;
  std::vector<std::string> problems_;
  std::uint64_t last_position_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t account_events_ = 0;
  bool position_gap_reported_ = false;
  bool version_gap_reported_ = false;
  bool decode_reported_ = false;
};

// Scans positions 1..head through `read_page` (from_position, max_count). Returns an
// error when a read fails or the log ends before `head`.
template <class ReadPage>
std::optional<std::string> scan_log(std::uint64_t head, log_scanner& scanner, ReadPage read_page) {
  std::uint64_t next = 1;
  while (next <= head) {
    auto page = read_page(next, std::min<std::uint64_t>(read_events_max, head - next + 1));
    if (!page)
      return "reading the log at position " + std::to_string(next) + " failed: "
             + page.error().to_string();
    if (page->empty())
      break;
    for (const auto& event : *page) {
      if (event.position > head)
        return std::nullopt;  // appended after the head was read: not part of the audit
      scanner.apply(event);
    }
    next = page->back().position + 1;
  }
  if (scanner.last_position() < head)
    return "invariant 2 (positions contiguous): the log ends at position "
           + std::to_string(scanner.last_position()) + " but the head is "
           + std::to_string(head);
  return std::nullopt;
}

// Replays one stream's events (versions must run 1, 2, ...). Returns the problem.
std::optional<std::string> replay_stream(const std::string& account,
                                         const std::vector<recorded_event>& events,
                                         replayed_account& out) {
  for (const auto& event : events) {
    if (event.stream_version != out.version + 1)
      return "invariant 2 (stream versions contiguous): " + account + " has version "
             + std::to_string(event.stream_version) + " after version "
             + std::to_string(out.version) + " (position " + std::to_string(event.position)
             + ")";
    out.version = event.stream_version;
    if (auto problem = apply_account_event(out, event))
      return "invariant 2 (events decode): " + account + " version "
             + std::to_string(event.stream_version) + ": " + *problem;
  }
  return std::nullopt;
}

// Keeps the first message of a kind of failure and how many times it happened.
struct first_of_kind {
  std::optional<std::string> first;
  std::uint64_t count = 0;

  void add(std::string message) {
    if (!first)
      first = std::move(message);
    ++count;
  }
  void report(std::vector<std::string>& failures, const char* what) const {
    if (!first)
      return;
    if (count == 1)
      failures.push_back(*first);
    else
      failures.push_back(*first + " (" + std::to_string(count) + " " + what + " in all)");
  }
};

std::string describe_views(const std::vector<std::pair<const char*, std::int64_t>>& views) {
  std::string text;
  for (const auto& [name, balance] : views) {
    if (!text.empty())
      text += ", ";
    text += name;
    text += ' ';
    text += std::to_string(balance);
  }
  return text;
}

}  // namespace

// -- runtime_audit_source ------------------------------------------------------------------

runtime_audit_source::runtime_audit_source(runtime& bank,
                                           std::chrono::milliseconds projection_wait)
  : bank_(bank), projection_wait_(projection_wait) {
}

result<std::uint64_t> runtime_audit_source::head_position() {
  auto health = bank_.store_health();
  if (!health)
    return health.error();
  return health->head;
}

result<account_balance> runtime_audit_source::read_model_balance(const std::string& account,
                                                                 std::uint64_t min_position) {
  auto view = bank_.balance(account, min_position, projection_wait_);
  if (!view)
    return view.error();
  return account_balance{view->exists, view->balance, view->version};
}

result<account_balance> runtime_audit_source::write_side_state(const std::string& account) {
  auto state = bank_.account_state(account);
  if (!state)
    return state.error();
  return account_balance{state->state.status != bank::account_status::not_opened,
                         state->state.balance, state->version};
}

result<std::vector<recorded_event>> runtime_audit_source::stream_events(const std::string& account) {
  std::vector<recorded_event> events;
  std::uint64_t next = 1;
  for (;;) {
    auto page = bank_.read_stream(account, next, read_events_max);
    if (!page)
      return page.error();
    for (auto& event : *page)
      events.push_back(std::move(event));
    if (page->size() < read_events_max)
      return events;
    next = events.back().stream_version + 1;
  }
}

result<std::vector<recorded_event>> runtime_audit_source::read_all(std::uint64_t from_position,
                                                                   std::uint64_t max_count) {
  return bank_.read_all(from_position, max_count);
}

result<totals_view> runtime_audit_source::totals(std::uint64_t min_position) {
  return bank_.totals(min_position, projection_wait_);
}

result<transfer_counts> runtime_audit_source::transfers(std::uint64_t min_position) {
  transfers_query counts_only;
  counts_only.max_transfers = 0;  // the counts, no views
  auto page = bank_.transfers(counts_only, min_position, projection_wait_);
  if (!page)
    return page.error();
  transfer_counts counts;
  counts.in_progress = page->transfers_in_progress;
  counts.completed = page->transfers_completed;
  counts.failed = page->transfers_failed;
  counts.as_of_position = page->as_of_position;
  return counts;
}

// -- Baseline -------------------------------------------------------------------------------

result<audit_baseline> take_audit_baseline(audit_source& source,
                                           const std::vector<std::string>& account_names) {
  audit_baseline baseline;
  auto head = source.head_position();
  if (!head)
    return head.error();
  baseline.head = *head;
  baseline.balances.assign(account_names.size(), 0);
  auto transfers = source.transfers(baseline.head);
  if (!transfers)
    return status{transfers.error().code(),
                  "baseline: reading the transfers read model failed: "
                    + transfers.error().to_string()};
  baseline.transfers = *transfers;
  if (source.has_global_log()) {
    log_scanner scanner;
    auto problem = scan_log(baseline.head, scanner, [&](std::uint64_t from, std::uint64_t count) {
      return source.read_all(from, count);
    });
    if (problem)
      return status{error_code::internal_error, "baseline: " + *problem};
    if (!scanner.problems().empty())
      return status{error_code::internal_error, "baseline: " + scanner.problems().front()};
    for (std::size_t i = 0; i < account_names.size(); ++i)
      if (const auto* account = scanner.find(account_names[i]))
        baseline.balances[i] = account->balance;
    return baseline;
  }
  for (std::size_t i = 0; i < account_names.size(); ++i) {
    auto events = source.stream_events(account_names[i]);
    if (!events)
      return events.error();
    replayed_account account;
    if (auto problem = replay_stream(account_names[i], *events, account))
      return status{error_code::internal_error, "baseline: " + *problem};
    baseline.balances[i] = account.balance;
  }
  return baseline;
}

// -- Invariants 2 and 5: what the run appended ---------------------------------------------

namespace {

std::string count_text(std::uint64_t count, const char* singular, const char* plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

// "c completed, f failed[, d in doubt]": the harness's view of its transfers.
std::string harness_transfers_text(const transfer_tally& transfers) {
  std::string text = std::to_string(transfers.completed) + " completed, "
                     + std::to_string(transfers.failed) + " failed";
  if (transfers.in_doubt > 0)
    text += ", " + std::to_string(transfers.in_doubt) + " in doubt";
  return text;
}

// Whether `observed` is within what the harness's replies allow: exactly `answered`
// when no transfer is in doubt, else anything up to `answered + in_doubt` more.
bool within_doubt(std::uint64_t observed, std::uint64_t answered, std::uint64_t in_doubt) {
  return observed >= answered && observed <= answered + in_doubt;
}

// Invariants 2 and 5 from a scan of the global log: every event of the run is counted.
void check_run_events_with_log(const log_scanner& scanner, std::uint64_t appended,
                               const audit_expectations& expected,
                               std::vector<std::string>& failures) {
  const run_event_counts& counts = scanner.run_counts();
  const transfer_tally& harness = expected.transfers;
  const bool any_transfer = counts.transfer_steps() + counts.transfer_stream_events() > 0
                            || harness.answered() + harness.in_doubt > 0;
  // Without transfers this is the spec's invariant 2 as it stands: the head advanced by
  // exactly the accepted deposits and withdrawals.
  if (appended != expected.accepted_writes + counts.transfer_steps()
                    + counts.transfer_stream_events()) {
    std::string text = "invariant 2 (events == accepted commands): the head moved from "
                       + std::to_string(expected.baseline.head) + " to "
                       + std::to_string(expected.baseline.head + appended) + " ("
                       + std::to_string(appended) + " events) but the harness counted "
                       + std::to_string(expected.accepted_writes)
                       + " accepted deposits and withdrawals";
    if (any_transfer)
      text += " and the log holds "
              + count_text(counts.transfer_steps() + counts.transfer_stream_events(),
                           "transfer event", "transfer events");
    failures.push_back(text);
  }
  if (!any_transfer)
    return;
  if (!within_doubt(counts.completed, harness.completed, harness.in_doubt)
      || !within_doubt(counts.failed, harness.failed, harness.in_doubt)
      || counts.requested > harness.answered() + harness.in_doubt)
    failures.push_back("invariant 2 (events == accepted commands): the log holds "
                       + std::to_string(counts.requested) + " transfers requested, "
                       + std::to_string(counts.completed) + " completed and "
                       + std::to_string(counts.failed)
                       + " failed during the run, the harness's replies say "
                       + harness_transfers_text(harness));
  if (counts.credits != counts.completed || counts.settles != counts.completed
      || counts.debits != counts.credits + counts.refunds
      || counts.compensating != counts.refunds)
    failures.push_back("invariant 2 (transfer steps): the run's log holds "
                       + std::to_string(counts.debits) + " debits, "
                       + std::to_string(counts.credits) + " credits, "
                       + std::to_string(counts.settles) + " settlements, "
                       + std::to_string(counts.refunds) + " refunds and "
                       + std::to_string(counts.compensating) + " compensations for "
                       + std::to_string(counts.completed)
                       + " completed transfers (each completed one needs one debit, credit and "
                         "settlement; each refund one debit and one compensation)");
  if (scanner.unfinished_transfers() > 0)
    failures.push_back("invariant 5 (every transfer finished): "
                       + count_text(scanner.unfinished_transfers(), "transfer", "transfers")
                       + " requested during the run neither completed nor failed in the log, "
                         "the first "
                       + scanner.first_unfinished_transfer());
}

// Invariants 2 and 5 over HTTP: only account streams are readable, so the transfer
// streams' events are the positions the accounts' events leave out. Each finished
// transfer has two of them (requested; completed or failed) and one more when it was
// refunded (compensating).
void check_run_events_without_log(const run_event_counts& counts,
                                  std::vector<std::uint64_t> run_positions, std::uint64_t head,
                                  const audit_expectations& expected,
                                  std::vector<std::string>& failures) {
  const transfer_tally& harness = expected.transfers;
  const std::uint64_t base = expected.baseline.head;
  const std::uint64_t appended = head >= base ? head - base : 0;
  const bool any_transfer = counts.transfer_steps() > 0 || harness.answered() + harness.in_doubt > 0;
  const std::uint64_t visible = counts.total();
  const std::uint64_t hidden = appended >= visible ? appended - visible : 0;
  const std::uint64_t hidden_min = 2 * harness.answered() + counts.refunds;
  const std::uint64_t hidden_max = hidden_min + 2 * harness.in_doubt;
  const bool counts_agree = counts.deposits_and_withdrawals == expected.accepted_writes
                            && counts.other == 0 && appended >= visible
                            && (any_transfer ? hidden >= hidden_min && hidden <= hidden_max
                                             : hidden == 0);
  if (head < base || !counts_agree) {
    std::string text = "invariant 2 (events == accepted commands): the head moved from "
                       + std::to_string(base) + " to " + std::to_string(head) + " ("
                       + std::to_string(appended) + " events) but the harness counted "
                       + std::to_string(expected.accepted_writes)
                       + " accepted deposits and withdrawals";
    if (any_transfer)
      text += " and transfers " + harness_transfers_text(harness) + " (the accounts hold "
              + std::to_string(counts.transfer_steps())
              + " transfer steps, the transfer streams " + std::to_string(hidden)
              + " events where " + std::to_string(hidden_min)
              + (hidden_max == hidden_min ? std::string{}
                                          : " to " + std::to_string(hidden_max))
              + " were expected)";
    failures.push_back(text);
  }
  if (any_transfer
      && (counts.credits != counts.settles || counts.debits != counts.credits + counts.refunds
          || !within_doubt(counts.credits, harness.completed, harness.in_doubt)))
    failures.push_back("invariant 2 (transfer steps): the accounts hold "
                       + std::to_string(counts.debits) + " debits, "
                       + std::to_string(counts.credits) + " credits, "
                       + std::to_string(counts.settles) + " settlements and "
                       + std::to_string(counts.refunds)
                       + " refunds from the run, the harness's replies say "
                       + harness_transfers_text(harness));
  // The harness is the only writer during the run, so the accounts' events after the
  // baseline hold distinct positions in baseline.head + 1 .. head, and without
  // transfers every one of them.
  std::sort(run_positions.begin(), run_positions.end());
  std::uint64_t want = base + 1;
  for (const auto position : run_positions) {
    const bool gap_allowed = any_transfer && position > want;
    if (position > head || (position != want && !gap_allowed)) {
      failures.push_back("invariant 2 (positions contiguous): the accounts' events hold position "
                         + std::to_string(position) + " where position " + std::to_string(want)
                         + " was expected");
      break;
    }
    want = position + 1;
  }
}

// Invariant 5 from the read models at the head: nothing in flight, nothing unfinished,
// and money conserved.
void check_transfer_read_models(audit_source& source, const audit_expectations& expected,
                                const std::optional<log_scanner>& scanner, audit_result& out) {
  auto totals = source.totals(out.head);
  if (!totals) {
    out.failures.push_back("audit: reading the totals read model failed: "
                           + totals.error().to_string());
  } else {
    out.money_in_flight = totals->money_in_flight;
    if (scanner) {
      const auto sum = scanner->balance_sum();
      if (totals->total_balance != sum || totals->total_balance_overflow)
        out.failures.push_back("invariant 1 (totals agree): the totals read model shows "
                               + std::to_string(totals->total_balance)
                               + " in all accounts, the log's replay " + std::to_string(sum));
      if (totals->events != scanner->account_events())
        out.failures.push_back("invariant 2 (events == accepted commands): the totals read model "
                               "applied "
                               + std::to_string(totals->events) + " account events, the log holds "
                               + std::to_string(scanner->account_events()));
    }
    if (totals->total_balance < 0)
      out.failures.push_back("invariant 3 (no balance below zero): the totals read model shows "
                             + std::to_string(totals->total_balance) + " in all accounts");
    // Saturating sums cannot be compared; the read model says so by saturating.
    const bool saturated = totals->total_deposited == INT64_MAX
                           || totals->total_withdrawn == INT64_MAX
                           || totals->total_balance_overflow;
    std::int64_t held = 0;  // total_balance + money_in_flight; a lying view may overflow it
    const bool held_overflows =
      __builtin_add_overflow(totals->total_balance, totals->money_in_flight, &held);
    if (!saturated
        && (held_overflows || held != totals->total_deposited - totals->total_withdrawn))
      out.failures.push_back(
        "invariant 5 (money conserved): at position " + std::to_string(totals->as_of_position)
        + " the totals read model shows total_balance " + std::to_string(totals->total_balance)
        + " + money_in_flight " + std::to_string(totals->money_in_flight) + " != deposited "
        + std::to_string(totals->total_deposited) + " - withdrawn "
        + std::to_string(totals->total_withdrawn));
    if (totals->money_in_flight != 0)
      out.failures.push_back("invariant 5 (nothing in flight): after the run the totals read "
                             "model shows money_in_flight "
                             + std::to_string(totals->money_in_flight) + " at position "
                             + std::to_string(totals->as_of_position));
  }
  auto transfers = source.transfers(out.head);
  if (!transfers) {
    out.failures.push_back("audit: reading the transfers read model failed: "
                           + transfers.error().to_string());
    return;
  }
  out.transfers_in_progress = transfers->in_progress;
  if (transfers->in_progress != 0)
    out.failures.push_back("invariant 5 (every transfer finished): the transfers read model "
                           "shows "
                           + count_text(transfers->in_progress, "transfer", "transfers")
                           + " in progress at position "
                           + std::to_string(transfers->as_of_position));
  const auto& before = expected.baseline.transfers;
  if (scanner && transfers->completed && transfers->failed && before.completed && before.failed) {
    const auto completed = *transfers->completed - std::min(*transfers->completed, *before.completed);
    const auto failed = *transfers->failed - std::min(*transfers->failed, *before.failed);
    const auto& counts = scanner->run_counts();
    if (completed != counts.completed || failed != counts.failed)
      out.failures.push_back("invariant 5 (transfers agree): the transfers read model counts "
                             + std::to_string(completed) + " completed and "
                             + std::to_string(failed) + " failed during the run, the log "
                             + std::to_string(counts.completed) + " and "
                             + std::to_string(counts.failed));
  }
}

}  // namespace

// -- Invariants 1-3 and 5 -------------------------------------------------------------------

audit_result audit_invariants(audit_source& source, const audit_expectations& expected) {
  const auto started = std::chrono::steady_clock::now();
  audit_result out;
  const auto accounts = expected.account_names.size();
  auto head = source.head_position();
  if (!head) {
    out.failures.push_back("audit: reading the store's head failed: " + head.error().to_string());
    return out;
  }
  out.head = *head;
  const auto appended = out.head >= expected.baseline.head ? out.head - expected.baseline.head : 0;

  // The global log: positions, versions, the run's events, and a second, independent
  // replay.
  std::optional<log_scanner> scanner;
  if (source.has_global_log()) {
    scanner.emplace(expected.baseline.head);
    if (auto problem = scan_log(out.head, *scanner, [&](std::uint64_t from, std::uint64_t count) {
          return source.read_all(from, count);
        }))
      out.failures.push_back(*problem);
    for (const auto& problem : scanner->problems())
      out.failures.push_back(problem);
    if (out.head < expected.baseline.head)
      out.failures.push_back("invariant 2 (events == accepted commands): the head moved back from "
                             + std::to_string(expected.baseline.head) + " to "
                             + std::to_string(out.head));
    else
      check_run_events_with_log(*scanner, appended, expected, out.failures);
    out.run_events = scanner->run_counts();
  }

  // Invariants 1 and 3, account by account.
  first_of_kind read_failures;
  first_of_kind disagreements;
  first_of_kind negatives;
  first_of_kind stream_problems;
  // Without a global log, the run's events are checked through the accounts' events.
  std::vector<std::uint64_t> run_positions;
  run_event_counts account_run_events;
  out.expected_balances.resize(accounts);
  for (std::size_t i = 0; i < accounts; ++i) {
    const auto& name = expected.account_names[i];
    const std::int64_t tally = expected.baseline.balances.at(i) + expected.client_tally.at(i);
    out.expected_balances[i] = tally;
    std::vector<std::pair<const char*, std::int64_t>> views;
    views.emplace_back("harness tally", tally);
    auto read_model = source.read_model_balance(name, out.head);
    if (!read_model) {
      read_failures.add("audit: reading the read-model balance of " + name + " failed: "
                        + read_model.error().to_string());
      continue;
    }
    views.emplace_back("read model", read_model->balance);
    if (source.has_write_side()) {
      auto write_side = source.write_side_state(name);
      if (!write_side) {
        read_failures.add("audit: reading the write-side state of " + name + " failed: "
                          + write_side.error().to_string());
        continue;
      }
      views.emplace_back("write side", write_side->balance);
    }
    auto events = source.stream_events(name);
    if (!events) {
      read_failures.add("audit: reading the events of " + name + " failed: "
                        + events.error().to_string());
      continue;
    }
    if (!scanner)
      for (const auto& event : *events)
        if (event.position > expected.baseline.head) {
          run_positions.push_back(event.position);
          count_event(account_run_events, event.type);
        }
    replayed_account replayed;
    if (auto problem = replay_stream(name, *events, replayed))
      stream_problems.add(*problem);
    views.emplace_back("stream replay", replayed.balance);
    if (scanner) {
      const auto* logged = scanner->find(name);
      views.emplace_back("log replay", logged == nullptr ? 0 : logged->balance);
    }
    bool agree = true;
    bool negative = false;
    for (const auto& view : views) {
      agree = agree && view.second == tally;
      negative = negative || view.second < 0;
    }
    if (!agree)
      disagreements.add("invariant 1 (balances agree): first offending account " + name + ": "
                        + describe_views(views));
    if (negative)
      negatives.add("invariant 3 (no balance below zero): first offending account " + name + ": "
                    + describe_views(views));
    ++out.accounts_checked;
  }
  disagreements.report(out.failures, "accounts differ");
  negatives.report(out.failures, "accounts below zero");
  stream_problems.report(out.failures, "streams with problems");
  read_failures.report(out.failures, "reads failed");
  if (!scanner && read_failures.count == 0) {
    check_run_events_without_log(account_run_events, std::move(run_positions), out.head, expected,
                                 out.failures);
    out.run_events = account_run_events;
  }

  check_transfer_read_models(source, expected, scanner, out);
  out.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

// -- Invariant 4 ------------------------------------------------------------------------------

bool wait_for_directory_unlocked(const std::string& directory, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string lock_path = directory + "/" + std::string{store::lock_file_name};
  for (;;) {
    // Taking the lock and dropping it at once: free now means free for the cold read,
    // since nothing in this process opens the directory again meanwhile.
    if (posix_file_system().lock_file(lock_path))
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

std::vector<std::string> audit_durable_directory(const std::string& directory,
                                                 const audit_expectations& expected,
                                                 const audit_result& live) {
  std::vector<std::string> failures;
  auto& fs = posix_file_system();
  const auto verified = store::verify_data_directory(fs, directory);
  for (const auto& problem : verified.problems) {
    // A clean shutdown leaves no torn tail, so a warning is a failure here too.
    failures.push_back("invariant 4 (checksum-verified read): " + problem.file + " at offset "
                       + std::to_string(problem.offset) + ": " + problem.description);
    break;
  }
  if (verified.events != live.head)
    failures.push_back("invariant 4 (same event count): verify counted "
                       + std::to_string(verified.events) + " events, the live store's head was "
                       + std::to_string(live.head));

  recovery_report recovery;
  file_journal_options options;
  options.directory = directory;
  auto cold = open_file_journal(fs, options, &recovery);
  if (!cold) {
    failures.push_back("invariant 4 (cold read): opening " + directory + " failed: "
                       + cold.error().to_string());
    return failures;
  }
  if (!recovery.clean()) {
    const auto& action = recovery.actions.front();
    failures.push_back("invariant 4 (no torn tail): opening cut " + action.file + " at offset "
                       + std::to_string(action.offset) + ": " + action.reason);
  }
  const journal& events = **cold;
  if (events.head() != live.head)
    failures.push_back("invariant 4 (same event count): the cold journal's head is "
                       + std::to_string(events.head()) + ", the live store's was "
                       + std::to_string(live.head));
  log_scanner scanner;
  if (auto problem = scan_log(events.head(), scanner, [&](std::uint64_t from, std::uint64_t count) {
        return events.read_all(from, count);
      }))
    failures.push_back("invariant 4 (cold read): " + *problem);
  for (const auto& problem : scanner.problems())
    failures.push_back("invariant 4 (cold read): " + problem);
  first_of_kind differences;
  first_of_kind negatives;
  for (std::size_t i = 0; i < expected.account_names.size() && i < live.expected_balances.size();
       ++i) {
    const auto& name = expected.account_names[i];
    const auto* account = scanner.find(name);
    const std::int64_t cold_balance = account == nullptr ? 0 : account->balance;
    if (cold_balance != live.expected_balances[i])
      differences.add("invariant 4 (same balances): first offending account " + name
                      + ": cold read " + std::to_string(cold_balance) + ", harness tally "
                      + std::to_string(live.expected_balances[i]));
    if (cold_balance < 0)
      negatives.add("invariant 3 (no balance below zero): first offending account " + name
                    + ": cold read " + std::to_string(cold_balance));
  }
  differences.report(failures, "accounts differ");
  negatives.report(failures, "accounts below zero");
  return failures;
}

}  // namespace tally::load
