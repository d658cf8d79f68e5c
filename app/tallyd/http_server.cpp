#include "app/tallyd/http_server.hpp"

#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "app/tallyd/bank_gateway.hpp"
#include "app/tallyd/http_request.hpp"
#include "app/tallyd/json_codec.hpp"
#include "app/tallyd/limits.hpp"
#include "app/tallyd/metrics.hpp"
#include "app/tallyd/routes.hpp"

namespace tally::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using string_response = http::response<http::string_body>;
using clock_type = std::chrono::steady_clock;

server_options make_server_options(const daemon_config& config, std::string token) {
  server_options out;
  out.listen = config.listen;
  out.request_body_bytes_max = config.request_body_bytes_max;
  out.request_header_bytes_max = config.request_header_bytes_max;
  out.read_timeout = std::chrono::milliseconds{config.read_timeout_ms};
  out.connections_max = config.connections_max;
  out.commands_in_flight_max = config.commands_in_flight_max;
  out.query_wait_max = std::chrono::milliseconds{config.query_wait_ms_max};
  out.sse_buffer_events_max = config.sse_buffer_events_max;
  out.request_log = config.request_log;
  out.token = std::move(token);
  return out;
}

bool bearer_token_matches(std::string_view authorization, const std::string& token) noexcept {
  constexpr std::string_view scheme = "Bearer ";
  if (token.empty() || authorization.size() < scheme.size())
    return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i]))
        != std::tolower(static_cast<unsigned char>(scheme[i])))
      return false;
  auto given = authorization.substr(scheme.size());
  // Every byte of the token is compared whatever differs first; the loop length is
  // the token's, which is not secret.
  volatile unsigned char difference = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    unsigned char other = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference = difference | (static_cast<unsigned char>(token[i]) ^ other);
  }
  return difference == 0;
}

namespace {

std::string dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

string_response make_response(unsigned status, std::string body, const char* content_type,
                              unsigned version, bool keep_alive) {
  string_response response{static_cast<http::status>(status), version};
  response.set(http::field::server, "tallyd");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

string_response make_json_response(unsigned status, const json& body, unsigned version,
                                   bool keep_alive) {
  return make_response(status, dump(body), "application/json", version, keep_alive);
}

string_response make_error_response(const api_error& failure, unsigned version, bool keep_alive) {
  auto response = make_json_response(failure.http_status, error_body(failure), version, keep_alive);
  if (failure.retry_after || failure.http_status == 503)
    response.set(http::field::retry_after, "1");
  if (failure.http_status == 401)
    response.set(http::field::www_authenticate, "Bearer realm=\"tally\"");
  if (failure.http_status == 405)
    response.set(http::field::allow, failure.message.find("GET") != std::string::npos ? "GET" : "POST");
  return response;
}

std::string format_sse_event(const recorded_event& event) {
  std::string out = "id: " + std::to_string(event.position) + "\nevent: " + event.type
                    + "\ndata: " + encode_event(event).dump(-1, ' ', false,
                                                            json::error_handler_t::replace)
                    + "\n\n";
  return out;
}

/// Events handed over from the subscription (a CAF thread) to the connection (the I/O
/// thread). Bounded: when it is full the consumer is too slow and gets disconnected.
struct feed_buffer {
  std::mutex mutex;
  std::deque<std::string> events;
  bool overflowed = false;
  bool flush_posted = false;
  std::size_t events_max = 0;
};

}  // namespace

class session;

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
  impl(server_options options, bank_gateway& gateway, daemon_metrics& metrics,
       std::shared_ptr<spdlog::logger> log)
    : options(std::move(options)), gateway(gateway), metrics(metrics), log(std::move(log)) {}

  void accept();
  void refuse(tcp::socket socket);

