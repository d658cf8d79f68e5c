// The fuzz targets, one function each (tests/fuzz/README.md). Each takes arbitrary bytes,
// runs production code on them and checks its properties with TALLY_ASSERT, which
// prints the broken property and aborts. Each is compiled into its libFuzzer executable
// (clang, -DTALLY_FUZZ=ON, scripts/fuzz.sh) and into fuzz_regression_test (every
// build), which replays tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tally::fuzz {

/// HTTP body -> command: decode_command() and parse_json_strict() (app/tallyd/json_codec).
int fuzz_json_command(const std::uint8_t* data, std::size_t size);

/// Journal records, segment headers and snapshot files (store/record_codec): arbitrary
/// bytes decode to a value or a reason, a decoded value re-encodes to the same bytes,
/// and values built from the input survive encode -> decode.
int fuzz_record_codec(const std::uint8_t* data, std::size_t size);

/// A segment file (store/segment_scanner): arbitrary bytes scan to records plus a
/// corruption report; the in-memory scan, the chunked file scan and a resumed scan agree.
int fuzz_segment_scanner(const std::uint8_t* data, std::size_t size);

/// tallyd's request layer (app/tallyd/http_request): bytes of a connection, pipelined
/// requests included, through the parser and its limits, admission, routing and
/// command decoding, as the server runs them.
int fuzz_http_request(const std::uint8_t* data, std::size_t size);

}  // namespace tally::fuzz
