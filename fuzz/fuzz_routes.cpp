// libFuzzer target for the server's routes with structured input: the bytes choose a route, a
// method, Host and Origin headers, and a JSON body whose known fields (prompt, client_id,
// extra_data, prompt_id, number, front, clear, delete) and unknown ones get values of every JSON
// type, size and encoding (invalid UTF-8, huge numbers, deep nesting), or a multipart upload with
// hostile names. Every answer must be one of the statuses the routes document; a 500 (a handler
// threw past the typed accessors) is a finding. The executor is not started.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "registry/catalogue.h"
#include "server/server_core.h"

namespace {

using json = nlohmann::ordered_json;

class Bytes {
 public:
  Bytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
  bool done() const { return i_ >= n_; }
  uint64_t number() {
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = v << 8 | byte();
    return v;
  }
  std::string text(size_t max) {
    size_t len = byte() % (max + 1);
    std::string s;
    for (size_t k = 0; k < len && !done(); ++k) s += static_cast<char>(byte());
    return s;
  }

 private:
  const uint8_t* d_;
  size_t n_, i_ = 0;
};

json value(Bytes& b, int depth) {
  switch (b.byte() % (depth > 6 ? 7 : 9)) {
    case 0:
      return nullptr;
    case 1:
      return (b.byte() & 1) != 0;
    case 2:
      return static_cast<int64_t>(b.number());
    case 3:
      return b.number();
    case 4: {
      double d;
      uint64_t bits = b.number();
      std::memcpy(&d, &bits, sizeof d);
      return d;  // NaN and infinities included
    }
    case 5:
    case 6:
      return b.text(40);
    case 7: {
      json a = json::array();
      for (int k = b.byte() % 5; k > 0; --k) a.push_back(value(b, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int k = b.byte() % 5; k > 0; --k) o[b.text(8)] = value(b, depth + 1);
      return o;
    }
  }
}

// A graph-shaped prompt: nodes of the stub catalogue with inputs of any type.
json graph(Bytes& b) {
  static const char* classes[] = {"KarrasScheduler", "SaveSigmas", "Nope"};
  static const char* inputs[] = {"steps", "sigma_min", "sigma_max", "sigmas", "filename_prefix", "values"};
  json g = json::object();
  for (int n = b.byte() % 4; n > 0; --n) {
    json in = json::object();
    for (int k = b.byte() % 4; k > 0; --k) {
      std::string name = inputs[b.byte() % 6];
      in[name] = (b.byte() & 3) == 0 ? json::array({std::to_string(b.byte() % 4), b.byte() % 3}) : value(b, 2);
    }
    g[std::to_string(b.byte() % 4)] = {{"class_type", classes[b.byte() % 3]}, {"inputs", in}};
  }
  return g;
}

std::string multipart(Bytes& b) {
  static const char* names[] = {"a.png", "../x.png", ".hidden", "a/b.png", "", "n\x01.png", "ok (1).png"};
  static const char* subs[] = {"", "sub", "../..", "/etc", "a/./b", "x\\y"};
  static const char* types[] = {"input", "temp", "output", "elsewhere", ""};
  const std::string boundary = "fz";
  std::string body = "--fz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" +
                     std::string(names[b.byte() % 7]) + "\"\r\n\r\n" + b.text(30) + "\r\n";
  body +=
      "--fz\r\nContent-Disposition: form-data; name=\"subfolder\"\r\n\r\n" + std::string(subs[b.byte() % 6]) + "\r\n";
  body += "--fz\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n" + std::string(types[b.byte() % 5]) + "\r\n";
  if (b.byte() & 1)
    body += "--fz\r\nContent-Disposition: form-data; name=\"original_ref\"\r\n\r\n" + b.text(20) + "\r\n";
  if (b.byte() & 1) body += "--fz--\r\n";  // sometimes unterminated
  return body;
}

class StubSource : public sf::host::NodeSource {
 public:
  StubSource() {
    sf::NodeContract k;
    k.class_type = "KarrasScheduler";
    k.inputs = {sf::Int("steps", 20, 1, 10000), sf::Float("sigma_min", 0.03, 0.0, 5000.0),
                sf::Float("sigma_max", 14.6, 0.0, 5000.0), sf::List("values")};
    k.outputs = {{"SIGMAS", "SIGMAS"}};
    k.constraints = {sf::Less("sigma_min", "sigma_max")};
    sf::NodeContract save;
    save.class_type = "SaveSigmas";
    save.inputs = {sf::Port("sigmas", "SIGMAS"), sf::String("filename_prefix", "s")};
    save.output_node = true;
    for (const auto& c : {k, save}) {
      sf::host::CatalogueEntry e;
      e.contract = c;
      e.plugin = e.plugin_path = "fuzz";
      cat_.put(e);
    }
  }
  const sf::host::Catalogue& catalogue() const override { return cat_; }
  const sf::NodeDef* node(const std::string&) const override { return nullptr; }
  const sf::ScheduleDef* schedule(const std::string&) const override { return nullptr; }
  const sf::SamplerDef* sampler(const std::string&) const override { return nullptr; }
  std::string load_problem(const std::string&) const override { return "stub"; }

 private:
  sf::host::Catalogue cat_;
};

constexpr const char* kRoot = "/tmp/sigmaflow-fuzz-routes";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static StubSource source;
  static sf::host::ServerCore core(
      source,
      [] {
        sf::host::ServeOptions o;
        o.out_dir = std::string(kRoot) + "/output";
        o.input_dir = std::string(kRoot) + "/input";
        o.temp_dir = std::string(kRoot) + "/temp";
        o.max_queue = 64;
        return o;
      }(),
      nullptr);
  static int calls = 0;
  static const char* routes[] = {"/prompt",
                                 "/api/prompt",
                                 "/queue",
                                 "/history",
                                 "/history/x",
                                 "/interrupt",
                                 "/upload/image",
                                 "/upload/mask",
                                 "/view",
                                 "/object_info",
                                 "/object_info/KarrasScheduler",
                                 "/system_stats",
                                 "/free",
                                 "/features"};
  static const char* methods[] = {"GET", "POST", "DELETE", "PUT"};
  Bytes b(data, size);
  sf::host::HttpRequest req;
  req.method = methods[b.byte() % 4];
  req.target = routes[b.byte() % 14];
  if (b.byte() & 1) req.target += "?" + b.text(40);  // query strings: max_items, offset, filename, ...
  const uint8_t kind = b.byte() % 4;
  if (kind == 0) {
    req.content_type = "multipart/form-data; boundary=fz";
    req.body = multipart(b);
  } else {
    json body = kind == 1 ? value(b, 0) : json::object();
    if (body.is_object()) {
      static const char* fields[] = {"prompt", "client_id", "extra_data", "prompt_id", "number",
                                     "front",  "clear",     "delete",     "unknown"};
      for (int k = b.byte() % 6; k > 0; --k) {
        const char* f = fields[b.byte() % 9];
        body[f] = std::string(f) == "prompt" && (b.byte() & 1) ? graph(b) : value(b, 1);
      }
    }
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (b.byte() % 8 == 0 && !req.body.empty()) req.body.resize(b.byte() % req.body.size());  // cut short
  }
  sf::host::HttpResponse r = core.handle(req);
  switch (r.status) {
    case 200:
    case 400:
    case 403:
    case 404:
    case 405:
    case 413:
    case 503:
      break;
    default:
      std::abort();  // 500: a handler threw past the typed accessors
  }
  (void)sf::host::check_origin(b.text(30), b.text(30), core.options());
  if (++calls % 32 == 0) (void)core.handle({"POST", "/queue", R"({"clear": true})", ""});
  if (calls % 64 == 0) (void)core.handle({"POST", "/history", R"({"clear": true})", ""});
  if (calls % 1000 == 0) {
    std::error_code ec;
    std::filesystem::remove_all(std::string(kRoot) + "/input", ec);
    std::filesystem::remove_all(std::string(kRoot) + "/temp", ec);
  }
  return 0;
}
