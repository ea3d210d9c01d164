// Typed reads of request-body fields. Every field a client sends is read through these, so a
// value of the wrong type is a 400 naming the field instead of an exception on the network
// thread. JSON null counts as absent (Python clients send "client_id": null).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sf::host::server_detail {

// Why a field was refused, or empty. Accessors return the default when the field is absent.
class Fields {
 public:
  explicit Fields(const nlohmann::ordered_json& doc) : doc_(doc) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // A boolean flag; numbers count by truthiness, as ComfyUI's Python reads them.
  bool flag(const char* name) {
    const auto* v = find(name);
    if (!v) return false;
    if (v->is_boolean()) return v->get<bool>();
    if (v->is_number()) return v->get<double>() != 0;
    fail(name, "a boolean", *v);
    return false;
  }
  std::string text(const char* name, size_t max_length) {
    const auto* v = find(name);
    if (!v) return {};
    if (!v->is_string()) {
      fail(name, "a string", *v);
      return {};
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_length) {
      error_ = "field '" + std::string(name) + "' is longer than " + std::to_string(max_length) + " characters";
      return {};
    }
    return s;
  }
  std::optional<double> number(const char* name) {
    const auto* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_number()) {
      fail(name, "a number", *v);
      return std::nullopt;
    }
    return v->get<double>();
  }
  // An object (absent: nullopt).
  const nlohmann::ordered_json* object(const char* name) {
    const auto* v = find(name);
    if (v && !v->is_object()) {
      fail(name, "an object", *v);
      return nullptr;
    }
    return v;
  }
  // A list of strings (ids).
  std::vector<std::string> strings(const char* name) {
    std::vector<std::string> out;
    const auto* v = find(name);
    if (!v) return out;
    if (!v->is_array()) {
      fail(name, "a list of strings", *v);
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        fail((std::string(name) + "[" + std::to_string(i) + "]").c_str(), "a string", (*v)[i]);
        return {};
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

 private:
  const nlohmann::ordered_json* find(const char* name) const {
    auto it = doc_.find(name);
    return it == doc_.end() || it->is_null() ? nullptr : &*it;
  }
  void fail(const std::string& name, const char* wanted, const nlohmann::ordered_json& got) {
    if (!error_.empty()) return;
    error_ = "field '" + name + "' must be " + wanted + ", got " + std::string(got.type_name());
  }

  const nlohmann::ordered_json& doc_;
  std::string error_;
};

}  // namespace sf::host::server_detail
