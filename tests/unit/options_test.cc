#include "cdc/common/options.h"

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
    return opts.Parse(args, [this](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
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

}  // namespace
}  // namespace enrich
