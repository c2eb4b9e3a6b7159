// Atomics and fences (include/ndl/kernel/atomic.hpp): numba-dpex's test_atomic_fetch_phi
// (every operation on every type against a host replay, at two reference indices, and the
// values returned), test_atomic_load_store_cmp_exchg, test_atomic_ref (local memory: 160) and
// test_atomic_fence (the flag hand-off); atomicity under contention (return values, a
// histogram of 2^20 items, compare-exchange loops), float64 atomics (numba-dpex#1303),
// min/max of negative floats and of unsigned values above the signed range, 64-bit widths,
// every memory order, scope and address space.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <ndl/ndl.hpp>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

using ndl_test::bounded;
using ndl_test::fewer_under_tsan;

class atomic_test : public ndl_test::device_test {};

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::uint32_t>) return "uint32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64";
  if constexpr (std::is_same_v<T, long long>) return "long long";
  if constexpr (std::is_same_v<T, unsigned long long>) return "unsigned long long";
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, double>) return "float64";
  return "?";
}

// Calls f.template operator()<T>() for every type atomic_ref supports.
template <class F>
void for_each_atomic_type(F&& f) {
  f.template operator()<std::int32_t>();
  f.template operator()<std::uint32_t>();
  f.template operator()<std::int64_t>();
  f.template operator()<std::uint64_t>();
  f.template operator()<float>();
  f.template operator()<double>();
}

template <class T>
std::vector<T> arange(size_t n) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<T>(i);
  return v;
}

// --- the read-modify-write operations ------------------------------------------------------------

enum class op { add, sub, min, max, bit_and, bit_or, bit_xor };

constexpr op all_ops[] = {op::add, op::sub, op::min, op::max, op::bit_and, op::bit_or, op::bit_xor};

const char* op_name(op o) {
  switch (o) {
    case op::add:
      return "fetch_add";
    case op::sub:
      return "fetch_sub";
    case op::min:
      return "fetch_min";
    case op::max:
      return "fetch_max";
    case op::bit_and:
      return "fetch_and";
    case op::bit_or:
      return "fetch_or";
    case op::bit_xor:
      return "fetch_xor";
  }
  return "?";
}

template <class T>
constexpr bool is_bitwise_ok = std::is_integral_v<T>;

bool is_bitwise(op o) {
  return o == op::bit_and || o == op::bit_or || o == op::bit_xor;
}

// Applies `o` through an atomic reference; returns what the operation returned.
template <class Ref, class T>
NDL_KERNEL_FN T apply_op(op o, const Ref& r, T v) {
  switch (o) {
    case op::add:
      return r.fetch_add(v);
    case op::sub:
      return r.fetch_sub(v);
    case op::min:
      return r.fetch_min(v);
    case op::max:
      return r.fetch_max(v);
    case op::bit_and:
      if constexpr (is_bitwise_ok<T>) return r.fetch_and(v);
      break;
    case op::bit_or:
      if constexpr (is_bitwise_ok<T>) return r.fetch_or(v);
      break;
    case op::bit_xor:
      if constexpr (is_bitwise_ok<T>) return r.fetch_xor(v);
      break;
  }
  return T{};
}

// The host replay: the new value after `o` with operand v on `old`.
template <class T>
T replay(op o, T old, T v) {
  switch (o) {
    case op::add:
      return static_cast<T>(old + v);
    case op::sub:
      return static_cast<T>(old - v);
    case op::min:
      return v < old ? v : old;
    case op::max:
      return v > old ? v : old;
    case op::bit_and:
      if constexpr (is_bitwise_ok<T>) return static_cast<T>(old & v);
      break;
    case op::bit_or:
      if constexpr (is_bitwise_ok<T>) return static_cast<T>(old | v);
      break;
    case op::bit_xor:
      if constexpr (is_bitwise_ok<T>) return static_cast<T>(old ^ v);
      break;
  }
  return old;
}

template <class T>
struct typed_kernel_1 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const T, 1> av, ndl::view<T, 1> bv,
                                op which, size_t r) const {
    apply_op(which, ndl::atomic_ref<T>(bv[r]), av[it.get_id(0)]);
  }
};

