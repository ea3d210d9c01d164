// ComfyUI's HTTP routes (server.py), answered from the server state. Every route is also served
// under /api, as ComfyUI does. Bodies are JSON; errors use ComfyUI's {"error": {...},
// "node_errors": {...}} shape.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/graph.h"
#include "server/core_state.h"

namespace sf::host {

using namespace server_detail;

namespace {

namespace fs = std::filesystem;

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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
                                                           {".json", "application/json"},
                                                           {".md", "text/markdown; charset=utf-8"},
                                                           {".csv", "text/csv"},
                                                           {".txt", "text/plain; charset=utf-8"},
                                                           {".npy", "application/octet-stream"}};
  auto it = types.find(p.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

// A single file name: no separators, no '..', no NUL, not hidden (temporary files are hidden).
bool plain_file_name(const std::string& n) {
  return !n.empty() && n.size() < 512 && n.find('/') == std::string::npos && n.find('\0') == std::string::npos &&
         n != "." && n != ".." && n.front() != '.';
}

bool relative_folder(const std::string& s) {
  if (s.size() > 1024 || s.find('\0') != std::string::npos || (!s.empty() && s.front() == '/')) return false;
  for (const auto& part : fs::path(s))
    if (part == "..") return false;
  return true;
}

}  // namespace

HttpResponse ServerCore::handle(const HttpRequest& req) {
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
  if (path == "/interrupt") {
    return only(post, [&] {
      state_->interrupt = true;
      return json_response(200, json::object());
    });
  }
  if (path == "/history" || path.rfind("/history/", 0) == 0)
    return only(get || post, [&] {
      auto q = t.query.find("max_items");
      return history_request(req.method, path.substr(8), q == t.query.end() ? "" : q->second, req.body);
    });
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
  if (path == "/view") return only(get, [&] { return view(req.target); });
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
  if (!doc->contains("prompt") || !(*doc)["prompt"].is_object())
    return error_response(400, "no_prompt", "No prompt provided");
  auto graph = parse_graph((*doc)["prompt"].dump(-1, ' ', false, json::error_handler_t::replace));
  if (!graph.ok())
    return json_response(
        400, nlohmann::ordered_json::parse(report_for_unreadable_graph(graph.status().message()).to_json()));
  auto item = std::make_shared<QueuedPrompt>();
  item->graph = std::move(graph.value());
  auto v = validate_graph(item->graph, state_->source.catalogue());
  if (v.report.ok()) v.report.issues = check_literal_inputs(state_->source, v.plan);
  if (!v.report.ok()) {
    v.report.dependent_outputs = dependent_outputs(item->graph, v.plan.outputs, v.report.issues);
    return json_response(400, json::parse(v.report.to_json()));
  }
  item->plan = std::move(v.plan);
  item->prompt = (*doc)["prompt"];
  item->client_id = doc->value("client_id", std::string());
  item->extra_data =
      doc->contains("extra_data") && (*doc)["extra_data"].is_object() ? (*doc)["extra_data"] : json::object();
  if (!item->client_id.empty()) item->extra_data["client_id"] = item->client_id;
  std::string wanted =
      doc->contains("prompt_id") && (*doc)["prompt_id"].is_string() ? (*doc)["prompt_id"].get<std::string>() : "";
  item->id = !wanted.empty() && wanted.size() <= 128 ? wanted : uuid4();
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (state_->stopping) return error_response(503, "shutting_down", "the server is shutting down");
    if (state_->pending.size() >= options_.max_queue)
      return error_response(503, "queue_full",
                            "the queue holds " + std::to_string(options_.max_queue) + " prompts (--max-queue)");
    item->number = state_->counter++;
    if (doc->value("front", false))
      state_->pending.push_front(item);
    else
      state_->pending.push_back(item);
  }
  state_->cv.notify_one();
  state_->broadcast_status();
  return json_response(200, {{"prompt_id", item->id}, {"number", item->number}, {"node_errors", json::object()}});
}

