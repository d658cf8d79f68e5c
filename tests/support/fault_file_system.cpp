#include "support/fault_file_system.hpp"

#include <cerrno>
#include <cstring>

#include "store/file_system.hpp"

namespace tally::testing {

namespace {
constexpr int power_lost_error = EIO;
}  // namespace

class fault_file final : public file {
public:
  fault_file(fault_file_system& fs, std::string path, std::shared_ptr<fault_file_system::inode> node,
             bool writable)
    : fs_(fs), path_(std::move(path)), node_(std::move(node)), writable_(writable) {}

  status write_at(std::uint64_t offset, std::string_view data) override {
    std::lock_guard guard{fs_.mutex_};
    if (!writable_)
      return status{error_code::store_unavailable, "pwrite " + path_ + ": Bad file descriptor"};
    auto error = fs_.count(fault_operation::write, path_);
    std::string_view written = data;
    if (error && !fs_.dead_)
      written = data.substr(0, data.size() / 2);  // a short write before the error
    else if (error)
      written = {};
    if (!written.empty()) {
      if (node_->data.size() < offset + written.size())
        node_->data.resize(offset + written.size(), '\0');
      node_->data.replace(offset, written.size(), written);
    }
    if (error)
      return *error;
    return status::ok();
  }

  result<std::size_t> read_at(std::uint64_t offset, char* buffer,
                              std::size_t size) const override {
    std::lock_guard guard{fs_.mutex_};
    if (fs_.dead_)
      return fs_.failure_locked("pread", path_);
    if (offset >= node_->data.size())
      return std::size_t{0};
    std::size_t count = std::min<std::size_t>(size, node_->data.size() - offset);
    std::memcpy(buffer, node_->data.data() + offset, count);
    return count;
  }

  status sync() override {
    std::lock_guard guard{fs_.mutex_};
    if (auto error = fs_.count(fault_operation::sync, path_))
      return *error;
    node_->durable = node_->data;
    return status::ok();
  }

  result<std::uint64_t> size() const override {
    std::lock_guard guard{fs_.mutex_};
    if (fs_.dead_)
      return fs_.failure_locked("fstat", path_);
    return static_cast<std::uint64_t>(node_->data.size());
  }

  status truncate(std::uint64_t size) override {
    std::lock_guard guard{fs_.mutex_};
    if (auto error = fs_.count(fault_operation::truncate, path_))
      return *error;
    node_->data.resize(size, '\0');
    return status::ok();
  }

