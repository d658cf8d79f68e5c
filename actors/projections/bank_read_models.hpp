// The bank's read models, each kept by a projection actor (tally/detail/projection_actor.hpp).
#pragma once

#include <memory>
#include <new>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/prepared_memory.hpp"
#include "tally/assert.hpp"
#include "tally/checkpoint_store.hpp"
#include "tally/detail/flat_string_map.hpp"
#include "tally/detail/prefetch.hpp"
#include "tally/event.hpp"
#include "tally/read_models.hpp"

namespace tally {

// 128-bit sums: a bank of many large balances overflows int64 (`__extension__`
// keeps -Wpedantic quiet about the GNU type).
__extension__ typedef __int128 int128;

/// Balance, status and version of every account.
class balance_read_model {
public:
  using query_type = balance_query;
  using answer_type = balance_view;
  static constexpr const char* name = "balances";

  void apply(const recorded_event& event);
  /// A hint that `event` is applied soon (projection_actor: a few events ahead).
  void prefetch(const recorded_event& event) const noexcept { accounts_.prefetch(event.stream_id); }
  balance_view answer(const balance_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  detail::flat_string_map<balance_view> accounts_;
};

/// Every account's events with the balance after each, paged.
class history_read_model {
public:
  using query_type = history_query;
  using answer_type = history_page;
  static constexpr const char* name = "history";

  void apply(const recorded_event& event);
  /// A hint that `event` is applied soon (projection_actor: a few events ahead).
  void prefetch(const recorded_event& event) const noexcept { accounts_.prefetch(event.stream_id); }
  /// Once prefetch() loaded the account's entry: starts loading, for writing, where
  /// apply() puts the event (the store of a new entry that misses the caches was most
  /// of apply's time).
  void prefetch_update(const recorded_event& event) const noexcept {
    if (const auto* history = accounts_.find(event.stream_id)) {
      if (const auto* next = history->entries.next_slot()) {
        detail::prefetch(next);
        detail::prefetch(reinterpret_cast<const char*>(next + 1) - 1);
      }
    }
  }
  history_page answer(const history_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);
  /// The model as it is now, for the checkpoint writer to encode on its own thread while
  /// apply() goes on: its encode() returns what encode() returns now. Costs a copy of
  /// each account's id and chunk pointers, not of the entries.
  checkpoint_image_ptr take_image() const;

private:
  class image;

  // Compact: no string per event (the type is one of the four account events).
  struct stored_entry {
    std::uint64_t position;
    std::int64_t timestamp_ns;
    command_id command;
    money amount;
    money balance_after;
    std::uint8_t type;  ///< index into the account_event variant
  };
  // An account's entries in chunks of 8, 16, 32, ... entries: an append never moves
  // the earlier ones (a vector's doublings copied each entry about once more, into
  // memory the kernel had to clear first; a third of the page faults of a run), and
  // at most half of the memory is unused, as with a vector. The chunks come from the
  // model's arena, whose memory is cleared ahead on a thread of its own (half of the
  // page faults of an in-memory run once the journal's were gone).
  class entry_chunks {
  public:
    static constexpr std::size_t first_chunk_entries = 8;

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const stored_entry& operator[](std::size_t index) const noexcept {
      TALLY_ASSERT(index < size_);
      const auto [chunk, offset] = locate(index);
      return chunks_[chunk][offset];
    }
    const stored_entry& back() const noexcept { return (*this)[size_ - 1]; }
    /// Appends `entry`, taking a new chunk from `memory` when the last one is full.
    void push_back(const stored_entry& entry, store::prepared_arena& memory) {
      if (left_in_chunk_ == 0) {
        const std::size_t entries = first_chunk_entries << chunks_.size();
        if (chunks_.size() == chunks_.capacity())  // nothing is taken when this throws
          chunks_.reserve(2 * chunks_.size() + 4);
        chunks_.push_back(static_cast<stored_entry*>(
          memory.allocate(entries * sizeof(stored_entry), alignof(stored_entry))));
        next_ = chunks_.back();
        left_in_chunk_ = entries;
      }
      TALLY_ASSERT(next_ != nullptr && left_in_chunk_ > 0);
      new (next_++) stored_entry{entry};
      --left_in_chunk_;
      ++size_;
    }
    /// Where the next push_back() writes, or nullptr when it starts a chunk. Reads only
    /// this object (no chunk), so a prefetch of it costs no miss of its own.
    const stored_entry* next_slot() const noexcept { return left_in_chunk_ > 0 ? next_ : nullptr; }

