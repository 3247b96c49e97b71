#include "cdc/pgoutput/decoder.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cdc/common/status_macros.h"
#include "cdc/pgoutput/byte_reader.h"
#include "cdc/pgoutput/pg_time.h"

namespace enrich::pgoutput {
namespace {

// The message kinds of protocol versions 1 and 2 (PostgreSQL's
// LogicalRepMsgType). Version 3's two-phase kinds are not accepted.
enum class Kind : char {
  kBegin = 'B',
  kCommit = 'C',
  kOrigin = 'O',
  kRelation = 'R',
  kType = 'Y',
  kInsert = 'I',
  kUpdate = 'U',
  kDelete = 'D',
  kTruncate = 'T',
  kMessage = 'M',
  kStreamStart = 'S',
  kStreamStop = 'E',
  kStreamCommit = 'c',
  kStreamAbort = 'A',
};

std::optional<Kind> ToKind(uint8_t byte) {
  switch (byte) {
    case 'B':
    case 'C':
    case 'O':
    case 'R':
    case 'Y':
    case 'I':
    case 'U':
    case 'D':
    case 'T':
    case 'M':
    case 'S':
    case 'E':
    case 'c':
    case 'A':
      return static_cast<Kind>(byte);
    default:
      return std::nullopt;
  }
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kBegin:
      return "Begin";
    case Kind::kCommit:
      return "Commit";
    case Kind::kOrigin:
      return "Origin";
    case Kind::kRelation:
      return "Relation";
    case Kind::kType:
      return "Type";
    case Kind::kInsert:
      return "Insert";
    case Kind::kUpdate:
      return "Update";
    case Kind::kDelete:
      return "Delete";
    case Kind::kTruncate:
      return "Truncate";
    case Kind::kMessage:
      return "Message";
    case Kind::kStreamStart:
      return "Stream Start";
    case Kind::kStreamStop:
      return "Stream Stop";
    case Kind::kStreamCommit:
      return "Stream Commit";
    case Kind::kStreamAbort:
      return "Stream Abort";
  }
  return "?";  // unreachable: the switch is exhaustive
}

// "pgoutput Insert ('I')": the error context of each kind, formatted once.
absl::string_view KindContext(Kind kind) {
  static const auto* const contexts = [] {
    auto* table = new std::array<std::string, 256>();
    for (int byte = 0; byte < 256; ++byte) {
      std::optional<Kind> k = ToKind(static_cast<uint8_t>(byte));
      if (k.has_value()) {
        (*table)[byte] = absl::StrFormat("pgoutput %s ('%c')", KindName(*k),
                                         static_cast<char>(*k));
      }
    }
    return table;
  }();
  return (*contexts)[static_cast<uint8_t>(kind)];
}

bool IsStreamControl(Kind kind) {
  switch (kind) {
    case Kind::kStreamStart:
    case Kind::kStreamStop:
    case Kind::kStreamCommit:
    case Kind::kStreamAbort:
      return true;
    case Kind::kBegin:
    case Kind::kCommit:
    case Kind::kOrigin:
    case Kind::kRelation:
    case Kind::kType:
    case Kind::kInsert:
    case Kind::kUpdate:
    case Kind::kDelete:
    case Kind::kTruncate:
    case Kind::kMessage:
      return false;
  }
  return false;
}

constexpr uint8_t kColumnIsKey = 1;           // LOGICALREP_IS_REPLICA_IDENTITY
constexpr uint8_t kMessageTransactional = 1;  // MESSAGE_TRANSACTIONAL
constexpr uint8_t kTruncateCascade = 1;       // TRUNCATE_CASCADE
constexpr uint8_t kTruncateRestartSeqs = 2;   // TRUNCATE_RESTART_SEQS

// Parses one message after its kind byte. `streamed` says whether change
// messages carry a leading xid.
class MessageParser {
 public:
  MessageParser(ByteReader* reader, bool streamed)
      : reader_(*reader), streamed_(streamed) {}

  absl::StatusOr<Begin> ParseBegin() {
    Begin begin;
    ASSIGN_OR_RETURN(begin.final_lsn, reader_.ReadU64("final LSN"));
    if (begin.final_lsn == 0) return reader_.Corrupt("final LSN is 0/0");
    ASSIGN_OR_RETURN(begin.commit_time_us, ReadTimestamp("commit timestamp"));
    ASSIGN_OR_RETURN(begin.xid, reader_.ReadU32("xid"));
    return begin;
  }