HttpResponse ServerCore::queue_request(const std::string& method, const std::string& body) {
  if (method == "GET") {
    std::lock_guard<std::mutex> lock(state_->m);
    json running = json::array(), pending = json::array();
    if (state_->running) running.push_back(state_->queue_entry(*state_->running));
    for (const auto& p : state_->pending) pending.push_back(state_->queue_entry(*p));
    return json_response(200, {{"queue_running", running}, {"queue_pending", pending}});
  }
  std::string why;
  auto doc = parse_body(body, why);
  if (!doc || doc->is_discarded() || !doc->is_object())
    return error_response(400, "invalid_request", why.empty() ? "the body must be a JSON object" : why);
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (doc->value("clear", false)) state_->pending.clear();
    if (doc->contains("delete") && (*doc)["delete"].is_array())
      for (const auto& id : (*doc)["delete"])
        if (id.is_string())
          state_->pending.erase(std::remove_if(state_->pending.begin(), state_->pending.end(),
                                               [&](const auto& p) { return p->id == id.get<std::string>(); }),
                                state_->pending.end());
  }
  state_->broadcast_status();
  return json_response(200, json::object());
}

HttpResponse ServerCore::history_request(const std::string& method, const std::string& rest,
                                         const std::string& max_items, const std::string& body) {
  std::lock_guard<std::mutex> lock(state_->m);
  if (method == "POST") {
    std::string why;
    auto doc = parse_body(body, why);
    if (!doc || doc->is_discarded() || !doc->is_object())
      return error_response(400, "invalid_request", why.empty() ? "the body must be a JSON object" : why);
    if (doc->value("clear", false)) {
      state_->history.clear();
      state_->history_order.clear();
    }
    if (doc->contains("delete") && (*doc)["delete"].is_array())
      for (const auto& id : (*doc)["delete"])
        if (id.is_string()) state_->history.erase(id.get<std::string>());
    return json_response(200, json::object());
  }
  json out = json::object();
  if (rest.size() > 1) {  // /history/{prompt_id}
    auto it = state_->history.find(rest.substr(1));
    if (it != state_->history.end()) out[it->first] = it->second;
    return json_response(200, out);
  }
  size_t limit = state_->history_order.size();
  if (!max_items.empty() && max_items.size() < 10 && max_items.find_first_not_of("0123456789") == std::string::npos)
    limit = std::min(limit, static_cast<size_t>(std::stoul(max_items)));
  for (size_t i = state_->history_order.size() - limit; i < state_->history_order.size(); ++i) {
    auto it = state_->history.find(state_->history_order[i]);
    if (it != state_->history.end()) out[it->first] = it->second;
  }
  return json_response(200, out);
}

HttpResponse ServerCore::view(const std::string& target) const {
  Target t = split_target(target);
  const std::string filename = t.query.count("filename") ? t.query.at("filename") : "";
  const std::string subfolder = t.query.count("subfolder") ? t.query.at("subfolder") : "";
  const std::string type = t.query.count("type") ? t.query.at("type") : "output";
  if (type != "output")
    return error_response(400, "bad_request", "type must be output (no input or temp folders here)");
  if (!plain_file_name(filename) || !relative_folder(subfolder))
    return error_response(403, "forbidden", "filename and subfolder must name a file inside the output folder");
  std::error_code ec;
  fs::path root = fs::weakly_canonical(options_.out_dir, ec);
  fs::path file = fs::weakly_canonical(fs::path(options_.out_dir) / subfolder / filename, ec);
  std::string r = root.string() + "/";
  if (ec || file.string().compare(0, r.size(), r) != 0)
    return error_response(403, "forbidden", "the file is outside the output folder");
  if (!fs::is_regular_file(file, ec)) return error_response(404, "not_found", "no such file");
  HttpResponse resp;
  resp.content_type = content_type_of(file);
  resp.file = file.string();
  return resp;
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
