// Work-group barriers (include/ndl/kernel/barrier.hpp): numba-dpex's test_barriers, barriers
// in 1-, 2- and 3-D groups of every size up to the maximum, in loops and helper functions,
// the numba-dpex#906 pattern, trip counts and early returns that are uniform per group, many
// groups, concurrent launches, work-items that wait for other launches with barriers; and the
// errors: work-items that disagree at a barrier fail the launch naming the group and the
// work-items (never a hang), exceptions thrown while other work-items wait at a barrier (also
// when the kernel swallows the engine's unwinding), and the queue keeps working after each.
//
// Most launches go through `bounded()`: the test thread waits at most ndl_test::spin_limit for
// them, so a hang of the work-group engine is a failure, not a stuck run (ctest's timeout
// covers the synchronous launches).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <ndl/ndl.hpp>
#include <numeric>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_test::bounded;
using ndl_test::fewer_under_tsan;

// Work-items that disagree at a barrier are an error the CPU device detects; on a GPU they
// are undefined behaviour (a launch can hang the device), so those tests run on the CPU only.
#define NDL_SKIP_UNLESS_DIVERGENCE_CHECKED()                                                    \
  NDL_SKIP_UNLESS(dev().is_cpu(),                                                               \
                  "barrier divergence is detected on the CPU device; on a GPU it is undefined " \
                  "behaviour")

class barrier_test : public ndl_test::device_test {};

// The file name group_barrier reports for barriers written in this file.
std::string this_file() {
  return std::source_location::current().file_name();
}

std::string at_line(int line) {
  return this_file() + ":" + std::to_string(line) + ":";
}

std::vector<int> pattern(size_t n) {
  std::vector<int> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<int>((i * 7919) % 1000) - 300;
  return v;
}

template <int Dim>
ndl::range<Dim> make_range(const std::array<size_t, 3>& e) {
  ndl::range<Dim> r;
  for (int d = 0; d < Dim; ++d)
    r[d] = e[static_cast<size_t>(d)];
  return r;
}

// --- numba-dpex test_barriers --------------------------------------------------------------------

struct barrier_sum_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> a) const {
    const size_t i = it.get_global_id(0);
    a[i] += 1;
    ndl::group_barrier(it.get_group(), ndl::memory_scope::device);
    if (i == 0)
      for (size_t j = 1; j < 16; ++j)
        a[0] += a[j];
  }
};

// numba-dpex's device_func form: the barrier sits in a function the kernel calls.
NDL_KERNEL_FN void device_barrier(const ndl::group<1>& g) {
  ndl::group_barrier(g, ndl::memory_scope::device);
}

struct barrier_in_function_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<int, 1> a) const {
    const size_t i = it.get_global_id(0);
    a[i] += 1;
    device_barrier(it.get_group());
    if (i == 0)
      for (size_t j = 1; j < 16; ++j)
        a[0] += a[j];
  }
};

NDL_TEST_P(barrier_test, numba_dpex_barrier_sum_is_32) {
  auto q = default_queue();
  for (int form = 0; form < 2; ++form) {
    SCOPED_TRACE(form == 0 ? "barrier in the kernel" : "barrier in a device function");
    auto a = ndl::array<int>::full({16}, 1, q);
    const ndl::nd_range<1> space{{16}, {16}};
    ASSERT_TRUE(bounded(form == 0
                            ? ndl::call_kernel_async(barrier_sum_kernel{}, space, {}, a)
                            : ndl::call_kernel_async(barrier_in_function_kernel{}, space, {}, a)));
    const auto host = a.to_host();
    EXPECT_EQ(host[0], 32);
    for (size_t j = 1; j < 16; ++j)
      EXPECT_EQ(host[j], 2) << j;
  }
  // The synchronous launcher as numba-dpex calls it.
  auto a = ndl::array<int>::full({16}, 1, q);
  ndl::call_kernel(barrier_sum_kernel{}, ndl::nd_range<1>{{16}, {16}}, a);
  EXPECT_EQ(a.to_host()[0], 32);
}

// --- group shapes and sizes ----------------------------------------------------------------------

// Each group reverses its slice of `in` through local memory, then sums it with a tree
// reduction whose every step ends in a barrier (correct for any group size). Group g owns
// elements [g * n, (g + 1) * n) in local linear order.
template <int Dim>
struct reverse_and_sum_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<Dim> it, ndl::view<const int, 1> in,
                                ndl::view<int, 1> rev, ndl::view<int, 1> sums,
                                ndl::view<int, 1> ids, ndl::local_accessor<int, 1> tile) const {
    const auto g = it.get_group();
    const size_t n = it.get_local_linear_range();
    const size_t l = it.get_local_linear_id();
    const size_t base = g.get_group_linear_id() * n;
    tile[l] = in[base + l];
    ndl::group_barrier(g);
    rev[base + l] = tile[n - 1 - l];
    // The work-item's global linear id, to check that ids survive the switch to fibers.
    ids[base + l] = static_cast<int>(it.get_global_linear_id());
    ndl::group_barrier(g);
    for (size_t s = 1; s < n; s *= 2) {
      if (l % (2 * s) == 0 && l + s < n) tile[l] += tile[l + s];
      ndl::group_barrier(g);
    }
    if (l == 0) sums[g.get_group_linear_id()] = tile[0];
  }
};

