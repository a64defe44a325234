// Page: a report as one self-contained HTML document — a title, the run(s) it describes, the component
// fragments in order (components.h), and a list of the components left out and why.
//
// The page loads nothing: its Content-Security-Policy forbids every network fetch (images are data URIs),
// and its only script records errors (window.onerror, unhandled rejections, console.error) into the
// attribute data-errors of <html>, so a headless browser's dumped DOM says whether the page ran cleanly.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vireo::report {

struct Page {
  std::string title;
  std::string subtitle = {};  // one line under the title (e.g. the run folders)
  std::vector<std::string> fragments = {};
  std::vector<std::pair<std::string, std::string>> omitted = {};  // component -> why it is absent

  void add(std::string fragment) { fragments.push_back(std::move(fragment)); }
  void omit(std::string component, std::string reason) { omitted.emplace_back(std::move(component), std::move(reason)); }
  std::string render() const;  // the HTML document
};

}  // namespace vireo::report
