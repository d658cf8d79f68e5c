// The pure account decider: every rule in its documented order, and property tests
// over 10,000 seeded random command sequences.
#include <gtest/gtest.h>

#include <limits>

#include "support/seed.hpp"
#include "tally/bank.hpp"
#include "tally/ids.hpp"

using namespace tally;
using namespace tally::bank;

namespace {

__extension__ typedef __int128 int128;

account_state with_status(account_status status, money balance) {
  account_state state;
  state.status = status;
  state.balance = balance;
  return state;
}

account_state open_with(money balance) { return with_status(account_status::open, balance); }

error_code rejection_of(const account_state& state, const account_command& command) {
  auto decision = decide(state, command);
  return decision ? error_code::none : decision.error().code();
}

}  // namespace

TEST(account_decider, opens_a_new_account) {
  auto decision = decide(account_state{}, open_account{"a"});
  ASSERT_TRUE(decision);
  ASSERT_EQ(decision->size(), 1u);
  EXPECT_TRUE(std::holds_alternative<account_opened>(decision->front()));
  EXPECT_EQ(evolve(account_state{}, decision->front()).status, account_status::open);
}

TEST(account_decider, rejects_opening_an_existing_or_closed_account) {
  EXPECT_EQ(rejection_of(open_with(0), open_account{"a"}), error_code::account_already_exists);
  EXPECT_EQ(rejection_of(with_status(account_status::closed, 0), open_account{"a"}),
            error_code::account_already_exists);
}

TEST(account_decider, rejects_non_positive_amounts_before_anything_else) {
  for (money amount : {money{0}, money{-1}, std::numeric_limits<money>::min()}) {
    EXPECT_EQ(rejection_of(account_state{}, deposit_money{"a", amount}),
              error_code::amount_must_be_positive);
    EXPECT_EQ(rejection_of(account_state{}, withdraw_money{"a", amount}),
              error_code::amount_must_be_positive);
  }
}

TEST(account_decider, rejects_commands_for_missing_or_closed_accounts) {
  account_state closed = with_status(account_status::closed, 0);
  EXPECT_EQ(rejection_of(account_state{}, deposit_money{"a", 5}), error_code::account_not_found);
  EXPECT_EQ(rejection_of(account_state{}, withdraw_money{"a", 5}), error_code::account_not_found);
  EXPECT_EQ(rejection_of(account_state{}, close_account{"a"}), error_code::account_not_found);
  EXPECT_EQ(rejection_of(closed, deposit_money{"a", 5}), error_code::account_closed);
  EXPECT_EQ(rejection_of(closed, withdraw_money{"a", 5}), error_code::account_closed);
  EXPECT_EQ(rejection_of(closed, close_account{"a"}), error_code::account_closed);
}

TEST(account_decider, rejects_withdrawal_beyond_balance) {
  EXPECT_EQ(rejection_of(open_with(99), withdraw_money{"a", 100}), error_code::insufficient_funds);
  auto decision = decide(open_with(100), withdraw_money{"a", 100});
  ASSERT_TRUE(decision);
  EXPECT_EQ(evolve(open_with(100), decision->front()).balance, 0);
}

TEST(account_decider, rejects_deposit_that_would_overflow) {
  const money max = std::numeric_limits<money>::max();
  EXPECT_EQ(rejection_of(open_with(max), deposit_money{"a", 1}), error_code::balance_would_overflow);
  EXPECT_EQ(rejection_of(open_with(1), deposit_money{"a", max}), error_code::balance_would_overflow);
  auto decision = decide(open_with(0), deposit_money{"a", max});
  ASSERT_TRUE(decision);
  EXPECT_EQ(evolve(open_with(0), decision->front()).balance, max);
}

TEST(account_decider, closes_only_an_empty_account) {
  EXPECT_EQ(rejection_of(open_with(1), close_account{"a"}), error_code::account_not_empty);
  auto decision = decide(open_with(0), close_account{"a"});
  ASSERT_TRUE(decision);
  EXPECT_EQ(evolve(open_with(0), decision->front()).status, account_status::closed);
}

