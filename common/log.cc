#include "common/log.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mast {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<LogFormat> log_format{LogFormat::kLogfmt};
// The prefix fields, rendered for each format (" k=v" and ",\"k\":\"v\"").
std::string* prefix_logfmt = new std::string();
std::string* prefix_json = new std::string();

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

void AppendValue(std::string& out, absl::string_view value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || !absl::ascii_isprint(c)) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out.append(value.data(), value.size());
    return;
  }
  out.push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        if (absl::ascii_isprint(c)) {
          out.push_back(c);
        } else {
          absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        }
    }
  }
  out.push_back('"');
}

void AppendJsonString(std::string& out, absl::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string Timestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
}

std::string LogfmtLine(LogLevel level, absl::string_view event,
                       std::initializer_list<LogField> fields) {
  std::string line =
      absl::StrCat("ts=", Timestamp(), " level=", LevelName(level), *prefix_logfmt, " event=");
  AppendValue(line, event);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=");
    AppendValue(line, field.value);
  }
  return line;
}

std::string JsonLine(LogLevel level, absl::string_view event,
                     std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat("{\"ts\":\"", Timestamp(), "\",\"level\":\"", LevelName(level),
                                  "\"", *prefix_json, ",\"event\":");
  AppendJsonString(line, event);
  for (const LogField& field : fields) {
    line.push_back(',');
    AppendJsonString(line, field.key);
    line.push_back(':');
    if (field.kind == LogField::Kind::kString) {
      AppendJsonString(line, field.value);
    } else {
      line.append(field.value);
    }
  }
  line.push_back('}');
  return line;
}

}  // namespace

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  std::string line = log_format.load(std::memory_order_relaxed) == LogFormat::kJson
                         ? JsonLine(level, event, fields)
                         : LogfmtLine(level, event, fields);
  line.push_back('\n');
  // One write per line; a short write to stderr is not worth retrying.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void SetMinLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

void SetLogFormat(LogFormat format) { log_format.store(format); }

void SetLogPrefixField(absl::string_view key, absl::string_view value) {
  absl::StrAppend(prefix_logfmt, " ", key, "=");
  AppendValue(*prefix_logfmt, value);
  prefix_json->push_back(',');
  AppendJsonString(*prefix_json, key);
  prefix_json->push_back(':');
  AppendJsonString(*prefix_json, value);
}

std::string JsonQuote(absl::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

}  // namespace mast
