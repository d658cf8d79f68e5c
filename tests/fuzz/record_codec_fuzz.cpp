// Target record_codec: the journal's record, segment header and snapshot codecs
// (store/record_codec.hpp, format in docs/log_format.md).
//
// Every input is used twice: (1) the whole input as bytes to decode, as an event record,
// a segment header and a snapshot file: each decodes to a value or a reason, never reads
// outside the input, and a decoded value re-encodes to exactly the bytes it came from
// (the format has one encoding per value); (2) the input as the fields of an event and
// a snapshot, which must survive encode -> decode, and whose encodings must be refused
// when truncated or when one bit is flipped.
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "fuzz_targets.hpp"
#include "store/record_codec.hpp"
#include "store/record_format.hpp"
#include "tally/assert.hpp"

namespace tally::fuzz {

namespace {

using namespace tally::store;

bool lies_within(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_decode_event_record(std::string_view bytes) {
  decoded_record record;
  const char* problem = decode_event_record(bytes, record);
  if (problem != nullptr) {
    TALLY_ASSERT(std::strlen(problem) > 0);
    return;
  }
  TALLY_ASSERT(record.type == record_type::event || record.type == record_type::event_batch_end);
  TALLY_ASSERT(record.bytes >= record_header_bytes + event_body_fixed_bytes);
  TALLY_ASSERT(record.bytes <= bytes.size());
  const event_view& event = record.event;
  TALLY_ASSERT_MSG(lies_within(event.stream_id, bytes.substr(0, record.bytes))
                     && lies_within(event.type, bytes.substr(0, record.bytes))
                     && lies_within(event.payload, bytes.substr(0, record.bytes)),
                   "decoded view points outside its record");
  TALLY_ASSERT(event.position != 0 && event.stream_version != 0);
  recorded_event owned = event.to_event();
  TALLY_ASSERT(encoded_event_record_bytes(owned) == record.bytes);
  std::string encoded;
  encode_event_record(owned, record.type, encoded);
  TALLY_ASSERT_MSG(encoded == bytes.substr(0, record.bytes),
                   "a decoded record does not re-encode to its bytes");
}

void check_decode_segment_header(std::string_view bytes) {
  std::uint64_t first_position = 0;
  if (decode_segment_header(bytes, first_position) != nullptr)
    return;
  TALLY_ASSERT(first_position != 0);
  std::string encoded;
  encode_segment_header(first_position, encoded);
  TALLY_ASSERT_MSG(encoded == bytes.substr(0, segment_header_bytes),
                   "a decoded segment header does not re-encode to its bytes");
}

void check_decode_snapshot_file(std::string_view bytes) {
  snapshot decoded;
  if (decode_snapshot_file(bytes, decoded) != nullptr)
    return;
  TALLY_ASSERT(decoded.stream_id.size() <= record_stream_id_bytes_max);
  TALLY_ASSERT(decoded.state.size() <= snapshot_state_bytes_max);
  TALLY_ASSERT_MSG(encode_snapshot_file(decoded) == bytes,
                   "a decoded snapshot file does not re-encode to its bytes");
}

command_id take_id(fuzz_input& input) {
  std::uint64_t high = input.take_integer<std::uint64_t>();
  return command_id{high, input.take_integer<std::uint64_t>()};
}

// Every strict prefix and every single bit flip of a valid encoding must be refused:
// truncation is a torn write, and CRC-32C detects every single-bit error.
template <class Decode>
void check_damage_is_refused(const std::string& encoded, std::size_t flipped_bit, Decode decode) {
  for (std::size_t size : {std::size_t{0}, encoded.size() / 2, encoded.size() - 1})
    TALLY_ASSERT_MSG(!decode(std::string_view{encoded}.substr(0, size)),
                     "a truncated encoding was accepted");
  std::string damaged = encoded;
  std::size_t bit = flipped_bit % (damaged.size() * 8);
  damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
  TALLY_ASSERT_MSG(!decode(damaged), "an encoding with one flipped bit was accepted");
}

void check_event_round_trip(fuzz_input& input) {
  recorded_event event;
  event.position = input.take_integer<std::uint64_t>();
  event.stream_version = input.take_integer<std::uint64_t>();
  event.event_id = take_id(input);
  event.command = take_id(input);
  event.correlation = take_id(input);
  event.command_hash = input.take_integer<std::uint64_t>();
  event.timestamp_ns = static_cast<std::int64_t>(input.take_integer<std::uint64_t>());
  event.schema_version = input.take_integer<std::uint16_t>();
  std::uint32_t flipped_bit = input.take_integer<std::uint32_t>();
  auto type = (input.take_byte() & 1) != 0 ? record_type::event_batch_end : record_type::event;
  // The variable fields take lengths from the input, within the format's limits.
  event.stream_id = std::string{
    input.take_bytes(input.take_integer<std::uint16_t>() % (record_stream_id_bytes_max + 1))};
  event.type = std::string{
    input.take_bytes(input.take_integer<std::uint16_t>() % (record_type_name_bytes_max + 1))};
  event.payload = std::string{input.take_bytes(record_payload_bytes_max)};

  std::string encoded;
  encode_event_record(event, type, encoded);
  TALLY_ASSERT(encoded.size() == encoded_event_record_bytes(event));
  decoded_record record;
  const char* problem = decode_event_record(encoded, record);
  if (event.position == 0 || event.stream_version == 0) {
    // The encoder writes them; the decoder refuses them (no event has position or
    // version 0, so such a record is damage).
    TALLY_ASSERT_MSG(problem != nullptr, "a record with position or version 0 was accepted");
    return;
  }
  TALLY_ASSERT_MSG(problem == nullptr, "an encoded record does not decode");
  TALLY_ASSERT(record.type == type && record.bytes == encoded.size());
  TALLY_ASSERT_MSG(record.event.to_event() == event, "an event does not survive encode -> decode");
  // A record followed by more bytes decodes the same (the scanner relies on it).
  std::string followed = encoded + "trailing";
  decoded_record first;
  TALLY_ASSERT(decode_event_record(followed, first) == nullptr && first.bytes == encoded.size());
  check_damage_is_refused(encoded, flipped_bit, [](std::string_view bytes) {
    decoded_record ignored;
    return decode_event_record(bytes, ignored) == nullptr;
  });
}

void check_snapshot_round_trip(fuzz_input& input) {
  snapshot saved;
  saved.stream_version = input.take_integer<std::uint64_t>();
  saved.format_version = input.take_integer<std::uint16_t>();
  std::uint32_t flipped_bit = input.take_integer<std::uint32_t>();
  saved.stream_id = std::string{
    input.take_bytes(input.take_integer<std::uint16_t>() % (record_stream_id_bytes_max + 1))};
  saved.state = std::string{input.take_bytes(snapshot_state_bytes_max)};
  std::string encoded = encode_snapshot_file(saved);
  snapshot decoded;
  TALLY_ASSERT_MSG(decode_snapshot_file(encoded, decoded) == nullptr,
                   "an encoded snapshot does not decode");
  TALLY_ASSERT_MSG(decoded == saved, "a snapshot does not survive encode -> decode");
  check_damage_is_refused(encoded, flipped_bit, [](std::string_view bytes) {
    snapshot ignored;
    return decode_snapshot_file(bytes, ignored) == nullptr;
  });
}

}  // namespace

int fuzz_record_codec(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  check_decode_event_record(bytes);
  check_decode_segment_header(bytes);
  check_decode_snapshot_file(bytes);
  // A record after a segment header is where the scanner meets records.
  if (bytes.size() >= segment_header_bytes)
    check_decode_event_record(bytes.substr(segment_header_bytes));

  fuzz_input event_fields{data, size};
  check_event_round_trip(event_fields);
  fuzz_input snapshot_fields{data, size};
  check_snapshot_round_trip(snapshot_fields);
  return 0;
}

}  // namespace tally::fuzz
