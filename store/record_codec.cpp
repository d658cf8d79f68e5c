#include "store/record_codec.hpp"

#include <cstring>

#include "store/crc32c.hpp"
#include "tally/assert.hpp"

namespace tally::store {

namespace {

// Explicit byte order, so files move between machines of any endianness. Each store
// writes into memory the caller sized and returns where the next field goes; on a
// little-endian host it is a single unaligned write (the file journal encodes every
// batch this way, straight into its write buffer).
template <class T>
char* store_unsigned(char* out, T value) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::memcpy(out, &value, sizeof value);
#else
  for (std::size_t i = 0; i < sizeof value; ++i)
    out[i] = static_cast<char>(static_cast<std::uint64_t>(value) >> (8 * i));
#endif
  return out + sizeof value;
}

char* store_u16(char* out, std::uint16_t value) noexcept {
  return store_unsigned(out, value);
}
char* store_u32(char* out, std::uint32_t value) noexcept {
  return store_unsigned(out, value);
}
char* store_u64(char* out, std::uint64_t value) noexcept {
  return store_unsigned(out, value);
}
char* store_id(char* out, const command_id& id) noexcept {
  return store_u64(store_u64(out, id.high), id.low);
}
char* store_text(char* out, std::string_view text) noexcept {
  if (!text.empty())
    std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

// The same, appended to a string (segment headers and snapshots).
template <class T>
void put_unsigned(std::string& out, T value) {
  char bytes[sizeof value];
  store_unsigned(bytes, value);
  out.append(bytes, sizeof bytes);
}
void put_u16(std::string& out, std::uint16_t value) {
  put_unsigned(out, value);
}
void put_u32(std::string& out, std::uint32_t value) {
  put_unsigned(out, value);
}
void put_u64(std::string& out, std::uint64_t value) {
  put_unsigned(out, value);
}

// Little-endian loads. On a little-endian host they are a single unaligned load
// (recovery decodes every record, so this is on the hot path); elsewhere byte by byte.
template <class T>
T get_unsigned(const char* bytes) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
#else
  std::uint64_t value = 0;
  for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<T>(value);
#endif
}

std::uint16_t get_u16(const char* bytes) noexcept {
  return get_unsigned<std::uint16_t>(bytes);
}
std::uint32_t get_u32(const char* bytes) noexcept {
  return get_unsigned<std::uint32_t>(bytes);
}
std::uint64_t get_u64(const char* bytes) noexcept {
  return get_unsigned<std::uint64_t>(bytes);
}

}  // namespace

recorded_event event_view::to_event() const {
  recorded_event out;
  out.position = position;
  out.stream_id = std::string{stream_id};
  out.stream_version = stream_version;
  out.event_id = event_id;
  out.type = std::string{type};
  out.schema_version = schema_version;
  out.payload = std::string{payload};
  out.command = command;
  out.correlation = correlation;
  out.command_hash = command_hash;
  out.timestamp_ns = timestamp_ns;
  return out;
}

void encode_segment_header(std::uint64_t first_position, std::string& out) {
  std::size_t start = out.size();
  put_u64(out, segment_magic);
  put_u32(out, log_format_version);
  put_u32(out, 0);  // flags: none defined in version 1
  put_u64(out, first_position);
  TALLY_ASSERT(out.size() - start == segment_header_crc_offset);
  put_u32(out, mask_crc(crc32c_extend(0, out.data() + start, segment_header_crc_offset)));
  put_u32(out, 0);  // reserved
  TALLY_ASSERT(out.size() - start == segment_header_bytes);
}

const char* decode_segment_header(std::string_view bytes,
                                  std::uint64_t& first_position) noexcept {
  if (bytes.size() < segment_header_bytes)
    return "segment header truncated";
  if (get_u64(bytes.data()) != segment_magic)
    return "bad segment magic";
  std::uint32_t stored = unmask_crc(get_u32(bytes.data() + segment_header_crc_offset));
  if (crc32c_extend(0, bytes.data(), segment_header_crc_offset) != stored)
    return "segment header crc mismatch";
  if (get_u32(bytes.data() + 8) != log_format_version)
    return "unsupported segment format version";
  if (get_u32(bytes.data() + 12) != 0)
    return "unknown segment flags";
  if (get_u32(bytes.data() + segment_header_crc_offset + 4) != 0)
    return "segment header reserved field is not zero";
  first_position = get_u64(bytes.data() + 16);
  if (first_position == 0)
    return "segment first position is 0";
  return nullptr;
}

