#include "app/load-drivers/invariant_audit.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_map>
#include <variant>

#include "store/verify.hpp"
#include "tally/bank.hpp"
#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"
#include "tally/journal.hpp"
#include "tally/runtime.hpp"

namespace tally::load {

namespace {

// -- Replaying events ------------------------------------------------------------------

// The balance effect of one account event, or nullopt when the event is not an account
// event the harness knows. Deliberately not bank::evolve(): that one asserts on an
// impossible event (a withdrawal below zero), and the audit must report such an event
// as a failure instead of stopping the process.
struct replayed_account {
  std::int64_t balance = 0;
  std::uint64_t version = 0;
};

std::optional<std::string> apply_account_event(replayed_account& account,
                                               const recorded_event& event) {
  auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
  if (!decoded)
    return decoded.error().to_string();
  if (const auto* deposited = std::get_if<bank::money_deposited>(&*decoded))
    account.balance += deposited->amount;
  else if (const auto* withdrawn = std::get_if<bank::money_withdrawn>(&*decoded))
    account.balance -= withdrawn->amount;
  return std::nullopt;
}

// One pass over the global log from position 1: checks that positions and stream
// versions are contiguous and replays every account stream. Records only the first
// problem of each kind, so a broken log gives a few lines, not millions.
class log_scanner {
public:
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
    if (auto problem = apply_account_event(stream, event); problem && !decode_reported_) {
      decode_reported_ = true;
      problems_.push_back("invariant 2 (events decode): event at position "
                          + std::to_string(event.position) + " of stream " + event.stream_id
                          + ": " + *problem);
    }
  }

  std::uint64_t last_position() const noexcept { return last_position_; }
  std::uint64_t events() const noexcept { return events_; }
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
  std::unordered_map<std::string, replayed_account> streams_;
  std::vector<std::string> problems_;
  std::uint64_t last_position_ = 0;
  std::uint64_t events_ = 0;
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

// -- Baseline -------------------------------------------------------------------------------

result<audit_baseline> take_audit_baseline(audit_source& source,
                                           const std::vector<std::string>& account_names) {
  audit_baseline baseline;
  auto head = source.head_position();
  if (!head)
    return head.error();
  baseline.head = *head;
  baseline.balances.assign(account_names.size(), 0);
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

// -- Invariants 1-3 -------------------------------------------------------------------------

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

  // Invariant 2: the head advanced by exactly the accepted writes.
  const auto appended = out.head >= expected.baseline.head ? out.head - expected.baseline.head : 0;
  if (out.head < expected.baseline.head || appended != expected.accepted_writes)
    out.failures.push_back(
      "invariant 2 (events == accepted commands): the head moved from "
      + std::to_string(expected.baseline.head) + " to " + std::to_string(out.head) + " ("
      + std::to_string(appended) + " events) but the harness counted "
      + std::to_string(expected.accepted_writes) + " accepted deposits and withdrawals");

  // The global log: positions, versions, and a second, independent replay.
  std::optional<log_scanner> scanner;
  if (source.has_global_log()) {
    scanner.emplace();
    if (auto problem = scan_log(out.head, *scanner, [&](std::uint64_t from, std::uint64_t count) {
          return source.read_all(from, count);
        }))
      out.failures.push_back(*problem);
    for (const auto& problem : scanner->problems())
      out.failures.push_back(problem);
  }

  // Invariants 1 and 3, account by account.
  first_of_kind read_failures;
  first_of_kind disagreements;
  first_of_kind negatives;
  first_of_kind stream_problems;
  // Without a global log, the run's positions are checked through the accounts' events.
  std::vector<std::uint64_t> run_positions;
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
        if (event.position > expected.baseline.head)
          run_positions.push_back(event.position);
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
    // The harness is the only writer during the run, so the workload accounts' events
    // after the baseline must be exactly positions baseline.head + 1 .. head.
    std::sort(run_positions.begin(), run_positions.end());
    std::uint64_t want = expected.baseline.head + 1;
    for (const auto position : run_positions) {
      if (position != want) {
        out.failures.push_back("invariant 2 (positions contiguous): the accounts' events hold position "
                               + std::to_string(position) + " where position "
                               + std::to_string(want) + " was expected");
        break;
      }
      ++want;
    }
  }

  // The totals read model against the log's replay of every stream.
  if (scanner) {
    auto totals = source.totals(out.head);
    if (!totals) {
      out.failures.push_back("audit: reading the totals read model failed: "
                             + totals.error().to_string());
    } else {
      const auto sum = scanner->balance_sum();
      if (totals->total_balance != sum || totals->total_balance_overflow)
        out.failures.push_back("invariant 1 (totals agree): the totals read model shows "
                               + std::to_string(totals->total_balance)
                               + " in all accounts, the log's replay "
                               + std::to_string(sum));
      if (totals->events != scanner->events())
        out.failures.push_back("invariant 2 (events == accepted commands): the totals read model "
                               "applied "
                               + std::to_string(totals->events) + " events, the log holds "
                               + std::to_string(scanner->events()));
      if (totals->total_balance < 0)
        out.failures.push_back("invariant 3 (no balance below zero): the totals read model shows "
                               + std::to_string(totals->total_balance) + " in all accounts");
    }
  }
  out.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

// -- Invariant 4 ------------------------------------------------------------------------------

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
