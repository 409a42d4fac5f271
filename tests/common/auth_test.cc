// Unit tests of common/auth: the tokens file parser, Authorize's answers for
// every kind of caller, reloading a rewritten, renamed or symlink-swapped
// file, and the service token file.
#include "common/auth.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

ABSL_DECLARE_FLAG(bool, auth);
ABSL_DECLARE_FLAG(std::string, tokens_file);
ABSL_DECLARE_FLAG(std::string, service_token_file);

namespace okr {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kReaderToken[] = "reader-token-aaaaaaaaaaaaaaaa";
constexpr char kWriterToken[] = "writer-token-bbbbbbbbbbbbbbbb";
constexpr char kAdminToken[] = "admin-token-cccccccccccccccc";
constexpr char kServiceToken[] = "service-token-dddddddddddddd";
constexpr char kOtherAdminToken[] = "other-admin-token-eeeeeeeeee";

// Hex SHA-256 computed independently of the code under test's parser.
std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string StandardTokens() {
  return absl::StrCat("# who org role token\n",
                      "alice acme reader ", kReaderToken, "\n",
                      "\n",
                      "  bob\tacme\twriter\t", kWriterToken, "  \n",
                      "carol acme admin sha256:", Sha256Hex(kAdminToken), "\n",
                      "tracking * service ", kServiceToken, "\n",
                      "dave globex admin ", kOtherAdminToken, "\n");
}

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

using Metadata = std::vector<std::pair<std::string, std::string>>;

// A server context carrying the given metadata (which the spouse owns, so
// it lives as long as the context).
class Context {
 public:
  Context() = default;
  explicit Context(const Metadata& metadata) {
    for (const auto& [key, value] : metadata) spouse_.AddClientMetadata(key, value);
  }
  const grpc::ServerContext& get() const { return context_; }

 private:
  grpc::ServerContext context_;
  grpc::testing::ServerContextTestSpouse spouse_{&context_};
};

Context WithToken(absl::string_view token, absl::string_view organisation = "") {
  Metadata metadata = {{"authorization", absl::StrCat("Bearer ", token)}};
  if (!organisation.empty()) metadata.emplace_back("okr-organisation-id", organisation);
  return Context(metadata);
}

// --- ParseTokens -------------------------------------------------------------

TEST(ParseTokensTest, ReadsEveryEntryWithCommentsBlanksAndTabs) {
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<TokenEntry> entries, ParseTokens(StandardTokens()));
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].name, "alice");
  EXPECT_EQ(entries[0].organisation_id, "acme");
  EXPECT_EQ(entries[0].role, Role::kReader);
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(entries[0].digest.data()), 32)),
            Sha256Hex(kReaderToken));
  EXPECT_EQ(entries[1].name, "bob");
  EXPECT_EQ(entries[1].role, Role::kWriter);
  EXPECT_EQ(entries[2].role, Role::kAdmin);
  // The sha256 form stores the given digest, equal to the literal's.
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(entries[2].digest.data()), 32)),
            Sha256Hex(kAdminToken));
  EXPECT_EQ(entries[3].role, Role::kService);
  EXPECT_EQ(entries[3].organisation_id, "");
  EXPECT_EQ(entries[4].organisation_id, "globex");
}

TEST(ParseTokensTest, AcceptsUpperCaseHexDigests) {
  std::string hex = Sha256Hex("t0k3n-value-ffffffffffffff");
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<TokenEntry> entries,
                           ParseTokens(absl::StrCat("x acme reader sha256:", hex, "\n")));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(entries[0].digest.data()), 32)),
            Sha256Hex("t0k3n-value-ffffffffffffff"));
}

struct BadTokensCase {
  std::string name;
  std::string contents;
  std::string message;  // expected substring
};

class BadTokensTest : public ::testing::TestWithParam<BadTokensCase> {};

TEST_P(BadTokensTest, FailsNamingTheLine) {
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokens(GetParam().contents);
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(entries.status().message()), HasSubstr(GetParam().message));
  // The secret never appears in a message.
  EXPECT_THAT(std::string(entries.status().message()), Not(HasSubstr("s3cret")));
}

const std::string kGood = "ok acme reader s3cret-good-token\n";

