#include "actors/projections/bank_read_models.hpp"

#include <algorithm>
#include <limits>

#include "messages/byte_codec.hpp"
#include "tally/assert.hpp"

namespace tally {

namespace {

__extension__ typedef unsigned __int128 unsigned_int128;

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

// Version 2 added the transfer events and totals fields; older checkpoints are
// refused, so the projection rebuilds from the log.
constexpr std::uint8_t checkpoint_format_version = 2;

// Indexed by the account_event variant index.
constexpr std::string_view account_event_names[] = {
  "account_opened",  "money_deposited",           "money_withdrawn",
  "account_closed",  "money_debited_for_transfer", "money_credited_for_transfer",
  "money_refunded_for_transfer", "transfer_settled"};
static_assert(std::variant_size_v<bank::account_event> == std::size(account_event_names));

std::optional<std::uint8_t> account_event_index(std::string_view type) {
  for (std::uint8_t i = 0; i < std::size(account_event_names); ++i)
    if (account_event_names[i] == type)
      return i;
  return std::nullopt;
}

// Events of other aggregate types share the log; the bank's read models skip them.
std::optional<bank::account_event> account_event_of(const recorded_event& event) {
  if (!account_event_index(event.type) || bank::is_transfer_stream(event.stream_id))
    return std::nullopt;
  auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
  TALLY_ASSERT_MSG(decoded.has_value(), "committed account event must decode");
  return std::move(*decoded);
}

money amount_of(const bank::account_event& event) {
  return std::visit(overloaded{
                      [](const bank::money_deposited& x) { return x.amount; },
                      [](const bank::money_withdrawn& x) { return x.amount; },
                      [](const bank::money_debited_for_transfer& x) { return x.amount; },
                      [](const bank::money_credited_for_transfer& x) { return x.amount; },
                      [](const bank::money_refunded_for_transfer& x) { return x.amount; },
                      [](const auto&) { return money{0}; },
                    },
                    event);
}

money clamp_to_money(int128 value) {
  constexpr int128 high = std::numeric_limits<money>::max();
  constexpr int128 low = std::numeric_limits<money>::min();
  return static_cast<money>(std::clamp(value, low, high));
}

void put_int128(byte_writer& out, int128 value) {
  auto bits = static_cast<unsigned_int128>(value);
  out.u64(static_cast<std::uint64_t>(bits));
  out.u64(static_cast<std::uint64_t>(bits >> 64));
}

bool get_int128(byte_reader& in, int128& value) {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  if (!in.u64(low) || !in.u64(high))
    return false;
  value = static_cast<int128>((static_cast<unsigned_int128>(high) << 64) | low);
  return true;
}

bool read_header(byte_reader& in) {
  std::uint8_t version = 0;
  return in.u8(version) && version == checkpoint_format_version;
}

}  // namespace

// -- balances --------------------------------------------------------------------------

void balance_read_model::apply(const recorded_event& event) {
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  auto& view = accounts_[event.stream_id];
  TALLY_ASSERT(event.stream_version == view.version + 1);
  if (std::holds_alternative<bank::account_opened>(*decoded)) {
    TALLY_ASSERT(view.status == bank::account_status::not_opened);
    view.status = bank::account_status::open;
  } else if (std::holds_alternative<bank::account_closed>(*decoded)) {
    TALLY_ASSERT(view.status == bank::account_status::open && view.balance == 0);
    view.status = bank::account_status::closed;
  } else {
    TALLY_ASSERT(view.status == bank::account_status::open);
    view.balance += bank::balance_change(*decoded);  // the decider kept it in range
  }
  TALLY_ASSERT(view.balance >= 0);
  view.exists = true;
  view.version = event.stream_version;
}

balance_view balance_read_model::answer(const balance_query& query, std::uint64_t position) const {
  balance_view view;
  if (const auto* found = accounts_.find(query.account_id))
    view = *found;
  view.as_of_position = position;
  return view;
}

std::string balance_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  out.u64(accounts_.size());
  for (const auto& [account_id, view] : accounts_.entries()) {
    out.text(account_id);
    out.u8(static_cast<std::uint8_t>(view.status));
    out.i64(view.balance);
    out.u64(view.version);
  }
  return std::move(out.bytes());
}