// numba-dpex test_fetch_phi_fn: a = arange(10), b = ones(10); every work-item applies the
// operation with a[i] to b[ref_index]. The host replays the same operations on b[ref + 1].
NDL_TEST_P(atomic_test, numba_dpex_fetch_phi_on_every_type_against_a_host_replay) {
  auto q = default_queue();
  // The values numba-dpex's test expects for int32.
  {
    const auto a = arange<std::int32_t>(10);
    const std::int32_t expected[] = {46, -44, 0, 9, 0, 15, 0};
    for (size_t k = 0; k < 7; ++k) {
      std::int32_t b = 1;
      for (std::int32_t v : a)
        b = replay(all_ops[k], b, v);
      ASSERT_EQ(b, expected[k]) << op_name(all_ops[k]) << ": the host replay is wrong";
    }
  }
  for_each_atomic_type([&]<class T>() {
    for (op o : all_ops) {
      if (is_bitwise(o) && !is_bitwise_ok<T>) continue;
      for (size_t ref : {size_t{0}, size_t{5}}) {
        SCOPED_TRACE(std::string(type_name<T>()) + " " + op_name(o) + " ref_index " +
                     std::to_string(ref));
        const auto a_host = arange<T>(10);
        auto a = ndl::array<T>::from_host(a_host, q);
        auto b = ndl::array<T>::full({10}, T{1}, q);
        ndl::call_kernel(typed_kernel_1<T>{}, ndl::range{10}, a, b, o, ref);
        std::vector<T> want(10, T{1});
        for (T v : a_host)
          want[ref + 1] = replay(o, want[ref + 1], v);
        want[ref] = want[ref + 1];
        want[ref + 1] = T{1};
        EXPECT_EQ(b.to_host(), want);
      }
    }
  });
}

template <class T>
struct typed_kernel_2 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const T, 1> av, ndl::view<T, 1> bv,
                                ndl::view<T, 1> cv, op which) const {
    const size_t i = it.get_id(0);
    cv[i] = apply_op(which, ndl::atomic_ref<T>(bv[i]), av[i]);
  }
};

// numba-dpex test_fetch_phi_retval: c[i] = op(b[i], a[i]) returns the old value (1).
NDL_TEST_P(atomic_test, fetch_operations_return_the_old_value) {
  auto q = default_queue();
  for_each_atomic_type([&]<class T>() {
    for (op o : all_ops) {
      if (is_bitwise(o) && !is_bitwise_ok<T>) continue;
      SCOPED_TRACE(std::string(type_name<T>()) + " " + op_name(o));
      const auto a_host = arange<T>(10);
      auto a = ndl::array<T>::from_host(a_host, q);
      auto b = ndl::array<T>::full({10}, T{1}, q);
      auto c = ndl::array<T>::full({10}, T{42}, q);
      ndl::call_kernel(typed_kernel_2<T>{}, ndl::range{10}, a, b, c, o);
      EXPECT_EQ(c.to_host(), std::vector<T>(10, T{1}));
      std::vector<T> want(10);
      for (size_t i = 0; i < 10; ++i)
        want[i] = replay(o, T{1}, a_host[i]);
      EXPECT_EQ(b.to_host(), want);
    }
  });
}

template <class T>
struct typed_kernel_3 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<T, 1> c, ndl::view<T, 2> o) const {
    o(0, it.get_id(0)) = ndl::atomic_ref<T>(c[0]).fetch_add(T{1});
    o(1, it.get_id(0)) = ndl::atomic_ref<T>(c[1]).fetch_sub(T{1});
  }
};

// Under contention each fetch_add / fetch_sub returns a distinct old value: together they are
// exactly 0 .. n-1 (n .. 1 for fetch_sub). Floats stay exact below 2^24.
NDL_TEST_P(atomic_test, contended_fetch_add_and_fetch_sub_return_distinct_old_values) {
  auto q = default_queue();
  constexpr size_t n = 1 << 16;
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto counter = ndl::array<T>::zeros({2}, q);
    auto olds = ndl::array<T, 2>::zeros({2, n}, q);
    ndl::call_kernel(typed_kernel_3<T>{}, ndl::range{n}, counter, olds);
    const auto c = counter.to_host();
    EXPECT_EQ(c[0], static_cast<T>(n));
    EXPECT_EQ(c[1], static_cast<T>(T{0} - static_cast<T>(n)));
    auto host = olds.to_host();
    std::vector<T> adds(host.begin(), host.begin() + n), subs(host.begin() + n, host.end());
    std::sort(adds.begin(), adds.end());
    for (size_t i = 0; i < n; ++i)
      ASSERT_EQ(adds[i], static_cast<T>(i)) << "fetch_add returned a duplicate or lost value";
    // fetch_sub from 0: the old values are 0, -1, ..., -(n-1) (wrapping for unsigned types).
    std::vector<T> want(n);
    for (size_t i = 0; i < n; ++i)
      want[i] = static_cast<T>(T{0} - static_cast<T>(i));
    std::sort(want.begin(), want.end());
    std::sort(subs.begin(), subs.end());
    EXPECT_EQ(subs, want);
  });
}