INSTANTIATE_TEST_SUITE_P(
    EveryKind, BadTokensTest,
    ::testing::Values(
        BadTokensCase{"ThreeFields", "# c\nx acme reader\n", "line 2: expected 4 fields"},
        BadTokensCase{"FiveFields", kGood + "x acme reader s3cret extra\n",
                      "line 2: expected 4 fields"},
        BadTokensCase{"UnknownRole", kGood + "x acme owner s3cret-1\n",
                      "line 2: role 'owner' is not one of reader, writer, admin, service"},
        BadTokensCase{"ServiceWithOrganisation", "x acme service s3cret-1\n",
                      "line 1: a service token acts for any organisation"},
        BadTokensCase{"ReaderWithStar", "\n\nx * reader s3cret-1\n",
                      "line 3: organisation '*' is only for role service"},
        BadTokensCase{"BadOrganisationId", "x Acme_Corp writer s3cret-1\n",
                      "line 1: organisation"},
        BadTokensCase{"ShortDigest", "x acme admin sha256:abcd\n",
                      "line 1: token 'sha256:...' needs exactly 64 hex digits"},
        BadTokensCase{"NonHexDigest", absl::StrCat("x acme admin sha256:", std::string(64, 'g'),
                                                   "\n"),
                      "line 1: token 'sha256:...' needs exactly 64 hex digits"},
        BadTokensCase{"DuplicateName", kGood + "ok globex reader s3cret-other\n",
                      "line 2: name 'ok' is used by an earlier line"},
        BadTokensCase{"DuplicateTokenAsDigest",
                      kGood + "y globex admin sha256:" + Sha256Hex("s3cret-good-token") + "\n",
                      "line 2: the token of 'y' is the same as an earlier line's"},
        BadTokensCase{"Empty", "", "defines no tokens"},
        BadTokensCase{"OnlyComments", "# nothing\n   \n# here\n", "defines no tokens"}),
    [](const ::testing::TestParamInfo<BadTokensCase>& info) { return info.param.name; });

TEST(RoleTest, NamesRoundTrip) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kAdmin, Role::kService}) {
    EXPECT_EQ(RoleFromName(RoleName(role)), role);
  }
  EXPECT_EQ(RoleFromName("Reader"), std::nullopt);
  EXPECT_LT(Role::kReader, Role::kWriter);
  EXPECT_LT(Role::kWriter, Role::kAdmin);
  EXPECT_LT(Role::kAdmin, Role::kService);
}

// --- Authorize -----------------------------------------------------------------

class AuthorizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(path_, StandardTokens());
    OKR_ASSERT_OK_AND_ASSIGN(auth_, AuthenticatorFromTokensFile(path_));
  }

  TempDir dir_{"okr-auth-test"};
  std::string path_ = dir_.File("tokens");
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthorizeTest, IsEnabled) { EXPECT_TRUE(auth_->enabled()); }

TEST_F(AuthorizeTest, MissingOrMalformedAuthorizationIsUnauthenticated) {
  const std::vector<Metadata> cases = {
      {},
      {{"okr-organisation-id", "acme"}},
      {{"authorization", kReaderToken}},
      {{"authorization", absl::StrCat("Basic ", kReaderToken)}},
      {{"authorization", "Bearer"}},
      {{"authorization", "Bearer    "}},
  };
  for (const auto& metadata : cases) {
    Context context(metadata);
    absl::StatusOr<Caller> caller = auth_->Authorize(context.get(), Role::kReader);
    ASSERT_FALSE(caller.ok());
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(caller.status().message(),
              "missing bearer token: send authorization: Bearer <token>");
    EXPECT_EQ(auth_->AuthorizeUnscoped(context.get(), Role::kReader).code(),
              absl::StatusCode::kUnauthenticated);
  }
}

TEST_F(AuthorizeTest, UnknownTokenIsUnauthenticated) {
  absl::StatusOr<Caller> caller =
      auth_->Authorize(WithToken("no-such-token").get(), Role::kReader);
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(caller.status().message()), HasSubstr("unknown bearer token"));
}

