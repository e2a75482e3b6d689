#include "asyncps/core/status.h"

namespace asyncps {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid argument";
    case Status::Code::kMismatch:
      return "mismatch";
    case Status::Code::kNotInitialised:
      return "not initialised";
    case Status::Code::kAlreadyInitialised:
      return "already initialised";
    case Status::Code::kTimeout:
      return "timeout";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kProtocol:
      return "protocol error";
    case Status::Code::kUnauthorised:
      return "unauthorised";
    case Status::Code::kIOError:
      return "I/O error";
    case Status::Code::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace asyncps
