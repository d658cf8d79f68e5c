// Where projections keep their checkpoints: the position they applied up to and
// their read model's encoded state, so a restart resumes instead of rebuilding.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tally/error.hpp"

namespace tally {

/// Default of projection_options::checkpoint_bytes_per_event_max: bytes of checkpoint
/// a projection may encode per event it applies.
inline constexpr std::uint64_t checkpoint_bytes_per_event_max_default = 256;

/// A read model's state frozen for a checkpoint: encoded later, on the checkpoint
/// writer's thread, while the model goes on applying events on its own. A model whose
/// checkpoint is large offers one (history_read_model), so that its projection does
/// not stop for the encoding (about 1.2 s at 10 M events).
class checkpoint_image {
public:
  virtual ~checkpoint_image() = default;
  /// The bytes the model's encode() returned when the image was taken. Safe to call
  /// on any thread, while the model changes.
  virtual std::string encode() const = 0;
};
using checkpoint_image_ptr = std::shared_ptr<const checkpoint_image>;

struct checkpoint {
  std::uint64_t position = 0;  ///< every event up to here is in `state`
  std::string state;           ///< the read model, encoded by the projection
};

/// Thread-safe storage of one checkpoint per projection name.
class checkpoint_store {
public:
  virtual ~checkpoint_store() = default;

  /// Replaces the checkpoint of `projection` atomically. Errors: store_unavailable.
  virtual status save(const std::string& projection, const checkpoint& saved) = 0;

  /// The latest checkpoint of `projection`, nullopt when none was saved.
  virtual std::optional<checkpoint> load(const std::string& projection) const = 0;

  /// True when save/load block on I/O (projections then run on their own threads).
  virtual bool blocks_on_io() const = 0;
};

/// Checkpoints in memory: survive a projection restart, not a process restart.
std::shared_ptr<checkpoint_store> make_memory_checkpoint_store();

}  // namespace tally
