#include "app/tallyd/routes.hpp"

#include <set>
#include <vector>

#include "app/tallyd/limits.hpp"

namespace tally::daemon {

namespace {

struct route_entry {
  route_kind kind;
  const char* method;
};

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);  // the leading '/'
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0)
        return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

api_error bad_query(std::string error, std::string message) {
  return make_api_error(400, error_code::invalid_argument, std::move(error), std::move(message));
}

}  // namespace

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool is_command_route(route_kind kind) noexcept {
  return kind == route_kind::open_account || kind == route_kind::deposit
         || kind == route_kind::withdraw || kind == route_kind::close_account;
}

bool route_takes_body(route_kind kind) noexcept {
  return is_command_route(kind) || kind == route_kind::transfer;
}

command_kind command_kind_of(route_kind kind) noexcept {
  switch (kind) {
    case route_kind::open_account: return command_kind::open;
    case route_kind::withdraw: return command_kind::withdraw;
    case route_kind::close_account: return command_kind::close;
    default: return command_kind::deposit;
  }
}

std::string_view route_label(route_kind kind) noexcept {
  switch (kind) {
    case route_kind::health: return "GET /health";
    case route_kind::metrics: return "GET /metrics";
    case route_kind::totals: return "GET /totals";
    case route_kind::event_feed: return "GET /events";
    case route_kind::open_account: return "POST /accounts";
    case route_kind::deposit: return "POST /accounts/{id}/deposits";
    case route_kind::withdraw: return "POST /accounts/{id}/withdrawals";
    case route_kind::close_account: return "POST /accounts/{id}/close";
    case route_kind::balance: return "GET /accounts/{id}";
    case route_kind::history: return "GET /accounts/{id}/events";
    case route_kind::state: return "GET /accounts/{id}/state";
    case route_kind::transfer: return "POST /transfers";
    case route_kind::transfer_state: return "GET /transfers/{id}";
  }
  return "?";
}

