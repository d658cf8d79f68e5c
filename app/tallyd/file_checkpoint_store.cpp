#include "app/tallyd/file_checkpoint_store.hpp"

#include <cstring>
#include <mutex>

#include "store/crc32c.hpp"

namespace tally::daemon {

namespace {

constexpr char checkpoint_magic[4] = {'T', 'C', 'K', 'P'};

void put_u16(std::string& out, std::uint16_t value) {
  for (int i = 0; i < 2; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xff);
}
void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xff);
}
std::uint64_t get_le(const std::string& in, std::size_t offset, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  return value;
}

bool is_safe_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (unsigned char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-'))
      return false;
  return true;
}

class file_checkpoint_store final : public checkpoint_store {
public:
  file_checkpoint_store(file_system& fs, std::string directory)
    : fs_(fs), directory_(std::move(directory)) {}

  status save(const std::string& projection, const checkpoint& saved) override {
    if (!is_safe_name(projection))
      return status{error_code::invalid_argument, "bad projection name"};
    std::string bytes{checkpoint_magic, sizeof checkpoint_magic};
    put_u16(bytes, checkpoint_format_version);
    put_u16(bytes, 0);
    put_u64(bytes, saved.position);
    put_u64(bytes, saved.state.size());
    static_assert(checkpoint_header_bytes == 4 + 2 + 2 + 8 + 8);
    bytes += saved.state;
    put_u32(bytes, store::mask_crc(store::crc32c(bytes)));
    std::lock_guard guard{mutex_};
    auto final_path = path_of(projection);
    auto temp_path = final_path + ".tmp";
    auto opened = fs_.open_file(temp_path, file_access::read_write, file_creation::create_if_missing);
    if (!opened)
      return opened.error();
    auto& out = **opened;
    if (auto failed = out.truncate(0))
      return failed;
    if (auto failed = out.write_at(0, bytes))
      return failed;
    if (auto failed = out.sync())
      return failed;
    opened->reset();
    if (auto failed = fs_.rename_file(temp_path, final_path))
      return failed;
    return fs_.sync_directory(directory_);
  }

  std::optional<checkpoint> load(const std::string& projection) const override {
    if (!is_safe_name(projection))
      return std::nullopt;
    std::lock_guard guard{mutex_};
    auto opened = fs_.open_file(path_of(projection), file_access::read_only,
                                file_creation::open_existing);
    if (!opened)
      return std::nullopt;
    auto size = (*opened)->size();
    if (!size || *size < checkpoint_header_bytes + 4
        || *size > checkpoint_header_bytes + 4 + checkpoint_state_bytes_max)
      return std::nullopt;
    std::string bytes(static_cast<std::size_t>(*size), '\0');
    auto read = (*opened)->read_at(0, bytes.data(), bytes.size());
    if (!read || *read != bytes.size())
      return std::nullopt;
    if (std::memcmp(bytes.data(), checkpoint_magic, sizeof checkpoint_magic) != 0
        || get_le(bytes, 4, 2) != checkpoint_format_version)
      return std::nullopt;
    auto state_bytes = get_le(bytes, 16, 8);
    if (state_bytes != bytes.size() - checkpoint_header_bytes - 4)
      return std::nullopt;
    auto stored_crc = static_cast<std::uint32_t>(get_le(bytes, bytes.size() - 4, 4));
    if (store::unmask_crc(stored_crc)
        != store::crc32c(std::string_view{bytes}.substr(0, bytes.size() - 4)))
      return std::nullopt;
    checkpoint out;
    out.position = get_le(bytes, 8, 8);
    out.state = bytes.substr(checkpoint_header_bytes, static_cast<std::size_t>(state_bytes));
    return out;
  }

  bool blocks_on_io() const override { return true; }

private:
  std::string path_of(const std::string& projection) const {
    return directory_ + "/" + projection + ".checkpoint";
  }

  file_system& fs_;
  std::string directory_;
  mutable std::mutex mutex_;
};

}  // namespace

result<std::shared_ptr<checkpoint_store>> make_file_checkpoint_store(file_system& fs,
                                                                     const std::string& directory) {
  auto created = fs.create_directory(directory);
  if (!created)
    return created.error();
  if (*created) {
    auto slash = directory.find_last_of('/');
    auto parent = slash == std::string::npos ? std::string{"."}
                  : slash == 0               ? std::string{"/"}
                                             : directory.substr(0, slash);
    if (auto failed = fs.sync_directory(parent))
      return failed;
  }
  return std::shared_ptr<checkpoint_store>{std::make_shared<file_checkpoint_store>(fs, directory)};
}

}  // namespace tally::daemon
