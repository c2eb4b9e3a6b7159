#include "core/fault.hpp"

#include <cstdlib>
#include <vector>

#include "ndl/error.hpp"

namespace ndl::detail {

std::atomic<bool> fault_injection::any_armed_{false};

namespace {

struct site_state {
  // 0: disarmed. Each field is its own atomic: arming while other threads call the site
  // needs no ordering beyond "each call sees some consistent count", so all are relaxed.
  std::atomic<std::uint64_t> nth{0};
  std::atomic<bool> and_later{false};
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> fired{0};
};

site_state& state(fault_site site) {
  static site_state sites[fault_site_count];
  return sites[static_cast<int>(site)];
}

struct armed_fault {
  fault_site site;
  std::uint64_t nth;
  bool and_later;
};

[[noreturn]] void bad_spec(std::string_view spec, std::string_view part, std::string_view why) {
  throw_error(errc::invalid_argument,
              "malformed fault specification '" + std::string(spec) + "': '" + std::string(part) +
                  "' " + std::string(why) +
                  " (expected site:n[+], comma-separated, with site alloc, copy, launch or "
                  "submit and n counted from 1, e.g. 'copy:2,launch:1+')");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

armed_fault parse_term(std::string_view spec, std::string_view term) {
  const size_t colon = term.find(':');
  if (colon == std::string_view::npos) bad_spec(spec, term, "has no ':n'");
  const std::string_view name = trim(term.substr(0, colon));
  std::string_view count = trim(term.substr(colon + 1));
  armed_fault f{fault_site::alloc, 0, false};
  bool known = false;
  for (int i = 0; i < fault_site_count; ++i)
    if (name == to_string(static_cast<fault_site>(i))) {
      f.site = static_cast<fault_site>(i);
      known = true;
    }
  if (!known) bad_spec(spec, name, "is not a fault site");
  if (!count.empty() && count.back() == '+') {
    f.and_later = true;
    count.remove_suffix(1);
  }
  if (count.empty() || count.size() > 18) bad_spec(spec, term, "needs a call number n >= 1");
  for (char c : count) {
    if (c < '0' || c > '9') bad_spec(spec, term, "needs a call number n >= 1");
    f.nth = f.nth * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (f.nth == 0) bad_spec(spec, term, "needs a call number n >= 1 (calls count from 1)");
  return f;
}

}  // namespace

std::string_view to_string(fault_site site) noexcept {
  switch (site) {
    case fault_site::alloc:
      return "alloc";
    case fault_site::copy:
      return "copy";
    case fault_site::launch:
      return "launch";
    case fault_site::submit:
      return "submit";
  }
  return "unknown";
}

void fault_injection::update_any_armed() noexcept {
  bool any = false;
  for (int i = 0; i < fault_site_count; ++i)
    any = any || state(static_cast<fault_site>(i)).nth.load(std::memory_order_relaxed) != 0;
  // Relaxed: pairs with the relaxed load in fires(); see there.
  any_armed_.store(any, std::memory_order_relaxed);
}

void fault_injection::arm(fault_site site, std::uint64_t nth, bool and_later) {
  if (nth == 0) throw_error(errc::invalid_argument, "fault injection: calls count from 1, not 0");
  site_state& s = state(site);
  s.nth.store(0, std::memory_order_relaxed);  // disarmed while the counts restart
  s.calls.store(0, std::memory_order_relaxed);
  s.fired.store(0, std::memory_order_relaxed);
  s.and_later.store(and_later, std::memory_order_relaxed);
  s.nth.store(nth, std::memory_order_relaxed);
  update_any_armed();
}

void fault_injection::disarm(fault_site site) {
  state(site).nth.store(0, std::memory_order_relaxed);
  update_any_armed();
}

void fault_injection::disarm_all() {
  for (int i = 0; i < fault_site_count; ++i)
    state(static_cast<fault_site>(i)).nth.store(0, std::memory_order_relaxed);
  update_any_armed();
}

std::uint64_t fault_injection::calls(fault_site site) {
  return state(site).calls.load(std::memory_order_relaxed);
}

std::uint64_t fault_injection::fired(fault_site site) {
  return state(site).fired.load(std::memory_order_relaxed);
}

std::uint64_t fault_injection::fires_slow(fault_site site) noexcept {
  site_state& s = state(site);
  const std::uint64_t nth = s.nth.load(std::memory_order_relaxed);
  if (nth == 0) return 0;
  const std::uint64_t call = s.calls.fetch_add(1, std::memory_order_relaxed) + 1;
  const bool hit = call == nth || (call > nth && s.and_later.load(std::memory_order_relaxed));
  if (!hit) return 0;
  s.fired.fetch_add(1, std::memory_order_relaxed);
  return call;
}

void fault_injection::arm_from_spec(std::string_view spec) {
  // Parse everything first: a malformed spec arms nothing.
  std::vector<armed_fault> faults;
  if (!trim(spec).empty()) {
    size_t pos = 0;
    while (pos <= spec.size()) {
      size_t comma = spec.find(',', pos);
      if (comma == std::string_view::npos) comma = spec.size();
      const std::string_view term = trim(spec.substr(pos, comma - pos));
      if (term.empty()) bad_spec(spec, term, "is empty");
      const armed_fault f = parse_term(spec, term);
      for (const auto& other : faults)
        if (other.site == f.site) bad_spec(spec, term, "names a site already named");
      faults.push_back(f);
      pos = comma + 1;
    }
  }
  for (const auto& f : faults)
    arm(f.site, f.nth, f.and_later);
}

void fault_injection::arm_from_environment() {
  const char* env = std::getenv("NDL_FAULT");
  if (!env) return;
  try {
    arm_from_spec(env);
  } catch (const error& e) {
    throw_error(errc::invalid_argument, "NDL_FAULT: " + e.message());
  }
}

std::string fault_injection::describe(fault_site site, std::uint64_t call) {
  return "fault injected at " + std::string(to_string(site)) + " call " + std::to_string(call);
}

}  // namespace ndl::detail
