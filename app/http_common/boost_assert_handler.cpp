// Where Boost's assertions go in builds without NDEBUG (the debug, asan and tsan presets
// and the fuzz build; release builds compile them out): every one still prints itself
// and aborts, except one that Boost removed as wrong. Beast 1.74's chunked-body parser
// asserts that it holds at least 5 bytes when it resumes after a last chunk ("0\r\n")
// whose trailer had not arrived, but a stream may hand it fewer; the code after the
// assertion handles that case (it asks for more). Fixed upstream in boostorg/beast#2861
// (2024); the fuzzer found it here (tests/fuzz/regressions/http_request/).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <boost/assert.hpp>

namespace boost {

void assertion_failed(char const* expression, char const* function, char const* file, long line) {
  if (std::strcmp(expression, "n >= 5") == 0
      && std::strstr(file, "boost/beast/http/impl/basic_parser.ipp") != nullptr)
    return;
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed.\n", file, line, function,
               expression);
  std::abort();
}

void assertion_failed_msg(char const* expression, char const* message, char const* function,
                          char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Boost assertion `%s' failed: %s\n", file, line, function,
               expression, message);
  std::abort();
}

}  // namespace boost
