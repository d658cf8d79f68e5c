// Writes the seed corpora of the fuzz targets into CORPUS_DIRECTORY (tests/fuzz/corpus):
// command requests and HTTP connections as text, records with the real record encoder,
// and segment files written by the real file journal (on the POSIX file system, in a
// temporary directory), each as valid input plus a few deliberate edge cases. The
// inputs' layouts are described at the top of each *_fuzz.cpp.
//
//   build/<preset>/tests/fuzz/fuzz_seed_writer tests/fuzz/corpus
//
// Deterministic: fixed ids, timestamps and payloads, so rerunning it changes no file
// unless an encoding changed.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "store/file_journal.hpp"
#include "store/record_codec.hpp"
#include "store/record_format.hpp"
#include "tally/file_journal.hpp"
#include "tally/file_system.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tally;

void write_seed(const fs::path& directory, const std::string& name, const std::string& bytes) {
  fs::create_directories(directory);
  std::ofstream stream{directory / name, std::ios::binary | std::ios::trunc};
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!stream) {
    std::fprintf(stderr, "cannot write %s\n", (directory / name).c_str());
    std::exit(1);
  }
}

recorded_event make_event(std::uint64_t position, const std::string& stream,
                          std::uint64_t version, std::string type, std::string payload) {
  recorded_event event;
  event.position = position;
  event.stream_id = stream;
  event.stream_version = version;
  event.event_id = command_id{0x1000 + position, 0x2000 + version};
  event.type = std::move(type);
  event.schema_version = 1;
  event.payload = std::move(payload);
  event.command = command_id{0xC0FFEE, position};
  event.correlation = command_id{};
  event.command_hash = 0x5bd1e995ULL * position;
  event.timestamp_ns = 1'714'564'800'000'000'000LL + static_cast<std::int64_t>(position);
  return event;
}

// ---- json_command: KIND|CONTENT-TYPE|PATH-ACCOUNT|IDEMPOTENCY-KEY|BODY ---------------

void write_json_command_seeds(const fs::path& directory) {
  write_seed(directory, "open-with-command-id-field",
             R"(open|application/json|||{"command_id":"open-alice-1","account_id":"alice"})");
  write_seed(directory, "open-with-idempotency-key",
             R"(open|application/json||open-bob-1|{"account_id":"bob"})");
  write_seed(directory, "deposit", R"(deposit|application/json|alice||{"command_id":"dep-1","amount":1250})");
  write_seed(directory, "withdraw-charset-and-equal-key",
             R"(withdraw|application/json; charset=utf-8|alice|wd-1|{"command_id":"wd-1","amount":500})");
  write_seed(directory, "close-empty-body-no-content-type", "close||alice|close-alice-1|");
  write_seed(directory, "plain-json-body-largest-amount",
             R"({"command_id":"0f8fad5b-d9cb-469f-a165-70867728950e","amount":9223372036854775807})");
  write_seed(directory, "edge-amount-fraction", R"(deposit|application/json|alice||{"command_id":"x","amount":1.5})");
  write_seed(directory, "edge-amount-huge-float", R"(deposit|application/json|alice||{"command_id":"x","amount":1e30})");
  write_seed(directory, "edge-duplicate-key",
             R"(deposit|application/json|alice||{"command_id":"x","amount":1,"amount":2})");
  write_seed(directory, "edge-nesting-33-deep",
             "deposit|application/json|alice||" + std::string(33, '[') + std::string(33, ']'));
  write_seed(directory, "edge-invalid-utf8-in-string",
             "deposit|application/json|alice||{\"command_id\":\"caf\xe9\",\"amount\":1}");
  write_seed(directory, "edge-key-conflicts-with-field",
             R"(deposit|application/json|alice|key-1|{"command_id":"key-2","amount":1})");
}

// ---- record_codec: bytes to decode, and fields for the round trip ---------------------

