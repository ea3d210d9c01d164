// ComfyUI's HTTP routes (server.py), answered from the server state. Every route is also served
// under /api, as ComfyUI does. Bodies are JSON; errors use ComfyUI's {"error": {...},
// "node_errors": {...}} shape.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "graph/graph.h"
#include "server/core_state.h"
#include "server/request_fields.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"

namespace sf::host {

using namespace server_detail;

namespace {

namespace fs = std::filesystem;

struct Target {
  std::string path;
  Query query;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Target split_target(const std::string& target) {
  Target t;
  size_t q = target.find('?');
  t.path = url_decode(target.substr(0, q), false);
  if (q == std::string::npos) return t;
  std::stringstream ss(target.substr(q + 1));
  for (std::string kv; std::getline(ss, kv, '&');) {
    size_t eq = kv.find('=');
    t.query[url_decode(kv.substr(0, eq), true)] = eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1), true);
  }
  return t;
}

std::string query_value(const Query& q, const std::string& key, const std::string& fallback = "") {
  auto it = q.find(key);
  return it == q.end() ? fallback : it->second;
}

// A non-negative count from the query; anything else (absent, junk, huge) gives `fallback`.
size_t query_count(const Query& q, const std::string& key, size_t fallback) {
  std::string v = query_value(q, key);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return fallback;
  return static_cast<size_t>(std::stoul(v));
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse error_response(int status, const std::string& type, const std::string& message) {
  return json_response(
      status, {{"error", {{"type", type}, {"message", message}, {"details", ""}, {"extra_info", json::object()}}},
               {"node_errors", json::object()}});
}

// Bodies are bounded by the network layer; nesting by parse_json_bounded.
std::optional<json> parse_body(const std::string& body, std::string& why) {
  auto doc = parse_json_bounded(body);
  if (!doc.ok()) {
    why = doc.status().message();
    return std::nullopt;
  }
  return std::move(*doc);
}

std::string content_type_of(const fs::path& p) {
  static const std::map<std::string, std::string> types = {{".png", "image/png"},
                                                           {".svg", "image/svg+xml"},
                                                           {".jpg", "image/jpeg"},
                                                           {".jpeg", "image/jpeg"},
                                                           {".webp", "image/webp"},
                                                           {".json", "application/json"},
                                                           {".md", "text/markdown; charset=utf-8"},
                                                           {".csv", "text/csv"},
                                                           {".txt", "text/plain; charset=utf-8"},
                                                           {".npy", "application/octet-stream"}};
  auto it = types.find(p.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

// A single file name: no separators, no '..', no NUL or control characters, not hidden
// (temporary files are hidden).
bool plain_file_name(const std::string& n) {
  if (n.empty() || n.size() >= 256 || n == "." || n == ".." || n.front() == '.') return false;
  for (unsigned char c : n)
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  return true;
}

bool relative_folder(const std::string& s) {
  if (s.size() > 1024 || (!s.empty() && s.front() == '/')) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  for (const auto& part : fs::path(s))
    if (part == ".." || part == ".") return false;
  return true;
}

// One part of a multipart/form-data body.
struct FormPart {
  std::string filename;  // set for file parts
  std::string data;
};

std::string header_param(const std::string& header, const std::string& key) {
  size_t at = header.find(key + "=");
  if (at == std::string::npos) return {};
  size_t start = at + key.size() + 1;
  if (start < header.size() && header[start] == '"') {
    size_t end = header.find('"', start + 1);
    return end == std::string::npos ? std::string() : header.substr(start + 1, end - start - 1);
  }
  size_t end = header.find_first_of("; \r\n", start);
  return header.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Parses multipart/form-data (RFC 7578) into parts by field name; false when malformed.
bool parse_form(const std::string& content_type, const std::string& body, std::map<std::string, FormPart>& parts) {
  if (content_type.find("multipart/form-data") == std::string::npos) return false;
  const std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) return false;
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  if (pos == std::string::npos) return false;
  for (;;) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) return true;  // the closing delimiter
    if (body.compare(pos, 2, "\r\n") != 0) return false;
    pos += 2;
    size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) return false;
    const std::string head = body.substr(pos, head_end - pos);
    size_t next = body.find("\r\n" + delim, head_end + 4);
    if (next == std::string::npos) return false;
    std::string disposition;
    std::stringstream lines(head);
    for (std::string line; std::getline(lines, line);) {
      std::string lower = line;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower.rfind("content-disposition:", 0) == 0) disposition = line;
    }
    const std::string name = header_param(disposition, "name");
    if (name.empty() || parts.size() > 32) return false;
    parts[name] = {header_param(disposition, "filename"), body.substr(head_end + 4, next - head_end - 4)};
    pos = next + 2;
  }
}