bool balance_read_model::decode(std::string_view bytes) {
  byte_reader in{bytes};
  std::uint64_t count = 0;
  if (!read_header(in) || !in.u64(count))
    return false;
  detail::flat_string_map<balance_view> accounts;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string account_id;
    std::uint8_t status = 0;
    balance_view view;
    if (!in.text(account_id) || !in.u8(status) || !in.i64(view.balance) || !in.u64(view.version))
      return false;
    if (status > static_cast<std::uint8_t>(bank::account_status::closed) || view.balance < 0
        || accounts.find(account_id) != nullptr)
      return false;
    view.exists = true;
    view.status = static_cast<bank::account_status>(status);
    accounts[account_id] = view;
  }
  if (!in.at_end())
    return false;
  accounts_ = std::move(accounts);
  return true;
}

// -- history ---------------------------------------------------------------------------

void history_read_model::apply(const recorded_event& event) {
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  auto& history = accounts_[event.stream_id];
  TALLY_ASSERT(event.stream_version == history.entries.size() + 1);
  money amount = amount_of(*decoded);
  history.balance += bank::balance_change(*decoded);  // the decider kept it in range
  history.entries.push_back(stored_entry{event.position, event.timestamp_ns, event.command, amount,
                                         history.balance, static_cast<std::uint8_t>(decoded->index())},
                            *entry_memory_);
}

history_page history_read_model::answer(const history_query& query, std::uint64_t position) const {
  history_page page;
  page.as_of_position = position;
  const auto* history = accounts_.find(query.account_id);
  if (history == nullptr)
    return page;
  const auto& entries = history->entries;
  page.total_events = entries.size();
  auto first = std::max<std::uint64_t>(query.from_version, 1);
  auto count = std::min<std::uint64_t>(query.max_events, history_page_events_max);
  for (auto version = first; version <= entries.size() && page.entries.size() < count; ++version) {
    const auto& entry = entries[version - 1];
    page.entries.push_back(history_entry{entry.position, version,
                                         std::string{account_event_names[entry.type]}, entry.amount,
                                         entry.balance_after, entry.timestamp_ns, entry.command});
  }
  auto next = first + page.entries.size();
  page.next_version = next <= entries.size() ? next : 0;
  return page;
}

// The history frozen for a checkpoint: each account's id and the entries it had, read
// through copies of its chunk pointers. apply() writes only past those entries and never
// moves a chunk, and the image keeps the arena, so encode() may run on another thread
// while the model goes on (or after it is gone).
class history_read_model::image final : public checkpoint_image {
public:
  explicit image(const history_read_model& model) : memory_(model.entry_memory_) {
    accounts_.reserve(model.accounts_.size());
    for (const auto& [account_id, history] : model.accounts_.entries())
      accounts_.push_back(frozen_account{std::string{account_id}, entry_chunks::frozen{history.entries}});
  }

  std::string encode() const override {
    // Sized once, to an upper bound: a model of millions of entries would otherwise
    // grow its string by doublings, copying it again each time.
    std::size_t longest_name = 0;
    for (const auto name : account_event_names)
      longest_name = std::max(longest_name, name.size());
    constexpr std::size_t entry_fields = 7;  // position, version, amounts, time, command id
    std::size_t bytes = 1 + 8;
    for (const auto& account : accounts_)
      bytes += 8 + account.id.size() + 8
               + account.entries.size() * (entry_fields * 8 + 8 + longest_name);
    byte_writer out;
    out.bytes().reserve(bytes);
    out.u8(checkpoint_format_version);
    out.u64(accounts_.size());
    for (const auto& account : accounts_) {
      const auto& entries = account.entries;
      out.text(account.id);
      out.u64(entries.size());
      for (std::size_t index = 0; index < entries.size(); ++index) {
        const auto& entry = entries[index];
        out.u64(entry.position);
        out.u64(index + 1);
        out.text(account_event_names[entry.type]);
        out.i64(entry.amount);
        out.i64(entry.balance_after);
        out.i64(entry.timestamp_ns);
        out.u64(entry.command.high);
        out.u64(entry.command.low);
      }
    }
    TALLY_ASSERT(out.bytes().size() <= bytes);
    return std::move(out.bytes());
  }

private:
  struct frozen_account {
    std::string id;
    entry_chunks::frozen entries;
  };
  std::vector<frozen_account> accounts_;
  std::shared_ptr<const store::prepared_arena> memory_;  // where the entries are
};

