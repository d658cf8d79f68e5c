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

constexpr std::uint8_t checkpoint_format_version = 1;

// Events of other aggregate types share the log; the bank's read models skip them.
std::optional<bank::account_event> account_event_of(const recorded_event& event) {
  if (event.type != "account_opened" && event.type != "money_deposited"
      && event.type != "money_withdrawn" && event.type != "account_closed")
    return std::nullopt;
  auto decoded = bank::decode_event(event.type, event.schema_version, event.payload);
  TALLY_ASSERT_MSG(decoded.has_value(), "committed account event must decode");
  return std::move(*decoded);
}

money amount_of(const bank::account_event& event) {
  return std::visit(overloaded{
                      [](const bank::money_deposited& x) { return x.amount; },
                      [](const bank::money_withdrawn& x) { return x.amount; },
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
  bank::account_state state{view.status, view.balance};
  state = bank::evolve(state, *decoded);
  view.exists = true;
  view.status = state.status;
  view.balance = state.balance;
  view.version = event.stream_version;
}

balance_view balance_read_model::answer(const balance_query& query, std::uint64_t position) const {
  balance_view view;
  if (auto it = accounts_.find(query.account_id); it != accounts_.end())
    view = it->second;
  view.as_of_position = position;
  return view;
}

std::string balance_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  out.u64(accounts_.size());
  for (const auto& [account_id, view] : accounts_) {
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
  std::unordered_map<std::string, balance_view> accounts;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string account_id;
    std::uint8_t status = 0;
    balance_view view;
    if (!in.text(account_id) || !in.u8(status) || !in.i64(view.balance) || !in.u64(view.version))
      return false;
    if (status > static_cast<std::uint8_t>(bank::account_status::closed) || view.balance < 0)
      return false;
    view.exists = true;
    view.status = static_cast<bank::account_status>(status);
    accounts.emplace(std::move(account_id), view);
  }
  if (!in.at_end())
    return false;
  accounts_ = std::move(accounts);
  return true;
}

// -- history ---------------------------------------------------------------------------

namespace {

constexpr std::string_view account_event_names[] = {"account_opened", "money_deposited",
                                                    "money_withdrawn", "account_closed"};
static_assert(std::variant_size_v<bank::account_event> == 4);

std::optional<std::uint8_t> account_event_index(std::string_view type) {
  for (std::uint8_t i = 0; i < 4; ++i)
    if (account_event_names[i] == type)
      return i;
  return std::nullopt;
}

}  // namespace

void history_read_model::apply(const recorded_event& event) {
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  auto& entries = accounts_[event.stream_id];
  TALLY_ASSERT(event.stream_version == entries.size() + 1);
  money before = entries.empty() ? 0 : entries.back().balance_after;
  money amount = amount_of(*decoded);
  money after = before;
  if (std::holds_alternative<bank::money_deposited>(*decoded))
    after = before + amount;  // cannot overflow: the decider checked it
  else if (std::holds_alternative<bank::money_withdrawn>(*decoded))
    after = before - amount;
  entries.push_back(stored_entry{event.position, event.timestamp_ns, event.command, amount, after,
                                 static_cast<std::uint8_t>(decoded->index())});
}

history_page history_read_model::answer(const history_query& query, std::uint64_t position) const {
  history_page page;
  page.as_of_position = position;
  auto it = accounts_.find(query.account_id);
  if (it == accounts_.end())
    return page;
  const auto& entries = it->second;
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

std::string history_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  out.u64(accounts_.size());
  for (const auto& [account_id, entries] : accounts_) {
    out.text(account_id);
    out.u64(entries.size());
    std::uint64_t version = 0;
    for (const auto& entry : entries) {
      out.u64(entry.position);
      out.u64(++version);
      out.text(account_event_names[entry.type]);
      out.i64(entry.amount);
      out.i64(entry.balance_after);
      out.i64(entry.timestamp_ns);
      out.u64(entry.command.high);
      out.u64(entry.command.low);
    }
  }
  return std::move(out.bytes());
}

bool history_read_model::decode(std::string_view bytes) {
  byte_reader in{bytes};
  std::uint64_t count = 0;
  if (!read_header(in) || !in.u64(count))
    return false;
  std::unordered_map<std::string, std::vector<stored_entry>> accounts;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string account_id;
    std::uint64_t entry_count = 0;
    if (!in.text(account_id) || !in.u64(entry_count))
      return false;
    auto& entries = accounts[account_id];
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
      entries.push_back(entry);
    }
  }
  if (!in.at_end())
    return false;
  accounts_ = std::move(accounts);
  return true;
}

// -- totals ----------------------------------------------------------------------------

void totals_read_model::apply(const recorded_event& event) {
  auto decoded = account_event_of(event);
  if (!decoded)
    return;
  ++events_;
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
             },
             *decoded);
  TALLY_ASSERT(total_balance_ >= 0);
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
  view.as_of_position = position;
  return view;
}

std::string totals_read_model::encode() const {
  byte_writer out;
  out.u8(checkpoint_format_version);
  put_int128(out, total_balance_);
  put_int128(out, total_deposited_);
  put_int128(out, total_withdrawn_);
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
      || !in.u64(decoded.accounts_open_) || !in.u64(decoded.accounts_closed_)
      || !in.u64(decoded.events_) || !in.at_end())
    return false;
  if (decoded.total_balance_ < 0)
    return false;
  *this = decoded;
  return true;
}

}  // namespace tally
