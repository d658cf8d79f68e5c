// The pure account decider: decide(state, command) -> events | rule broken, and
// evolve(state, event) -> state. No CAF, no I/O.

#include <cstring>

#include "messages/byte_codec.hpp"
#include "tally/assert.hpp"
#include "tally/bank.hpp"
#include "tally/ids.hpp"

namespace tally::bank {

namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

constexpr std::size_t amount_bytes = sizeof(money);
static_assert(amount_bytes == 8, "payload encodes amounts as 8 bytes");

// The rules shared by every command addressed to an existing, open account.
error_code check_open(const account_state& state) {
  if (state.status == account_status::not_opened)
    return error_code::account_not_found;
  if (state.status == account_status::closed)
    return error_code::account_closed;
  return error_code::none;
}

}  // namespace

const std::string& target_account(const account_command& command) noexcept {
  return std::visit([](const auto& x) -> const std::string& { return x.account_id; }, command);
}

bool is_client_command(const account_command& command) noexcept {
  return std::holds_alternative<open_account>(command)
         || std::holds_alternative<deposit_money>(command)
         || std::holds_alternative<withdraw_money>(command)
         || std::holds_alternative<close_account>(command);
}

bool is_valid_account_id(std::string_view account_id) noexcept {
  return is_valid_stream_id(account_id) && account_id.find(':') == std::string_view::npos;
}

std::string_view command_name(const account_command& command) noexcept {
  return std::visit(overloaded{
                      [](const open_account&) { return std::string_view{"open_account"}; },
                      [](const deposit_money&) { return std::string_view{"deposit_money"}; },
                      [](const withdraw_money&) { return std::string_view{"withdraw_money"}; },
                      [](const close_account&) { return std::string_view{"close_account"}; },
                      [](const debit_for_transfer&) { return std::string_view{"debit_for_transfer"}; },
                      [](const credit_for_transfer&) { return std::string_view{"credit_for_transfer"}; },
                      [](const refund_for_transfer&) { return std::string_view{"refund_for_transfer"}; },
                      [](const settle_transfer&) { return std::string_view{"settle_transfer"}; },
                    },
                    command);
}

std::uint64_t fingerprint(const account_command& command) noexcept {
  // The bytes hashed: the command's name, NUL, the account id, NUL, then the amount (8
  // bytes, little-endian) and the transfer id where the command has them. The hash is
  // persisted with every event: these bytes never change (account_decider_test pins
  // the values). Built on the stack, as a std::string of them cost an allocation per
  // command (2 % of the in-memory runtime's time).
  const std::string_view name = command_name(command);
  const std::string& account = target_account(command);
  bool has_amount = false;
  money amount = 0;
  std::string_view transfer_id;
  auto take = [&](money value, std::string_view transfer) {
    has_amount = true;
    amount = value;
    transfer_id = transfer;
  };
  std::visit(overloaded{
               [&](const deposit_money& x) { take(x.amount, {}); },
               [&](const withdraw_money& x) { take(x.amount, {}); },
               [&](const debit_for_transfer& x) { take(x.amount, x.transfer_id); },
               [&](const credit_for_transfer& x) { take(x.amount, x.transfer_id); },
               [&](const refund_for_transfer& x) { take(x.amount, x.transfer_id); },
               [&](const settle_transfer& x) { transfer_id = x.transfer_id; },
               [](const auto&) {},
             },
             command);
  const std::size_t size = name.size() + 1 + account.size() + 1
                           + (has_amount ? sizeof(std::uint64_t) : 0) + transfer_id.size();
  char local[256];
  std::string large;  // only for ids longer than any the API accepts
  char* bytes = local;
  if (size > sizeof local) {
    large.resize(size);
    bytes = large.data();
  }
  char* next = bytes;
  auto put = [&next](std::string_view text) {
    if (!text.empty())
      std::memcpy(next, text.data(), text.size());
    next += text.size();
  };
  put(name);
  *next++ = '\0';
  put(account);
  *next++ = '\0';
  if (has_amount) {
    const auto value = static_cast<std::uint64_t>(amount);
    for (std::size_t i = 0; i < sizeof value; ++i)
      *next++ = static_cast<char>((value >> (8 * i)) & 0xFF);
  }
  put(transfer_id);
  TALLY_ASSERT(next == bytes + size);
  return stable_hash(std::string_view{bytes, size}, 0x7a11e7);
}

