#pragma once

#include <cmath>
#include <concepts>
#include <initializer_list>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mast {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// One key=value field of a structured log line. The value is kept as text
// with its kind, so that the JSON format writes numbers and bools unquoted.
struct LogField {
  enum class Kind { kString, kNumber, kBool };
  LogField(absl::string_view k, const absl::AlphaNum& v) : key(k), value(v.Piece()) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  template <typename B>
  requires std::same_as<B, bool> LogField(absl::string_view k, B v)
      : key(k), value(v ? "true" : "false"), kind(Kind::kBool) {}
  template <typename N>
  requires(std::integral<N> || std::floating_point<N>) &&
      (!std::same_as<N, bool>)&&(!std::same_as<N, char>)LogField(absl::string_view k, N v)
      : key(k),
  value(absl::StrCat(v)), kind(NumberKind(v)) {}
  absl::string_view key;
  std::string value;
  Kind kind = Kind::kString;

 private:
  // NaN and infinities are no JSON numbers: they are written as strings.
  template <typename N>
  static Kind NumberKind(N v) {
    if constexpr (std::floating_point<N>) {
      if (!std::isfinite(v)) return Kind::kString;
    }
    return Kind::kNumber;
  }
};

// How lines are written; chosen once at start (mastd's --log_format).
enum class LogFormat { kLogfmt, kJson };

// Writes one structured line to stderr, in logfmt (the default), e.g.
//   ts=2026-11-25T21:07:21.123456Z level=info event=leader_started token=42
// or as one JSON object per line, with the fields in the same order:
//   {"ts":"2026-11-25T21:07:21.123456Z","level":"info","event":"leader_started","token":42}
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

// Sets the format of the lines written from now on. Call before threads start.
void SetLogFormat(LogFormat format);

// Sets a field written on every line (e.g. replica=...). Call before threads start.
void SetLogPrefixField(absl::string_view key, absl::string_view value);

// The JSON string literal of `text` (quoted; '"', '\\' and control
// characters escaped, the latter as \u00XX where JSON has no short form).
// Other bytes, UTF-8 included, are copied as they are.
std::string JsonQuote(absl::string_view text);

}  // namespace mast