void write_record_codec_seeds(const fs::path& directory) {
  std::string record;
  store::encode_event_record(make_event(1, "alice", 1, "account_opened", ""),
                             store::record_type::event_batch_end, record);
  write_seed(directory, "event-record-batch-end", record);

  record.clear();
  store::encode_event_record(make_event(42, "bob", 7, "money_deposited", std::string{"\x08\xe2\x09", 3}),
                             store::record_type::event, record);
  write_seed(directory, "event-record-inside-batch", record);

  record.clear();
  store::encode_event_record(make_event(3, std::string(store::record_stream_id_bytes_max, 's'), 2,
                                        std::string(store::record_type_name_bytes_max, 't'), "p"),
                             store::record_type::event_batch_end, record);
  write_seed(directory, "event-record-longest-stream-id-and-type", record);

  std::string header;
  store::encode_segment_header(1, header);
  write_seed(directory, "segment-header", header);

  std::string header_and_record;
  store::encode_segment_header(5, header_and_record);
  store::encode_event_record(make_event(5, "carol", 1, "account_opened", ""),
                             store::record_type::event_batch_end, header_and_record);
  write_seed(directory, "segment-header-then-record", header_and_record);

  write_seed(directory, "snapshot-file",
             store::encode_snapshot_file(snapshot{"alice", 12, 1, std::string{"\x01\x02\x03", 3}}));
}

// ---- segment_scanner: one control byte, then a segment file ---------------------------

std::string segment_from_file_journal() {
  fs::path directory = fs::temp_directory_path() / ("tally-fuzz-seeds-" + std::to_string(::getpid()));
  fs::remove_all(directory);
  file_journal_options options;
  options.directory = directory.string();
  options.index_checkpoint = false;
  {
    auto opened = open_file_journal(posix_file_system(), options);
    if (!opened) {
      std::fprintf(stderr, "open_file_journal: %s\n", opened.error().to_string().c_str());
      std::exit(1);
    }
    auto& journal = **opened;
    std::vector<std::vector<recorded_event>> batches{
      {make_event(1, "alice", 1, "account_opened", "")},
      {make_event(2, "alice", 2, "money_deposited", std::string{"\x08\xe2\x09", 3}),
       make_event(3, "bob", 1, "account_opened", "")},
      {make_event(4, "alice", 3, "money_withdrawn", std::string{"\x08\xf4\x03", 3}),
       make_event(5, "bob", 2, "money_deposited", std::string{"\x08\xf4\x03", 3}),
       make_event(6, "alice", 4, "money_deposited", std::string{"\x08\x01", 2})},
    };
    for (const auto& batch : batches)
      if (auto failure = journal.append_batch(batch)) {
        std::fprintf(stderr, "append_batch: %s\n", failure.to_string().c_str());
        std::exit(1);
      }
  }
  std::ifstream stream{directory / store::segment_file_name(1), std::ios::binary};
  std::string bytes{std::istreambuf_iterator<char>{stream}, std::istreambuf_iterator<char>{}};
  fs::remove_all(directory);
  if (bytes.size() <= store::segment_header_bytes) {
    std::fprintf(stderr, "the file journal wrote no records\n");
    std::exit(1);
  }
  return bytes;
}

void write_segment_scanner_seeds(const fs::path& directory) {
  const std::string segment = segment_from_file_journal();
  auto control = [](unsigned value) { return std::string(1, static_cast<char>(value)); };
  // Control: bits 0-1 chunk size (0: 64 bytes), bit 2 expected position + 1, bits 3-5
  // refuse the batch at first position + n - 1.
  write_seed(directory, "three-batches-from-file-journal", control(0) + segment);
  write_seed(directory, "three-batches-whole-file-chunk", control(3) + segment);
  write_seed(directory, "torn-tail-mid-record", control(1) + segment.substr(0, segment.size() - 7));
  std::string flipped = segment;
  flipped[store::segment_header_bytes + 120] ^= 0x10;  // inside batch 2: valid records follow
  write_seed(directory, "bit-flip-before-valid-records", control(2) + flipped);
  write_seed(directory, "header-only", control(0) + segment.substr(0, store::segment_header_bytes));
  write_seed(directory, "visitor-refuses-second-batch", control(2u << 3) + segment);
  write_seed(directory, "starts-after-expected-position", control(4) + segment);
  write_seed(directory, "zero-filled-tail", control(1) + segment + std::string(64, '\0'));
}

