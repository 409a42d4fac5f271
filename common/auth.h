// Authentication and tenancy: who is calling, for which organisation, with
// which role.
//
// Callers send "authorization: Bearer <token>". The tokens file (--tokens_file,
// mountable from a Kubernetes Secret and reread when it changes) maps each
// token to an organisation and a role. The organisation of every call comes
// from the token, never from the request: a reader of organisation A cannot
// read or change B's data whatever ids it sends. Service-to-service calls
// carry a token with the `service` role, which may act for the organisation
// named in the "okr-organisation-id" metadata (tracking and notify call
// planning and tracking for many organisations).
//
// The tokens file has one entry per line ('#' starts a comment line):
//
//   <name> <organisation|*> <role> <token>
//
// `role` is reader, writer, admin or service; `service` takes organisation
// `*` and every other role a concrete organisation id. `token` is the token
// itself or "sha256:<64 hex digits>" of it, so the file need not hold the
// secret. Names and tokens are unique. Tokens are compared as SHA-256
// digests in constant time; logs name the entry, never the token.
//
// --auth=false turns all of this off for local development: the organisation
// comes from "okr-organisation-id" metadata and every role is allowed. The
// services log it loudly at start.
//
// The adapters call Authorize() first thing in every handler and answer
// UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (the role may not
// make the call) without touching the store.
#ifndef OKR_COMMON_AUTH_H_
#define OKR_COMMON_AUTH_H_

#include <grpcpp/server_context.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr {

// Ordered: each role may do what the ones before it may.
enum class Role {
  kReader = 1,  // reads
  kWriter = 2,  // reads, check-ins, plan edits
  kAdmin = 3,   // everything in its organisation (bootstrap, policies, webhooks)
  kService = 4, // another OKR service: any organisation, named in metadata
};

// "reader", "writer", "admin" or "service".
absl::string_view RoleName(Role role);

// The role named `name` (as RoleName spells it), or nullopt.
std::optional<Role> RoleFromName(absl::string_view name);

// The metadata entry naming the organisation a `service` caller (or any
// caller while auth is off) acts for.
inline constexpr absl::string_view kOrganisationMetadata = "okr-organisation-id";

// The authenticated caller of one RPC.
struct Caller {
  std::string organisation_id;
  Role role = Role::kReader;
  // Who, for logs: the token's name in the tokens file ("dev" when auth is
  // off). Never the token itself.
  std::string subject;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // Auth off: the organisation from "okr-organisation-id" metadata
  // (UNAUTHENTICATED when missing), every role allowed.
  static std::unique_ptr<Authenticator> Disabled();

  // Whether tokens are checked.
  virtual bool enabled() const = 0;

  // The caller, or UNAUTHENTICATED (no token, unknown token, no
  // organisation) / PERMISSION_DENIED (the caller's role is below
  // `required`, or a non-service caller's okr-organisation-id names another
  // organisation than its token's), with a message naming what is missing.
  virtual absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                           Role required) const = 0;

  // As Authorize() for the one call whose request names its organisation
  // (BootstrapOrganisation): a `service` caller may act for any
  // organisation, another caller only for its token's (PERMISSION_DENIED
  // otherwise). okr-organisation-id is not needed. The caller's
  // organisation_id is `organisation_id`.
  virtual absl::StatusOr<Caller> AuthorizeFor(const grpc::ServerContextBase& context,
                                              Role required,
                                              absl::string_view organisation_id) const = 0;

  // As Authorize() for calls that read no organisation's data
  // (ListLintRules, ListTemplates): any valid token with the role; no
  // organisation is needed, even while auth is off.
  virtual absl::Status AuthorizeUnscoped(const grpc::ServerContextBase& context,
                                         Role required) const = 0;
};

// One entry of a tokens file.
struct TokenEntry {
  std::string name;
  // Empty for `service` entries (organisation `*`).
  std::string organisation_id;
  Role role = Role::kReader;
  // SHA-256 of the token.
  std::array<uint8_t, 32> digest{};
};

// Parses a tokens file's contents (format above). INVALID_ARGUMENT
// "line <n>: ..." for the first bad line, or when no entry is defined.
absl::StatusOr<std::vector<TokenEntry>> ParseTokens(absl::string_view contents);

struct TokensFileOptions {
  // How often Authorize() looks at the file's mtime, size and inode; a
  // change (a rewrite, or a Kubernetes Secret's symlink swap) rereads it.
  absl::Duration check_interval = absl::Seconds(1);
};

// The authenticator of a tokens file. INVALID_ARGUMENT when the file cannot
// be read or is malformed (the message names `path` and the line). A later
// change that does not parse keeps the previous tokens and is logged.
absl::StatusOr<std::unique_ptr<Authenticator>> AuthenticatorFromTokensFile(
    std::string path, TokensFileOptions options = {});

// The authenticator the flags describe: --auth (default true) and
// --tokens_file=PATH. INVALID_ARGUMENT naming the flag when auth is on and
// the file is missing or malformed.
absl::StatusOr<std::unique_ptr<Authenticator>> AuthenticatorFromFlags();

// The bearer token this process sends to the services it calls, read from
// --service_token_file (empty when the flag is empty). Reread when the file
// changes, so a rotated Secret takes effect without a restart.
class ServiceToken {
 public:
  virtual ~ServiceToken() = default;
  virtual std::string Get() const = 0;
};

// The token in `path` with surrounding whitespace trimmed; reread when the
// file changes (checked at most once per `check_interval` on Get()). A
// change that leaves the file unreadable or empty keeps the previous token
// and is logged. INVALID_ARGUMENT when it cannot be read or is empty now.
absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFile(
    std::string path, absl::Duration check_interval = absl::Seconds(1));

// From --service_token_file; a token that is always empty when the flag is.
absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFlags();

// The names of the flags above, for MainOptions::env_flags.
inline constexpr const char* kAuthFlagNames[] = {"auth", "tokens_file", "service_token_file"};

}  // namespace okr

#endif  // OKR_COMMON_AUTH_H_