// A histogram of 2^20 work-items into 16 bins (and all into one bin), for every type.
template <class T>
NDL_KERNEL_FN size_t bin_of(size_t i) {
  return static_cast<size_t>((i * 2654435761ull) >> 11) & 15u;
}

template <class T>
struct typed_kernel_4 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<T, 1> h) const {
    ndl::atomic_ref<T>(h[bin_of<T>(it.get_id(0))]).fetch_add(T{1});
    ndl::atomic_ref<T>(h[16]).fetch_add(T{1});  // every work-item on one element
  }
};

NDL_TEST_P(atomic_test, histogram_under_heavy_contention) {
  auto q = default_queue();
  constexpr size_t n = size_t{1} << 20, bins = 16;
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto hist = ndl::array<T>::zeros({bins + 1}, q);
    ndl::call_kernel(typed_kernel_4<T>{}, ndl::range{n}, hist);
    std::vector<T> want(bins + 1, T{0});
    for (size_t i = 0; i < n; ++i)
      want[bin_of<T>(i)] += T{1};
    want[bins] = static_cast<T>(n);
    EXPECT_EQ(hist.to_host(), want);
  });
}

template <class T>
struct typed_kernel_5 {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<T, 1> h,
                                ndl::local_accessor<T, 1> local) const {
    using local_ref = ndl::atomic_ref<T, ndl::memory_order::relaxed, ndl::memory_scope::work_group,
                                      ndl::address_space::local_space>;
    const size_t l = it.get_local_id(0);
    if (l < 16) local[l] = T{0};
    ndl::group_barrier(it.get_group());
    local_ref(local[bin_of<T>(it.get_global_id(0))]).fetch_add(T{1});
    ndl::group_barrier(it.get_group());
    if (l < 16) ndl::atomic_ref<T>(h[l]).fetch_add(local[l]);
  }
};

// The same on an nd-range launch: a local histogram per group (work-group atomics on local
// memory), flushed into the global one with device atomics.
NDL_TEST_P(atomic_test, local_histograms_flushed_to_global_memory) {
  auto q = default_queue();
  constexpr size_t n = (size_t{1} << 16) / fewer_under_tsan, group = 256, bins = 16;
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto hist = ndl::array<T>::zeros({bins}, q);
    ASSERT_TRUE(bounded(ndl::call_kernel_async(typed_kernel_5<T>{}, ndl::nd_range<1>{{n}, {group}},
                                               {}, hist, ndl::local_accessor<T, 1>{{bins}})));
    std::vector<T> want(bins, T{0});
    for (size_t i = 0; i < n; ++i)
      want[bin_of<T>(i)] += T{1};
    EXPECT_EQ(hist.to_host(), want);
  });
}

// --- min and max ---------------------------------------------------------------------------------

template <class T>
struct typed_kernel_7 {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<T, 1> x, ndl::view<T, 1> o) const {
    o[0] = ndl::atomic_ref<T>(x[0]).fetch_min(T{-3});    // -> -3
    o[1] = ndl::atomic_ref<T>(x[1]).fetch_min(T{-1});    // stays -2
    o[2] = ndl::atomic_ref<T>(x[2]).fetch_max(T{-1.5});  // -> -1.5
    o[3] = ndl::atomic_ref<T>(x[3]).fetch_max(T{-7});    // stays -2
  }
};

template <class T>
struct typed_kernel_6 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const T, 1> in,
                                ndl::view<T, 1> out) const {
    const T x = in[it.get_id(0)];
    ndl::atomic_ref<T>(out[0]).fetch_min(x);
    ndl::atomic_ref<T>(out[1]).fetch_max(x);
    ndl::atomic_ref<T>(out[2]).fetch_min(x);
    if (x < 0) ndl::atomic_ref<T>(out[3]).fetch_max(x);  // only negatives: 0 stays
    ndl::atomic_ref<T>(out[4]).fetch_max(x);
  }
};