// ---- http_request: one control byte, then the bytes of a connection --------------------

// A request with a Content-Length body.
std::string request_with_body(const std::string& head, const std::string& body) {
  return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One chunk of a chunked body.
std::string chunk(const std::string& data, const std::string& extension = "") {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return size + extension + "\r\n" + data + "\r\n";
}

void write_http_request_seeds(const fs::path& directory) {
  auto control = [](unsigned value) { return std::string(1, static_cast<char>(value)); };
  // Control: bits 0-1 body limit (0: 64 KiB), bits 2-3 header limit (0: 8 KiB), bit 4
  // token "fuzz-token", bits 5-7 bytes per read (7: all at once, 2: 7 bytes, 3: 64).
  const unsigned all_at_once = 7u << 5, seven_bytes = 2u << 5, sixty_four_bytes = 3u << 5;
  const std::string open = request_with_body(
    "POST /accounts HTTP/1.1\r\nHost: tally\r\nContent-Type: application/json\r\n",
    R"({"command_id":"open-alice-1","account_id":"alice"})");
  const std::string deposit = request_with_body(
    "POST /accounts/alice/deposits HTTP/1.1\r\nHost: tally\r\nContent-Type: application/json\r\n"
    "Idempotency-Key: dep-1\r\n",
    R"({"amount":1250})");
  const std::string balance_and_close =
    "GET /accounts/alice?min_position=2 HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n";
  write_seed(directory, "pipelined-open-deposit-balance",
             control(all_at_once) + open + deposit + balance_and_close);
  write_seed(directory, "pipelined-in-7-byte-reads",
             control(seven_bytes) + open + deposit + balance_and_close);
  write_seed(directory, "chunked-withdrawal",
             control(sixty_four_bytes)
               + "POST /accounts/alice/withdrawals HTTP/1.1\r\nHost: tally\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunk(R"({"command_id":"w)") + chunk(R"(d-1","amount":500)", ";ext=1") + chunk("}")
               + "0\r\n\r\n");
  write_seed(directory, "queries-and-close",
             control(all_at_once)
               + "GET /accounts/alice/events?from_version=1&limit=10 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /accounts/alice/state?at=2024-05-01T12:00:00Z HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /totals HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /events?from=1 HTTP/1.0\r\n\r\n");
  write_seed(directory, "body-over-limit-413",
             control(all_at_once | 2)
               + request_with_body("POST /accounts HTTP/1.1\r\n", std::string(40, 'x')));
  write_seed(directory, "header-over-limit-431",
             control(all_at_once | (1u << 2)) + "GET /health HTTP/1.1\r\nHost: tally\r\nX-Padding: "
               + std::string(80, 'p') + "\r\n\r\n");
  write_seed(directory, "token-then-missing-token-401",
             control(all_at_once | 0x10)
               + "GET /totals HTTP/1.1\r\nAuthorization: Bearer fuzz-token\r\n\r\n"
               + request_with_body("POST /accounts/alice/close HTTP/1.1\r\nIdempotency-Key: c-1\r\n", ""));
  write_seed(directory, "malformed-request-line-400",
             control(all_at_once) + "GET /health HTTP/1.1 trailing\r\n\r\n");
  write_seed(directory, "get-with-body-and-unknown-route",
             control(all_at_once)
               + request_with_body("GET /totals HTTP/1.1\r\n", "{}")
               + "DELETE /accounts/alice HTTP/1.1\r\n\r\nGET /nowhere HTTP/1.1\r\n\r\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIRECTORY (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  fs::path corpus{argv[1]};
  write_json_command_seeds(corpus / "json_command");
  write_record_codec_seeds(corpus / "record_codec");
  write_segment_scanner_seeds(corpus / "segment_scanner");
  write_http_request_seeds(corpus / "http_request");
  std::printf("seeds written to %s\n", corpus.c_str());
  return 0;
}