TEST_F(AuthorizeTest, SameLengthTokenDifferingInOneByteIsRefused) {
  std::string near(kWriterToken);
  near.back() = near.back() == 'b' ? 'c' : 'b';
  ASSERT_EQ(near.size(), std::string(kWriterToken).size());
  absl::StatusOr<Caller> caller = auth_->Authorize(WithToken(near).get(), Role::kReader);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  // A prefix or an extension of a valid token is no better.
  EXPECT_EQ(auth_->Authorize(WithToken(std::string(kWriterToken).substr(1)).get(), Role::kReader)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth_->Authorize(WithToken(absl::StrCat(kWriterToken, "x")).get(), Role::kReader)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizeTest, SchemeIsCaseInsensitive) {
  Context context(Metadata{{"authorization", absl::StrCat("bearer ", kReaderToken)}});
  OKR_ASSERT_OK_AND_ASSIGN(Caller caller, auth_->Authorize(context.get(), Role::kReader));
  EXPECT_EQ(caller.subject, "alice");
}

TEST_F(AuthorizeTest, OrganisationAndSubjectComeFromTheToken) {
  OKR_ASSERT_OK_AND_ASSIGN(Caller caller,
                           auth_->Authorize(WithToken(kWriterToken).get(), Role::kWriter));
  EXPECT_EQ(caller.organisation_id, "acme");
  EXPECT_EQ(caller.role, Role::kWriter);
  EXPECT_EQ(caller.subject, "bob");
  OKR_ASSERT_OK_AND_ASSIGN(Caller other,
                           auth_->Authorize(WithToken(kOtherAdminToken).get(), Role::kReader));
  EXPECT_EQ(other.organisation_id, "globex");
  EXPECT_EQ(other.subject, "dave");
}

TEST_F(AuthorizeTest, Sha256EntryMatchesTheLiteralToken) {
  OKR_ASSERT_OK_AND_ASSIGN(Caller caller,
                           auth_->Authorize(WithToken(kAdminToken).get(), Role::kAdmin));
  EXPECT_EQ(caller.subject, "carol");
  // The digest itself is not a token.
  EXPECT_EQ(auth_->Authorize(WithToken(Sha256Hex(kAdminToken)).get(), Role::kReader)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

struct RoleCase {
  const char* token;
  Role required;
  bool allowed;
};

TEST_F(AuthorizeTest, RolesAreOrdered) {
  const RoleCase cases[] = {
      {kReaderToken, Role::kReader, true},   {kReaderToken, Role::kWriter, false},
      {kReaderToken, Role::kAdmin, false},   {kWriterToken, Role::kReader, true},
      {kWriterToken, Role::kWriter, true},   {kWriterToken, Role::kAdmin, false},
      {kAdminToken, Role::kReader, true},    {kAdminToken, Role::kWriter, true},
      {kAdminToken, Role::kAdmin, true},     {kAdminToken, Role::kService, false},
      {kServiceToken, Role::kReader, true},  {kServiceToken, Role::kAdmin, true},
      {kServiceToken, Role::kService, true},
  };
  for (const RoleCase& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.token, " for ", RoleName(c.required)));
    absl::StatusOr<Caller> caller = auth_->Authorize(WithToken(c.token, "acme").get(), c.required);
    if (c.allowed) {
      OKR_EXPECT_OK(caller);
    } else {
      EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
    }
    EXPECT_EQ(auth_->AuthorizeUnscoped(WithToken(c.token).get(), c.required).ok(), c.allowed);
  }
}

TEST_F(AuthorizeTest, PermissionDeniedNamesTheNeededAndTheCallersRole) {
  absl::StatusOr<Caller> caller = auth_->Authorize(WithToken(kWriterToken).get(), Role::kAdmin);
  ASSERT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(caller.status().message()),
              AllOf(HasSubstr("needs role admin"), HasSubstr("'bob' has role writer"),
                    Not(HasSubstr(kWriterToken))));
}

TEST_F(AuthorizeTest, OrganisationMetadataNamingAnotherOrganisationIsRefused) {
  absl::StatusOr<Caller> caller =
      auth_->Authorize(WithToken(kAdminToken, "globex").get(), Role::kReader);
  ASSERT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(caller.status().message()),
              AllOf(HasSubstr("'globex'"), HasSubstr("'acme'")));
  // Naming its own organisation is harmless.
  OKR_ASSERT_OK_AND_ASSIGN(Caller same,
                           auth_->Authorize(WithToken(kAdminToken, "acme").get(), Role::kReader));
  EXPECT_EQ(same.organisation_id, "acme");
}

