// The history read model keeps each account's events in chunks that grow (8, 16, 32,
// ... entries). Every page, across every chunk boundary, must hold exactly the events
// applied, in order, with the right balances; a checkpoint must bring back the same.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "actors/projections/bank_read_models.hpp"
#include "tally/bank.hpp"

namespace tally {
namespace {

struct expected_entry {
  std::uint64_t position;
  std::string type;
  money amount;
  money balance_after;
};

recorded_event account_event(std::uint64_t position, const std::string& account,
                             std::uint64_t version, const bank::account_event& event) {
  recorded_event out;
  out.position = position;
  out.stream_id = account;
  out.stream_version = version;
  out.type = std::string{bank::event_name(event)};
  out.schema_version = bank::account_event_schema_version;
  out.payload = bank::encode_payload(event);
  out.command = command_id{position, 7};
  out.timestamp_ns = static_cast<std::int64_t>(position) * 1000;
  return out;
}

// Two accounts, interleaved: 1 + 299 events for "a", 1 + 40 for "b".
struct applied {
  history_read_model model;
  std::vector<expected_entry> a, b;
  std::uint64_t position = 0;

  applied() {
    money balance_a = 0, balance_b = 0;
    add("a", a, bank::account_opened{}, "account_opened", 0, balance_a);
    add("b", b, bank::account_opened{}, "account_opened", 0, balance_b);
    for (int i = 1; i < 300; ++i) {
      money amount = i;
      if (i % 3 == 0)
        add("a", a, bank::money_withdrawn{amount}, "money_withdrawn", -amount, balance_a);
      else
        add("a", a, bank::money_deposited{amount}, "money_deposited", amount, balance_a);
      if (i % 7 == 0 && b.size() < 41)
        add("b", b, bank::money_deposited{amount}, "money_deposited", amount, balance_b);
    }
  }

  void add(const std::string& account, std::vector<expected_entry>& into,
           const bank::account_event& event, const std::string& type, money change,
           money& balance) {
    balance += change;
    model.apply(account_event(++position, account, into.size() + 1, event));
    into.push_back(expected_entry{position, type, change < 0 ? -change : change, balance});
  }
};

void expect_pages(const history_read_model& model, const std::string& account,
                  const std::vector<expected_entry>& expected, std::uint64_t page_size) {
  SCOPED_TRACE(account + ", pages of " + std::to_string(page_size));
  std::uint64_t from = 1;
  std::size_t seen = 0;
  while (from != 0) {
    auto page = model.answer(history_query{account, from, page_size}, 999);
    EXPECT_EQ(page.total_events, expected.size());
    ASSERT_LE(page.entries.size(), page_size);
    for (const auto& entry : page.entries) {
      ASSERT_LT(seen, expected.size());
      const auto& want = expected[seen];
      EXPECT_EQ(entry.version, seen + 1);
      EXPECT_EQ(entry.position, want.position);
      EXPECT_EQ(entry.type, want.type);
      EXPECT_EQ(entry.amount, want.amount);
      EXPECT_EQ(entry.balance_after, want.balance_after);
      EXPECT_EQ(entry.timestamp_ns, static_cast<std::int64_t>(want.position) * 1000);
      ++seen;
    }
    from = page.next_version;
  }
  EXPECT_EQ(seen, expected.size());
}

TEST(history_read_model, pages_hold_every_event_across_chunk_boundaries) {
  applied run;
  ASSERT_EQ(run.a.size(), 300u);  // chunks of 8, 16, 32, 64, 128 and part of 256
  ASSERT_EQ(run.b.size(), 41u);
  for (std::uint64_t page_size : {1u, 7u, 8u, 24u, 1000u}) {
    expect_pages(run.model, "a", run.a, page_size);
    expect_pages(run.model, "b", run.b, page_size);
  }
  // A page from inside a chunk, through the next boundary (versions 20..29).
  auto page = run.model.answer(history_query{"a", 20, 10}, 999);
  ASSERT_EQ(page.entries.size(), 10u);
  EXPECT_EQ(page.entries.front().position, run.a[19].position);
  EXPECT_EQ(page.entries.back().position, run.a[28].position);
  EXPECT_EQ(page.next_version, 30u);
  EXPECT_TRUE(run.model.answer(history_query{"nobody", 1, 10}, 999).entries.empty());
}

TEST(history_read_model, a_checkpoint_brings_back_every_page) {
  applied run;
  history_read_model restored;
  ASSERT_TRUE(restored.decode(run.model.encode()));
  expect_pages(restored, "a", run.a, 13);
  expect_pages(restored, "b", run.b, 13);
  // Applying goes on from where the checkpoint was, with the balance it held.
  restored.apply(account_event(run.position + 1, "a", run.a.size() + 1, bank::money_deposited{5}));
  auto page = restored.answer(history_query{"a", 301, 10}, 999);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].balance_after, run.a.back().balance_after + 5);
}

