/// @file launch_fuzzer.cpp
/// libFuzzer target: index spaces, arrays, views and slices built from random bytes, launched
/// over on the CPU device, every element checked against a host model.
///
/// One input is a small program (see decode in fuzz_case): an array of rank 1..3 in C or F
/// order, then up to 24 operations on a "current" selection of it (slice/index chains,
/// range and nd_range launches, async chains, host copies, and misuse that must raise
/// `ndl::error` with the right `errc`). After every operation the whole allocation, including
/// the elements outside the current view, is compared with a plain host model; any
/// difference, any unexpected or missing error, and any wrong id seen by a work-item aborts
/// with a message and the list of operations of the input. Public API only (ndl/ndl.hpp).
///
/// The kernels here are host-only C++ (they call the checking functions below): the target is
/// compiled by clang for the CPU device only.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

using elem = std::uint32_t;
using ndl::ptrdiff_t;
using ndl::size_t;

// --- failure reporting -----------------------------------------------------------------------

/// What the current input did so far, printed with a failure.
std::string trace;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "\n=== launch_fuzzer: FAILURE: %s\n--- operations of this input:\n%s\n",
               what.c_str(), trace.c_str());
  std::fflush(stderr);
  std::abort();
}

void log(const std::string& line) {
  trace += "  " + line + "\n";
}

// --- input decoding --------------------------------------------------------------------------

