// black_scholes: European call and put prices for 1,048,576 options.
//
// The C++ counterpart of numba-dpex's examples/kernel/black_scholes.py, with the same
// kernel, constants and sizes: price and strike uniform in [10, 50), maturity uniform in
// [1, 2), risk-free rate 0.1, volatility 0.2, seed 777, double precision. Five arrays and
// three scalars are passed to one range launch; the queue is inferred from the arrays.
//
// The result is checked against a host computation written independently (the textbook
// d1/d2 form with the normal CDF from erfc), within a relative tolerance.
//
// Usage: ndl_example_black_scholes [device-filter|all] [options]
//   Runs on every device (or those matching the filter), checks the prices and prints PASS
//   or FAIL per device; exits non-zero on failure.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include <ndl/ndl.hpp>

namespace {

// The constants of the numba-dpex example.
constexpr double price_low = 10.0, price_high = 50.0;
constexpr double strike_low = 10.0, strike_high = 50.0;
constexpr double maturity_low = 1.0, maturity_high = 2.0;
constexpr double risk_free = 0.1;
constexpr double volatility = 0.2;
constexpr ndl::size_t default_options = 1024 * 1024;

// Prices agree to about 1e-14 relative in double precision; 1e-9 leaves room for a GPU's
// math library while still catching any wrong term of the formula.
constexpr double tolerance = 1e-9;

struct outcome {
  bool ok = false;
  double launch_ms = 0;  // wall time of the synchronous launch alone
  std::string detail;    // why it failed
};

// The standard normal CDF, through erfc (accurate in both tails, unlike 0.5 + 0.5 * erf).
double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

// The textbook Black-Scholes formulas, independent of the kernel's rearrangement.
void reference_prices(double s, double k, double t, double& call, double& put) {
  const double sigma_sqrt_t = volatility * std::sqrt(t);
  const double d1 =
      (std::log(s / k) + (risk_free + 0.5 * volatility * volatility) * t) / sigma_sqrt_t;
  const double d2 = d1 - sigma_sqrt_t;
  const double discount = std::exp(-risk_free * t);
  call = s * normal_cdf(d1) - k * discount * normal_cdf(d2);
  put = k * discount * normal_cdf(-d2) - s * normal_cdf(-d1);
}

bool close(double got, double want) {
  return std::abs(got - want) <= tolerance * std::max(1.0, std::abs(want));
}

outcome run(const ndl::device& dev, ndl::size_t nopt) {
  std::mt19937_64 gen(777);
  std::uniform_real_distribution<double> price_dist(price_low, price_high);
  std::uniform_real_distribution<double> strike_dist(strike_low, strike_high);
  std::uniform_real_distribution<double> maturity_dist(maturity_low, maturity_high);
  std::vector<double> price_host(nopt), strike_host(nopt), t_host(nopt);
  for (ndl::size_t i = 0; i < nopt; ++i) {
    price_host[i] = price_dist(gen);
    strike_host[i] = strike_dist(gen);
    t_host[i] = maturity_dist(gen);
  }

  // As in numba-dpex: call starts at zero and put at -1, so an element the kernel skipped
  // shows up as a wrong price.
  const ndl::queue q = ndl::queue::default_queue(dev);
  auto price = ndl::array<double>::from_host(price_host, q);
  auto strike = ndl::array<double>::from_host(strike_host, q);
  auto t = ndl::array<double>::from_host(t_host, q);
  auto call = ndl::array<double>::zeros({nopt}, q);
  auto put = ndl::array<double>::full({nopt}, -1.0, q);

  // The numba-dpex kernel, term for term: N(d) is written as 0.5 + 0.5 * erf(d / sqrt(2)), with
  // the 1/sqrt(2) folded into `y`; the put follows from put-call parity.
  auto black_scholes = [] NDL_KERNEL_FN(
                           ndl::item<1> it, std::int64_t n_options,
                           ndl::view<const double, 1> prices, ndl::view<const double, 1> strikes,
                           ndl::view<const double, 1> maturities, double rate, double vol,
                           ndl::view<double, 1> calls, ndl::view<double, 1> puts) {
    const ndl::size_t i = it.get_id(0);
    // numba-dpex passes nopt but does not use it; here it guards the bound, which costs
    // nothing and keeps the kernel correct if launched over a rounded-up range.
    if (static_cast<std::int64_t>(i) >= n_options) return;
    const double mr = -rate;
    const double sig_sig_two = vol * vol * 2.0;
    const double p = prices[i];
    const double s = strikes[i];
    const double tt = maturities[i];
    const double a = std::log(p / s);
    const double b = tt * mr;
    const double z = tt * sig_sig_two;
    const double c = 0.25 * z;
    const double y = 1.0 / std::sqrt(z);
    const double w1 = (a - b + c) * y;
    const double w2 = (a - b - c) * y;
    const double d1 = 0.5 + 0.5 * std::erf(w1);
    const double d2 = 0.5 + 0.5 * std::erf(w2);
    const double se = std::exp(b) * s;
    const double r = p * d1 - se * d2;
    calls[i] = r;
    puts[i] = r - p + se;
  };

  const auto t0 = std::chrono::steady_clock::now();
  ndl::call_kernel(black_scholes, ndl::range{nopt}, static_cast<std::int64_t>(nopt), price, strike,
                   t, risk_free, volatility, call, put);
  const auto t1 = std::chrono::steady_clock::now();

  outcome out;
  out.launch_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::vector<double> call_host = call.to_host();
  const std::vector<double> put_host = put.to_host();
  for (ndl::size_t i = 0; i < nopt; ++i) {
    double want_call = 0, want_put = 0;
    reference_prices(price_host[i], strike_host[i], t_host[i], want_call, want_put);
    if (!close(call_host[i], want_call) || !close(put_host[i], want_put)) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "option %zu (S=%.6f K=%.6f T=%.6f): call %.15g put %.15g, expected call "
                    "%.15g put %.15g",
                    static_cast<std::size_t>(i), price_host[i], strike_host[i], t_host[i],
                    call_host[i], put_host[i], want_call, want_put);
      out.detail = buf;
      return out;
    }
  }
  out.ok = true;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string filter = argc > 1 ? argv[1] : "all";
    const ndl::size_t nopt = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : default_options;
    const auto devices = filter == "all" ? ndl::device::all() : ndl::device::all(filter);
    if (devices.empty()) {
      std::fprintf(stderr, "black_scholes: no device matches '%s'\n", filter.c_str());
      return 2;
    }

    int failures = 0;
    for (const ndl::device& dev : devices) {
      outcome r;
      try {
        r = run(dev, nopt);
      } catch (const std::exception& e) {
        r.detail = e.what();
      }
      std::printf("%s black_scholes %zu options on %s (%s): launch %.3f ms%s%s\n",
                  r.ok ? "PASS" : "FAIL", static_cast<std::size_t>(nopt),
                  dev.filter_string().c_str(), dev.name().c_str(), r.launch_ms, r.ok ? "" : ": ",
                  r.detail.c_str());
      failures += r.ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "black_scholes: %s\n", e.what());
    return 2;
  }
}
