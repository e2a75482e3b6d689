// ClientHandle: what asyncps.Client holds: the C++ Client, and the mutex that
// keeps two Python threads from using it at once (the GIL is released during
// every network wait, and a Client is used by one thread at a time).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <utility>

#include "asyncps/client/client.h"
#include "errors.h"

namespace asyncps::python {

class ClientHandle {
 public:
  explicit ClientHandle(std::unique_ptr<Client> client)
      : client_(std::move(client)), layout_(client_->layout()), options_(client_->options()) {}

  const ParameterLayout& layout() const { return layout_; }
  const ClientOptions& options() const { return options_; }

  // Runs f(Client&) -> Status with the GIL released and the client's mutex
  // held, then raises the asyncps.Error of a failure. A closed client raises
  // asyncps.InvalidArgument. REQUIRES: the GIL is held; any buffers f uses
  // were taken (FloatBuffer) before the call.
  template <typename F>
  void Call(const char* what, F&& f) {
    Status st;
    {
      pybind11::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      st = client_ ? std::forward<F>(f)(*client_)
                   : Status::InvalidArgument(std::string("Client.") + what + ": the client is closed");
    }
    ThrowIfError(st);
  }

  // Closes the sockets (waiting for a call in progress on another thread).
  // Later calls raise. Idempotent. REQUIRES: the GIL is held.
  void Close() {
    pybind11::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    client_.reset();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<Client> client_;  // guarded by mu_; null once closed
  const ParameterLayout layout_;
  const ClientOptions options_;
};

}  // namespace asyncps::python
