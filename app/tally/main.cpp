// tally: the operator's command-line tool. Talks to a running tallyd over HTTP
// (open, deposit, withdraw, close, transfer, balance, events, state, transfer-status,
// totals, health, tail) or reads a data directory offline (verify, inspect). Human
// output by default, --json for scripts (the daemon's JSON body, one object per line).
//
// Exit codes: 0 success; 1 the bank refused the command (409/422), a transfer failed,
// or verify found errors; 2 usage error or invalid input (400); 3 not found (404); 4
// unauthorized (401); 5 daemon unreachable or unavailable (connection failure, 5xx,
// timeout).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/http_common/http_client.hpp"
#include "app/tally/offline.hpp"
#include "tally/ids.hpp"
#include "tally/money.hpp"

namespace {

using json = nlohmann::json;
using tally::http_common::header_list;
using tally::http_common::http_client;
using tally::http_common::http_response;

constexpr int exit_ok = 0;
constexpr int exit_rejected = 1;
constexpr int exit_usage = 2;
constexpr int exit_not_found = 3;
constexpr int exit_unauthorized = 4;
constexpr int exit_unavailable = 5;

struct global_options {
  std::string url = "http://127.0.0.1:8080";
  std::string token_file;
  bool as_json = false;
  std::uint64_t timeout_ms = 30'000;
};

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Exit code for an HTTP status.
int exit_code_for(unsigned status) {
  if (status >= 200 && status < 300)
    return exit_ok;
  if (status == 409 || status == 422)
    return exit_rejected;
  if (status == 404)
    return exit_not_found;
  if (status == 401)
    return exit_unauthorized;
  if (status >= 400 && status < 500)
    return exit_usage;
  return exit_unavailable;
}

class daemon_connection {
public:
  explicit daemon_connection(const global_options& options) : options_(options) {}

  /// Empty on success, else why the connection cannot be set up.
  std::string prepare() {
    tally::http_common::endpoint where;
    if (auto problem = tally::http_common::parse_url(options_.url, where); !problem.empty())
      return "--url: " + problem;
    std::string token;
    if (!options_.token_file.empty()) {
      std::ifstream file{options_.token_file};
      if (!file || !std::getline(file, token))
        return "--token-file: cannot read " + options_.token_file;
      while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    } else if (const char* from_env = std::getenv("TALLY_TOKEN")) {
      token = from_env;
    }
    if (!token.empty())
      headers_.emplace_back("Authorization", "Bearer " + token);
    client_.emplace(where, std::chrono::milliseconds{options_.timeout_ms});
    return {};
  }

  http_response request(const std::string& method, const std::string& target, const std::string& body = {},
                        header_list extra = {}) {
    auto headers = headers_;
    headers.insert(headers.end(), extra.begin(), extra.end());
    return client_->request(method, target, body, headers);
  }

  http_client& client() { return *client_; }
  const header_list& headers() const { return headers_; }

private:
  const global_options& options_;
  header_list headers_;
  std::optional<http_client> client_;
};

/// Prints a failed response in human form on stderr; returns the exit code.
int report_failure(const http_response& response, const std::string& what) {
  if (!response.ok()) {
    std::cerr << "tally: " << what << ": " << response.error << "\n";
    return exit_unavailable;
  }
  auto body = json::parse(response.body, nullptr, false);
  std::string error = body.is_object() ? body.value("error", "") : "";
  std::string message = body.is_object() ? body.value("message", "") : "";
  std::cerr << "tally: " << what << ": HTTP " << response.status;
  if (!error.empty())
    std::cerr << " " << error;
  if (!message.empty())
    std::cerr << ": " << message;
  std::cerr << "\n";
  return exit_code_for(response.status);
}

/// Prints a response: the JSON body with --json, else `human(body)`; returns the
/// exit code. Failures go to stderr (and, with --json, the body to stdout as well).
template <class Human>
int finish(const global_options& options, const http_response& response, const std::string& what,
           Human human) {
  if (!response.ok())
    return report_failure(response, what);
  auto body = json::parse(response.body, nullptr, false);
  if (options.as_json) {
    std::cout << (body.is_discarded() ? response.body : dump(body) + "\n");
    return exit_code_for(response.status);
  }
  if (response.status >= 300 || !body.is_object())
    return report_failure(response, what);
  human(body);
  return exit_ok;
}

std::optional<std::int64_t> parse_amount(const std::string& text) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value))
      return std::nullopt;
  }
  return value;
}

