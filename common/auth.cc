#include "common/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/validation.h"

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

constexpr absl::string_view kAuthorizationKey = "authorization";
constexpr absl::string_view kSha256Prefix = "sha256:";
constexpr absl::string_view kMissingToken =
    "missing bearer token: send authorization: Bearer <token>";

using Digest = std::array<uint8_t, 32>;

Digest Sha256(absl::string_view data) {
  Digest digest{};
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure; a zero digest then matches
  // no entry (no token hashes to all zeros).
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    digest.fill(0);
  }
  return digest;
}

// The value of metadata entry `key`, or nullopt when absent.
std::optional<absl::string_view> MetadataValue(const grpc::ServerContextBase& context,
                                               absl::string_view key) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

std::optional<std::string> OrganisationMetadata(const grpc::ServerContextBase& context) {
  std::optional<absl::string_view> value = MetadataValue(context, kOrganisationMetadata);
  if (!value.has_value() || value->empty()) return std::nullopt;
  return std::string(*value);
}

// The token of "authorization: Bearer <token>" (scheme case-insensitive, as
// RFC 7235 has it), or nullopt when the entry is absent or malformed.
std::optional<absl::string_view> BearerToken(const grpc::ServerContextBase& context) {
  std::optional<absl::string_view> value = MetadataValue(context, kAuthorizationKey);
  if (!value.has_value()) return std::nullopt;
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(*value);
  constexpr absl::string_view kScheme = "bearer ";
  if (rest.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(rest.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  absl::string_view token = absl::StripAsciiWhitespace(rest.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

// What identifies one version of a file: a rewrite changes mtime (and
// usually size); a Kubernetes Secret update swaps a symlink, which stat()
// follows to a new inode.
struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  bool operator==(const FileStamp& other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns;
  }
};

absl::StatusOr<FileStamp> StatFile(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  FileStamp stamp;
  stamp.device = info.st_dev;
  stamp.inode = info.st_ino;
  stamp.size = info.st_size;
  stamp.mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  stamp.ctime_ns = static_cast<int64_t>(info.st_ctim.tv_sec) * 1000000000 + info.st_ctim.tv_nsec;
  return stamp;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  return contents.str();
}

// Decides when a watched file is due for a look: at most once per interval,
// and only a changed stamp counts. Not thread-safe; the owner locks.
class FileWatch {
 public:
  FileWatch(std::string path, absl::Duration interval)
      : path_(std::move(path)), interval_(interval) {}

  const std::string& path() const { return path_; }

  // Records the stamp of the version just loaded.
  void Loaded(const FileStamp& stamp) {
    stamp_ = stamp;
    next_check_ = absl::Now() + interval_;
  }

  // True when the interval has passed and the file's stamp differs from the
  // last loaded (or refused) version. A stat failure is reported once per
  // distinct error and counts as no change.
  bool Changed() {
    const absl::Time now = absl::Now();
    if (now < next_check_) return false;
    next_check_ = now + interval_;
    absl::StatusOr<FileStamp> stamp = StatFile(path_);
    if (!stamp.ok()) {
      Refused(stamp.status());
      return false;
    }
    if (*stamp == stamp_) return false;
    // Whatever the reload makes of this version, it is not retried until
    // the file changes again.
    stamp_ = *stamp;
    return true;
  }

  // Logs a refused change once per distinct error.
  void Refused(const absl::Status& status) {
    if (status.ToString() == last_error_) return;
    last_error_ = status.ToString();
    LogError("file change refused; keeping the previous version",
             {{"file", path_}, {"error", status}});
  }

  void Accepted() { last_error_.clear(); }

 private:
  const std::string path_;
  const absl::Duration interval_;
  FileStamp stamp_;
  absl::Time next_check_ = absl::InfinitePast();
  std::string last_error_;
};

absl::Status LineError(int line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", message));
}

absl::Status CheckRole(const TokenEntry& entry, Role required) {
  if (entry.role >= required) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this call needs role ", RoleName(required),
                                                  "; token '", entry.name, "' has role ",
                                                  RoleName(entry.role)));
}

class DisabledAuthenticator final : public Authenticator {
 public:
  bool enabled() const override { return false; }

  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                   Role) const override {
    std::optional<std::string> org = OrganisationMetadata(context);
    if (!org.has_value()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "no organisation: send ", kOrganisationMetadata, " metadata (auth is off)"));
    }
    return Caller{*std::move(org), Role::kAdmin, "dev"};
  }

  absl::StatusOr<Caller> AuthorizeFor(const grpc::ServerContextBase&, Role,
                                      absl::string_view organisation_id) const override {
    return Caller{std::string(organisation_id), Role::kAdmin, "dev"};
  }

  absl::Status AuthorizeUnscoped(const grpc::ServerContextBase&, Role) const override {
    return absl::OkStatus();
  }
};

class TokensFileAuthenticator final : public Authenticator {
 public:
  TokensFileAuthenticator(std::string path, TokensFileOptions options)
      : watch_(std::move(path), options.check_interval) {}

