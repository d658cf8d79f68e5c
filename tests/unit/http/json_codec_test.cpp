#include "app/tallyd/json_codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace tally;
using namespace tally::daemon;

namespace {

constexpr const char* json_type = "application/json";

decoded<decoded_command> deposit(const std::string& body, const std::string* key = nullptr) {
  return decode_command(command_kind::deposit, "acc-1", json_type, body, key);
}

struct bad_body_case {
  const char* name;
  std::string body;
  unsigned http_status;
  const char* error;
};

}  // namespace

TEST(json_codec, decodes_a_deposit_with_command_id_in_the_body) {
  auto out = deposit(R"({"command_id":"c-1","amount":123})");
  ASSERT_TRUE(out) << out.failure.error;
  auto* command = std::get_if<bank::deposit_money>(&out.value->command);
  ASSERT_NE(command, nullptr);
  EXPECT_EQ(command->account_id, "acc-1");
  EXPECT_EQ(command->amount, 123);
  EXPECT_EQ(out.value->id_text, "c-1");
  EXPECT_EQ(out.value->id, *command_id::from_text("c-1"));
}

TEST(json_codec, takes_the_command_id_from_the_idempotency_key_header) {
  std::string key = "6f1c2a4e-0b7d-4d7e-9a51-3c2f7e8b9a10";
  auto out = deposit(R"({"amount":5})", &key);
  ASSERT_TRUE(out);
  EXPECT_EQ(out.value->id_text, key);
}

TEST(json_codec, refuses_header_and_field_that_differ) {
  std::string key = "a";
  auto out = deposit(R"({"amount":5,"command_id":"b"})", &key);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.failure.error, "command_id_conflict");
  auto same = deposit(R"({"amount":5,"command_id":"a"})", &key);
  EXPECT_TRUE(same);
}

TEST(json_codec, decodes_open_and_close) {
  auto open = decode_command(command_kind::open, "", json_type,
                             R"({"command_id":"o","account_id":"a.b_c-9"})", nullptr);
  ASSERT_TRUE(open) << open.failure.error;
  EXPECT_EQ(std::get<bank::open_account>(open.value->command).account_id, "a.b_c-9");
  std::string key = "k";
  auto close = decode_command(command_kind::close, "x", "", "", &key);
  ASSERT_TRUE(close) << close.failure.error;
  EXPECT_EQ(std::get<bank::close_account>(close.value->command).account_id, "x");
}

TEST(json_codec, bad_bodies_get_the_documented_error) {
  const bad_body_case cases[] = {
    {"amount zero", R"({"command_id":"c","amount":0})", 422, "amount_must_be_positive"},
    {"amount negative", R"({"command_id":"c","amount":-1})", 422, "amount_must_be_positive"},
    {"amount INT64_MIN", R"({"command_id":"c","amount":-9223372036854775808})", 422,
     "amount_must_be_positive"},
    {"amount above INT64_MAX", R"({"command_id":"c","amount":9223372036854775808})", 422,
     "amount_out_of_range"},
    {"amount above UINT64_MAX", R"({"command_id":"c","amount":99999999999999999999999})", 422,
     "amount_out_of_range"},
    {"amount fraction", R"({"command_id":"c","amount":1.5})", 400, "amount_not_an_integer"},
    {"amount exponent", R"({"command_id":"c","amount":1e2})", 400, "amount_not_an_integer"},
    {"amount string", R"({"command_id":"c","amount":"100"})", 400, "amount_not_an_integer"},
    {"amount null", R"({"command_id":"c","amount":null})", 400, "amount_not_an_integer"},
    {"amount bool", R"({"command_id":"c","amount":true})", 400, "amount_not_an_integer"},
    {"amount missing", R"({"command_id":"c"})", 400, "amount_required"},
    {"malformed", R"({"command_id":"c","amount":)", 400, "malformed_json"},
    {"truncated", R"({"command_id":"c")", 400, "malformed_json"},
    {"trailing garbage", R"({"command_id":"c","amount":1} x)", 400, "malformed_json"},
    {"two values", R"({"command_id":"c","amount":1}{})", 400, "malformed_json"},
    {"duplicate key", R"({"command_id":"c","amount":1,"amount":2})", 400, "duplicate_key"},
    {"unknown field", R"({"command_id":"c","amount":1,"ammount":2})", 400, "unknown_field"},
    {"array body", R"([1,2])", 400, "body_not_an_object"},
    {"number body", R"(5)", 400, "body_not_an_object"},
    {"invalid utf-8", std::string{"{\"command_id\":\"\xff\xfe\",\"amount\":1}"}, 400,
     "malformed_json"},
    {"command id missing", R"({"amount":1})", 400, "command_id_required"},
    {"command id empty", R"({"command_id":"","amount":1})", 400, "command_id_invalid"},
    {"command id number", R"({"command_id":7,"amount":1})", 400, "command_id_invalid"},
    {"command id control char", R"({"command_id":"a\u0001b","amount":1})", 400,
     "command_id_invalid"},
    {"command id too long", R"({"command_id":")" + std::string(129, 'x') + R"(","amount":1})", 400,
     "command_id_invalid"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    auto out = deposit(test.body);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.failure.error, test.error);
    EXPECT_EQ(out.failure.http_status, test.http_status);
  }
}

