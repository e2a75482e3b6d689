// One-off: the overlapped boundary's old scalar loop + copy against RebaseDelta, 1,048,853 floats.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <span>
#include <vector>
#include "asyncps/core/rule_kernels.h"
__attribute__((noinline)) void Old(std::span<float> w, std::vector<float>& w0, const std::vector<float>& base,
                                   float divisor, std::vector<float>& out) {
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = (w[i] - w0[i]) / divisor;
    w[i] = base[i] + out[i];
  }
  w0.assign(w.begin(), w.end());
}
int main() {
  const std::size_t n = 1048853;
  std::vector<float> w(n, 1.5f), w0(n, 1.0f), base(n, 0.25f), out(n);
  for (int variant = 0; variant < 2; ++variant) {
    std::vector<double> us;
    for (int r = 0; r < 300; ++r) {
      std::fill(w.begin(), w.end(), 1.5f + r);
      auto t = std::chrono::steady_clock::now();
      if (variant == 0)
        Old(w, w0, base, 5.0f, out);
      else
        asyncps::RebaseDelta(w, w0, base, 5.0f, out);
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("%s: median %.0f us, p10 %.0f, p90 %.0f\n", variant ? "RebaseDelta" : "old loop + copy", us[150],
                us[30], us[270]);
  }
}
