#include "app/tallyd/http_request.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/system/system_error.hpp>

#include "app/tallyd/http_server.hpp"
#include "tally/assert.hpp"

namespace tally::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A SyncReadStream over bytes in memory: each read returns at most `read_bytes`, then
// end of stream, like a peer that sent `bytes` and shut down its side. It watches the
// buffer it fills, so parse_request() can report how much the buffer held.
class memory_read_stream {
public:
  memory_read_stream(std::string_view bytes, std::size_t read_bytes,
                     const beast::flat_buffer& buffer)
    : bytes_(bytes), read_bytes_(read_bytes), buffer_(buffer) {}

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, beast::error_code& failure) {
    failure = {};
    if (offset_ == bytes_.size()) {
      failure = net::error::eof;
      return 0;
    }
    std::size_t available = std::min(read_bytes_, bytes_.size() - offset_);
    std::size_t copied = net::buffer_copy(buffers, net::buffer(bytes_.data() + offset_, available));
    offset_ += copied;
    // The caller commits `copied` bytes after this returns: that is when it holds most.
    buffered_bytes_peak_ = std::max(buffered_bytes_peak_, buffer_.size() + copied);
    return copied;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code failure;
    std::size_t copied = read_some(buffers, failure);
    if (failure)
      throw boost::system::system_error{failure};
    return copied;
  }

  std::size_t offset() const noexcept { return offset_; }
  std::size_t buffered_bytes_peak() const noexcept { return buffered_bytes_peak_; }

private:
  std::string_view bytes_;
  std::size_t read_bytes_;
  const beast::flat_buffer& buffer_;
  std::size_t offset_ = 0;
  std::size_t buffered_bytes_peak_ = 0;
};

}  // namespace

std::size_t request_buffer_bytes_max(const request_limits& limits, std::size_t read_bytes) {
  TALLY_ASSERT(read_bytes >= 1);
  TALLY_ASSERT(limits.header_bytes_max <= std::numeric_limits<std::uint32_t>::max());
  return limits.header_bytes_max + read_bytes;
}

void apply_request_limits(http_request_parser& parser, const request_limits& limits) {
  TALLY_ASSERT(limits.header_bytes_max <= std::numeric_limits<std::uint32_t>::max());
  parser.body_limit(limits.body_bytes_max);
  parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes_max));
}

read_outcome classify_read(beast::error_code failure, const request_limits& limits) {
  read_outcome out;
  if (!failure) {
    out.verdict = read_verdict::handle_request;
    return out;
  }
  if (failure == http::error::end_of_stream || failure == beast::error::timeout
      || failure == net::error::operation_aborted || failure == net::error::eof
      || failure == net::error::connection_reset)
    return out;  // close_silently
  out.verdict = read_verdict::refuse_and_close;
  if (failure == http::error::body_limit) {
    out.failure = make_api_error(413, error_code::limit_exceeded, "request_body_too_large",
                                 "the request body is larger than "
                                   + std::to_string(limits.body_bytes_max) + " bytes");
  } else if (failure == http::error::header_limit) {
    out.failure = make_api_error(431, error_code::limit_exceeded, "request_header_too_large",
                                 "the request header is larger than "
                                   + std::to_string(limits.header_bytes_max) + " bytes");
  } else if (failure.category() == http::make_error_code(http::error::bad_target).category()) {
    out.failure = make_api_error(400, error_code::invalid_argument, "malformed_http",
                                 "the request is not valid HTTP/1.1");
  } else {
    out.verdict = read_verdict::close_silently;  // a socket error: nobody to answer
  }
  return out;
}

decoded<route_match> admit_request(const http_request& request, const std::string& token) {
  decoded<route_match> out;
  auto target = std::string_view{request.target().data(), request.target().size()};
  if (!token.empty() && target_path(target) != "/health") {
    auto authorization = request[http::field::authorization];
    if (!bearer_token_matches({authorization.data(), authorization.size()}, token)) {
      out.failure = make_api_error(401, error_code::invalid_argument, "unauthorized",
                                   "send Authorization: Bearer <token>");
      return out;
    }
  }
  auto method = request.method_string();
  out = match_route({method.data(), method.size()}, target);
  if (out && !route_takes_body(out.value->kind) && !request.body().empty()) {
    out.value.reset();
    out.failure = make_api_error(400, error_code::invalid_argument, "unexpected_body",
                                 "GET requests take no body");
  }
  return out;
}

decoded<decoded_command> decode_command_request(const http_request& request,
                                                const route_match& route) {
  TALLY_ASSERT(is_command_route(route.kind));
  auto content_type = request[http::field::content_type];
  auto key_field = request.find("Idempotency-Key");
  std::string key;
  if (key_field != request.end())
    key = std::string{key_field->value()};
  return decode_command(command_kind_of(route.kind), route.account_id,
                        {content_type.data(), content_type.size()}, request.body(),
                        key_field != request.end() ? &key : nullptr);
}

decoded<bank::transfer_money> decode_transfer_request(const http_request& request,
                                                      const route_match& route) {
  TALLY_ASSERT(route.kind == route_kind::transfer);
  auto content_type = request[http::field::content_type];
  auto key_field = request.find("Idempotency-Key");
  std::string key;
  if (key_field != request.end())
    key = std::string{key_field->value()};
  return decode_transfer({content_type.data(), content_type.size()}, request.body(),
                         key_field != request.end() ? &key : nullptr);
}

parsed_request parse_request(std::string_view bytes, const request_limits& limits,
                             std::size_t read_bytes) {
  parsed_request out;
  http_request_parser parser;
  apply_request_limits(parser, limits);
  beast::flat_buffer buffer{request_buffer_bytes_max(limits, read_bytes)};
  memory_read_stream stream{bytes, read_bytes, buffer};
  // This is http::read(), spelled out: eager parsing, then read_some until the message
  // is done or a read fails (http::async_read in the server runs the same loop).
  parser.eager(true);
  beast::error_code failure;
  do {
    http::read_some(stream, buffer, parser, failure);
  } while (!failure && !parser.is_done());
  TALLY_ASSERT(buffer.size() <= stream.offset());
  out.bytes_consumed = stream.offset() - buffer.size();
  out.buffered_bytes_peak = stream.buffered_bytes_peak();
  out.outcome = classify_read(failure, limits);
  if (out.outcome.verdict == read_verdict::handle_request)
    out.request = parser.release();
  return out;
}

}  // namespace tally::daemon
