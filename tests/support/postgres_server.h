// A real PostgreSQL 15 server for tests: a cluster initialised in a temp dir
// (owned by the `postgres` system user when the tests run as root, since
// PostgreSQL refuses to run as root), listening on a free port on 127.0.0.1
// only, stopped and removed at the end. Takes well under a second to start:
// the cluster is a copy of a template initdb made once (kept in /dev/shm, or
// $OKR_PG_TMPDIR, beside the clusters).
//
//   auto pg = PostgresServer::Start();            // ASSERT_TRUE(pg.ok())
//   std::string url = *(*pg)->CreateDatabase("planning_conformance_1");
//   // url: "postgresql://okr@127.0.0.1:PORT/planning_conformance_1"
#ifndef OKR_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define OKR_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace okr::testing {

class PostgresServer {
 public:
  // initdb + pg_ctl start (binaries from /usr/lib/postgresql/15/bin, or
  // OKR_PG_BIN_DIR). FAILED_PRECONDITION with the log's tail when it cannot
  // start.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();  // stops (immediate) and removes the directory

  int port() const { return port_; }
  // "postgresql://okr@127.0.0.1:PORT/postgres".
  std::string admin_url() const;

  // CREATE DATABASE `name` (letters, digits, '_'); returns its URL. Each test
  // takes its own database so that tests do not see each other's rows.
  absl::StatusOr<std::string> CreateDatabase(absl::string_view name);
  // A database name unique within this server ("<prefix>_<n>").
  absl::StatusOr<std::string> CreateUniqueDatabase(absl::string_view prefix);

  // Stops the server (fast mode) and starts it again on the same port, for
  // outage tests.
  absl::Status Stop();
  absl::Status Restart();

 private:
  PostgresServer() = default;
  std::string dir_;
  int port_ = 0;
  int next_database_ = 0;
};

// One server shared by every test of a binary, started on first use.
// Tests call CreateUniqueDatabase on it.
absl::StatusOr<PostgresServer*> SharedPostgresServer();

}  // namespace okr::testing

#endif  // OKR_TESTS_SUPPORT_POSTGRES_SERVER_H_
