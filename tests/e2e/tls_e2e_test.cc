// TLS and mTLS end to end, with the real binaries and certificates the
// openssl CLI generates for the run (one CA; a certificate per service,
// valid for 127.0.0.1 and localhost, that is both its server and its client
// identity; one for the operator's okrctl and the reminder job; an
// unrelated CA). okr-planning, okr-tracking and okr-notify run with mTLS
// (--tls_cert, --tls_key, --tls_client_ca) and call each other over it
// (--tls_ca plus their own certificate), with --auth=false: this test is
// about the transport. Each service also has a plaintext --health_listen
// port for probes.
#include <algorithm>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/health_client.h"
#include "gtest/gtest.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

constexpr char kOrg[] = "tls-e2e";

constexpr char kOpensslConfig[] = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[local]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
)";

// How a child process ended and what it printed.
struct ProgramRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const ProgramRun& run) {
  return os << "exit " << run.exit_code << "\n--- stdout:\n"
            << run.out << "--- stderr:\n"
            << run.err;
}

// Runs `program` with `args` to completion (at most a minute).
absl::StatusOr<ProgramRun> RunProgram(const std::string& program, std::vector<std::string> args,
                               std::vector<std::pair<std::string, std::string>> env = {}) {
  TempDir dir("okr-tls-e2e-run");
  SubprocessOptions options;
  options.program = program;
  options.args = std::move(args);
  options.env = std::move(env);
  options.working_dir = dir.path();
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
  OKR_ASSIGN_OR_RETURN(ExitStatus exit, process->Wait(absl::Seconds(60)));
  ProgramRun run;
  run.exit_code = exit.exited() ? exit.exit_code : 128 + exit.signal;
  run.out = ReadFileToString(dir.File("out"));
  run.err = ReadFileToString(dir.File("err"));
  return run;
}

struct KeyPair {
  std::string cert;
  std::string key;
};

class Pki {
 public:
  absl::Status Create() {
    std::ofstream(dir_.File("openssl.cnf")) << kOpensslConfig;
    OKR_RETURN_IF_ERROR(Openssl({"req", "-x509", "-config", "openssl.cnf", "-extensions", "ca",
                                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
                                 "-subj", "/CN=OKR test CA"}));
    OKR_RETURN_IF_ERROR(Openssl({"req", "-x509", "-config", "openssl.cnf", "-extensions", "ca",
                                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                 "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem",
                                 "-days", "30", "-subj", "/CN=Unrelated CA"}));
    return absl::OkStatus();
  }

  std::string ca() const { return dir_.File("ca.pem"); }
  std::string other_ca() const { return dir_.File("other-ca.pem"); }

  // A certificate "<name>" for 127.0.0.1 signed by the CA.
  absl::StatusOr<KeyPair> Leaf(const std::string& name) {
    OKR_RETURN_IF_ERROR(Openssl({"req", "-new", "-config", "openssl.cnf", "-newkey", "ec",
                                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                                 name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name}));
    OKR_RETURN_IF_ERROR(Openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey",
                                 "ca.key", "-set_serial", absl::StrCat(++serial_), "-days", "30",
                                 "-extfile", "openssl.cnf", "-extensions", "local", "-out",
                                 name + ".pem"}));
    return KeyPair{dir_.File(name + ".pem"), dir_.File(name + ".key")};
  }

 private:
  absl::Status Openssl(std::vector<std::string> args) {
    SubprocessOptions options;
    options.program = "/usr/bin/openssl";
    options.args = std::move(args);
    options.working_dir = dir_.path();
    options.stdout_path = dir_.File("openssl.out");
    options.stderr_path = dir_.File("openssl.err");
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
    OKR_ASSIGN_OR_RETURN(ExitStatus exit, process->Wait(absl::Seconds(30)));
    if (!exit.success()) {
      return absl::InternalError(absl::StrCat("openssl ", options.args[0], ": ", exit.ToString(),
                                              ": ", ReadFileToString(options.stderr_path)));
    }
    return absl::OkStatus();
  }

  TempDir dir_{"okr-tls-e2e-pki"};
  int serial_ = 100;
};

// The mTLS flags of a service whose certificate is `pair`.
std::vector<std::string> MtlsFlags(const Pki& pki, const KeyPair& pair) {
  return {"--auth=false", "--tls_cert=" + pair.cert, "--tls_key=" + pair.key,
          "--tls_client_ca=" + pki.ca(), "--tls_ca=" + pki.ca()};
}