std::size_t encoded_event_record_bytes(const recorded_event& event) noexcept {
  return record_header_bytes + event_body_fixed_bytes + event.stream_id.size()
         + event.type.size() + event.payload.size();
}

char* encode_event_record(const recorded_event& event, record_type type, char* out) noexcept {
  TALLY_ASSERT(type == record_type::event || type == record_type::event_batch_end);
  TALLY_ASSERT_MSG(event.stream_id.size() <= record_stream_id_bytes_max, "stream id too long");
  TALLY_ASSERT_MSG(event.type.size() <= record_type_name_bytes_max, "event type too long");
  TALLY_ASSERT_MSG(event.payload.size() <= record_payload_bytes_max, "payload too large");
  char* const start = out;
  const std::size_t body_bytes = event_body_fixed_bytes + event.stream_id.size()
                                 + event.type.size() + event.payload.size();
  out = store_u32(out, record_magic);
  out = store_u32(out, 0);  // crc, filled in below
  out = store_u32(out, static_cast<std::uint32_t>(body_bytes));
  *out++ = static_cast<char>(type);
  TALLY_ASSERT(out - start == static_cast<std::ptrdiff_t>(record_header_bytes));
  out = store_u64(out, event.position);
  out = store_u64(out, event.stream_version);
  out = store_id(out, event.event_id);
  out = store_id(out, event.command);
  out = store_id(out, event.correlation);
  out = store_u64(out, event.command_hash);
  out = store_u64(out, static_cast<std::uint64_t>(event.timestamp_ns));
  out = store_u16(out, event.schema_version);
  out = store_u16(out, static_cast<std::uint16_t>(event.stream_id.size()));
  out = store_u16(out, static_cast<std::uint16_t>(event.type.size()));
  out = store_u32(out, static_cast<std::uint32_t>(event.payload.size()));
  TALLY_ASSERT(out - start
               == static_cast<std::ptrdiff_t>(record_header_bytes + event_body_fixed_bytes));
  out = store_text(out, event.stream_id);
  out = store_text(out, event.type);
  out = store_text(out, event.payload);
  TALLY_ASSERT(out - start == static_cast<std::ptrdiff_t>(record_header_bytes + body_bytes));
  const char* covered = start + record_length_offset;
  store_u32(start + record_crc_offset,
            mask_crc(crc32c_extend(0, covered, static_cast<std::size_t>(out - covered))));
  return out;
}

void encode_event_record(const recorded_event& event, record_type type, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + encoded_event_record_bytes(event));
  char* end = encode_event_record(event, type, out.data() + start);
  TALLY_ASSERT(end == out.data() + out.size());
}

