#include "app/http_common/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tally::http_common {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

template <class Message>
void copy_headers(const Message& message, http_response& out) {
  out.status = message.result_int();
  for (const auto& field : message)
    out.headers[lower(std::string{field.name_string()})] = std::string{field.value()};
}

/// Splits an event stream into events (the text/event-stream framing rules).
class sse_splitter {
public:
  /// Feeds bytes; returns false when `on_event` asked to stop.
  bool feed(const char* data, std::size_t size, const std::function<bool(const sse_event&)>& on_event) {
    pending_.append(data, size);
    std::size_t newline;
    while ((newline = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty()) {
        if (has_data_) {
          if (current_.type.empty())
            current_.type = "message";
          if (!on_event(current_))
            return false;
        }
        current_ = sse_event{};
        has_data_ = false;
        continue;
      }
      if (line.front() == ':')
        continue;  // comment (heartbeat)
      auto colon = line.find(':');
      auto field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? std::string{} : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      if (field == "data") {
        if (has_data_)
          current_.data += '\n';
        current_.data += value;
        has_data_ = true;
      } else if (field == "event") {
        current_.type = value;
      } else if (field == "id") {
        current_.id = value;
      }
    }
    return true;
  }

private:
  std::string pending_;
  sse_event current_;
  bool has_data_ = false;
};

}  // namespace

std::string http_response::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

std::string parse_url(const std::string& url, endpoint& out) {
  std::string rest = url;
  const std::string scheme = "http://";
  if (rest.rfind("https://", 0) == 0)
    return "https is not supported (tallyd speaks plain HTTP; use a TLS proxy)";
  if (rest.rfind(scheme, 0) == 0)
    rest = rest.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  if (rest.find('/') != std::string::npos)
    return "the URL must not have a path";
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    return "expected http://HOST:PORT";
  auto host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  for (char c : rest.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return "the port must be a number in 1..65535";
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535)
    return "the port must be a number in 1..65535";
  out.host = host;
  out.port = static_cast<std::uint16_t>(port);
  return {};
}

/// Runs one asynchronous operation to completion on `io`. Beast's stream timeouts
/// (expires_after) only apply to asynchronous operations, so the client's "sync"
/// calls are async ones driven here.
template <class Start>
beast::error_code run_async(net::io_context& io, Start start) {
  beast::error_code result;
  start([&result](beast::error_code failure, auto&&...) { result = failure; });
  io.restart();
  io.run();
  return result;
}

struct http_client::impl {
  endpoint where;
  std::chrono::milliseconds timeout;
  net::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  beast::error_code connect() {
    stream.emplace(io);
    buffer.clear();
    tcp::resolver resolver{io};
    beast::error_code failure;
    auto results = resolver.resolve(where.host, std::to_string(where.port), failure);
    if (failure)
      return failure;
    stream->expires_after(timeout);
    return run_async(io, [&](auto handler) { stream->async_connect(results, handler); });
  }

  http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                                const std::string& body, const header_list& headers) {
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    if (request.method() == http::verb::unknown)
      request.method_string(method);
    request.set(http::field::host, where.host + ":" + std::to_string(where.port));
    request.set(http::field::user_agent, "tally-cli");
    bool has_type = false;
    for (const auto& [name, value] : headers) {
      request.set(name, value);
      if (lower(name) == "content-type")
        has_type = true;
    }
    if (!body.empty() && !has_type)
      request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.keep_alive(true);
    request.prepare_payload();
    return request;
  }
};

http_client::http_client(endpoint where, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->where = std::move(where);
  impl_->timeout = timeout;
}

http_client::~http_client() { close(); }

void http_client::close() {
  if (impl_->stream) {
    beast::error_code ignored;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    impl_->stream->close();
    impl_->stream.reset();
  }
}

