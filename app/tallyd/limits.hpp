// Named limits of the daemon, units last. Defaults are what an operator gets without
// configuration; the *_ceiling values bound what configuration may ask for, so a typo
// cannot turn a limit into "unbounded".
#pragma once

#include <cstddef>
#include <cstdint>

namespace tally::daemon {

// -- HTTP ------------------------------------------------------------------------------
inline constexpr std::size_t request_body_bytes_max_default = 64 * 1024;
inline constexpr std::size_t request_body_bytes_max_ceiling = 16 * 1024 * 1024;
inline constexpr std::size_t request_header_bytes_max_default = 8 * 1024;
inline constexpr std::size_t request_header_bytes_max_ceiling = 1024 * 1024;
inline constexpr std::uint64_t read_timeout_ms_default = 30'000;
inline constexpr std::uint64_t connections_max_default = 1024;
inline constexpr std::uint64_t commands_in_flight_max_default = 4096;
/// Transfers the runtime drives at once (runtime_config's own default).
inline constexpr std::uint64_t transfers_in_progress_max_default = 10'000;
/// Longest a query with ?min_position may wait for the read model (read-your-writes).
inline constexpr std::uint64_t query_wait_ms_max_default = 5'000;
/// Timeout of one request into the runtime (command or query), seen from the edge.
inline constexpr std::uint64_t runtime_call_ms_default = 30'000;

// -- JSON bodies -----------------------------------------------------------------------
/// Objects/arrays nested deeper than this are refused before they are built.
inline constexpr std::size_t json_depth_max = 32;
static_assert(json_depth_max >= 2, "a command body is an object holding scalars");

// -- Account ids in URLs and bodies (a subset of tally::is_valid_stream_id) --------------
inline constexpr std::size_t account_id_bytes_max = 64;

// -- Paging ----------------------------------------------------------------------------
inline constexpr std::uint64_t events_page_default = 100;
inline constexpr std::uint64_t events_page_max = 1000;

// -- Server-sent events ----------------------------------------------------------------
/// Events buffered for one /events connection; a consumer that falls this far
/// behind the live feed is disconnected (it may reconnect with ?from=).
inline constexpr std::uint64_t sse_buffer_events_max_default = 10'000;
/// Events read from the journal per catch-up page of one /events connection.
inline constexpr std::uint64_t sse_catch_up_page_events = 512;
/// A comment line is sent after this much silence so dead peers are noticed.
inline constexpr std::uint64_t sse_heartbeat_ms = 15'000;

// -- Shutdown --------------------------------------------------------------------------
inline constexpr std::uint64_t shutdown_timeout_ms_default = 10'000;

}  // namespace tally::daemon
