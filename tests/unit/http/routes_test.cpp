#include "app/tallyd/routes.hpp"

#include <gtest/gtest.h>

#include "app/tallyd/http_server.hpp"

using namespace tally::daemon;

TEST(routes, match_every_route) {
  struct expectation {
    const char* method;
    const char* target;
    route_kind kind;
  };
  const expectation cases[] = {
    {"GET", "/health", route_kind::health},
    {"GET", "/metrics", route_kind::metrics},
    {"GET", "/totals?min_position=3", route_kind::totals},
    {"GET", "/events?from=5", route_kind::event_feed},
    {"POST", "/accounts", route_kind::open_account},
    {"POST", "/accounts/a1/deposits", route_kind::deposit},
    {"POST", "/accounts/a1/withdrawals", route_kind::withdraw},
    {"POST", "/accounts/a1/close", route_kind::close_account},
    {"GET", "/accounts/a1", route_kind::balance},
    {"GET", "/accounts/a1/events?from_version=2&limit=10", route_kind::history},
    {"GET", "/accounts/a1/state?version=2", route_kind::state},
    {"POST", "/transfers", route_kind::transfer},
    {"GET", "/transfers/t-1", route_kind::transfer_state},
    {"GET", "/transfers/t-1?min_position=4", route_kind::transfer_state},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.target);
    auto out = match_route(test.method, test.target);
    ASSERT_TRUE(out) << out.failure.error;
    EXPECT_EQ(out.value->kind, test.kind);
  }
}

TEST(routes, parse_parameters) {
  auto history = match_route("GET", "/accounts/a1/events?from_version=2&limit=10&min_position=9");
  ASSERT_TRUE(history);
  EXPECT_EQ(history.value->account_id, "a1");
  EXPECT_EQ(history.value->from_version, 2u);
  EXPECT_EQ(history.value->limit, 10u);
  EXPECT_EQ(history.value->min_position, 9u);
  auto at = match_route("GET", "/accounts/a1/state?at=1970-01-01T00%3A00%3A01Z");
  ASSERT_TRUE(at) << at.failure.message;
  EXPECT_EQ(at.value->at_ns, 1'000'000'000);
}

TEST(routes, refuse_in_the_documented_order) {
  struct expectation {
    const char* method;
    const char* target;
    unsigned status;
    const char* error;
  };
  const expectation cases[] = {
    {"GET", "/nope", 404, "route_not_found"},
    {"GET", "/accounts/a/b/c", 404, "route_not_found"},
    {"GET", "/accounts/a/nope", 404, "route_not_found"},
    {"GET", "/accounts/../x", 404, "route_not_found"},
    {"DELETE", "/accounts/a1", 405, "method_not_allowed"},
    {"GET", "/accounts", 405, "method_not_allowed"},
    {"POST", "/health", 405, "method_not_allowed"},
    {"POST", "/accounts//deposits", 400, "account_id_invalid"},
    {"GET", "/accounts/..", 400, "account_id_invalid"},
    {"GET", "/accounts/%2e%2e", 400, "account_id_invalid"},
    {"GET", "/accounts/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 400,
     "account_id_invalid"},
    {"GET", "/accounts/a1?x=1", 400, "unknown_parameter"},
    {"GET", "/accounts/a1?min_position=1&min_position=2", 400, "duplicate_parameter"},
    {"GET", "/accounts/a1?min_position=-1", 400, "parameter_invalid"},
    {"GET", "/accounts/a1?min_position", 400, "malformed_query"},
    {"GET", "/accounts/a1/events?limit=0", 400, "parameter_invalid"},
    {"GET", "/accounts/a1/events?limit=1001", 400, "parameter_invalid"},
    {"GET", "/accounts/a1/state", 400, "parameter_invalid"},
    {"GET", "/accounts/a1/state?version=1&at=0", 400, "parameter_invalid"},
    {"GET", "/accounts/a1/state?at=yesterday", 400, "parameter_invalid"},
    {"GET", "/events?from=0", 400, "parameter_invalid"},
    {"POST", "/accounts?x=1", 400, "unknown_parameter"},
    {"GET", "/transfers/t/x", 404, "route_not_found"},
    {"GET", "/transfers", 405, "method_not_allowed"},
    {"DELETE", "/transfers", 405, "method_not_allowed"},
    {"POST", "/transfers/t-1", 405, "method_not_allowed"},
    {"GET", "/transfers/..", 400, "transfer_id_invalid"},
    {"GET", "/transfers/%2e%2e", 400, "transfer_id_invalid"},
    {"GET", "/transfers/a:b", 400, "transfer_id_invalid"},
    {"GET", "/transfers/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 400,
     "transfer_id_invalid"},  // 56 bytes: "transfer:" + id would not be a stream id
    {"GET", "/transfers/t-1?limit=1", 400, "unknown_parameter"},
    {"GET", "/transfers/t-1?min_position=x", 400, "parameter_invalid"},
    {"POST", "/transfers?min_position=1", 400, "unknown_parameter"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(std::string{test.method} + " " + test.target);
    auto out = match_route(test.method, test.target);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.failure.http_status, test.status);
    EXPECT_EQ(out.failure.error, test.error);
  }
}

TEST(routes, parse_transfer_parameters_and_which_routes_take_a_body) {
  auto state = match_route("GET", "/transfers/t-1.x?min_position=12");
  ASSERT_TRUE(state) << state.failure.message;
  EXPECT_EQ(state.value->transfer_id, "t-1.x");
  EXPECT_EQ(state.value->min_position, 12u);
  EXPECT_TRUE(state.value->account_id.empty());
  auto longest = match_route("GET", "/transfers/" + std::string(55, 'a'));
  EXPECT_TRUE(longest) << longest.failure.message;
  EXPECT_TRUE(route_takes_body(route_kind::transfer));
  EXPECT_FALSE(is_command_route(route_kind::transfer));
  EXPECT_TRUE(route_takes_body(route_kind::deposit));
  EXPECT_FALSE(route_takes_body(route_kind::transfer_state));
  EXPECT_FALSE(route_takes_body(route_kind::balance));
  EXPECT_EQ(route_label(route_kind::transfer), "POST /transfers");
  EXPECT_EQ(route_label(route_kind::transfer_state), "GET /transfers/{id}");
}

TEST(routes, bearer_token_check) {
  std::string token = "0123456789abcdef0123";
  EXPECT_TRUE(bearer_token_matches("Bearer 0123456789abcdef0123", token));
  EXPECT_TRUE(bearer_token_matches("bearer 0123456789abcdef0123", token));
  EXPECT_FALSE(bearer_token_matches("Bearer 0123456789abcdef012", token));
  EXPECT_FALSE(bearer_token_matches("Bearer 0123456789abcdef01234", token));
  EXPECT_FALSE(bearer_token_matches("Bearer 1123456789abcdef0123", token));
  EXPECT_FALSE(bearer_token_matches("Basic 0123456789abcdef0123", token));
  EXPECT_FALSE(bearer_token_matches("", token));
  EXPECT_FALSE(bearer_token_matches("Bearer ", std::string{}));
}
