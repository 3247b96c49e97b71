#include "cdc/common/options.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Fixture {
  std::string dsn, brokers, mode;
  int64_t partitions = 0;
  bool heartbeat = false;
  OptionSet opts{"enrich-test", "test program"};
  std::map<std::string, std::string> env;
  // What the injected FileReader finds; other paths are unreadable.
  std::map<std::string, std::string> files;

  Fixture() {
    opts.AddString("pg-dsn", "ENRICH_PG_DSN", "", "conninfo", &dsn,
                   /*secret=*/true);
    opts.AddString("kafka-brokers", "ENRICH_KAFKA_BROKERS", "localhost:9092",
                   "brokers", &brokers);
    opts.AddInt("partitions", "ENRICH_PARTITIONS", 6, "partitions",
                &partitions);
    opts.AddBool("heartbeat", "", true, "heartbeat", &heartbeat);
    opts.AddChoice("snapshot", "ENRICH_SNAPSHOT", "initial",
                   {"initial", "never", "always"}, "snapshot mode", &mode);
  }
  absl::StatusOr<std::vector<std::string>> Parse(
      std::vector<std::string> args) {
    return opts.Parse(
        args,
        [this](const char* name) -> const char* {
          auto it = env.find(name);
          return it == env.end() ? nullptr : it->second.c_str();
        },
        [this](const std::string& path) -> absl::StatusOr<std::string> {
          auto it = files.find(path);
          if (it == files.end()) {
            return absl::NotFoundError("No such file or directory");
          }
          return it->second;
        });
  }
};

TEST(OptionSetTest, DefaultsApplyWhenNothingIsGiven) {
  Fixture f;
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_EQ(f.brokers, "localhost:9092");
  EXPECT_EQ(f.partitions, 6);
  EXPECT_TRUE(f.heartbeat);
  EXPECT_EQ(f.mode, "initial");
}

TEST(OptionSetTest, EnvironmentSetsAndFlagsOverrideIt) {
  Fixture f;
  f.env["ENRICH_KAFKA_BROKERS"] = "env:1";
  f.env["ENRICH_PARTITIONS"] = "12";
  f.env["ENRICH_PG_DSN"] = "host=env";
  ASSERT_TRUE(f.Parse({"--kafka-brokers=flag:2"}).ok());
  EXPECT_EQ(f.brokers, "flag:2");
  EXPECT_EQ(f.partitions, 12);
  EXPECT_EQ(f.dsn, "host=env");
}

TEST(OptionSetTest, AcceptsSeparateValuesBoolFormsAndPositionals) {
  Fixture f;
  auto rest = f.Parse({"run", "--partitions", "3", "--no-heartbeat", "extra"});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(*rest, ElementsAre("run", "extra"));
  EXPECT_EQ(f.partitions, 3);
  EXPECT_FALSE(f.heartbeat);
  ASSERT_TRUE(f.Parse({"--heartbeat"}).ok());
  EXPECT_TRUE(f.heartbeat);
}

TEST(OptionSetTest, RejectsUnknownOptionsAndBadValuesNamingThem) {
  Fixture f;
  EXPECT_THAT(f.Parse({"--nope=1"}).status().message(), HasSubstr("--nope"));
  EXPECT_THAT(f.Parse({"--partitions=many"}).status().message(),
              HasSubstr("--partitions"));
  EXPECT_THAT(f.Parse({"--snapshot=sometimes"}).status().message(),
              HasSubstr("initial, never, always"));
  EXPECT_THAT(f.Parse({"--kafka-brokers"}).status().message(),
              HasSubstr("needs a value"));
  f.env["ENRICH_PARTITIONS"] = "x";
  EXPECT_THAT(f.Parse({}).status().message(),
              HasSubstr("environment ENRICH_PARTITIONS"));
}

TEST(OptionSetTest, HelpListsFlagsEnvAndDefaultsButHidesSecrets) {
  Fixture f;
  f.opts.AddString("password-ish", "", "hunter2", "a secret", &f.dsn,
                   /*secret=*/true);
  ASSERT_TRUE(f.Parse({"--help"}).ok());
  EXPECT_TRUE(f.opts.help_requested());
  std::string help = f.opts.Help();
  EXPECT_THAT(help, HasSubstr("--kafka-brokers=STRING"));
  EXPECT_THAT(help, HasSubstr("env: ENRICH_KAFKA_BROKERS"));
  EXPECT_THAT(help, HasSubstr("default: localhost:9092"));
  EXPECT_THAT(help, HasSubstr("--snapshot=initial|never|always"));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("hunter2")));
}