const char* decode_event_record(std::string_view bytes, decoded_record& out) noexcept {
  if (bytes.size() < record_header_bytes)
    return "record header extends past end of data";
  const char* header = bytes.data();
  if (get_u32(header) != record_magic)
    return "bad record magic";
  std::uint32_t body_bytes = get_u32(header + record_length_offset);
  if (body_bytes > record_body_bytes_max)
    return "record length above limit";
  if (body_bytes > bytes.size() - record_header_bytes)
    return "record extends past end of data";
  std::size_t total = record_header_bytes + body_bytes;
  std::uint32_t stored = unmask_crc(get_u32(header + record_crc_offset));
  if (crc32c_extend(0, header + record_length_offset, total - record_length_offset) != stored)
    return "crc mismatch";
  auto type = static_cast<record_type>(static_cast<unsigned char>(header[record_type_offset]));
  if (type != record_type::event && type != record_type::event_batch_end)
    return "unknown record type";
  if (body_bytes < event_body_fixed_bytes)
    return "event body shorter than its fixed fields";
  const char* body = header + record_header_bytes;
  event_view& event = out.event;
  event.position = get_u64(body);
  event.stream_version = get_u64(body + 8);
  event.event_id = command_id{get_u64(body + 16), get_u64(body + 24)};
  event.command = command_id{get_u64(body + 32), get_u64(body + 40)};
  event.correlation = command_id{get_u64(body + 48), get_u64(body + 56)};
  event.command_hash = get_u64(body + 64);
  event.timestamp_ns = static_cast<std::int64_t>(get_u64(body + 72));
  event.schema_version = get_u16(body + 80);
  std::size_t stream_id_bytes = get_u16(body + 82);
  std::size_t type_bytes = get_u16(body + 84);
  std::size_t payload_bytes = get_u32(body + 86);
  static_assert(86 + 4 == event_body_fixed_bytes);
  if (stream_id_bytes > record_stream_id_bytes_max || type_bytes > record_type_name_bytes_max
      || payload_bytes > record_payload_bytes_max)
    return "event field length above limit";
  if (event_body_fixed_bytes + stream_id_bytes + type_bytes + payload_bytes != body_bytes)
    return "event field lengths do not add up to the record length";
  const char* variable = body + event_body_fixed_bytes;
  event.stream_id = std::string_view{variable, stream_id_bytes};
  event.type = std::string_view{variable + stream_id_bytes, type_bytes};
  event.payload = std::string_view{variable + stream_id_bytes + type_bytes, payload_bytes};
  if (event.position == 0)
    return "event position is 0";
  if (event.stream_version == 0)
    return "event stream version is 0";
  out.type = type;
  out.bytes = total;
  return nullptr;
}

std::string encode_snapshot_file(const snapshot& saved) {
  TALLY_ASSERT_MSG(saved.stream_id.size() <= record_stream_id_bytes_max, "stream id too long");
  TALLY_ASSERT_MSG(saved.state.size() <= snapshot_state_bytes_max, "snapshot too large");
  std::string body;
  body.reserve(snapshot_body_fixed_bytes + saved.stream_id.size() + saved.state.size());
  put_u64(body, saved.stream_version);
  put_u16(body, saved.format_version);
  put_u16(body, static_cast<std::uint16_t>(saved.stream_id.size()));
  put_u32(body, static_cast<std::uint32_t>(saved.state.size()));
  TALLY_ASSERT(body.size() == snapshot_body_fixed_bytes);
  body.append(saved.stream_id);
  body.append(saved.state);
  std::string out;
  out.reserve(snapshot_header_bytes + body.size());
  put_u64(out, snapshot_magic);
  put_u32(out, log_format_version);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_u32(out, mask_crc(crc32c(body)));
  put_u32(out, 0);  // reserved
  TALLY_ASSERT(out.size() == snapshot_header_bytes);
  out.append(body);
  return out;
}

const char* decode_snapshot_file(std::string_view bytes, snapshot& out) {
  if (bytes.size() < snapshot_header_bytes)
    return "snapshot header truncated";
  const char* header = bytes.data();
  if (get_u64(header) != snapshot_magic)
    return "bad snapshot magic";
  if (get_u32(header + 8) != log_format_version)
    return "unsupported snapshot format version";
  std::size_t body_bytes = get_u32(header + 12);
  if (body_bytes != bytes.size() - snapshot_header_bytes)
    return "snapshot length does not match file size";
  const char* body = header + snapshot_header_bytes;
  if (crc32c_extend(0, body, body_bytes) != unmask_crc(get_u32(header + 16)))
    return "snapshot crc mismatch";
  if (get_u32(header + 20) != 0)
    return "snapshot reserved field is not zero";
  if (body_bytes < snapshot_body_fixed_bytes)
    return "snapshot body shorter than its fixed fields";
  std::size_t stream_id_bytes = get_u16(body + 10);
  std::size_t state_bytes = get_u32(body + 12);
  if (stream_id_bytes > record_stream_id_bytes_max || state_bytes > snapshot_state_bytes_max)
    return "snapshot field length above limit";
  if (snapshot_body_fixed_bytes + stream_id_bytes + state_bytes != body_bytes)
    return "snapshot field lengths do not add up to its length";
  out.stream_version = get_u64(body);
  out.format_version = get_u16(body + 8);
  out.stream_id.assign(body + snapshot_body_fixed_bytes, stream_id_bytes);
  out.state.assign(body + snapshot_body_fixed_bytes + stream_id_bytes, state_bytes);
  return nullptr;
}

}  // namespace tally::store