// Values of both signs for floats; contended fetch_min/fetch_max from +-infinity and from 0.
NDL_TEST_P(atomic_test, fetch_min_and_max_of_negative_floats) {
  auto q = default_queue();
  constexpr size_t n = 20000;
  const auto run = [&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    std::vector<T> values(n);
    for (size_t i = 0; i < n; ++i)
      values[i] = static_cast<T>((static_cast<double>((i * 7919) % 20011) - 15000.0) * 0.2);
    values[n / 3] = static_cast<T>(-4321.75);  // the minimum
    values[n / 2] = static_cast<T>(1234.5);    // the maximum
    auto v = ndl::array<T>::from_host(values, q);
    const T inf = std::numeric_limits<T>::infinity();
    auto r = ndl::array<T>::from_host(std::vector<T>{inf, -inf, T{0}, T{0}, T{-5000}}, q);
    ndl::call_kernel(typed_kernel_6<T>{}, ndl::range{n}, v, r);
    const T mn = *std::min_element(values.begin(), values.end());
    const T mx = *std::max_element(values.begin(), values.end());
    ASSERT_EQ(mn, static_cast<T>(-4321.75));
    ASSERT_EQ(mx, static_cast<T>(1234.5));
    EXPECT_EQ(r.to_host(), (std::vector<T>{mn, mx, mn, T{0}, mx}));
    // Negative operands against a negative value, with return values.
    auto s = ndl::array<T>::from_host(std::vector<T>{T{-2}, T{-2}, T{-2}, T{-2}}, q);
    auto olds = ndl::array<T>::zeros({4}, q);
    ndl::call_kernel(typed_kernel_7<T>{}, ndl::range{1}, s, olds);
    EXPECT_EQ(s.to_host(), (std::vector<T>{T{-3}, T{-2}, T{-1.5}, T{-2}}));
    EXPECT_EQ(olds.to_host(), std::vector<T>(4, T{-2}));
  };
  run.template operator()<float>();
  run.template operator()<double>();
}

template <class T>
struct typed_kernel_8 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<const T, 1> in,
                                ndl::view<T, 1> out) const {
    ndl::atomic_ref<T>(out[0]).fetch_min(in[it.get_id(0)]);
    ndl::atomic_ref<T>(out[1]).fetch_max(in[it.get_id(0)]);
  }
};

// Signed integers with negative values, and unsigned values above the signed range (a min or
// max that compared them as signed would get these wrong).
NDL_TEST_P(atomic_test, fetch_min_and_max_of_integers_across_the_sign_boundary) {
  auto q = default_queue();
  constexpr size_t n = 5000;
  const auto run = [&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    std::vector<T> values(n);
    for (size_t i = 0; i < n; ++i) {
      if constexpr (std::is_signed_v<T>)
        values[i] = static_cast<T>(static_cast<std::int64_t>((i * 7919) % 10007) - 6000);
      else
        values[i] = static_cast<T>(std::numeric_limits<T>::max() / 2 + 1 + (i * 7919) % 10007);
    }
    values[17] = std::numeric_limits<T>::max();
    values[4000] = std::numeric_limits<T>::min() + 1;
    if constexpr (!std::is_signed_v<T>) values[33] = 5;  // one value below the signed range
    auto v = ndl::array<T>::from_host(values, q);
    auto r = ndl::array<T>::from_host(
        std::vector<T>{std::numeric_limits<T>::max(), std::numeric_limits<T>::min()}, q);
    ndl::call_kernel(typed_kernel_8<T>{}, ndl::range{n}, v, r);
    EXPECT_EQ(r.to_host(), (std::vector<T>{*std::min_element(values.begin(), values.end()),
                                           *std::max_element(values.begin(), values.end())}));
  };
  run.template operator()<std::int32_t>();
  run.template operator()<std::uint32_t>();
  run.template operator()<std::int64_t>();
  run.template operator()<std::uint64_t>();
}

// --- 64-bit widths -------------------------------------------------------------------------------

template <class T>
struct typed_kernel_9 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<T, 1> v) const {
    const size_t i = it.get_id(0);  // 0 .. 63
    ndl::atomic_ref<T>(v[0]).fetch_add(static_cast<T>(T{1} << 40));
    ndl::atomic_ref<T>(v[1]).fetch_or(static_cast<T>(T{1} << i));
    ndl::atomic_ref<T>(v[2]).fetch_and(static_cast<T>(~(T{1} << i)) | (i % 2 ? T{0} : T{1}));
    ndl::atomic_ref<T>(v[3]).fetch_xor(static_cast<T>(T{3} << (i % 62)));
    ndl::atomic_ref<T>(v[4]).fetch_sub(static_cast<T>(T{1} << 33));
  }
};

// Operands and results above 2^32 on the 64-bit types; bitwise operations on every bit.
NDL_TEST_P(atomic_test, sixty_four_bit_operations_use_all_bits) {
  auto q = default_queue();
  const auto run = [&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto x = ndl::array<T>::from_host(
        std::vector<T>{T{0}, T{0}, static_cast<T>(~T{0}), T{0}, static_cast<T>(T{1} << 62)}, q);
    ndl::call_kernel(typed_kernel_9<T>{}, ndl::range{64}, x);
    T xor_want = 0;
    for (size_t i = 0; i < 64; ++i)
      xor_want = static_cast<T>(xor_want ^ static_cast<T>(T{3} << (i % 62)));
    EXPECT_EQ(x.to_host(),
              (std::vector<T>{static_cast<T>(T{64} << 40), static_cast<T>(~T{0}),
                              // Only bit 0 survives: every other bit is cleared by its item.
                              T{1}, xor_want,
                              static_cast<T>((T{1} << 62) - static_cast<T>(T{64} << 33))}));
  };
  run.template operator()<std::uint64_t>();
  run.template operator()<std::int64_t>();
  run.template operator()<unsigned long long>();
  run.template operator()<long long>();
}

