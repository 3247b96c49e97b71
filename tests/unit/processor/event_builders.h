// Small builders of enrich.v1.ChangeEvent for the processor's unit tests.
#ifndef ENRICH_TESTS_UNIT_PROCESSOR_EVENT_BUILDERS_H_
#define ENRICH_TESTS_UNIT_PROCESSOR_EVENT_BUILDERS_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "change_event.pb.h"

namespace enrich::processor::testing {

// A column value: text, or nullopt for SQL NULL.
using Cell = std::pair<std::string, std::optional<std::string>>;

inline enrich::v1::Row MakeRow(std::initializer_list<Cell> cells) {
  enrich::v1::Row row;
  for (const Cell& cell : cells) {
    enrich::v1::Column* column = row.add_columns();
    column->set_name(cell.first);
    if (cell.second) {
      column->set_text(*cell.second);
    } else {
      column->mutable_null();
    }
  }
  return row;
}

inline enrich::v1::ChangeEvent MakeEvent(enrich::v1::Operation op,
                                         const std::string& table,
                                         std::optional<enrich::v1::Row> new_row,
                                         std::optional<enrich::v1::Row> old_row,
                                         uint64_t commit_lsn = 1) {
  enrich::v1::ChangeEvent event;
  event.set_op(op);
  event.set_schema("public");
  event.set_table(table);
  if (new_row) *event.mutable_new_row() = *new_row;
  if (old_row) *event.mutable_old_row() = *old_row;
  event.set_commit_lsn(commit_lsn);
  event.set_commit_time_us(static_cast<int64_t>(commit_lsn) * 1000);
  return event;
}

}  // namespace enrich::processor::testing

#endif  // ENRICH_TESTS_UNIT_PROCESSOR_EVENT_BUILDERS_H_
