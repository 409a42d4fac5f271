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

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace okr {

// Ordered: each role may do what the ones before it may.
enum class Role {
  kReader = 1,  // reads
  kWriter = 2,  // reads, check-ins, plan edits
  kAdmin = 3,   // everything in its organisation (bootstrap, policies, webhooks)
  kService = 4, // another OKR service: any organisation, named in metadata
};

absl::string_view RoleName(Role role);

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
  // `required`), with a message naming what is missing.
  virtual absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                           Role required) const = 0;
};

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

absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFlags();

// The names of the flags above, for MainOptions::env_flags.
inline constexpr const char* kAuthFlagNames[] = {"auth", "tokens_file", "service_token_file"};

}  // namespace okr

#endif  // OKR_COMMON_AUTH_H_
