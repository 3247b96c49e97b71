// Relations shaped like the contract tables, for core unit tests.
#ifndef ENRICH_TESTS_UNIT_CORE_TEST_RELATIONS_H_
#define ENRICH_TESTS_UNIT_CORE_TEST_RELATIONS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "cdc/core/event_builder.h"
#include "cdc/pgoutput/messages.h"

namespace enrich::cdc::testing {

inline pgoutput::Relation MessagesRelation() {
  pgoutput::Relation r;
  r.oid = 16400;
  r.schema = "public";
  r.table = "support_conversation_messages";
  r.replica_identity = 'f';
  r.columns = {{"id", 2950, -1, true},
               {"conversation_id", 2950, -1, true},
               {"body", 25, -1, true}};
  return r;
}

inline absl::flat_hash_map<std::string, TableRouting> ContractRouting() {
  TableRouting messages, issues;
  messages.primary_key = {"id"};
  messages.routing_column = "conversation_id";
  issues.primary_key = {"id"};
  return {{"public.support_conversation_messages", messages},
          {"public.linear_issues", issues}};
}

inline pgoutput::Value Text(std::string s) {
  return {pgoutput::ValueKind::kText, std::move(s)};
}
inline pgoutput::Value Null() { return {pgoutput::ValueKind::kNull, ""}; }
inline pgoutput::Value Toast() {
  return {pgoutput::ValueKind::kUnchangedToast, ""};
}

}  // namespace enrich::cdc::testing

#endif  // ENRICH_TESTS_UNIT_CORE_TEST_RELATIONS_H_
