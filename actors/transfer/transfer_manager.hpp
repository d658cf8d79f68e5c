// The transfer process manager (saga): drives each transfer through its steps on the
// account and transfer routers (see tally/transfer.hpp for the steps and why each
// has a derived command id), and resumes unfinished transfers after a restart.
#pragma once

#include <chrono>
#include <cstddef>

#include "caf/all.hpp"

namespace tally {

struct transfer_manager_options {
  /// Transfers driven at once; more requests are refused with limit_exceeded.
  std::size_t transfers_in_progress_max = 10000;
  /// Unfinished transfers fetched per page while resuming.
  std::uint64_t resume_page_transfers = 1000;
  /// Longest the resume waits for the transfers projection to reach the store's head.
  std::chrono::milliseconds resume_wait{std::chrono::seconds{60}};
};

/// Protocol:
/// - (transfer_money) -> transfer_reply, once the transfer completed or failed (or a
///   rejection; or an error such as store_unavailable, after which the transfer
///   resumes on the next start or a retry with the same transfer id);
/// - (resume_atom) -> uint64: resumes every unfinished transfer the transfers
///   projection lists once it reached the store's head; answers how many;
/// - (drain_atom) -> bool: refuses new transfers (shutting_down) and answers once
///   none is in progress.
caf::actor spawn_transfer_manager(caf::actor_system& system, caf::actor accounts,
                                  caf::actor transfers, caf::actor transfers_projection,
                                  caf::actor store, transfer_manager_options options);

}  // namespace tally
