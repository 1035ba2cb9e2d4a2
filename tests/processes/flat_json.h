#pragma once

// A strict parser of one flat JSON object (string keys; string, number,
// true/false/null values; no nesting), for tests that check log lines are
// JSON without a JSON library. Header-only.

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace mast::testing {

// One member: the key and the value (strings decoded, other values as
// written). `quoted` tells a string from a number or literal.
struct FlatJsonMember {
  std::string key;
  std::string value;
  bool quoted = false;
};

namespace flat_json_internal {

inline bool ParseString(absl::string_view& in, std::string& out) {
  if (in.empty() || in[0] != '"') return false;
  in.remove_prefix(1);
  while (!in.empty() && in[0] != '"') {
    char c = in[0];
    if (static_cast<unsigned char>(c) < 0x20) return false;  // raw control char
    in.remove_prefix(1);
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (in.empty()) return false;
    char e = in[0];
    in.remove_prefix(1);
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out.push_back(e);
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        uint32_t code = 0;
        if (in.size() < 4 || !absl::SimpleHexAtoi(in.substr(0, 4), &code)) return false;
        in.remove_prefix(4);
        if (code >= 0x80) return false;  // enough for the tests: ASCII escapes only
        out.push_back(static_cast<char>(code));
        break;
      }
      default:
        return false;
    }
  }
  if (in.empty()) return false;
  in.remove_prefix(1);
  return true;
}

inline bool ParseBare(absl::string_view& in, std::string& out) {
  size_t n = 0;
  while (n < in.size() && in[n] != ',' && in[n] != '}') ++n;
  out = std::string(in.substr(0, n));
  in.remove_prefix(n);
  if (out == "true" || out == "false" || out == "null") return true;
  double d = 0;
  return !out.empty() && (std::isdigit(static_cast<unsigned char>(out[0])) || out[0] == '-') &&
         absl::SimpleAtod(out, &d);
}

}  // namespace flat_json_internal

// The members in order, or nullopt when `text` is not exactly one flat
// object (surrounding whitespace aside). No whitespace inside is accepted
// but the log never writes any.
inline std::optional<std::vector<FlatJsonMember>> ParseFlatJsonObject(absl::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  absl::string_view in = text.substr(1);
  std::vector<FlatJsonMember> members;
  if (in == "}") return members;
  while (true) {
    FlatJsonMember m;
    if (!flat_json_internal::ParseString(in, m.key) || in.empty() || in[0] != ':') {
      return std::nullopt;
    }
    in.remove_prefix(1);
    m.quoted = !in.empty() && in[0] == '"';
    if (!(m.quoted ? flat_json_internal::ParseString(in, m.value)
                   : flat_json_internal::ParseBare(in, m.value))) {
      return std::nullopt;
    }
    members.push_back(std::move(m));
    if (in == "}") return members;
    if (in.empty() || in[0] != ',') return std::nullopt;
    in.remove_prefix(1);
  }
}

}  // namespace mast::testing