template <int Dim>
void check_reverse_and_sum(const ndl::queue& q, std::array<size_t, 3> groups,
                           std::array<size_t, 3> local) {
  std::array<size_t, 3> global{};
  size_t n = 1, num_groups = 1;
  for (size_t d = 0; d < Dim; ++d) {
    global[d] = groups[d] * local[d];
    n *= local[d];
    num_groups *= groups[d];
  }
  std::string shape = "local {";
  for (size_t d = 0; d < Dim; ++d)
    shape += (d ? ", " : "") + std::to_string(local[d]);
  SCOPED_TRACE(shape + "}, " + std::to_string(num_groups) + " groups");
  const size_t total = n * num_groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto rev = ndl::array<int>::zeros({total}, q);
  auto sums = ndl::array<int>::zeros({num_groups}, q);
  auto ids = ndl::array<int>::full({total}, -1, q);
  const ndl::nd_range<Dim> space(make_range<Dim>(global), make_range<Dim>(local));
  ASSERT_TRUE(bounded(ndl::call_kernel_async(reverse_and_sum_kernel<Dim>{}, space, {}, in, rev,
                                             sums, ids, ndl::local_accessor<int, 1>{{n}})));
  const auto rev_h = rev.to_host();
  const auto sums_h = sums.to_host();
  const auto ids_h = ids.to_host();
  // The global linear id of local linear id l in group gl, computed on the host.
  const auto global_linear = [&](size_t gl, size_t l) {
    size_t gid[3] = {}, lid[3] = {};
    for (int d = Dim - 1; d >= 0; --d) {
      gid[d] = gl % groups[static_cast<size_t>(d)];
      gl /= groups[static_cast<size_t>(d)];
      lid[d] = l % local[static_cast<size_t>(d)];
      l /= local[static_cast<size_t>(d)];
    }
    size_t lin = 0;
    for (size_t d = 0; d < Dim; ++d)
      lin = lin * global[d] + gid[d] * local[d] + lid[d];
    return lin;
  };
  for (size_t g = 0; g < num_groups; ++g) {
    int sum = 0;
    for (size_t l = 0; l < n; ++l) {
      sum += values[g * n + l];
      ASSERT_EQ(rev_h[g * n + l], values[g * n + n - 1 - l]) << "group " << g << " item " << l;
      ASSERT_EQ(ids_h[g * n + l], static_cast<int>(global_linear(g, l)))
          << "group " << g << " item " << l;
    }
    ASSERT_EQ(sums_h[g], sum) << "group " << g;
  }
}

NDL_TEST_P(barrier_test, one_dimensional_groups_of_every_size_up_to_the_maximum) {
  auto q = default_queue();
  for (size_t n :
       {size_t{1}, size_t{2}, size_t{7}, size_t{32}, size_t{64}, size_t{100}, size_t{1024}}) {
    if (n > dev().max_work_group_size()) continue;
    check_reverse_and_sum<1>(q, {5, 1, 1}, {n, 1, 1});
  }
}

NDL_TEST_P(barrier_test, the_largest_work_group) {
  auto q = default_queue();
  const size_t max = dev().max_work_group_size();
  ASSERT_GE(max, 1u);
  check_reverse_and_sum<1>(q, {3, 1, 1}, {max, 1, 1});
  if (max == 1024) {
    check_reverse_and_sum<2>(q, {2, 2, 1}, {32, 32, 1});
    check_reverse_and_sum<3>(q, {2, 1, 2}, {4, 16, 16});
  }
}

NDL_TEST_P(barrier_test, two_dimensional_groups) {
  auto q = default_queue();
  check_reverse_and_sum<2>(q, {3, 2, 1}, {1, 1, 1});
  check_reverse_and_sum<2>(q, {2, 3, 1}, {7, 1, 1});
  check_reverse_and_sum<2>(q, {2, 3, 1}, {1, 7, 1});
  check_reverse_and_sum<2>(q, {4, 3, 1}, {8, 8, 1});
  check_reverse_and_sum<2>(q, {2, 2, 1}, {5, 13, 1});
}

NDL_TEST_P(barrier_test, three_dimensional_groups) {
  auto q = default_queue();
  check_reverse_and_sum<3>(q, {2, 2, 2}, {1, 1, 1});
  check_reverse_and_sum<3>(q, {1, 3, 1}, {1, 7, 1});
  check_reverse_and_sum<3>(q, {2, 3, 2}, {4, 4, 4});
  check_reverse_and_sum<3>(q, {3, 1, 2}, {3, 5, 2});
}

