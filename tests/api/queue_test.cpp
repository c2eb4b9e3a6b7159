// ndl::queue (include/ndl/queue.hpp): identity, options, ordering, copies and fills, waiting
// and the reporting of errors nobody waited for.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <ndl/ndl.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

class queue_test : public ndl_test::device_test {};

// --- identity and options --------------------------------------------------------------------

NDL_TEST(queue_identity_test, default_queue_is_canonical) {
  const ndl::queue a{};
  const ndl::queue b = ndl::queue::default_queue();
  const ndl::queue c = ndl::queue::default_queue(ndl::device{});
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == c);
  EXPECT_TRUE(a.get_device() == ndl::device::default_device());
  EXPECT_TRUE(a.is_in_order());
  EXPECT_FALSE(a.has_profiling());
}

NDL_TEST_P(queue_test, each_device_has_one_default_queue) {
  const ndl::queue a = ndl::queue::default_queue(dev());
  const ndl::queue b = ndl::queue::default_queue(dev());
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a.get_device() == dev());
  EXPECT_TRUE(a.is_in_order());
  EXPECT_FALSE(a.has_profiling());
  // Arrays made without a queue of the default device land on it.
  if (dev() == ndl::device::default_device()) {
    auto arr = ndl::array<int>::zeros({4});
    EXPECT_TRUE(arr.get_queue() == a);
  }
}

NDL_TEST_P(queue_test, distinct_queues_compare_unequal_and_copies_equal) {
  const ndl::queue a{dev()};
  const ndl::queue b{dev()};
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == default_queue());
  const ndl::queue copy = a;
  EXPECT_TRUE(copy == a);
  EXPECT_TRUE(a.get_device() == dev());
}

NDL_TEST_P(queue_test, options_and_describe) {
  const ndl::queue in_order = make_queue(true, false);
  const ndl::queue ooo = make_queue(false, true);
  EXPECT_TRUE(in_order.is_in_order());
  EXPECT_FALSE(in_order.has_profiling());
  EXPECT_FALSE(ooo.is_in_order());
  EXPECT_TRUE(ooo.has_profiling());
  const std::string d1 = in_order.describe(), d2 = ooo.describe();
  EXPECT_NE(d1.find(dev().filter_string()), std::string::npos) << d1;
  EXPECT_NE(d1.find("in-order"), std::string::npos) << d1;
  EXPECT_NE(d2.find("out-of-order"), std::string::npos) << d2;
  EXPECT_NE(d2.find("profiling"), std::string::npos) << d2;
  EXPECT_NE(d1, d2);
  // Two queues with the same options are still told apart.
  EXPECT_NE(make_queue().describe(), make_queue().describe());
}

// --- copies and fills ------------------------------------------------------------------------

NDL_TEST_P(queue_test, fill_and_memcpy_round_trip) {
  auto q = make_queue();
  constexpr ndl::size_t n = 1000;
  int* p = ndl::malloc_device<int>(n, q);
  q.fill(p, 42, n);
  std::vector<int> host(n, 0);
  q.memcpy(host.data(), p, n * sizeof(int));
  EXPECT_EQ(host, std::vector<int>(n, 42));
  // Host to device to device to host.
  for (ndl::size_t i = 0; i < n; ++i)
    host[i] = static_cast<int>(i * 3);
  int* p2 = ndl::malloc_device<int>(n, q);
  q.memcpy(p, host.data(), n * sizeof(int));
  q.memcpy(p2, p, n * sizeof(int));
  std::vector<int> back(n, -1);
  q.memcpy(back.data(), p2, n * sizeof(int));
  EXPECT_EQ(back, host);
  ndl::free(p2, q);
  ndl::free(p, q);
}

// Plain host memory works as well as USM, in both directions and host to host.
NDL_TEST_P(queue_test, memcpy_and_fill_accept_plain_host_memory) {
  auto q = make_queue();
  std::vector<double> a(100), b(100, 0.0);
  q.fill(a.data(), 2.5, a.size());
  q.memcpy(b.data(), a.data(), sizeof(double) * 100);
  EXPECT_EQ(b, std::vector<double>(100, 2.5));
}

