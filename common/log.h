#pragma once

#include <concepts>
#include <initializer_list>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mast {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// One key=value field of a structured log line.
struct LogField {
  LogField(absl::string_view k, const absl::AlphaNum& v) : key(k), value(v.Piece()) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  template <typename B>
  requires std::same_as<B, bool> LogField(absl::string_view k, B v)
      : key(k), value(v ? "true" : "false") {}
  absl::string_view key;
  std::string value;
};

// Writes one structured line (logfmt) to stderr, e.g.
//   ts=2026-11-25T21:07:21.123456Z level=info event=leader_started token=42
// `event` is a stable snake_case name a log search can key on; `msg` a human
// sentence where one helps. Thread-safe; a line is written with one write(2)
// so lines from several threads never interleave.
void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarning(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, event, fields);
}
inline void LogError(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// Lines below this level are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);

// Sets a field written on every line (e.g. replica=...). Call before threads start.
void SetLogPrefixField(absl::string_view key, absl::string_view value);

}  // namespace mast
