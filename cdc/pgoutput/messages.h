// The pgoutput logical replication messages (protocol versions 1 and 2), as
// plain values, and the Handler a PgoutputDecoder drives with them.
//
// Field meanings follow PostgreSQL's "Logical Replication Message Formats".
// Every message that PostgreSQL prefixes with a transaction id inside a
// streamed block (protocol 2, between Stream Start and Stream Stop) has an
// `xid` field: the (sub)transaction's xid there, 0 outside streams.
#ifndef ENRICH_CDC_PGOUTPUT_MESSAGES_H_
#define ENRICH_CDC_PGOUTPUT_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cdc/pgoutput/lsn.h"

namespace enrich::pgoutput {

struct ColumnDef {
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;  // atttypmod; -1 when the type has none
  bool key = false;            // part of the replica identity
};

struct Relation {
  uint32_t oid = 0;
  std::string schema;  // "pg_catalog" when the wire carried "" (its shorthand)
  std::string table;
  // 'd' default (primary key), 'n' nothing, 'f' full, 'i' index.
  char replica_identity = 'd';
  // Live columns only (no dropped or generated ones), in attribute order;
  // tuples of this relation carry one Value per entry.
  std::vector<ColumnDef> columns;
};

enum class ValueKind {
  kNull,            // 'n'
  kUnchangedToast,  // 'u': a TOASTed value the change did not touch; not sent
  kText,            // 't': the type's text output
  kBinary,          // 'b': the type's binary send format (binary 'true')
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  std::string data;  // empty unless kText or kBinary
};

using Tuple = std::vector<Value>;

// 'B'. Opens a transaction outside streams; commit_time_us is UNIX epoch
// microseconds (converted from the wire's 2000-01-01 epoch).
struct Begin {
  Lsn final_lsn = 0;  // LSN of the commit record
  int64_t commit_time_us = 0;
  uint32_t xid = 0;
};

// 'C'.
struct Commit {
  uint8_t flags = 0;   // always 0 in protocol 1 and 2
  Lsn commit_lsn = 0;  // LSN of the commit record
  Lsn end_lsn = 0;     // end of the commit record: confirm up to here
  int64_t commit_time_us = 0;
};

// 'O'. The transaction came from another node through a replication origin.
struct Origin {
  Lsn commit_lsn = 0;  // commit LSN on the origin server
  std::string name;
};

// 'Y'. A non-built-in type used by a column of a following Relation.
struct TypeInfo {
  uint32_t xid = 0;
  uint32_t oid = 0;
  std::string schema;  // "pg_catalog" when the wire carried ""
  std::string name;
};

// 'R'. Sent before the first change of a relation in each session, and again
// whenever its definition changed: the new definition applies at once.
struct RelationMessage {
  uint32_t xid = 0;
  Relation relation;
};

// 'I'.
struct Insert {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  Tuple new_tuple;
};

// 'U'. old_tuple is present when the replica identity is FULL ('O': the
// whole old row) or when a key column changed ('K': key columns set, the
// others null). Unchanged TOASTed columns of new_tuple are kUnchangedToast.
struct Update {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  std::optional<Tuple> old_tuple;
  bool old_is_key_only = false;  // 'K' rather than 'O'; false without old
  Tuple new_tuple;
};

// 'D'. old_tuple is the whole row under FULL ('O'), else the key ('K').
struct Delete {
  uint32_t xid = 0;
  uint32_t relation_oid = 0;
  Tuple old_tuple;
  bool old_is_key_only = false;
};

// 'T'. One message for all the published relations one TRUNCATE touched.
struct Truncate {
  uint32_t xid = 0;
  bool cascade = false;
  bool restart_identity = false;
  std::vector<uint32_t> relation_oids;
};

// 'M'. pg_logical_emit_message(); sent only with the `messages` option.
// Non-transactional messages arrive immediately, outside any transaction.
struct LogicalMessage {
  uint32_t xid = 0;
  bool transactional = false;
  Lsn lsn = 0;
  std::string prefix;
  std::string content;  // arbitrary bytes
};

// 'S' (protocol 2). Opens a block of changes of in-progress transaction
// `xid`; first_segment is true the first time this xid is streamed.
struct StreamStart {
  uint32_t xid = 0;
  bool first_segment = false;
};

// 'E' (protocol 2). Closes the block.
struct StreamStop {};

// 'c' (protocol 2). The streamed transaction `xid` committed.
struct StreamCommit {
  uint32_t xid = 0;
  uint8_t flags = 0;  // always 0
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;
  int64_t commit_time_us = 0;
};

// 'A' (protocol 2). Discard what was streamed for subxid, a subtransaction
// of xid, or for the whole transaction when subxid == xid.
struct StreamAbort {
  uint32_t xid = 0;
  uint32_t subxid = 0;
};

// Receives decoded messages, one call per message, in stream order. The
// message is only valid during the call (copy what you keep). A non-OK
// return stops decoding and is returned by PgoutputDecoder::Decode as is.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual absl::Status OnBegin(const Begin& message) = 0;
  virtual absl::Status OnCommit(const Commit& message) = 0;
  virtual absl::Status OnOrigin(const Origin& message) = 0;
  virtual absl::Status OnType(const TypeInfo& message) = 0;
  virtual absl::Status OnRelation(const RelationMessage& message) = 0;
  virtual absl::Status OnInsert(const Insert& message) = 0;
  virtual absl::Status OnUpdate(const Update& message) = 0;
  virtual absl::Status OnDelete(const Delete& message) = 0;
  virtual absl::Status OnTruncate(const Truncate& message) = 0;
  virtual absl::Status OnMessage(const LogicalMessage& message) = 0;
  virtual absl::Status OnStreamStart(const StreamStart& message) = 0;
  virtual absl::Status OnStreamStop(const StreamStop& message) = 0;
  virtual absl::Status OnStreamCommit(const StreamCommit& message) = 0;
  virtual absl::Status OnStreamAbort(const StreamAbort& message) = 0;
};

inline bool operator==(const Value& a, const Value& b) {
  return a.kind == b.kind && a.data == b.data;
}
inline bool operator!=(const Value& a, const Value& b) { return !(a == b); }

}  // namespace enrich::pgoutput

#endif  // ENRICH_CDC_PGOUTPUT_MESSAGES_H_