std::string_view event_name(const account_event& event) noexcept {
  return std::visit(
    overloaded{
      [](const account_opened&) { return std::string_view{"account_opened"}; },
      [](const money_deposited&) { return std::string_view{"money_deposited"}; },
      [](const money_withdrawn&) { return std::string_view{"money_withdrawn"}; },
      [](const account_closed&) { return std::string_view{"account_closed"}; },
      [](const money_debited_for_transfer&) { return std::string_view{"money_debited_for_transfer"}; },
      [](const money_credited_for_transfer&) { return std::string_view{"money_credited_for_transfer"}; },
      [](const money_refunded_for_transfer&) { return std::string_view{"money_refunded_for_transfer"}; },
      [](const transfer_settled&) { return std::string_view{"transfer_settled"}; },
    },
    event);
}

bool is_transfer_step_event(std::string_view type) noexcept {
  return type == "money_debited_for_transfer" || type == "money_credited_for_transfer"
         || type == "money_refunded_for_transfer" || type == "transfer_settled";
}

money balance_change(const account_event& event) noexcept {
  return std::visit(overloaded{
                      [](const money_deposited& x) { return x.amount; },
                      [](const money_withdrawn& x) { return -x.amount; },
                      [](const money_debited_for_transfer& x) { return -x.amount; },
                      [](const money_credited_for_transfer& x) { return x.amount; },
                      [](const money_refunded_for_transfer& x) { return x.amount; },
                      [](const auto&) { return money{0}; },
                    },
                    event);
}

money in_flight_change(const account_event& event) noexcept {
  return std::visit(overloaded{
                      [](const money_debited_for_transfer& x) { return x.amount; },
                      [](const money_credited_for_transfer& x) { return -x.amount; },
                      [](const money_refunded_for_transfer& x) { return -x.amount; },
                      [](const auto&) { return money{0}; },
                    },
                    event);
}

std::string encode_payload(const account_event& event) {
  std::string out;
  std::visit(overloaded{
               [&](const money_deposited& x) { append_i64_le(out, x.amount); },
               [&](const money_withdrawn& x) { append_i64_le(out, x.amount); },
               [&](const money_debited_for_transfer& x) {
                 append_i64_le(out, x.amount);
                 out += x.transfer_id;
               },
               [&](const money_credited_for_transfer& x) {
                 append_i64_le(out, x.amount);
                 out += x.transfer_id;
               },
               [&](const money_refunded_for_transfer& x) {
                 append_i64_le(out, x.amount);
                 out += x.transfer_id;
               },
               [&](const transfer_settled& x) { out += x.transfer_id; },
               [](const auto&) {},
             },
             event);
  return out;
}

result<account_event> decode_event(std::string_view type, std::uint16_t schema_version,
                                   std::string_view payload) {
  if (schema_version != account_event_schema_version)
    return status{error_code::invalid_argument,
                  "unsupported schema version " + std::to_string(schema_version) + " for "
                    + std::string{type}};
  auto expect_size = [&](std::size_t size) { return payload.size() == size; };
  // Transfer steps: amount, then a non-empty transfer id of at most stream_id_bytes_max.
  auto transfer_id_after = [&](std::size_t offset) -> std::optional<std::string> {
    if (payload.size() <= offset || payload.size() - offset > stream_id_bytes_max)
      return std::nullopt;
    return std::string{payload.substr(offset)};
  };
  if (type == "account_opened" && expect_size(0))
    return account_event{account_opened{}};
  if (type == "account_closed" && expect_size(0))
    return account_event{account_closed{}};
  if (type == "money_deposited" && expect_size(amount_bytes))
    return account_event{money_deposited{load_i64_le(payload)}};
  if (type == "money_withdrawn" && expect_size(amount_bytes))
    return account_event{money_withdrawn{load_i64_le(payload)}};
  if (type == "money_debited_for_transfer")
    if (auto id = transfer_id_after(amount_bytes))
      return account_event{money_debited_for_transfer{std::move(*id), load_i64_le(payload)}};
  if (type == "money_credited_for_transfer")
    if (auto id = transfer_id_after(amount_bytes))
      return account_event{money_credited_for_transfer{std::move(*id), load_i64_le(payload)}};
  if (type == "money_refunded_for_transfer")
    if (auto id = transfer_id_after(amount_bytes))
      return account_event{money_refunded_for_transfer{std::move(*id), load_i64_le(payload)}};
  if (type == "transfer_settled")
    if (auto id = transfer_id_after(0))
      return account_event{transfer_settled{std::move(*id)}};
  return status{error_code::invalid_argument,
                "unknown account event type or payload size: " + std::string{type} + " ("
                  + std::to_string(payload.size()) + " bytes)"};
}

