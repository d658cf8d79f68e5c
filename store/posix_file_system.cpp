// The POSIX file system: pread/pwrite/fdatasync/flock, retrying EINTR, with every error
// naming the operation, the path and strerror.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tally/file_system.hpp"

namespace tally {

namespace {

status io_error(const char* operation, const std::string& path, int error_number) {
  return status{error_code::store_unavailable,
                std::string{operation} + " " + path + ": " + std::strerror(error_number)};
}

// Closes `descriptor`; EINTR from close() must not be retried on Linux (the descriptor
// is already gone), so errors are ignored here and durability comes from sync().
void close_descriptor(int descriptor) noexcept {
  ::close(descriptor);
}

class posix_file final : public file {
public:
  posix_file(int descriptor, std::string path)
    : descriptor_(descriptor), path_(std::move(path)) {}

  ~posix_file() override { close_descriptor(descriptor_); }

  posix_file(const posix_file&) = delete;
  posix_file& operator=(const posix_file&) = delete;

  status write_at(std::uint64_t offset, std::string_view data) override {
    const char* next = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      ssize_t written = ::pwrite(descriptor_, next, left, static_cast<off_t>(offset));
      if (written < 0) {
        if (errno == EINTR)
          continue;
        return io_error("pwrite", path_, errno);
      }
      next += written;
      left -= static_cast<std::size_t>(written);
      offset += static_cast<std::uint64_t>(written);
    }
    return status::ok();
  }

  result<std::size_t> read_at(std::uint64_t offset, char* buffer,
                              std::size_t size) const override {
    std::size_t filled = 0;
    while (filled < size) {
      ssize_t read = ::pread(descriptor_, buffer + filled, size - filled,
                             static_cast<off_t>(offset + filled));
      if (read < 0) {
        if (errno == EINTR)
          continue;
        return io_error("pread", path_, errno);
      }
      if (read == 0)
        break;  // end of file
      filled += static_cast<std::size_t>(read);
    }
    return filled;
  }

  status sync() override {
    // fdatasync, not fsync: the journal needs the data and the file size, not mtime.
    while (::fdatasync(descriptor_) != 0) {
      if (errno != EINTR)
        return io_error("fdatasync", path_, errno);
    }
    return status::ok();
  }

  result<std::uint64_t> size() const override {
    struct stat info {};
    if (::fstat(descriptor_, &info) != 0)
      return io_error("fstat", path_, errno);
    return static_cast<std::uint64_t>(info.st_size);
  }

  status truncate(std::uint64_t size) override {
    while (::ftruncate(descriptor_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR)
        return io_error("ftruncate", path_, errno);
    }
    return status::ok();
  }

  const std::string& path() const override { return path_; }

private:
  int descriptor_;
  std::string path_;
};

class posix_file_lock final : public file_lock {
public:
  explicit posix_file_lock(int descriptor) : descriptor_(descriptor) {}
  ~posix_file_lock() override {
    ::flock(descriptor_, LOCK_UN);
    close_descriptor(descriptor_);
  }
  posix_file_lock(const posix_file_lock&) = delete;
  posix_file_lock& operator=(const posix_file_lock&) = delete;

private:
  int descriptor_;
};

int open_retrying(const char* path, int flags, mode_t mode) noexcept {
  int descriptor;
  do {
    descriptor = ::open(path, flags, mode);
  } while (descriptor < 0 && errno == EINTR);
  return descriptor;
}

class posix_file_system_impl final : public file_system {
public:
  result<std::unique_ptr<file>> open_file(const std::string& path, file_access access,
                                          file_creation creation,
                                          std::uint32_t permissions) override {
    int flags = O_CLOEXEC | (access == file_access::read_write ? O_RDWR : O_RDONLY);
    if (creation == file_creation::create_if_missing)
      flags |= O_CREAT;
    else if (creation == file_creation::create_exclusive)
      flags |= O_CREAT | O_EXCL;
    int descriptor = open_retrying(path.c_str(), flags, static_cast<mode_t>(permissions));
    if (descriptor < 0)
      return io_error("open", path, errno);
    return std::unique_ptr<file>{std::make_unique<posix_file>(descriptor, path)};
  }

  result<bool> create_directory(const std::string& path, std::uint32_t permissions) override {
    if (::mkdir(path.c_str(), static_cast<mode_t>(permissions)) == 0)
      return true;
    if (errno != EEXIST)
      return io_error("mkdir", path, errno);
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
      return io_error("stat", path, errno);
    if (!S_ISDIR(info.st_mode))
      return status{error_code::store_unavailable, "mkdir " + path + ": exists and is not a directory"};
    return false;
  }

  status sync_directory(const std::string& path) override {
    int descriptor = open_retrying(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (descriptor < 0)
      return io_error("open directory", path, errno);
    status out;
    while (::fsync(descriptor) != 0) {
      if (errno != EINTR) {
        out = io_error("fsync directory", path, errno);
        break;
      }
    }
    close_descriptor(descriptor);
    return out;
  }

  status rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return io_error("rename", from + " -> " + to, errno);
    return status::ok();
  }

  status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0)
      return io_error("unlink", path, errno);
    return status::ok();
  }

  result<std::vector<std::string>> list_directory(const std::string& path) override {
    DIR* directory = ::opendir(path.c_str());
    if (directory == nullptr)
      return io_error("opendir", path, errno);
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      dirent* entry = ::readdir(directory);
      if (entry == nullptr)
        break;
      std::string name{entry->d_name};
      if (name != "." && name != "..")
        names.push_back(std::move(name));
    }
    int error_number = errno;
    ::closedir(directory);
    if (error_number != 0)
      return io_error("readdir", path, error_number);
    return names;
  }

  result<bool> file_exists(const std::string& path) override {
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0)
      return true;
    if (errno == ENOENT)
      return false;
    return io_error("stat", path, errno);
  }

  result<std::uint64_t> file_size(const std::string& path) override {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
      return io_error("stat", path, errno);
    return static_cast<std::uint64_t>(info.st_size);
  }

  result<std::unique_ptr<file_lock>> lock_file(const std::string& path) override {
    int descriptor = open_retrying(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                                   static_cast<mode_t>(file_permissions_private));
    if (descriptor < 0)
      return io_error("open lock file", path, errno);
    // flock, not fcntl: fcntl locks belong to the process, so a second open in the same
    // process would silently succeed; flock locks belong to the open file description.
    int locked;
    do {
      locked = ::flock(descriptor, LOCK_EX | LOCK_NB);
    } while (locked != 0 && errno == EINTR);
    if (locked != 0) {
      int error_number = errno;
      close_descriptor(descriptor);
      if (error_number == EWOULDBLOCK)
        return status{error_code::store_unavailable,
                      "lock " + path + ": held by another journal (another process, or "
                      "this one); only one may open a data directory"};
      return io_error("flock", path, error_number);
    }
    return std::unique_ptr<file_lock>{std::make_unique<posix_file_lock>(descriptor)};
  }
};

}  // namespace

file_system& posix_file_system() {
  static posix_file_system_impl instance;
  return instance;
}

}  // namespace tally