  server_options options;
  bank_gateway& gateway;
  daemon_metrics& metrics;
  std::shared_ptr<spdlog::logger> log;
  net::io_context io{1};
  /// Keeps io.run() going while every connection waits on the runtime and the
  /// acceptor is closed (draining): answers are posted to it later.
  net::executor_work_guard<net::io_context::executor_type> keep_running{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> responses_pending{0};
  std::mutex sessions_mutex;
  std::unordered_map<session*, std::weak_ptr<session>> sessions;
};

class session : public std::enable_shared_from_this<session> {
public:
  /// `refuse`: over connections-max; the request is read (so closing does not reset
  /// the connection before the client sees the answer) and answered 503.
  session(tcp::socket socket, std::shared_ptr<http_server::impl> server, bool refuse)
    : stream_(std::move(socket)), server_(std::move(server)),
      limits_{server_->options.request_body_bytes_max, server_->options.request_header_bytes_max},
      buffer_(request_buffer_bytes_max(limits_)), refuse_(refuse) {
    server_->metrics.open_connections.fetch_add(1);
  }

  ~session() {
    server_->metrics.open_connections.fetch_sub(1);
    if (feeding_)
      server_->metrics.event_feeds.fetch_sub(1);
    std::lock_guard guard{server_->sessions_mutex};
    server_->sessions.erase(this);
  }

  void start() {
    {
      std::lock_guard guard{server_->sessions_mutex};
      server_->sessions.emplace(this, weak_from_this());
    }
    read_request();
  }

