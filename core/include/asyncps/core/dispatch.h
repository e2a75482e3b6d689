// Run-time dispatch of the hot kernels (internal): the models' layers and
// optimizers, and the payload loops of the shard and the client (core/).
//
// A portable build (ASYNCPS_NATIVE=OFF: no -march) compiles for baseline
// x86-64, so a plain loop would run on 128-bit SSE2 everywhere. Marking a hot
// loop ASYNCPS_HOT_KERNEL makes GCC compile it three times (x86-64-v4:
// AVX-512; x86-64-v3: AVX2 + FMA; baseline) and pick the best one for the CPU
// once, when the program loads (an ifunc). A build with -march already targets
// one CPU, and the macro expands to nothing there.
//
// Only functions whose vectorisation GCC does itself (plain loops, GCC vector
// extensions) gain from it: xtensor expressions take xsimd's width from the
// compile flags, not from the clone.
#pragma once

// On the helpers and lambdas a hot kernel calls: inlined, they are compiled
// with the clone's instruction set; called, they would run on the baseline one.
#define ASYNCPS_KERNEL_INLINE __attribute__((always_inline))

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define ASYNCPS_HOT_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ASYNCPS_HOT_KERNEL
#endif