/// Reads the fuzzer's bytes; past the end every read yields 0.
class byte_reader {
 public:
  byte_reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
  /// A value in [0, n) for n >= 1 (two bytes when n > 256).
  size_t below(size_t n) {
    size_t v = byte();
    if (n > 256) v |= size_t{byte()} << 8;
    return v % n;
  }
  /// A value in [lo, hi].
  ptrdiff_t between(ptrdiff_t lo, ptrdiff_t hi) {
    return lo + static_cast<ptrdiff_t>(below(static_cast<size_t>(hi - lo + 1)));
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

/// The values kernels write: a hash of a linear id and a salt.
constexpr elem mix(std::uint64_t x, elem salt) {
  x ^= std::uint64_t{salt} * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<elem>(x);
}

// --- the host model --------------------------------------------------------------------------

/// A strided selection of the base allocation: element (i...) lives at
/// `offset + sum(i[d] * stride[d])`.
struct model_view {
  int rank = 1;
  ptrdiff_t offset = 0;
  size_t shape[3] = {};
  ptrdiff_t stride[3] = {};

  size_t size() const {
    size_t n = 1;
    for (int d = 0; d < rank; ++d)
      n *= shape[d];
    return n;
  }
  ptrdiff_t at(const size_t* idx) const {
    ptrdiff_t o = offset;
    for (int d = 0; d < rank; ++d)
      o += static_cast<ptrdiff_t>(idx[d]) * stride[d];
    return o;
  }
  std::string str() const {
    std::string s = format("offset %td shape {", offset);
    for (int d = 0; d < rank; ++d)
      s += format("%s%zu", d ? ", " : "", shape[d]);
    s += "} strides {";
    for (int d = 0; d < rank; ++d)
      s += format("%s%td", d ? ", " : "", stride[d]);
    return s + "}";
  }
};

/// Calls f(idx, linear) for every index of `shape` in row-major order.
template <class F>
void for_each_index(int rank, const size_t* shape, F&& f) {
  size_t total = 1;
  for (int d = 0; d < rank; ++d)
    total *= shape[d];
  size_t idx[3] = {};
  for (size_t lin = 0; lin < total; ++lin) {
    f(static_cast<const size_t*>(idx), lin);
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

size_t product(int rank, const size_t* e) {
  size_t n = 1;
  for (int d = 0; d < rank; ++d)
    n *= e[d];
  return n;
}

std::string dims_str(int rank, const size_t* e) {
  std::string s = "{";
  for (int d = 0; d < rank; ++d)
    s += format("%s%zu", d ? ", " : "", e[d]);
  return s + "}";
}

/// One selector of a slicing call: an integer, a slice or all.
struct selector {
  enum kind_t { all, index, slice } kind = all;
  ptrdiff_t start = 0, stop = 0, step = 1;

  std::string str() const {
    if (kind == all) return "all";
    if (kind == index) return format("%td", start);
    return format("slice(%td, %td, %td)", start, stop, step);
  }
};

/// The documented slicing contract: a slice lies inside its dimension (start and stop in
/// bounds, stepping from start towards stop; start == stop selects nothing), an index lies in
/// [0, extent). Returns false where ndl must throw invalid_argument.
bool model_select(const model_view& in, const selector* sel, model_view& out) {
  out = model_view{};
  out.offset = in.offset;
  int k = 0;
  for (int d = 0; d < in.rank; ++d) {
    const auto e = static_cast<ptrdiff_t>(in.shape[d]);
    const selector& s = sel[d];
    if (s.kind == selector::all) {
      out.shape[k] = in.shape[d];
      out.stride[k++] = in.stride[d];
    } else if (s.kind == selector::index) {
      if (s.start < 0 || s.start >= e) return false;
      out.offset += s.start * in.stride[d];
    } else {
      if (s.step == 0) return false;
      ptrdiff_t count = 0;
      if (s.start == s.stop) {
        // Empty: start == stop at a position the slice could stop at, 0..extent forwards and
        // -1..extent backwards (slice(-1, -1, -1) mirrors slice(n, n, 1)).
        if (s.start < (s.step < 0 ? -1 : 0) || s.start > e) return false;
      } else if (s.step > 0) {
        if (s.start < 0 || s.stop > e || s.start > s.stop) return false;
        count = (s.stop - s.start + s.step - 1) / s.step;
      } else {
        if (s.stop < -1 || s.start >= e || s.start < s.stop) return false;
        count = (s.start - s.stop - s.step - 1) / -s.step;
      }
      // The offset of an empty selection is never dereferenced (and not compared below).
      if (count > 0) out.offset += s.start * in.stride[d];
      out.shape[k] = static_cast<size_t>(count);
      out.stride[k++] = in.stride[d] * s.step;
    }
  }
  out.rank = k;
  return true;
}

// --- kernel-side helpers ---------------------------------------------------------------------

template <int D>
using arr = ndl::array<elem, D>;
using any_array = std::variant<arr<1>, arr<2>, arr<3>>;

/// Element `i` of a view or local accessor of rank D.
template <int D, class A>
decltype(auto) at(const A& a, const size_t* i) {
  if constexpr (D == 1)
    return a(i[0]);
  else if constexpr (D == 2)
    return a(i[0], i[1]);
  else
    return a(i[0], i[1], i[2]);
}

/// The rank of an array type.
template <class A>
constexpr int rank_v = std::remove_cvref_t<A>::dimensions;

template <int D>
ndl::range<D> to_range(const size_t* e) {
  ndl::range<D> r;
  for (int d = 0; d < D; ++d)
    r[d] = e[d];
  return r;
}

/// The ids of a work-item of an nd_range launch, checked against each other.
template <int D>
struct nd_ids {
  size_t global[D], local[D], local_range[D];
  size_t local_linear = 0, group_linear = 0, group_size = 1;

  explicit nd_ids(const ndl::nd_item<D>& it) {
    for (int d = 0; d < D; ++d) {
      global[d] = it.get_global_id(d);
      local[d] = it.get_local_id(d);
      local_range[d] = it.get_local_range(d);
      if (local[d] >= local_range[d] || global[d] >= it.get_global_range(d) ||
          global[d] != it.get_group_id(d) * local_range[d] + local[d] ||
          it.get_group_id(d) >= it.get_group_range(d) ||
          it.get_global_range(d) != it.get_group_range(d) * local_range[d])
        fail(format("nd_item ids disagree in dimension %d: global %zu local %zu/%zu group %zu/%zu",
                    d, global[d], local[d], local_range[d], it.get_group_id(d),
                    it.get_group_range(d)));
      local_linear = local_linear * local_range[d] + local[d];
      group_linear = group_linear * it.get_group_range(d) + it.get_group_id(d);
      group_size *= local_range[d];
    }
    if (local_linear != it.get_local_linear_id())
      fail(format("get_local_linear_id() = %zu, row-major %zu", it.get_local_linear_id(),
                  local_linear));
    if (group_linear != it.get_group().get_group_linear_id())
      fail(format("get_group_linear_id() = %zu, row-major %zu",
                  it.get_group().get_group_linear_id(), group_linear));
  }
};

/// Checks a range work-item's ids; returns its row-major linear id.
template <int D>
size_t checked_item(const ndl::item<D>& it, const ndl::range<D>& space, size_t* id) {
  size_t lin = 0;
  for (int d = 0; d < D; ++d) {
    id[d] = it.get_id(d);
    if (it.get_range(d) != space[d] || id[d] >= space[d])
      fail(format("item id %zu / range %zu in dimension %d; launched over %zu", id[d],
                  it.get_range(d), d, space[d]));
    lin = lin * space[d] + id[d];
  }
  if (lin != it.get_linear_id())
    fail(format("get_linear_id() = %zu, row-major %zu", it.get_linear_id(), lin));
  return lin;
}

// --- the device, kept across inputs ----------------------------------------------------------

struct device_state {
  ndl::device cpu{"cpu"};
  ndl::queue in_order = ndl::queue::default_queue(cpu);
  ndl::queue out_of_order{cpu, {.in_order = false}};
  size_t max_group = cpu.max_work_group_size();
  size_t local_bytes = cpu.local_memory_bytes();
};

device_state& device() {
  // Never destroyed: libFuzzer runs every input in this process, and exits from anywhere.
  static device_state* state = new device_state;
  return *state;
}

/// Runs `call`, which must throw ndl::error with `code` when `expect_error`, and must not throw
/// otherwise. Returns whether it threw.
template <class F>
bool expect(bool expect_error, ndl::errc code, const char* what, F&& call) {
  try {
    call();
  } catch (const ndl::error& e) {
    if (!expect_error) fail(format("%s threw unexpectedly: %s", what, e.what()));
    if (e.code() != code)
      fail(format("%s threw %s, expected %s: %s", what,
                  std::string(ndl::to_string(e.code())).c_str(),
                  std::string(ndl::to_string(code)).c_str(), e.what()));
    return true;
  }
  if (expect_error)
    fail(format("%s did not throw; expected %s", what, std::string(ndl::to_string(code)).c_str()));
  return false;
}

// --- one input -------------------------------------------------------------------------------

class fuzz_case {
 public:
  explicit fuzz_case(byte_reader& in) : in_(in) {}

  void run() {
    make_base();
    check_memory("after creation");
    for (int op = 0; op < 24 && !in_.empty(); ++op) {
      switch (in_.byte() % 12) {
        case 0:
        case 1:
          op_slice();
          break;
        case 2:
          cur_ = base_;
          cur_m_ = base_m_;
          log("reset to the base array");
          break;
        case 3:
          op_range_write();
          break;
        case 4:
          op_async_chain();
          break;
        case 5:
          op_nd_local();
          break;
        case 6:
          op_nd_plain();
          break;
        case 7:
          op_divergence();
          break;
        case 8:
          op_throw();
          break;
        case 9:
          op_misuse();
          break;
        case 10:
          op_host_copy();
          break;
        default:
          op_to_host();
          break;
      }
      check_memory("after the last operation");
    }
    check_base_to_host();
    // Every error was waited for: the queue has none left to report.
    expect(false, ndl::errc::invalid_argument, "queue::wait()", [&] { q_.wait(); });
  }

 private:
  template <class F>
  void visit_cur(F&& f) {
    std::visit([&](auto& a) { f(a); }, cur_);
  }

  // ---- base array and checks

  void make_base() {
    const std::uint8_t flags = in_.byte();
    const int rank = 1 + (flags & 3) % 3;
    const bool f_order = flags & 4;
    const bool out_of_order = flags & 8;
    const bool full = flags & 16;
    q_ = out_of_order ? device().out_of_order : device().in_order;
    base_m_ = model_view{};
    base_m_.rank = rank;
    // Small shapes, at most 4096 elements (in 1-D, enough for a range launch of several
    // chunks on the CPU device), so that an input runs in milliseconds.
    const size_t cap = rank == 1 ? 4097 : rank == 2 ? 65 : 17;
    for (int d = 0; d < rank; ++d)
      base_m_.shape[d] = in_.below(cap);
    ptrdiff_t s = 1;
    for (int k = 0; k < rank; ++k) {
      const int d = f_order ? k : rank - 1 - k;
      base_m_.stride[d] = s;
      s *= static_cast<ptrdiff_t>(base_m_.shape[d]);
    }
    const size_t n = base_m_.size();
    const elem fill_value = mix(flags, 7);
    std::vector<elem> host(n);
    for (size_t i = 0; i < n; ++i)
      host[i] = full ? fill_value : mix(i, 1);
    mem_.assign(n, 0);
    for_each_index(rank, base_m_.shape, [&](const size_t* idx, size_t lin) {
      mem_[static_cast<size_t>(base_m_.at(idx))] = host[lin];
    });
    log(format("base: rank %d, %s order, %s queue, %s, %s", rank, f_order ? "F" : "C",
               out_of_order ? "out-of-order" : "in-order", full ? "full()" : "from_host()",
               base_m_.str().c_str()));
    auto build = [&]<int D>(std::integral_constant<int, D>) {
      const auto shape = to_range<D>(base_m_.shape);
      const auto order = f_order ? ndl::layout::f : ndl::layout::c;
      arr<D> a = full ? arr<D>::full(shape, fill_value, q_, order)
                      : arr<D>::from_host(std::span<const elem>(host), shape, q_, order);
      for (int d = 0; d < D; ++d)
        if (a.shape(d) != base_m_.shape[d] || a.stride(d) != base_m_.stride[d])
          fail(format("new array: dimension %d has shape %zu stride %td, expected %s", d,
                      a.shape(d), a.stride(d), base_m_.str().c_str()));
      if (f_order ? !a.is_f_contiguous() : !a.is_c_contiguous())
        fail("new array is not contiguous in its order");
      base_data_ = a.data();
      base_ = a;
    };
    if (rank == 1) build(std::integral_constant<int, 1>{});
    if (rank == 2) build(std::integral_constant<int, 2>{});
    if (rank == 3) build(std::integral_constant<int, 3>{});
    cur_ = base_;
    cur_m_ = base_m_;
  }

  /// Compares the whole allocation (inside and outside the current view) with the model.
  void check_memory(const char* when) {
    for (size_t i = 0; i < mem_.size(); ++i)
      if (base_data_[i] != mem_[i])
        fail(format("%s: element %zu of the allocation is %u, expected %u (current view %s)", when,
                    i, base_data_[i], mem_[i], cur_m_.str().c_str()));
  }

  /// The base array's to_host() (row-major) against the model.
  void check_base_to_host() {
    std::visit(
        [&](const auto& a) {
          const std::vector<elem> host = a.to_host();
          for_each_index(base_m_.rank, base_m_.shape, [&](const size_t* idx, size_t lin) {
            if (host[lin] != mem_[static_cast<size_t>(base_m_.at(idx))])
              fail(format("base to_host()[%zu] = %u, expected %u", lin, host[lin],
                          mem_[static_cast<size_t>(base_m_.at(idx))]));
          });
        },
        base_);
  }

  // ---- slicing

  selector decode_selector(size_t extent) {
    const auto e = static_cast<ptrdiff_t>(extent);
    selector s;
    switch (in_.byte() % 8) {
      case 0:
      case 1:
        s.kind = selector::all;
        break;
      case 2:  // an index, valid unless the extent is 0
        s.kind = selector::index;
        s.start = e > 0 ? static_cast<ptrdiff_t>(in_.below(extent)) : 0;
        break;
      case 3:  // any index near the dimension
        s.kind = selector::index;
        s.start = in_.between(-3, e + 2);
        break;
      case 7:  // any slice near the dimension, step 0 included
        s.kind = selector::slice;
        s.start = in_.between(-3, e + 3);
        s.stop = in_.between(-3, e + 3);
        s.step = in_.between(-4, 4);
        break;
      default: {  // a valid slice, forwards or backwards
        s.kind = selector::slice;
        const std::uint8_t b = in_.byte();
        s.step = 1 + (b & 3) % 3;
        if (b & 4) s.step = -s.step;
        if (e == 0) break;  // slice(0, 0, step)
        s.start = static_cast<ptrdiff_t>(in_.below(extent));
        s.stop = s.step > 0 ? s.start + static_cast<ptrdiff_t>(in_.below(extent - s.start + 1))
                            : -1 + static_cast<ptrdiff_t>(in_.below(s.start + 2));
        break;
      }
    }
    return s;
  }

  /// a(sel[0], ..., sel[D-1]) with each selector's C++ type picked at run time.
  template <int D, class... S>
  static any_array select(const arr<D>& a, const selector* sel, const S&... chosen) {
    constexpr int i = sizeof...(S);
    if constexpr (i == D) {
      constexpr int kept = (0 + ... + (std::is_integral_v<S> ? 0 : 1));
      if constexpr (kept == 0)
        fail("internal: a selection that keeps no dimension");
      else
        return any_array{a(chosen...)};
    } else {
      switch (sel[i].kind) {
        case selector::index:
          return select(a, sel, chosen..., sel[i].start);
        case selector::all:
          return select(a, sel, chosen..., ndl::all);
        default:
          return select(a, sel, chosen..., ndl::slice(sel[i].start, sel[i].stop, sel[i].step));
      }
    }
  }

  void op_slice() {
    selector sel[3];
    bool all_index = true;
    for (int d = 0; d < cur_m_.rank; ++d) {
      sel[d] = decode_selector(cur_m_.shape[d]);
      all_index = all_index && sel[d].kind == selector::index;
    }
    // A selection must keep a dimension (checked at compile time).
    if (all_index) sel[cur_m_.rank - 1].kind = selector::all;
    std::string desc = "slice (";
    for (int d = 0; d < cur_m_.rank; ++d)
      desc += (d ? ", " : "") + sel[d].str();
    model_view next;
    const bool valid = model_select(cur_m_, sel, next);
    log(desc + (valid ? ") -> " + next.str() : ") -> invalid"));
    any_array out;
    const bool threw = expect(!valid, ndl::errc::invalid_argument, "slicing",
                              [&] { visit_cur([&](const auto& a) { out = select(a, sel); }); });
    if (threw) return;
    std::visit(
        [&](const auto& a) {
          constexpr int D = rank_v<decltype(a)>;
          if (D != next.rank) fail(format("selection has rank %d, expected %d", D, next.rank));
          for (int d = 0; d < D; ++d)
            if (a.shape(d) != next.shape[d] || (next.shape[d] > 1 && a.stride(d) != next.stride[d]))
              fail(format("selection: dimension %d has shape %zu stride %td, expected %s", d,
                          a.shape(d), a.stride(d), next.str().c_str()));
          if (next.size() > 0 && a.data() != base_data_ + next.offset)
            fail(format("selection starts at element %td, expected %td", a.data() - base_data_,
                        next.offset));
          if (a.size() != next.size()) fail("selection size differs from its shape");
        },
        out);
    cur_ = out;
    cur_m_ = next;
  }

  // ---- launches

  /// A sub-range of the current view: mostly the whole of it.
  void pick_subrange(size_t* r) {
    const std::uint8_t b = in_.byte();
    for (int d = 0; d < cur_m_.rank; ++d)
      r[d] = (b >> d) & 1 ? in_.below(cur_m_.shape[d] + 1) : cur_m_.shape[d];
  }

  /// Model of a write of mix(linear id, salt) over sub-range r of the current view.
  void model_write(const size_t* r, elem salt) {
    for_each_index(cur_m_.rank, r, [&](const size_t* idx, size_t lin) {
      mem_[static_cast<size_t>(cur_m_.at(idx))] = mix(lin, salt);
    });
  }

  void op_range_write() {
    size_t r[3];
    pick_subrange(r);
    const std::uint8_t how = in_.byte();
    const elem salt = in_.byte();
    log(format("range write over %s (%s)", dims_str(cur_m_.rank, r).c_str(),
               how % 3 == 0   ? "inferred queue"
               : how % 3 == 1 ? "explicit queue"
                              : "async"));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      const auto space = to_range<D>(r);
      auto kernel = [](ndl::item<D> it, ndl::view<elem, D> v, ndl::range<D> sp, elem s) {
        size_t id[3];
        const size_t lin = checked_item(it, sp, id);
        at<D>(v, id) = mix(lin, s);
      };
      if (how % 3 == 0) {
        ndl::call_kernel(kernel, space, a, space, salt);
      } else if (how % 3 == 1) {
        ndl::call_kernel(q_, kernel, space, a, space, salt);
      } else {
        auto [host, dev] = ndl::call_kernel_async(kernel, space, {}, a, space, salt);
        dev.wait();
        host.wait();
      }
    });
    model_write(r, salt);
  }

  /// Two dependent async launches through a scratch array dropped before they run: the
  /// launcher must keep it alive, and the second must wait for the first on any queue.
  void op_async_chain() {
    size_t r[3];
    pick_subrange(r);
    const elem salt = in_.byte();
    const bool wait_host_first = in_.byte() & 1;
    log(format("async chain over %s", dims_str(cur_m_.rank, r).c_str()));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      const auto space = to_range<D>(r);
      ndl::launch_events first, second;
      {
        arr<D> scratch(space, q_);
        first = ndl::call_kernel_async(
            [](ndl::item<D> it, ndl::view<elem, D> v, ndl::range<D> sp, elem s) {
              size_t id[3];
              const size_t lin = checked_item(it, sp, id);
              at<D>(v, id) = mix(lin, s);
            },
            space, {}, scratch, space, salt);
        second = ndl::call_kernel_async(
            [](ndl::item<D> it, ndl::view<const elem, D> src, ndl::view<elem, D> dst,
               ndl::range<D> sp) {
              size_t id[3];
              checked_item(it, sp, id);
              at<D>(dst, id) = at<D>(dst, id) * 3u + at<D>(src, id);
            },
            space, {first.device_event}, scratch, a, space);
      }
      if (wait_host_first) second.host_event.wait();
      second.device_event.wait();
      first.host_event.wait();
      second.host_event.wait();
    });
    for_each_index(cur_m_.rank, r, [&](const size_t* idx, size_t lin) {
      elem& m = mem_[static_cast<size_t>(cur_m_.at(idx))];
      m = m * 3u + mix(lin, salt);
    });
  }

