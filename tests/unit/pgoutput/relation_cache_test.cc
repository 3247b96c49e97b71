#include "cdc/pgoutput/relation_cache.h"

#include "gtest/gtest.h"

namespace enrich::pgoutput {
namespace {

Relation MakeRelation(uint32_t oid, int columns) {
  Relation relation{oid, "public", "t" + std::to_string(oid), 'd', {}};
  for (int i = 0; i < columns; ++i) {
    relation.columns.push_back({"c" + std::to_string(i), 25, -1, i == 0});
  }
  return relation;
}

TEST(RelationCacheTest, UnknownOidIsNotFound) {
  RelationCache cache;
  auto relation = cache.Get(16393);
  ASSERT_FALSE(relation.ok());
  EXPECT_EQ(relation.status().code(), absl::StatusCode::kNotFound);
}

TEST(RelationCacheTest, LatestDefinitionWinsAtOnce) {
  RelationCache cache;
  cache.Put(MakeRelation(16393, 6));
  auto before = cache.Get(16393);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ((*before)->columns.size(), 6u);
  cache.Put(MakeRelation(16393, 7));  // ALTER TABLE ADD COLUMN
  auto after = cache.Get(16393);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->columns.size(), 7u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RelationCacheTest, PointersSurviveOtherInsertions) {
  RelationCache cache;
  cache.Put(MakeRelation(1, 2));
  const Relation* first = *cache.Get(1);
  for (uint32_t oid = 2; oid < 2000; ++oid) cache.Put(MakeRelation(oid, 1));
  EXPECT_EQ(*cache.Get(1), first);
  EXPECT_EQ(first->table, "t1");
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Get(1).ok());
}

TEST(RelationCacheTest, CheckTupleShapeComparesColumnCounts) {
  Relation relation = MakeRelation(5, 3);
  Tuple three(3), two(2);
  EXPECT_TRUE(CheckTupleShape(relation, three).ok());
  absl::Status status = CheckTupleShape(relation, two);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("public.t5"), absl::string_view::npos);
}

}  // namespace
}  // namespace enrich::pgoutput