  /// Closes the connection now (I/O thread).
  void close() {
    if (closed_)
      return;
    closed_ = true;
    subscription_.cancel();
    if (heartbeat_)
      heartbeat_->cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

private:
  // -- Request/response cycle ------------------------------------------------------

  void read_request() {
    if (closed_)
      return;
    parser_.emplace();
    apply_request_limits(*parser_, limits_);
    stream_.expires_after(refuse_ ? std::chrono::milliseconds{1000} : server_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code failure, std::size_t) {
    // The same mapping parse_request() applies (tests/fuzz/http_request_fuzz.cpp).
    auto outcome = classify_read(failure, limits_);
    if (outcome.verdict == read_verdict::close_silently) {
      close();
      return;
    }
    started_ = clock_type::now();
    if (outcome.verdict == read_verdict::refuse_and_close) {
      keep_alive_ = false;
      reply_error(outcome.failure);
      return;
    }
    request_ = parser_->release();
    version_ = request_.version();
    keep_alive_ = request_.keep_alive();
    handle();
  }

  void handle() {
    if (refuse_) {
      keep_alive_ = false;
      reply_error(make_api_error(503, error_code::limit_exceeded, "too_many_connections",
                                 "the daemon is at connections-max"));
      return;
    }
    if (server_->draining.load()) {
      keep_alive_ = false;
      reply_error(make_api_error(503, error_code::shutting_down, "shutting_down",
                                 "the daemon is shutting down"));
      return;
    }
    // Token, route, query and body checks: the same function parse_request()'s callers use.
    auto admitted = admit_request(request_, server_->options.token);
    if (!admitted) {
      reply_error(admitted.failure);
      return;
    }
    route_ = std::move(*admitted.value);
    if (route_.kind == route_kind::transfer) {
      handle_transfer();
      return;
    }
    if (is_command_route(route_.kind)) {
      handle_command();
      return;
    }
    auto self = shared_from_this();
    auto& gateway = server_->gateway;
    auto wait = route_.min_position > 0 ? server_->options.query_wait_max
                                        : std::chrono::milliseconds{0};
    switch (route_.kind) {
      case route_kind::health:
        gateway.store_health([self](result<store_status> health) {
          self->post([self, health = std::move(health)] { self->finish_health(health); });
        });
        break;
      case route_kind::metrics:
        gateway.metrics([self](result<runtime_metrics> metrics) {
          self->post([self, metrics = std::move(metrics)] {
            auto text = self->server_->metrics.render(metrics ? &*metrics : nullptr);
            self->send(make_response(200, std::move(text), "text/plain; version=0.0.4; charset=utf-8",
                                     self->version_, self->keep_alive_));
          });
        });
        break;
      case route_kind::totals:
        gateway.totals(route_.min_position, wait, [self](result<totals_view> view) {
          self->post([self, view = std::move(view)] {
            if (!view)
              return self->reply_error(failure_error(view.error()));
            self->reply_json(200, encode_totals(*view));
          });
        });
        break;
      case route_kind::balance:
        gateway.balance(route_.account_id, route_.min_position, wait,
                        [self](result<balance_view> view) {
                          self->post([self, view = std::move(view)] { self->finish_balance(view); });
                        });
        break;
      case route_kind::history: {
        history_query query{route_.account_id, route_.from_version, route_.limit};
        gateway.history(query, route_.min_position, wait, [self](result<history_page> page) {
          self->post([self, page = std::move(page)] {
            if (!page)
              return self->reply_error(failure_error(page.error()));
            if (page->total_events == 0)
              return self->reply_error(make_api_error(404, error_code::account_not_found,
                                                      "account_not_found",
                                                      "the account has no events"));
            self->reply_json(200, encode_history(self->route_.account_id, *page));
          });
        });
        break;
      }
      case route_kind::state:
        gateway.replay(route_.account_id, route_.version.value_or(UINT64_MAX),
                       route_.at_ns.value_or(INT64_MAX), [self](result<replayed_state> state) {
                         self->post([self, state = std::move(state)] { self->finish_state(state); });
                       });
        break;
      case route_kind::transfer_state:
        gateway.transfer_state(route_.transfer_id, route_.min_position, wait,
                               [self](result<transfers_page> page) {
                                 self->post([self, page = std::move(page)] {
                                   self->finish_transfer_state(page);
                                 });
                               });
        break;
      case route_kind::event_feed:
        start_feed();
        return;
      default:
        reply_error(make_api_error(500, error_code::internal_error, "internal_error", "unrouted"));
        return;
    }
    server_->responses_pending.fetch_add(1);
    counted_pending_ = true;
  }

  void handle_command() {
    auto kind = command_kind_of(route_.kind);
    auto decoded = decode_command_request(request_, route_);
    if (!decoded) {
      reply_error(decoded.failure);
      return;
    }
    if (!enter_in_flight())
      return;
    auto self = shared_from_this();
    auto command = std::make_shared<decoded_command>(std::move(*decoded.value));
    auto started = started_;
    server_->gateway.execute(command->command, command->id,
                             [self, command, kind, started](result<command_reply> reply) {
                               auto& metrics = self->server_->metrics;
                               metrics.command_finished(reply ? reply->outcome : reply.error().code(),
                                                        clock_type::now() - started);
                               metrics.commands_in_flight.fetch_sub(1);
                               self->post([self, command, kind, reply = std::move(reply)] {
                                 self->finish_command(*command, kind, reply);
                               });
                             });
  }

  /// Backpressure: a bounded number of commands and transfers in the runtime, never a
  /// queue here. Counts one in (and the response as pending), or answers 503 and
  /// returns false.
  bool enter_in_flight() {
    auto& in_flight = server_->metrics.commands_in_flight;
    if (in_flight.fetch_add(1) >= static_cast<std::int64_t>(server_->options.commands_in_flight_max)) {
      in_flight.fetch_sub(1);
      server_->metrics.commands_refused_backpressure.fetch_add(1);
      reply_error(make_api_error(503, error_code::limit_exceeded, "too_many_commands_in_flight",
                                 "the daemon is at commands-in-flight-max; retry later"));
      return false;
    }
    server_->responses_pending.fetch_add(1);
    counted_pending_ = true;
    return true;
  }

  void handle_transfer() {
    auto decoded = decode_transfer_request(request_, route_);
    if (!decoded) {
      reply_error(decoded.failure);
      return;
    }
    if (!enter_in_flight())
      return;
    auto self = shared_from_this();
    auto transfer = std::make_shared<bank::transfer_money>(std::move(*decoded.value));
    auto started = started_;
    server_->gateway.transfer(*transfer, [self, transfer, started](result<transfer_reply> reply) {
      auto& metrics = self->server_->metrics;
      metrics.transfer_finished(reply ? reply->outcome : reply.error().code(),
                                reply && reply->status == bank::transfer_status::completed,
                                clock_type::now() - started);
      metrics.commands_in_flight.fetch_sub(1);
      self->post([self, transfer, reply = std::move(reply)] {
        self->finish_transfer(*transfer, reply);
      });
    });
  }

  void finish_transfer(const bank::transfer_money& request, const result<transfer_reply>& reply) {
    if (!reply)
      return reply_error(failure_error(reply.error()));
    if (!reply->accepted() && !is_rejection(reply->outcome))
      return reply_error(failure_error(status{reply->outcome}));
    if (reply->accepted() && !bank::is_finished(reply->status))
      return reply_error(make_api_error(500, error_code::internal_error, "internal_error",
                                        "the transfer was answered before it finished"));
    auto response = make_json_response(http_status_for(*reply),
                                       encode_transfer_reply(*reply, request), version_, keep_alive_);
    if (reply->duplicate)
      response.set("Idempotent-Replayed", "true");
    send(std::move(response));
  }

  void finish_transfer_state(const result<transfers_page>& page) {
    if (!page)
      return reply_error(failure_error(page.error()));
    if (page->transfers.size() != 1)
      return reply_error(make_api_error(500, error_code::internal_error, "internal_error",
                                        "the transfers read model did not answer one transfer"));
    const auto& view = page->transfers.front();
    if (!view.exists) {
      auto body = error_body(make_api_error(404, error_code::transfer_not_found, "transfer_not_found",
                                            "no transfer with this id was requested"));
      body["as_of_position"] = page->as_of_position;
      return send(make_json_response(404, body, version_, keep_alive_));
    }
    reply_json(200, encode_transfer(view, page->as_of_position));
  }

  void finish_command(const decoded_command& command, command_kind kind,
                      const result<command_reply>& reply) {
    if (!reply)
      return reply_error(failure_error(reply.error()));
    if (!reply->accepted() && !is_rejection(reply->outcome))
      return reply_error(failure_error(status{reply->outcome}));
    auto response = make_response(http_status_for(reply->outcome, kind),
                                  encode_command_reply(*reply, command), "application/json",
                                  version_, keep_alive_);
    if (reply->duplicate)
      response.set("Idempotent-Replayed", "true");
    send(std::move(response));
  }

  void finish_health(const result<store_status>& health) {
    if (!health)
      return reply_error(failure_error(health.error()));
    json store{{"available", health->available},
               {"head", health->head},
               {"journal", health->journal},
               {"batches_committed", health->batches_committed},
               {"events_committed", health->events_committed}};
    if (!health->available) {
      store["failure"] = health->failure;
      auto response = make_json_response(503, json{{"status", "store_unavailable"}, {"store", store}},
                                         version_, keep_alive_);
      response.set(http::field::retry_after, "1");
      return send(std::move(response));
    }
    reply_json(200, json{{"status", "ok"}, {"store", store}});
  }

  void finish_balance(const result<balance_view>& view) {
    if (!view)
      return reply_error(failure_error(view.error()));
    if (!view->exists) {
      auto body = error_body(make_api_error(404, error_code::account_not_found, "account_not_found",
                                            "no account with this id was opened"));
      body["as_of_position"] = view->as_of_position;
      return send(make_json_response(404, body, version_, keep_alive_));
    }
    reply_json(200, encode_balance(route_.account_id, *view));
  }

  void finish_state(const result<replayed_state>& replayed) {
    if (!replayed)
      return reply_error(failure_error(replayed.error()));
    if (!replayed->stream_exists)
      return reply_error(make_api_error(404, error_code::account_not_found, "account_not_found",
                                        "the account has no events"));
    const auto& at = replayed->at;
    if (route_.version && at.version < *route_.version)
      return reply_error(make_api_error(404, error_code::account_not_found, "version_not_found",
                                        "the account has only " + std::to_string(at.version)
                                          + " events"));
    json body{{"account_id", route_.account_id},
              {"status", std::string{bank::to_string(at.state.status)}},
              {"balance", at.state.balance},
              {"balance_text", format_money(at.state.balance)},
              {"version", at.version},
              {"position", at.position},
              {"timestamp_ns", at.timestamp_ns}};
    body["timestamp"] = at.version == 0 ? json(nullptr) : json(format_timestamp(at.timestamp_ns));
    reply_json(200, body);
  }

  void reply_json(unsigned status, const json& body) {
    send(make_json_response(status, body, version_, keep_alive_));
  }

  void reply_error(const api_error& failure) {
    send(make_error_response(failure, version_, keep_alive_));
  }

  /// Runs `work` on the I/O thread (from a CAF callback).
  template <class Work>
  void post(Work work) {
    net::post(server_->io, std::move(work));
  }

  void send(string_response response) {
    if (counted_pending_) {
      counted_pending_ = false;
      server_->responses_pending.fetch_sub(1);
    }
    server_->metrics.http_response(response.result_int());
    if (server_->options.request_log)
      server_->log->info("request method={} target={} status={} duration_us={}",
                         std::string{request_.method_string()}, std::string{request_.target()},
                         response.result_int(),
                         std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                                               - started_)
                           .count());
    if (closed_)
      return;
    if (server_->draining.load())
      response.keep_alive(false);
    bool close_after = !response.keep_alive();
    response_ = std::make_shared<string_response>(std::move(response));
    stream_.expires_after(server_->options.read_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this(), close_after](beast::error_code failure, std::size_t) {
                        self->response_.reset();
                        if (failure || close_after) {
                          self->close();
                          return;
                        }
                        self->read_request();
                      });
  }

