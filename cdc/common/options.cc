#include "cdc/common/options.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace enrich {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  // POSIX rather than iostreams: read(2) reports a directory (EISDIR) and
  // every other failure with an errno worth showing.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(std::strerror(errno));
  std::string contents;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      contents.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      close(fd);
      return absl::DataLossError(std::strerror(error));
    }
  }
  close(fd);
  return contents;
}

OptionSet::OptionSet(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void OptionSet::AddString(std::string name, std::string env,
                          std::string default_value, std::string help,
                          std::string* out, bool secret) {
  *out = default_value;
  options_.push_back({std::move(name),
                      std::move(env),
                      std::move(help),
                      std::move(default_value),
                      Kind::kString,
                      secret,
                      {},
                      out});
}

void OptionSet::AddInt(std::string name, std::string env, int64_t default_value,
                       std::string help, int64_t* out) {
  *out = default_value;
  options_.push_back({std::move(name),
                      std::move(env),
                      std::move(help),
                      absl::StrCat(default_value),
                      Kind::kInt,
                      false,
                      {},
                      out});
}

void OptionSet::AddBool(std::string name, std::string env, bool default_value,
                        std::string help, bool* out) {
  *out = default_value;
  options_.push_back({std::move(name),
                      std::move(env),
                      std::move(help),
                      default_value ? "true" : "false",
                      Kind::kBool,
                      false,
                      {},
                      out});
}

void OptionSet::AddChoice(std::string name, std::string env,
                          std::string default_value,
                          std::vector<std::string> choices, std::string help,
                          std::string* out) {
  *out = default_value;
  options_.push_back({std::move(name), std::move(env), std::move(help),
                      std::move(default_value), Kind::kChoice, false,
                      std::move(choices), out});
}

OptionSet::Option* OptionSet::Find(const std::string& name) {
  for (Option& option : options_) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

absl::Status OptionSet::Assign(const Option& option, const std::string& value,
                               const std::string& source) {
  switch (option.kind) {
    case Kind::kString:
      *static_cast<std::string*>(option.out) = value;
      return absl::OkStatus();
    case Kind::kChoice:
      if (std::find(option.choices.begin(), option.choices.end(), value) ==
          option.choices.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": '", value, "' is not one of ",
                         absl::StrJoin(option.choices, ", ")));
      }
      *static_cast<std::string*>(option.out) = value;
      return absl::OkStatus();
    case Kind::kInt: {
      int64_t parsed;
      if (!absl::SimpleAtoi(value, &parsed)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": '", value, "' is not an integer"));
      }
      *static_cast<int64_t*>(option.out) = parsed;
      return absl::OkStatus();
    }
    case Kind::kBool: {
      bool parsed;
      if (!absl::SimpleAtob(value, &parsed)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": '", value, "' is not true or false"));
      }
      *static_cast<bool*>(option.out) = parsed;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown option kind");
}

absl::Status OptionSet::ApplyEnvironment(const Option& option,
                                         const EnvLookup& env,
                                         const FileReader& read_file) {
  const std::string file_variable = absl::StrCat(option.env, "_FILE");
  const char* value = env(option.env.c_str());
  const char* path = env(file_variable.c_str());
  if (value != nullptr && path != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "both ", option.env, " and ", file_variable, " are set; set only one"));
  }
  if (value != nullptr) {
    return Assign(option, value, absl::StrCat("environment ", option.env));
  }
  if (path == nullptr) return absl::OkStatus();
  absl::StatusOr<std::string> contents = read_file(path);
  if (!contents.ok()) {
    // The reader's message says why (no such file, permission denied); the
    // contents, which may be a secret, are never part of an error.
    return absl::InvalidArgumentError(
        absl::StrCat("environment ", file_variable, ": cannot read '", path,
                     "': ", contents.status().message()));
  }
  // Files written by editors and `echo` end in a newline that no DSN or
  // password means to include; only one is removed.
  std::string text = *std::move(contents);
  if (absl::EndsWith(text, "\r\n")) {
    text.resize(text.size() - 2);
  } else if (absl::EndsWith(text, "\n")) {
    text.pop_back();
  }
  return Assign(option, text,
                absl::StrCat("environment ", file_variable, " ('", path, "')"));
}

absl::StatusOr<std::vector<std::string>> OptionSet::Parse(
    const std::vector<std::string>& args, const EnvLookup& env,
    const FileReader& read_file) {
  for (const Option& option : options_) {
    if (option.env.empty()) continue;
    absl::Status status = ApplyEnvironment(option, env, read_file);
    if (!status.ok()) return status;
  }

  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) {
      positional.push_back(arg);
      continue;
    }
    std::string name(body);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    Option* option = Find(name);
    if (option == nullptr && !has_value && absl::StartsWith(name, "no-")) {
      Option* negated = Find(name.substr(3));
      if (negated != nullptr && negated->kind == Kind::kBool) {
        *static_cast<bool*>(negated->out) = false;
        continue;
      }
    }
    if (option == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown option --", name, " (see ", program_, " --help)"));
    }
    if (!has_value) {
      if (option->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " needs a value"));
      }
    }
    absl::Status status = Assign(*option, value, absl::StrCat("--", name));
    if (!status.ok()) return status;
  }
  return positional;
}

std::string OptionSet::Help() const {
  std::string out = absl::StrCat(program_, ": ", summary_, "\n\nOptions:\n");
  for (const Option& option : options_) {
    std::string value_hint;
    switch (option.kind) {
      case Kind::kString:
        value_hint = "=STRING";
        break;
      case Kind::kInt:
        value_hint = "=N";
        break;
      case Kind::kBool:
        value_hint = "[=true|false]";
        break;
      case Kind::kChoice:
        value_hint = absl::StrCat("=", absl::StrJoin(option.choices, "|"));
        break;
    }
    absl::StrAppend(&out, "  --", option.name, value_hint, "\n      ",
                    option.help, "\n");
    std::string default_text = option.secret ? "(secret, not shown)"
                               : option.default_text.empty()
                                   ? "(none)"
                                   : option.default_text;
    absl::StrAppend(&out, "      default: ", default_text);
    if (!option.env.empty()) {
      absl::StrAppend(&out, "; env: ", option.env, " or ", option.env, "_FILE");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help, -h\n      Show this help and exit.\n");
  absl::StrAppend(
      &out,
      "\nEvery environment variable X can instead be given as X_FILE=PATH:\n"
      "the value is then the file's contents without one trailing newline\n"
      "(for secrets mounted as files). Setting both X and X_FILE is an\n"
      "error. Flags override the environment.\n");
  return out;
}

}  // namespace enrich