TEST(account_decider, payloads_round_trip_and_bad_payloads_are_errors) {
  for (account_event event : {account_event{account_opened{}}, account_event{money_deposited{42}},
                              account_event{money_withdrawn{std::numeric_limits<money>::max()}},
                              account_event{account_closed{}}}) {
    auto decoded = decode_event(event_name(event), account_event_schema_version,
                                encode_payload(event));
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(*decoded, event);
  }
  EXPECT_FALSE(decode_event("money_deposited", account_event_schema_version, "short"));
  EXPECT_FALSE(decode_event("money_deposited", 2, std::string(8, '\0')));
  EXPECT_FALSE(decode_event("no_such_event", account_event_schema_version, ""));
}

TEST(account_decider, state_encoding_round_trips_and_rejects_garbage) {
  for (auto state : {account_state{}, open_with(0), open_with(123456789),
                     with_status(account_status::closed, 0)}) {
    auto decoded = decode_state(encode_state(state));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, state);
  }
  EXPECT_FALSE(decode_state(""));
  EXPECT_FALSE(decode_state(std::string(9, '\x07')));
  EXPECT_FALSE(decode_state(encode_state(open_with(5)).substr(0, 8)));
}

// The snapshot layout of docs/log_format.md ("Snapshot states", account format 2), byte
// for byte: snapshots written before a codec change must still decode.
TEST(account_decider, state_encoding_is_the_documented_layout_and_every_truncation_is_refused) {
  auto state = open_with(0x0102030405060708);
  state.outgoing_transfers = {{"t1", 0x20}, {"transfer-2", 0x0100}};
  state.outgoing_total = 0x120;
  const std::string expected = std::string{"\x01", 1}                      // status: open
                               + std::string{"\x08\x07\x06\x05\x04\x03\x02\x01", 8}  // balance
                               + std::string{"\x02\x00\x00\x00", 4}          // 2 transfers
                               + std::string{"\x02t1", 3} + std::string{"\x20\0\0\0\0\0\0\0", 8}
                               + std::string{"\x0atransfer-2", 11}
                               + std::string{"\x00\x01\0\0\0\0\0\0", 8};
  const std::string encoded = encode_state(state);
  EXPECT_EQ(encoded, expected);
  auto decoded = decode_state(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, state);
  for (std::size_t size = 0; size < encoded.size(); ++size)
    EXPECT_FALSE(decode_state(encoded.substr(0, size))) << "a prefix of " << size << " bytes";
  EXPECT_FALSE(decode_state(encoded + '\0')) << "trailing bytes";
  // Well-formed but for one rule each: an empty transfer id, one id twice.
  const std::string open_at_zero = encode_state(open_with(0)).substr(0, 1 + 8);
  const std::string one = std::string{"\x01\0\0\0\0\0\0\0", 8};
  const std::string one_transfer = open_at_zero + std::string{"\x01\0\0\0", 4};
  const std::string two_transfers = open_at_zero + std::string{"\x02\0\0\0", 4};
  EXPECT_TRUE(decode_state(one_transfer + "\x02t1" + one));
  EXPECT_FALSE(decode_state(one_transfer + std::string{"\0", 1} + one)) << "an empty transfer id";
  EXPECT_FALSE(decode_state(two_transfers + "\x02t1" + one + "\x02t1" + one))
    << "one transfer id twice";
}

TEST(account_decider, fingerprint_depends_on_every_field) {
  EXPECT_EQ(fingerprint(deposit_money{"a", 5}), fingerprint(deposit_money{"a", 5}));
  EXPECT_NE(fingerprint(deposit_money{"a", 5}), fingerprint(deposit_money{"a", 6}));
  EXPECT_NE(fingerprint(deposit_money{"a", 5}), fingerprint(deposit_money{"b", 5}));
  EXPECT_NE(fingerprint(deposit_money{"a", 5}), fingerprint(withdraw_money{"a", 5}));
  EXPECT_NE(fingerprint(open_account{"a"}), fingerprint(close_account{"a"}));
}