TEST(json_codec, accepts_int64_max) {
  auto out = deposit(R"({"command_id":"c","amount":9223372036854775807})");
  ASSERT_TRUE(out);
  EXPECT_EQ(std::get<bank::deposit_money>(out.value->command).amount, INT64_MAX);
}

TEST(json_codec, refuses_nesting_deeper_than_the_limit) {
  std::string deep = R"({"command_id":"c","amount":1,"x":)";
  for (int i = 0; i < 40; ++i)
    deep += "[";
  for (int i = 0; i < 40; ++i)
    deep += "]";
  deep += "}";
  auto out = deposit(deep);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.failure.error, "nesting_too_deep");
  // 32 levels are fine for the parser (the field is then refused as unknown).
  std::string ok = "{\"x\":";
  for (int i = 0; i < 31; ++i)
    ok += "[";
  for (int i = 0; i < 31; ++i)
    ok += "]";
  ok += "}";
  EXPECT_TRUE(parse_json_strict(ok));
}

TEST(json_codec, refuses_duplicate_keys_in_nested_objects_only_within_one_object) {
  EXPECT_TRUE(parse_json_strict(R"({"a":{"b":1},"c":{"b":2}})"));
  auto nested = parse_json_strict(R"({"a":{"b":1,"b":2}})");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.failure.error, "duplicate_key");
}

TEST(json_codec, checks_the_content_type) {
  auto out = decode_command(command_kind::deposit, "a", "text/plain", R"({"amount":1})", nullptr);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.failure.http_status, 415u);
  EXPECT_EQ(out.failure.error, "unsupported_media_type");
  auto with_charset = decode_command(command_kind::deposit, "a", "application/json; charset=UTF-8",
                                     R"({"amount":1,"command_id":"c"})", nullptr);
  EXPECT_TRUE(with_charset);
}

