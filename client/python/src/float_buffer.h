// FloatBuffer: a Python object's memory as a std::span<float>, checked and
// never copied.
//
// Accepts anything with the buffer protocol (numpy arrays, torch.Tensor.numpy()
// views, array.array('f'), memoryview) that is float32, one-dimensional,
// contiguous and of the expected length; writable where the call writes into
// it. Anything else raises asyncps.InvalidArgument (a ValueError) naming the
// argument and the problem. There is no conversion: a float64 array is refused,
// not silently copied, so what the caller passes is what the client reads and
// writes.
//
// The buffer is held (the exporter cannot resize or free it) for the
// FloatBuffer's lifetime, so the span may be used with the GIL released.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <span>

namespace asyncps::python {

class FloatBuffer {
 public:
  // REQUIRES: the GIL is held. `what` names the argument in errors ("weights").
  static FloatBuffer Writable(pybind11::handle obj, const char* what, std::size_t expected_size);
  static FloatBuffer ReadOnly(pybind11::handle obj, const char* what, std::size_t expected_size);

  std::span<float> span() { return {data_, size_}; }
  std::span<const float> const_span() const { return {data_, size_}; }

  // Releases the buffer. REQUIRES: the GIL is held (as for every destructor of
  // a Python reference).
  ~FloatBuffer() = default;
  FloatBuffer(FloatBuffer&&) = default;

 private:
  FloatBuffer(pybind11::buffer_info info, float* data, std::size_t size)
      : info_(std::move(info)), data_(data), size_(size) {}
  static FloatBuffer Request(pybind11::handle obj, const char* what, std::size_t expected_size, bool writable);

  pybind11::buffer_info info_;
  float* data_;
  std::size_t size_;
};

}  // namespace asyncps::python