// --- barriers in loops and helper functions ------------------------------------------------------

// `rounds` rotations of each group's values through local memory, two barriers per round:
// afterwards work-item l holds in[(l + rounds) % n] + rounds.
NDL_KERNEL_FN int rotate_in_group(const ndl::group<1>& g, ndl::local_accessor<int, 1> tile,
                                  size_t l, size_t n, int v, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    tile[l] = v;
    ndl::group_barrier(g);
    v = tile[(l + 1) % n] + 1;
    ndl::group_barrier(g);
  }
  return v;
}

NDL_TEST_P(barrier_test, barrier_inside_a_loop) {
  auto q = default_queue();
  constexpr size_t n = 48, groups = 6, total = n * groups;
  constexpr int rounds = 20;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
        int v = a[it.get_global_id(0)];
        for (int r = 0; r < rounds; ++r) {
          tile[l] = v;
          ndl::group_barrier(it.get_group());
          v = tile[(l + 1) % nl] + 1;
          ndl::group_barrier(it.get_group());
        }
        b[it.get_global_id(0)] = v;
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l)
      ASSERT_EQ(host[g * n + l], values[g * n + (l + rounds) % n] + rounds) << g << " " << l;
}

// The barriers sit in an NDL_KERNEL_FN helper that the kernel calls twice.
NDL_TEST_P(barrier_test, barrier_inside_a_helper_function) {
  auto q = default_queue();
  constexpr size_t n = 32, groups = 4, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const size_t l = it.get_local_id(0), nl = it.get_local_range(0);
        int v = rotate_in_group(it.get_group(), tile, l, nl, a[it.get_global_id(0)], 3);
        v = rotate_in_group(it.get_group(), tile, l, nl, v, 2);
        b[it.get_global_id(0)] = v;
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l)
      ASSERT_EQ(host[g * n + l], values[g * n + (l + 5) % n] + 5) << g << " " << l;
}

// numba-dpex#906: barrier, conditional write to local memory, barrier, conditional write to
// global memory, with work-groups of 32 (an optimiser once moved the barriers into branches).
NDL_TEST_P(barrier_test, numba_dpex_906_conditional_writes_between_barriers) {
  auto q = default_queue();
  constexpr size_t n = 32, groups = 8, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::full({total}, -7, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const size_t l = it.get_local_id(0), gi = it.get_global_id(0);
        tile[l] = a[gi];
        ndl::group_barrier(it.get_group());
        if (l % 2 == 0) tile[l] = tile[l] + tile[l + 1];
        ndl::group_barrier(it.get_group());
        if (l < 16) b[gi] = tile[2 * l];
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l) {
      const size_t i = g * n + l;
      const int want = l < 16 ? values[g * n + 2 * l] + values[g * n + 2 * l + 1] : -7;
      ASSERT_EQ(host[i], want) << "group " << g << " item " << l;
    }
}

// The number of rounds depends on the group id: uniform within each group, so legal.
NDL_TEST_P(barrier_test, trip_count_depending_on_the_group_id) {
  auto q = default_queue();
  constexpr size_t n = 16, groups = 24, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const int rounds = static_cast<int>(it.get_group_id(0) % 5) * 3;  // 0 to 12
        b[it.get_global_id(0)] =
            rotate_in_group(it.get_group(), tile, it.get_local_id(0), it.get_local_range(0),
                            a[it.get_global_id(0)], rounds);
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g) {
    const int rounds = static_cast<int>(g % 5) * 3;
    for (size_t l = 0; l < n; ++l)
      ASSERT_EQ(host[g * n + l], values[g * n + (l + static_cast<size_t>(rounds)) % n] + rounds)
          << g << " " << l;
  }
}

// Some groups return before any barrier, some after the first one, the rest run through:
// each group is uniform, so the launch is legal.
NDL_TEST_P(barrier_test, whole_groups_returning_early) {
  auto q = default_queue();
  constexpr size_t n = 32, groups = 30, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const size_t g = it.get_group_id(0), l = it.get_local_id(0), gi = it.get_global_id(0);
        if (g % 3 == 0) {
          b[gi] = -1;
          return;  // before any barrier
        }
        tile[l] = a[gi];
        ndl::group_barrier(it.get_group());
        if (g % 3 == 1) {
          b[gi] = tile[n - 1 - l];
          return;  // after the first barrier
        }
        const int v = tile[n - 1 - l];
        ndl::group_barrier(it.get_group());  // everyone has read before anyone writes
        b[gi] = rotate_in_group(it.get_group(), tile, l, n, v, 4);
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l) {
      // After the reversal work-item l holds in[n - 1 - l]; four rotations move that by 4.
      const int want = g % 3 == 0   ? -1
                       : g % 3 == 1 ? values[g * n + n - 1 - l]
                                    : values[g * n + n - 1 - (l + 4) % n] + 4;
      ASSERT_EQ(host[g * n + l], want) << "group " << g << " item " << l;
    }
}

