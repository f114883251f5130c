// A run's per-step times as a Chrome trace (the Trace Event Format that chrome://tracing, Perfetto and
// speedscope open): one complete ("X") event per step, nested in one event for the whole run.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "infera/profile.h"

namespace infera {

// {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}. Steps are category "layer", layout
// conversions and copies between backends "conversion"; the run itself "run". Times in µs, as the format wants.
nlohmann::json chrome_trace(const RunProfile& profile);

// Writes chrome_trace(profile) to `path`; throws infera::Error naming the file when it cannot.
void write_chrome_trace(const RunProfile& profile, const std::string& path);

}  // namespace infera
