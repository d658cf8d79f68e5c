// Target http_request: the bytes a client sends on one connection, through tallyd's
// request layer as the server runs it (app/tallyd/http_request.hpp): the Beast parser
// with our limits, what a failed read maps to (431, 413, 400, close), admission (token,
// route, method, query, GET body) and, on command and transfer routes, the body decoder.
// Requests are read one after another from the same bytes (keep-alive pipelining)
// until one is refused, asks to close, or the bytes end.
//
// Input: one control byte, then the bytes of the connection. Control bits 0-1 pick the
// body limit (64 KiB default, 0, 16 or 100 bytes), bits 2-3 the header limit (8 KiB
// default, 64, 256 or 1024 bytes), bit 4 configures the bearer token "fuzz-token",
// bits 5-7 the bytes each read returns (1, 2, 7, 64, 512, 4096, 65536, or all).
#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "app/tallyd/http_request.hpp"
#include "fuzz_input.hpp"
#include "fuzz_targets.hpp"
#include "tally/assert.hpp"

namespace tally::fuzz {

namespace {

using namespace tally::daemon;

struct connection_settings {
  request_limits limits;
  std::string token;
  std::size_t read_bytes = request_read_bytes_max;
};

connection_settings settings_for(std::uint8_t control, std::size_t connection_bytes) {
  static constexpr std::size_t body_limits[] = {request_body_bytes_max_default, 0, 16, 100};
  static constexpr std::size_t header_limits[] = {request_header_bytes_max_default, 64, 256,
                                                  1024};
  static constexpr std::size_t read_sizes[] = {1, 2, 7, 64, 512, 4096, 65536, 0};
  connection_settings out;
  out.limits.body_bytes_max = body_limits[control & 3];
  out.limits.header_bytes_max = header_limits[(control >> 2) & 3];
  if ((control & 0x10) != 0)
    out.token = "fuzz-token";
  out.read_bytes = read_sizes[(control >> 5) & 7];
  if (out.read_bytes == 0)
    out.read_bytes = std::max<std::size_t>(connection_bytes, 1);
  return out;
}

// Every refusal names its rule in stable snake_case with one of the documented statuses
// (docs/http_api.md, "Errors"), and has a short printable message that does not carry the
// client's bytes. The parser's and the limits' rules are this layer's own: they are
// checked by name where they are produced (fuzz_http_request below).
void check_refusal(const api_error& failure) {
  TALLY_ASSERT_MSG(is_snake_case(failure.error), "refusal rule is not snake_case");
  static const std::set<unsigned> statuses{400, 401, 404, 405, 413, 415, 422, 431};
  TALLY_ASSERT_MSG(statuses.count(failure.http_status) != 0, "refusal has an undocumented status");
  TALLY_ASSERT(!failure.message.empty());
  TALLY_ASSERT_MSG(failure.message.size() <= 512, "refusal message is not short");
  TALLY_ASSERT_MSG(is_printable_ascii_text(failure.message),
                   "refusal message holds bytes that are not printable ASCII");
  auto body = error_body(failure).dump();  // strict UTF-8: throws on raw client bytes
  TALLY_ASSERT(!body.empty());
}

// Handles one complete request as the server does before it calls the runtime.
void check_request(const http_request& request, const connection_settings& settings) {
  TALLY_ASSERT_MSG(request.body().size() <= settings.limits.body_bytes_max,
                   "a body above request-body-bytes-max was accepted");
  auto admitted = admit_request(request, settings.token);
  if (!admitted) {
    check_refusal(admitted.failure);
    return;
  }
  const route_match& route = *admitted.value;
  auto target = std::string_view{request.target().data(), request.target().size()};
  TALLY_ASSERT(route.path == target_path(target));
  if (!settings.token.empty() && route.kind != route_kind::health) {
    auto field = request[boost::beast::http::field::authorization];
    std::string authorization{field.data(), field.size()};
    for (std::size_t i = 0; i < authorization.size() && i < 7; ++i)
      authorization[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(authorization[i])));
    TALLY_ASSERT_MSG(authorization == "bearer " + settings.token,
                     "a request without the token was admitted");
  }
  if (!route.account_id.empty())
    TALLY_ASSERT_MSG(account_id_problem(route.account_id).empty(), "a bad account id was routed");
  if (request.method_string() == "GET")
    TALLY_ASSERT_MSG(request.body().empty(), "a GET with a body was admitted");
  if (route.kind == route_kind::transfer) {
    auto transfer = decode_transfer_request(request, route);
    if (!transfer)
      check_refusal(transfer.failure);
    return;
  }
  if (!is_command_route(route.kind))
    return;  // a query
  auto decoded = decode_command_request(request, route);
  if (!decoded) {
    check_refusal(decoded.failure);
    return;
  }
  const std::string& account = bank::target_account(decoded.value->command);
  TALLY_ASSERT_MSG(account_id_problem(account).empty(), "a bad account id was decoded");
}

}  // namespace

int fuzz_http_request(const std::uint8_t* data, std::size_t size) {
  fuzz_input input{data, size};
  std::uint8_t control = input.take_byte();
  std::string_view connection = input.take_rest();
  connection_settings settings = settings_for(control, connection.size());

  std::size_t offset = 0;
  while (true) {
    auto parsed = parse_request(connection.substr(offset), settings.limits, settings.read_bytes);
    // A client cannot make the server buffer more than one header block plus one read.
    TALLY_ASSERT_MSG(parsed.buffered_bytes_peak
                       <= settings.limits.header_bytes_max + settings.read_bytes,
                     "the read buffer grew past a header block plus one read");
    TALLY_ASSERT(parsed.bytes_consumed <= connection.size() - offset);
    const read_outcome& outcome = parsed.outcome;
    if (outcome.verdict == read_verdict::close_silently)
      break;
    if (outcome.verdict == read_verdict::refuse_and_close) {
      check_refusal(outcome.failure);
      const api_error& failure = outcome.failure;
      TALLY_ASSERT_MSG((failure.http_status == 400 && failure.error == "malformed_http")
                         || (failure.http_status == 413 && failure.error == "request_body_too_large")
                         || (failure.http_status == 431 && failure.error == "request_header_too_large"),
                       "a failed read maps to a rule other than 400, 413 or 431");
      break;
    }
    TALLY_ASSERT_MSG(parsed.bytes_consumed > 0, "a request was parsed from no bytes");
    check_request(parsed.request, settings);
    if (!parsed.request.keep_alive())
      break;  // the server closes after answering
    offset += parsed.bytes_consumed;
  }
  return 0;
}

}  // namespace tally::fuzz
