#include "cdc/postgres/replication_stream.h"

#include <libpq-fe.h>
#include <poll.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cdc/common/pg_error_class.h"
#include "cdc/pgoutput/lsn.h"
#include "cdc/pgoutput/walsender_protocol.h"

namespace enrich::pg {
namespace {

std::string LastError(pg_conn* conn) {
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicationStream>> ReplicationStream::Start(
    std::unique_ptr<PgConnection> conn, const StreamOptions& options) {
  std::string command = absl::StrCat(
      "START_REPLICATION SLOT ", conn->QuoteIdentifier(options.slot),
      " LOGICAL ", pgoutput::FormatLsn(options.start_lsn), " (proto_version '",
      options.protocol_version, "', publication_names ",
      conn->QuoteLiteral(options.publication));
  if (options.streaming) absl::StrAppend(&command, ", streaming 'on'");
  if (options.messages) absl::StrAppend(&command, ", messages 'true'");
  absl::StrAppend(&command, ")");
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexec(conn->raw(), command.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COPY_BOTH) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    return absl::Status(
        ClassifyPgError(sqlstate, PQstatus(conn->raw()) == CONNECTION_OK
                                      ? PgConnectionState::kOpen
                                      : PgConnectionState::kLost),
        absl::StrCat(
            "START_REPLICATION on ", conn->describe(), ": ",
            LastError(conn->raw()),
            sqlstate.empty() ? "" : absl::StrCat(" [", sqlstate, "]")));
  }
  return std::unique_ptr<ReplicationStream>(
      new ReplicationStream(std::move(conn)));
}

void ReplicationStream::CopyBufferFree::operator()(char* buffer) const {
  PQfreemem(buffer);
}

absl::StatusOr<std::optional<absl::string_view>> ReplicationStream::Read(
    absl::Duration timeout) {
  message_.reset();
  // The clock is read only when there is nothing to hand out: the hot path
  // is one PQgetCopyData per message.
  absl::Time deadline = absl::InfinitePast();
  for (;;) {
    char* buffer = nullptr;
    int length = PQgetCopyData(conn_->raw(), &buffer, /*async=*/1);
    if (length > 0) {
      message_.reset(buffer);
      return absl::string_view(buffer, static_cast<size_t>(length));
    }
    if (length == -1) {
      std::unique_ptr<PGresult, decltype(&PQclear)> end(
          PQgetResult(conn_->raw()), &PQclear);
      return absl::UnavailableError(
          absl::StrCat("the server ended the replication stream: ",
                       end ? std::string(absl::StripTrailingAsciiWhitespace(
                                 PQresultErrorMessage(end.get())))
                           : std::string("no reason given")));
    }
    if (length == -2) {
      return absl::UnavailableError(
          absl::StrCat("replication connection to ", conn_->describe(),
                       " failed: ", LastError(conn_->raw())));
    }
    const absl::Time now = absl::Now();
    if (deadline == absl::InfinitePast()) deadline = now + timeout;
    absl::Duration left = deadline - now;
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd fd{PQsocket(conn_->raw()), POLLIN, 0};
    int waited =
        poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (waited < 0 && errno != EINTR) {
      return absl::UnavailableError("poll on the replication socket failed");
    }
    if (waited > 0 && PQconsumeInput(conn_->raw()) == 0) {
      return absl::UnavailableError(
          absl::StrCat("replication connection to ", conn_->describe(),
                       " failed: ", LastError(conn_->raw())));
    }
    if (waited == 0) return std::nullopt;
  }
}

absl::Status ReplicationStream::SendStatus(uint64_t write, uint64_t flush,
                                           bool reply_requested) {
  std::string update = pgoutput::EncodeStandbyStatusUpdate(
      write, flush, flush, absl::ToUnixMicros(absl::Now()), reply_requested);
  if (PQputCopyData(conn_->raw(), update.data(), update.size()) <= 0 ||
      PQflush(conn_->raw()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot send status to ",
                                               conn_->describe(), ": ",
                                               LastError(conn_->raw())));
  }
  return absl::OkStatus();
}

}  // namespace enrich::pg

namespace enrich::pg {

absl::Status ReplicationStream::Finish(absl::Duration timeout) {
  message_.reset();
  if (PQputCopyEnd(conn_->raw(), nullptr) <= 0 || PQflush(conn_->raw()) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot end the replication stream: ", LastError(conn_->raw())));
  }
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    char* buffer = nullptr;
    int length = PQgetCopyData(conn_->raw(), &buffer, /*async=*/1);
    if (length > 0) {
      PQfreemem(buffer);  // data after our CopyDone is not processed
      continue;
    }
    if (length < 0) break;  // -1: the server ended the COPY; -2: error
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("the server did not end the stream");
    }
    pollfd fd{PQsocket(conn_->raw()), POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) >
            0 &&
        PQconsumeInput(conn_->raw()) == 0) {
      break;
    }
  }
  while (PGresult* result = PQgetResult(conn_->raw())) PQclear(result);
  return absl::OkStatus();
}

}  // namespace enrich::pg