NDL_TEST_P(queue_test, several_threads_may_wait_on_one_queue) {
  auto q = make_queue(/*in_order=*/false);
  constexpr ndl::size_t n = 1 << 16;
  auto a = ndl::array<int>::zeros({n}, q);
  for (int i = 0; i < 8; ++i)
    ndl::call_kernel_async(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v, int k) {
          if (it.get_id(0) % 8 == static_cast<ndl::size_t>(k)) v[it.get_id(0)] = k;
        },
        ndl::range{n}, {}, a, i);
  std::vector<std::thread> waiters;
  std::atomic<int> done{0};
  for (int i = 0; i < 4; ++i)
    waiters.emplace_back([&] {
      q.wait();
      done.fetch_add(1);
    });
  for (auto& t : waiters)
    t.join();
  EXPECT_EQ(done.load(), 4);
  const auto host = a.to_host();
  for (ndl::size_t i = 0; i < n; ++i)
    ASSERT_EQ(host[i], static_cast<int>(i % 8));
}

NDL_TEST_P(queue_test, fill_of_every_element_size) {
  auto q = make_queue();
  struct s16 {
    std::int32_t a;
    float b;
    double c;
  };
  struct s3 {
    char c[3];
  };
  constexpr ndl::size_t n = 333;
  auto* p1 = ndl::malloc_device<std::uint8_t>(n, q);
  auto* p2 = ndl::malloc_device<std::uint16_t>(n, q);
  auto* p8 = ndl::malloc_device<double>(n, q);
  auto* p16 = ndl::malloc_device<s16>(n, q);
  auto* p3 = ndl::malloc_device<s3>(n, q);
  q.fill(p1, std::uint8_t{0xAB}, n);
  q.fill(p2, std::uint16_t{0xBEEF}, n);
  q.fill(p8, -2.5, n);
  q.fill(p16, s16{-7, 1.5f, 1e300}, n);
  q.fill(p3, s3{{'x', 'y', 'z'}}, n);
  std::vector<std::uint8_t> h1(n);
  std::vector<std::uint16_t> h2(n);
  std::vector<double> h8(n);
  std::vector<s16> h16(n);
  std::vector<s3> h3(n);
  q.memcpy(h1.data(), p1, n);
  q.memcpy(h2.data(), p2, n * 2);
  q.memcpy(h8.data(), p8, n * 8);
  q.memcpy(h16.data(), p16, n * sizeof(s16));
  q.memcpy(h3.data(), p3, n * sizeof(s3));
  for (ndl::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(h1[i], 0xAB);
    ASSERT_EQ(h2[i], 0xBEEF);
    ASSERT_EQ(h8[i], -2.5);
    ASSERT_EQ(h16[i].a, -7);
    ASSERT_EQ(h16[i].b, 1.5f);
    ASSERT_EQ(h16[i].c, 1e300);
    ASSERT_EQ(std::string(h3[i].c, 3), "xyz");
  }
  for (void* p : {static_cast<void*>(p1), static_cast<void*>(p2), static_cast<void*>(p8),
                  static_cast<void*>(p16), static_cast<void*>(p3)})
    ndl::free(p, q);
}

// A fill element larger than the runtime's pattern buffer must either work or be refused
// with invalid_argument, never write garbage.
NDL_TEST_P(queue_test, large_fill_element_works_or_is_refused) {
  auto q = make_queue();
  struct big {
    std::uint64_t v[16];
  };
  big value{};
  for (int i = 0; i < 16; ++i)
    value.v[i] = 0x1111111111111111ull * static_cast<unsigned>(i);
  constexpr ndl::size_t n = 10;
  big* p = ndl::malloc_device<big>(n, q);
  try {
    q.fill(p, value, n);
    std::vector<big> host(n);
    q.memcpy(host.data(), p, n * sizeof(big));
    for (ndl::size_t i = 0; i < n; ++i)
      for (int j = 0; j < 16; ++j)
        ASSERT_EQ(host[i].v[j], value.v[j]);
  } catch (const ndl::error& e) {
    EXPECT_EQ(e.code(), ndl::errc::invalid_argument) << e.what();
    EXPECT_NE(e.message().find("128"), std::string::npos) << "names the element size";
  }
  ndl::free(p, q);
}