TEST(OptionSetTest, FileVariantReadsTheValueWithoutOneTrailingNewline) {
  Fixture f;
  f.files["/run/secrets/dsn"] = "host=db password=s3cret\n";
  f.files["/run/secrets/partitions"] = "12\r\n";
  f.env["ENRICH_PG_DSN_FILE"] = "/run/secrets/dsn";
  f.env["ENRICH_PARTITIONS_FILE"] = "/run/secrets/partitions";
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_EQ(f.dsn, "host=db password=s3cret");
  EXPECT_EQ(f.partitions, 12);

  // Only one newline goes: a value may itself end in whitespace.
  Fixture g;
  g.files["/run/secrets/dsn"] = "password=x\n\n";
  g.env["ENRICH_PG_DSN_FILE"] = "/run/secrets/dsn";
  ASSERT_TRUE(g.Parse({}).ok());
  EXPECT_EQ(g.dsn, "password=x\n");
}

TEST(OptionSetTest, FlagsOverrideTheFileVariantToo) {
  Fixture f;
  f.files["/b"] = "env:1";
  f.env["ENRICH_KAFKA_BROKERS_FILE"] = "/b";
  ASSERT_TRUE(f.Parse({"--kafka-brokers=flag:2"}).ok());
  EXPECT_EQ(f.brokers, "flag:2");
}

TEST(OptionSetTest, BothVariableAndFileVariantIsAnError) {
  Fixture f;
  f.files["/run/secrets/dsn"] = "host=file password=s3cret";
  f.env["ENRICH_PG_DSN"] = "host=env password=hunter2";
  f.env["ENRICH_PG_DSN_FILE"] = "/run/secrets/dsn";
  absl::Status status = f.Parse({}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ENRICH_PG_DSN and "
                                          "ENRICH_PG_DSN_FILE"));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("hunter2")));
}

TEST(OptionSetTest, UnreadableFileIsAnErrorNamingVariableAndPath) {
  Fixture f;
  f.env["ENRICH_PG_DSN_FILE"] = "/run/secrets/missing";
  absl::Status status = f.Parse({}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ENRICH_PG_DSN_FILE"));
  EXPECT_THAT(status.message(), HasSubstr("/run/secrets/missing"));
  EXPECT_THAT(status.message(), HasSubstr("No such file"));
}

TEST(OptionSetTest, BadValueInAFileNamesTheVariableAndPath) {
  Fixture f;
  f.files["/p"] = "many";
  f.env["ENRICH_PARTITIONS_FILE"] = "/p";
  EXPECT_THAT(f.Parse({}).status().message(),
              HasSubstr("environment ENRICH_PARTITIONS_FILE ('/p')"));
}

TEST(OptionSetTest, OptionsWithoutEnvironmentHaveNoFileVariant) {
  Fixture f;  // --heartbeat has no environment variable
  f.files["/h"] = "false";
  f.env["_FILE"] = "/h";
  ASSERT_TRUE(f.Parse({}).ok());
  EXPECT_TRUE(f.heartbeat);
}

TEST(OptionSetTest, HelpNamesTheFileVariant) {
  Fixture f;
  std::string help = f.opts.Help();
  EXPECT_THAT(help, HasSubstr("env: ENRICH_PG_DSN or ENRICH_PG_DSN_FILE"));
  EXPECT_THAT(help, HasSubstr("X_FILE=PATH"));
}

TEST(ReadWholeFileTest, ReadsAFileAndExplainsAMissingOne) {
  const std::string path = ::testing::TempDir() + "/options_test_secret";
  {
    std::ofstream out(path, std::ios::binary);
    out << "line one\nline two\n";
  }
  absl::StatusOr<std::string> read = ReadWholeFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "line one\nline two\n");
  std::remove(path.c_str());
  read = ReadWholeFile(path);
  EXPECT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("No such file"));
  EXPECT_FALSE(ReadWholeFile(::testing::TempDir()).ok()) << "a directory";
}

}  // namespace
}  // namespace enrich
