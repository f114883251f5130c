// A roofline report as one self-contained HTML page: inline CSS and SVG, no scripts, fonts or other files, so it
// can be mailed, attached to a CI run or opened offline. Every string from the model is escaped.
#pragma once

#include <cstddef>
#include <string>

#include "analysis/roofline.h"

namespace infera {

struct HtmlReportOptions {
  size_t top = 20;    // layers in the time bars
  size_t labels = 8;  // the longest layers are named on the chart; the others on hover
};

// Sections: summary header; log-log roofline chart (the device's compute ceilings per precision the model uses,
// DRAM and on-chip bandwidth slopes, one point per step sized by its time, coloured by its bound); the longest
// steps as bars; time by bound; energy split into compute, on-chip and DRAM; every step in a table; the rules.
std::string roofline_html(const RooflineReport& report, const HtmlReportOptions& options = {});

// The start of a self-contained page, through <body>: the house style (page, headings, tables, chart text) and
// the page's own `style`.
std::string html_page_head(const std::string& title, const std::string& style);

// Text safe inside HTML elements and quoted attributes.
std::string html_escape(const std::string& text);

}  // namespace infera