std::string history_read_model::encode() const {
  return image{*this}.encode();
}

checkpoint_image_ptr history_read_model::take_image() const {
  return std::make_shared<const image>(*this);
}

bool history_read_model::decode(std::string_view bytes) {
  byte_reader in{bytes};
  std::uint64_t count = 0;
  if (!read_header(in) || !in.u64(count))
    return false;
  detail::flat_string_map<account_history> accounts;
  auto memory = std::make_shared<store::prepared_arena>();
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string account_id;
    std::uint64_t entry_count = 0;
    if (!in.text(account_id) || !in.u64(entry_count) || accounts.find(account_id) != nullptr)
      return false;
    auto& history = accounts[account_id];
    auto& entries = history.entries;
    for (std::uint64_t j = 0; j < entry_count; ++j) {
      stored_entry entry{};
      std::uint64_t version = 0;
      std::string type;
      if (!in.u64(entry.position) || !in.u64(version) || !in.text(type)
          || !in.i64(entry.amount) || !in.i64(entry.balance_after) || !in.i64(entry.timestamp_ns)
          || !in.u64(entry.command.high) || !in.u64(entry.command.low))
        return false;
      auto index = account_event_index(type);
      if (version != entries.size() + 1 || !index)
        return false;
      entry.type = *index;
      entries.push_back(entry, *memory);
    }
    history.balance = entries.empty() ? 0 : entries.back().balance_after;
  }
  if (!in.at_end())
    return false;
  accounts_ = std::move(accounts);
  entry_memory_ = std::move(memory);
  return true;
}

// -- totals ----------------------------------------------------------------------------

void totals_read_model::apply(const recorded_event& event) {
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  ++events_;
  money_in_flight_ += bank::in_flight_change(*decoded);
  std::visit(overloaded{
               [&](const bank::account_opened&) { ++accounts_open_; },
               [&](const bank::money_deposited& x) {
                 total_balance_ += x.amount;
                 total_deposited_ += x.amount;
               },
               [&](const bank::money_withdrawn& x) {
                 total_balance_ -= x.amount;
                 total_withdrawn_ += x.amount;
               },
               [&](const bank::account_closed&) {
                 TALLY_ASSERT(accounts_open_ > 0);
                 --accounts_open_;
                 ++accounts_closed_;
               },
               [&](const auto& transfer_step) {
                 total_balance_ += bank::balance_change(bank::account_event{transfer_step});
               },
             },
             *decoded);
  TALLY_ASSERT(total_balance_ >= 0 && money_in_flight_ >= 0);
  TALLY_ASSERT_MSG(total_balance_ + money_in_flight_ == total_deposited_ - total_withdrawn_,
                   "money is neither created nor lost");
}

totals_view totals_read_model::answer(const totals_query&, std::uint64_t position) const {
  totals_view view;
  view.total_balance = clamp_to_money(total_balance_);
  view.total_balance_overflow = total_balance_ != static_cast<int128>(view.total_balance);
  view.accounts_open = accounts_open_;
  view.accounts_closed = accounts_closed_;
  view.events = events_;
  view.total_deposited = clamp_to_money(total_deposited_);
  view.total_withdrawn = clamp_to_money(total_withdrawn_);
  view.money_in_flight = clamp_to_money(money_in_flight_);
  view.as_of_position = position;
  return view;
}