// The fingerprint is persisted with every event (dedup across restarts compares it):
// the values the code gave when it built the bytes in a std::string (2026-11-30), one
// per command type.
TEST(account_decider, fingerprint_values_never_change) {
  EXPECT_EQ(fingerprint(open_account{"account-0000042"}), 5897706981913562165ULL);
  EXPECT_EQ(fingerprint(deposit_money{"account-0000042", 12345}), 8768477394115880434ULL);
  EXPECT_EQ(fingerprint(withdraw_money{"a", -1}), 1952102576781619462ULL);
  EXPECT_EQ(fingerprint(close_account{"account-0000042"}), 2132155383865324006ULL);
  EXPECT_EQ(fingerprint(debit_for_transfer{"account-1", "t-77", 500}), 13346582657024542375ULL);
  EXPECT_EQ(fingerprint(credit_for_transfer{"account-2", "t-77", 500}), 12600877329038305084ULL);
  EXPECT_EQ(fingerprint(refund_for_transfer{"account-1", "t-77", 500}), 14870414727757527887ULL);
  EXPECT_EQ(fingerprint(settle_transfer{"account-1", "t-77"}), 8841757696596415786ULL);
  // Longer than the stack buffer: the same bytes, hashed the same way.
  const std::string long_id(300, 'x');
  const std::string bytes = std::string{"deposit_money"} + '\0' + long_id + '\0'
                            + std::string{"\x02\x00\x00\x00\x00\x00\x00\x00", 8};
  EXPECT_EQ(fingerprint(deposit_money{long_id, 2}), tally::stable_hash(bytes, 0x7a11e7));
}

// Property: for any command sequence, (1) no balance is ever negative, (2) replaying
// the accepted events reproduces the decider's state, (3) a rejection leaves the state
// unchanged, (4) the balance equals deposits minus withdrawals.
TEST(account_decider, random_command_sequences_keep_every_invariant) {
  constexpr std::uint64_t sequences = 10000;
  constexpr int commands_per_sequence = 60;
  auto only = test_support::seed_from_environment();
  for (std::uint64_t seed = only.value_or(1); seed <= (only ? *only : sequences); ++seed) {
    SCOPED_TRACE(test_support::replay_hint(seed, "account_decider.random_command_sequences_*"));
    test_support::splitmix64 random{seed};
    account_state state;
    std::vector<account_event> accepted;
    // 128-bit: the sums of accepted amounts may exceed int64 (deposit near max,
    // withdraw it, deposit again); the balance itself never does.
    int128 deposited = 0;
    int128 withdrawn = 0;
    for (int i = 0; i < commands_per_sequence; ++i) {
      // Amounts: mostly small, sometimes zero/negative/huge to hit every rule.
      money amount = static_cast<money>(random.below(2000)) - 100;
      if (random.below(50) == 0)
        amount = std::numeric_limits<money>::max() - static_cast<money>(random.below(3));
      account_command command;
      switch (random.below(10)) {
        case 0:
          command = open_account{"a"};
          break;
        case 1:
          command = close_account{"a"};
          break;
        case 2:
        case 3:
        case 4:
        case 5:
          command = deposit_money{"a", amount};
          break;
        default:
          command = withdraw_money{"a", amount};
      }
      auto before = state;
      auto decision = decide(state, command);
      if (!decision) {
        ASSERT_TRUE(is_rejection(decision.error().code()));
        ASSERT_EQ(state, before) << "a rejection changed the state";
        continue;
      }
      for (const auto& event : *decision) {
        state = evolve(state, event);
        accepted.push_back(event);
        if (auto* x = std::get_if<money_deposited>(&event))
          deposited += x->amount;
        if (auto* x = std::get_if<money_withdrawn>(&event))
          withdrawn += x->amount;
      }
      ASSERT_GE(state.balance, 0);
      if (state.status == account_status::closed) {
        // A closed account takes nothing; keep exploring with a fresh one.
        account_state replayed;
        for (const auto& event : accepted)
          replayed = evolve(replayed, event);
        ASSERT_EQ(replayed, state);
        state = account_state{};
        accepted.clear();
        deposited = withdrawn = 0;
      }
    }
    account_state replayed;
    for (const auto& event : accepted)
      replayed = evolve(replayed, event);
    ASSERT_EQ(replayed, state);
    ASSERT_TRUE(static_cast<int128>(state.balance) == deposited - withdrawn);
  }
}