  /// Picks a work-group shape and a global range that it divides, inside the current view.
  void pick_nd(size_t* g, size_t* l) {
    const int rank = cur_m_.rank;
    const size_t cap = rank == 1 ? 256 : rank == 2 ? 32 : 8;
    const std::uint8_t b = in_.byte();
    for (int d = 0; d < rank; ++d) {
      const size_t e = cur_m_.shape[d];
      l[d] = 1 + in_.below(std::min(e == 0 ? 4 : e, cap));
      const size_t groups = e / l[d];
      g[d] = l[d] * ((b >> d) & 1 ? in_.below(groups + 1) : groups);
    }
  }

  /// Work-group reversal and rotation through local memory, with three barriers.
  void op_nd_local() {
    size_t g[3], l[3];
    pick_nd(g, l);
    const elem salt = in_.byte();
    const int rank = cur_m_.rank;
    log(format("nd_range local-memory kernel over %s / %s", dims_str(rank, g).c_str(),
               dims_str(rank, l).c_str()));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      ndl::call_kernel(
          [](ndl::nd_item<D> it, ndl::view<elem, D> v, ndl::local_accessor<elem, D> tile, elem s) {
            const nd_ids<D> ids(it);
            size_t rev[3];
            for (int d = 0; d < D; ++d)
              rev[d] = ids.local_range[d] - 1 - ids.local[d];
            at<D>(tile, ids.local) = at<D>(v, ids.global);
            ndl::group_barrier(it.get_group());
            const elem x = at<D>(tile, rev);
            ndl::group_barrier(it.get_group());
            at<D>(tile, ids.local) = x + s;
            ndl::group_barrier(it.get_group());
            size_t next = (ids.local_linear + 1) % ids.group_size, idx[3];
            for (int d = D - 1; d >= 0; --d) {
              idx[d] = next % ids.local_range[d];
              next /= ids.local_range[d];
            }
            at<D>(v, ids.global) = at<D>(tile, idx) * 5u + static_cast<elem>(ids.group_linear);
          },
          ndl::nd_range<D>(to_range<D>(g), to_range<D>(l)), a,
          ndl::local_accessor<elem, D>(to_range<D>(l)), salt);
    });
    // The model, group by group.
    size_t groups[3];
    for (int d = 0; d < rank; ++d)
      groups[d] = g[d] / l[d];
    const size_t group_size = product(rank, l);
    std::vector<elem> orig(group_size), t(group_size);
    std::vector<size_t> where(group_size);
    for_each_index(rank, groups, [&](const size_t* gid, size_t glin) {
      for_each_index(rank, l, [&](const size_t* lid, size_t llin) {
        size_t global[3];
        for (int d = 0; d < rank; ++d)
          global[d] = gid[d] * l[d] + lid[d];
        where[llin] = static_cast<size_t>(cur_m_.at(global));
        orig[llin] = mem_[where[llin]];
      });
      for (size_t i = 0; i < group_size; ++i)
        t[i] = orig[group_size - 1 - i] + salt;  // row-major reversal of every dimension
      for (size_t i = 0; i < group_size; ++i)
        mem_[where[i]] = t[(i + 1) % group_size] * 5u + static_cast<elem>(glin);
    });
  }

  /// A barrier-free nd_range kernel; the work-group shape may be invalid (zero, not dividing
  /// the global range, larger than the device allows).
  void op_nd_plain() {
    const int rank = cur_m_.rank;
    size_t g[3], l[3];
    const std::uint8_t mode = in_.byte();
    if (mode & 1) {
      pick_nd(g, l);
    } else {
      for (int d = 0; d < rank; ++d) {
        g[d] = cur_m_.shape[d];
        l[d] = in_.below(rank == 1 ? 2049 : 65);
      }
    }
    const elem salt = in_.byte();
    bool shape_ok = true;
    for (int d = 0; d < rank; ++d)
      shape_ok = shape_ok && l[d] != 0 && g[d] % l[d] == 0;
    const bool size_ok = shape_ok && product(rank, l) <= device().max_group;
    log(format("nd_range plain kernel over %s / %s%s", dims_str(rank, g).c_str(),
               dims_str(rank, l).c_str(),
               !shape_ok  ? " (invalid nd_range)"
               : !size_ok ? " (work-group too large)"
                          : ""));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      // The constructor checks the shape, the launch the device's limit: both invalid_range.
      expect(!size_ok, ndl::errc::invalid_range, "nd_range launch", [&] {
        const ndl::nd_range<D> space(to_range<D>(g), to_range<D>(l));
        if (!shape_ok) fail("nd_range accepted a local range that does not divide the global");
        ndl::call_kernel(
            q_,
            [](ndl::nd_item<D> it, ndl::view<elem, D> v, elem s) {
              const nd_ids<D> ids(it);
              at<D>(v, ids.global) ^=
                  static_cast<elem>(ids.local_linear * 3 + ids.group_linear * 7) + s;
            },
            space, a, salt);
      });
    });
    if (!size_ok) return;
    size_t groups[3];
    for (int d = 0; d < rank; ++d)
      groups[d] = g[d] / l[d];
    for_each_index(rank, groups, [&](const size_t* gid, size_t glin) {
      for_each_index(rank, l, [&](const size_t* lid, size_t llin) {
        size_t global[3];
        for (int d = 0; d < rank; ++d)
          global[d] = gid[d] * l[d] + lid[d];
        mem_[static_cast<size_t>(cur_m_.at(global))] ^=
            static_cast<elem>(llin * 3 + glin * 7) + salt;
      });
    });
  }

  /// Work-items of a group that disagree at barriers: the launch fails, never hangs.
  void op_divergence() {
    size_t g[3], l[3];
    pick_nd(g, l);
    const int rank = cur_m_.rank;
    const int variant = in_.byte() % 3;
    const size_t group_size = product(rank, l);
    const size_t odd_one = in_.below(group_size);
    // With one work-item per group nothing can disagree; with no group nothing runs.
    const bool diverges = group_size > 1 && product(rank, g) > 0;
    static const char* const names[] = {"returns before the barrier", "waits at another barrier",
                                        "waits at one more barrier"};
    log(format("barrier divergence over %s / %s: work-item %zu %s", dims_str(rank, g).c_str(),
               dims_str(rank, l).c_str(), odd_one, names[variant]));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      expect(diverges, ndl::errc::kernel_failure, "divergent kernel", [&] {
        ndl::call_kernel(
            [](ndl::nd_item<D> it, ndl::view<elem, D>, int var, size_t odd) {
              const nd_ids<D> ids(it);
              const bool is_odd = ids.local_linear == odd;
              if (var == 0) {
                if (is_odd) return;
                ndl::group_barrier(it.get_group());
              } else if (var == 1) {
                if (is_odd)
                  ndl::group_barrier(it.get_group());
                else
                  ndl::group_barrier(it.get_group());
              } else {
                ndl::group_barrier(it.get_group());
                if (is_odd) ndl::group_barrier(it.get_group());
              }
            },
            ndl::nd_range<D>(to_range<D>(g), to_range<D>(l)), a, variant, odd_one);
      });
    });
  }

  /// A work-item throws: the launch fails naming it, and a launch depending on it does not
  /// run (its writes would show in the memory check).
  void op_throw() {
    size_t r[3];
    pick_subrange(r);
    const int rank = cur_m_.rank;
    const size_t total = product(rank, r);
    const size_t thrower = in_.below(total + 2);  // sometimes no work-item throws
    const std::uint8_t how = in_.byte();
    const elem salt = in_.byte();
    const bool throws = thrower < total;
    size_t id[3] = {};
    for (size_t rest = thrower, d = static_cast<size_t>(rank); d-- > 0;) {
      id[d] = r[d] ? rest % r[d] : 0;
      rest = r[d] ? rest / r[d] : 0;
    }
    std::string expected_id = "(";
    for (int d = 0; d < rank; ++d)
      expected_id += format("%s%zu", d ? ", " : "", id[d]);
    expected_id += ")";
    log(format("work-item %zu of %s throws (%s)", thrower, dims_str(rank, r).c_str(),
               how & 1 ? "async, with a dependent writer" : "sync"));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      const auto space = to_range<D>(r);
      auto thrower_kernel =
          ndl::cpu_only([](ndl::item<D> it, ndl::view<elem, D>, size_t k, int kind) {
            if (it.get_linear_id() != k) return;
            if (kind == 0) throw std::runtime_error("fuzz boom");
            if (kind == 1) throw ndl::error(ndl::errc::invalid_argument, "fuzz boom");
            throw 42;
          });
      const int kind = (how >> 1) % 3;
      auto check_message = [&](const ndl::error& e) {
        const std::string m = e.message();
        if (m.find("work-item " + expected_id) == std::string::npos ||
            (kind != 2 && m.find("fuzz boom") == std::string::npos))
          fail("kernel_failure message does not name work-item " + expected_id +
               " and the cause: " + m);
      };
      if (!(how & 1)) {
        try {
          ndl::call_kernel(thrower_kernel, space, a, thrower, kind);
          if (throws) fail("a throwing kernel did not fail its launch");
        } catch (const ndl::error& e) {
          if (!throws || e.code() != ndl::errc::kernel_failure)
            fail(format("throwing kernel: unexpected %s", e.what()));
          check_message(e);
        }
        return;
      }
      auto first = ndl::call_kernel_async(thrower_kernel, space, {}, a, thrower, kind);
      auto second = ndl::call_kernel_async(
          [](ndl::item<D> it, ndl::view<elem, D> v, ndl::range<D> sp, elem s) {
            size_t i[3];
            const size_t lin = checked_item(it, sp, i);
            at<D>(v, i) = mix(lin, s);
          },
          space, {first.device_event}, a, space, salt);
      for (ndl::event* e :
           {&second.host_event, &first.device_event, &second.device_event, &first.host_event}) {
        const bool is_first = e == &first.device_event || e == &first.host_event;
        try {
          e->wait();
          if (throws) fail("an event of a failed launch completed without an error");
        } catch (const ndl::error& err) {
          const auto want = is_first ? ndl::errc::kernel_failure : ndl::errc::dependency_failed;
          if (!throws || err.code() != want)
            fail(format("throwing kernel (async): unexpected %s", err.what()));
          check_message(err);
        }
      }
    });
    if (!throws && (how & 1)) model_write(r, salt);
  }

  /// Misuse that must be refused before anything runs.
  void op_misuse() {
    const int variant = in_.byte() % 5;
    const std::uint8_t extra = in_.byte();
    static const char* const names[] = {
        "local_accessor in a range launch", "local_accessor over the device's local memory",
        "local_accessor of no elements", "negative extent", "copy_from_host of the wrong size"};
    log(format("misuse: %s", names[variant]));
    visit_cur([&](const auto& a) {
      constexpr int D = rank_v<decltype(a)>;
      auto kernel = [](ndl::nd_item<D>, ndl::view<elem, D>, ndl::local_accessor<elem, 1>) {};
      size_t g[3], l[3];
      switch (variant) {
        case 0:
          expect(true, ndl::errc::invalid_argument, "range launch with a local_accessor", [&] {
            ndl::call_kernel([](ndl::item<D>, ndl::view<elem, D>, ndl::local_accessor<elem, 1>) {},
                             to_range<D>(cur_m_.shape), a, ndl::local_accessor<elem, 1>({4}));
          });
          break;
        case 1:
        case 2: {
          pick_nd(g, l);
          const size_t n =
              variant == 1 ? device().local_bytes / sizeof(elem) + 1 + extra : size_t{0};
          expect(true, ndl::errc::invalid_argument, "local_accessor size", [&] {
            ndl::call_kernel(kernel, ndl::nd_range<D>(to_range<D>(g), to_range<D>(l)), a,
                             ndl::local_accessor<elem, 1>({n}));
          });
          break;
        }
        case 3:
          expect(true, ndl::errc::invalid_range, "negative extent",
                 [&] { [[maybe_unused]] const ndl::range<1> r(-1 - static_cast<int>(extra)); });
          break;
        default: {
          std::vector<elem> host((extra & 8) && a.size() > 0 ? a.size() - 1
                                                             : a.size() + 1 + extra % 3);
          expect(true, ndl::errc::invalid_argument, "copy_from_host size",
                 [&] { a.copy_from_host(std::span<const elem>(host)); });
          break;
        }
      }
    });
  }

  /// copy_from_host through the current (strided) view.
  void op_host_copy() {
    const elem salt = in_.byte();
    const bool async = in_.byte() & 1;
    log(format("copy_from_host into the current view (%s)", async ? "async" : "sync"));
    std::vector<elem> host(cur_m_.size());
    for (size_t i = 0; i < host.size(); ++i)
      host[i] = mix(i, salt ^ 0x5a5a);
    visit_cur([&](const auto& a) {
      if (async)
        a.copy_from_host_async(std::span<const elem>(host)).wait();
      else
        a.copy_from_host(std::span<const elem>(host));
    });
    for_each_index(cur_m_.rank, cur_m_.shape, [&](const size_t* idx, size_t lin) {
      mem_[static_cast<size_t>(cur_m_.at(idx))] = host[lin];
    });
  }

  /// to_host of the current (strided) view against the model.
  void op_to_host() {
    log("to_host of the current view");
    visit_cur([&](const auto& a) {
      const std::vector<elem> host = a.to_host();
      if (host.size() != cur_m_.size()) fail("to_host() returned the wrong number of elements");
      for_each_index(cur_m_.rank, cur_m_.shape, [&](const size_t* idx, size_t lin) {
        if (host[lin] != mem_[static_cast<size_t>(cur_m_.at(idx))])
          fail(format("view to_host()[%zu] = %u, expected %u", lin, host[lin],
                      mem_[static_cast<size_t>(cur_m_.at(idx))]));
      });
    });
  }

  byte_reader& in_;
  ndl::queue q_;
  std::vector<elem> mem_;  ///< the expected contents of the allocation, in memory order
  elem* base_data_ = nullptr;
  model_view base_m_, cur_m_;
  any_array base_, cur_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  device();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  trace.clear();
  byte_reader in(data, size);
  try {
    fuzz_case c(in);
    c.run();
  } catch (const ndl::error& e) {
    fail(format("unexpected ndl::error: %s", e.what()));
  } catch (const std::exception& e) {
    fail(format("unexpected exception: %s", e.what()));
  }
  // NDL_FUZZ_TRACE=1 prints what each input did (to see what a corpus file exercises).
  static const bool print_trace = std::getenv("NDL_FUZZ_TRACE") != nullptr;
  if (print_trace) std::fprintf(stderr, "--- input of %zu bytes:\n%s", size, trace.c_str());
  return 0;
}
