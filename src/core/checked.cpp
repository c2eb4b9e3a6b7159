// Checked mode (NDL_CHECKED): the messages of out-of-bounds view accesses, one format for
// every device.
#include <string>

#include "core/command.hpp"
#include "ndl/error.hpp"

namespace ndl::detail {

namespace {
std::string tuple_of(int rank, const size_t* v) {
  std::string s = "(";
  for (int d = 0; d < rank; ++d)
    s += (d ? ", " : "") + std::to_string(v[d]);
  return s + ")";
}

// Indices arrive as size_t: show the ones that were negative as such.
std::string index_tuple(int rank, const size_t* v) {
  std::string s = "(";
  for (int d = 0; d < rank; ++d) {
    const auto signed_value = static_cast<ptrdiff_t>(v[d]);
    s += (d ? ", " : "") + (signed_value < 0 ? std::to_string(signed_value) : std::to_string(v[d]));
  }
  return s + ")";
}
}  // namespace

const std::type_info* argument_type(const kernel_record& record, int arg) {
  if (arg < 0 || !record.arg_types) return nullptr;
  // The list ends with a null entry: never read past it.
  for (int i = 0; record.arg_types[i]; ++i)
    if (i == arg) return record.arg_types[i];
  return nullptr;
}

std::string out_of_bounds_message(int arg, const std::type_info* type, int rank,
                                  const size_t* index, const size_t* extent) {
  std::string s = "out-of-bounds access to ";
  s += arg >= 0 ? "argument " + std::to_string(arg)
                : std::string("a view that is not a kernel argument");
  if (type) s += " (" + demangle(*type) + ")";
  int dim = 0;
  while (dim < rank && index[dim] < extent[dim])
    ++dim;
  s += ": index " + index_tuple(rank, index) + " is outside extent " + tuple_of(rank, extent);
  if (dim < rank) s += " (dimension " + std::to_string(dim) + ")";
  return s;
}

out_of_bounds_error::out_of_bounds_error(int arg_, const std::type_info& view_type_, int rank_,
                                         const size_t* index_, const size_t* extent_)
    : error(errc::kernel_failure, out_of_bounds_message(arg_, &view_type_, rank_, index_, extent_)),
      arg(arg_),
      rank(rank_),
      view_type(&view_type_) {
  for (int d = 0; d < rank_ && d < 3; ++d) {
    index[d] = index_[d];
    extent[d] = extent_[d];
  }
}

std::string out_of_bounds_error::message_for(const kernel_record& record) const {
  const std::type_info* type = argument_type(record, arg);
  return out_of_bounds_message(arg, type ? type : view_type, rank, index, extent);
}

void throw_out_of_bounds(int arg, const std::type_info& view_type, int rank, const size_t* index,
                         const size_t* extent) {
  // Not through throw_error: the launch's kernel_error() names the argument's type from
  // the launch record (a kernel may take a view<const T> for a view<T> argument), the same
  // type a GPU launch names.
  throw out_of_bounds_error(arg, view_type, rank, index, extent);
}

}  // namespace ndl::detail