  // -- Server-sent events -----------------------------------------------------------

  void start_feed() {
    feeding_ = true;
    server_->metrics.event_feeds.fetch_add(1);
    next_position_ = route_.from;
    feed_ = std::make_shared<feed_buffer>();
    feed_->events_max = server_->options.sse_buffer_events_max;
    stream_.expires_never();
    std::string header = "HTTP/1.1 200 OK\r\nServer: tallyd\r\nContent-Type: text/event-stream\r\n"
                         "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    server_->metrics.http_response(200);
    write_feed(std::move(header), [](session& self) { self.catch_up(); });
    // Clients send nothing on a feed; a read completing means they went away.
    stream_.async_read_some(net::buffer(peer_byte_, 1),
                            [self = shared_from_this()](beast::error_code, std::size_t) {
                              self->close();
                            });
    heartbeat_ = std::make_unique<net::steady_timer>(server_->io);
    arm_heartbeat();
  }

  void arm_heartbeat() {
    heartbeat_->expires_after(std::chrono::milliseconds{sse_heartbeat_ms});
    heartbeat_->async_wait([self = shared_from_this()](beast::error_code failure) {
      if (failure || self->closed_)
        return;
      // A write that has not finished within the read timeout: the peer stopped reading.
      if (self->writing_
          && clock_type::now() - self->write_started_ > self->server_->options.read_timeout) {
        self->server_->log->warn("event feed dropped reason=write_timeout");
        self->close();
        return;
      }
      if (!self->writing_)
        self->write_feed(": heartbeat\n\n", [](session&) {});
      self->arm_heartbeat();
    });
  }

