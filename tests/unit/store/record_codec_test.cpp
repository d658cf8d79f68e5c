#include "store/record_codec.hpp"

#include <gtest/gtest.h>

#include <random>

#include "journal_test_support.hpp"
#include "store/segment_scanner.hpp"

namespace tally::store {
namespace {

recorded_event sample_event() {
  return testing::make_event(42, "account-7", 3, command_id{0x1234, 0x5678}, 1, 100);
}

TEST(record_codec, event_round_trips_every_field) {
  recorded_event event = sample_event();
  event.timestamp_ns = -5;  // signed field survives
  event.correlation = command_id{};
  std::string bytes;
  encode_event_record(event, record_type::event_batch_end, bytes);
  ASSERT_EQ(bytes.size(), encoded_event_record_bytes(event));
  decoded_record record;
  ASSERT_EQ(decode_event_record(bytes, record), nullptr);
  EXPECT_EQ(record.type, record_type::event_batch_end);
  EXPECT_EQ(record.bytes, bytes.size());
  EXPECT_EQ(record.event.to_event(), event);
}

TEST(record_codec, empty_strings_and_largest_fields_round_trip) {
  recorded_event event = sample_event();
  event.type.clear();
  event.payload.clear();
  std::string bytes;
  encode_event_record(event, record_type::event, bytes);
  decoded_record record;
  ASSERT_EQ(decode_event_record(bytes, record), nullptr);
  EXPECT_EQ(record.event.to_event(), event);

  event.stream_id.assign(record_stream_id_bytes_max, 's');
  event.type.assign(record_type_name_bytes_max, 't');
  event.payload.assign(1 << 20, 'p');
  bytes.clear();
  encode_event_record(event, record_type::event, bytes);
  ASSERT_EQ(decode_event_record(bytes, record), nullptr);
  EXPECT_EQ(record.event.to_event(), event);
}

TEST(record_codec, every_truncation_of_a_record_is_rejected) {
  std::string bytes;
  encode_event_record(sample_event(), record_type::event, bytes);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    decoded_record record;
    EXPECT_NE(decode_event_record(std::string_view{bytes}.substr(0, size), record), nullptr)
      << "size " << size;
  }
}

TEST(record_codec, every_single_bit_flip_of_a_record_is_rejected) {
  std::string bytes;
  encode_event_record(sample_event(), record_type::event, bytes);
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string damaged = bytes;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    decoded_record record;
    EXPECT_NE(decode_event_record(damaged, record), nullptr) << "bit " << bit;
  }
}

TEST(record_codec, arbitrary_bytes_never_crash_the_decoders) {
  std::uint64_t seed = testing::test_seed(7);
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 random{seed};
  std::string valid;
  encode_event_record(sample_event(), record_type::event, valid);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      bytes.resize(random() % 300);
      for (auto& byte : bytes)
        byte = static_cast<char>(random());
      if (bytes.size() >= 4 && round % 4 == 0) {
        // Valid magic, so the decoder gets past the first check.
        bytes.replace(0, 4, valid.substr(0, 4));
      }
    } else {
      bytes = valid;
      for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits)
        bytes[random() % bytes.size()] = static_cast<char>(random());
      bytes.resize(random() % (bytes.size() + 1));
    }
    decoded_record record;
    (void)decode_event_record(bytes, record);
    std::uint64_t first_position = 0;
    (void)decode_segment_header(bytes, first_position);
    snapshot loaded;
    (void)decode_snapshot_file(bytes, loaded);
    (void)scan_segment(bytes, 1, nullptr);
  }
}

TEST(record_codec, segment_header_round_trips_and_detects_damage) {
  std::string bytes;
  encode_segment_header(123456789, bytes);
  ASSERT_EQ(bytes.size(), segment_header_bytes);
  std::uint64_t first_position = 0;
  ASSERT_EQ(decode_segment_header(bytes, first_position), nullptr);
  EXPECT_EQ(first_position, 123456789U);
  for (std::size_t bit = 0; bit < segment_header_bytes * 8; ++bit) {
    std::string damaged = bytes;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(decode_segment_header(damaged, first_position), nullptr) << "bit " << bit;
  }
}

TEST(record_codec, snapshot_round_trips_and_detects_damage) {
  snapshot saved{"account-1", 17, 2, std::string("state\0bytes", 11)};
  std::string bytes = encode_snapshot_file(saved);
  snapshot loaded;
  ASSERT_EQ(decode_snapshot_file(bytes, loaded), nullptr);
  EXPECT_EQ(loaded, saved);
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string damaged = bytes;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(decode_snapshot_file(damaged, loaded), nullptr) << "bit " << bit;
  }
  EXPECT_NE(decode_snapshot_file(bytes + "x", loaded), nullptr);
}

}  // namespace
}  // namespace tally::store
