#include "processor/core/migrations.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace enrich::processor {
namespace {

using ::testing::HasSubstr;

TEST(OrderMigrationsTest, OrdersByVersion) {
  auto ordered = OrderMigrations(
      {{"010_ten.sql", "b"}, {"002_two.sql", "a"}, {"1_one.sql", "c"}});
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  ASSERT_EQ(ordered->size(), 3u);
  EXPECT_EQ((*ordered)[0].version, 1);
  EXPECT_EQ((*ordered)[1].name, "002_two.sql");
  EXPECT_EQ((*ordered)[2].version, 10);
  EXPECT_EQ((*ordered)[2].sql, "b");
}

TEST(OrderMigrationsTest, RejectsBadNamesAndDuplicateVersions) {
  EXPECT_THAT(OrderMigrations({{"readme.sql", ""}}).status().message(),
              HasSubstr("readme.sql"));
  EXPECT_FALSE(OrderMigrations({{"001_x.txt", ""}}).ok());
  EXPECT_FALSE(OrderMigrations({{"000_x.sql", ""}}).ok());
  EXPECT_THAT(
      OrderMigrations({{"001_a.sql", ""}, {"01_b.sql", ""}}).status().message(),
      HasSubstr("share version 1"));
}

TEST(OrderMigrationsTest, ReadsTheEarlierChecksumsAFileAccepts) {
  auto ordered = OrderMigrations(
      {{"002_two.sql",
        "-- 002\n-- accepts-checksum: 1b0f6510fc5bd5dfdde2a790ad5c8ee3\n"
        "--   accepts-checksum: not a declaration (indented)\n"
        "-- accepts-checksum:   0123456789abcdef0123456789abcdef  \nSELECT "
        "1;\n"},
       {"003_three.sql", "SELECT 1;"}});
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  EXPECT_THAT((*ordered)[0].earlier_checksums,
              ::testing::ElementsAre("1b0f6510fc5bd5dfdde2a790ad5c8ee3",
                                     "0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE((*ordered)[1].earlier_checksums.empty());
  for (const char* bad :
       {"-- accepts-checksum: 1B0F6510FC5BD5DFDDE2A790AD5C8EE3",
        "-- accepts-checksum: 1b0f", "-- accepts-checksum:"}) {
    EXPECT_THAT(OrderMigrations({{"004_bad.sql", bad}}).status().message(),
                HasSubstr("004_bad.sql"))
        << bad;
  }
}

TEST(CheckAppliedMigrationsTest, ExactlyTheKnownOnesInAnyOrderAreCurrent) {
  auto known = OrderMigrations({{"001_a.sql", "a"}, {"002_b.sql", "b"}});
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(
      CheckAppliedMigrations(*known, {{2, "002_b.sql"}, {1, "001_a.sql"}})
          .ok());
}

TEST(CheckAppliedMigrationsTest, AMissingMigrationAsksForMigrate) {
  auto known = OrderMigrations({{"001_a.sql", "a"}, {"002_b.sql", "b"}});
  ASSERT_TRUE(known.ok());
  const absl::Status missing =
      CheckAppliedMigrations(*known, {{1, "001_a.sql"}});
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.message(), HasSubstr("002_b.sql"));
  EXPECT_THAT(missing.message(), HasSubstr("enrich-processor migrate"));
  EXPECT_EQ(CheckAppliedMigrations(*known, {}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CheckAppliedMigrationsTest, AnUnknownAppliedMigrationMeansANewerSchema) {
  auto known = OrderMigrations({{"001_a.sql", "a"}});
  ASSERT_TRUE(known.ok());
  const absl::Status newer =
      CheckAppliedMigrations(*known, {{1, "001_a.sql"}, {7, "007_later.sql"}});
  EXPECT_EQ(newer.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(newer.message(), HasSubstr("007_later.sql"));
  EXPECT_THAT(newer.message(), HasSubstr("newer release"));
}

TEST(EmbeddedMigrationsTest, AreTheSqlDirectoryVerbatim) {
  auto ordered = OrderMigrations(EmbeddedMigrations());
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  ASSERT_GE(ordered->size(), 4u);
  for (const Migration& migration : *ordered) {
    std::ifstream in(std::string(ENRICH_SOURCE_DIR) + "/sql/" + migration.name);
    ASSERT_TRUE(in) << migration.name;
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(migration.sql, text.str()) << migration.name;
  }
}

}  // namespace
}  // namespace enrich::processor