// Many groups spread over every worker: fiber stacks and group states are pooled and reused.
NDL_TEST_P(barrier_test, many_groups) {
  auto q = default_queue();
  constexpr size_t n = 64, groups = 4096 / fewer_under_tsan;
  check_reverse_and_sum<1>(q, {groups, 1, 1}, {n, 1, 1});
}

// Mixed launches: barrier-free groups (plain loops) and groups with barriers in one launch,
// alternating, so a worker switches between both modes.
NDL_TEST_P(barrier_test, groups_with_and_without_barriers_in_one_launch) {
  auto q = default_queue();
  constexpr size_t n = 16, groups = 512, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        const size_t g = it.get_group_id(0), gi = it.get_global_id(0);
        if (g % 2 == 0)
          b[gi] = a[gi] * 2;
        else
          b[gi] = rotate_in_group(it.get_group(), tile, it.get_local_id(0), n, a[gi], 1);
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l)
      ASSERT_EQ(host[g * n + l],
                g % 2 == 0 ? values[g * n + l] * 2 : values[g * n + (l + 1) % n] + 1)
          << g << " " << l;
}

// Two host threads launch barrier kernels on their own queues at the same time.
NDL_TEST_P(barrier_test, concurrent_launches_from_two_threads) {
  constexpr size_t n = 64, groups = 128 / fewer_under_tsan, total = n * groups;
  constexpr int launches = 20;
  const auto values = pattern(total);
  std::vector<int> sums(groups, 0);
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l)
      sums[g] += values[g * n + l];
  std::array<int, 2> failures{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      const ndl::queue q(dev());
      auto in = ndl::array<int>::from_host(values, q);
      for (int i = 0; i < launches; ++i) {
        auto rev = ndl::array<int>::zeros({total}, q);
        auto s = ndl::array<int>::zeros({groups}, q);
        auto ids = ndl::array<int>::zeros({total}, q);
        if (i % 2 == 0)
          ndl::call_kernel(reverse_and_sum_kernel<1>{}, ndl::nd_range<1>{{total}, {n}}, in, rev, s,
                           ids, ndl::local_accessor<int, 1>{{n}});
        else
          ndl::call_kernel_async(reverse_and_sum_kernel<1>{}, ndl::nd_range<1>{{total}, {n}}, {},
                                 in, rev, s, ids, ndl::local_accessor<int, 1>{{n}})
              .device_event.wait();
        if (s.to_host() != sums) ++failures[static_cast<size_t>(t)];
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures[0], 0);
  EXPECT_EQ(failures[1], 0);
}

// --- work-items that disagree at a barrier -------------------------------------------------------

constexpr size_t diverging_group = 1;

// Two distinct barriers at known lines, for the messages that name a barrier's location.
NDL_KERNEL_FN void barrier_a(const ndl::group<1>& g) {
  ndl::group_barrier(g);
}
constexpr int barrier_a_line = __LINE__ - 2;
NDL_KERNEL_FN void barrier_b(const ndl::group<1>& g) {
  ndl::group_barrier(g);
}

// Case 1: work-item 0 reaches a barrier; 8-15 of group (1) return without it.
NDL_TEST_P(barrier_test, divergence_some_return_while_others_wait) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  auto out = ndl::array<int>::zeros({64}, q);
  const auto kernel =
      ndl::named("returns_early", [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        if (it.get_group_id(0) == diverging_group && it.get_local_id(0) >= 8) return;
        o[it.get_global_id(0)] = 1;
        barrier_a(it.get_group());
        o[it.get_global_id(0)] = 2;
      });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{64}, {16}}, {}, out)),
                   ndl::errc::kernel_failure, "kernel 'returns_early'",
                   "work-group (1) diverged at a barrier",
                   "work-items 8-15 returned while work-items 0-7 wait at the group_barrier at " +
                       at_line(barrier_a_line));
  EXPECT_NO_THROW(q.wait()) << "the failure was reported again";
}

// Case 2: the work-items of group (1) wait at two different barriers.
NDL_TEST_P(barrier_test, divergence_at_different_barriers) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  auto out = ndl::array<int>::zeros({64}, q);
  const auto kernel =
      ndl::named("two_barriers", [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = 1;
        if (it.get_group_id(0) != diverging_group || it.get_local_id(0) < 8)
          barrier_a(it.get_group());
        else
          barrier_b(it.get_group());
        o[it.get_global_id(0)] = 2;
      });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{64}, {16}}, {}, out)),
                   ndl::errc::kernel_failure, "kernel 'two_barriers'",
                   "work-group (1) diverged at a barrier",
                   "work-items 0-7 wait at the group_barrier at " + at_line(barrier_a_line),
                   "while work-items 8-15 wait at another one");
  EXPECT_NO_THROW(q.wait());
}