  absl::StatusOr<Commit> ParseCommit() {
    Commit commit;
    ASSIGN_OR_RETURN(commit.flags, ReadZeroFlags());
    ASSIGN_OR_RETURN(commit.commit_lsn, reader_.ReadU64("commit LSN"));
    ASSIGN_OR_RETURN(commit.end_lsn, reader_.ReadU64("end LSN"));
    ASSIGN_OR_RETURN(commit.commit_time_us, ReadTimestamp("commit timestamp"));
    return commit;
  }

  absl::StatusOr<Origin> ParseOrigin() {
    Origin origin;
    ASSIGN_OR_RETURN(origin.commit_lsn, reader_.ReadU64("origin commit LSN"));
    ASSIGN_OR_RETURN(origin.name, reader_.ReadCString("origin name"));
    return origin;
  }

  absl::StatusOr<TypeInfo> ParseType() {
    TypeInfo type;
    ASSIGN_OR_RETURN(type.xid, ReadStreamXid());
    ASSIGN_OR_RETURN(type.oid, reader_.ReadU32("type OID"));
    ASSIGN_OR_RETURN(type.schema, ReadNamespace("type namespace"));
    ASSIGN_OR_RETURN(type.name, reader_.ReadCString("type name"));
    return type;
  }

  absl::StatusOr<RelationMessage> ParseRelation() {
    RelationMessage message;
    Relation& relation = message.relation;
    ASSIGN_OR_RETURN(message.xid, ReadStreamXid());
    ASSIGN_OR_RETURN(relation.oid, reader_.ReadU32("relation OID"));
    ASSIGN_OR_RETURN(relation.schema, ReadNamespace("relation namespace"));
    ASSIGN_OR_RETURN(relation.table, reader_.ReadCString("relation name"));
    ASSIGN_OR_RETURN(uint8_t identity, reader_.ReadU8("replica identity"));
    switch (identity) {
      case 'd':
      case 'n':
      case 'f':
      case 'i':
        relation.replica_identity = static_cast<char>(identity);
        break;
      default:
        return reader_.Corrupt(
            absl::StrFormat("unknown replica identity 0x%02x", identity));
    }
    ASSIGN_OR_RETURN(uint16_t column_count, reader_.ReadU16("column count"));
    // Each column takes at least 10 bytes (flags, NUL, type OID, typmod):
    // do not trust the count for the allocation.
    relation.columns.reserve(
        std::min<size_t>(column_count, reader_.remaining() / 10));
    for (uint16_t i = 0; i < column_count; ++i) {
      ColumnDef column;
      ASSIGN_OR_RETURN(uint8_t flags,
                       reader_.ReadU8(ReadLabel("", i, " flags")));
      if ((flags & ~kColumnIsKey) != 0) {
        return reader_.Corrupt(
            absl::StrFormat("unknown flags 0x%02x on column %d", flags, i));
      }
      column.key = (flags & kColumnIsKey) != 0;
      ASSIGN_OR_RETURN(column.name,
                       reader_.ReadCString(ReadLabel("", i, " name")));
      ASSIGN_OR_RETURN(column.type_oid,
                       reader_.ReadU32(ReadLabel("", i, " type OID")));
      ASSIGN_OR_RETURN(column.type_modifier,
                       reader_.ReadI32(ReadLabel("", i, " type modifier")));
      relation.columns.push_back(std::move(column));
    }
    return message;
  }

  // Row changes are parsed into the decoder's reusable messages: their
  // vectors and strings keep their capacity, so a steady stream of changes
  // allocates nothing here.
  absl::Status ParseInsert(Insert* insert) {
    ASSIGN_OR_RETURN(insert->xid, ReadStreamXid());
    ASSIGN_OR_RETURN(insert->relation_oid, reader_.ReadU32("relation OID"));
    ASSIGN_OR_RETURN(uint8_t action, reader_.ReadU8("tuple action"));
    if (action != 'N') return UnexpectedAction(action, "'N'");
    return ParseTuple("new tuple", &insert->new_tuple);
  }