  // Loads the file for the first time.
  absl::Status Load() {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FileStamp> stamp = StatFile(watch_.path());
    if (!stamp.ok()) return stamp.status();
    absl::StatusOr<std::shared_ptr<const Table>> table = ReadTable();
    if (!table.ok()) return table.status();
    table_ = *std::move(table);
    watch_.Loaded(*stamp);
    LogInfo("tokens loaded", {{"tokens_file", watch_.path()}, {"entries", table_->size()}});
    return absl::OkStatus();
  }

  bool enabled() const override { return true; }

  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context,
                                   Role required) const override {
    absl::StatusOr<TokenEntry> entry = Identify(context);
    if (!entry.ok()) return entry.status();
    absl::Status role = CheckRole(*entry, required);
    if (!role.ok()) return role;
    std::optional<std::string> named = OrganisationMetadata(context);
    if (entry->role == Role::kService) {
      if (!named.has_value()) {
        return absl::UnauthenticatedError(
            absl::StrCat("service token '", entry->name,
                         "' must name the organisation it acts for: send ",
                         kOrganisationMetadata, " metadata"));
      }
      return Caller{*std::move(named), entry->role, entry->name};
    }
    if (named.has_value() && *named != entry->organisation_id) {
      return OtherOrganisation(*entry, *named);
    }
    return Caller{entry->organisation_id, entry->role, entry->name};
  }

  absl::StatusOr<Caller> AuthorizeFor(const grpc::ServerContextBase& context, Role required,
                                      absl::string_view organisation_id) const override {
    absl::StatusOr<TokenEntry> entry = Identify(context);
    if (!entry.ok()) return entry.status();
    absl::Status role = CheckRole(*entry, required);
    if (!role.ok()) return role;
    if (entry->role != Role::kService && organisation_id != entry->organisation_id) {
      return OtherOrganisation(*entry, organisation_id);
    }
    return Caller{std::string(organisation_id), entry->role, entry->name};
  }

  absl::Status AuthorizeUnscoped(const grpc::ServerContextBase& context,
                                 Role required) const override {
    absl::StatusOr<TokenEntry> entry = Identify(context);
    if (!entry.ok()) return entry.status();
    return CheckRole(*entry, required);
  }

 private:
  using Table = std::vector<TokenEntry>;

  static absl::Status OtherOrganisation(const TokenEntry& entry, absl::string_view named) {
    return absl::PermissionDeniedError(absl::StrCat(
        "organisation '", named, "' is not the organisation of token '", entry.name, "' ('",
        entry.organisation_id, "'): a token acts only for its own organisation; leave out ",
        kOrganisationMetadata));
  }

  absl::StatusOr<std::shared_ptr<const Table>> ReadTable() const {
    absl::StatusOr<std::string> contents = ReadFile(watch_.path());
    if (!contents.ok()) return contents.status();
    absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokens(*contents);
    if (!entries.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(watch_.path(), ": ", entries.status().message()));
    }
    return std::make_shared<const Table>(*std::move(entries));
  }

  // The table to check against, rereading the file first when it changed.
  std::shared_ptr<const Table> Current() const {
    absl::MutexLock lock(&mu_);
    if (watch_.Changed()) {
      absl::StatusOr<std::shared_ptr<const Table>> table = ReadTable();
      if (table.ok()) {
        table_ = *std::move(table);
        watch_.Accepted();
        LogInfo("tokens file reloaded",
                {{"tokens_file", watch_.path()}, {"entries", table_->size()}});
      } else {
        watch_.Refused(table.status());
      }
    }
    return table_;
  }

  // The entry of the caller's bearer token, or UNAUTHENTICATED.
  absl::StatusOr<TokenEntry> Identify(const grpc::ServerContextBase& context) const {
    std::optional<absl::string_view> token = BearerToken(context);
    if (!token.has_value()) return absl::UnauthenticatedError(kMissingToken);
    const Digest digest = Sha256(*token);
    std::shared_ptr<const Table> table = Current();
    // Every entry is compared in constant time and the loop never stops
    // early, so the time taken says nothing about which bytes matched.
    const TokenEntry* match = nullptr;
    for (const TokenEntry& entry : *table) {
      if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0) match = &entry;
    }
    if (match == nullptr) {
      return absl::UnauthenticatedError(
          "unknown bearer token: it is not in the server's tokens file (mistyped, or "
          "revoked?)");
    }
    return *match;
  }

  mutable absl::Mutex mu_;
  mutable FileWatch watch_ ABSL_GUARDED_BY(mu_);
  mutable std::shared_ptr<const Table> table_ ABSL_GUARDED_BY(mu_);
};

class FixedToken final : public ServiceToken {
 public:
  std::string Get() const override { return ""; }
};

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  std::string token(absl::StripAsciiWhitespace(*contents));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": is empty"));
  return token;
}

class FileServiceToken final : public ServiceToken {
 public:
  FileServiceToken(std::string path, absl::Duration interval)
      : watch_(std::move(path), interval) {}