// Case 3: work-items 0-7 of group (1) return before work-item 8 reaches the barrier (the
// group is still a plain loop when that happens).
NDL_TEST_P(barrier_test, divergence_detected_while_the_group_is_a_loop) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  auto out = ndl::array<int>::zeros({64}, q);
  const auto kernel =
      ndl::named("late_barrier", [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        o[it.get_global_id(0)] = 1;
        if (it.get_group_id(0) == diverging_group && it.get_local_id(0) < 8) return;
        barrier_a(it.get_group());
        o[it.get_global_id(0)] = 2;
      });
  NDL_EXPECT_ERROR(
      bounded(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{64}, {16}}, {}, out)),
      ndl::errc::kernel_failure, "kernel 'late_barrier'", "work-group (1) diverged at a barrier",
      "work-items 0-7 returned without reaching the group_barrier at " + at_line(barrier_a_line),
      "that work-item 8 reached");
  EXPECT_NO_THROW(q.wait());
}

// Only work-item 0 returns early: the message names it as "work-items 0", like the other
// lists ("0-0" would be a malformed range).
NDL_TEST_P(barrier_test, divergence_of_work_item_zero_alone) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  const auto kernel = ndl::named("zero_leaves", [] NDL_KERNEL_FN(ndl::nd_item<1> it) {
    if (it.get_local_id(0) == 0) return;
    ndl::group_barrier(it.get_group());
  });
  const std::string msg = ndl_test::error_message([&] {
    bounded(ndl::call_kernel_async(q, kernel, ndl::nd_range<1>{{8}, {8}}, {}));
  });
  EXPECT_NE(msg.find("work-group (0) diverged at a barrier"), std::string::npos) << msg;
  EXPECT_NE(msg.find("that work-item 1 reached"), std::string::npos) << msg;
  EXPECT_NE(msg.find("work-items 0 returned without reaching"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("0-0"), std::string::npos) << msg;
}

// The lists of work-items are ranges and singletons: every fourth work-item returns.
NDL_TEST_P(barrier_test, divergence_lists_scattered_work_items) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  const auto kernel = ndl::named("scattered", [] NDL_KERNEL_FN(ndl::nd_item<1> it) {
    if (it.get_local_id(0) % 4 == 3) return;
    ndl::group_barrier(it.get_group());
  });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, kernel, ndl::nd_range<1>{{16}, {16}}, {})),
                   ndl::errc::kernel_failure, "work-group (0)",
                   "work-items 3, 7, 11, 15 returned while work-items 0-2, 4-6, 8-10, 12-14 wait");
}

// Work-items leave a barrier loop after different numbers of rounds: the divergence shows at
// the third round.
NDL_TEST_P(barrier_test, divergence_inside_a_loop) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  const auto kernel = ndl::named("uneven_loop", [] NDL_KERNEL_FN(ndl::nd_item<1> it) {
    const int rounds = it.get_local_id(0) < 4 ? 2 : 3;
    for (int r = 0; r < rounds; ++r)
      ndl::group_barrier(it.get_group());
  });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, kernel, ndl::nd_range<1>{{32}, {16}}, {})),
                   ndl::errc::kernel_failure, "work-group (0)",
                   "work-items 0-3 returned while work-items 4-15 wait");
}

// The partial-group bug class (AdaptiveCpp#809, traccc#137): `if (i >= n) return;` before a
// barrier in the last, partly filled group must fail the launch, not hang.
NDL_TEST_P(barrier_test, early_return_in_a_partial_last_group_is_an_error) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  constexpr size_t n = 100;
  auto a = ndl::array<int>::full({n}, 1, q);
  const auto kernel = ndl::named(
      "bounds_checked",
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> v, ndl::local_accessor<int, 1> t) {
        const size_t i = it.get_global_id(0);
        if (i >= v.shape()[0]) return;
        t[it.get_local_id(0)] = v[i];
        ndl::group_barrier(it.get_group());
        v[i] = t[0];
      });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(kernel, ndl::nd_range<1>{{128}, {32}}, {}, a,
                                                  ndl::local_accessor<int, 1>{{32}})),
                   ndl::errc::kernel_failure, "work-group (3) diverged",
                   "work-items 4-31 returned while work-items 0-3 wait");
}

