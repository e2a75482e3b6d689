// ClientHandle: what asyncps.Client holds: the C++ Client, and the mutex that
// keeps two Python threads from using it at once (the GIL is released during
// every network wait, and a Client is used by one thread at a time).
//
// In a process forked from the one that connected, the handle refuses every
// call before touching the mutex (another thread of the parent may have held
// it at the fork) or the client, and Close() and the destructor release
// nothing: the sockets and shared memory are the parent's (asyncps/client.h).
#pragma once

#include <pybind11/pybind11.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "asyncps/client/client.h"
#include "errors.h"

namespace asyncps::python {

// ClientOptions::interrupt for Python: runs the signal handlers (with the GIL)
// and returns true when one raised, e.g. KeyboardInterrupt on Ctrl-C; the
// exception stays set for ClientHandle::Call to raise. Only the main thread
// runs signal handlers; elsewhere it returns false.
inline bool PythonSignalRaised() {
  pybind11::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

// Raises the Python exception set during a call (by PythonSignalRaised), if
// any, else the asyncps.Error of `st`. REQUIRES: the GIL is held.
inline void ThrowIfErrorOrSignal(const Status& st) {
  if (PyErr_Occurred()) throw pybind11::error_already_set();
  ThrowIfError(st);
}

class ClientHandle {
 public:
  explicit ClientHandle(std::unique_ptr<Client> client)
      : client_(std::move(client)), layout_(client_->layout()), options_(client_->options()) {}
  ~ClientHandle() {
    if (Forked()) (void)client_.release();  // the parent's: nothing to release here
  }

  const ParameterLayout& layout() const { return layout_; }
  const ClientOptions& options() const { return options_; }

  // Runs f(Client&) -> Status with the GIL released and the client's mutex
  // held, then raises the asyncps.Error of a failure, or the exception a
  // signal handler raised meanwhile (KeyboardInterrupt: the request was
  // abandoned, the client stays usable). A closed client, a call from a
  // forked child, and a call from within a call on the same thread (a signal
  // handler that uses the client) raise asyncps.InvalidArgument.
  // REQUIRES: the GIL is held; any buffers f uses were taken (FloatBuffer)
  // before the call.
  template <typename F>
  void Call(const char* what, F&& f) {
    CheckUsable(what);
    Status st;
    {
      pybind11::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      const CallerMark mark(caller_);
      st = client_ ? std::forward<F>(f)(*client_)
                   : Status::InvalidArgument(std::string("Client.") + what + ": the client is closed");
    }
    ThrowIfErrorOrSignal(st);
  }

  // Closes the sockets (waiting for a call in progress on another thread).
  // Later calls raise. Idempotent. In a forked child: forgets the client
  // without releasing anything of the parent's. REQUIRES: the GIL is held.
  void Close() {
    if (Forked()) {
      (void)client_.release();
      return;
    }
    CheckUsable("close");
    pybind11::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    client_.reset();
  }

 private:
  // Marks the calling thread as the one in Call, for its scope.
  struct CallerMark {
    explicit CallerMark(std::atomic<std::thread::id>& caller) : caller_(caller) {
      caller_.store(std::this_thread::get_id());
    }
    ~CallerMark() { caller_.store(std::thread::id()); }
    std::atomic<std::thread::id>& caller_;
  };

  bool Forked() const { return ::getpid() != pid_; }

  void CheckUsable(const char* what) const {
    if (Forked())
      RaiseInvalidArgument(std::string("Client.") + what + " in process " + std::to_string(::getpid()) +
                           ": this client was connected by process " + std::to_string(pid_) +
                           " before a fork; a forked child needs its own asyncps.Client (create one in the child)");
    if (caller_.load() == std::this_thread::get_id())
      RaiseInvalidArgument(std::string("Client.") + what +
                           " was called during another call of this client on the same thread (from a signal "
                           "handler?); use the client after that call returns");
  }

  const pid_t pid_ = ::getpid();  // the process that connected
  std::mutex mu_;
  std::unique_ptr<Client> client_;         // guarded by mu_; null once closed
  std::atomic<std::thread::id> caller_{};  // the thread in Call, if any
  const ParameterLayout layout_;
  const ClientOptions options_;
};

}  // namespace asyncps::python
