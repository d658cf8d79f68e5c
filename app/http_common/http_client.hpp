// A small synchronous HTTP/1.1 client on Boost.Beast for the `tally` CLI and the
// integration tests: keep-alive requests, a server-sent-events reader, and a raw
// exchange for sending deliberately malformed requests. Not thread-safe: one client
// per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tally::http_common {

/// Where a daemon listens, from "http://HOST:PORT" (or "HOST:PORT").
struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};

/// Parses a base URL; returns an empty string on success, else the reason. Only
/// plain http is supported (tallyd has no TLS; put a proxy in front for that).
std::string parse_url(const std::string& url, endpoint& out);

struct http_response {
  unsigned status = 0;                        ///< 0: no response (see error)
  std::string body;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string error;                          ///< transport failure, empty otherwise

  bool ok() const noexcept { return error.empty(); }
  /// The header `name` (lower case), or "" when absent.
  std::string header(const std::string& name) const;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One server-sent event.
struct sse_event {
  std::string id;
  std::string type;  ///< "message" when the event had no "event:" line
  std::string data;
};

class http_client {
public:
  http_client(endpoint where, std::chrono::milliseconds timeout);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends one request on the kept-alive connection (reconnecting once when the
  /// server closed it) and reads the response. A JSON body gets Content-Type
  /// application/json unless `headers` name one.
  http_response request(const std::string& method, const std::string& target,
                        const std::string& body = {}, const header_list& headers = {});

  /// GETs `target` as an event stream and calls `on_event` for each event until it
  /// returns false, the server closes, or `idle_timeout` passes without a byte
  /// (zero: wait forever). Returns the response head (status, headers) and, when the
  /// stream failed, the error.
  http_response stream_events(const std::string& target, const header_list& headers,
                              const std::function<bool(const sse_event&)>& on_event,
                              std::chrono::milliseconds idle_timeout);

  /// Closes the connection.
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Connects, sends `bytes` verbatim, and returns everything the server sent until
/// it closed or `timeout` passed. For tests of malformed requests.
std::string raw_exchange(const endpoint& where, const std::string& bytes,
                         std::chrono::milliseconds timeout);

}  // namespace tally::http_common