// Group ids of 2-D and 3-D launches appear with every coordinate.
NDL_TEST_P(barrier_test, divergence_names_multi_dimensional_groups) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = default_queue();
  const auto k2 = ndl::named("diverges_2d", [] NDL_KERNEL_FN(ndl::nd_item<2> it) {
    if (it.get_group_id(0) == 1 && it.get_group_id(1) == 2 && it.get_local_linear_id() >= 6) return;
    ndl::group_barrier(it.get_group());
  });
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, k2, ndl::nd_range<2>{{8, 12}, {2, 4}}, {})),
                   ndl::errc::kernel_failure, "work-group (1, 2) diverged",
                   "work-items 6-7 returned while work-items 0-5 wait");
  const auto k3 = ndl::named("diverges_3d", [] NDL_KERNEL_FN(ndl::nd_item<3> it) {
    if (it.get_group_id(0) == 0 && it.get_group_id(1) == 1 && it.get_group_id(2) == 1 &&
        it.get_local_id(2) == 1)
      return;
    ndl::group_barrier(it.get_group());
  });
  NDL_EXPECT_ERROR(
      bounded(ndl::call_kernel_async(q, k3, ndl::nd_range<3>{{2, 4, 4}, {2, 2, 2}}, {})),
      ndl::errc::kernel_failure, "work-group (0, 1, 1) diverged",
      "work-items 1, 3, 5, 7 returned while work-items 0, 2, 4, 6 wait");
}

// A correct barrier launch after each kind of failure: the queue, the device and the pooled
// fiber states keep working.
void expect_barrier_launches_work(const ndl::queue& q) {
  constexpr size_t n = 32, groups = 64, total = n * groups;
  const auto values = pattern(total);
  auto in = ndl::array<int>::from_host(values, q);
  auto out = ndl::array<int>::zeros({total}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      q,
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<const int, 1> a, ndl::view<int, 1> b,
                       ndl::local_accessor<int, 1> tile) {
        b[it.get_global_id(0)] = rotate_in_group(it.get_group(), tile, it.get_local_id(0),
                                                 it.get_local_range(0), a[it.get_global_id(0)], 3);
      },
      ndl::nd_range<1>{{total}, {n}}, {}, in, out, ndl::local_accessor<int, 1>{{n}})));
  const auto host = out.to_host();
  for (size_t g = 0; g < groups; ++g)
    for (size_t l = 0; l < n; ++l)
      ASSERT_EQ(host[g * n + l], values[g * n + (l + 3) % n] + 3) << g << " " << l;
}

NDL_TEST_P(barrier_test, queue_keeps_working_after_divergence) {
  NDL_SKIP_UNLESS_DIVERGENCE_CHECKED();
  auto q = make_queue();
  const auto diverge = ndl::named("diverges_once", [] NDL_KERNEL_FN(ndl::nd_item<1> it) {
    if (it.get_group_id(0) % 2 == 1 && it.get_local_id(0) == 3) return;
    ndl::group_barrier(it.get_group());
    ndl::group_barrier(it.get_group());
  });
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    // Many failing groups at once, synchronously and asynchronously.
    NDL_EXPECT_ERROR(ndl::call_kernel(q, diverge, ndl::nd_range<1>{{64 * 256}, {64}}),
                     ndl::errc::kernel_failure, "diverged at a barrier");
    NDL_EXPECT_ERROR(
        bounded(ndl::call_kernel_async(q, diverge, ndl::nd_range<1>{{64 * 256}, {64}}, {})),
        ndl::errc::kernel_failure, "diverged at a barrier");
    expect_barrier_launches_work(q);
  }
  EXPECT_NO_THROW(q.wait());
}

// --- exceptions while other work-items wait at a barrier -----------------------------------------

struct throws_after_barrier {
  size_t thrower;  // local id of the work-item of group 1 that throws
  void operator()(ndl::nd_item<1> it, ndl::view<int, 1> o, ndl::local_accessor<int, 1> t) const {
    const size_t l = it.get_local_id(0);
    t[l] = static_cast<int>(l);
    ndl::group_barrier(it.get_group());
    if (it.get_group_id(0) == 1 && l == thrower)
      throw std::runtime_error("work-item " + std::to_string(l) + " gives up");
    ndl::group_barrier(it.get_group());
    o[it.get_global_id(0)] = t[(l + 1) % it.get_local_range(0)];
  }
};

struct throws_before_barrier {
  void operator()(ndl::nd_item<1> it) const {
    if (it.get_group_id(0) == 1 && it.get_local_id(0) == 5) throw std::logic_error("five is out");
    ndl::group_barrier(it.get_group());
  }
};

