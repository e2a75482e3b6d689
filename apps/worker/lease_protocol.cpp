#include "lease_protocol.h"

#include <set>
#include <sstream>

namespace asyncps::worker {

std::string FormatLeaseMessage(const LeaseMessage& m) {
  std::string out = m.verb;
  for (const auto& [key, value] : m.fields) out += " " + key + "=" + std::to_string(value);
  if (m.verb == "error") return out + " " + m.body;
  if (!m.body.empty()) out += "\n" + m.body;
  return out;
}

Result<LeaseMessage> ParseLeaseMessage(const std::string& text, const std::vector<std::string>& expected) {
  if (text.size() > kMaxLeaseMessage)
    return Status::InvalidArgument("lease message of " + std::to_string(text.size()) + " bytes: more than " +
                                   std::to_string(kMaxLeaseMessage));
  const std::size_t newline = text.find('\n');
  const std::string line = text.substr(0, newline);
  LeaseMessage m;
  if (newline != std::string::npos) m.body = text.substr(newline + 1);
  std::istringstream words(line);
  words >> m.verb;
  if (m.verb == "error") {
    const std::size_t space = line.find(' ');
    m.body = space == std::string::npos ? "(no reason given)" : line.substr(space + 1);
    return m;
  }
  std::set<std::string> wanted;
  bool known = false;
  for (const std::string& spec : expected) {
    std::istringstream s(spec);
    std::string verb;
    s >> verb;
    if (verb != m.verb) continue;
    known = true;
    for (std::string f; s >> f;) wanted.insert(f);
  }
  if (!known) {
    std::string verbs;
    for (const std::string& spec : expected) verbs += (verbs.empty() ? "" : ", ") + spec.substr(0, spec.find(' '));
    return Status::InvalidArgument("lease message '" + line.substr(0, 80) + "': expected one of " + verbs);
  }
  for (std::string word; words >> word;) {
    const std::size_t eq = word.find('=');
    const std::string key = word.substr(0, eq), value = eq == std::string::npos ? "" : word.substr(eq + 1);
    if (!wanted.count(key))
      return Status::InvalidArgument("lease message '" + m.verb + "': unexpected field '" + key + "'");
    if (m.fields.count(key))
      return Status::InvalidArgument("lease message '" + m.verb + "': field '" + key + "' given twice");
    if (value.empty() || value.size() > 19 || value.find_first_not_of("0123456789") != std::string::npos)
      return Status::InvalidArgument("lease message '" + m.verb + "': field '" + key + "' is '" + value +
                                     "', not a decimal integer");
    m.fields[key] = std::stoull(value);
  }
  for (const std::string& key : wanted)
    if (!m.fields.count(key))
      return Status::InvalidArgument("lease message '" + m.verb + "': field '" + key + "' missing");
  if (!m.body.empty() && m.verb != "leave")
    return Status::InvalidArgument("lease message '" + m.verb + "': unexpected text after its first line");
  return m;
}

}  // namespace asyncps::worker
