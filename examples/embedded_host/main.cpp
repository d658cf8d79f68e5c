// A host program with its own CAF actor system that embeds a Tally runtime, talks to
// it both with the blocking convenience API and from one of its own actors, and shuts
// it down cleanly. Exits 0 only if every check holds.
#include <cstdio>

#include "caf/all.hpp"
#include "tally/runtime.hpp"

int main() {
  caf::actor_system_config config;
  tally::runtime::prepare(config);  // lets the host's system render Tally's errors
  config.set("scheduler.max-threads", 2);
  caf::actor_system system{config};

  auto started = tally::runtime::start(system);
  if (!started) {
    std::fprintf(stderr, "start failed: %s\n", started.error().to_string().c_str());
    return 1;
  }
  auto& bank = **started;

  // Blocking convenience calls.
  bank.execute(tally::bank::open_account{"host-account"});
  auto deposit = bank.execute(tally::bank::deposit_money{"host-account", 1250});
  if (!deposit || !deposit->accepted())
    return 1;

  // The actor protocol, from the host's own actor.
  caf::scoped_actor self{system};
  bool actor_path_ok = false;
  self->request(bank.accounts(), std::chrono::seconds{5},
                tally::runtime::envelope(tally::bank::withdraw_money{"host-account", 250}))
    .receive([&](const tally::command_reply& reply) { actor_path_ok = reply.accepted(); },
             [&](caf::error& failure) {
               std::fprintf(stderr, "request failed: %s\n", system.render(failure).c_str());
             });

  auto view = bank.balance("host-account", deposit->position + 1);
  if (!view || !actor_path_ok) {
    std::fprintf(stderr, "query failed\n");
    return 1;
  }
  std::printf("embedded_host: balance of host-account = %s at position %llu\n",
              tally::format_money(view->balance).c_str(),
              static_cast<unsigned long long>(view->as_of_position));
  bool ok = view->balance == 1000 && bank.shutdown().is_ok();
  return ok ? 0 : 1;
}