NDL_TEST_P(barrier_test, exception_while_others_wait_at_a_barrier) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  auto out = ndl::array<int>::zeros({16 * 8}, q);
  for (size_t thrower : {size_t{5}, size_t{0}, size_t{15}}) {
    SCOPED_TRACE(thrower);
    const std::string id = "(" + std::to_string(16 + thrower) + ")";
    const std::string what = "work-item " + std::to_string(thrower) + " gives up";
    NDL_EXPECT_ERROR(
        ndl::call_kernel(q, ndl::cpu_only(throws_after_barrier{thrower}),
                         ndl::nd_range<1>{{16 * 8}, {16}}, out, ndl::local_accessor<int, 1>{{16}}),
        ndl::errc::kernel_failure, "throws_after_barrier", id, what);
    NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, ndl::cpu_only(throws_after_barrier{thrower}),
                                                    ndl::nd_range<1>{{16 * 8}, {16}}, {}, out,
                                                    ndl::local_accessor<int, 1>{{16}})),
                     ndl::errc::kernel_failure, "throws_after_barrier", id, what);
    expect_barrier_launches_work(q);
  }
  // Work-item 5 throws before the first barrier, while 0-4 already wait at it.
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, ndl::cpu_only(throws_before_barrier{}),
                                                  ndl::nd_range<1>{{64}, {16}}, {})),
                   ndl::errc::kernel_failure, "throws_before_barrier", "(21)", "five is out");
  expect_barrier_launches_work(q);
  EXPECT_NO_THROW(q.wait());
}

// A 2-D group: the failing work-item is named by its global id.
NDL_TEST_P(barrier_test, exception_in_a_two_dimensional_group_names_the_global_id) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  const auto kernel = ndl::named("throws_2d", ndl::cpu_only([](ndl::nd_item<2> it) {
                                   ndl::group_barrier(it.get_group());
                                   if (it.get_global_id(0) == 5 && it.get_global_id(1) == 6)
                                     throw std::runtime_error("cell");
                                   ndl::group_barrier(it.get_group());
                                 }));
  NDL_EXPECT_ERROR(bounded(ndl::call_kernel_async(q, kernel, ndl::nd_range<2>{{8, 8}, {4, 4}}, {})),
                   ndl::errc::kernel_failure, "kernel 'throws_2d'", "(5, 6)", "cell");
  expect_barrier_launches_work(q);
}

// A kernel that swallows every exception around a barrier (`catch (...) {}`) catches the
// engine's unwinding of its group when another work-item throws, and then reaches another
// barrier. The launch must still fail with the work-item's error, and the process survive
// (run in a death-test child, so that a crash is reported instead of ending the run).
int swallowing_kernel_scenario(const ndl::device& d) {
  const ndl::queue q(d);
  auto ev = ndl::call_kernel_async(q, ndl::cpu_only([](ndl::nd_item<1> it) {
                                     try {
                                       ndl::group_barrier(it.get_group());
                                       if (it.get_local_id(0) == 2)
                                         throw std::runtime_error("work-item two failed");
                                       ndl::group_barrier(it.get_group());
                                     } catch (const std::runtime_error&) {
                                       throw;
                                     } catch (...) {
                                       // A kernel's blanket handler: swallows whatever else comes.
                                     }
                                     ndl::group_barrier(it.get_group());
                                   }),
                                   ndl::nd_range<1>{{16}, {8}}, {});
  if (!ndl_test::spin_until([&] { return ev.device_event.is_complete(); })) {
    std::fprintf(stderr, "the launch hangs\n");
    return 3;
  }
  try {
    ev.device_event.wait();
    std::fprintf(stderr, "the launch did not fail\n");
    return 4;
  } catch (const ndl::error& e) {
    const std::string what = e.what();
    if (e.code() != ndl::errc::kernel_failure ||
        what.find("work-item two failed") == std::string::npos) {
      std::fprintf(stderr, "unexpected error: %s\n", what.c_str());
      return 5;
    }
  }
  auto out = ndl::array<int>::zeros({64}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
        ndl::group_barrier(it.get_group());
        o[it.get_global_id(0)] = 1;
      },
      ndl::nd_range<1>{{64}, {16}}, out);
  if (out.to_host() != std::vector<int>(64, 1)) {
    std::fprintf(stderr, "the next launch went wrong\n");
    return 6;
  }
  return 0;
}

NDL_TEST_P(barrier_test, kernel_swallowing_the_unwind_of_its_group_does_not_crash) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const ndl::device d = dev();
  EXPECT_EXIT(
      {
        const int code = swallowing_kernel_scenario(d);
        std::fflush(stderr);
        std::_Exit(code);
      },
      ::testing::ExitedWithCode(0), "");
}

