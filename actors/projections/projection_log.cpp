// Logging for the projection actor template (include/tally/detail/projection_actor.hpp),
// kept out of the header so that embedders need no logging library to include it.
#include <spdlog/spdlog.h>

#include "tally/detail/projection_actor.hpp"

namespace tally::detail {

void log_checkpoint_failure(const char* projection, std::uint64_t position, const status& failure) {
  spdlog::warn("projection checkpoint failed projection={} position={} error=\"{}\" "
               "action=keep_serving_retry_next_interval",
               projection, position, failure.to_string());
}

void log_checkpoint_load_failure(const char* projection, const status& failure) {
  spdlog::warn("projection checkpoint not loaded projection={} error=\"{}\" action=rebuild_from_log",
               projection, failure.to_string());
}

}  // namespace tally::detail
