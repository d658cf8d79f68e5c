#include "store/file_system.hpp"

#include "tally/assert.hpp"

namespace tally::store {

std::string join_path(std::string_view directory, std::string_view name) {
  std::string out{directory};
  if (out.empty() || out.back() != '/')
    out.push_back('/');
  out.append(name);
  return out;
}

std::string parent_directory(std::string_view path) {
  while (path.size() > 1 && path.back() == '/')
    path.remove_suffix(1);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos)
    return ".";
  if (slash == 0)
    return "/";
  return std::string{path.substr(0, slash)};
}

result<std::string> read_whole_file(const file& handle, std::uint64_t bytes_max) {
  auto size = handle.size();
  if (!size)
    return size.error();
  if (*size > bytes_max)
    return status{error_code::invalid_argument,
                  handle.path() + ": file of " + std::to_string(*size)
                    + " bytes is larger than the limit of " + std::to_string(bytes_max)};
  std::string out(static_cast<std::size_t>(*size), '\0');
  std::size_t filled = 0;
  while (filled < out.size()) {
    auto read = handle.read_at(filled, out.data() + filled, out.size() - filled);
    if (!read)
      return read.error();
    if (*read == 0)
      break;  // the file shrank under us; return what is there
    filled += *read;
  }
  out.resize(filled);
  return out;
}

status write_file_atomically(file_system& fs, const std::string& directory,
                             const std::string& name, std::string_view contents) {
  std::string final_path = join_path(directory, name);
  std::string temporary_path = final_path + std::string{temporary_file_suffix};
  // A leftover from a crash would make the exclusive create fail; it holds nothing
  // anyone needs (the rename never happened).
  auto exists = fs.file_exists(temporary_path);
  if (!exists)
    return exists.error();
  if (*exists)
    if (auto removed = fs.remove_file(temporary_path))
      return removed;
  auto opened = fs.open_file(temporary_path, file_access::read_write,
                             file_creation::create_exclusive);
  if (!opened)
    return opened.error();
  auto& handle = **opened;
  if (auto written = handle.write_at(0, contents))
    return written;
  if (auto synced = handle.sync())
    return synced;
  opened->reset();
  if (auto renamed = fs.rename_file(temporary_path, final_path))
    return renamed;
  return fs.sync_directory(directory);
}

}  // namespace tally::store