http_response http_client::request(const std::string& method, const std::string& target,
                                   const std::string& body, const header_list& headers) {
  http_response out;
  auto request = impl_->make_request(method, target, body, headers);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!impl_->stream) {
      if (auto failure = impl_->connect()) {
        out.error = "cannot connect to " + impl_->where.host + ":" + std::to_string(impl_->where.port)
                    + ": " + failure.message();
        impl_->stream.reset();
        return out;
      }
      fresh = true;
    }
    beast::error_code failure;
    auto& stream = *impl_->stream;
    stream.expires_after(impl_->timeout);
    failure = run_async(impl_->io, [&](auto handler) { http::async_write(stream, request, handler); });
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!failure)
      failure = run_async(impl_->io, [&](auto handler) {
        http::async_read(stream, impl_->buffer, parser, handler);
      });
    if (failure) {
      close();
      // A kept-alive connection the server closed meanwhile: retry once on a new one.
      if (!fresh && (failure == http::error::end_of_stream || failure == net::error::eof
                     || failure == net::error::connection_reset || failure == net::error::broken_pipe))
        continue;
      out.error = failure.message();
      return out;
    }
    auto response = parser.release();
    copy_headers(response, out);
    out.body = std::move(response.body());
    if (!response.keep_alive())
      close();
    return out;
  }
  out.error = "connection closed by the server";
  return out;
}

http_response http_client::stream_events(const std::string& target, const header_list& headers,
                                         const std::function<bool(const sse_event&)>& on_event,
                                         std::chrono::milliseconds idle_timeout) {
  http_response out;
  close();
  if (auto failure = impl_->connect()) {
    out.error = "cannot connect: " + failure.message();
    close();
    return out;
  }
  auto request = impl_->make_request("GET", target, {}, headers);
  request.set(http::field::accept, "text/event-stream");
  auto& stream = *impl_->stream;
  stream.expires_after(impl_->timeout);
  auto failure = run_async(impl_->io, [&](auto handler) { http::async_write(stream, request, handler); });
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  if (!failure)
    failure = run_async(impl_->io, [&](auto handler) {
      http::async_read_header(stream, impl_->buffer, parser, handler);
    });
  if (failure) {
    out.error = failure.message();
    close();
    return out;
  }
  copy_headers(parser.get(), out);
  if (out.status != 200) {
    // An error reply: read its (small) body.
    std::string body;
    char chunk[4096];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      stream.expires_after(impl_->timeout);
      failure = run_async(impl_->io, [&](auto handler) {
        http::async_read(stream, impl_->buffer, parser, handler);
      });
      if (failure == http::error::need_buffer)
        failure = {};
      if (failure)
        break;
      body.append(chunk, sizeof chunk - parser.get().body().size);
    }
    out.body = std::move(body);
    close();
    return out;
  }
  sse_splitter splitter;
  char chunk[4096];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    if (idle_timeout.count() > 0)
      stream.expires_after(idle_timeout);
    else
      stream.expires_never();
    // read_some: hand over each event as it arrives (read() would wait for a full chunk).
    failure = run_async(impl_->io, [&](auto handler) {
      http::async_read_some(stream, impl_->buffer, parser, handler);
    });
    if (failure == http::error::need_buffer)
      failure = {};
    auto got = sizeof chunk - parser.get().body().size;
    if (got > 0 && !splitter.feed(chunk, got, on_event))
      break;
    if (failure) {
      if (failure != http::error::end_of_stream && failure != net::error::eof)
        out.error = failure == beast::error::timeout ? "no event within the idle timeout"
                                                     : failure.message();
      break;
    }
  }
  close();
  return out;
}

std::string raw_exchange(const endpoint& where, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream{io};
  tcp::resolver resolver{io};
  beast::error_code failure;
  auto results = resolver.resolve(where.host, std::to_string(where.port), failure);
  if (failure)
    return {};
  stream.expires_after(timeout);
  failure = run_async(io, [&](auto handler) { stream.async_connect(results, handler); });
  if (failure)
    return {};
  failure = run_async(io, [&](auto handler) { net::async_write(stream, net::buffer(bytes), handler); });
  std::string out;
  char chunk[4096];
  while (!failure) {
    std::size_t got = 0;
    failure = run_async(io, [&](auto handler) {
      stream.async_read_some(net::buffer(chunk), [&got, handler](beast::error_code e, std::size_t n) mutable {
        got = n;
        handler(e);
      });
    });
    out.append(chunk, got);
  }
  return out;
}

}  // namespace tally::http_common
