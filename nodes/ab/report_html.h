// The report as one self-contained HTML page: the Markdown report rendered (tables included), every
// SVG plot inline, the graph. Readable offline: the page's Content-Security-Policy allows no
// request at all, so a page that tried one would show it as a console error.
#pragma once

#include <string>
#include <vector>

namespace sf::nodes {

// `markdown`: the report's Markdown (raw HTML in it is not passed through: labels and titles are
// user text). `svg_documents`: the plots' SVG files' contents, in order. `graph_json`: shown
// as text.
std::string report_html(const std::string& title, const std::string& markdown,
                        const std::vector<std::string>& svg_documents, const std::string& graph_json);

}  // namespace sf::nodes