// A work-item of a group with barriers launches and waits for another launch with barriers.
// The host does not help, so on a device with few threads the inner launch runs on the
// waiting work-item's fiber (nested work-groups on one thread); local memory of the outer
// group must survive it.
NDL_TEST_P(barrier_test, work_item_waiting_for_a_launch_with_barriers) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto outer_q = make_queue(/*in_order=*/false);
  auto inner_q = make_queue(/*in_order=*/false);
  constexpr size_t inner_n = 64 * (64 / fewer_under_tsan);
  for (int round = 0; round < 5; ++round) {
    auto out = ndl::array<int>::zeros({inner_n}, inner_q);
    auto clobbered = ndl::array<int>::zeros({1}, inner_q);
    ASSERT_TRUE(bounded(ndl::call_kernel_async(
        outer_q, ndl::cpu_only([out, clobbered](ndl::nd_item<1> it, ndl::local_accessor<int, 1> t) {
          const size_t l = it.get_local_id(0);
          t[l] = static_cast<int>(l) + 1000;
          ndl::group_barrier(it.get_group());
          if (l == 3)
            ndl::call_kernel(
                [] NDL_KERNEL_FN(ndl::nd_item<1> jt, ndl::view<int, 1> o,
                                 ndl::local_accessor<int, 1> u) {
                  u[jt.get_local_id(0)] = static_cast<int>(jt.get_global_id(0));
                  ndl::group_barrier(jt.get_group());
                  o[jt.get_global_id(0)] = u[(jt.get_local_id(0) + 1) % jt.get_local_range(0)];
                },
                ndl::nd_range<1>{{inner_n}, {64}}, out, ndl::local_accessor<int, 1>{{64}});
          ndl::group_barrier(it.get_group());
          if (t[l] != static_cast<int>(l) + 1000)
            ndl::atomic_ref<int>(clobbered.get_view()[0]).fetch_add(1);
        }),
        ndl::nd_range<1>{{64}, {16}}, {}, ndl::local_accessor<int, 1>{{16}})));
    const auto host = out.to_host();
    for (size_t i = 0; i < inner_n; ++i)
      ASSERT_EQ(host[i], static_cast<int>(i / 64 * 64 + (i + 1) % 64)) << i;
    EXPECT_EQ(clobbered.to_host()[0], 0) << "the outer group's local memory was overwritten";
  }
}

// An nd-range launch with barriers and local memory before main() (from a static
// constructor, as this child-process probe runs): the work-group engine must not depend on
// the order in which static objects of different files are initialised.
NDL_TEST_PROBE(wg_barrier_launch_before_main) {
  auto out = ndl::array<int>::zeros({64}, ndl::queue(ndl::device("cpu")));
  ndl::call_kernel(
      ndl::cpu_only([](ndl::nd_item<1> it, ndl::view<int, 1> o, ndl::local_accessor<int, 1> t) {
        t[it.get_local_id(0)] = static_cast<int>(it.get_global_id(0));
        ndl::group_barrier(it.get_group());
        o[it.get_global_id(0)] = t[(it.get_local_id(0) + 1) % 16];
      }),
      ndl::nd_range<1>{{64}, {16}}, out, ndl::local_accessor<int, 1>{{16}});
  const auto host = out.to_host();
  for (size_t i = 0; i < 64; ++i)
    if (host[i] != static_cast<int>(i / 16 * 16 + (i + 1) % 16)) {
      std::printf("wrong result at %zu\n", i);
      return 1;
    }
  std::printf("barrier launch before main: ok\n");
  return 0;
}

NDL_TEST_P(barrier_test, barrier_launch_before_main) {
  NDL_SKIP_UNLESS(dev().is_cpu(), "the probe launches on the CPU device");
  const auto r = ndl_test::run_probe("wg_barrier_launch_before_main", {});
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.signal, 0) << "the child crashed: " << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("barrier launch before main: ok"), std::string::npos) << r.output;
}

// group_barrier outside the work-items of an nd-range launch is an error, not a crash.
NDL_TEST_P(barrier_test, barrier_outside_an_nd_range_launch) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  const ndl::group<1> g{};
  NDL_EXPECT_ERROR(ndl::group_barrier(g), ndl::errc::kernel_failure, "outside");
  auto q = make_queue();
  NDL_EXPECT_ERROR(ndl::call_kernel(q, ndl::cpu_only([g](ndl::item<1>) { ndl::group_barrier(g); }),
                                    ndl::range{4}),
                   ndl::errc::kernel_failure, "outside");
  expect_barrier_launches_work(q);
}

// Groups above the device's maximum are refused before anything runs.
NDL_TEST_P(barrier_test, work_group_above_the_maximum_is_refused) {
  auto q = default_queue();
  const size_t too_big = dev().max_work_group_size() * 2;
  auto out = ndl::array<int>::zeros({too_big}, q);
  NDL_EXPECT_ERROR(ndl::call_kernel(
                       [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<int, 1> o) {
                         o[it.get_global_id(0)] = 1;
                         ndl::group_barrier(it.get_group());
                       },
                       ndl::nd_range<1>{{too_big}, {too_big}}, out),
                   ndl::errc::invalid_range, std::to_string(too_big),
                   std::to_string(dev().max_work_group_size()));
  EXPECT_EQ(out.to_host(), std::vector<int>(too_big, 0));
}

}  // namespace