bool truthy(const std::string& v) { return v == "true" || v == "1" || v == "True"; }

}  // namespace

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

HttpResponse ServerCore::handle(const HttpRequest& req) {
  try {
    return route(req);
  } catch (const std::exception& e) {
    // Every field is read through typed accessors; this is the last line, so that a mistake in a
    // handler costs one request, not the server.
    std::fprintf(stderr, "serve: internal error answering %s %s: %s\n", req.method.c_str(),
                 req.target.substr(0, 200).c_str(), e.what());
    return error_response(500, "internal_error", "internal error; the server goes on");
  } catch (...) {
    std::fprintf(stderr, "serve: internal error answering %s %s\n", req.method.c_str(),
                 req.target.substr(0, 200).c_str());
    return error_response(500, "internal_error", "internal error; the server goes on");
  }
}

HttpResponse ServerCore::route(const HttpRequest& req) {
  Target t = split_target(req.target);
  std::string path = t.path.rfind("/api/", 0) == 0 ? t.path.substr(4) : t.path;
  const bool get = req.method == "GET", post = req.method == "POST";
  auto only = [&](bool ok, auto&& fn) {
    return ok ? fn() : error_response(405, "method_not_allowed", "method not allowed");
  };
  if (path == "/") {
    return only(get, [] {
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "sigmaflow: ComfyUI's server API (docs/server.md); no frontend is bundled.\n";
      return r;
    });
  }
  if (path == "/prompt") {
    if (get) {
      std::lock_guard<std::mutex> lock(state_->m);
      return json_response(200, {{"exec_info", {{"queue_remaining", state_->remaining()}}}});
    }
    return only(post, [&] { return submit(req.body); });
  }
  if (path == "/queue") return only(get || post, [&] { return queue_request(req.method, req.body); });
  if (path == "/interrupt") return only(post, [&] { return interrupt(req.body); });
  if (path == "/history" || path.rfind("/history/", 0) == 0)
    return only(get || post, [&] { return history_request(req.method, path.substr(8), t.query, req.body); });
  if (path == "/object_info")
    return only(get, [&] {
      HttpResponse r;
      r.body = state_->source.catalogue().object_info_json(-1);
      return r;
    });
  if (path.rfind("/object_info/", 0) == 0)
    return only(get, [&] {
      HttpResponse r;
      r.body = state_->source.catalogue().object_info_json(path.substr(13), -1);
      if (r.body.empty()) r.body = "{}";
      return r;
    });
  if (path == "/view") return only(get, [&] { return view(t.query); });
  if (path == "/upload/image" || path == "/upload/mask")
    return only(post, [&] { return upload(req, path == "/upload/mask"); });
  if (path == "/system_stats") return only(get, [&] { return system_stats(); });
  if (path == "/embeddings" || path == "/extensions")
    return only(get, [] { return json_response(200, json::array()); });
  if (path == "/features") return only(get, [] { return json_response(200, {{"supports_preview_metadata", false}}); });
  if (path == "/free") return only(post, [] { return json_response(200, json::object()); });
  return error_response(404, "not_found", "no route " + t.path.substr(0, 200));
}