decoded<route_match> match_route(std::string_view method, std::string_view target) {
  decoded<route_match> out;
  auto fail = [&](api_error failure) {
    out.failure = std::move(failure);
    return out;
  };
  auto not_found = [&] {
    return fail(make_api_error(404, error_code::invalid_argument, "route_not_found",
                               "no such route; see docs/http_api.md"));
  };
  if (target.empty() || target.front() != '/')
    return not_found();
  auto question = target.find('?');
  auto path = target.substr(0, question);
  auto query_text = question == std::string_view::npos ? std::string_view{}
                                                       : target.substr(question + 1);
  auto segments = split_path(path);
  // 1. Path -> route (404), 2. method (405).
  std::optional<route_kind> get_route, post_route;
  std::string_view account, transfer;
  bool has_account = false, has_transfer = false;
  if (segments.size() == 1) {
    if (segments[0] == "health")
      get_route = route_kind::health;
    else if (segments[0] == "metrics")
      get_route = route_kind::metrics;
    else if (segments[0] == "totals")
      get_route = route_kind::totals;
    else if (segments[0] == "events")
      get_route = route_kind::event_feed;
    else if (segments[0] == "accounts")
      post_route = route_kind::open_account;
    else if (segments[0] == "transfers")
      post_route = route_kind::transfer;
  } else if (segments[0] == "transfers" && segments.size() == 2) {
    has_transfer = true;
    transfer = segments[1];
    get_route = route_kind::transfer_state;
  } else if (segments[0] == "accounts" && segments.size() == 2) {
    has_account = true;
    get_route = route_kind::balance;
  } else if (segments[0] == "accounts" && segments.size() == 3) {
    has_account = true;
    auto sub = segments[2];
    if (sub == "deposits")
      post_route = route_kind::deposit;
    else if (sub == "withdrawals")
      post_route = route_kind::withdraw;
    else if (sub == "close")
      post_route = route_kind::close_account;
    else if (sub == "events")
      get_route = route_kind::history;
    else if (sub == "state")
      get_route = route_kind::state;
  }
  if (has_account)
    account = segments[1];
  if (!get_route && !post_route)
    return not_found();
  std::optional<route_kind> chosen = method == "GET" ? get_route : method == "POST" ? post_route
                                                                                    : std::nullopt;
  if (!chosen) {
    auto failure = make_api_error(405, error_code::invalid_argument, "method_not_allowed",
                                  std::string{"this route takes "} + (get_route ? "GET" : "POST"));
    out.failure = std::move(failure);
    return out;
  }
  route_match match;
  match.kind = *chosen;
  match.path = std::string{path};
  // 3. Account or transfer id in the path: raw bytes, no percent-decoding (the safe
  //    charset has no character that needs it, so "%2e%2e" is refused like any other '%').
  if (has_account) {
    if (auto problem = account_id_problem(account); !problem.empty())
      return fail(bad_query("account_id_invalid", problem));
    match.account_id = std::string{account};
  }
  if (has_transfer) {
    if (auto problem = transfer_id_problem(transfer); !problem.empty())
      return fail(bad_query("transfer_id_invalid", problem));
    match.transfer_id = std::string{transfer};
  }
  // 4. Query string.
  std::set<std::string> allowed;
  switch (match.kind) {
    case route_kind::totals:
    case route_kind::balance:
    case route_kind::transfer_state: allowed = {"min_position"}; break;
    case route_kind::event_feed: allowed = {"from"}; break;
    case route_kind::history: allowed = {"from_version", "limit", "min_position"}; break;
    case route_kind::state: allowed = {"version", "at"}; break;
    default: break;
  }
  while (!query_text.empty()) {
    auto amp = query_text.find('&');
    auto pair = query_text.substr(0, amp);
    query_text = amp == std::string_view::npos ? std::string_view{} : query_text.substr(amp + 1);
    if (pair.empty())
      continue;
    auto equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals));
    auto value = percent_decode(equals == std::string_view::npos ? std::string_view{}
                                                                 : pair.substr(equals + 1));
    if (!key || !value || equals == std::string_view::npos)
      return fail(bad_query("malformed_query", "query parameters are key=value pairs"));
    if (allowed.count(*key) == 0)
      return fail(bad_query("unknown_parameter", "this route does not take that query parameter"));
    if (!match.query.emplace(*key, *value).second)
      return fail(bad_query("duplicate_parameter", "a query parameter is given twice"));
  }
  auto number = [&](const char* name, std::uint64_t& into) -> bool {
    auto it = match.query.find(name);
    if (it == match.query.end())
      return true;
    auto value = parse_decimal(it->second);
    if (!value)
      return false;
    into = *value;
    return true;
  };
  if (!number("min_position", match.min_position))
    return fail(bad_query("parameter_invalid", "min_position must be a non-negative integer"));
  match.from = 1;
  if (!number("from", match.from) || match.from == 0)
    return fail(bad_query("parameter_invalid", "from must be a position >= 1"));
  if (!number("from_version", match.from_version) || match.from_version == 0)
    return fail(bad_query("parameter_invalid", "from_version must be a version >= 1"));
  match.limit = events_page_default;
  if (!number("limit", match.limit) || match.limit == 0 || match.limit > events_page_max)
    return fail(bad_query("parameter_invalid",
                          "limit must be in 1.." + std::to_string(events_page_max)));
  if (match.kind == route_kind::state) {
    auto version = match.query.find("version");
    auto at = match.query.find("at");
    if ((version == match.query.end()) == (at == match.query.end()))
      return fail(bad_query("parameter_invalid", "give exactly one of version=V or at=TIMESTAMP"));
    if (version != match.query.end()) {
      match.version = parse_decimal(version->second);
      if (!match.version)
        return fail(bad_query("parameter_invalid", "version must be a non-negative integer"));
    } else {
      match.at_ns = parse_timestamp(at->second);
      if (!match.at_ns)
        return fail(bad_query("parameter_invalid",
                              "at must be nanoseconds since the epoch or RFC 3339 UTC "
                              "(2024-05-01T12:00:00Z)"));
    }
  }
  out.value = std::move(match);
  return out;
}

}  // namespace tally::daemon