  /// Writes `chunk`, then calls `next` (I/O thread). One write at a time.
  void write_feed(std::string chunk, std::function<void(session&)> next) {
    if (closed_)
      return;
    writing_ = true;
    write_started_ = clock_type::now();
    feed_chunk_ = std::make_shared<std::string>(std::move(chunk));
    net::async_write(stream_.socket(), net::buffer(*feed_chunk_),
                     [self = shared_from_this(), next = std::move(next)](beast::error_code failure,
                                                                         std::size_t) {
                       self->writing_ = false;
                       self->feed_chunk_.reset();
                       if (failure || self->closed_) {
                         self->close();
                         return;
                       }
                       next(*self);
                     });
  }

  /// Reads the journal page by page, writing each page before asking for the next,
  /// so a slow reader slows the catch-up instead of filling memory.
  void catch_up() {
    auto self = shared_from_this();
    server_->gateway.read_all(next_position_, sse_catch_up_page_events,
                              [self](result<std::vector<recorded_event>> events) {
                                self->post([self, events = std::move(events)] {
                                  self->on_catch_up_page(events);
                                });
                              });
  }

  void on_catch_up_page(const result<std::vector<recorded_event>>& events) {
    if (closed_)
      return;
    if (!events) {
      write_feed("event: error\ndata: " + dump(error_body(failure_error(events.error()))) + "\n",
                 [](session& self) { self.close(); });
      return;
    }
    if (events->empty()) {
      go_live();
      return;
    }
    std::string chunk;
    for (const auto& event : *events)
      chunk += format_sse_event(event);
    next_position_ = events->back().position + 1;
    bool more = events->size() >= sse_catch_up_page_events;
    write_feed(std::move(chunk), [more](session& self) {
      if (more)
        self.catch_up();
      else
        self.go_live();
    });
  }

