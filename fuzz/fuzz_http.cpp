// libFuzzer target for `sigmaflow serve`'s request handling: bytes go through Beast's HTTP
// parser with the server's limits, and every request it accepts through ServerCore::handle (all
// routes: prompt validation, queue, history, view path checks, object_info). The executor thread
// is not started; the queue is cleared now and then.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

#include "registry/catalogue.h"
#include "server/server_core.h"

namespace {

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static StubSource source;
  static sf::host::ServerCore core(
      source,
      [] {
        sf::host::ServeOptions o;
        o.out_dir = "/tmp/sigmaflow-fuzz-http";
        o.max_queue = 64;
        return o;
      }(),
      nullptr);
  static int calls = 0;
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (!ec && parser.is_done()) {
    auto req = parser.release();
    (void)core.handle({std::string(req.method_string()), std::string(req.target()), req.body()});
  }
  if (++calls % 32 == 0) (void)core.handle({"POST", "/queue", R"({"clear": true})"});
  return 0;
}