TEST(json_codec, validates_account_ids) {
  EXPECT_EQ(account_id_problem("alice"), "");
  EXPECT_EQ(account_id_problem(std::string(64, 'a')), "");
  const std::string bad[] = {"", std::string(65, 'a'), ".", "..", "../x", "a/b", "a b",
                             std::string{"a\x01"}, std::string{"\xc3\xa9"}, "a%2e"};
  for (const auto& id : bad)
    EXPECT_NE(account_id_problem(id), "") << id;
  for (const auto& id : bad) {
    auto body = nlohmann::json{{"command_id", "c"}, {"account_id", id}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto out = decode_command(command_kind::open, "", json_type, body, nullptr);
    ASSERT_FALSE(out);
    EXPECT_TRUE(out.failure.error == "account_id_invalid" || out.failure.error == "malformed_json")
      << out.failure.error;
  }
}

TEST(json_codec, maps_outcomes_to_http_statuses) {
  EXPECT_EQ(http_status_for(error_code::none, command_kind::open), 201u);
  EXPECT_EQ(http_status_for(error_code::none), 200u);
  EXPECT_EQ(http_status_for(error_code::insufficient_funds), 409u);
  EXPECT_EQ(http_status_for(error_code::account_already_exists), 409u);
  EXPECT_EQ(http_status_for(error_code::account_not_found), 422u);
  EXPECT_EQ(http_status_for(error_code::amount_must_be_positive), 422u);
  EXPECT_EQ(http_status_for(error_code::store_unavailable), 503u);
  EXPECT_EQ(http_status_for(error_code::internal_error), 500u);
  EXPECT_TRUE(failure_error(status{error_code::store_unavailable}).retry_after);
}

TEST(json_codec, encodes_replies_with_position_and_version) {
  auto command = deposit(R"({"command_id":"c","amount":7})");
  ASSERT_TRUE(command);
  command_reply reply;
  reply.stream_version = 3;
  reply.position = 42;
  auto text = encode_command_reply(reply, *command.value);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto body = nlohmann::json::parse(text);
  EXPECT_EQ(body["outcome"], "accepted");
  EXPECT_EQ(body["position"], 42);
  EXPECT_EQ(body["version"], 3);
  EXPECT_EQ(body["account_id"], "acc-1");
  EXPECT_EQ(body["command"], "deposit_money");
  EXPECT_EQ(body["command_id"], "c");
  EXPECT_FALSE(body.contains("error"));
  reply.outcome = error_code::insufficient_funds;
  body = nlohmann::json::parse(encode_command_reply(reply, *command.value));
  EXPECT_EQ(body["outcome"], "rejected");
  EXPECT_EQ(body["error"], "insufficient_funds");
  EXPECT_EQ(body["code"], "insufficient_funds");
  EXPECT_EQ(body["message"], std::string{describe(error_code::insufficient_funds)});
}

// The reply text is written without a json object; it must be exactly what dump() of
// the object gives, for every outcome, command kind and printable command id (quotes and
// backslashes escaped), and the largest positions and versions.
TEST(json_codec, reply_text_is_what_nlohmann_dumps_for_the_same_object) {
  std::vector<std::string> ids{"c", "\"", "\\", "a\"b\\c", "{}[],:", "~!#$%&'()*+-./<=>?@^_`|"};
  for (char c = 0x21; c < 0x7F; ++c)  // printable ASCII, as command ids are
    ids.push_back(std::string{"id"} + c);
  ids.push_back(std::string(command_id::text_bytes_max, '"'));
  int compared = 0;
  for (auto kind : {command_kind::open, command_kind::deposit, command_kind::withdraw,
                    command_kind::close}) {
    for (const auto& id : ids) {
      const std::string body = kind == command_kind::open
                                 ? nlohmann::json{{"account_id", "Acc_9.x-1"}}.dump()
                               : kind == command_kind::close
                                 ? std::string{}
                                 : nlohmann::json{{"amount", 5}}.dump();
      auto command = decode_command(kind, kind == command_kind::open ? "" : "Acc_9.x-1",
                                    body.empty() ? "" : json_type, body, &id);
      ASSERT_TRUE(command) << id << ": " << command.failure.error;
      for (std::size_t code = 0; code < error_code_count; ++code) {
        command_reply reply;
        reply.outcome = static_cast<error_code>(code);
        reply.stream_version = code == 0 ? UINT64_MAX : code;
        reply.position = code == 0 ? UINT64_MAX - 1 : code * 1000;
        nlohmann::json expected{{"outcome", reply.accepted() ? "accepted" : "rejected"},
                                {"account_id", "Acc_9.x-1"},
                                {"command", std::string{bank::command_name(command.value->command)}},
                                {"command_id", id},
                                {"version", reply.stream_version},
                                {"position", reply.position}};
        if (!reply.accepted()) {
          expected["error"] = std::string{to_string(reply.outcome)};
          expected["code"] = std::string{to_string(reply.outcome)};
          expected["message"] = std::string{describe(reply.outcome)};
        }
        ASSERT_EQ(encode_command_reply(reply, *command.value), expected.dump() + "\n")
          << "command id " << id << ", outcome " << to_string(reply.outcome);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 4 * 101 * static_cast<int>(error_code_count));
}

TEST(json_codec, parses_and_formats_timestamps) {
  EXPECT_EQ(parse_timestamp("0"), 0);
  EXPECT_EQ(parse_timestamp("1700000000000000000"), 1700000000000000000);
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(parse_timestamp("2024-05-01T12:00:00.000000001Z"), 1714564800000000001);
  EXPECT_FALSE(parse_timestamp("2024-02-31T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-05-01 12:00:00Z"));
  EXPECT_FALSE(parse_timestamp("-1"));
  EXPECT_FALSE(parse_timestamp(""));
  EXPECT_EQ(format_timestamp(1714564800000000001), "2024-05-01T12:00:00.000000001Z");
  EXPECT_EQ(parse_timestamp(format_timestamp(1714564800123456789)), 1714564800123456789);
}

TEST(json_codec, parses_decimals_strictly) {
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_decimal("18446744073709551616"));
  EXPECT_FALSE(parse_decimal("+1"));
  EXPECT_FALSE(parse_decimal(" 1"));
  EXPECT_FALSE(parse_decimal(""));
}

// -- Transfers ---------------------------------------------------------------------------

namespace {

decoded<bank::transfer_money> transfer(const std::string& body, const std::string* key = nullptr) {
  return decode_transfer(json_type, body, key);
}

}  // namespace

TEST(json_codec, decodes_a_transfer) {
  auto out = transfer(R"({"transfer_id":"t-1","source":"alice","target":"bob","amount":250})");
  ASSERT_TRUE(out) << out.failure.error;
  EXPECT_EQ(out.value->transfer_id, "t-1");
  EXPECT_EQ(out.value->source, "alice");
  EXPECT_EQ(out.value->target, "bob");
  EXPECT_EQ(out.value->amount, 250);
  auto largest = transfer(R"({"transfer_id":"t","source":"a","target":"b","amount":9223372036854775807})");
  ASSERT_TRUE(largest) << largest.failure.error;
  EXPECT_EQ(largest.value->amount, INT64_MAX);
}

TEST(json_codec, takes_the_transfer_id_from_the_idempotency_key_header) {
  std::string key = "6f1c2a4e-0b7d-4d7e-9a51-3c2f7e8b9a10";
  auto out = transfer(R"({"source":"a","target":"b","amount":1})", &key);
  ASSERT_TRUE(out) << out.failure.error;
  EXPECT_EQ(out.value->transfer_id, key);
  auto same = transfer(R"({"transfer_id":"6f1c2a4e-0b7d-4d7e-9a51-3c2f7e8b9a10","source":"a",)"
                       R"("target":"b","amount":1})",
                       &key);
  EXPECT_TRUE(same) << same.failure.error;
  auto differ = transfer(R"({"transfer_id":"other","source":"a","target":"b","amount":1})", &key);
  ASSERT_FALSE(differ);
  EXPECT_EQ(differ.failure.error, "transfer_id_conflict");
  EXPECT_EQ(differ.failure.http_status, 400u);
  // The header is held to the transfer id rules, not the looser command id ones.
  std::string with_space = "a b";
  auto bad_key = transfer(R"({"source":"a","target":"b","amount":1})", &with_space);
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.failure.error, "transfer_id_invalid");
}

TEST(json_codec, bad_transfer_bodies_get_the_documented_error_in_order) {
  auto body = [](const std::string& fields) { return "{" + fields + "}"; };
  const std::string ok_accounts = R"("source":"a","target":"b")";
  const std::string ok_id = R"("transfer_id":"t")";
  const std::string long_id(bank::transfer_id_bytes_max + 1, 't');
  const bad_body_case cases[] = {
    // Body shape (checks 12-16).
    {"malformed", R"({"transfer_id":)", 400, "malformed_json"},
    {"trailing garbage", body(ok_id + "," + ok_accounts + R"(,"amount":1)") + "x", 400,
     "malformed_json"},
    {"duplicate key", body(ok_id + "," + ok_accounts + R"(,"amount":1,"amount":2)"), 400,
     "duplicate_key"},
    {"array body", "[]", 400, "body_not_an_object"},
    {"string body", R"("t")", 400, "body_not_an_object"},
    {"unknown field", body(ok_id + "," + ok_accounts + R"(,"amount":1,"memo":"x")"), 400,
     "unknown_field"},
    {"command_id is not a transfer field", body(ok_accounts + R"(,"amount":1,"command_id":"c")"),
     400, "unknown_field"},
    {"empty body", "", 400, "source_required"},
    // The accounts (check 17): source before target.
    {"source missing", body(ok_id + R"(,"target":"b","amount":1)"), 400, "source_required"},
    {"source number", body(ok_id + R"(,"source":7,"target":"b","amount":1)"), 400, "source_invalid"},
    {"source null", body(ok_id + R"(,"source":null,"target":"b","amount":1)"), 400,
     "source_invalid"},
    {"source empty", body(ok_id + R"(,"source":"","target":"b","amount":1)"), 400,
     "source_invalid"},
    {"source traversal", body(ok_id + R"(,"source":"../x","target":"b","amount":1)"), 400,
     "source_invalid"},
    {"source with colon", body(ok_id + R"(,"source":"transfer:t","target":"b","amount":1)"), 400,
     "source_invalid"},
    {"source too long",
     body(ok_id + R"(,"source":")" + std::string(65, 'a') + R"(","target":"b","amount":1)"), 400,
     "source_invalid"},
    {"source and target missing", body(ok_id + R"(,"amount":1)"), 400, "source_required"},
    {"target missing", body(ok_id + R"(,"source":"a","amount":1)"), 400, "target_required"},
    {"target array", body(ok_id + R"(,"source":"a","target":["b"],"amount":1)"), 400,
     "target_invalid"},
    {"target control char", body(ok_id + R"(,"source":"a","target":"b\u0001","amount":1)"), 400,
     "target_invalid"},
    {"target bad before amount bad", body(ok_id + R"(,"source":"a","target":"","amount":0)"), 400,
     "target_invalid"},
    // The amount (checks 18-21), as for deposits.
    {"amount missing", body(ok_id + "," + ok_accounts), 400, "amount_required"},
    {"amount fraction", body(ok_id + "," + ok_accounts + R"(,"amount":1.5)"), 400,
     "amount_not_an_integer"},
    {"amount exponent", body(ok_id + "," + ok_accounts + R"(,"amount":1e2)"), 400,
     "amount_not_an_integer"},
    {"amount string", body(ok_id + "," + ok_accounts + R"(,"amount":"5")"), 400,
     "amount_not_an_integer"},
    {"amount bool", body(ok_id + "," + ok_accounts + R"(,"amount":false)"), 400,
     "amount_not_an_integer"},
    {"amount above INT64_MAX", body(ok_id + "," + ok_accounts + R"(,"amount":9223372036854775808)"),
     422, "amount_out_of_range"},
    {"amount zero", body(ok_id + "," + ok_accounts + R"(,"amount":0)"), 422,
     "amount_must_be_positive"},
    {"amount negative", body(ok_id + "," + ok_accounts + R"(,"amount":-3)"), 422,
     "amount_must_be_positive"},
    {"amount bad before same accounts", body(ok_id + R"(,"source":"a","target":"a","amount":0)"),
     422, "amount_must_be_positive"},
    // The same account on both sides (check 21, after the amount).
    {"same account", body(ok_id + R"(,"source":"a","target":"a","amount":1)"), 422,
     "accounts_must_be_different"},
    {"same account before transfer id", R"({"source":"a","target":"a","amount":1})", 422,
     "accounts_must_be_different"},
    // The transfer id (checks 22-23).
    {"transfer id missing", body(ok_accounts + R"(,"amount":1)"), 400, "transfer_id_required"},
    {"transfer id number", body(R"("transfer_id":5,)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
    {"transfer id empty", body(R"("transfer_id":"",)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
    {"transfer id dot-dot", body(R"("transfer_id":"..",)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
    {"transfer id slash", body(R"("transfer_id":"a/b",)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
    {"transfer id colon", body(R"("transfer_id":"a:b",)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
    {"transfer id too long",
     body(R"("transfer_id":")" + long_id + R"(",)" + ok_accounts + R"(,"amount":1)"), 400,
     "transfer_id_invalid"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    auto out = transfer(test.body);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.failure.error, test.error);
    EXPECT_EQ(out.failure.http_status, test.http_status);
    EXPECT_FALSE(out.failure.message.empty());
  }
  auto wrong_type = decode_transfer("text/plain", R"({"transfer_id":"t"})", nullptr);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.failure.http_status, 415u);
  EXPECT_EQ(wrong_type.failure.error, "unsupported_media_type");
}

TEST(json_codec, validates_transfer_ids) {
  EXPECT_EQ(transfer_id_problem("t-1.x_Y"), "");
  EXPECT_EQ(transfer_id_problem(std::string(bank::transfer_id_bytes_max, 'a')), "");
  EXPECT_EQ(transfer_id_problem("6f1c2a4e-0b7d-4d7e-9a51-3c2f7e8b9a10"), "");
  const std::string bad[] = {"", std::string(bank::transfer_id_bytes_max + 1, 'a'), ".", "..",
                             "a:b", "a/b", "a b", "a%2e", std::string{"\xc3\xa9"}};
  for (const auto& id : bad)
    EXPECT_NE(transfer_id_problem(id), "") << id;
}

TEST(json_codec, maps_transfer_outcomes_to_http_statuses) {
  EXPECT_EQ(http_status_for(error_code::accounts_must_be_different), 422u);
  EXPECT_EQ(http_status_for(error_code::transfer_not_found), 422u);
  EXPECT_EQ(http_status_for(error_code::transfer_already_exists), 409u);
  EXPECT_EQ(http_status_for(error_code::transfers_in_progress), 409u);
  transfer_reply completed{error_code::none, bank::transfer_status::completed, error_code::none, 8,
                           false};
  EXPECT_EQ(http_status_for(completed), 200u);
  transfer_reply failed{error_code::none, bank::transfer_status::failed,
                        error_code::insufficient_funds, 9, false};
  EXPECT_EQ(http_status_for(failed), 200u);
  transfer_reply taken;
  taken.outcome = error_code::transfer_already_exists;
  EXPECT_EQ(http_status_for(taken), 409u);
  transfer_reply unknown_account;
  unknown_account.outcome = error_code::account_not_found;
  EXPECT_EQ(http_status_for(unknown_account), 422u);
}

TEST(json_codec, encodes_transfer_replies) {
  bank::transfer_money request{"t-1", "alice", "bob", 300};
  transfer_reply completed{error_code::none, bank::transfer_status::completed, error_code::none, 8,
                           true};
  auto body = encode_transfer_reply(completed, request);
  EXPECT_EQ(body["outcome"], "completed");
  EXPECT_EQ(body["status"], "completed");
  EXPECT_EQ(body["transfer_id"], "t-1");
  EXPECT_EQ(body["source"], "alice");
  EXPECT_EQ(body["target"], "bob");
  EXPECT_EQ(body["amount"], 300);
  EXPECT_EQ(body["position"], 8);
  EXPECT_EQ(body["duplicate"], true);
  EXPECT_FALSE(body.contains("reason"));
  EXPECT_FALSE(body.contains("error"));

  transfer_reply failed{error_code::none, bank::transfer_status::failed,
                        error_code::insufficient_funds, 10, false};
  body = encode_transfer_reply(failed, request);
  EXPECT_EQ(body["outcome"], "failed");
  EXPECT_EQ(body["reason"], "insufficient_funds");
  EXPECT_EQ(body["position"], 10);
  EXPECT_EQ(body["duplicate"], false);

  transfer_reply rejected;
  rejected.outcome = error_code::transfer_already_exists;
  body = encode_transfer_reply(rejected, request);
  EXPECT_EQ(body["outcome"], "rejected");
  EXPECT_EQ(body["error"], "transfer_already_exists");
  EXPECT_EQ(body["code"], "transfer_already_exists");
  EXPECT_FALSE(body["message"].get<std::string>().empty());
  EXPECT_EQ(body["position"], 0);
  EXPECT_FALSE(body.contains("status"));
}

TEST(json_codec, encodes_a_transfer_view_and_the_money_in_flight) {
  transfer_view view;
  view.transfer_id = "t-2";
  view.exists = true;
  view.status = bank::transfer_status::requested;
  view.source = "alice";
  view.target = "bob";
  view.amount = 40;
  view.debited = true;
  view.in_flight = 40;
  auto body = encode_transfer(view, 17);
  EXPECT_EQ(body["transfer_id"], "t-2");
  EXPECT_EQ(body["status"], "requested");
  EXPECT_EQ(body["debited"], true);
  EXPECT_EQ(body["credited"], false);
  EXPECT_EQ(body["refunded"], false);
  EXPECT_EQ(body["settled"], false);
  EXPECT_EQ(body["in_flight"], 40);
  EXPECT_EQ(body["as_of_position"], 17);
  EXPECT_FALSE(body.contains("reason"));
  view.status = bank::transfer_status::failed;
  view.reason = error_code::balance_would_overflow;
  view.refunded = true;
  view.in_flight = 0;
  body = encode_transfer(view, 20);
  EXPECT_EQ(body["status"], "failed");
  EXPECT_EQ(body["reason"], "balance_would_overflow");
  EXPECT_EQ(body["refunded"], true);

  totals_view totals;
  totals.total_balance = 960;
  totals.money_in_flight = 40;
  totals.total_deposited = 1000;
  auto totals_body = encode_totals(totals);
  EXPECT_EQ(totals_body["money_in_flight"], 40);
  EXPECT_EQ(totals_body["total_balance"].get<std::int64_t>()
              + totals_body["money_in_flight"].get<std::int64_t>(),
            totals_body["total_deposited"].get<std::int64_t>()
              - totals_body["total_withdrawn"].get<std::int64_t>());
}

TEST(json_codec, encodes_transfer_events_for_the_feed) {
  recorded_event debit;
  debit.position = 5;
  debit.stream_id = "alice";
  debit.stream_version = 3;
  debit.type = "money_debited_for_transfer";
  debit.payload = bank::encode_payload(bank::account_event{bank::money_debited_for_transfer{"t-1", 300}});
  auto body = encode_event(debit);
  EXPECT_EQ(body["amount"], 300);
  EXPECT_EQ(body["transfer_id"], "t-1");

  recorded_event requested;
  requested.stream_id = bank::transfer_stream_id("t-1");
  requested.type = "transfer_requested";
  requested.payload =
    bank::encode_payload(bank::transfer_event{bank::transfer_requested{"alice", "bob", 300}});
  body = encode_event(requested);
  EXPECT_EQ(body["source"], "alice");
  EXPECT_EQ(body["target"], "bob");
  EXPECT_EQ(body["amount"], 300);

  recorded_event failed;
  failed.stream_id = bank::transfer_stream_id("t-1");
  failed.type = "transfer_failed";
  failed.payload =
    bank::encode_payload(bank::transfer_event{bank::transfer_failed{error_code::insufficient_funds}});
  body = encode_event(failed);
  EXPECT_EQ(body["reason"], "insufficient_funds");
}
