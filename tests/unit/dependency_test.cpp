// White-box tests of dependency tracking (src/core: commands, event states, queues): long
// chains, fan-in and fan-out, failure propagation through long chains, many waiters, and
// that finished commands, events and queues are freed (no reference cycles).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <ndl/ndl.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/event_state.hpp"
#include "core/queue_impl.hpp"
#include "support/child_process.hpp"
#include "support/devices.hpp"
#include "support/test_util.hpp"

namespace {

constexpr int chain_length = 10000;

class dependency_test : public ndl_test::device_test {};

// 10,000 launches, each depending on the one before through its device event, on an
// out-of-order queue where nothing else orders them.
TEST_P(dependency_test, long_chain_of_dependent_launches) {
  auto q = make_queue(/*in_order=*/false);
  const auto step = [] NDL_KERNEL_FN(ndl::item<1>, int* c, int expected) {
    // Writes the position of the first out-of-order step; the chain keeps counting.
    if (*c != expected && c[1] == -1) c[1] = expected;
    *c += 1;
  };
  int* slot = ndl::malloc_device<int>(2, q);
  q.fill(slot, -1, 2);
  q.fill(slot, 0, 1);
  ndl::event last;
  for (int i = 0; i < chain_length; ++i)
    last = ndl::call_kernel_async(q, step, ndl::range{1}, {last}, slot, i).device_event;
  last.wait();
  int host[2] = {0, 0};
  q.memcpy(host, slot, sizeof host);
  EXPECT_EQ(host[0], chain_length);
  EXPECT_EQ(host[1], -1) << "step " << host[1] << " ran out of order";
  q.wait();
  ndl::free(slot, q);
}

// The same on an in-order queue, without explicit dependencies.
TEST_P(dependency_test, long_in_order_sequence) {
  auto q = make_queue(/*in_order=*/true);
  int* slot = ndl::malloc_device<int>(2, q);
  q.fill(slot, -1, 2);
  q.fill(slot, 0, 1);
  for (int i = 0; i < chain_length; ++i)
    ndl::call_kernel_async(
        q,
        [] NDL_KERNEL_FN(ndl::item<1>, int* c, int expected) {
          if (*c != expected && c[1] == -1) c[1] = expected;
          *c += 1;
        },
        ndl::range{1}, {}, slot, i);
  q.wait();
  int host[2] = {0, 0};
  q.memcpy(host, slot, sizeof host);
  EXPECT_EQ(host[0], chain_length);
  EXPECT_EQ(host[1], -1) << "step " << host[1] << " ran out of order";
  ndl::free(slot, q);
}

// --- long chains through completion callbacks (in child processes) -------------------------
//
// Commands with nothing to do (zero-size launches, copies and fills) and commands whose
// dependency failed finish as soon as they start, on the thread that completed their last
// dependency. A long chain of them behind one blocked command all finish when it does:
// completing one must not start the next recursively on the same stack (10,000 nested
// completions overflow a thread's stack). These scenarios run in a child process with a time
// limit, so that a crash or a runaway is reported as a failure of this test alone.

// Prints "chain complete" once the last command of a chain of empty commands behind a blocked
// kernel has completed.
NDL_TEST_PROBE(empty_chain) {
  const ndl::queue q(ndl::device{"cpu"}, {.in_order = false});
  auto g = std::make_shared<ndl_test::gate>();
  ndl::event last =
      ndl::call_kernel_async(q, [g](ndl::item<1>) { g->pass(); }, ndl::range{1}, {}).device_event;
  g->wait_arrived(1);
  for (int i = 0; i < chain_length; ++i) {
    if (i % 2)
      last = ndl::call_kernel_async(q, [] NDL_KERNEL_FN(ndl::item<2>) {}, ndl::range{4, 0}, {last})
                 .device_event;
    else
      last = q.memcpy_async(nullptr, nullptr, 0, {last});
  }
  g->open();
  const bool done = ndl_test::spin_until([&] { return last.is_complete(); });
  std::printf("chain %s\n", done ? "complete" : "incomplete");
  return done ? 0 : 1;
}

// Prints "chain complete", how many chained kernels ran, and the last command's error code
// and whether its message names the root cause, for a chain of kernels behind a kernel that fails
// once the chain is in place.
NDL_TEST_PROBE(failed_chain) {
  const ndl::queue q(ndl::device{"cpu"}, {.in_order = false});
  auto g = std::make_shared<ndl_test::gate>();
  auto ran = std::make_shared<std::atomic<int>>(0);
  ndl::event last = ndl::call_kernel_async(q,
                                           [g](ndl::item<1>) {
                                             g->pass();
                                             throw std::runtime_error("head of the chain");
                                           },
                                           ndl::range{1}, {})
                        .device_event;
  g->wait_arrived(1);
  for (int i = 0; i < chain_length; ++i)
    last =
        ndl::call_kernel_async(q, [ran](ndl::item<1>) { ran->fetch_add(1); }, ndl::range{1}, {last})
            .device_event;
  g->open();
  const bool done = ndl_test::spin_until([&] { return last.is_complete(); });
  std::printf("chain %s, ran %d\n", done ? "complete" : "incomplete", ran->load());
  if (!done) return 1;
  try {
    last.wait();
  } catch (const ndl::error& e) {
    std::printf("code %s root %d\n", std::string(ndl::to_string(e.code())).c_str(),
                e.message().find("head of the chain") != std::string::npos ? 1 : 0);
  }
  return 0;
}

TEST(dependency_chain_test, long_chain_of_empty_commands_behind_a_blocked_one) {
  const auto r = ndl_test::run_probe("empty_chain", {}, std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out) << r.output;
  EXPECT_EQ(r.signal, 0) << "the child crashed (stack overflow?)\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("chain complete"), std::string::npos) << r.output;
}

// A failure far up a long chain fails every command below it, each with dependency_failed,
// without running any of them.
TEST(dependency_chain_test, failure_propagates_down_a_long_chain) {
  const auto r = ndl_test::run_probe("failed_chain", {}, std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out) << "the chain did not complete in 20 s\n" << r.output;
  EXPECT_EQ(r.signal, 0) << "the child crashed (stack overflow?)\n" << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("chain complete, ran 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("code dependency_failed root 1"), std::string::npos) << r.output;
}

// A dependency_failed error names the root cause once: its message does not grow with the
// length of the chain it failed through (nested messages make long chains quadratic).
TEST_P(dependency_test, dependency_failed_messages_do_not_nest) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue(/*in_order=*/false);
  auto head = ndl::call_kernel_async(
      q, [](ndl::item<1>) { throw std::runtime_error("root cause"); }, ndl::range{1}, {});
  ndl::event last = head.device_event;
  std::vector<ndl::event> chain;
  for (int i = 0; i < 20; ++i) {
    last = q.fill_async(static_cast<int*>(nullptr), 0, 0, {last});
    chain.push_back(last);
  }
  const std::string first = ndl_test::error_message([&] { chain.front().wait(); });
  const std::string twentieth = ndl_test::error_message([&] { chain.back().wait(); });
  EXPECT_NE(twentieth.find("root cause"), std::string::npos) << twentieth;
  EXPECT_LE(twentieth.size(), first.size() + 100) << "the message grows along the chain:\n"
                                                  << twentieth;
  ndl_test::drain(q);
}

// One command waiting for a thousand, and a thousand waiting for one.
TEST_P(dependency_test, fan_in_and_fan_out) {
  auto q = make_queue(/*in_order=*/false);
  constexpr int width = 1000;
  auto a = ndl::array<int>::zeros({width}, q);
  std::vector<ndl::event> parts;
  for (int i = 0; i < width; ++i)
    parts.push_back(
        ndl::call_kernel_async([] NDL_KERNEL_FN(ndl::item<1>, ndl::view<int, 1> v,
                                                int at) { v[static_cast<ndl::size_t>(at)] = at; },
                               ndl::range{1}, {}, a, i)
            .device_event);
  auto total = ndl::array<long long>::zeros({1}, q);
  auto sum = ndl::call_kernel_async(
      [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<const int, 1> v, ndl::view<long long, 1> t) {
        long long s = 0;
        for (ndl::size_t i = 0; i < v.size(); ++i)
          s += v[i];
        t[0] = s;
      },
      ndl::range{1}, parts, a, total);
  auto out = ndl::array<long long>::zeros({width}, q);
  std::vector<ndl::event> readers;
  for (int i = 0; i < width; ++i)
    readers.push_back(ndl::call_kernel_async(
                          [] NDL_KERNEL_FN(ndl::item<1>, ndl::view<const long long, 1> t,
                                           ndl::view<long long, 1> o,
                                           int at) { o[static_cast<ndl::size_t>(at)] = t[0] + at; },
                          ndl::range{1}, {sum.device_event}, total, out, i)
                          .device_event);
  ndl::wait(readers);
  const long long s = static_cast<long long>(width) * (width - 1) / 2;
  EXPECT_EQ(total.to_host()[0], s);
  const auto host = out.to_host();
  for (int i = 0; i < width; ++i)
    ASSERT_EQ(host[static_cast<size_t>(i)], s + i);
}

// Many threads waiting for one event all return, with its error when it failed.
TEST_P(dependency_test, many_waiters_on_one_event) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  for (bool fail : {false, true}) {
    auto q = make_queue(/*in_order=*/false);
    auto g = std::make_shared<ndl_test::gate>();
    ndl_test::open_on_exit guard(g);
    auto ev = ndl::call_kernel_async(q,
                                     [g, fail](ndl::item<1>) {
                                       g->pass();
                                       if (fail) throw std::runtime_error("shared failure");
                                     },
                                     ndl::range{1}, {});
    ASSERT_TRUE(g->wait_arrived(1));
    std::atomic<int> returned{0}, errors{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 8; ++i)
      waiters.emplace_back([&, i] {
        try {
          (i % 2 ? ev.host_event : ev.device_event).wait();
        } catch (const ndl::error& e) {
          if (e.code() == ndl::errc::kernel_failure) errors.fetch_add(1);
        }
        returned.fetch_add(1);
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(returned.load(), 0);
    g->open();
    for (auto& t : waiters)
      t.join();
    EXPECT_EQ(returned.load(), 8);
    EXPECT_EQ(errors.load(), fail ? 8 : 0);
    ndl_test::drain(q);
  }
}

// --- no reference cycles: what finished is freed -----------------------------------------------

// Once a command has finished and the runtime let go of it, only the user's event handles
// keep its state alive (the in-order queue forgets its last command; the command forgets its
// queue).
TEST_P(dependency_test, finished_commands_are_held_only_by_their_events) {
  for (bool in_order : {true, false}) {
    auto q = make_queue(in_order);
    auto a = ndl::array<int>::zeros({1000}, q);
    auto [host, devev] = ndl::call_kernel_async(
        [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 1; },
        ndl::range{1000}, {}, a);
    q.wait();
    // The two handles share one command.
    EXPECT_TRUE(ndl_test::spin_until([&] { return devev.state().use_count() == 2; }))
        << "use count " << devev.state().use_count() << (in_order ? " (in-order)" : "");
    std::weak_ptr<ndl::detail::event_state> weak = devev.state();
    host = ndl::event();
    devev = ndl::event();
    EXPECT_TRUE(weak.expired());
  }
}

TEST_P(dependency_test, a_dropped_queue_is_freed_once_its_work_is_done) {
  std::weak_ptr<ndl::detail::queue_impl> weak;
  ndl::launch_events ev;
  {
    auto q = make_queue(/*in_order=*/true);
    weak = q.impl();
    auto a = ndl::array<int>::zeros({1000}, make_queue());
    ev = ndl::call_kernel_async(
        q, [] NDL_KERNEL_FN(ndl::item<1> it, ndl::view<int, 1> v) { v[it.get_id(0)] = 2; },
        ndl::range{1000}, {}, a);
  }
  ev.host_event.wait();
  // The events outlive the queue without keeping it.
  EXPECT_TRUE(ndl_test::spin_until([&] { return weak.expired(); }))
      << "a finished command (or its event) keeps its queue alive";
}

TEST_P(dependency_test, arrays_are_freed_when_a_failed_command_is_recorded) {
  NDL_SKIP_UNLESS_HOST_KERNELS();
  auto q = make_queue();
  std::weak_ptr<const void> weak;
  {
    auto a = ndl::array<int>::zeros({10}, q);
    weak = a.owner();
    ndl::call_kernel_async(
        [](ndl::item<1>, ndl::view<int, 1>) { throw std::runtime_error("keep nothing"); },
        ndl::range{1}, {}, a);
  }
  // The queue remembers the failure for its next wait(), but not the arguments.
  EXPECT_TRUE(ndl_test::spin_until([&] { return weak.expired(); }));
  NDL_EXPECT_ERROR(q.wait(), ndl::errc::kernel_failure, "keep nothing");
}

// White-box tests of the runtime's host-side dependency tracking, compiled by the host
// compiler: they run on the CPU device. Device-side ordering on CUDA streams is covered by
// tests/cuda and by the API suite, which runs on every device.
INSTANTIATE_TEST_SUITE_P(dev, dependency_test, ::testing::ValuesIn(ndl::device::all("cpu")),
                         ::ndl_test::device_test_name);

// --- event_state ---------------------------------------------------------------------------

TEST(event_state_test, wait_rethrows_and_marks_the_error_observed) {
  ndl::detail::event_state s(/*profiling=*/false);
  EXPECT_EQ(s.status(), ndl::event_status::submitted);
  s.mark_running();
  EXPECT_EQ(s.status(), ndl::event_status::running);
  s.complete(std::make_exception_ptr(ndl::error(ndl::errc::kernel_failure, "boom")));
  EXPECT_TRUE(s.is_complete());
  s.mark_running();  // no way back from complete
  EXPECT_EQ(s.status(), ndl::event_status::complete);
  EXPECT_FALSE(s.error_observed());
  EXPECT_THROW(s.wait(), ndl::error);
  EXPECT_TRUE(s.error_observed());
  EXPECT_THROW(s.wait(), ndl::error);
}

TEST(event_state_test, success_is_not_an_error) {
  ndl::detail::event_state s(/*profiling=*/true);
  EXPECT_TRUE(s.profiling());
  s.complete(nullptr);
  EXPECT_NO_THROW(s.wait());
  EXPECT_FALSE(s.error_observed());
  EXPECT_EQ(s.error(), nullptr);
}

}  // namespace