TEST_F(AuthorizeTest, ServiceTokenActsForTheNamedOrganisation) {
  OKR_ASSERT_OK_AND_ASSIGN(Caller acme,
                           auth_->Authorize(WithToken(kServiceToken, "acme").get(), Role::kAdmin));
  EXPECT_EQ(acme.organisation_id, "acme");
  EXPECT_EQ(acme.role, Role::kService);
  EXPECT_EQ(acme.subject, "tracking");
  OKR_ASSERT_OK_AND_ASSIGN(Caller globex, auth_->Authorize(WithToken(kServiceToken, "globex").get(),
                                                           Role::kWriter));
  EXPECT_EQ(globex.organisation_id, "globex");
}

TEST_F(AuthorizeTest, ServiceTokenWithoutOrganisationIsUnauthenticated) {
  absl::StatusOr<Caller> caller = auth_->Authorize(WithToken(kServiceToken).get(), Role::kReader);
  ASSERT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(caller.status().message()),
              AllOf(HasSubstr("'tracking'"), HasSubstr("okr-organisation-id")));
}

TEST_F(AuthorizeTest, AuthorizeForBindsNonServiceTokensToTheirOrganisation) {
  OKR_ASSERT_OK_AND_ASSIGN(Caller own,
                           auth_->AuthorizeFor(WithToken(kAdminToken).get(), Role::kAdmin, "acme"));
  EXPECT_EQ(own.organisation_id, "acme");
  EXPECT_EQ(auth_->AuthorizeFor(WithToken(kAdminToken).get(), Role::kAdmin, "globex")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->AuthorizeFor(WithToken(kWriterToken).get(), Role::kAdmin, "acme")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  OKR_ASSERT_OK_AND_ASSIGN(
      Caller service, auth_->AuthorizeFor(WithToken(kServiceToken).get(), Role::kAdmin, "initech"));
  EXPECT_EQ(service.organisation_id, "initech");
  EXPECT_EQ(auth_->AuthorizeFor(Context().get(), Role::kAdmin, "acme").status().code(),
            absl::StatusCode::kUnauthenticated);
}

// --- Reloading -------------------------------------------------------------------

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(path_, absl::StrCat("old acme writer ", kWriterToken, "\n"));
    OKR_ASSERT_OK_AND_ASSIGN(auth_, AuthenticatorFromTokensFile(
                                        path_, {.check_interval = absl::ZeroDuration()}));
    OKR_ASSERT_OK(auth_->Authorize(WithToken(kWriterToken).get(), Role::kWriter));
  }

  absl::StatusCode CodeFor(absl::string_view token) {
    return auth_->Authorize(WithToken(token).get(), Role::kReader).status().code();
  }

  TempDir dir_{"okr-auth-reload"};
  std::string path_ = dir_.File("tokens");
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(ReloadTest, PicksUpARewrite) {
  WriteFile(path_, absl::StrCat("# rotated\nnew globex reader ", kReaderToken, "\n"));
  EXPECT_EQ(CodeFor(kReaderToken), absl::StatusCode::kOk);
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kUnauthenticated);
}

TEST_F(ReloadTest, PicksUpAnAtomicRename) {
  const std::string staged = dir_.File("tokens.tmp");
  WriteFile(staged, absl::StrCat("new globex reader ", kReaderToken, "\n"));
  ASSERT_EQ(std::rename(staged.c_str(), path_.c_str()), 0);
  EXPECT_EQ(CodeFor(kReaderToken), absl::StatusCode::kOk);
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kUnauthenticated);
}

