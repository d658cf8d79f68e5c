// The pure account decider: decide(state, command) -> events | rule broken, and
// evolve(state, event) -> state. No CAF, no I/O.
#include <cstring>

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

void put_money(std::string& out, money value) {
  auto bits = static_cast<std::uint64_t>(value);
  for (std::size_t i = 0; i < amount_bytes; ++i)
    out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

money get_money(std::string_view in) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < amount_bytes; ++i)
    bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return static_cast<money>(bits);
}

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

std::string_view command_name(const account_command& command) noexcept {
  return std::visit(overloaded{
                      [](const open_account&) { return std::string_view{"open_account"}; },
                      [](const deposit_money&) { return std::string_view{"deposit_money"}; },
                      [](const withdraw_money&) { return std::string_view{"withdraw_money"}; },
                      [](const close_account&) { return std::string_view{"close_account"}; },
                    },
                    command);
}

std::uint64_t fingerprint(const account_command& command) noexcept {
  std::string bytes{command_name(command)};
  bytes.push_back('\0');
  bytes += target_account(command);
  bytes.push_back('\0');
  std::visit(overloaded{
               [&](const deposit_money& x) { put_money(bytes, x.amount); },
               [&](const withdraw_money& x) { put_money(bytes, x.amount); },
               [](const auto&) {},
             },
             command);
  return stable_hash(bytes, 0x7a11e7);
}

std::string_view event_name(const account_event& event) noexcept {
  return std::visit(overloaded{
                      [](const account_opened&) { return std::string_view{"account_opened"}; },
                      [](const money_deposited&) { return std::string_view{"money_deposited"}; },
                      [](const money_withdrawn&) { return std::string_view{"money_withdrawn"}; },
                      [](const account_closed&) { return std::string_view{"account_closed"}; },
                    },
                    event);
}

std::string encode_payload(const account_event& event) {
  std::string out;
  std::visit(overloaded{
               [&](const money_deposited& x) { put_money(out, x.amount); },
               [&](const money_withdrawn& x) { put_money(out, x.amount); },
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
  if (type == "account_opened" && expect_size(0))
    return account_event{account_opened{}};
  if (type == "account_closed" && expect_size(0))
    return account_event{account_closed{}};
  if (type == "money_deposited" && expect_size(amount_bytes))
    return account_event{money_deposited{get_money(payload)}};
  if (type == "money_withdrawn" && expect_size(amount_bytes))
    return account_event{money_withdrawn{get_money(payload)}};
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
  put_money(out, state.balance);
  return out;
}

std::optional<account_state> decode_state(std::string_view bytes) {
  if (bytes.size() != 1 + amount_bytes)
    return std::nullopt;
  auto status_byte = static_cast<std::uint8_t>(bytes[0]);
  if (status_byte > static_cast<std::uint8_t>(account_status::closed))
    return std::nullopt;
  account_state state;
  state.status = static_cast<account_status>(status_byte);
  state.balance = get_money(bytes.substr(1));
  if (state.balance < 0 || (state.status != account_status::open && state.balance != 0))
    return std::nullopt;
  return state;
}

result<std::vector<account_event>> decide(const account_state& state,
                                          const account_command& command) {
  using events = std::vector<account_event>;
  return std::visit(
    overloaded{
      [&](const open_account&) -> result<events> {
        if (state.status != account_status::not_opened)
          return error_code::account_already_exists;
        return events{account_opened{}};
      },
      [&](const deposit_money& x) -> result<events> {
        if (x.amount <= 0)
          return error_code::amount_must_be_positive;
        if (auto rule = check_open(state); rule != error_code::none)
          return rule;
        if (!checked_add(state.balance, x.amount))
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
        return events{account_closed{}};
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
                 state.status = account_status::closed;
               },
             },
             event);
  TALLY_ASSERT(state.balance >= 0);
  return state;
}

}  // namespace tally::bank