// okr-planning, okr-tracking and okr-notify with mTLS, and Redis, shared by
// the tests (starting them is the slow part).
struct Env {
  TempDir dir{"okr-tls-e2e"};
  Pki pki;
  KeyPair operator_identity;  // okrctl's and the reminder job's
  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<ServiceProcess> planning;
  std::unique_ptr<ServiceProcess> tracking;
  std::unique_ptr<ServiceProcess> notify;
  std::string planning_health;  // plaintext health port of planning

  absl::Status Start() {
    OKR_RETURN_IF_ERROR(pki.Create());
    OKR_ASSIGN_OR_RETURN(const KeyPair planning_pair, pki.Leaf("planning"));
    OKR_ASSIGN_OR_RETURN(const KeyPair tracking_pair, pki.Leaf("tracking"));
    OKR_ASSIGN_OR_RETURN(const KeyPair notify_pair, pki.Leaf("notify"));
    OKR_ASSIGN_OR_RETURN(operator_identity, pki.Leaf("operator"));
    OKR_ASSIGN_OR_RETURN(redis, RedisServer::Start());
    const std::string redis_addr = absl::StrCat("127.0.0.1:", redis->port());

    OKR_ASSIGN_OR_RETURN(const int health_port, FreeLoopbackPort());
    planning_health = absl::StrCat("127.0.0.1:", health_port);
    std::vector<std::string> args = MtlsFlags(pki, planning_pair);
    args.insert(args.end(), {"--store=sqlite:" + dir.File("planning.db"),
                             "--health_listen=" + planning_health});
    OKR_ASSIGN_OR_RETURN(planning, ServiceProcess::Start({.binary = "okr-planning",
                                                          .args = args,
                                                          .log_path = dir.File("planning.log")}));

    args = MtlsFlags(pki, tracking_pair);
    args.insert(args.end(), {"--store=sqlite:" + dir.File("tracking.db"), "--redis=" + redis_addr,
                             "--planning_addr=" + planning->address(),
                             "--planning_timeout=10s"});
    OKR_ASSIGN_OR_RETURN(tracking, ServiceProcess::Start({.binary = "okr-tracking",
                                                          .args = args,
                                                          .log_path = dir.File("tracking.log")}));

    args = MtlsFlags(pki, notify_pair);
    args.insert(args.end(), {"--store=sqlite:" + dir.File("notify.db"), "--redis=" + redis_addr,
                             "--planning_addr=" + planning->address(),
                             "--tracking_addr=" + tracking->address(),
                             "--planning_timeout=10s", "--tracking_timeout=10s"});
    OKR_ASSIGN_OR_RETURN(notify, ServiceProcess::Start({.binary = "okr-notify",
                                                        .args = args,
                                                        .log_path = dir.File("notify.log")}));
    return absl::OkStatus();
  }

  std::string Logs() const {
    std::string out;
    for (const auto* s : {planning.get(), tracking.get(), notify.get()}) {
      if (s != nullptr) absl::StrAppend(&out, s->LogTail(3000), "\n");
    }
    return out;
  }

  ~Env() {
    for (ServiceProcess* s : {notify.get(), tracking.get(), planning.get()}) {
      if (s != nullptr) (void)s->Stop();
    }
  }
};

class TlsEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new Env;
    const absl::Status started = env_->Start();
    startup_error_ = new std::string(started.ok() ? "" : started.ToString());
  }

  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
    delete startup_error_;
    startup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(startup_error_->empty()) << "the services did not start: " << *startup_error_;
  }

  // okrctl against the three services with `tls` as its TLS flags.
  static ProgramRun Ctl(std::vector<std::string> tls, const std::vector<std::string>& args,
                 std::vector<std::pair<std::string, std::string>> env = {}) {
    absl::StatusOr<std::string> binary = OkrBinary("okrctl");
    EXPECT_TRUE(binary.ok()) << binary.status();
    if (!binary.ok()) return ProgramRun{};
    std::vector<std::string> all = {"--addr=" + env_->planning->address(),
                                    "--tracking-addr=" + env_->tracking->address(),
                                    "--notify-addr=" + env_->notify->address(),
                                    std::string("--org=") + kOrg};
    // A generous default deadline unless the case sets its own.
    const bool has_timeout = std::any_of(args.begin(), args.end(), [](const std::string& arg) {
      return absl::StartsWith(arg, "--timeout=");
    });
    if (!has_timeout) all.push_back("--timeout=20s");
    all.insert(all.end(), tls.begin(), tls.end());
    all.insert(all.end(), args.begin(), args.end());
    absl::StatusOr<ProgramRun> run = RunProgram(*binary, all, std::move(env));
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *run : ProgramRun{};
  }

  // okrctl with the operator's certificate (mTLS).
  static std::vector<std::string> OperatorTls() {
    return {"--tls-ca=" + env_->pki.ca(), "--tls-cert=" + env_->operator_identity.cert,
            "--tls-key=" + env_->operator_identity.key};
  }

  static std::string Must(const std::vector<std::string>& args) {
    const ProgramRun run = Ctl(OperatorTls(), args);
    EXPECT_EQ(run.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << run << env_->Logs();
    return std::string(absl::StripAsciiWhitespace(run.out));
  }

  // The organisation's plan, made once through okrctl over mTLS: one
  // objective with one metric key result 0 -> 10. Returns the KR's id.
  static const std::string& PlanKeyResult() {
    static const std::string* kr = [] {
      const int year =
          static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year());
      const std::string cycle = absl::StrCat("FY", year);
      Must({"org", "bootstrap", kOrg, "--name", "TLS end to end"});
      Must({"cycle", "create-year", absl::StrCat(year), "-q"});
      Must({"cycle", "set-state", cycle, "active"});
      Must({"team", "create", "Platform"});
      Must({"person", "create", "Riley", "--team", "Platform"});
      const std::string objective =
          Must({"objective", "create", "-q", "--title", "Encrypt every hop", "--level", "team",
                "--owner", "Riley", "--team", "Platform", "--cycle", cycle, "--kind",
                "committed", "--state", "published"});
      return new std::string(Must({"kr", "create", "-q", "--objective", objective, "--title",
                                   "Services on mTLS from 0 to 10", "--type", "metric",
                                   "--measure", "kpi", "--from", "0", "--to", "10"}));
    }();
    return *kr;
  }

  static Env* env_;
  static std::string* startup_error_;
};

Env* TlsEndToEndTest::env_ = nullptr;
std::string* TlsEndToEndTest::startup_error_ = nullptr;

TEST_F(TlsEndToEndTest, OkrctlWithClientCertificateListsObjectives) {
  ASSERT_FALSE(PlanKeyResult().empty());
  const std::string listed = Must({"objective", "list"});
  EXPECT_TRUE(absl::StrContains(listed, "Encrypt every hop")) << listed;
  // The same through the environment variables.
  const ProgramRun by_env =
      Ctl({}, {"objective", "list"},
          {{"OKR_TLS_CA", env_->pki.ca()},
           {"OKR_TLS_CERT", env_->operator_identity.cert},
           {"OKR_TLS_KEY", env_->operator_identity.key}});
  EXPECT_EQ(by_env.exit_code, 0) << by_env;
  EXPECT_TRUE(absl::StrContains(by_env.out, "Encrypt every hop")) << by_env;
}

TEST_F(TlsEndToEndTest, CheckInWorksWithTrackingCallingPlanningOverMtls) {
  const std::string& kr = PlanKeyResult();
  ASSERT_FALSE(kr.empty());
  // Tracking must load the plan from planning to accept the check-in.
  const ProgramRun checkin =
      Ctl(OperatorTls(), {"checkin", kr, "--value=4", "--author=Riley", "--confidence=8"});
  ASSERT_EQ(checkin.exit_code, 0) << checkin << env_->Logs();
  EXPECT_TRUE(absl::StrContains(checkin.out, "recorded check-in")) << checkin;
  const std::string score = Must({"score", "kr", kr});
  EXPECT_TRUE(absl::StrContains(score, "progress: 0.40")) << score;
}

TEST_F(TlsEndToEndTest, ClientsWithoutTheRightCredentialsAreRefused) {
  struct Case {
    std::string what;
    std::vector<std::string> tls;
  };
  const std::vector<Case> cases = {
      {"plaintext", {}},
      {"no client certificate", {"--tls-ca=" + env_->pki.ca()}},
      {"trusting another CA",
       {"--tls-ca=" + env_->pki.other_ca(), "--tls-cert=" + env_->operator_identity.cert,
        "--tls-key=" + env_->operator_identity.key}},
  };
  for (const Case& c : cases) {
    const ProgramRun run = Ctl(c.tls, {"--timeout=3s", "objective", "list"});
    EXPECT_EQ(run.exit_code, 1) << c.what << "\n" << run;
    EXPECT_TRUE(absl::StrContains(run.err, "UNAVAILABLE")) << c.what << "\n" << run;
  }
  // A certificate without the CA that verifies the services is a usage error.
  const ProgramRun usage = Ctl({"--tls-cert=" + env_->operator_identity.cert,
                         "--tls-key=" + env_->operator_identity.key},
                        {"objective", "list"});
  EXPECT_EQ(usage.exit_code, 2) << usage;
  EXPECT_TRUE(absl::StrContains(usage.err, "--tls-ca")) << usage;
  const ProgramRun missing = Ctl({"--tls-ca=" + env_->dir.File("missing.pem")}, {"objective", "list"});
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_TRUE(absl::StrContains(missing.err, "--tls-ca: cannot read")) << missing;
}