// --- load, store, exchange, compare_exchange -----------------------------------------------------

template <class T>
struct typed_kernel_11 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<T, 1> av, ndl::view<T, 1> bv) const {
    const size_t i = it.get_id(0);
    bv[i] = ndl::atomic_ref<T>(av[i]).exchange(bv[i]);
  }
};

template <class T>
struct typed_kernel_10 {
  NDL_KERNEL_FN void operator()(ndl::item<1> it, ndl::view<T, 1> av, ndl::view<T, 1> bv) const {
    const size_t i = it.get_id(0);
    av[i] = ndl::atomic_ref<T>(bv[i]).load();
    ndl::atomic_ref<T>(av[i + 10]).store(bv[i]);
  }
};

// numba-dpex test_load_store_fn and test_exchange_fn.
NDL_TEST_P(atomic_test, numba_dpex_load_store_and_exchange) {
  auto q = default_queue();
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto a = ndl::array<T>::zeros({20}, q);
    auto b = ndl::array<T>::from_host(arange<T>(10), q);
    ndl::call_kernel(typed_kernel_10<T>{}, ndl::range{10}, a, b);
    std::vector<T> want = arange<T>(10);
    want.insert(want.end(), want.begin(), want.end());
    EXPECT_EQ(a.to_host(), want);
    // exchange: b[i] = exchange(a[i], b[i]) with a zeroed.
    auto x = ndl::array<T>::zeros({10}, q);
    ndl::call_kernel(typed_kernel_11<T>{}, ndl::range{10}, x, b);
    EXPECT_EQ(x.to_host(), arange<T>(10));
    EXPECT_EQ(b.to_host(), std::vector<T>(10, T{0}));
  });
}

template <class T>
struct typed_kernel_12 {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<T, 1> v) const {
    v[0] = ndl::atomic_ref<T>(v[1]).compare_exchange(v[2], v[3]) ? T{1} : T{0};
  }
};

// numba-dpex test_compare_exchange_fns: b = arange(4);
// b[0] = compare_exchange(ref b[1], expected b[2], desired b[3]).
NDL_TEST_P(atomic_test, numba_dpex_compare_exchange) {
  auto q = default_queue();
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto b = ndl::array<T>::from_host(arange<T>(4), q);
    const auto kernel = typed_kernel_12<T>{};
    // 1 != 2: fails, writes the value it saw (1) into the expected slot b[2].
    ndl::call_kernel(kernel, ndl::range{1}, b);
    EXPECT_EQ(b.to_host(), (std::vector<T>{T{0}, T{1}, T{1}, T{3}}));
    // 1 == 1: succeeds, b[1] = 3; expected keeps its value.
    ndl::call_kernel(kernel, ndl::range{1}, b);
    EXPECT_EQ(b.to_host(), (std::vector<T>{T{1}, T{3}, T{1}, T{3}}));
  });
}

template <class T>
struct typed_kernel_13 {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<T, 1> v, ndl::view<T, 1> o) const {
    const ndl::atomic_ref<T> r(v[0]);
    T expected = 3;
    o[0] = r.compare_exchange(expected, T{7}) ? T{1} : T{0};  // fails: 5 != 3
    o[1] = expected;                                          // 5, the value seen
    o[2] = r.load();                                          // unchanged: 5
    o[3] = r.compare_exchange(expected, T{7}) ? T{1} : T{0};  // succeeds
    o[4] = expected;                                          // still 5
    o[5] = r.load();                                          // 7
  }
};

// Both outcomes with the expected value in a private variable, and the return value.
NDL_TEST_P(atomic_test, compare_exchange_reports_the_observed_value) {
  auto q = default_queue();
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto x = ndl::array<T>::from_host(std::vector<T>{T{5}}, q);
    auto out = ndl::array<T>::full({6}, T{99}, q);
    ndl::call_kernel(typed_kernel_13<T>{}, ndl::range{1}, x, out);
    EXPECT_EQ(out.to_host(), (std::vector<T>{T{0}, T{5}, T{5}, T{1}, T{5}, T{7}}));
    EXPECT_EQ(x.to_host(), std::vector<T>{T{7}});
  });
}