  absl::Status Load() {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<FileStamp> stamp = StatFile(watch_.path());
    if (!stamp.ok()) return stamp.status();
    absl::StatusOr<std::string> token = ReadToken(watch_.path());
    if (!token.ok()) return token.status();
    token_ = *std::move(token);
    watch_.Loaded(*stamp);
    return absl::OkStatus();
  }

  std::string Get() const override {
    absl::MutexLock lock(&mu_);
    if (watch_.Changed()) {
      absl::StatusOr<std::string> token = ReadToken(watch_.path());
      if (token.ok()) {
        token_ = *std::move(token);
        watch_.Accepted();
        LogInfo("service token file reloaded", {{"service_token_file", watch_.path()}});
      } else {
        watch_.Refused(token.status());
      }
    }
    return token_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable FileWatch watch_ ABSL_GUARDED_BY(mu_);
  mutable std::string token_ ABSL_GUARDED_BY(mu_);
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

std::optional<Role> RoleFromName(absl::string_view name) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kAdmin, Role::kService}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokens(absl::string_view contents) {
  std::vector<TokenEntry> entries;
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> digests;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 4) {
      return LineError(number, absl::StrCat("expected 4 fields '<name> <organisation|*> <role> "
                                            "<token>', got ",
                                            fields.size()));
    }
    TokenEntry entry;
    entry.name = std::string(fields[0]);
    const absl::string_view organisation = fields[1];
    const absl::string_view role_name = fields[2];
    const absl::string_view token = fields[3];

    std::optional<Role> role = RoleFromName(role_name);
    if (!role.has_value()) {
      return LineError(number, absl::StrCat("role '", role_name,
                                            "' is not one of reader, writer, admin, service"));
    }
    entry.role = *role;
    if (entry.role == Role::kService) {
      if (organisation != "*") {
        return LineError(number, absl::StrCat("a service token acts for any organisation: its "
                                              "organisation must be '*', got '",
                                              organisation, "'"));
      }
    } else {
      if (organisation == "*") {
        return LineError(number, absl::StrCat("organisation '*' is only for role service; a ",
                                              role_name, " token names one organisation"));
      }
      absl::Status valid = ValidateOrganisationId("organisation", organisation);
      if (!valid.ok()) return LineError(number, valid.message());
      entry.organisation_id = std::string(organisation);
    }

    if (absl::StartsWith(token, kSha256Prefix)) {
      const absl::string_view hex = token.substr(kSha256Prefix.size());
      bool valid = hex.size() == 64;
      for (char c : hex) valid = valid && absl::ascii_isxdigit(static_cast<unsigned char>(c));
      if (!valid) {
        return LineError(number, absl::StrCat("token 'sha256:...' needs exactly 64 hex digits, "
                                              "got ",
                                              hex.size(), " characters"));
      }
      const std::string bytes = absl::HexStringToBytes(hex);
      std::copy(bytes.begin(), bytes.end(), entry.digest.begin());
    } else {
      entry.digest = Sha256(token);
    }

    if (!names.insert(entry.name).second) {
      return LineError(number, absl::StrCat("name '", entry.name, "' is used by an earlier line"));
    }
    if (!digests.insert(std::string(entry.digest.begin(), entry.digest.end())).second) {
      // Names the entry, never the token.
      return LineError(number, absl::StrCat("the token of '", entry.name,
                                            "' is the same as an earlier line's"));
    }
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        "defines no tokens (expected lines '<name> <organisation|*> <role> <token>')");
  }
  return entries;
}

std::unique_ptr<Authenticator> Authenticator::Disabled() {
  return std::make_unique<DisabledAuthenticator>();
}

absl::StatusOr<std::unique_ptr<Authenticator>> AuthenticatorFromTokensFile(
    std::string path, TokensFileOptions options) {
  auto authenticator = std::make_unique<TokensFileAuthenticator>(std::move(path), options);
  absl::Status loaded = authenticator->Load();
  if (!loaded.ok()) return loaded;
  return authenticator;
}

absl::StatusOr<std::unique_ptr<Authenticator>> AuthenticatorFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_tokens_file);
  if (!absl::GetFlag(FLAGS_auth)) return Authenticator::Disabled();
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "--tokens_file: required while --auth is on (the default); pass "
        "--tokens_file=PATH, or --auth=false for local development");
  }
  absl::StatusOr<std::unique_ptr<Authenticator>> authenticator =
      AuthenticatorFromTokensFile(path);
  if (!authenticator.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tokens_file: ", authenticator.status().message()));
  }
  return authenticator;
}

absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFile(std::string path,
                                                                    absl::Duration check_interval) {
  auto token = std::make_shared<FileServiceToken>(std::move(path), check_interval);
  absl::Status loaded = token->Load();
  if (!loaded.ok()) return loaded;
  return token;
}

absl::StatusOr<std::shared_ptr<ServiceToken>> ServiceTokenFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_service_token_file);
  if (path.empty()) return std::make_shared<FixedToken>();
  absl::StatusOr<std::shared_ptr<ServiceToken>> token = ServiceTokenFromFile(path);
  if (!token.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--service_token_file: ", token.status().message()));
  }
  return token;
}

}  // namespace okr