  void go_live() {
    if (closed_)
      return;
    std::weak_ptr<session> weak = weak_from_this();
    auto buffer = feed_;
    auto server = server_;
    subscription_ = server_->gateway.bank().subscribe(
      next_position_, [weak, buffer, server](const recorded_event& event) {
        bool post_flush = false;
        {
          std::lock_guard guard{buffer->mutex};
          if (buffer->overflowed)
            return;
          if (buffer->events.size() >= buffer->events_max)
            buffer->overflowed = true;
          else
            buffer->events.push_back(format_sse_event(event));
          if (!buffer->flush_posted) {
            buffer->flush_posted = true;
            post_flush = true;
          }
        }
        if (post_flush)
          net::post(server->io, [weak] {
            if (auto self = weak.lock())
              self->flush_feed();
          });
      });
  }

  void flush_feed() {
    if (closed_)
      return;
    if (writing_) {
      // The running write calls flush_feed() again when it completes; but a client
      // whose buffer overflowed while a write is stuck is dropped now.
      bool overflowed = false;
      {
        std::lock_guard guard{feed_->mutex};
        feed_->flush_posted = false;
        overflowed = feed_->overflowed;
      }
      if (overflowed) {
        server_->metrics.slow_consumers_dropped.fetch_add(1);
        server_->log->warn("event feed dropped reason=slow_consumer buffer_events_max={}",
                           feed_->events_max);
        close();
      }
      return;
    }
    std::string chunk;
    bool overflowed = false;
    {
      std::lock_guard guard{feed_->mutex};
      feed_->flush_posted = false;
      overflowed = feed_->overflowed;
      for (auto& event : feed_->events)
        chunk += event;
      feed_->events.clear();
    }
    if (overflowed) {
      server_->metrics.slow_consumers_dropped.fetch_add(1);
      subscription_.cancel();
      server_->log->warn("event feed dropped reason=slow_consumer buffer_events_max={}",
                         feed_->events_max);
      write_feed(chunk + "event: error\ndata: {\"error\":\"slow_consumer\",\"code\":"
                         "\"limit_exceeded\",\"message\":\"the client fell too far behind; "
                         "reconnect with ?from=\"}\n\n",
                 [](session& self) { self.close(); });
      return;
    }
    if (chunk.empty())
      return;
    write_feed(std::move(chunk), [](session& self) { self.flush_feed(); });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<http_server::impl> server_;
  request_limits limits_;
  /// Bounded (request_buffer_bytes_max): Beast bounds the header and the body, not an
  /// unterminated chunk-size line or trailer.
  beast::flat_buffer buffer_;
  std::optional<http_request_parser> parser_;
  http_request request_;
  route_match route_;
  unsigned version_ = 11;
  bool refuse_ = false;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool counted_pending_ = false;
  clock_type::time_point started_;
  std::shared_ptr<string_response> response_;
  // Event feed.
  bool feeding_ = false;
  bool writing_ = false;
  clock_type::time_point write_started_;
  std::uint64_t next_position_ = 1;
  std::shared_ptr<feed_buffer> feed_;
  std::shared_ptr<std::string> feed_chunk_;
  subscription subscription_;
  std::unique_ptr<net::steady_timer> heartbeat_;
  char peer_byte_[1] = {0};
};

void http_server::impl::refuse(tcp::socket socket) {
  metrics.connections_refused.fetch_add(1);
  // Past twice the limit even the 503 is not worth a socket: close at once.
  if (metrics.open_connections.load() >= 2 * static_cast<std::int64_t>(options.connections_max)) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<session>(std::move(socket), shared_from_this(), /*refuse=*/true)->start();
}

void http_server::impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code failure, tcp::socket socket) {
    if (failure) {
      if (failure == net::error::operation_aborted || !self->acceptor.is_open())
        return;
      self->log->warn("accept failed error={}", failure.message());
    } else if (self->draining.load()) {
      beast::error_code ignored;
      socket.close(ignored);
    } else if (self->metrics.open_connections.load()
               >= static_cast<std::int64_t>(self->options.connections_max)) {
      self->refuse(std::move(socket));
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<session>(std::move(socket), self, /*refuse=*/false)->start();
    }
    if (self->acceptor.is_open())
      self->accept();
  });
}