// Deposits into `account` (opened by the `applied` run, or opened here at version 1)
// until it holds `versions` events; returns the next position.
std::uint64_t deposit_until(history_read_model& model, std::uint64_t position,
                            const std::string& account, std::uint64_t from_version,
                            std::uint64_t versions) {
  for (std::uint64_t version = from_version; version <= versions; ++version) {
    if (version == 1)
      model.apply(account_event(++position, account, 1, bank::account_opened{}));
    else
      model.apply(account_event(++position, account, version, bank::money_deposited{1}));
  }
  return position;
}

// The checkpoint writer encodes an image of the model while the model goes on: the
// bytes must be those of the moment the image was taken, whatever was applied since
// (appends inside a chunk, new chunks, new accounts), and they must decode.
TEST(history_read_model, an_image_encodes_the_model_as_it_was_when_taken) {
  applied run;
  const std::string expected = run.model.encode();
  auto image = run.model.take_image();
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->encode(), expected);
  std::uint64_t position = deposit_until(run.model, run.position, "a", 301, 700);  // new chunks
  position = deposit_until(run.model, position, "b", 42, 45);  // inside a chunk
  position = deposit_until(run.model, position, "c", 1, 30);   // a new account
  EXPECT_NE(run.model.encode(), expected);
  EXPECT_EQ(image->encode(), expected);
  history_read_model restored;
  ASSERT_TRUE(restored.decode(image->encode()));
  EXPECT_EQ(restored.encode(), expected);
  expect_pages(restored, "a", run.a, 50);
  // An image also outlives its model (a projection that stopped while the writer had it).
  auto kept = restored.take_image();
  restored = history_read_model{};
  EXPECT_EQ(kept->encode(), expected);
}

// The same across threads, as the checkpoint writer does it (the TSan stage runs this).
TEST(history_read_model, an_image_is_encoded_on_another_thread_while_events_are_applied) {
  applied run;
  const std::string expected = run.model.encode();
  auto image = run.model.take_image();
  // The writer encodes again and again until the appends are done, so the two overlap.
  std::atomic<bool> appended{false};
  std::vector<std::string> encoded;
  std::thread writer{[&] {
    do
      encoded.push_back(image->encode());
    while (!appended.load() && encoded.size() < 100000);
  }};
  std::uint64_t position = run.position;
  for (int round = 0; round < 40; ++round)  // new accounts: the account map grows
    position = deposit_until(run.model, position, "n" + std::to_string(round), 1, 40);
  position = deposit_until(run.model, position, "a", 301, 2000);  // a's chunks grow
  appended.store(true);
  writer.join();
  ASSERT_FALSE(encoded.empty());
  for (const auto& bytes : encoded)
    ASSERT_EQ(bytes, expected);
  EXPECT_EQ(position, run.position + 40 * 40 + 1700);
}

}  // namespace
}  // namespace tally
