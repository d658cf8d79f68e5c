#include "app/tally-load/progress.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

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

}  // namespace
}  // namespace tally::load