std::string totals_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  put_int128(out, total_balance_);
  put_int128(out, total_deposited_);
  put_int128(out, total_withdrawn_);
  put_int128(out, money_in_flight_);
  out.u64(accounts_open_);
  out.u64(accounts_closed_);
  out.u64(events_);
  return std::move(out.bytes());
}

bool totals_read_model::decode(std::string_view bytes) {
  byte_reader in{bytes};
  totals_read_model decoded;
  if (!read_header(in) || !get_int128(in, decoded.total_balance_)
      || !get_int128(in, decoded.total_deposited_) || !get_int128(in, decoded.total_withdrawn_)
      || !get_int128(in, decoded.money_in_flight_) || !in.u64(decoded.accounts_open_) || !in.u64(decoded.accounts_closed_)
      || !in.u64(decoded.events_) || !in.at_end())
    return false;
  if (decoded.total_balance_ < 0 || decoded.money_in_flight_ < 0
      || decoded.total_balance_ + decoded.money_in_flight_
           != decoded.total_deposited_ - decoded.total_withdrawn_)
    return false;
  *this = decoded;
  return true;
}

// -- transfers -------------------------------------------------------------------------

void transfer_read_model::apply(const recorded_event& event) {
  if (bank::is_transfer_stream(event.stream_id)) {
    if (!bank::is_transfer_event(event.type))
      return;
    auto decoded = bank::decode_transfer_event(event.type, event.schema_version, event.payload);
    TALLY_ASSERT_MSG(decoded.has_value(), "committed transfer event must decode");
    auto transfer_id = event.stream_id.substr(bank::transfer_stream_prefix.size());
    auto& view = transfers_[transfer_id];
    view.last_position = event.position;
    std::visit(overloaded{
                 [&](const bank::transfer_requested& x) {
                   TALLY_ASSERT(!view.exists);
                   view.transfer_id = transfer_id;
                   view.exists = true;
                   view.status = bank::transfer_status::requested;
                   view.source = x.source;
                   view.target = x.target;
                   view.amount = x.amount;
                   view.requested_position = event.position;
                   unfinished_.insert(transfer_id);
                 },
                 [&](const bank::transfer_compensating& x) {
                   TALLY_ASSERT(view.status == bank::transfer_status::requested);
                   view.status = bank::transfer_status::compensating;
                   view.reason = x.reason;
                 },
                 [&](const bank::transfer_completed&) {
                   TALLY_ASSERT(view.status == bank::transfer_status::requested);
                   view.status = bank::transfer_status::completed;
                   unfinished_.erase(transfer_id);
                   ++completed_;
                 },
                 [&](const bank::transfer_failed& x) {
                   TALLY_ASSERT(view.status == bank::transfer_status::requested
                                || view.status == bank::transfer_status::compensating);
                   view.status = bank::transfer_status::failed;
                   view.reason = x.reason;
                   unfinished_.erase(transfer_id);
                   ++failed_;
                 },
               },
               *decoded);
    return;
  }
  if (!bank::is_transfer_step_event(event.type))
    return;
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  auto change = bank::in_flight_change(*decoded);
  money_in_flight_ += change;
  TALLY_ASSERT(money_in_flight_ >= 0);
  const auto& transfer_id = std::visit(
    [](const auto& step) -> const std::string& {
      if constexpr (std::is_same_v<std::decay_t<decltype(step)>, bank::account_opened>
                    || std::is_same_v<std::decay_t<decltype(step)>, bank::money_deposited>
                    || std::is_same_v<std::decay_t<decltype(step)>, bank::money_withdrawn>
                    || std::is_same_v<std::decay_t<decltype(step)>, bank::account_closed>) {
        static const std::string none;
        return none;
      } else {
        return step.transfer_id;
      }
    },
    *decoded);
  // Steps always follow transfer_requested, unless a trusted host sent transfer steps
  // to the account router itself; those still count in the money in flight.
  auto it = transfers_.find(transfer_id);
  if (it == transfers_.end())
    return;
  auto& view = it->second;
  view.last_position = event.position;
  view.in_flight += change;
  view.debited |= std::holds_alternative<bank::money_debited_for_transfer>(*decoded);
  view.credited |= std::holds_alternative<bank::money_credited_for_transfer>(*decoded);
  view.refunded |= std::holds_alternative<bank::money_refunded_for_transfer>(*decoded);
  view.settled |= std::holds_alternative<bank::transfer_settled>(*decoded);
}