  const std::string& path() const override { return path_; }

private:
  fault_file_system& fs_;
  std::string path_;
  std::shared_ptr<fault_file_system::inode> node_;
  bool writable_;
};

class fault_lock final : public file_lock {
public:
  fault_lock(fault_file_system& fs, std::string path, std::uint64_t token)
    : fs_(fs), path_(std::move(path)), token_(token) {}
  ~fault_lock() override {
    std::lock_guard guard{fs_.mutex_};
    auto it = fs_.locks_.find(path_);
    if (it != fs_.locks_.end() && it->second == token_)
      fs_.locks_.erase(it);
  }

private:
  fault_file_system& fs_;
  std::string path_;
  std::uint64_t token_;
};

fault_file_system::fault_file_system() {
  current_["/"] = entry{true, nullptr, 0755};
  durable_ = current_;
}

fault_file_system::~fault_file_system() = default;

status fault_file_system::failure_locked(const char* operation, const std::string& path) const {
  return status{error_code::store_unavailable, std::string{operation} + " " + path + ": "
                                                 + std::strerror(power_lost_error)
                                                 + " (power lost)"};
}

std::optional<status> fault_file_system::count(fault_operation operation,
                                               const std::string& path) {
  static constexpr const char* names[] = {"open",   "write",  "fdatasync", "fsync directory",
                                          "rename", "unlink", "ftruncate", "mkdir"};
  const char* name = names[static_cast<int>(operation)];
  if (dead_)
    return failure_locked(name, path);
  ++operations_;
  if (crash_at_ != 0 && operations_ >= crash_at_) {
    dead_ = true;
    return failure_locked(name, path);
  }
  for (auto& rule : faults_) {
    if (rule.operation != operation)
      continue;
    ++rule.seen;
    if (rule.seen == rule.nth
        || (rule.persistence == fault_persistence::persistent && rule.seen > rule.nth))
      return status{error_code::store_unavailable, std::string{name} + " " + path + ": "
                                                     + std::strerror(rule.error_number)
                                                     + " (injected)"};
  }
  return std::nullopt;
}

bool fault_file_system::parent_exists_locked(const std::string& path,
                                             const std::map<std::string, entry>& names) const {
  auto it = names.find(store::parent_directory(path));
  return it != names.end() && it->second.directory;
}

result<std::unique_ptr<file>> fault_file_system::open_file(const std::string& path,
                                                           file_access access,
                                                           file_creation creation,
                                                           std::uint32_t permissions) {
  std::lock_guard guard{mutex_};
  if (auto error = count(fault_operation::open, path))
    return *error;
  auto it = current_.find(path);
  auto fail = [&](int error_number) {
    return status{error_code::store_unavailable,
                  "open " + path + ": " + std::strerror(error_number)};
  };
  if (it != current_.end()) {
    if (it->second.directory)
      return fail(EISDIR);
    if (creation == file_creation::create_exclusive)
      return fail(EEXIST);
  } else {
    if (creation == file_creation::open_existing)
      return fail(ENOENT);
    if (!parent_exists_locked(path, current_))
      return fail(ENOENT);
    it = current_.emplace(path, entry{false, std::make_shared<inode>(), permissions}).first;
  }
  return std::unique_ptr<file>{std::make_unique<fault_file>(
    *this, path, it->second.node, access == file_access::read_write)};
}

result<bool> fault_file_system::create_directory(const std::string& path,
                                                 std::uint32_t permissions) {
  std::lock_guard guard{mutex_};
  if (auto error = count(fault_operation::create_directory, path))
    return *error;
  auto it = current_.find(path);
  if (it != current_.end()) {
    if (!it->second.directory)
      return status{error_code::store_unavailable, "mkdir " + path + ": File exists"};
    return false;
  }
  if (!parent_exists_locked(path, current_))
    return status{error_code::store_unavailable, "mkdir " + path + ": No such file or directory"};
  current_.emplace(path, entry{true, nullptr, permissions});
  return true;
}

status fault_file_system::sync_directory(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (auto error = count(fault_operation::sync_directory, path))
    return *error;
  auto it = current_.find(path);
  if (it == current_.end() || !it->second.directory)
    return status{error_code::store_unavailable, "open directory " + path + ": No such file or directory"};
  // The directory's entries (not their contents) become what survives a crash.
  for (auto durable = durable_.begin(); durable != durable_.end();) {
    if (durable->first != "/" && store::parent_directory(durable->first) == path
        && current_.count(durable->first) == 0)
      durable = durable_.erase(durable);
    else
      ++durable;
  }
  for (const auto& [name, value] : current_)
    if (name != "/" && store::parent_directory(name) == path)
      durable_[name] = value;
  return status::ok();
}

status fault_file_system::rename_file(const std::string& from, const std::string& to) {
  std::lock_guard guard{mutex_};
  if (auto error = count(fault_operation::rename, from))
    return *error;
  auto it = current_.find(from);
  if (it == current_.end())
    return status{error_code::store_unavailable, "rename " + from + ": No such file or directory"};
  entry moved = it->second;
  current_.erase(it);
  current_[to] = moved;
  return status::ok();
}

status fault_file_system::remove_file(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (auto error = count(fault_operation::remove, path))
    return *error;
  if (current_.erase(path) == 0)
    return status{error_code::store_unavailable, "unlink " + path + ": No such file or directory"};
  return status::ok();
}

result<std::vector<std::string>> fault_file_system::list_directory(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (dead_)
    return failure_locked("opendir", path);
  auto it = current_.find(path);
  if (it == current_.end() || !it->second.directory)
    return status{error_code::store_unavailable, "opendir " + path + ": No such file or directory"};
  std::vector<std::string> names;
  for (const auto& [name, value] : current_)
    if (name != "/" && store::parent_directory(name) == path)
      names.push_back(name.substr(name.rfind('/') + 1));
  return names;
}

result<bool> fault_file_system::file_exists(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (dead_)
    return failure_locked("stat", path);
  return current_.count(path) != 0;
}

result<std::uint64_t> fault_file_system::file_size(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (dead_)
    return failure_locked("stat", path);
  auto it = current_.find(path);
  if (it == current_.end() || it->second.directory)
    return status{error_code::store_unavailable, "stat " + path + ": No such file or directory"};
  return static_cast<std::uint64_t>(it->second.node->data.size());
}

result<std::unique_ptr<file_lock>> fault_file_system::lock_file(const std::string& path) {
  std::lock_guard guard{mutex_};
  if (dead_)
    return failure_locked("flock", path);
  if (locks_.count(path) != 0)
    return status{error_code::store_unavailable,
                  "lock " + path + ": held by another journal (Resource temporarily unavailable)"};
  if (current_.count(path) == 0) {
    if (!parent_exists_locked(path, current_))
      return status{error_code::store_unavailable, "open lock file " + path + ": No such file or directory"};
    current_.emplace(path, entry{false, std::make_shared<inode>(), 0600});
  }
  std::uint64_t token = next_lock_token_++;
  locks_[path] = token;
  return std::unique_ptr<file_lock>{std::make_unique<fault_lock>(*this, path, token)};
}

void fault_file_system::inject_fault(fault_operation operation, std::uint64_t nth,
                                     int error_number, fault_persistence persistence) {
  std::lock_guard guard{mutex_};
  faults_.push_back(fault{operation, nth, error_number, persistence, 0});
}

void fault_file_system::clear_faults() {
  std::lock_guard guard{mutex_};
  faults_.clear();
}

void fault_file_system::crash_at_operation(std::uint64_t operation_number) {
  std::lock_guard guard{mutex_};
  crash_at_ = operation_number;
}

std::uint64_t fault_file_system::operations() const {
  std::lock_guard guard{mutex_};
  return operations_;
}

bool fault_file_system::power_lost() const {
  std::lock_guard guard{mutex_};
  return dead_;
}

void fault_file_system::crash(unsynced_bytes mode, std::uint64_t seed) {
  std::lock_guard guard{mutex_};
  std::mt19937_64 random{seed};
  // Entries survive only when their directory entry was synced and their parent
  // directory itself survived.
  std::map<std::string, entry> survivors;
  for (const auto& [name, value] : durable_)
    if (name == "/" || parent_exists_locked(name, durable_))
      survivors.emplace(name, value);
  std::set<inode*> done;
  for (auto& [name, value] : survivors) {
    if (value.directory || !done.insert(value.node.get()).second)
      continue;
    inode& node = *value.node;
    bool appended_only = node.data.size() > node.durable.size()
                         && node.data.compare(0, node.durable.size(), node.durable) == 0;
    if (appended_only && mode != unsynced_bytes::dropped) {
      std::size_t extra = node.data.size() - node.durable.size();
      std::size_t kept = static_cast<std::size_t>(random() % (extra + 1));
      node.data.resize(node.durable.size() + kept);
      if (mode == unsynced_bytes::torn_prefix_garbled && kept > 0) {
        std::size_t garbled = std::min<std::size_t>(kept, 1 + random() % 16);
        for (std::size_t i = node.data.size() - garbled; i < node.data.size(); ++i)
          node.data[i] = static_cast<char>(random());
      }
    } else {
      node.data = node.durable;
    }
    node.durable = node.data;
  }
  current_ = survivors;
  durable_ = survivors;
  faults_.clear();
  crash_at_ = 0;
  dead_ = false;
  locks_.clear();
}

void fault_file_system::kill_process() {
  std::lock_guard guard{mutex_};
  dead_ = true;
}

void fault_file_system::restart_process() {
  std::lock_guard guard{mutex_};
  faults_.clear();
  crash_at_ = 0;
  dead_ = false;
  locks_.clear();
}

std::optional<std::string> fault_file_system::contents(const std::string& path) const {
  std::lock_guard guard{mutex_};
  auto it = current_.find(path);
  if (it == current_.end() || it->second.directory)
    return std::nullopt;
  return it->second.node->data;
}

void fault_file_system::set_contents(const std::string& path, const std::string& bytes) {
  std::lock_guard guard{mutex_};
  auto it = current_.find(path);
  if (it == current_.end())
    it = current_.emplace(path, entry{false, std::make_shared<inode>(), 0600}).first;
  it->second.node->data = bytes;
  it->second.node->durable = bytes;
  durable_[path] = it->second;
}

std::vector<std::string> fault_file_system::files_in(const std::string& directory) const {
  std::lock_guard guard{mutex_};
  std::vector<std::string> names;
  for (const auto& [name, value] : current_)
    if (!value.directory && name != "/" && store::parent_directory(name) == directory)
      names.push_back(name.substr(name.rfind('/') + 1));
  return names;
}

std::optional<std::uint32_t> fault_file_system::permissions(const std::string& path) const {
  std::lock_guard guard{mutex_};
  auto it = current_.find(path);
  if (it == current_.end())
    return std::nullopt;
  return it->second.permissions;
}

}  // namespace tally::testing