std::string money_text(const json& body, const char* field) {
  return tally::format_money(body.value(field, std::int64_t{0}));
}

}  // namespace

int main(int argc, char** argv) {
  global_options options;
  if (const char* url = std::getenv("TALLY_URL"))
    options.url = url;
  CLI::App app{"tally: operate a Tally bank daemon (tallyd) or inspect its data directory", "tally"};
  app.require_subcommand(1);
  app.add_option("--url", options.url, "daemon URL (env TALLY_URL)")->capture_default_str();
  app.add_option("--token-file", options.token_file,
                 "file with the bearer token (default: env TALLY_TOKEN)");
  app.add_flag("--json", options.as_json, "print JSON (one object per line) instead of text");
  app.add_option("--timeout-ms", options.timeout_ms, "per-request timeout")->capture_default_str()
    ->check(CLI::Range(1, 3'600'000));
  app.footer("Exit codes: 0 ok, 1 rejected by the bank / transfer failed / verify failed,\n"
             "2 usage or invalid input, 3 not found, 4 unauthorized, 5 daemon unreachable or\n"
             "unavailable.");

  std::string account, amount_text, command_id_text, at_text, directory, stream;
  std::string source, target, transfer_id_text;
  std::uint64_t version = 0, min_position = 0, from_version = 1, limit = 100, from = 1, count = 0;
  std::uint64_t inspect_from = 1, inspect_limit = UINT64_MAX;
  auto add_command_id = [&](CLI::App* sub) {
    sub->add_option("--command-id", command_id_text,
                    "idempotency key (default: a new random id, printed so you can retry)");
  };
  auto* open = app.add_subcommand("open", "open an account");
  open->add_option("account", account, "account id")->required();
  add_command_id(open);
  auto* deposit = app.add_subcommand("deposit", "deposit minor units into an account");
  deposit->add_option("account", account, "account id")->required();
  deposit->add_option("amount", amount_text, "amount in minor units (integer > 0)")->required();
  add_command_id(deposit);
  auto* withdraw = app.add_subcommand("withdraw", "withdraw minor units from an account");
  withdraw->add_option("account", account, "account id")->required();
  withdraw->add_option("amount", amount_text, "amount in minor units (integer > 0)")->required();
  add_command_id(withdraw);
  auto* close = app.add_subcommand("close", "close an account (balance must be 0)");
  close->add_option("account", account, "account id")->required();
  add_command_id(close);
  auto* transfer = app.add_subcommand("transfer", "move minor units from one account to another");
  transfer->add_option("source", source, "account to debit")->required();
  transfer->add_option("target", target, "account to credit")->required();
  transfer->add_option("amount", amount_text, "amount in minor units (integer > 0)")->required();
  transfer->add_option("--transfer-id", transfer_id_text,
                       "idempotency key (default: a new random id, printed so you can retry)");
  auto* balance = app.add_subcommand("balance", "balance of an account (read model)");
  balance->add_option("account", account, "account id")->required();
  balance->add_option("--min-position", min_position, "wait until the read model reached it");
  auto* events = app.add_subcommand("events", "events of an account");
  events->add_option("account", account, "account id")->required();
  events->add_option("--from-version", from_version, "first version")->capture_default_str();
  events->add_option("--limit", limit, "events per page (1..1000)")->capture_default_str();
  auto* state = app.add_subcommand("state", "state of an account at a version or time");
  state->add_option("account", account, "account id")->required();
  auto* version_option = state->add_option("--version", version, "after this many events");
  auto* at_option = state->add_option("--at", at_text,
                                      "as of a time: RFC 3339 UTC or nanoseconds since the epoch");
  version_option->excludes(at_option);
  auto* transfer_status = app.add_subcommand("transfer-status", "state of a transfer (read model)");
  transfer_status->add_option("transfer", transfer_id_text, "transfer id")->required();
  transfer_status->add_option("--min-position", min_position, "wait until the read model reached it");
  auto* totals = app.add_subcommand("totals", "bank-wide totals");
  auto* health = app.add_subcommand("health", "daemon liveness and store status");
  auto* tail = app.add_subcommand("tail", "follow the event feed (server-sent events)");
  tail->add_option("--from", from, "first position")->capture_default_str();
  tail->add_option("--count", count, "stop after this many events (0: follow forever)");
  auto* verify = app.add_subcommand("verify", "verify a data directory offline (daemon stopped)");
  verify->add_option("directory", directory, "data directory")->required();
  auto* inspect = app.add_subcommand("inspect", "dump a data directory's records as JSON lines");
  inspect->add_option("directory", directory, "data directory")->required();
  inspect->add_option("--stream", stream, "only this account");
  inspect->add_option("--from", inspect_from, "first position");
  inspect->add_option("--limit", inspect_limit, "at most this many records");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& failure) {
    std::cerr << "tally: " << failure.what() << "\n(run tally --help)\n";
    return exit_usage;
  }

  // Offline commands.
  if (verify->parsed())
    return tally::cli::run_verify(directory, options.as_json, std::cout, std::cerr);
  if (inspect->parsed())
    return tally::cli::run_inspect({directory, stream, inspect_from, inspect_limit}, std::cout, std::cerr);

  daemon_connection daemon{options};
  if (auto problem = daemon.prepare(); !problem.empty()) {
    std::cerr << "tally: " << problem << "\n";
    return exit_usage;
  }

  // Commands.
  if (open->parsed() || deposit->parsed() || withdraw->parsed() || close->parsed()) {
    if (command_id_text.empty())
      command_id_text = tally::to_string(tally::command_id::random());
    json body{{"command_id", command_id_text}};
    std::string target = "/accounts/" + account;
    std::string what = "command";
    if (open->parsed()) {
      target = "/accounts";
      body["account_id"] = account;
      what = "open";
    } else if (close->parsed()) {
      target += "/close";
      what = "close";
    } else {
      auto amount = parse_amount(amount_text);
      if (!amount) {
        std::cerr << "tally: amount must be an integer number of minor units, got '" << amount_text
                  << "'\n";
        return exit_usage;
      }
      body["amount"] = *amount;
      target += deposit->parsed() ? "/deposits" : "/withdrawals";
      what = deposit->parsed() ? "deposit" : "withdraw";
    }
    auto response = daemon.request("POST", target, dump(body));
    // No answer, or a 5xx (store unavailable, ...): the command may have been applied.
    if (!response.ok() || response.status >= 500)
      std::cerr << "tally: the outcome is unknown; retry with --command-id " << command_id_text << "\n";
    return finish(options, response, what, [&](const json& reply) {
      std::cout << reply.value("outcome", "?") << ": " << reply.value("command", what) << " "
                << reply.value("account_id", account) << " version=" << reply.value("version", 0)
                << " position=" << reply.value("position", 0) << " command_id=" << command_id_text
                << (response.header("idempotent-replayed") == "true" ? " (replayed)" : "") << "\n";
    });
  }
  if (transfer->parsed()) {
    auto amount = parse_amount(amount_text);
    if (!amount) {
      std::cerr << "tally: amount must be an integer number of minor units, got '" << amount_text
                << "'\n";
      return exit_usage;
    }
    if (transfer_id_text.empty())
      transfer_id_text = tally::to_string(tally::command_id::random());
    json body{{"transfer_id", transfer_id_text}, {"source", source}, {"target", target},
              {"amount", *amount}};
    auto response = daemon.request("POST", "/transfers", dump(body));
    // A transfer that got no answer, or a 5xx, may still be running or resume later.
    if (!response.ok() || response.status >= 500)
      std::cerr << "tally: the outcome is unknown; retry with --transfer-id " << transfer_id_text
                << "\n";
    auto code = finish(options, response, "transfer", [&](const json& reply) {
      std::cout << reply.value("outcome", "?") << ": transfer " << transfer_id_text << " "
                << reply.value("source", source) << " -> " << reply.value("target", target) << " "
                << money_text(reply, "amount");
      if (reply.contains("reason"))
        std::cout << " reason=" << reply.value("reason", "");
      std::cout << " position=" << reply.value("position", 0)
                << (reply.value("duplicate", false) ? " (replayed)" : "") << "\n";
    });
    // A failed transfer is answered 200 (it ran to its end) but moved no money.
    auto reply = json::parse(response.body, nullptr, false);
    if (code == exit_ok && reply.is_object() && reply.value("outcome", "") == "failed")
      return exit_rejected;
    return code;
  }
  if (transfer_status->parsed()) {
    std::string target_path = "/transfers/" + transfer_id_text;
    if (min_position > 0)
      target_path += "?min_position=" + std::to_string(min_position);
    auto response = daemon.request("GET", target_path);
    return finish(options, response, "transfer-status", [&](const json& view) {
      std::cout << view.value("transfer_id", transfer_id_text) << " " << view.value("status", "?")
                << ": " << view.value("source", "") << " -> " << view.value("target", "") << " "
                << money_text(view, "amount");
      for (const char* step : {"debited", "credited", "refunded", "settled"})
        if (view.value(step, false))
          std::cout << " " << step;
      if (view.contains("reason"))
        std::cout << " reason=" << view.value("reason", "");
      std::cout << " in_flight=" << money_text(view, "in_flight")
                << " as_of_position=" << view.value("as_of_position", 0) << "\n";
    });
  }
  if (balance->parsed()) {
    std::string target = "/accounts/" + account;
    if (min_position > 0)
      target += "?min_position=" + std::to_string(min_position);
    return finish(options, daemon.request("GET", target), "balance", [&](const json& view) {
      std::cout << view.value("account_id", account) << " " << money_text(view, "balance") << " ("
                << view.value("status", "?") << ") version=" << view.value("version", 0)
                << " as_of_position=" << view.value("as_of_position", 0) << "\n";
    });
  }
  if (events->parsed()) {
    auto target = "/accounts/" + account + "/events?from_version=" + std::to_string(from_version)
                  + "&limit=" + std::to_string(limit);
    return finish(options, daemon.request("GET", target), "events", [&](const json& page) {
      for (const auto& event : page["events"])
        std::cout << event.value("version", 0) << "  " << event.value("timestamp", "") << "  "
                  << event.value("type", "") << "  " << money_text(event, "amount") << "  balance "
                  << money_text(event, "balance_after") << "  position " << event.value("position", 0)
                  << "\n";
      if (!page["next_version"].is_null())
        std::cout << "(more: --from-version " << page["next_version"] << ")\n";
    });
  }
  if (state->parsed()) {
    if (version_option->count() == 0 && at_option->count() == 0) {
      std::cerr << "tally: state needs --version V or --at TIME\n";
      return exit_usage;
    }
    auto target = "/accounts/" + account + "/state?"
                  + (version_option->count() ? "version=" + std::to_string(version) : "at=" + at_text);
    return finish(options, daemon.request("GET", target), "state", [&](const json& view) {
      std::cout << view.value("account_id", account) << " " << money_text(view, "balance") << " ("
                << view.value("status", "?") << ") version=" << view.value("version", 0)
                << " position=" << view.value("position", 0) << "\n";
    });
  }
  if (totals->parsed())
    return finish(options, daemon.request("GET", "/totals"), "totals", [&](const json& view) {
      std::cout << "total " << money_text(view, "total_balance") << " in_flight "
                << money_text(view, "money_in_flight") << " accounts_open="
                << view.value("accounts_open", 0) << " accounts_closed=" << view.value("accounts_closed", 0)
                << " events=" << view.value("events", 0) << " as_of_position="
                << view.value("as_of_position", 0) << "\n";
    });
  if (health->parsed())
    return finish(options, daemon.request("GET", "/health"), "health", [&](const json& view) {
      std::cout << view.value("status", "?") << " head=" << view["store"].value("head", 0) << " journal="
                << view["store"].value("journal", "") << "\n";
    });
  if (tail->parsed()) {
    std::uint64_t seen = 0;
    auto head = daemon.client().stream_events(
      "/events?from=" + std::to_string(from), daemon.headers(),
      [&](const tally::http_common::sse_event& event) {
        if (event.type == "error") {
          std::cerr << "tally: feed ended by the daemon: " << event.data << "\n";
          return false;
        }
        auto data = json::parse(event.data, nullptr, false);
        if (options.as_json || data.is_discarded()) {
          std::cout << event.data << "\n";
        } else {
          std::cout << data.value("position", 0) << "  " << data.value("timestamp", "") << "  "
                    << data.value("stream_id", "") << " v" << data.value("version", 0) << "  "
                    << data.value("type", "");
          if (data.contains("amount"))
            std::cout << "  " << money_text(data, "amount");
          std::cout << "\n";
        }
        std::cout.flush();
        return count == 0 || ++seen < count;
      },
      std::chrono::milliseconds{0});
    if (head.status != 200)
      return report_failure(head, "tail");
    if (!head.error.empty()) {
      std::cerr << "tally: tail: " << head.error << "\n";
      return exit_unavailable;
    }
    return exit_ok;
  }
  return exit_usage;
}
