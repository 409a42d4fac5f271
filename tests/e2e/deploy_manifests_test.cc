// deploy/ rendered with `kubectl kustomize` and validated by
// scripts/validate-manifests.sh (Kubernetes schemas from the npm package
// kubernetes-models, plus the suite's invariants). The positive case
// validates the real base and overlays; each negative case copies deploy/
// into a temporary directory, breaks one thing in the copy and expects the
// script to fail naming it, so the validator is shown to catch that error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

namespace fs = std::filesystem;

// First install of the npm packages plus three renders stays well inside.
constexpr absl::Duration kScriptTimeout = absl::Seconds(240);

struct ScriptResult {
  ExitStatus status;
  std::string output;  // stdout and stderr, interleaved
};

// Runs scripts/validate-manifests.sh with `args` (kustomization directories;
// none: the repository's base and overlays).
ScriptResult RunValidator(const std::vector<std::string>& args) {
  ScriptResult result;
  absl::StatusOr<std::string> script = OkrSourceFile("scripts/validate-manifests.sh");
  EXPECT_TRUE(script.ok()) << script.status();
  if (!script.ok()) return result;
  TempDir out("okr-deploy-out");
  SubprocessOptions options;
  options.program = "/bin/bash";
  options.args = {*script};
  options.args.insert(options.args.end(), args.begin(), args.end());
  options.stdout_path = out.File("output.txt");
  options.stderr_path = out.File("output.txt");
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return result;
  absl::StatusOr<ExitStatus> status = (*process)->Wait(kScriptTimeout);
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) result.status = *status;
  result.output = ReadFileToString(out.File("output.txt"));
  return result;
}

// A copy of the repository's deploy/ (without node_modules) in a temp dir,
// so that an overlay's "../../base" still resolves to the (copied) base.
class DeployCopy {
 public:
  DeployCopy() : dir_("okr-deploy-copy") {
    absl::StatusOr<std::string> deploy = OkrSourceFile("deploy");
    EXPECT_TRUE(deploy.ok()) << deploy.status();
    if (!deploy.ok()) return;
    root_ = dir_.File("deploy");
    fs::create_directories(root_);
    for (const char* part : {"base", "overlays"}) {
      fs::copy(fs::path(*deploy) / part, fs::path(root_) / part, fs::copy_options::recursive);
    }
  }

  // The copied kustomization directory `relative` (e.g. "overlays/dev").
  std::string Dir(absl::string_view relative) const { return absl::StrCat(root_, "/", relative); }

  // Replaces `from` by `to` in the copied file `relative`; fails the test
  // when `from` is not there (the manifests changed under the test).
  void Edit(absl::string_view relative, absl::string_view from, absl::string_view to) {
    const std::string path = absl::StrCat(root_, "/", relative);
    std::string text = ReadFileToString(path);
    ASSERT_TRUE(absl::StrContains(text, from)) << path << " does not contain: " << from;
    text = absl::StrReplaceAll(text, {{from, to}});
    std::ofstream(path, std::ios::trunc) << text;
  }

 private:
  TempDir dir_;
  std::string root_;
};

// Expects the validator to fail on `dir` (exit 1, not a missing tool) with a
// FAIL line containing every one of `needles`.
void ExpectFailure(const std::string& dir, const std::vector<std::string>& needles) {
  const ScriptResult result = RunValidator({dir});
  EXPECT_EQ(result.status.exit_code, 1) << result.status.ToString() << "\n" << result.output;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(result.output, '\n')) {
    if (!absl::StartsWith(line, "FAIL ")) continue;
    bool all = true;
    for (const std::string& needle : needles) all = all && absl::StrContains(line, needle);
    found = found || all;
  }
  EXPECT_TRUE(found) << "no FAIL line containing all of [" << absl::StrJoin(needles, "] [")
                     << "]; output:\n"
                     << result.output;
}

TEST(DeployManifestsTest, EveryOverlayRendersAndValidates) {
  const ScriptResult result = RunValidator({});
  ASSERT_TRUE(result.status.success()) << result.status.ToString() << "\n" << result.output;
  for (const char* dir : {"deploy/base", "deploy/overlays/dev", "deploy/overlays/prod"}) {
    EXPECT_TRUE(absl::StrContains(result.output, absl::StrCat("ok ", dir, ": ")))
        << dir << " was not validated:\n"
        << result.output;
  }
  EXPECT_FALSE(absl::StrContains(result.output, "FAIL")) << result.output;
}

TEST(DeployManifestsTest, ValidatesACopyUnchanged) {
  // The copy itself is valid, so each failure below comes from its one edit.
  DeployCopy copy;
  const ScriptResult result = RunValidator({copy.Dir("overlays/dev"), copy.Dir("overlays/prod")});
  EXPECT_TRUE(result.status.success()) << result.status.ToString() << "\n" << result.output;
}

TEST(DeployManifestsTest, RejectsAContainerPortThatIsNotANumber) {
  DeployCopy copy;
  copy.Edit("base/tracking.yaml", "containerPort: 50052", "containerPort: \"abc\"");
  ExpectFailure(copy.Dir("overlays/dev"),
                {"Deployment okr-dev/okr-tracking", "containerPort must be integer"});
}