HttpResponse ServerCore::submit(const std::string& body) {
  std::string why;
  auto doc = parse_body(body, why);
  if (!doc || doc->is_discarded() || !doc->is_object())
    return error_response(400, "invalid_prompt", why.empty() ? "the body must be a JSON object" : why);
  Fields f(*doc);
  const json* prompt = f.object("prompt");
  const json* extra = f.object("extra_data");
  std::string client_id = f.text("client_id", 128);
  std::string wanted = f.text("prompt_id", 128);
  std::optional<double> number = f.number("number");
  bool front = f.flag("front");
  if (!f.ok()) return error_response(400, "invalid_prompt", f.error());
  if (!prompt) return error_response(400, "no_prompt", "No prompt provided");
  if (number && !std::isfinite(*number))
    return error_response(400, "invalid_prompt", "field 'number' must be a finite number");
  // extra_data as stored (with client_id), written once: its size is what the limit counts.
  json extra_data = extra ? *extra : json::object();
  if (!client_id.empty()) extra_data["client_id"] = client_id;
  std::string extra_text = extra_data.dump(-1, ' ', false, json::error_handler_t::replace);
  if (extra_text.size() > options_.max_extra_data_bytes)
    return error_response(413, "invalid_prompt",
                          "extra_data is " + std::to_string(extra_text.size()) + " bytes; at most " +
                              std::to_string(options_.max_extra_data_bytes) + " are kept per prompt");
  auto graph = parse_graph(prompt->dump(-1, ' ', false, json::error_handler_t::replace));
  if (!graph.ok())
    return json_response(
        400, nlohmann::ordered_json::parse(report_for_unreadable_graph(graph.status().message()).to_json()));
  auto v = validate_graph(*graph, state_->source.catalogue());
  if (v.report.ok()) {
    v.report.issues = check_literal_inputs(state_->source, v.plan);
    if (!v.report.ok()) v.report.dependent_outputs = dependent_outputs(*graph, v.plan.outputs, v.report.issues);
  }
  if (!v.report.ok()) return json_response(400, json::parse(v.report.to_json()));
  auto item = std::make_shared<QueuedPrompt>();
  item->outputs = std::move(v.plan.outputs);
  item->prompt_text = std::move(graph->text);
  item->client_id = client_id;
  item->extra_text = std::move(extra_text);
  item->id = !wanted.empty() ? wanted : uuid4();
  item->bytes = item->prompt_text.size() + item->extra_text.size();
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (state_->stopping) return error_response(503, "shutting_down", "the server is shutting down");
    if (state_->pending.size() >= options_.max_queue)
      return error_response(503, "queue_full",
                            "the queue holds " + std::to_string(options_.max_queue) + " prompts (--max-queue)");
    if (state_->pending_bytes + item->bytes > options_.max_queue_bytes)
      return error_response(503, "queue_full",
                            "the pending prompts hold " + std::to_string(state_->pending_bytes >> 20) +
                                " MB; this one would pass the queue's budget of " +
                                std::to_string(options_.max_queue_bytes >> 20) + " MB (--max-queue-mb)");
    if (state_->known_id(item->id))
      return error_response(400, "invalid_prompt", "prompt_id '" + item->id + "' is already queued or in history");
    // ComfyUI's numbering: a prompt's number is its priority (lowest runs first); "front" negates it.
    const double counter = static_cast<double>(state_->counter++);
    item->number = number ? *number : counter;
    if (front) item->number = -item->number;
    auto at = std::upper_bound(state_->pending.begin(), state_->pending.end(), item->number,
                               [](double n, const auto& p) { return n < p->number; });
    state_->pending.insert(at, item);
    state_->pending_bytes += item->bytes;
  }
  state_->cv.notify_one();
  state_->broadcast_status();
  return json_response(
      200, {{"prompt_id", item->id}, {"number", number_json(item->number)}, {"node_errors", json::object()}});
}

HttpResponse ServerCore::interrupt(const std::string& body) {
  std::string wanted;
  if (!body.empty()) {
    std::string why;
    auto doc = parse_body(body, why);
    if (!doc || doc->is_discarded() || !doc->is_object())
      return error_response(400, "invalid_request", why.empty() ? "the body must be a JSON object" : why);
    Fields f(*doc);
    wanted = f.text("prompt_id", 128);
    if (!f.ok()) return error_response(400, "invalid_request", f.error());
  }
  std::lock_guard<std::mutex> lock(state_->m);
  // As ComfyUI: with a prompt_id, only that prompt is interrupted, and only while it runs.
  if (state_->running && (wanted.empty() || state_->running->id == wanted))
    state_->worker.send(json{{"interrupt", state_->running->id}}.dump());
  return json_response(200, json::object());
}

