#include "connect_options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <CLI/CLI.hpp>

#include "asyncps/transport/curve.h"

namespace asyncps::worker {
namespace {

using std::chrono::milliseconds;

// The shortest text that reads back as `v`.
std::string Shortest(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

const ClientOptionInfo& Row(std::string_view name) {
  const ClientOptionInfo* row = FindClientOption(name);
  if (row == nullptr) throw std::logic_error("no client option " + std::string(name));
  return *row;
}

// How a row of the options table is spelled on the command line.
struct Flag {
  std::string name;      // "--retry-deadline"
  std::string env;       // "ASYNCPS_RETRY_DEADLINE"
  bool seconds = false;  // a duration given in seconds (the table's unit is ms)
};

// --<name with dashes>, durations in seconds; request_timeout keeps its
// older spelling, in milliseconds.
Flag FlagOf(const ClientOptionInfo& row) {
  Flag f;
  f.name = row.name == "request_timeout" ? "--request-timeout-ms" : "--" + std::string(row.name);
  std::replace(f.name.begin(), f.name.end(), '_', '-');
  f.seconds = row.unit == "ms" && row.name != "request_timeout";
  f.env = "ASYNCPS_" + f.name.substr(2);
  for (char& c : f.env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return f;
}

// The rows that are plain flags: ClientOptions' numbers and switches, except
// those the program sets (worker_id, observer, window, interrupt_interval)
// and the compression's (AddCompressionFlags).
bool IsPlainFlag(const ClientOptionInfo& row) {
  if (row.name == "worker_id" || row.name == "observer" || row.name == "window" || row.name == "interrupt_interval")
    return false;
  if (row.MemberName().starts_with("compression.")) return false;
  return row.numeric() || std::holds_alternative<bool ClientOptions::*>(row.field);
}

std::string FlagHelp(const ClientOptionInfo& row, const Flag& flag) {
  std::string help(row.help);
  if (flag.seconds) help += " In seconds.";
  if (row.unit == "ms" && !flag.seconds) help += " In milliseconds.";
  if (row.unit == "bytes") help += " In bytes.";
  return help;
}

// The row's range check (the table's), on the flag's text.
CLI::Validator RangeOf(const ClientOptionInfo& row, bool seconds) {
  return CLI::Validator(
      [&row, seconds](std::string& text) -> std::string {
        double v = 0;
        try {
          v = std::stod(text);
        } catch (const std::invalid_argument&) {
          return "";  // not a number: the conversion says so
        } catch (const std::out_of_range&) {
          v = std::numeric_limits<double>::infinity();
        }
        const double value = seconds ? std::round(v * 1000) : v;
        if (std::isfinite(v) && CheckClientOptionValue(row, value).ok()) return "";
        const std::string allowed = row.AllowedText(seconds);
        return "must be " + std::string(allowed.starts_with("[") ? "in " : "") + allowed + ", not " + text;
      },
      row.AllowedText(seconds));
}

// The flag's value in `o`, as the flag takes it.
std::string FlagValue(const ClientOptionInfo& row, const Flag& flag, const ClientOptions& o) {
  if (!flag.seconds) return FormatClientOption(row, o);
  return VisitClientOption(row, o, [](const auto& v) -> std::string {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, milliseconds>)
      return Shortest(static_cast<double>(v.count()) / 1000);
    else
      return "";
  });
}

}  // namespace

Result<Compression> CompressionOptions::ToCompression() const {
  Result<Encoding> pull = ParseEncoding(pull_encoding);
  if (!pull.ok()) return Status::InvalidArgument("--pull-encoding: " + pull.status().message());
  Result<Encoding> commit = ParseEncoding(commit_encoding);
  if (!commit.ok()) return Status::InvalidArgument("--commit-encoding: " + commit.status().message());
  Compression c{pull.value(), commit.value(), commit_top_k, error_feedback};
  if (Status st = c.Validate(); !st.ok()) return Status::InvalidArgument("--commit-top-k: " + st.message());
  return c;
}

std::vector<std::string> CompressionOptions::ToArgs() const {
  std::ostringstream k;
  k << std::setprecision(17) << commit_top_k;
  std::vector<std::string> args{"--pull-encoding", pull_encoding,    "--commit-encoding",
                                commit_encoding,   "--commit-top-k", k.str()};
  if (!error_feedback) args.push_back("--no-error-feedback");
  return args;
}

std::string CompressionOptions::Describe() const {
  if (pull_encoding == "f32" && commit_encoding == "f32" && commit_top_k == 0) return "f32";
  std::ostringstream out;
  out << "pull " << pull_encoding << ", commit " << commit_encoding;
  if (commit_top_k > 0) out << " top-" << commit_top_k * 100 << "%";
  if (!error_feedback) out << " without error feedback";
  return out.str();
}

// The compression rows are special: encodings as names, error feedback as a
// --no- switch, and the flags live in CompressionOptions (asyncps-local's too).
void AddCompressionFlags(CLI::App& app, CompressionOptions& o) {
  const auto encodings = CLI::IsMember({EncodingName(Encoding::kFloat32), EncodingName(Encoding::kBfloat16)});
  for (const char* name : {"pull_encoding", "commit_encoding"}) {
    const ClientOptionInfo& row = Row(name);
    const Flag flag = FlagOf(row);
    std::string& value = row.name == "pull_encoding" ? o.pull_encoding : o.commit_encoding;
    app.add_option(flag.name, value, std::string(row.help))->envname(flag.env)->check(encodings)->capture_default_str();
  }
  const ClientOptionInfo& top_k = Row("commit_top_k");
  const Flag top_k_flag = FlagOf(top_k);
  app.add_option(top_k_flag.name, o.commit_top_k, std::string(top_k.help))
      ->envname(top_k_flag.env)
      ->check(RangeOf(top_k, false))
      ->capture_default_str();
  app.add_flag("--no-error-feedback{false}", o.error_feedback,
               "Turn error_feedback off. error_feedback: " + std::string(Row("error_feedback").help));
}

ClientOptions WorkerClientDefaults() {
  ClientOptions o;
  o.request_timeout = kWorkerRequestTimeout;
  return o;
}

Result<ClientOptions> ConnectOptions::ToClientOptions(std::uint32_t worker_id, Algorithm algorithm) const {
  ClientOptions co = client;
  co.servers = servers;
  co.worker_id = worker_id;
  co.algorithm = algorithm;
  Result<std::string> server_key =
      CurveKeyFromFileOrEnv(curve_server_key_file, "ASYNCPS_CURVE_SERVER_KEY", CurveKeyKind::kPublic);
  if (!server_key.ok()) return server_key.status();
  Result<std::string> secret_key =
      CurveKeyFromFileOrEnv(curve_secret_key_file, "ASYNCPS_CLIENT_CURVE_SECRET_KEY", CurveKeyKind::kSecret);
  if (!secret_key.ok()) return secret_key.status();
  if (server_key.value().empty() != secret_key.value().empty()) {
    return Status::InvalidArgument(
        "CURVE needs both the server's public key (--curve-server-key-file) and this client's secret key "
        "(--curve-secret-key-file), or neither");
  }
  co.curve_server_key = server_key.value();
  co.curve_secret_key = secret_key.value();
  Result<Compression> c = compression.ToCompression();
  if (!c.ok()) return c.status();
  co.compression = c.value();
  return co;
}

std::vector<std::string> ConnectOptions::ToArgs() const {
  std::vector<std::string> args;
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    if (!IsPlainFlag(row)) continue;
    const Flag flag = FlagOf(row);
    if (const auto* field = std::get_if<bool ClientOptions::*>(&row.field)) {
      // A switch on by default is turned off as --name=false.
      if (client.**field) args.push_back(flag.name);
      if (!(client.**field) && ClientOptions{}.**field) args.push_back(flag.name + "=false");
    } else {
      args.insert(args.end(), {flag.name, FlagValue(row, flag, client)});
    }
  }
  if (!curve_server_key_file.empty()) args.insert(args.end(), {"--curve-server-key-file", curve_server_key_file});
  if (!curve_secret_key_file.empty()) args.insert(args.end(), {"--curve-secret-key-file", curve_secret_key_file});
  for (auto& a : compression.ToArgs()) args.push_back(a);
  return args;
}

void AddConnectFlags(CLI::App& app, ConnectOptions& o, bool with_servers) {
  if (with_servers) {
    const ClientOptionInfo& row = Row("servers");
    const Flag flag = FlagOf(row);
    app.add_option(flag.name, o.servers, std::string(row.help) + " Comma-separated.")
        ->envname(flag.env)
        ->delimiter(',');
  }
  for (const ClientOptionInfo& row : ClientOptionTable()) {
    if (!IsPlainFlag(row)) continue;
    const Flag flag = FlagOf(row);
    const std::string help = FlagHelp(row, flag);
    VisitClientOption(row, o.client, [&]<class T>(T& member) {
      T* target = &member;  // in o.client, which outlives the parse (as every bound variable)
      if constexpr (std::is_same_v<T, bool>) {
        app.add_flag(flag.name, *target, help)->envname(flag.env);
      } else if constexpr (std::is_same_v<T, milliseconds>) {
        CLI::Option* option =
            flag.seconds ? app.add_option_function<double>(
                               flag.name, [target](double s) { *target = milliseconds(std::llround(s * 1000)); }, help)
                         : app.add_option_function<std::int64_t>(
                               flag.name, [target](std::int64_t ms) { *target = milliseconds(ms); }, help);
        option->envname(flag.env)->check(RangeOf(row, flag.seconds))->default_str(FlagValue(row, flag, o.client));
      } else if constexpr (std::is_arithmetic_v<T>) {
        app.add_option(flag.name, *target, help)->envname(flag.env)->check(RangeOf(row, false))->capture_default_str();
      }
    });
  }
  const ClientOptionInfo& server_key = Row("curve_server_key");
  app.add_option("--curve-server-key-file", o.curve_server_key_file,
                 "A file holding curve_server_key (else $ASYNCPS_CURVE_SERVER_KEY; unset: no encryption): " +
                     std::string(server_key.help))
      ->envname("ASYNCPS_CURVE_SERVER_KEY_FILE");
  const ClientOptionInfo& secret_key = Row("curve_secret_key");
  app.add_option(
         "--curve-secret-key-file", o.curve_secret_key_file,
         "A file holding curve_secret_key (else $ASYNCPS_CLIENT_CURVE_SECRET_KEY): " + std::string(secret_key.help))
      ->envname("ASYNCPS_CLIENT_CURVE_SECRET_KEY_FILE");
  AddCompressionFlags(app, o.compression);
}

}  // namespace asyncps::worker
