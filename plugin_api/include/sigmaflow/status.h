// Status and Result<T>: errors as values, the one error style at the plugin boundary. Torch-free;
// used by the host, by plugins and by the libraries under them.
//
// A Status names what went wrong and, when one input of a node is to blame, that input and its
// offending value, so the host reports "node 5 (KSampler), input 'steps' = 0: ..." without
// guessing from message text.
//
// InputError is the exception form of an input-typed Status, for library and node code that
// throws; the SDK's wrappers (make_node, make_schedule, make_sampler_def) turn it into a Status
// before anything crosses into the host.
#pragma once

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace sf {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad user input (graph literal, file content, option)
  kNotFound,            // missing file, node, plugin, name
  kFailedPrecondition,  // a value is fine alone but not here (a model without a capability, ...)
  kIo,                  // a read or write failed
  kResourceExhausted,   // a request for more memory, time or disk than allowed
  kCancelled,           // interrupted (Ctrl-C, a server's interrupt)
  kInternal,            // a bug or an unexpected exception
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The node input this error is about (empty when it is not about one input), and the
  // offending value as text (a JSON literal, a shape, a description).
  const std::string& input() const { return input_; }
  const std::string& value() const { return value_; }

  Status&& about(std::string input, std::string value = {}) && {
    input_ = std::move(input);
    value_ = std::move(value);
    return std::move(*this);
  }
  Status about(std::string input, std::string value = {}) const& {
    Status s = *this;
    return std::move(s).about(std::move(input), std::move(value));
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string input_;
  std::string value_;
};

// A number for messages and cache keys: printf's %.<digits>g (17 digits round-trip a double).
inline std::string number_text(double v, int digits = 9) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status IoError(std::string m) { return {Code::kIo, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a T or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

// An error about one input: thrown by node and library code, caught by the SDK wrappers.
class __attribute__((visibility("default"))) InputError : public std::runtime_error {
 public:
  InputError(std::string input, std::string value, const std::string& message, Code code = Code::kInvalidArgument)
      : std::runtime_error(message), input_(std::move(input)), value_(std::move(value)), code_(code) {}
  const std::string& input() const { return input_; }
  const std::string& value() const { return value_; }
  Code code() const { return code_; }
  Status status() const { return Status(code_, what()).about(input_, value_); }

 private:
  std::string input_, value_;
  Code code_;
};

// Thrown by long-running library code (samplers, estimators) when asked to stop.
class __attribute__((visibility("default"))) Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// (2.1, additions) The interrupt flag of the node running on the calling thread: the host sets it
// around each node execution (null outside one). Long loops in library and node code call
// throw_if_interrupted() between units of work (a level, a chunk, an EM iteration, a solver
// step), so an interrupt stops every node, not only samplers that take a SampleContext.
// Exported from libsigmaflow_plugin_api; thread-local, so concurrent runs do not interfere.
__attribute__((visibility("default"))) void set_thread_interrupt(const std::atomic<bool>* flag) noexcept;
__attribute__((visibility("default"))) bool interrupt_requested() noexcept;
// Throws sf::Interrupted when the calling thread's node is being interrupted.
__attribute__((visibility("default"))) void throw_if_interrupted();

inline const char* code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kIo:
      return "io_error";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kCancelled:
      return "cancelled";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace sf
