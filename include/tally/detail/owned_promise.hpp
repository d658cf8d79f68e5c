// Re-owning a CAF response promise, so that another actor than the one that made it
// answers it.
#pragma once

#include "caf/response_promise.hpp"

namespace tally::detail {

/// `promise` as if made by `owner`: CAF sends a promise's answer from its owner and
/// schedules the receiver on the owner's execution unit, so the actor that delivers or
/// delegates it must own it.
inline caf::response_promise owned_by(const caf::response_promise& promise,
                                      caf::strong_actor_ptr owner) {
  return caf::response_promise{std::move(owner), promise.source(), promise.stages(),
                               promise.id()};
}

}  // namespace tally::detail