TEST(DeployManifestsTest, RejectsAMissingReadinessProbe) {
  DeployCopy copy;
  // An unknown field is no schema error: the invariant must see the probe is gone.
  copy.Edit("base/notify.yaml", "          readinessProbe:\n", "          readinessProbeTypo:\n");
  ExpectFailure(copy.Dir("overlays/dev"), {"okr-notify", "no readinessProbe"});
}

TEST(DeployManifestsTest, RejectsAContainerWithoutLimits) {
  DeployCopy copy;
  copy.Edit("base/planning.yaml", "            limits:\n              cpu: \"1\"\n              memory: 1Gi\n", "");
  ExpectFailure(copy.Dir("base"), {"Deployment okr-planning", "no resources.limits.cpu"});
}

TEST(DeployManifestsTest, RejectsTurningAuthOff) {
  DeployCopy copy;
  copy.Edit("overlays/dev/kustomization.yaml", "      - FLAGS_organisations=acme\n",
            "      - FLAGS_organisations=acme\n      - FLAGS_auth=false\n");
  ExpectFailure(copy.Dir("overlays/dev"), {"ConfigMap", "FLAGS_auth is 'false'"});
}

TEST(DeployManifestsTest, RejectsAuthFalseOnACommandLine) {
  DeployCopy copy;
  copy.Edit("base/planning.yaml", "command: [\"/usr/local/bin/okr-planning\"]",
            "command: [\"/usr/local/bin/okr-planning\", \"--auth=false\"]");
  ExpectFailure(copy.Dir("base"), {"okr-planning", "turns auth off"});
}

TEST(DeployManifestsTest, RejectsACronJobThatAllowsOverlappingRuns) {
  DeployCopy copy;
  copy.Edit("base/reminder-cronjob.yaml", "concurrencyPolicy: Forbid", "concurrencyPolicy: Allow");
  ExpectFailure(copy.Dir("base"), {"CronJob okr-reminder-job", "not Forbid"});
}

TEST(DeployManifestsTest, RejectsADeploymentWithoutADisruptionBudget) {
  DeployCopy copy;
  copy.Edit("overlays/dev/redis.yaml", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgetX");
  // An unknown kind fails on its own, and the Deployment lost its PDB.
  ExpectFailure(copy.Dir("overlays/dev"), {"unknown kind PodDisruptionBudgetX"});
  ExpectFailure(copy.Dir("overlays/dev"), {"Deployment okr-dev/redis", "no PodDisruptionBudget"});
}

TEST(DeployManifestsTest, RejectsARootContainer) {
  DeployCopy copy;
  copy.Edit("overlays/dev/redis.yaml", "        runAsNonRoot: true\n        runAsUser: 999\n",
            "        runAsUser: 0\n");
  copy.Edit("overlays/dev/redis.yaml", "            runAsNonRoot: true\n", "");
  ExpectFailure(copy.Dir("overlays/dev"), {"Deployment okr-dev/redis", "runAsNonRoot is not true"});
}

TEST(DeployManifestsTest, RejectsAnUnpinnedImageInProd) {
  DeployCopy copy;
  copy.Edit("overlays/prod/kustomization.yaml", "newTag: \"1.0.0\"", "newTag: latest");
  ExpectFailure(copy.Dir("overlays/prod"), {"okr-tracking", "is not pinned"});
}

TEST(DeployManifestsTest, RejectsAServicePortMissingOnThePods) {
  DeployCopy copy;
  copy.Edit("base/notify.yaml", "targetPort: metrics", "targetPort: metricz");
  ExpectFailure(copy.Dir("base"), {"Service okr-notify", "targetPort 'metricz'"});
}

// The dev overlay's Secret must work with the real parser: the tokens file
// parses, and the service token the services send is a `service` entry of it.
TEST(DeployManifestsTest, DevTokensFileHoldsTheDevServiceToken) {
  absl::StatusOr<std::string> tokens_path = OkrSourceFile("deploy/overlays/dev/tokens.dev");
  absl::StatusOr<std::string> service_path =
      OkrSourceFile("deploy/overlays/dev/service-token.dev");
  ASSERT_TRUE(tokens_path.ok()) << tokens_path.status();
  ASSERT_TRUE(service_path.ok()) << service_path.status();
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokens(ReadFileToString(*tokens_path));
  ASSERT_TRUE(entries.ok()) << entries.status();

  // The digest of the service token, computed by the same parser.
  const std::string service_token(absl::StripAsciiWhitespace(ReadFileToString(*service_path)));
  ASSERT_FALSE(service_token.empty());
  absl::StatusOr<std::vector<TokenEntry>> probe =
      ParseTokens(absl::StrCat("probe * service ", service_token, "\n"));
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_EQ(probe->size(), 1u);

  bool service_entry = false;
  bool acme_admin = false;
  for (const TokenEntry& entry : *entries) {
    if (entry.digest == probe->front().digest) {
      EXPECT_EQ(entry.role, Role::kService) << entry.name;
      service_entry = true;
    }
    acme_admin = acme_admin || (entry.role == Role::kAdmin && entry.organisation_id == "acme");
  }
  EXPECT_TRUE(service_entry) << "service-token.dev is not a service entry of tokens.dev";
  // The dev overlay's reminder job runs for "acme"; someone must be able to set it up.
  EXPECT_TRUE(acme_admin) << "tokens.dev has no admin of organisation acme";
}

}  // namespace
}  // namespace okr