template <class T>
struct typed_kernel_14 {
  NDL_KERNEL_FN void operator()(ndl::item<1>, ndl::view<T, 1> v,
                                ndl::view<std::uint64_t, 1> tries) const {
    const ndl::atomic_ref<T, ndl::memory_order::acq_rel> r(v[0]);
    T expected = r.load();
    std::uint64_t k = 1;
    while (!r.compare_exchange(expected, static_cast<T>(expected + T{1})))
      ++k;
    ndl::atomic_ref<std::uint64_t>(tries[0]).fetch_add(k);
  }
};

// A compare-exchange loop incrementing one value from 2^16 work-items loses no update: each
// failure must refresh `expected`, or the loop would spin or lose counts.
NDL_TEST_P(atomic_test, contended_compare_exchange_loops) {
  auto q = default_queue();
  constexpr size_t n = 1 << 16;
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto x = ndl::array<T>::zeros({1}, q);
    auto attempts = ndl::array<std::uint64_t>::zeros({1}, q);
    ndl::call_kernel(typed_kernel_14<T>{}, ndl::range{n}, x, attempts);
    EXPECT_EQ(x.to_host(), std::vector<T>{static_cast<T>(n)});
    EXPECT_GE(attempts.to_host()[0], n);
  });
}

// --- memory orders, scopes, address spaces -------------------------------------------------------

template <class T, ndl::memory_order Order, ndl::memory_scope Scope, ndl::address_space Space>
NDL_KERNEL_FN T exercise(T& cell) {
  const ndl::atomic_ref<T, Order, Scope, Space> r(cell);
  static_assert(decltype(r)::order == Order && decltype(r)::scope == Scope &&
                decltype(r)::space == Space);
  static_assert(std::is_same_v<typename decltype(r)::value_type, T>);
  r.store(T{10});
  r.fetch_add(T{5});
  r.fetch_sub(T{3});
  r.fetch_max(T{20});
  r.fetch_min(T{18});
  if constexpr (std::is_integral_v<T>) {
    r.fetch_or(T{1});   // 19
    r.fetch_and(T{7});  // 3
    r.fetch_xor(T{6});  // 5
  } else {
    r.fetch_sub(T{13});  // 5
  }
  T e = 5;
  r.compare_exchange(e, T{6});
  const T old = r.exchange(T{1});                // 6
  return static_cast<T>(old + r.load() - T{1});  // 6
}

template <class T, ndl::memory_order Order>
struct every_order_kernel {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<T, 1> out,
                                ndl::local_accessor<T, 1> local) const {
    using ndl::address_space;
    using ndl::memory_scope;
    const size_t i = it.get_global_id(0);
    const size_t l = it.get_local_id(0);
    T sum = 0;
    sum += exercise<T, Order, memory_scope::device, address_space::global_space>(out[i]);
    sum += exercise<T, Order, memory_scope::system, address_space::generic_space>(out[i]);
    sum += exercise<T, Order, memory_scope::work_item, address_space::global_space>(out[i]);
    sum += exercise<T, Order, memory_scope::sub_group, address_space::global_space>(out[i]);
    sum += exercise<T, Order, memory_scope::work_group, address_space::local_space>(local[l]);
    out[i] = sum;  // 5 * 6
  }
};

NDL_TEST_P(atomic_test, every_memory_order_scope_and_address_space) {
  auto q = default_queue();
  const auto run = [&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    using ndl::memory_order;
    const auto check = [&](auto kernel, const char* order) {
      SCOPED_TRACE(order);
      auto out = ndl::array<T>::zeros({64}, q);
      ndl::call_kernel(kernel, ndl::nd_range<1>{{64}, {16}}, out, ndl::local_accessor<T, 1>{{16}});
      EXPECT_EQ(out.to_host(), std::vector<T>(64, T{30}));
    };
    check(every_order_kernel<T, memory_order::relaxed>{}, "relaxed");
    check(every_order_kernel<T, memory_order::acquire>{}, "acquire");
    check(every_order_kernel<T, memory_order::release>{}, "release");
    check(every_order_kernel<T, memory_order::acq_rel>{}, "acq_rel");
    check(every_order_kernel<T, memory_order::seq_cst>{}, "seq_cst");
  };
  for_each_atomic_type(run);
  // numba-dpex's enum values.
  static_assert(static_cast<int>(ndl::memory_order::relaxed) == 0);
  static_assert(static_cast<int>(ndl::memory_order::acquire) == 1);
  static_assert(static_cast<int>(ndl::memory_order::release) == 3);
  static_assert(static_cast<int>(ndl::memory_order::acq_rel) == 4);
  static_assert(static_cast<int>(ndl::memory_order::seq_cst) == 5);
  static_assert(static_cast<int>(ndl::memory_scope::work_item) == 0);
  static_assert(static_cast<int>(ndl::memory_scope::device) == 3);
  static_assert(static_cast<int>(ndl::memory_scope::system) == 4);
  static_assert(static_cast<int>(ndl::address_space::global_space) == 1);
  static_assert(static_cast<int>(ndl::address_space::local_space) == 3);
  static_assert(static_cast<int>(ndl::address_space::generic_space) == 4);
}