TEST_F(TlsEndToEndTest, ReminderJobRunsAgainstNotifyOverMtls) {
  ASSERT_FALSE(PlanKeyResult().empty());
  absl::StatusOr<std::string> job = OkrBinary("okr-reminder-job");
  OKR_ASSERT_OK(job);
  const std::vector<std::string> common = {"--notify_addr=" + env_->notify->address(),
                                           std::string("--organisations=") + kOrg,
                                           "--timeout=20s", "--retries=0"};
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--tls_ca=" + env_->pki.ca(),
                           "--tls_cert=" + env_->operator_identity.cert,
                           "--tls_key=" + env_->operator_identity.key});
  absl::StatusOr<ProgramRun> run = RunProgram(*job, args);
  OKR_ASSERT_OK(run);
  EXPECT_EQ(run->exit_code, 0) << *run << env_->Logs();
  EXPECT_TRUE(absl::StrContains(run->out, absl::StrCat("{\"organisation\":\"", kOrg, "\"")))
      << *run;

  // The CA from the environment, but no client certificate: refused.
  args = common;
  run = RunProgram(*job, args, {{"FLAGS_tls_ca", env_->pki.ca()}});
  OKR_ASSERT_OK(run);
  EXPECT_EQ(run->exit_code, 1) << *run;
  EXPECT_TRUE(absl::StrContains(run->err, "UNAVAILABLE")) << *run;

  // A key without its certificate is a usage error.
  args = common;
  args.insert(args.end(),
              {"--tls_ca=" + env_->pki.ca(), "--tls_key=" + env_->operator_identity.key});
  run = RunProgram(*job, args);
  OKR_ASSERT_OK(run);
  EXPECT_EQ(run->exit_code, 2) << *run;
  EXPECT_TRUE(absl::StrContains(run->err, "--tls_")) << *run;
}

TEST_F(TlsEndToEndTest, HealthPortAnswersPlaintextProbesAndTheMainPortDoesNot) {
  absl::StatusOr<ServingStatus> status =
      CheckHealth(env_->planning_health, "", absl::Seconds(5));
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  status = CheckHealth(env_->planning_health, "okr.v1.PlanningService", absl::Seconds(5));
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  status = CheckHealth(env_->planning->address(), "", absl::Seconds(5));
  EXPECT_FALSE(status.ok()) << "the mTLS port answered a plaintext probe";
}

TEST_F(TlsEndToEndTest, BadTlsFlagsExitTwoNamingTheFlag) {
  absl::StatusOr<std::string> planning = OkrBinary("okr-planning");
  OKR_ASSERT_OK(planning);
  const KeyPair& pair = env_->operator_identity;
  const std::string store = "--store=sqlite:" + env_->dir.File("never.db");
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert=" + pair.cert}, "--tls_cert"},
      {{"--tls_key=" + pair.key}, "--tls_key"},
      {{"--tls_client_ca=" + env_->pki.ca()}, "--tls_client_ca"},
      {{"--tls_cert=" + pair.cert, "--tls_key=" + pair.cert}, "--tls_key"},
      {{"--tls_ca=" + env_->dir.File("missing.pem")}, "--tls_ca"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--auth=false", "--listen=127.0.0.1:0", store};
    args.insert(args.end(), c.args.begin(), c.args.end());
    absl::StatusOr<ProgramRun> run = RunProgram(*planning, args);
    OKR_ASSERT_OK(run);
    EXPECT_EQ(run->exit_code, 2) << absl::StrJoin(c.args, " ") << "\n" << *run;
    EXPECT_TRUE(absl::StrContains(run->out + run->err, c.flag))
        << absl::StrJoin(c.args, " ") << "\n" << *run;
  }
}

}  // namespace
}  // namespace okr