    /// The entries there are now, readable on another thread while push_back() goes
    /// on: it writes only past them, and chunks never move. The chunks' memory must
    /// outlive this (history_read_model::image keeps the arena).
    class frozen {
    public:
      explicit frozen(const entry_chunks& from) : chunks_(from.chunks_), size_(from.size_) {}
      std::size_t size() const noexcept { return size_; }
      const stored_entry& operator[](std::size_t index) const noexcept {
        TALLY_ASSERT(index < size_);
        const auto [chunk, offset] = locate(index);
        return chunks_[chunk][offset];
      }

    private:
      std::vector<stored_entry*> chunks_;
      std::size_t size_;
    };

  private:
    // Chunk k holds first_chunk_entries << k entries, and first_chunk_entries * (2^k - 1)
    // come before it.
    static std::pair<std::size_t, std::size_t> locate(std::size_t index) noexcept {
      const std::size_t scaled = index / first_chunk_entries + 1;
      const auto chunk = static_cast<std::size_t>(63 - __builtin_clzll(scaled));
      return {chunk, index - first_chunk_entries * ((std::size_t{1} << chunk) - 1)};
    }

    std::vector<stored_entry*> chunks_;  ///< in the model's arena
    std::size_t size_ = 0;
    stored_entry* next_ = nullptr;  ///< in the last chunk, while left_in_chunk_ > 0
    std::size_t left_in_chunk_ = 0;
  };
  struct account_history {
    entry_chunks entries;
    // entries.back().balance_after, kept beside the vector in the map's entry: reading it
    // from the vector's last entry was a cache miss per event, nearly all of apply()'s time.
    money balance = 0;
  };
  detail::flat_string_map<account_history> accounts_;
  /// Where the entries of accounts_ live (freed with the last of the model and its
  /// checkpoint images: entries need no destructor). Behind a pointer, so that the
  /// model moves without moving the arena's preparer.
  std::shared_ptr<store::prepared_arena> entry_memory_ = std::make_shared<store::prepared_arena>();
};

/// Sum of balances, open/closed accounts, deposits and withdrawals.
class totals_read_model {
public:
  using query_type = totals_query;
  using answer_type = totals_view;
  static constexpr const char* name = "totals";

  void apply(const recorded_event& event);
  totals_view answer(const totals_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  int128 total_balance_ = 0;  // exact: many balances near INT64_MAX overflow int64
  int128 total_deposited_ = 0;
  int128 total_withdrawn_ = 0;
  int128 money_in_flight_ = 0;
  std::uint64_t accounts_open_ = 0;
  std::uint64_t accounts_closed_ = 0;
  std::uint64_t events_ = 0;
};

/// Every transfer's state and the money in flight (from transfer streams and the
/// transfer steps on accounts).
class transfer_read_model {
public:
  using query_type = transfers_query;
  using answer_type = transfers_page;
  static constexpr const char* name = "transfers";

  void apply(const recorded_event& event);
  transfers_page answer(const transfers_query& query, std::uint64_t position) const;
  std::string encode() const;
  bool decode(std::string_view bytes);

private:
  std::unordered_map<std::string, transfer_view> transfers_;
  std::set<std::string> unfinished_;  ///< requested or compensating, in id order
  int128 money_in_flight_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace tally