  // `old_spare` lends its storage to update->old_tuple when there is one.
  absl::Status ParseUpdate(Update* update, Tuple* old_spare) {
    ASSIGN_OR_RETURN(update->xid, ReadStreamXid());
    ASSIGN_OR_RETURN(update->relation_oid, reader_.ReadU32("relation OID"));
    ASSIGN_OR_RETURN(uint8_t action, reader_.ReadU8("tuple action"));
    update->old_is_key_only = false;
    if (action == 'K' || action == 'O') {
      update->old_is_key_only = action == 'K';
      update->old_tuple.emplace(std::move(*old_spare));
      RETURN_IF_ERROR(ParseTuple("old tuple", &*update->old_tuple));
      ASSIGN_OR_RETURN(action, reader_.ReadU8("new tuple action"));
      if (action != 'N') return UnexpectedAction(action, "'N'");
    } else if (action != 'N') {
      return UnexpectedAction(action, "'K', 'O' or 'N'");
    }
    return ParseTuple("new tuple", &update->new_tuple);
  }

  absl::Status ParseDelete(Delete* del) {
    ASSIGN_OR_RETURN(del->xid, ReadStreamXid());
    ASSIGN_OR_RETURN(del->relation_oid, reader_.ReadU32("relation OID"));
    ASSIGN_OR_RETURN(uint8_t action, reader_.ReadU8("tuple action"));
    if (action != 'K' && action != 'O') {
      return UnexpectedAction(action, "'K' or 'O'");
    }
    del->old_is_key_only = action == 'K';
    return ParseTuple("old tuple", &del->old_tuple);
  }

  absl::StatusOr<Truncate> ParseTruncate() {
    Truncate truncate;
    ASSIGN_OR_RETURN(truncate.xid, ReadStreamXid());
    ASSIGN_OR_RETURN(int32_t count, reader_.ReadI32("relation count"));
    if (count < 0) {
      return reader_.Corrupt(absl::StrCat("negative relation count ", count));
    }
    ASSIGN_OR_RETURN(uint8_t flags, reader_.ReadU8("truncate flags"));
    if ((flags & ~(kTruncateCascade | kTruncateRestartSeqs)) != 0) {
      return reader_.Corrupt(
          absl::StrFormat("unknown truncate flags 0x%02x", flags));
    }
    truncate.cascade = (flags & kTruncateCascade) != 0;
    truncate.restart_identity = (flags & kTruncateRestartSeqs) != 0;
    if (static_cast<size_t>(count) > reader_.remaining() / 4) {
      return reader_.Corrupt(absl::StrCat(
          "relation count ", count, " needs ", static_cast<size_t>(count) * 4,
          " bytes, ", reader_.remaining(), " left"));
    }
    truncate.relation_oids.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(uint32_t oid, reader_.ReadU32("truncated relation OID"));
      truncate.relation_oids.push_back(oid);
    }
    return truncate;
  }

  absl::StatusOr<LogicalMessage> ParseMessage() {
    LogicalMessage message;
    ASSIGN_OR_RETURN(message.xid, ReadStreamXid());
    ASSIGN_OR_RETURN(uint8_t flags, reader_.ReadU8("message flags"));
    if ((flags & ~kMessageTransactional) != 0) {
      return reader_.Corrupt(
          absl::StrFormat("unknown message flags 0x%02x", flags));
    }
    message.transactional = (flags & kMessageTransactional) != 0;
    ASSIGN_OR_RETURN(message.lsn, reader_.ReadU64("message LSN"));
    ASSIGN_OR_RETURN(message.prefix, reader_.ReadCString("message prefix"));
    ASSIGN_OR_RETURN(int32_t length, reader_.ReadI32("message length"));
    if (length < 0) {
      return reader_.Corrupt(absl::StrCat("negative message length ", length));
    }
    ASSIGN_OR_RETURN(
        absl::string_view content,
        reader_.ReadBytes(static_cast<size_t>(length), "message content"));
    message.content = std::string(content);
    return message;
  }

  absl::StatusOr<StreamStart> ParseStreamStart() {
    StreamStart start;
    ASSIGN_OR_RETURN(start.xid, reader_.ReadU32("xid"));
    ASSIGN_OR_RETURN(uint8_t first, reader_.ReadU8("first segment flag"));
    if (first > 1) {
      return reader_.Corrupt(
          absl::StrFormat("first segment flag is 0x%02x, not 0 or 1", first));
    }
    start.first_segment = first == 1;
    return start;
  }

  absl::StatusOr<StreamCommit> ParseStreamCommit() {
    StreamCommit commit;
    ASSIGN_OR_RETURN(commit.xid, reader_.ReadU32("xid"));
    ASSIGN_OR_RETURN(commit.flags, ReadZeroFlags());
    ASSIGN_OR_RETURN(commit.commit_lsn, reader_.ReadU64("commit LSN"));
    ASSIGN_OR_RETURN(commit.end_lsn, reader_.ReadU64("end LSN"));
    ASSIGN_OR_RETURN(commit.commit_time_us, ReadTimestamp("commit timestamp"));
    return commit;
  }

