// Hand-off annotations for ThreadSanitizer: a zero-copy message handed to
// ZeroMQ is released on ZeroMQ's I/O thread, through libzmq code TSan does not
// see into (its reports there are suppressed as called_from_lib). Release
// before the hand-off and acquire in the callback tell TSan about the order
// libzmq guarantees. No-ops in other builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define ASYNCPS_TSAN_RELEASE(addr) __tsan_release(addr)
#define ASYNCPS_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define ASYNCPS_TSAN_RELEASE(addr) ((void)(addr))
#define ASYNCPS_TSAN_ACQUIRE(addr) ((void)(addr))
#endif