HttpResponse ServerCore::queue_request(const std::string& method, const std::string& body) {
  if (method == "GET") {
    std::shared_ptr<QueuedPrompt> running;
    std::vector<std::shared_ptr<QueuedPrompt>> pending;
    {
      std::lock_guard<std::mutex> lock(state_->m);
      running = state_->running;
      pending.assign(state_->pending.begin(), state_->pending.end());
    }
    // Queued prompts are immutable: written outside the lock.
    HttpResponse out;
    out.body = "{\"queue_running\":[" + (running ? queue_entry(*running) : std::string()) + "],\"queue_pending\":[";
    for (size_t i = 0; i < pending.size(); ++i) out.body += (i ? "," : "") + queue_entry(*pending[i]);
    out.body += "]}";
    return out;
  }
  std::string why;
  auto doc = parse_body(body, why);
  if (!doc || doc->is_discarded() || !doc->is_object())
    return error_response(400, "invalid_request", why.empty() ? "the body must be a JSON object" : why);
  Fields f(*doc);
  const bool clear = f.flag("clear");
  const std::vector<std::string> remove = f.strings("delete");
  if (!f.ok()) return error_response(400, "invalid_request", f.error());
  {
    std::lock_guard<std::mutex> lock(state_->m);
    std::set<std::string> ids(remove.begin(), remove.end());
    auto& q = state_->pending;
    auto gone = std::stable_partition(q.begin(), q.end(), [&](const auto& p) { return !clear && !ids.count(p->id); });
    for (auto it = gone; it != q.end(); ++it) state_->pending_bytes -= (*it)->bytes;
    q.erase(gone, q.end());
  }
  state_->broadcast_status();
  return json_response(200, json::object());
}

HttpResponse ServerCore::history_request(const std::string& method, const std::string& rest, const Query& query,
                                         const std::string& body) {
  if (method == "POST") {
    std::string why;
    auto doc = parse_body(body, why);
    if (!doc || doc->is_discarded() || !doc->is_object())
      return error_response(400, "invalid_request", why.empty() ? "the body must be a JSON object" : why);
    Fields f(*doc);
    const bool clear = f.flag("clear");
    const std::vector<std::string> remove = f.strings("delete");
    if (!f.ok()) return error_response(400, "invalid_request", f.error());
    std::lock_guard<std::mutex> lock(state_->m);
    if (clear) state_->clear_history();
    for (const auto& id : remove) state_->erase_history(id);
    return json_response(200, json::object());
  }
  // Entries are immutable once stored: the pointers are copied under the lock, the text is
  // built outside it.
  std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> picked;
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (rest.size() > 1) {  // /history/{prompt_id}
      auto it = state_->history.find(rest.substr(1));
      if (it != state_->history.end()) picked.emplace_back(it->first, it->second);
    } else {
      // ComfyUI: newest max_items entries, skipping `offset` from the newest end.
      const size_t n = state_->history_order.size();
      const size_t offset = std::min(n, query_count(query, "offset", 0));
      const size_t limit = std::min(n - offset, query_count(query, "max_items", n));
      for (size_t i = n - offset - limit; i < n - offset; ++i) {
        const auto& id = state_->history_order[i];
        picked.emplace_back(id, state_->history.at(id));
      }
    }
  }
  std::string out = "{";
  for (size_t i = 0; i < picked.size(); ++i) {
    if (i) out += ",";
    out += json(picked[i].first).dump() + ":" + *picked[i].second;
  }
  HttpResponse r;
  r.body = out + "}";
  return r;
}

const std::string* ServerCore::folder_of(const std::string& type) const {
  if (type == "output") return &options_.out_dir;
  if (type == "input") return &options_.input_dir;
  if (type == "temp") return &options_.temp_dir;
  return nullptr;
}

HttpResponse ServerCore::view(const Query& query) const {
  const std::string filename = query_value(query, "filename");
  const std::string subfolder = query_value(query, "subfolder");
  const std::string type = query_value(query, "type", "output");
  const std::string* folder = folder_of(type);
  if (!folder) return error_response(400, "bad_request", "type must be output, input or temp");
  if (!plain_file_name(filename) || !relative_folder(subfolder))
    return error_response(403, "forbidden", "filename and subfolder must name a file inside the " + type + " folder");
  std::error_code ec;
  fs::path root = fs::weakly_canonical(*folder, ec);
  fs::path file = fs::weakly_canonical(fs::path(*folder) / subfolder / filename, ec);
  std::string r = root.string() + "/";
  if (ec || file.string().compare(0, r.size(), r) != 0)
    return error_response(403, "forbidden", "the file is outside the " + type + " folder");
  if (!fs::is_regular_file(file, ec)) return error_response(404, "not_found", "no such file");
  HttpResponse resp;
  resp.content_type = content_type_of(file);
  resp.file = file.string();
  resp.headers.push_back({"Content-Disposition", "filename=\"" + filename + "\""});
  return resp;
}

