#include "app/tally-load/progress.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace tally::load {
namespace {

std::string drain(int descriptor) {
  std::string text;
  char buffer[4096];
  ssize_t read_bytes = 0;
  while ((read_bytes = ::read(descriptor, buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<std::size_t>(read_bytes));
  }
  return text;
}

TEST(progress, line_shows_rate_p99_elapsed_and_remaining) {
  const std::string line = format_progress_line({500, 1000, 2'000'000'000, 1'500'000});
  EXPECT_NE(line.find("500/1000"), std::string::npos) << line;
  EXPECT_NE(line.find("50.0%"), std::string::npos) << line;
  EXPECT_NE(line.find("250 cmd/s"), std::string::npos) << line;
  EXPECT_NE(line.find("p99 1500 us"), std::string::npos) << line;
  EXPECT_NE(line.find("elapsed 2.0 s"), std::string::npos) << line;
  EXPECT_NE(line.find("remaining 2.0 s"), std::string::npos) << line;
  EXPECT_NE(format_progress_line({0, 10, 0, 0}).find("remaining ?"), std::string::npos);
}

TEST(progress, silent_when_not_a_terminal_or_turned_off) {
  int pipe_descriptors[2];
  ASSERT_EQ(::pipe(pipe_descriptors), 0);
  progress_reporter automatic{progress_mode::automatic, pipe_descriptors[1]};
  EXPECT_FALSE(automatic.enabled());  // a pipe is not a TTY
  progress_reporter off{progress_mode::off, pipe_descriptors[1]};
  EXPECT_FALSE(off.enabled());
  automatic.update({1, 2, 3'000'000'000, 0});
  automatic.finish({2, 2, 3'000'000'000, 0});
  ::close(pipe_descriptors[1]);
  EXPECT_EQ(drain(pipe_descriptors[0]), "");
  ::close(pipe_descriptors[0]);
}

TEST(progress, redraws_at_most_once_a_second_with_carriage_returns) {
  int pipe_descriptors[2];
  ASSERT_EQ(::pipe(pipe_descriptors), 0);
  progress_reporter reporter{true, pipe_descriptors[1]};
  reporter.update({100, 1000, 100'000'000, 0});    // first draw
  reporter.update({200, 1000, 600'000'000, 0});    // too soon: skipped
  reporter.update({300, 1000, 1'100'000'000, 0});  // one second later: drawn
  reporter.finish({1000, 1000, 3'000'000'000, 0});
  ::close(pipe_descriptors[1]);
  const std::string output = drain(pipe_descriptors[0]);
  ::close(pipe_descriptors[0]);
  EXPECT_NE(output.find("\r  100/1000"), std::string::npos);
  EXPECT_EQ(output.find("200/1000"), std::string::npos);
  EXPECT_NE(output.find("\r  300/1000"), std::string::npos);
  EXPECT_NE(output.find("1000/1000"), std::string::npos);
  EXPECT_EQ(output.back(), '\n');
}

TEST(progress, counters_give_the_p99_of_the_replies_so_far) {
  progress_counters counters;
  EXPECT_EQ(counters.completed(), 0u);
  EXPECT_EQ(counters.latency_ns_percentile(99.0), 0u);
  // 1..10,000 µs: the exact nearest-rank p99 is 9,900 µs, p50 5,000 µs.
  for (std::uint64_t micros = 1; micros <= 10'000; ++micros) {
    counters.record_reply(micros * 1000);
  }
  EXPECT_EQ(counters.completed(), 10'000u);
  const double p99 = static_cast<double>(counters.latency_ns_percentile(99.0));
  EXPECT_NEAR(p99, 9'900'000.0, 9'900'000.0 * 0.005);
  const double p50 = static_cast<double>(counters.latency_ns_percentile(50.0));
  EXPECT_NEAR(p50, 5'000'000.0, 5'000'000.0 * 0.005);
  EXPECT_NEAR(static_cast<double>(counters.latency_ns_percentile(0.0)), 1000.0, 5.0);
}

TEST(progress, counters_take_replies_from_many_threads_at_once) {
  progress_counters counters;
  constexpr std::uint64_t per_thread = 50'000;
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&counters, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        counters.record_reply(t == 3 ? 1'000'000 : 1'000);  // a quarter are slow
      }
    });
  }
  // A reader while they record (what the monitor thread does) sees a sane value.
  const std::uint64_t during = counters.latency_ns_percentile(99.0);
  EXPECT_LE(during, 1'010'000u);
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(counters.completed(), 4 * per_thread);
  EXPECT_NEAR(static_cast<double>(counters.latency_ns_percentile(99.0)), 1e6, 1e6 * 0.005);
  EXPECT_NEAR(static_cast<double>(counters.latency_ns_percentile(50.0)), 1e3, 1e3 * 0.005);
}

}  // namespace
}  // namespace tally::load
