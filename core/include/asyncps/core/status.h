// Status and Result<T>: the error values that cross asyncps' module boundaries.
//
// OK costs one enum compare; an error carries a code and a message that names
// the thing that failed (file, shard address, field) and, where possible, the fix.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace asyncps {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // bad flag, bad file, bad layout: the caller's input
    kMismatch,            // fingerprint or layout differs from the server's
    kNotInitialised,      // pull/commit before any worker sent initial weights
    kAlreadyInitialised,  // a later init: the first one won
    kTimeout,             // a shard did not answer within the deadline
    kUnavailable,         // transport failure (connect, send, recv)
    kProtocol,            // malformed or unexpected message
    kUnauthorised,        // rejected by the server's security settings
    kIOError,             // file system
    kInternal,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Mismatch(std::string m) { return {Code::kMismatch, std::move(m)}; }
  static Status NotInitialised(std::string m) { return {Code::kNotInitialised, std::move(m)}; }
  static Status AlreadyInitialised(std::string m) { return {Code::kAlreadyInitialised, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Protocol(std::string m) { return {Code::kProtocol, std::move(m)}; }
  static Status Unauthorised(std::string m) { return {Code::kUnauthorised, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  // OK when ok(), else the error.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace asyncps