transfers_page transfer_read_model::answer(const transfers_query& query, std::uint64_t position) const {
  transfers_page page;
  page.as_of_position = position;
  page.money_in_flight = clamp_to_money(money_in_flight_);
  page.transfers_in_progress = unfinished_.size();
  page.transfers_completed = completed_;
  page.transfers_failed = failed_;
  if (!query.transfer_id.empty()) {
    auto it = transfers_.find(query.transfer_id);
    if (it != transfers_.end()) {
      page.transfers.push_back(it->second);
    } else {
      transfer_view unknown;
      unknown.transfer_id = query.transfer_id;
      page.transfers.push_back(std::move(unknown));
    }
    return page;
  }
  auto count = std::min<std::uint64_t>(query.max_transfers, transfers_page_max);
  for (auto it = unfinished_.upper_bound(query.after_transfer_id);
       it != unfinished_.end() && page.transfers.size() < count; ++it)
    page.transfers.push_back(transfers_.at(*it));
  return page;
}

std::string transfer_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  put_int128(out, money_in_flight_);
  out.u64(completed_);
  out.u64(failed_);
  out.u64(transfers_.size());
  for (const auto& [transfer_id, view] : transfers_) {
    out.text(transfer_id);
    out.u8(static_cast<std::uint8_t>(view.status));
    out.text(view.source);
    out.text(view.target);
    out.i64(view.amount);
    out.u8(static_cast<std::uint8_t>(view.reason));
    out.u8(static_cast<std::uint8_t>((view.debited ? 1 : 0) | (view.credited ? 2 : 0)
                                     | (view.refunded ? 4 : 0) | (view.settled ? 8 : 0)));
    out.i64(view.in_flight);
    out.u64(view.requested_position);
    out.u64(view.last_position);
  }
  return std::move(out.bytes());
}

bool transfer_read_model::decode(std::string_view bytes) {
  byte_reader in{bytes};
  transfer_read_model decoded;
  std::uint64_t count = 0;
  if (!read_header(in) || !get_int128(in, decoded.money_in_flight_) || !in.u64(decoded.completed_)
      || !in.u64(decoded.failed_) || !in.u64(count))
    return false;
  int128 in_flight_sum = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    transfer_view view;
    std::uint8_t status = 0;
    std::uint8_t reason = 0;
    std::uint8_t flags = 0;
    if (!in.text(view.transfer_id) || !in.u8(status) || !in.text(view.source)
        || !in.text(view.target) || !in.i64(view.amount) || !in.u8(reason) || !in.u8(flags)
        || !in.i64(view.in_flight) || !in.u64(view.requested_position) || !in.u64(view.last_position))
      return false;
    if (status == 0 || status > static_cast<std::uint8_t>(bank::transfer_status::failed)
        || reason >= error_code_count || flags > 15 || view.in_flight < 0)
      return false;
    view.exists = true;
    view.status = static_cast<bank::transfer_status>(status);
    view.reason = static_cast<error_code>(reason);
    view.debited = (flags & 1) != 0;
    view.credited = (flags & 2) != 0;
    view.refunded = (flags & 4) != 0;
    view.settled = (flags & 8) != 0;
    in_flight_sum += view.in_flight;
    if (!bank::is_finished(view.status))
      decoded.unfinished_.insert(view.transfer_id);
    auto transfer_id = view.transfer_id;
    if (!decoded.transfers_.emplace(std::move(transfer_id), std::move(view)).second)
      return false;
  }
  if (!in.at_end() || decoded.money_in_flight_ < in_flight_sum || in_flight_sum < 0)
    return false;
  *this = std::move(decoded);
  return true;
}

}  // namespace tally