  absl::StatusOr<StreamAbort> ParseStreamAbort() {
    StreamAbort abort;
    ASSIGN_OR_RETURN(abort.xid, reader_.ReadU32("xid"));
    ASSIGN_OR_RETURN(abort.subxid, reader_.ReadU32("subxid"));
    return abort;
  }

 private:
  absl::StatusOr<uint32_t> ReadStreamXid() {
    if (!streamed_) return 0u;
    return reader_.ReadU32("streamed transaction xid");
  }

  // Commit and Stream Commit flags: unused, PostgreSQL rejects non-zero.
  absl::StatusOr<uint8_t> ReadZeroFlags() {
    ASSIGN_OR_RETURN(uint8_t flags, reader_.ReadU8("flags"));
    if (flags != 0) {
      return reader_.Corrupt(absl::StrFormat("unknown flags 0x%02x", flags));
    }
    return flags;
  }

  absl::StatusOr<int64_t> ReadTimestamp(absl::string_view what) {
    ASSIGN_OR_RETURN(int64_t pg_micros, reader_.ReadI64(what));
    absl::StatusOr<int64_t> unix_micros = PgTimestampToUnixMicros(pg_micros);
    if (!unix_micros.ok()) {
      return reader_.Corrupt(absl::StrCat(what, " out of range: ", pg_micros));
    }
    return *unix_micros;
  }

  // The wire writes "" for pg_catalog to save space.
  absl::StatusOr<std::string> ReadNamespace(absl::string_view what) {
    ASSIGN_OR_RETURN(std::string name, reader_.ReadCString(what));
    if (name.empty()) return std::string("pg_catalog");
    return name;
  }

  absl::Status UnexpectedAction(uint8_t action, absl::string_view expected) {
    return reader_.Corrupt(absl::StrFormat(
        "tuple action 0x%02x where %s was expected", action, expected));
  }

  // Overwrites *tuple, reusing its values' string capacity. `which` must
  // outlive the call (a literal).
  absl::Status ParseTuple(absl::string_view which, Tuple* tuple) {
    ASSIGN_OR_RETURN(uint16_t count,
                     reader_.ReadU16(ReadLabel(which, " column count")));
    // Each value takes at least its marker byte: do not trust the count for
    // the allocation. With fewer bytes than `count`, a marker read fails
    // before index `remaining` is reached.
    tuple->resize(std::min<size_t>(count, reader_.remaining()));
    for (uint16_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(uint8_t marker, reader_.ReadU8(ReadLabel(which, i, "")));
      Value& value = (*tuple)[i];
      switch (marker) {
        case 'n':
          value.kind = ValueKind::kNull;
          value.data.clear();
          break;
        case 'u':
          value.kind = ValueKind::kUnchangedToast;
          value.data.clear();
          break;
        case 't':
        case 'b': {
          value.kind = marker == 't' ? ValueKind::kText : ValueKind::kBinary;
          ASSIGN_OR_RETURN(int32_t length,
                           reader_.ReadI32(ReadLabel(which, i, " length")));
          if (length < 0) {
            return reader_.Corrupt(absl::StrCat("negative length ", length,
                                                " of ", which, " column ", i));
          }
          ASSIGN_OR_RETURN(absl::string_view data,
                           reader_.ReadBytes(static_cast<size_t>(length),
                                             ReadLabel(which, i, " value")));
          value.data.assign(data.data(), data.size());
          break;
        }
        default:
          return reader_.Corrupt(absl::StrFormat(
              "unknown marker 0x%02x for %s column %d", marker, which, i));
      }
    }
    return absl::OkStatus();
  }

  ByteReader& reader_;
  bool streamed_;
};

}  // namespace

PgoutputDecoder::PgoutputDecoder(int protocol_version)
    : protocol_version_(protocol_version) {}

