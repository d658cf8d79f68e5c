#include "store/journal_index.hpp"

#include <algorithm>
#include <cstring>

#include "tally/assert.hpp"
#include "tally/detail/text_hash.hpp"

namespace tally::store {

namespace {

constexpr std::uint64_t slot_number_mask = 0xFFFFFFFFULL;

}  // namespace

// ---- stream_table --------------------------------------------------------------------

std::uint64_t stream_table::hash(std::string_view id) noexcept {
  return tally::detail::hash_text(id);
}

void stream_table::prefetch_slot(std::uint64_t hash) const noexcept {
  if (!slots_.empty())
    tally::detail::prefetch(&slots_[hash & (slots_.size() - 1)]);
}

void stream_table::prefetch_stream(std::uint64_t hash) const noexcept {
  if (slots_.empty())
    return;
  std::uint64_t value = slots_[hash & (slots_.size() - 1)];
  if (value != 0 && (value & ~slot_number_mask) == (hash & ~slot_number_mask)) {
    const char* named =
      reinterpret_cast<const char*>(&streams_[static_cast<std::uint32_t>((value & slot_number_mask) - 1)]);
    tally::detail::prefetch(named);
    tally::detail::prefetch(named + sizeof(stream) - 1);
  }
}

std::uint32_t stream_table::find(std::string_view id, std::uint64_t hash) const noexcept {
  if (slots_.empty())
    return npos;
  std::size_t mask = slots_.size() - 1;
  std::uint64_t tag = hash & ~slot_number_mask;
  for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    std::uint64_t value = slots_[slot];
    if (value == 0)
      return npos;
    if ((value & ~slot_number_mask) == tag) {
      auto number = static_cast<std::uint32_t>((value & slot_number_mask) - 1);
      if (streams_[number].id == id)
        return number;
    }
  }
}

std::uint32_t stream_table::intern(std::string_view id, std::uint64_t hash) {
  std::uint32_t found = find(id, hash);
  if (found != npos)
    return found;
  TALLY_ASSERT_MSG(streams_.size() < slot_number_mask - 1, "too many streams");
  if ((streams_.size() + 1) * 2 > slots_.size())
    grow();
  auto number = static_cast<std::uint32_t>(streams_.size());
  stream added;
  added.id = std::string{id};
  added.hash = hash;
  streams_.push_back(std::move(added));
  std::size_t mask = slots_.size() - 1;
  std::size_t slot = hash & mask;
  while (slots_[slot] != 0)
    slot = (slot + 1) & mask;
  slots_[slot] = (hash & ~slot_number_mask) | (number + 1ULL);
  return number;
}

void stream_table::grow() {
  // Load factor at most 1/2: slots are 8 bytes, and the streams are few next to events.
  std::vector<std::uint64_t> larger(slots_.empty() ? 64 : slots_.size() * 2, 0);
  std::size_t mask = larger.size() - 1;
  for (std::uint64_t value : slots_) {
    if (value == 0)
      continue;
    std::uint64_t hash = streams_[(value & slot_number_mask) - 1].hash;
    std::size_t slot = hash & mask;
    while (larger[slot] != 0)
      slot = (slot + 1) & mask;
    larger[slot] = value;
  }
  slots_.swap(larger);
}

// ---- command_table -------------------------------------------------------------------

std::uint64_t command_table::hash(const command_id& id) noexcept {
  return tally::detail::mix_bits(id.high ^ tally::detail::mix_bits(id.low));
}

const command_table::entry* command_table::find(const command_id& id, std::uint64_t hash,
                                                std::size_t* slot_out) const noexcept {
  if (capacity_ == 0) {
    if (slot_out != nullptr)
      *slot_out = 0;
    return nullptr;
  }
  const std::uint8_t tag = tag_of(hash);
  for (std::size_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    const std::uint8_t slot_tag = tags_[slot];
    if (slot_tag == 0) {
      if (slot_out != nullptr)
        *slot_out = slot;
      break;
    }
    const entry& candidate = slots_[slot];
    if (slot_tag == tag && candidate.high == id.high && candidate.low == id.low) {
      if (slot_out != nullptr)
        *slot_out = slot;
      return &candidate;
    }
  }
  if (previous_ == nullptr)
    return nullptr;
  // Not moved yet, or moved: then it was found above. `*slot_out` stays the current
  // table's free slot (no insert follows a hit).
  for (std::size_t slot = hash & previous_mask_;; slot = (slot + 1) & previous_mask_) {
    const std::uint8_t slot_tag = previous_tags_[slot];
    if (slot_tag == 0)
      return nullptr;
    const entry& candidate = previous_[slot];
    if (slot_tag == tag && candidate.high == id.high && candidate.low == id.low)
      return &candidate;
  }
}