NDL_TEST_P(queue_test, async_copies_and_fills_follow_their_dependencies) {
  // Out of order: only the dependency events order these commands.
  auto q = make_queue(/*in_order=*/false);
  constexpr ndl::size_t n = 1 << 20;  // large enough to be split across threads
  int* a = ndl::malloc_device<int>(n, q);
  int* b = ndl::malloc_device<int>(n, q);
  std::vector<int> host(n, 0);
  for (int round = 1; round <= 3; ++round) {
    const ndl::event fa = q.fill_async(a, round, n);
    const ndl::event fb = q.fill_async(b, -round, n, {fa});
    const ndl::event ca = q.memcpy_async(b, a, n * sizeof(int) / 2, {fb});
    const ndl::event back = q.memcpy_async(host.data(), b, n * sizeof(int), {ca});
    back.wait();
    EXPECT_TRUE(fa.is_complete() && fb.is_complete() && ca.is_complete());
    for (ndl::size_t i = 0; i < n; ++i)
      ASSERT_EQ(host[i], i < n / 2 ? round : -round) << "round " << round << " at " << i;
  }
  q.wait();
  ndl::free(a, q);
  ndl::free(b, q);
}

NDL_TEST_P(queue_test, zero_sized_copies_and_fills_are_no_ops) {
  auto q = make_queue();
  q.memcpy(nullptr, nullptr, 0);
  q.fill(static_cast<int*>(nullptr), 1, 0);
  const ndl::event e = q.memcpy_async(nullptr, nullptr, 0);
  e.wait();
  EXPECT_TRUE(e.is_complete());
  q.wait();
}

NDL_TEST_P(queue_test, null_and_misaligned_pointers_are_invalid_arguments) {
  auto q = make_queue();
  int* p = ndl::malloc_device<int>(16, q);
  int host[16] = {};
  NDL_EXPECT_ERROR(q.memcpy(nullptr, p, 4), ndl::errc::invalid_argument, "null", "destination");
  NDL_EXPECT_ERROR(q.memcpy(host, nullptr, 4), ndl::errc::invalid_argument, "null", "source");
  NDL_EXPECT_ERROR(q.memcpy_async(nullptr, p, 4), ndl::errc::invalid_argument, "null");
  NDL_EXPECT_ERROR(q.fill(static_cast<int*>(nullptr), 1, 4), ndl::errc::invalid_argument, "null");
  int* misaligned =
      reinterpret_cast<int*>(reinterpret_cast<std::uintptr_t>(p) + 1);  // never dereferenced
  NDL_EXPECT_ERROR(q.fill(misaligned, 5, 2), ndl::errc::invalid_argument, "align");
  NDL_EXPECT_ERROR(q.fill_async(misaligned, 5, 2), ndl::errc::invalid_argument, "align");
  // Nothing was written by the refused calls.
  q.fill(p, 0, 16);
  std::vector<int> back(16, -1);
  q.memcpy(back.data(), p, sizeof(int) * 16);
  EXPECT_EQ(back, std::vector<int>(16, 0));
  q.wait();
  ndl::free(p, q);
}

// --- ordering --------------------------------------------------------------------------------

// On an in-order queue every command waits for the one before, also with no dependencies.
NDL_TEST_P(queue_test, in_order_queue_runs_commands_one_after_the_other) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/true);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto seq = std::make_shared<std::atomic<int>>(0);
  auto order = std::make_shared<std::vector<int>>(3, -1);
  auto first = ndl::call_kernel_async(q, ndl::cpu_only([g, seq, order](ndl::item<1>) {
                                        g->pass();
                                        (*order)[0] = seq->fetch_add(1);
                                      }),
                                      ndl::range{1}, {});
  ASSERT_TRUE(g->wait_arrived(1));
  auto second = ndl::call_kernel_async(
      q, ndl::cpu_only([seq, order](ndl::item<1>) { (*order)[1] = seq->fetch_add(1); }),
      ndl::range{1}, {});
  int* p = ndl::malloc_device<int>(4, q);
  const ndl::event fill = q.fill_async(p, 9, 4);
  // Let a helper thread wait on the last command: waiting helps run queued work, so if the
  // fill were not ordered behind the blocked kernel, it would run now.
  std::thread helper([fill] { fill.wait(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(second.device_event.status(), ndl::event_status::submitted);
  EXPECT_FALSE(fill.is_complete());
  g->open();
  helper.join();
  q.wait();
  EXPECT_EQ((*order)[0], 0);
  EXPECT_EQ((*order)[1], 1);
  EXPECT_EQ(g->timeouts.load(), 0);
  ndl::free(p, q);
}

// An out-of-order queue runs independent commands at the same time: the first kernel can
// only finish once the second one, submitted after it, has run.
NDL_TEST_P(queue_test, out_of_order_queue_runs_independent_commands_concurrently) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto a =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
  auto b =
      ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->open(); }), ndl::range{1}, {});
  ndl::wait({a.device_event, b.device_event});
  EXPECT_EQ(g->timeouts.load(), 0) << "the two launches did not run concurrently";
}