http_server::http_server(server_options options, bank_gateway& gateway, daemon_metrics& metrics,
                         std::shared_ptr<spdlog::logger> log)
  : impl_(std::make_shared<impl>(std::move(options), gateway, metrics, std::move(log))) {}

http_server::~http_server() { stop(); }

std::string http_server::bind() {
  beast::error_code failure;
  auto address = net::ip::make_address(impl_->options.listen.host, failure);
  if (failure)
    return "bad address: " + failure.message();
  tcp::endpoint endpoint{address, impl_->options.listen.port};
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), failure);
  if (!failure)
    acceptor.set_option(net::socket_base::reuse_address(true), failure);
  if (!failure)
    acceptor.bind(endpoint, failure);
  if (!failure)
    acceptor.listen(net::socket_base::max_listen_connections, failure);
  if (failure)
    return failure.message();
  return {};
}

std::string http_server::local_endpoint() const {
  beast::error_code failure;
  auto endpoint = impl_->acceptor.local_endpoint(failure);
  if (failure)
    return {};
  auto host = endpoint.address().to_string();
  if (endpoint.address().is_v6())
    host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

void http_server::start() {
  impl_->accept();
  impl_->thread = std::thread{[server = impl_] { server->io.run(); }};
}

void http_server::stop_accepting() {
  if (impl_->draining.exchange(true))
    return;
  net::post(impl_->io, [server = impl_] {
    beast::error_code ignored;
    server->acceptor.close(ignored);
  });
}

bool http_server::wait_idle(std::chrono::milliseconds wait) {
  auto deadline = clock_type::now() + wait;
  while (clock_type::now() < deadline) {
    if (impl_->metrics.commands_in_flight.load() == 0 && impl_->responses_pending.load() == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return false;
}

std::int64_t http_server::responses_pending() const noexcept {
  return impl_->responses_pending.load();
}

void http_server::stop() {
  if (!impl_->thread.joinable())
    return;
  stop_accepting();
  net::post(impl_->io, [server = impl_] {
    std::vector<std::shared_ptr<session>> open;
    {
      std::lock_guard guard{server->sessions_mutex};
      for (auto& [pointer, weak] : server->sessions)
        if (auto alive = weak.lock())
          open.push_back(std::move(alive));
    }
    for (auto& connection : open)
      connection->close();
    server->io.stop();
  });
  impl_->thread.join();
  // io.stop() leaves the completions of the operations close() aborted in the queue;
  // each holds its session, which holds this impl, which owns the queue: a cycle that
  // leaked every connection still open at shutdown (LeakSanitizer). Run them here, on
  // the only thread left using io; closed sessions start no new operations.
  impl_->io.restart();
  impl_->io.poll();
}

}  // namespace tally::daemon
