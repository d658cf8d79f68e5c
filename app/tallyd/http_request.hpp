// tallyd's request layer without sockets: the Beast parser with the configured limits,
// what a finished read maps to (431, 413, 400 or closing the connection), and the checks
// a complete request passes before it reaches the runtime (docs/http_api.md, "Errors").
// http_server.cpp runs these on the bytes of each connection; parse_request() runs them
// on bytes in memory, for tests/fuzz/http_request_fuzz.cpp. Pure: no I/O, no runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "app/tallyd/json_codec.hpp"
#include "app/tallyd/limits.hpp"
#include "app/tallyd/routes.hpp"

namespace tally::daemon {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// The limits on one request (request-body-bytes-max, request-header-bytes-max).
struct request_limits {
  std::size_t body_bytes_max = request_body_bytes_max_default;
  std::size_t header_bytes_max = request_header_bytes_max_default;
};

/// Bytes one read from a socket asks for (what Beast's read loop asks for).
inline constexpr std::size_t request_read_bytes_max = 65536;

/// The most bytes a connection's read buffer may hold: a whole header block plus one
/// read. The parser moves body bytes out of the buffer as they arrive, so only framing
/// it cannot parse yet stays there: a header (bounded by header_bytes_max) or an
/// unterminated chunk-size line or trailer, which Beast does not bound itself. Past
/// this the read fails with http::error::buffer_overflow (400), instead of the buffer
/// growing for as long as a client keeps sending.
std::size_t request_buffer_bytes_max(const request_limits& limits,
                                     std::size_t read_bytes = request_read_bytes_max);

/// Sets `limits` on a parser that has parsed nothing yet.
void apply_request_limits(http_request_parser& parser, const request_limits& limits);

/// What the server does once reading one request finished.
enum class read_verdict : std::uint8_t {
  handle_request,    ///< a whole request arrived: admit, route and answer it
  refuse_and_close,  ///< answer `failure` (431, 413 or 400), then close the connection
  close_silently,    ///< the peer left or went quiet, or the read was cancelled: close
};

struct read_outcome {
  read_verdict verdict = read_verdict::close_silently;
  api_error failure;  ///< the answer, for refuse_and_close
};

/// Maps the result of reading one request (`failure` empty: a whole request was
/// parsed) to what the server does: checks 1-3 of docs/http_api.md.
read_outcome classify_read(boost::beast::error_code failure, const request_limits& limits);

/// Checks a complete request before it reaches the runtime, in the documented order
/// (checks 5-10): bearer `token` when one is configured (401, not for /health), route,
/// method, account id in the path and query string (404, 405, 400), a GET with a body
/// (400 unexpected_body). Returns the matched route or the refusal. The checks that
/// depend on the server's state (connections-max, shutting down) come before it and are
/// the server's; a command route's body is checked by decode_command_request(), the
/// body of POST /transfers by decode_transfer_request().
decoded<route_match> admit_request(const http_request& request, const std::string& token);

/// Decodes the command of a request admitted to a command route (checks 11-24) from
/// its Content-Type and Idempotency-Key headers (the first of each) and its body.
/// Precondition (asserted): is_command_route(route.kind).
decoded<decoded_command> decode_command_request(const http_request& request,
                                                const route_match& route);

/// Decodes the transfer of a request admitted to POST /transfers (checks 11-24, the
/// transfer variants) from its Content-Type and Idempotency-Key headers (the first of
/// each) and its body. Precondition (asserted): route.kind == route_kind::transfer.
decoded<bank::transfer_money> decode_transfer_request(const http_request& request,
                                                      const route_match& route);

/// One request read from the front of some bytes.
struct parsed_request {
  read_outcome outcome;
  http_request request;            ///< the request, when outcome says handle_request
  std::size_t bytes_consumed = 0;  ///< where a pipelined next request starts
  std::size_t buffered_bytes_peak = 0;  ///< the most the read buffer held at once
};

/// Reads one request from the front of `bytes` as the server reads one from a
/// connection whose reads return at most `read_bytes` (>= 1) bytes each and then end of
/// stream: a parser set up by apply_request_limits(), a buffer bounded by
/// request_buffer_bytes_max(limits, read_bytes), Beast's read loop (the synchronous twin
/// of the http::async_read the server runs) and classify_read(). For tests and fuzzing.
parsed_request parse_request(std::string_view bytes, const request_limits& limits,
                             std::size_t read_bytes = request_read_bytes_max);

}  // namespace tally::daemon