TEST(ReloadSymlinkTest, PicksUpAKubernetesStyleSymlinkSwap) {
  // A mounted Secret: tokens -> ..data/tokens, ..data -> ..v1; an update
  // writes ..v2 and renames a new ..data link over the old one.
  TempDir dir("okr-auth-symlink");
  ASSERT_EQ(mkdir(dir.File("..v1").c_str(), 0700), 0);
  ASSERT_EQ(mkdir(dir.File("..v2").c_str(), 0700), 0);
  WriteFile(dir.File("..v1/tokens"), absl::StrCat("old acme writer ", kWriterToken, "\n"));
  WriteFile(dir.File("..v2/tokens"), absl::StrCat("new acme reader ", kReaderToken, "\n"));
  ASSERT_EQ(symlink("..v1", dir.File("..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/tokens", dir.File("tokens").c_str()), 0);
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Authenticator> auth,
                           AuthenticatorFromTokensFile(dir.File("tokens"),
                                                       {.check_interval = absl::ZeroDuration()}));
  OKR_ASSERT_OK(auth->Authorize(WithToken(kWriterToken).get(), Role::kWriter));

  ASSERT_EQ(symlink("..v2", dir.File("..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename(dir.File("..data_tmp").c_str(), dir.File("..data").c_str()), 0);
  OKR_EXPECT_OK(auth->Authorize(WithToken(kReaderToken).get(), Role::kReader));
  EXPECT_EQ(auth->Authorize(WithToken(kWriterToken).get(), Role::kReader).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(ReloadTest, ABadRewriteKeepsTheOldTokensUntilFixed) {
  WriteFile(path_, absl::StrCat("new globex owner ", kReaderToken, "\n"));
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kOk);
  EXPECT_EQ(CodeFor(kReaderToken), absl::StatusCode::kUnauthenticated);
  // Still the old ones on later calls, then the fixed file.
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kOk);
  WriteFile(path_, absl::StrCat("new globex reader ", kReaderToken, "\n"));
  EXPECT_EQ(CodeFor(kReaderToken), absl::StatusCode::kOk);
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kUnauthenticated);
}

TEST_F(ReloadTest, ARemovedFileKeepsTheOldTokens) {
  ASSERT_EQ(unlink(path_.c_str()), 0);
  EXPECT_EQ(CodeFor(kWriterToken), absl::StatusCode::kOk);
}

TEST(ReloadIntervalTest, LooksAtTheFileAtMostOncePerInterval) {
  TempDir dir("okr-auth-interval");
  const std::string path = dir.File("tokens");
  WriteFile(path, absl::StrCat("old acme writer ", kWriterToken, "\n"));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Authenticator> auth,
                           AuthenticatorFromTokensFile(path, {.check_interval = absl::Hours(1)}));
  WriteFile(path, absl::StrCat("new acme reader ", kReaderToken, "\n"));
  OKR_EXPECT_OK(auth->Authorize(WithToken(kWriterToken).get(), Role::kWriter));
  EXPECT_EQ(auth->Authorize(WithToken(kReaderToken).get(), Role::kReader).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// --- Construction ------------------------------------------------------------------

TEST(TokensFileTest, MissingOrMalformedFileIsInvalidArgument) {
  TempDir dir("okr-auth-file");
  absl::StatusOr<std::unique_ptr<Authenticator>> missing =
      AuthenticatorFromTokensFile(dir.File("absent"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir.File("absent")));

  WriteFile(dir.File("bad"), "a acme reader tok-aaaaaaaaaaaa\nb acme\n");
  absl::StatusOr<std::unique_ptr<Authenticator>> bad = AuthenticatorFromTokensFile(dir.File("bad"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              AllOf(HasSubstr(dir.File("bad")), HasSubstr("line 2")));
}

class FlagsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    absl::SetFlag(&FLAGS_auth, true);
    absl::SetFlag(&FLAGS_tokens_file, "");
    absl::SetFlag(&FLAGS_service_token_file, "");
  }
  TempDir dir_{"okr-auth-flags"};
};

TEST_F(FlagsTest, AuthOnWithoutTokensFileIsInvalidArgument) {
  absl::SetFlag(&FLAGS_auth, true);
  absl::SetFlag(&FLAGS_tokens_file, "");
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = AuthenticatorFromFlags();
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(auth.status().message()),
              AllOf(StartsWith("--tokens_file: "), HasSubstr("--auth=false")));
}

TEST_F(FlagsTest, BadTokensFileNamesTheFlagAndTheLine) {
  WriteFile(dir_.File("tokens"), "x acme boss tok-aaaaaaaaaaa\n");
  absl::SetFlag(&FLAGS_tokens_file, dir_.File("tokens"));
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = AuthenticatorFromFlags();
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(auth.status().message()),
              AllOf(StartsWith("--tokens_file: "), HasSubstr("line 1")));
}