// ComfyUI's /upload/image and /upload/mask: a multipart form with `image` (the file),
// `subfolder`, `type` (input, temp or output; default input) and `overwrite`. An existing name is
// kept and the upload gets "name (1).ext" unless overwrite is set. A mask upload also names
// `original_ref` ({filename, subfolder, type}) and is stored as given (no compositing).
HttpResponse ServerCore::upload(const HttpRequest& req, bool mask) {
  std::map<std::string, FormPart> parts;
  if (!parse_form(req.content_type, req.body, parts))
    return error_response(400, "bad_request", "the body must be multipart/form-data with an 'image' file field");
  auto image = parts.find("image");
  if (image == parts.end() || image->second.filename.empty())
    return error_response(400, "bad_request", "no 'image' file field");
  auto field = [&](const char* name, const std::string& fallback) {
    auto it = parts.find(name);
    return it == parts.end() || it->second.data.empty() ? fallback : it->second.data;
  };
  const std::string type = field("type", "input"), subfolder = field("subfolder", "");
  const bool overwrite = truthy(field("overwrite", "false"));
  const std::string* folder = folder_of(type);
  if (!folder) return error_response(400, "bad_request", "type must be input, temp or output");
  std::string name = fs::path(image->second.filename).filename().string();
  if (!plain_file_name(name) || !relative_folder(subfolder))
    return error_response(400, "bad_request",
                          "the file name and subfolder must name a file inside the " + type +
                              " folder (no '..', separators, control characters or leading '.')");
  if (mask && parts.count("original_ref")) {
    auto ref = json_nesting_depth(parts["original_ref"].data) > kMaxJsonFileDepth
                   ? json(json::value_t::discarded)
                   : json::parse(parts["original_ref"].data, nullptr, false);
    if (ref.is_discarded() || !ref.is_object() || !ref.contains("filename") || !ref["filename"].is_string())
      return error_response(400, "bad_request", "original_ref must be a JSON object with a filename");
  }
  std::error_code ec;
  const fs::path dir = fs::path(*folder) / subfolder;
  fs::create_directories(dir, ec);
  fs::path root = fs::weakly_canonical(*folder, ec), where = fs::weakly_canonical(dir, ec);
  if (ec || (where != root && where.string().rfind(root.string() + "/", 0) != 0))
    return error_response(403, "forbidden", "the subfolder leads outside the " + type + " folder");
  if (!overwrite) {
    const fs::path p(name);
    for (int i = 1; fs::exists(where / name, ec) && i < 10000; ++i)
      name = p.stem().string() + " (" + std::to_string(i) + ")" + p.extension().string();
  }
  if (fs::is_symlink(where / name, ec)) return error_response(403, "forbidden", "the target name is a symlink");
  Status st = write_file_atomic((where / name).string(), image->second.data);
  if (!st.ok()) return error_response(500, "write_failed", "could not store the upload: " + st.message());
  return json_response(200, {{"name", name}, {"subfolder", subfolder}, {"type", type}});
}

HttpResponse ServerCore::system_stats() const {
  uint64_t total = 0, available = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemTotal:", 0) == 0) total = std::strtoull(line.c_str() + 9, nullptr, 10) * 1024;
    if (line.rfind("MemAvailable:", 0) == 0) available = std::strtoull(line.c_str() + 13, nullptr, 10) * 1024;
  }
  json system = {{"os", "posix"},
                 {"ram_total", total},
                 {"ram_free", available},
                 {"comfyui_version", "sigmaflow"},
                 {"python_version", ""},
                 {"pytorch_version", options_.versions},
                 {"embedded_python", false},
                 {"argv", json::array({"sigmaflow", "serve"})}};
  json cpu = {{"name", "cpu"},  {"type", "cpu"},         {"index", nullptr},    {"vram_total", 0},
              {"vram_free", 0}, {"torch_vram_total", 0}, {"torch_vram_free", 0}};
  return json_response(200, {{"system", system}, {"devices", json::array({cpu})}});
}

}  // namespace sf::host
