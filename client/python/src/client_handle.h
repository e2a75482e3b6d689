// ClientHandle: what asyncps.Client holds: the C++ Client, and the mutex that
// keeps two Python threads from using it at once (the GIL is released during
// every network wait, and a Client is used by one thread at a time); and the
// RuleDrivers made on it (asyncps.RuleDriver), which refer to the Client: Close
// destroys them first. An overlapped driver's exchange uses the Client on the
// driver's own thread between calls: while one is in flight the driver owns
// the client, and every other call is refused.
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
#include <vector>

#include "asyncps/client/client.h"
#include "asyncps/client/rule_driver.h"
#include "errors.h"

namespace asyncps::python {

// True on a thread while it makes a request for Python (ClientHandle::Call,
// connecting): the only requests whose waits check Python's signals.
inline thread_local bool t_python_request = false;

struct PythonRequest {
  PythonRequest() { t_python_request = true; }
  ~PythonRequest() { t_python_request = false; }
};

// ClientOptions::interrupt for Python: runs the signal handlers (with the GIL)
// and returns true when one raised, e.g. KeyboardInterrupt on Ctrl-C; the
// exception stays set for ClientHandle::Call to raise. Only the main thread
// runs signal handlers; elsewhere it returns false, and a thread of the
// client's own (an overlapped RuleDriver's exchange) never takes the GIL.
inline bool PythonSignalRaised() {
  if (!t_python_request) return false;
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
  // forked child, a call from within a call on the same thread (a signal
  // handler that uses the client), and a call while an overlapped driver other
  // than `driver` has an exchange in flight raise asyncps.InvalidArgument.
  // REQUIRES: the GIL is held; any buffers f uses were taken (FloatBuffer)
  // before the call.
  template <typename F>
  void Call(const char* what, F&& f, const RuleDriver* driver = nullptr) {
    CheckUsable(what);
    Status st;
    {
      pybind11::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      const CallerMark mark(caller_);
      const PythonRequest request;
      if (!client_) {
        st = Status::InvalidArgument(std::string("Client.") + what + ": the client is closed");
      } else if (const RuleDriver* owner = Exchanging(); owner && owner != driver) {
        st = Status::InvalidArgument(std::string("Client.") + what +
                                     ": an overlapped asyncps.RuleDriver owns this client while its exchange is in "
                                     "flight, until its finish() returns");
      } else {
        st = std::forward<F>(f)(*client_);
      }
    }
    ThrowIfErrorOrSignal(st);
  }

  // Makes a RuleDriver of this client in `slot` (which must stay where it is
  // until RemoveDriver). Raises as Call does. REQUIRES: the GIL is held.
  void AddDriver(std::unique_ptr<RuleDriver>& slot, const RuleConfig& config) {
    Call("RuleDriver", [&](Client& c) {
      slot = std::make_unique<RuleDriver>(c, config);
      drivers_.push_back(&slot);
      return Status::OK();
    });
  }

  // Destroys the driver in `slot` (after waiting for its exchange in flight,
  // with the GIL released). In a forked child: forgets it (its exchange's
  // thread is the parent's). REQUIRES: the GIL is held.
  void RemoveDriver(std::unique_ptr<RuleDriver>& slot) {
    if (Forked()) {
      (void)slot.release();
      return;
    }
    pybind11::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(drivers_, &slot);
    slot.reset();
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
    for (std::unique_ptr<RuleDriver>* slot : drivers_) slot->reset();  // each waits for its exchange in flight
    drivers_.clear();
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

  // The driver with an exchange in flight, if any. REQUIRES: mu_ is held.
  const RuleDriver* Exchanging() const {
    for (const std::unique_ptr<RuleDriver>* slot : drivers_)
      if (*slot && (*slot)->exchanging()) return slot->get();
    return nullptr;
  }

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
  std::unique_ptr<Client> client_;                     // guarded by mu_; null once closed
  std::vector<std::unique_ptr<RuleDriver>*> drivers_;  // guarded by mu_; AddDriver's slots
  std::atomic<std::thread::id> caller_{};              // the thread in Call, if any
  const ParameterLayout layout_;
  const ClientOptions options_;
};

}  // namespace asyncps::python