std::string_view to_string(account_status status) noexcept {
  switch (status) {
    case account_status::not_opened:
      return "not_opened";
    case account_status::open:
      return "open";
    case account_status::closed:
      return "closed";
  }
  return "unknown";
}

std::string encode_state(const account_state& state) {
  std::string out;
  out.push_back(static_cast<char>(state.status));
  append_i64_le(out, state.balance);
  append_u32_le(out, static_cast<std::uint32_t>(state.outgoing_transfers.size()));
  for (const auto& [transfer_id, amount] : state.outgoing_transfers) {
    TALLY_ASSERT(!transfer_id.empty());
    append_short_text(out, transfer_id);
    append_i64_le(out, amount);
  }
  return out;
}

std::optional<account_state> decode_state(std::string_view bytes) {
  if (bytes.size() < 1 + amount_bytes + 4)
    return std::nullopt;
  auto status_byte = static_cast<std::uint8_t>(bytes[0]);
  if (status_byte > static_cast<std::uint8_t>(account_status::closed))
    return std::nullopt;
  account_state state;
  state.status = static_cast<account_status>(status_byte);
  state.balance = load_i64_le(bytes.substr(1));
  const std::uint32_t count = load_u32_le(bytes.substr(1 + amount_bytes));
  if (count > outgoing_transfers_max)
    return std::nullopt;
  auto rest = bytes.substr(1 + amount_bytes + 4);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string transfer_id;
    if (!take_short_text(rest, transfer_id) || transfer_id.empty() || rest.size() < amount_bytes)
      return std::nullopt;
    auto amount = load_i64_le(rest);
    rest.remove_prefix(amount_bytes);
    auto total = checked_add(state.outgoing_total, amount);
    if (amount <= 0 || !total || !state.outgoing_transfers.emplace(std::move(transfer_id), amount).second)
      return std::nullopt;
    state.outgoing_total = *total;
  }
  if (!rest.empty() || state.balance < 0 || !checked_add(state.balance, state.outgoing_total)
      || (state.status != account_status::open
          && (state.balance != 0 || !state.outgoing_transfers.empty())))
    return std::nullopt;
  return state;
}

namespace {

// Room for `amount` more: balance and money still owed back to the account (refunds)
// must stay representable.
bool has_room_for(const account_state& state, money amount) {
  auto with_outgoing = checked_add(state.balance, state.outgoing_total);
  return with_outgoing && checked_add(*with_outgoing, amount);
}

}  // namespace