// --- atomics on local memory ---------------------------------------------------------------------

// numba-dpex test_atomic_ref with a LocalAccessor: 32 work-items add 5.0 to slm[0] -> 160.
// Local memory starts uninitialised in ndlaunch, so the leader zeroes it first.
NDL_TEST_P(atomic_test, numba_dpex_atomic_ref_on_local_memory_is_160) {
  auto q = default_queue();
  auto a = ndl::array<float>::zeros({32}, q);
  ASSERT_TRUE(bounded(ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::nd_item<1> it, ndl::view<float, 1> av,
                       ndl::local_accessor<float, 1> slm) {
        if (it.get_group().leader()) slm[0] = 0;
        ndl::group_barrier(it.get_group());
        ndl::atomic_ref<float, ndl::memory_order::relaxed, ndl::memory_scope::work_group,
                        ndl::address_space::local_space>(slm[0])
            .fetch_add(5.0f);
        ndl::group_barrier(it.get_group());
        av[it.get_global_id(0)] = slm[0];
      },
      ndl::nd_range<1>{{32}, {32}}, {}, a, ndl::local_accessor<float, 1>{{1}})));
  EXPECT_EQ(a.to_host(), std::vector<float>(32, 160.0f));
}

template <class T>
struct typed_kernel_15 {
  NDL_KERNEL_FN void operator()(ndl::nd_item<1> it, ndl::view<T, 1> o,
                                ndl::local_accessor<T, 1> slm) const {
    using ref = ndl::atomic_ref<T, ndl::memory_order::relaxed, ndl::memory_scope::work_group,
                                ndl::address_space::local_space>;
    const auto g = static_cast<T>(it.get_group_id(0) % 100);
    if (it.get_local_id(0) == 0) {
      slm[0] = g;
      slm[1] = T{0};
    }
    ndl::group_barrier(it.get_group());
    ref(slm[0]).fetch_add(T{2});
    ref(slm[1]).fetch_max(static_cast<T>(it.get_local_id(0)));
    ndl::group_barrier(it.get_group());
    o[it.get_global_id(0)] = static_cast<T>(slm[0] + slm[1]);
  }
};

// Every type on local memory, many groups: each group's count is its own.
NDL_TEST_P(atomic_test, local_atomics_on_every_type_in_many_groups) {
  auto q = default_queue();
  constexpr size_t n = 64, groups = 256 / fewer_under_tsan, total = n * groups;
  for_each_atomic_type([&]<class T>() {
    SCOPED_TRACE(type_name<T>());
    auto out = ndl::array<T>::zeros({total}, q);
    ASSERT_TRUE(bounded(ndl::call_kernel_async(typed_kernel_15<T>{}, ndl::nd_range<1>{{total}, {n}},
                                               {}, out, ndl::local_accessor<T, 1>{{2}})));
    const auto host = out.to_host();
    for (size_t g = 0; g < groups; ++g)
      for (size_t l = 0; l < n; ++l)
        ASSERT_EQ(host[g * n + l], static_cast<T>(g % 100 + 2 * n + (n - 1))) << g << " " << l;
  });
}

// --- atomic_fence --------------------------------------------------------------------------------

// numba-dpex test_atomic_fence over Range(2): work-item 1 writes a[1], fences (release) and
// raises a flag; work-item 0 spins on the flag, fences (acquire) and reads a[1]: a[0] == 3.
// The spin needs work-item 1 to make progress while work-item 0 waits (numba-dpex's suite
// assumes independent forward progress); it gives up after 5 s and records the failure.
struct fence_hand_off {
  size_t producer;
  size_t consumer;
  void operator()(ndl::item<1> it, ndl::view<int, 1> a, ndl::view<int, 1> flag) const {
    const size_t i = it.get_id(0);
    if (i == producer) {
      a[1] += 1;
      ndl::atomic_fence(ndl::memory_order::release, ndl::memory_scope::device);
      ndl::atomic_ref<int, ndl::memory_order::relaxed>(flag[0]).store(1);
    } else if (i == consumer) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (ndl::atomic_ref<int, ndl::memory_order::relaxed>(flag[0]).load() != 1) {
        if (std::chrono::steady_clock::now() > deadline) {
          flag[1] = 1;  // timed out
          return;
        }
      }
      ndl::atomic_fence(ndl::memory_order::acquire, ndl::memory_scope::device);
      a[0] += a[1];
    }
  }
};

