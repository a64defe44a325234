// Page::render (page.h): the document head (policy, style, the error recorder), then the fragments.
#include "tools/report/page.h"

#include <sstream>

#include "tools/report/html.h"

namespace vireo::report {
namespace {

// Nothing may be fetched: images are data URIs, style and script are inline.
const char* const kPolicy =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

const char* const kStyle = R"(
body { font-family: sans-serif; margin: 24px auto; max-width: 1200px; color: #222; padding: 0 16px; }
h1 { margin-bottom: 2px; } .subtitle { color: #666; margin-top: 0; }
section.component { border-top: 1px solid #ddd; padding-top: 8px; margin-top: 20px; }
.charts, .grids, .strip { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; } figcaption, .caption { color: #555; font-size: 13px; }
table.values { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
table.values td, table.values th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.values td:first-child { text-align: left; }
img.tile { width: 56px; height: 56px; image-rendering: pixelated; border: 3px solid #fff; }
img.same { border-color: #2ca02c; } img.other { border-color: #d62728; }
td.query img.tile { border-color: #333; } table.neighbours td { padding: 0 2px; }
td.query { padding-right: 14px !important; }
img.grid { image-rendering: pixelated; width: 320px; }
.legend span { margin-right: 12px; font-size: 13px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 5px; }
.omitted { color: #666; font-size: 13px; }
)";

// Records every error the page meets into <html data-errors="…">, and marks the load as finished.
const char* const kErrorRecorder = R"(
(function () {
  var root = document.documentElement, errors = [];
  function record(text) { errors.push(String(text)); root.setAttribute('data-errors', errors.join(' | ')); }
  window.addEventListener('error', function (event) { record(event.message || 'resource failed to load'); }, true);
  window.addEventListener('unhandledrejection', function (event) { record(event.reason); });
  var consoleError = console.error;
  console.error = function () { record(Array.prototype.join.call(arguments, ' ')); consoleError.apply(console, arguments); };
  document.addEventListener('securitypolicyviolation', function (event) { record('blocked ' + event.blockedURI); });
  window.addEventListener('load', function () { root.setAttribute('data-loaded', 'true'); });
})();
)";

}  // namespace

std::string Page::render() const {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\" data-errors=\"\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta http-equiv=\"Content-Security-Policy\" content=\"" << kPolicy << "\">\n"
       << "<title>" << escape_html(title) << "</title>\n<script>" << kErrorRecorder << "</script>\n"
       << "<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << escape_html(title) << "</h1>\n";
  if (!subtitle.empty()) html << "<p class=\"subtitle\">" << escape_html(subtitle) << "</p>\n";
  for (const std::string& fragment : fragments) html << fragment;
  if (!omitted.empty()) {
    html << "<section class=\"omitted\" data-omitted=\"" << omitted.size() << "\">\n<h2>Not in this report</h2>\n<ul>\n";
    for (const auto& [component, reason] : omitted)
      html << "<li><b>" << escape_html(component) << "</b>: " << escape_html(reason) << "</li>\n";
    html << "</ul>\n</section>\n";
  }
  html << "<p class=\"omitted\">Written by vireo report — one file, no network needed.</p>\n</body>\n</html>\n";
  return html.str();
}

}  // namespace vireo::report