result<std::vector<account_event>> decide(const account_state& state,
                                          const account_command& command) {
  using events = std::vector<account_event>;
  auto valid_transfer_id = [](const std::string& transfer_id) {
    return !transfer_id.empty() && transfer_id.size() <= stream_id_bytes_max;
  };
  return std::visit(
    overloaded{
      [&](const open_account& x) -> result<events> {
        if (!is_valid_account_id(x.account_id))
          return error_code::invalid_argument;
        if (state.status != account_status::not_opened)
          return error_code::account_already_exists;
        return events{account_opened{}};
      },
      [&](const deposit_money& x) -> result<events> {
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (!has_room_for(state, x.amount))
          return error_code::balance_would_overflow;
        return events{money_deposited{x.amount}};
      },
      [&](const withdraw_money& x) -> result<events> {
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (x.amount > state.balance)
          return error_code::insufficient_funds;
        return events{money_withdrawn{x.amount}};
      },
      [&](const close_account&) -> result<events> {
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (state.balance != 0)
          return error_code::account_not_empty;
        if (!state.outgoing_transfers.empty())
          return error_code::transfers_in_progress;
        return events{account_closed{}};
      },
      [&](const debit_for_transfer& x) -> result<events> {
        if (!valid_transfer_id(x.transfer_id))
          return error_code::invalid_argument;
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (x.amount > state.balance)
          return error_code::insufficient_funds;
        if (state.outgoing_transfers.count(x.transfer_id) != 0)
          return error_code::transfer_already_exists;
        if (state.outgoing_transfers.size() >= outgoing_transfers_max)
          return error_code::limit_exceeded;
        return events{money_debited_for_transfer{x.transfer_id, x.amount}};
      },
      [&](const credit_for_transfer& x) -> result<events> {
        if (!valid_transfer_id(x.transfer_id))
          return error_code::invalid_argument;
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (!has_room_for(state, x.amount))
          return error_code::balance_would_overflow;
        return events{money_credited_for_transfer{x.transfer_id, x.amount}};
      },
      [&](const refund_for_transfer& x) -> result<events> {
        if (!valid_transfer_id(x.transfer_id))
          return error_code::invalid_argument;
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        auto outgoing = state.outgoing_transfers.find(x.transfer_id);
        if (outgoing == state.outgoing_transfers.end() || outgoing->second != x.amount)
          return error_code::transfer_not_found;
        return events{money_refunded_for_transfer{x.transfer_id, x.amount}};
      },
      [&](const settle_transfer& x) -> result<events> {
        if (!valid_transfer_id(x.transfer_id))
          return error_code::invalid_argument;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (state.outgoing_transfers.count(x.transfer_id) == 0)
          return error_code::transfer_not_found;
        return events{transfer_settled{x.transfer_id}};
      },
    },
    command);
}

account_state evolve(account_state state, const account_event& event) {
  std::visit(overloaded{
               [&](const account_opened&) {
                 TALLY_ASSERT(state.status == account_status::not_opened);
                 state.status = account_status::open;
               },
               [&](const money_deposited& x) {
                 TALLY_ASSERT(state.status == account_status::open && x.amount > 0);
                 auto next = checked_add(state.balance, x.amount);
                 TALLY_ASSERT(next.has_value());
                 state.balance = *next;
               },
               [&](const money_withdrawn& x) {
                 TALLY_ASSERT(state.status == account_status::open && x.amount > 0);
                 TALLY_ASSERT(x.amount <= state.balance);
                 state.balance -= x.amount;
               },
               [&](const account_closed&) {
                 TALLY_ASSERT(state.status == account_status::open && state.balance == 0);
                 TALLY_ASSERT(state.outgoing_transfers.empty());
                 state.status = account_status::closed;
               },
               [&](const money_debited_for_transfer& x) {
                 TALLY_ASSERT(state.status == account_status::open && x.amount > 0);
                 TALLY_ASSERT(x.amount <= state.balance);
                 state.balance -= x.amount;
                 auto inserted = state.outgoing_transfers.emplace(x.transfer_id, x.amount).second;
                 TALLY_ASSERT(inserted);
                 state.outgoing_total += x.amount;  // cannot overflow: it came out of balance
               },
               [&](const money_credited_for_transfer& x) {
                 TALLY_ASSERT(state.status == account_status::open && x.amount > 0);
                 auto next = checked_add(state.balance, x.amount);
                 TALLY_ASSERT(next.has_value());
                 state.balance = *next;
               },
               [&](const money_refunded_for_transfer& x) {
                 TALLY_ASSERT(state.status == account_status::open);
                 auto outgoing = state.outgoing_transfers.find(x.transfer_id);
                 TALLY_ASSERT(outgoing != state.outgoing_transfers.end()
                              && outgoing->second == x.amount);
                 state.outgoing_transfers.erase(outgoing);
                 state.outgoing_total -= x.amount;
                 auto next = checked_add(state.balance, x.amount);
                 TALLY_ASSERT(next.has_value());
                 state.balance = *next;
               },
               [&](const transfer_settled& x) {
                 TALLY_ASSERT(state.status == account_status::open);
                 auto outgoing = state.outgoing_transfers.find(x.transfer_id);
                 TALLY_ASSERT(outgoing != state.outgoing_transfers.end());
                 state.outgoing_total -= outgoing->second;
                 state.outgoing_transfers.erase(outgoing);
               },
             },
             event);
  TALLY_ASSERT(state.balance >= 0 && state.outgoing_total >= 0);
  return state;
}

}  // namespace tally::bank