NDL_TEST_P(atomic_test, numba_dpex_atomic_fence_hand_off_between_two_work_items) {
  NDL_SKIP_UNLESS_HOST_KERNELS();  // the bounded spin uses std::chrono
  // numba-dpex's test assumes independent forward progress between the work-items of one
  // launch. The CPU device runs a small launch as one plain loop (docs/guide.md, "The CPU
  // device"), so work-item 0 would spin forever waiting for work-item 1; the hand-off across
  // chunks is tested below. GPUs give this forward progress, so the test runs there.
  NDL_SKIP_UNLESS(!GetParam().is_cpu(),
                  "the CPU device gives the work-items of one chunk no independent progress");
  auto q = default_queue();
  auto a = ndl::array<int>::full({2}, 1, q);
  auto flag = ndl::array<int>::zeros({2}, q);
  ndl::call_kernel(ndl::cpu_only(fence_hand_off{1, 0}), ndl::range{2}, a, flag);
  EXPECT_EQ(flag.to_host()[1], 0)
      << "work-item 0 waited 5 s for work-item 1 of the same range launch, which never ran "
         "meanwhile: the CPU device gives the work-items of a launch no independent progress";
  EXPECT_EQ(a.to_host(), (std::vector<int>{3, 2}));
}

// The same hand-off between work-items far apart in a large launch (different chunks, run by
// different threads): the consumer is the first work-item, the producer the last.
NDL_TEST_P(atomic_test, atomic_fence_hand_off_across_a_large_launch) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = default_queue();
  constexpr size_t n = size_t{1} << 20;
  for (int round = 0; round < 3; ++round) {
    auto a = ndl::array<int>::full({2}, 1, q);
    auto flag = ndl::array<int>::zeros({2}, q);
    ndl::call_kernel(ndl::cpu_only(fence_hand_off{n - 1, 0}), ndl::range{n}, a, flag);
    EXPECT_EQ(flag.to_host()[1], 0) << "the consumer timed out";
    EXPECT_EQ(a.to_host(), (std::vector<int>{3, 2}));
  }
}

// Message passing with a release store and an acquire load (no separate fences): the first
// `pairs` work-items of a large launch each read a flag that one of the last `pairs` raises; a
// consumer that sees its flag must see the payload (ThreadSanitizer checks the ordering).
NDL_TEST_P(atomic_test, release_store_and_acquire_load_publish_data) {
  constexpr size_t pairs = 64, n = size_t{1} << 18;
  auto q = default_queue();
  auto data = ndl::array<std::int64_t>::zeros({pairs}, q);
  auto flags = ndl::array<int>::zeros({pairs}, q);
  auto seen = ndl::array<std::int64_t>::full({pairs}, -1, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<std::int64_t, 1> d, ndl::view<int, 1> f,
                       ndl::view<std::int64_t, 1> s) {
        const size_t i = it.get_id(0), last = it.get_range(0) - 1;
        if (i < pairs) {
          if (ndl::atomic_ref<int, ndl::memory_order::acquire>(f[i]).load() == 1) s[i] = d[i];
        } else if (last - i < pairs) {
          const size_t p = last - i;
          d[p] = static_cast<std::int64_t>(p) * 1000003;
          ndl::atomic_ref<int, ndl::memory_order::release>(f[p]).store(1);
        }
      },
      ndl::range{n}, data, flags, seen);
  const auto s = seen.to_host();
  for (size_t p = 0; p < pairs; ++p) {
    if (s[p] != -1) {
      ASSERT_EQ(s[p], static_cast<std::int64_t>(p) * 1000003) << p;
    }
  }
  EXPECT_EQ(flags.to_host(), std::vector<int>(pairs, 1));
}

// numba-dpex test_atomic_ref: a reference to an element of a 3-D array.
NDL_TEST_P(atomic_test, atomic_ref_to_an_element_of_a_three_dimensional_array) {
  auto q = default_queue();
  auto b = ndl::array<std::int64_t, 3>::zeros({2, 2, 2}, q);
  ndl::call_kernel(
      [] NDL_KERNEL_FN(ndl::item<3>, ndl::view<std::int64_t, 3> v) {
        ndl::atomic_ref<std::int64_t>(v(1, 1, 1)).fetch_add(1);
      },
      ndl::range{2, 2, 2}, b);
  EXPECT_EQ(b.to_host(), (std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 8}));
}

}  // namespace
