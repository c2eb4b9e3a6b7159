/// @file cpu_entry.hpp
/// The CPU entry points of a launch: plain loops over work-items, instantiated per kernel.
#pragma once

#include "ndl/detail/launch_record.hpp"
#include "ndl/kernel/nd_item.hpp"

namespace ndl::detail {

/// Splits a linear id into a row-major multi-dimensional id.
template <int Dim>
inline void delinearize(size_t lin, const size_t* r, size_t* id) {
  for (int d = Dim - 1; d > 0; --d) {
    id[d] = lin % r[d];
    lin /= r[d];
  }
  id[0] = lin;
}

/// Runs the work-items with linear ids in [first, last) of a range launch.
///
/// The innermost loop runs over the last dimension as a plain counted loop so that the
/// compiler can vectorise the kernel body.
template <class Payload, int Dim>
bool cpu_range_entry(const void* p, const index_space& space, size_t first, size_t last,
                     cpu_failure& failure) {
  const Payload& payload = *static_cast<const Payload*>(p);
  size_t r[Dim];
  for (int d = 0; d < Dim; ++d)
    r[d] = space.global[d];
  size_t id[Dim];
  delinearize<Dim>(first, r, id);
  size_t j = id[Dim - 1];
  try {
    size_t remaining = last - first;
    while (remaining != 0) {
      const size_t row_end = (r[Dim - 1] - j < remaining) ? r[Dim - 1] : j + remaining;
      remaining -= row_end - j;
      for (; j < row_end; ++j) {
        size_t cur[Dim];
        for (int d = 0; d < Dim - 1; ++d)
          cur[d] = id[d];
        cur[Dim - 1] = j;
        payload.invoke(item_access::make_item<Dim>(cur, r));
      }
      // Carry into the slower dimensions.
      j = 0;
      for (int d = Dim - 2; d >= 0; --d) {
        if (++id[d] < r[d]) break;
        id[d] = 0;
      }
    }
  } catch (...) {
    failure.error = std::current_exception();
    for (int d = 0; d < Dim - 1; ++d)
      failure.id[d] = id[d];
    failure.id[Dim - 1] = j;
    return false;
  }
  return true;
}

/// Runs the work-groups with linear ids in [first, last) of an nd-range launch, each as a
/// plain loop over its work-items.
template <class Payload, int Dim>
bool cpu_nd_entry(const void* p, const index_space& space, size_t first, size_t last,
                  cpu_failure& failure) {
  const Payload& payload = *static_cast<const Payload*>(p);
  size_t lr[Dim], gr[Dim];
  for (int d = 0; d < Dim; ++d) {
    lr[d] = space.local[d];
    gr[d] = space.global[d] / space.local[d];
  }
  size_t gid[Dim];
  size_t lid[Dim] = {};
  try {
    for (size_t g = first; g < last; ++g) {
      delinearize<Dim>(g, gr, gid);
      if constexpr (Dim == 1) {
        for (lid[0] = 0; lid[0] < lr[0]; ++lid[0])
          payload.invoke(item_access::make_nd_item<1>(lid, gid, lr, gr));
      } else if constexpr (Dim == 2) {
        for (lid[0] = 0; lid[0] < lr[0]; ++lid[0])
          for (lid[1] = 0; lid[1] < lr[1]; ++lid[1])
            payload.invoke(item_access::make_nd_item<2>(lid, gid, lr, gr));
      } else {
        for (lid[0] = 0; lid[0] < lr[0]; ++lid[0])
          for (lid[1] = 0; lid[1] < lr[1]; ++lid[1])
            for (lid[2] = 0; lid[2] < lr[2]; ++lid[2])
              payload.invoke(item_access::make_nd_item<3>(lid, gid, lr, gr));
      }
    }
  } catch (...) {
    failure.error = std::current_exception();
    for (int d = 0; d < Dim; ++d)
      failure.id[d] = gid[d] * lr[d] + lid[d];
    return false;
  }
  return true;
}

}  // namespace ndl::detail