// --- waiting ---------------------------------------------------------------------------------

NDL_TEST_P(queue_test, wait_waits_for_every_command) {
  auto q = make_queue(/*in_order=*/false);
  constexpr ndl::size_t n = 4096;
  std::vector<ndl::array<int>> arrays;
  for (int i = 0; i < 16; ++i) {
    arrays.push_back(ndl::array<int>(ndl::range{n}, q));
    ndl::call_kernel_async(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> o, int v) { o[it.get_id(0)] = v; },
        ndl::range{n}, {}, arrays.back(), i);
  }
  q.wait();
  for (int i = 0; i < 16; ++i) {
    // to_host on an out-of-order queue does not order itself after the kernels: q.wait() did.
    EXPECT_EQ(arrays[static_cast<size_t>(i)].to_host(), std::vector<int>(n, i));
  }
  q.wait();  // nothing in flight: returns at once
}

NDL_TEST_P(queue_test, wait_reports_errors_nobody_waited_for_once) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  for (int i = 0; i < 3; ++i)
    ndl::call_kernel_async(
        q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("nobody waits for me"); }),
        ndl::range{1}, {});
  NDL_EXPECT_ERROR(q.wait(), ndl::errc::kernel_failure, "nobody waits for me", "2 more",
                   q.describe());
  // Reported once: the errors are cleared.
  EXPECT_NO_THROW(q.wait());
}

NDL_TEST_P(queue_test, wait_does_not_report_errors_already_seen_through_an_event) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  auto [host, devev] = ndl::call_kernel_async(
      q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("seen"); }), ndl::range{1}, {});
  NDL_EXPECT_ERROR(devev.wait(), ndl::errc::kernel_failure, "seen");
  EXPECT_NO_THROW(q.wait());
}

// The last handle going away does not wait; the work still completes, and an error nobody
// waited for is reported on stderr.
NDL_TEST_P(queue_test, dropping_a_queue_with_work_in_flight_completes_the_work) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto g = std::make_shared<ndl_test::gate>();
  ndl_test::open_on_exit guard(g);
  auto done = std::make_shared<std::atomic<int>>(0);
  {
    ndl::queue q = make_queue();
    ndl::call_kernel_async(q, ndl::cpu_only([g](ndl::item<1>) { g->pass(); }), ndl::range{1}, {});
    ndl::call_kernel_async(q, ndl::cpu_only([done](ndl::item<1>) { done->fetch_add(1); }),
                           ndl::range{1}, {});
    ASSERT_TRUE(g->wait_arrived(1));
  }  // the queue and every event handle are gone; the kernels are not
  g->open();
  EXPECT_TRUE(ndl_test::spin_until([&] { return done->load() == 1; }));
}

// Captures what this process writes to stderr (file descriptor 2) into a temporary file.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    char name[] = "/tmp/ndl_stderr_XXXXXX";
    fd_ = mkstemp(name);
    path_ = name;
    saved_ = dup(2);
    dup2(fd_, 2);
  }
  ~stderr_capture() {
    restore();
    std::remove(path_.c_str());
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;

  /// Puts stderr back.
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    close(fd_);
    saved_ = -1;
  }
  /// Everything captured so far.
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
  std::string path_;
};

// "Errors nobody waited for are reported at queue wait or destruction, loudly": a queue
// destroyed with a failed command nobody waited for says so on stderr.
NDL_TEST_P(queue_test, destroying_a_queue_reports_errors_nobody_waited_for) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  stderr_capture capture;
  {
    ndl::queue q = make_queue();
    ndl::call_kernel_async(
        q, ndl::cpu_only([](ndl::item<1>) { throw std::runtime_error("dropped on the floor"); }),
        ndl::range{1}, {});
  }  // the last handle goes now or when the command finishes
  const bool reported = ndl_test::spin_until([&] {
    const std::string t = capture.text();
    return t.find("dropped on the floor") != std::string::npos;
  });
  capture.restore();
  const std::string text = capture.text();
  EXPECT_TRUE(reported) << "stderr: " << text;
  EXPECT_NE(text.find("nobody waited for"), std::string::npos) << text;
}

}  // namespace