TEST_F(FlagsTest, TokensFileGivesAnEnabledAuthenticator) {
  WriteFile(dir_.File("tokens"), StandardTokens());
  absl::SetFlag(&FLAGS_tokens_file, dir_.File("tokens"));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Authenticator> auth, AuthenticatorFromFlags());
  EXPECT_TRUE(auth->enabled());
  OKR_EXPECT_OK(auth->Authorize(WithToken(kReaderToken).get(), Role::kReader));
}

TEST_F(FlagsTest, AuthOffIgnoresTheTokensFile) {
  absl::SetFlag(&FLAGS_auth, false);
  absl::SetFlag(&FLAGS_tokens_file, dir_.File("absent"));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Authenticator> auth, AuthenticatorFromFlags());
  EXPECT_FALSE(auth->enabled());
}

// --- Auth off ------------------------------------------------------------------------

TEST(DisabledTest, OrganisationFromMetadataAndEveryRoleAllowed) {
  std::unique_ptr<Authenticator> auth = Authenticator::Disabled();
  EXPECT_FALSE(auth->enabled());
  Context context(Metadata{{"okr-organisation-id", "acme"}});
  OKR_ASSERT_OK_AND_ASSIGN(Caller caller, auth->Authorize(context.get(), Role::kAdmin));
  EXPECT_EQ(caller.organisation_id, "acme");
  EXPECT_EQ(caller.subject, "dev");
  absl::StatusOr<Caller> none = auth->Authorize(Context().get(), Role::kReader);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("okr-organisation-id"));
  OKR_ASSERT_OK_AND_ASSIGN(Caller bootstrap,
                           auth->AuthorizeFor(Context().get(), Role::kAdmin, "globex"));
  EXPECT_EQ(bootstrap.organisation_id, "globex");
  OKR_EXPECT_OK(auth->AuthorizeUnscoped(Context().get(), Role::kAdmin));
}

// --- Service token -------------------------------------------------------------------

TEST(ServiceTokenTest, TrimsAndRereadsOnChange) {
  TempDir dir("okr-auth-service-token");
  const std::string path = dir.File("token");
  WriteFile(path, "  first-token-value\n");
  OKR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<ServiceToken> token,
                           ServiceTokenFromFile(path, absl::ZeroDuration()));
  EXPECT_EQ(token->Get(), "first-token-value");
  WriteFile(path, "second-token-value-longer\n");
  EXPECT_EQ(token->Get(), "second-token-value-longer");
  // An emptied or removed file keeps the last token.
  WriteFile(path, "\n");
  EXPECT_EQ(token->Get(), "second-token-value-longer");
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(token->Get(), "second-token-value-longer");
  // A rename over it is picked up.
  WriteFile(dir.File("staged"), "third\n");
  ASSERT_EQ(std::rename(dir.File("staged").c_str(), path.c_str()), 0);
  EXPECT_EQ(token->Get(), "third");
}

TEST(ServiceTokenTest, MissingOrEmptyFileIsInvalidArgument) {
  TempDir dir("okr-auth-service-token");
  EXPECT_EQ(ServiceTokenFromFile(dir.File("absent")).status().code(),
            absl::StatusCode::kInvalidArgument);
  WriteFile(dir.File("empty"), " \n");
  EXPECT_EQ(ServiceTokenFromFile(dir.File("empty")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FlagsTest, ServiceTokenFromFlags) {
  OKR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<ServiceToken> none, ServiceTokenFromFlags());
  EXPECT_EQ(none->Get(), "");
  absl::SetFlag(&FLAGS_service_token_file, dir_.File("absent"));
  absl::StatusOr<std::shared_ptr<ServiceToken>> missing = ServiceTokenFromFlags();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), StartsWith("--service_token_file: "));
  WriteFile(dir_.File("token"), "svc-token\n");
  absl::SetFlag(&FLAGS_service_token_file, dir_.File("token"));
  OKR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<ServiceToken> token, ServiceTokenFromFlags());
  EXPECT_EQ(token->Get(), "svc-token");
}

}  // namespace
}  // namespace okr
