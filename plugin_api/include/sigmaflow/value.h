// Values that flow along graph links. A Value is a small variant tagged with its port type string:
// a Literal (numbers, strings, lists), an at::Tensor, or a shared immutable Object (model, sampler,
// noise, latent, report, ...). Objects are immutable once published: nodes share them by
// shared_ptr<const Object>, so any number of downstream nodes may read them from any thread.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <variant>

#include "sigmaflow/literal.h"

// Classes whose identity must be shared between the host and every plugin (their vtables and
// type_info) are exported even though plugins are built with hidden visibility.
#define SF_SHARED __attribute__((visibility("default")))

namespace sf {

class SF_SHARED Object {
 public:
  virtual ~Object() = default;
  // The port type string this object travels as ("MODEL", "SAMPLER", a plugin's own type, ...).
  virtual std::string type_name() const = 0;
  // One line for logs and error messages.
  virtual std::string describe() const { return type_name(); }
};

class Value {
 public:
  Value() = default;
  Value(std::string type, Literal literal) : type_(std::move(type)), data_(std::move(literal)) {}
  Value(std::string type, at::Tensor tensor) : type_(std::move(type)), data_(std::move(tensor)) {}
  explicit Value(std::shared_ptr<const Object> object)
      : type_(object ? object->type_name() : std::string()), data_(std::move(object)) {}
  Value(std::string type, std::shared_ptr<const Object> object) : type_(std::move(type)), data_(std::move(object)) {}

  const std::string& type() const { return type_; }
  bool empty() const { return std::holds_alternative<std::monostate>(data_); }
  bool is_literal() const { return std::holds_alternative<Literal>(data_); }
  bool is_tensor() const { return std::holds_alternative<at::Tensor>(data_); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<const Object>>(data_); }

  const Literal& literal() const { return std::get<Literal>(data_); }
  const at::Tensor& tensor() const { return std::get<at::Tensor>(data_); }
  const std::shared_ptr<const Object>& object() const { return std::get<std::shared_ptr<const Object>>(data_); }

 private:
  std::string type_;
  std::variant<std::monostate, Literal, at::Tensor, std::shared_ptr<const Object>> data_;
};

}  // namespace sf
