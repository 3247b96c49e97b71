// Command-line options with environment-variable equivalents and a --help
// that lists both, so every setting of enrich-cdc and enrich-processor can be
// given either way (flags win over the environment).
//
//   std::string dsn;
//   OptionSet opts("enrich-cdc", "Streams committed changes to Kafka.");
//   opts.AddString("pg-dsn", "ENRICH_PG_DSN", "", "PostgreSQL conninfo", &dsn,
//                  /*secret=*/true);
//   absl::StatusOr<std::vector<std::string>> rest = opts.Parse(args, getenv);
//
// Accepted forms: --name=value, --name value, and for booleans --name,
// --name=true|false and --no-name. Unknown options and malformed values are
// errors naming the option. Not thread-safe; use from main() only.
//
// Every environment variable X may instead be given as X_FILE=/path: the
// value is the file's contents with one trailing newline removed, so a
// secret can come from a file (a Kubernetes Secret or systemd credential
// mounted as a file) rather than sit in the environment. Setting both X and
// X_FILE, or naming a file that cannot be read, is an error naming the
// variable (and the path, never the contents).
#ifndef ENRICH_CDC_COMMON_OPTIONS_H_
#define ENRICH_CDC_COMMON_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace enrich {

// Looks up an environment variable; nullptr when unset. Injected so tests do
// not touch the process environment.
using EnvLookup = std::function<const char*(const char*)>;

// Reads a whole file (for X_FILE variables); an error says why it could not.
// Injected so tests need no files.
using FileReader =
    std::function<absl::StatusOr<std::string>(const std::string& path)>;

// The FileReader of the real file system.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

class OptionSet {
 public:
  OptionSet(std::string program, std::string summary);
  OptionSet(const OptionSet&) = delete;
  OptionSet& operator=(const OptionSet&) = delete;

  // Each Add* writes the default into *out at once; *out must outlive Parse.
  // `env` may be empty when the option has no environment equivalent.
  // A secret option's value is never shown (help shows only whether it is set).
  void AddString(std::string name, std::string env, std::string default_value,
                 std::string help, std::string* out, bool secret = false);
  void AddInt(std::string name, std::string env, int64_t default_value,
              std::string help, int64_t* out);
  void AddBool(std::string name, std::string env, bool default_value,
               std::string help, bool* out);
  // A string restricted to `choices` (checked for both env and flag values).
  void AddChoice(std::string name, std::string env, std::string default_value,
                 std::vector<std::string> choices, std::string help,
                 std::string* out);

  // Applies the environment (X or X_FILE, see above), then `args` (without
  // the program name or subcommand). Returns the positional arguments. Sets
  // help_requested() on --help/-h, in which case the caller should print
  // Help() and exit 0.
  absl::StatusOr<std::vector<std::string>> Parse(
      const std::vector<std::string>& args, const EnvLookup& env,
      const FileReader& read_file = ReadWholeFile);

  bool help_requested() const { return help_requested_; }
  std::string Help() const;

 private:
  enum class Kind { kString, kInt, kBool, kChoice };
  struct Option {
    std::string name;
    std::string env;
    std::string help;
    std::string default_text;
    Kind kind;
    bool secret = false;
    std::vector<std::string> choices;
    void* out;
  };
  absl::Status Assign(const Option& option, const std::string& value,
                      const std::string& source);
  // Applies option.env or option.env + "_FILE" when either is set.
  absl::Status ApplyEnvironment(const Option& option, const EnvLookup& env,
                                const FileReader& read_file);
  Option* Find(const std::string& name);

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
  bool help_requested_ = false;
};

}  // namespace enrich

#endif  // ENRICH_CDC_COMMON_OPTIONS_H_
