// ScopedFlushDenormals: while it lives, the calling thread's float arithmetic
// treats denormal (subnormal) inputs as zero and flushes denormal results to
// zero (x86's MXCSR DAZ and FTZ bits); its destructor restores the caller's
// mode.
//
// Why: Intel cores take a microcode assist, ~100 cycles, for each operation on
// a denormal, and training makes them (Adam's first moment of a weight whose
// gradient stays 0 decays by beta1 every step, through the denormal range).
// On a Xeon the seed CNN trained 2x slower after a few hundred steps
// (docs/performance.md, "Worker compute"). TensorFlow, Keras' reference,
// flushes denormals on CPU the same way; values below 1.2e-38 that TensorFlow
// makes 0 are 0 here too. On other architectures this does nothing.
//
// The models' Sequential sets one around every Forward and
// ComputeGradients/TrainStep, and RuleDriver around each of its steps (EAMSGD's
// momentum decays through denormals too), so a program embedding either needs
// nothing of its own. Not copyable; lives on one thread.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define ASYNCPS_HAS_MXCSR 1
#endif

namespace asyncps {

class ScopedFlushDenormals {
 public:
  static constexpr unsigned kFlushToZero = 0x8000;       // MXCSR.FTZ
  static constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR.DAZ

#ifdef ASYNCPS_HAS_MXCSR
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }
#else
  ScopedFlushDenormals() = default;
#endif
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  [[maybe_unused]] unsigned saved_ = 0;
};

}  // namespace asyncps
