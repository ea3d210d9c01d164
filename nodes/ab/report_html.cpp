#include "report_html.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <regex>

namespace sf::nodes {

namespace {

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  return out;
}

// GitHub-flavoured Markdown (tables) to HTML with cmark-gfm; raw HTML is dropped (the safe
// default). cmark-gfm's extension registry is process-wide and registered once.
std::string markdown_to_html(const std::string& markdown) {
  static std::once_flag registered;
  std::call_once(registered, [] { cmark_gfm_core_extensions_ensure_registered(); });
  std::unique_ptr<cmark_parser, void (*)(cmark_parser*)> parser(cmark_parser_new(CMARK_OPT_DEFAULT), cmark_parser_free);
  if (cmark_syntax_extension* table = cmark_find_syntax_extension("table"))
    cmark_parser_attach_syntax_extension(parser.get(), table);
  cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
  std::unique_ptr<cmark_node, void (*)(cmark_node*)> doc(cmark_parser_finish(parser.get()), cmark_node_free);
  char* html = cmark_render_html(doc.get(), CMARK_OPT_DEFAULT, cmark_parser_get_syntax_extensions(parser.get()));
  std::string out = html ? html : "";
  std::free(html);
  return out;
}

// The <svg> element of an SVG document (the XML declaration and doctype dropped), or nothing
// when the document has none or holds anything active (PLplot writes neither scripts nor
// event handlers; a plot that did is left out rather than run).
std::string inline_svg(const std::string& document) {
  const size_t begin = document.find("<svg"), end = document.rfind("</svg>");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return {};
  std::string svg = document.substr(begin, end + 6 - begin);
  static const std::regex active(R"(<script|<foreignobject|javascript:|href\s*=|\son[a-z]+\s*=)", std::regex::icase);
  return std::regex_search(svg, active) ? std::string() : svg;
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}th,td{border:1px solid #ccc;padding:0.3em 0.5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{background:#f6f6f6}pre{padding:0.8em;overflow:auto;max-height:30em}
figure{margin:1em 0}figure svg{max-width:100%;height:auto})";

}  // namespace

std::string report_html(const std::string& title, const std::string& markdown,
                        const std::vector<std::string>& svg_documents, const std::string& graph_json) {
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      escape_html(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" + markdown_to_html(markdown);
  std::string figures;
  for (const auto& doc : svg_documents) {
    std::string svg = inline_svg(doc);
    if (!svg.empty()) figures += "<figure>\n" + svg + "\n</figure>\n";
  }
  if (!figures.empty()) page += "<h2>Plots</h2>\n" + figures;
  if (!graph_json.empty())
    page += "<h2>Graph</h2>\n<details><summary>the graph that made this report (API prompt format)</summary>\n<pre>" +
            escape_html(graph_json) + "</pre>\n</details>\n";
  return page + "</body>\n</html>\n";
}

}  // namespace sf::nodes
