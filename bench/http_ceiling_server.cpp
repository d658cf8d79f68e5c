// The HTTP ceiling of this machine: a trivial Boost.Beast server with tallyd's shape
// (one Asio I/O thread, keep-alive) that answers every request with the same 64-byte
// JSON body. http_bench drives it and tallyd with the same clients; the ratio says how
// much of the HTTP budget Tally's work takes.
//
// usage: http_ceiling_server [--listen 127.0.0.1:0]   (prints "listening on HOST:PORT")
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// 64 bytes; status 200 counts as an accepted command for the load drivers.
const std::string fixed_body = R"({"outcome":"accepted","position":1,"version":1,"padding":"...."})";
static_assert(sizeof(R"({"outcome":"accepted","position":1,"version":1,"padding":"...."})") - 1 == 64);

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket socket) : stream_(std::move(socket)) {}

  void read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code failure, std::size_t) {
                       if (!failure)
                         self->respond();
                     });
  }

private:
  void respond() {
    response_ = http::response<http::string_body>{http::status::ok, request_.version()};
    response_.set(http::field::content_type, "application/json");
    response_.keep_alive(request_.keep_alive());
    response_.body() = fixed_body;
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code failure, std::size_t) {
                        if (failure || !self->response_.keep_alive())
                          return;
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code failure, tcp::socket socket) {
    if (!failure)
      std::make_shared<session>(std::move(socket))->read();
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  if (argc == 3 && std::string{argv[1]} == "--listen") {
    listen = argv[2];
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: http_ceiling_server [--listen HOST:PORT]\n");
    return 2;
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "http_ceiling_server: --listen needs HOST:PORT, got %s\n", listen.c_str());
    return 2;
  }
  net::io_context io{1};
  beast::error_code failure;
  auto address = net::ip::make_address(listen.substr(0, colon), failure);
  if (failure) {
    std::fprintf(stderr, "http_ceiling_server: bad address %s\n", listen.c_str());
    return 2;
  }
  tcp::acceptor acceptor{io, {address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))}};
  std::printf("listening on %s:%u\n", address.to_string().c_str(), acceptor.local_endpoint().port());
  std::fflush(stdout);
  accept(acceptor);
  net::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&io](beast::error_code, int) { io.stop(); });
  io.run();
  return 0;
}