absl::Status PgoutputDecoder::Decode(absl::string_view message,
                                     Handler* handler) {
  if (protocol_version_ != 1 && protocol_version_ != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pgoutput protocol version ", protocol_version_, " is not supported"));
  }
  ByteReader reader(message, "pgoutput message");
  ASSIGN_OR_RETURN(uint8_t kind_byte, reader.ReadU8("message kind"));
  std::optional<Kind> maybe_kind = ToKind(kind_byte);
  if (!maybe_kind.has_value()) {
    return absl::DataLossError(absl::StrFormat(
        "pgoutput message: unknown message kind 0x%02x%s at offset 0",
        kind_byte,
        kind_byte >= 0x20 && kind_byte < 0x7f
            ? absl::StrFormat(" ('%c')", static_cast<char>(kind_byte))
            : std::string()));
  }
  const Kind kind = *maybe_kind;
  reader.set_context(KindContext(kind));

  if (IsStreamControl(kind) && protocol_version_ < 2) {
    return reader.Corrupt("stream message under protocol version 1");
  }
  // Which messages may appear inside a Stream Start .. Stop block.
  switch (kind) {
    case Kind::kStreamStart:
      if (in_stream_) {
        return reader.Corrupt(absl::StrCat(
            "Stream Start inside the open stream block of xid ", stream_xid_));
      }
      break;
    case Kind::kStreamStop:
      if (!in_stream_) return reader.Corrupt("Stream Stop outside a stream");
      break;
    case Kind::kBegin:
    case Kind::kCommit:
    case Kind::kStreamCommit:
    case Kind::kStreamAbort:
      if (in_stream_) {
        return reader.Corrupt(
            absl::StrCat("inside the open stream block of xid ", stream_xid_));
      }
      break;
    case Kind::kOrigin:
    case Kind::kRelation:
    case Kind::kType:
    case Kind::kInsert:
    case Kind::kUpdate:
    case Kind::kDelete:
    case Kind::kTruncate:
    case Kind::kMessage:
      break;
  }

  MessageParser parser(&reader, in_stream_);
  switch (kind) {
    case Kind::kBegin: {
      ASSIGN_OR_RETURN(Begin begin, parser.ParseBegin());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnBegin(begin);
    }
    case Kind::kCommit: {
      ASSIGN_OR_RETURN(Commit commit, parser.ParseCommit());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnCommit(commit);
    }
    case Kind::kOrigin: {
      ASSIGN_OR_RETURN(Origin origin, parser.ParseOrigin());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnOrigin(origin);
    }
    case Kind::kType: {
      ASSIGN_OR_RETURN(TypeInfo type, parser.ParseType());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnType(type);
    }
    case Kind::kRelation: {
      ASSIGN_OR_RETURN(RelationMessage relation, parser.ParseRelation());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnRelation(relation);
    }
    case Kind::kInsert: {
      RETURN_IF_ERROR(parser.ParseInsert(&insert_));
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnInsert(insert_);
    }
    case Kind::kUpdate: {
      // Whatever happens, the old tuple's storage goes back to the spare.
      absl::Cleanup return_old = [this] {
        if (update_.old_tuple.has_value()) {
          old_tuple_spare_ = std::move(*update_.old_tuple);
          update_.old_tuple.reset();
        }
      };
      RETURN_IF_ERROR(parser.ParseUpdate(&update_, &old_tuple_spare_));
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnUpdate(update_);
    }
    case Kind::kDelete: {
      RETURN_IF_ERROR(parser.ParseDelete(&delete_));
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnDelete(delete_);
    }
    case Kind::kTruncate: {
      ASSIGN_OR_RETURN(Truncate truncate, parser.ParseTruncate());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnTruncate(truncate);
    }
    case Kind::kMessage: {
      ASSIGN_OR_RETURN(LogicalMessage logical, parser.ParseMessage());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnMessage(logical);
    }
    case Kind::kStreamStart: {
      ASSIGN_OR_RETURN(StreamStart start, parser.ParseStreamStart());
      RETURN_IF_ERROR(reader.ExpectEnd());
      in_stream_ = true;
      stream_xid_ = start.xid;
      return handler->OnStreamStart(start);
    }
    case Kind::kStreamStop: {
      RETURN_IF_ERROR(reader.ExpectEnd());
      in_stream_ = false;
      stream_xid_ = 0;
      return handler->OnStreamStop(StreamStop{});
    }
    case Kind::kStreamCommit: {
      ASSIGN_OR_RETURN(StreamCommit commit, parser.ParseStreamCommit());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnStreamCommit(commit);
    }
    case Kind::kStreamAbort: {
      ASSIGN_OR_RETURN(StreamAbort abort, parser.ParseStreamAbort());
      RETURN_IF_ERROR(reader.ExpectEnd());
      return handler->OnStreamAbort(abort);
    }
  }
  return reader.Corrupt("unhandled message kind");  // unreachable
}

}  // namespace enrich::pgoutput
