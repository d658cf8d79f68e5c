// Spawning a function-based actor that takes no arguments besides its self pointer.
//
// CAF 0.17's `spawn(fun)` without extra arguments stores a null
// std::shared_ptr<std::tuple<>> for them and later evaluates `*args_` on it
// (caf/detail/init_fun_factory.hpp:85). Nothing is read, but the header is instantiated
// in our code, so UndefinedBehaviorSanitizer reports a reference bound to null, and the
// asan build (-fno-sanitize-recover=all) stops there. spawn_without_arguments() passes
// one placeholder argument, which makes CAF store a real tuple, and calls `fun` without
// it: the actor, its handle type and its behavior are exactly those of `spawn(fun)`.
// Use it for every argument-less spawn of a function or lambda.
#pragma once

#include <utility>

#include "caf/all.hpp"

namespace tally::detail {

/// `spawner.spawn<Options>(fun)` (spawner: an actor system or an actor), without the
/// null argument tuple; see above.
template <caf::spawn_options Options = caf::no_spawn_options, class Spawner, class Function>
auto spawn_without_arguments(Spawner& spawner, Function fun) {
  using trait = typename caf::detail::get_callable_trait<Function>::type;
  using result_type = typename trait::result_type;
  using arg_types = typename trait::arg_types;
  if constexpr (caf::detail::tl_size<arg_types>::value == 0) {
    return spawner.template spawn<Options>(
      [fun = std::move(fun)](caf::unit_t) mutable -> result_type { return fun(); }, caf::unit);
  } else {
    using self_pointer = typename caf::detail::tl_head<arg_types>::type;
    return spawner.template spawn<Options>(
      [fun = std::move(fun)](self_pointer self, caf::unit_t) mutable -> result_type {
        return fun(self);
      },
      caf::unit);
  }
}

}  // namespace tally::detail