command_table::entry& command_table::insert_at(const command_id& id, std::size_t slot) noexcept {
  TALLY_ASSERT(!id.is_nil() && (size_ + 1) * 4 <= capacity_ * 3);
  const std::uint64_t id_hash = hash(id);
  while (tags_[slot] != 0)
    slot = (slot + 1) & mask_;
  tags_[slot] = tag_of(id_hash);
  // Not read first: the tag said the slot is free, and a read would wait for a line
  // that a write need not.
  entry& added = slots_[slot];
  added.high = id.high;
  added.low = id.low;
  ++size_;
  // After placing `added`: moves only fill other free slots, so it stays where it is.
  if (previous_ != nullptr)
    move_previous(growth_moves_per_insert);
  return added;
}

void command_table::place(const entry& moving, std::uint8_t tag) noexcept {
  std::size_t slot = hash(command_id{moving.high, moving.low}) & mask_;
  while (tags_[slot] != 0)
    slot = (slot + 1) & mask_;
  tags_[slot] = tag;
  slots_[slot] = moving;
}

void command_table::move_previous(std::size_t count) noexcept {
  TALLY_ASSERT(previous_ != nullptr);
  const std::size_t end = std::min(previous_capacity_, moved_ + count);
  for (; moved_ < end; ++moved_)
    if (previous_tags_[moved_] != 0)
      place(previous_[moved_], previous_tags_[moved_]);
  if (moved_ == previous_capacity_) {
    release(previous_memory_);
    previous_ = nullptr;
    previous_tags_ = nullptr;
    previous_capacity_ = previous_mask_ = moved_ = 0;
  }
}

void command_table::finish_growth() noexcept {
  if (previous_ != nullptr)
    move_previous(previous_capacity_);
}

void command_table::reserve(std::size_t count) {
  // Load factor at most 3/4 (linear probing over 40-byte entries stays within a few
  // cache lines per probe sequence).
  if (count * 4 <= capacity_ * 3) {
    if (count * 8 > capacity_ * 5 && preparer_.preparing_bytes() == 0
        && table_bytes(capacity_ * 2) >= mapped_bytes_min)
      preparer_.start(table_bytes(capacity_ * 2));
    return;
  }
  finish_growth();
  std::size_t capacity = capacity_ == 0 ? 64 : capacity_;
  while (count * 4 > capacity * 3)
    capacity *= 2;
  // The prepared table, usually ready long ago: C / 8 inserts came since it started.
  zeroed_memory memory = preparer_.take(table_bytes(capacity));
  // The current table becomes the previous one; the inserts that follow move it over.
  previous_memory_ = memory_;
  previous_ = slots_;
  previous_tags_ = tags_;
  previous_capacity_ = capacity_;
  previous_mask_ = mask_;
  moved_ = 0;
  memory_ = memory;
  slots_ = static_cast<entry*>(memory.data);
  tags_ = reinterpret_cast<std::uint8_t*>(slots_ + capacity);
  capacity_ = capacity;
  mask_ = capacity - 1;
  if (previous_capacity_ == 0) {
    previous_memory_ = zeroed_memory{};
    previous_ = nullptr;
    previous_tags_ = nullptr;
  }
}

command_table::entry* command_table::assign_raw(std::size_t capacity, std::size_t size) {
  if (capacity < 64 || (capacity & (capacity - 1)) != 0 || size * 4 > capacity * 3
      || capacity > (SIZE_MAX / (sizeof(entry) + 1)))
    return nullptr;
  zeroed_memory memory = allocate_zeroed(table_bytes(capacity));
  clear();
  memory_ = memory;
  slots_ = static_cast<entry*>(memory.data);
  tags_ = reinterpret_cast<std::uint8_t*>(slots_ + capacity);
  capacity_ = capacity;
  mask_ = capacity - 1;
  size_ = size;
  return slots_;
}

bool command_table::tag_assigned() noexcept {
  TALLY_ASSERT(!growing());
  std::size_t tagged = 0;
  for (std::size_t slot = 0; slot < capacity_; ++slot) {
    const entry& assigned = slots_[slot];
    if (assigned.high == 0 && assigned.low == 0)
      continue;
    tags_[slot] = tag_of(hash(command_id{assigned.high, assigned.low}));
    ++tagged;
  }
  return tagged == size_;
}

void prefetch_checks(const stream_table& streams, const command_table& commands,
                     const std::vector<append_check_key>& keys) noexcept {
  for (const auto& key : keys) {
    streams.prefetch_slot(stream_table::hash(key.stream_id));
    if (!key.command.is_nil())
      commands.prefetch(command_table::hash(key.command));
  }
  for (const auto& key : keys)
    streams.prefetch_stream(stream_table::hash(key.stream_id));
}

command_record command_record_of(const stream_table& streams, const command_table::entry& found) {
  const auto& stream = streams[found.stream];
  command_record out;
  out.stream_id = stream.id;
  out.command_hash = found.command_hash;
  out.first_position = found.first_position;
  out.last_position = found.last_position();
  auto first = std::lower_bound(stream.positions.begin(), stream.positions.end(),
                                found.first_position);
  TALLY_ASSERT(first != stream.positions.end() && *first == found.first_position);
  out.first_version = static_cast<std::uint64_t>(first - stream.positions.begin()) + 1;
  out.last_version = out.first_version + found.events - 1;
  return out;
}

}  // namespace tally::store
