// PLACEHOLDER (issue 6 skeleton): only the auth-off behaviour. The tokens
// file, roles and the service token land with the auth work.
#include "common/auth.h"

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(bool, auth, true,
          "Check bearer tokens against --tokens_file. --auth=false is for local "
          "development only: the organisation then comes from okr-organisation-id "
          "metadata and every caller may do everything.");
ABSL_FLAG(std::string, tokens_file, "",
          "The tokens file (see docs/operations.md), reread when it changes.");
ABSL_FLAG(std::string, service_token_file, "",
          "A file holding the bearer token this service sends to the services it "
          "calls; reread when it changes.");

namespace okr {
namespace {

constexpr absl::string_view kOrganisationKey = "okr-organisation-id";

class DisabledAuthenticator final : public Authenticator {
 public:
  bool enabled() const override { return false; }
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                   Role) const override {
    const auto& metadata = context.client_metadata();
    const auto it =
        metadata.find(grpc::string_ref(kOrganisationKey.data(), kOrganisationKey.size()));
    if (it == metadata.end() || it->second.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "no organisation: send ", kOrganisationKey, " metadata (auth is off)"));
    }
    return Caller{std::string(it->second.data(), it->second.size()), Role::kAdmin, "dev"};
  }
};

class FixedToken final : public ServiceToken {
 public:
  std::string Get() const override { return ""; }
};

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader: return "reader";
    case Role::kWriter: return "writer";
    case Role::kAdmin: return "admin";
    case Role::kService: return "service";
  }
  return "unknown";
}

std::unique_ptr<Authenticator> Authenticator::Disabled() {
  return std::make_unique<DisabledAuthenticator>();
}

absl::StatusOr<std::unique_ptr<Authenticator>> AuthenticatorFromFlags() {
  (void)absl::GetFlag(FLAGS_auth);
  (void)absl::GetFlag(FLAGS_tokens_file);
  return Authenticator::Disabled();
}

absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFlags() {
  (void)absl::GetFlag(FLAGS_service_token_file);
  return std::make_shared<FixedToken>();
}

}  // namespace okr
