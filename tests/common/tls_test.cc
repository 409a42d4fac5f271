// TLS, mTLS and the plaintext health port of okr::Server, with certificates
// the openssl CLI generates for the test run: a CA, a server and a client
// certificate it signs, and an unrelated CA with its own server and client
// certificates. Every connection is a real one over loopback.
#include "common/tls.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/health_client.h"
#include "common/server.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, health_listen);

namespace okr {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(5);
// A method of an okr.v1 service; the test's echo service answers every
// method, so that "UNIMPLEMENTED" can only come from a port without it.
constexpr char kOkrMethod[] = "/okr.v1.PlanningService/GetObjective";

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
[elsewhere]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:elsewhere.example
)";

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// Runs the openssl CLI in `dir`; its stderr is in the error.
absl::Status Openssl(const TempDir& dir, std::vector<std::string> args) {
  SubprocessOptions options;
  options.program = "/usr/bin/openssl";
  options.args = std::move(args);
  options.working_dir = dir.path();
  options.stdout_path = dir.File("openssl.out");
  options.stderr_path = dir.File("openssl.err");
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
  OKR_ASSIGN_OR_RETURN(ExitStatus exit, process->Wait(absl::Seconds(30)));
  if (!exit.success()) {
    return absl::InternalError(absl::StrCat("openssl ", options.args[0], ": ", exit.ToString(),
                                            ": ", ReadFileToString(options.stderr_path)));
  }
  return absl::OkStatus();
}

// "<name>.pem" and "<name>.key" in the directory.
struct KeyPair {
  std::string cert;
  std::string key;
};

// A self-signed CA "<name>".
absl::StatusOr<KeyPair> MakeCa(const TempDir& dir, const std::string& name) {
  OKR_RETURN_IF_ERROR(Openssl(
      dir, {"req", "-x509", "-config", "openssl.cnf", "-extensions", "ca", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
            "-out", name + ".pem", "-days", "30", "-subj", "/CN=" + name}));
  return KeyPair{dir.File(name + ".pem"), dir.File(name + ".key")};
}

// A leaf certificate "<name>" signed by `ca`, with the extensions of the
// config section `section` ("local": 127.0.0.1 and localhost).
absl::StatusOr<KeyPair> MakeLeaf(const TempDir& dir, const std::string& name,
                                 const KeyPair& ca, const std::string& section) {
  static int serial = 1000;
  OKR_RETURN_IF_ERROR(Openssl(
      dir, {"req", "-new", "-config", "openssl.cnf", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + name}));
  OKR_RETURN_IF_ERROR(Openssl(
      dir, {"x509", "-req", "-in", name + ".csr", "-CA", ca.cert, "-CAkey", ca.key,
            "-set_serial", absl::StrCat(++serial), "-days", "30", "-extfile", "openssl.cnf",
            "-extensions", section, "-out", name + ".pem"}));
  return KeyPair{dir.File(name + ".pem"), dir.File(name + ".key")};
}

// Answers every method by echoing the request: stands for the okr.v1
// services on the main port.
class EchoService : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { StartRead(&message_); }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer message_;
    };
    return new Reactor;
  }
};

// One unary call of `method` with a few bytes; the call's status.
grpc::Status CallMethod(const std::shared_ptr<grpc::Channel>& channel, const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  grpc::Slice slice(std::string("ping"));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("okr-tls-test");
    WriteFile(dir_->File("openssl.cnf"), kOpensslConfig);
    const auto make = [](absl::StatusOr<KeyPair> made, KeyPair*& out) {
      ASSERT_TRUE(made.ok()) << made.status();
      out = new KeyPair(*std::move(made));
    };
    make(MakeCa(*dir_, "ca"), ca_);
    make(MakeCa(*dir_, "other-ca"), other_ca_);
    make(MakeLeaf(*dir_, "server", *ca_, "local"), server_);
    make(MakeLeaf(*dir_, "client", *ca_, "local"), client_);
    make(MakeLeaf(*dir_, "elsewhere", *ca_, "elsewhere"), elsewhere_);
    make(MakeLeaf(*dir_, "other-server", *other_ca_, "local"), other_server_);
    make(MakeLeaf(*dir_, "other-client", *other_ca_, "local"), other_client_);
  }
  static void TearDownTestSuite() {
    for (KeyPair** pair :
         {&ca_, &other_ca_, &server_, &client_, &elsewhere_, &other_server_, &other_client_}) {
      delete *pair;
      *pair = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (ca_ == nullptr || other_client_ == nullptr) GTEST_SKIP() << "certificates not generated";
  }

  // TLS with `pair` as the server certificate, mTLS when `client_ca` is set.
  static TlsConfig ServerTls(const KeyPair& pair, const std::string& client_ca = "") {
    TlsConfig config;
    config.cert_file = pair.cert;
    config.key_file = pair.key;
    config.client_ca_file = client_ca;
    return config;
  }

  // A client trusting `ca`, presenting `identity` when given.
  static TlsConfig ClientTls(const std::string& ca, const KeyPair* identity = nullptr) {
    TlsConfig config;
    config.ca_file = ca;
    if (identity != nullptr) {
      config.cert_file = identity->cert;
      config.key_file = identity->key;
    }
    return config;
  }

  // Starts a server with `config`'s credentials and the echo service.
  absl::StatusOr<std::unique_ptr<Server>> StartServer(const TlsConfig& config,
                                                      const std::string& health_listen = "") {
    OKR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         ServerCredentialsFor(config));
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.service_name = "tls-test";
    options.shutdown_grace = absl::Seconds(1);
    options.credentials = config.server_tls() ? credentials : nullptr;
    options.health_listen_address = health_listen;
    // A generic service can be registered on one server only.
    EchoService* echo = echo_.emplace_back(std::make_unique<EchoService>()).get();
    options.configure_builder = [echo](grpc::ServerBuilder& builder) {
      builder.RegisterCallbackGenericService(echo);
    };
    return Server::Start(options, {});
  }

  // Health of the whole server through a channel with `client`'s credentials.
  static absl::StatusOr<ServingStatus> CheckWith(const Server& server, const TlsConfig& client) {
    OKR_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                         ChannelCredentialsFor(client));
    return CheckHealth(grpc::CreateChannel(server.address(), credentials), "", kCallTimeout);
  }

  static TempDir* dir_;
  static KeyPair* ca_;
  static KeyPair* other_ca_;
  static KeyPair* server_;
  static KeyPair* client_;
  static KeyPair* elsewhere_;  // signed by ca_, for another host only
  static KeyPair* other_server_;
  static KeyPair* other_client_;

  // Outlive the servers a test body starts.
  std::vector<std::unique_ptr<EchoService>> echo_;
};

TempDir* TlsTest::dir_ = nullptr;
KeyPair* TlsTest::ca_ = nullptr;
KeyPair* TlsTest::other_ca_ = nullptr;
KeyPair* TlsTest::server_ = nullptr;
KeyPair* TlsTest::client_ = nullptr;
KeyPair* TlsTest::elsewhere_ = nullptr;
KeyPair* TlsTest::other_server_ = nullptr;
KeyPair* TlsTest::other_client_ = nullptr;

// --- TLS -----------------------------------------------------------------------

TEST_F(TlsTest, ClientTrustingTheCaConnects) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(ca_->cert));
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  OKR_ASSERT_OK_AND_ASSIGN(auto credentials, ChannelCredentialsFor(ClientTls(ca_->cert)));
  const grpc::Status echoed =
      CallMethod(grpc::CreateChannel(server->address(), credentials), kOkrMethod);
  EXPECT_TRUE(echoed.ok()) << echoed.error_message();
}

TEST_F(TlsTest, PlaintextClientIsRefused) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_)));
  absl::StatusOr<ServingStatus> status = CheckHealth(server->address(), "", kCallTimeout);
  ASSERT_FALSE(status.ok()) << "a plaintext client got " << Name(*status);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
}

TEST_F(TlsTest, ClientTrustingAnotherCaIsRefused) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(other_ca_->cert));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
}

TEST_F(TlsTest, CertificateForAnotherHostIsRefused) {
  // Signed by the CA the client trusts, but 127.0.0.1 is not in its names.
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*elsewhere_)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(ca_->cert));
  ASSERT_FALSE(status.ok()) << "the host name was not checked";
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
}

TEST_F(TlsTest, PlaintextConfigGivesInsecureCredentials) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(TlsConfig{}));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, TlsConfig{});
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  // A TLS client cannot talk to it either.
  EXPECT_FALSE(CheckWith(*server, ClientTls(ca_->cert)).ok());
}

TEST_F(TlsTest, RotatedServerCertificateIsPickedUpWithoutRestart) {
  TempDir live("okr-tls-rotation");
  const KeyPair files{live.File("tls.crt"), live.File("tls.key")};
  WriteFile(files.cert, ReadFileToString(server_->cert));
  WriteFile(files.key, ReadFileToString(server_->key));
  TlsConfig config = ServerTls(files);
  config.refresh_interval = absl::Seconds(1);
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(config));
  ASSERT_FALSE(CheckWith(*server, ClientTls(other_ca_->cert)).ok());

  // What a Secret volume does: new files renamed into place.
  WriteFile(files.cert + ".new", ReadFileToString(other_server_->cert));
  WriteFile(files.key + ".new", ReadFileToString(other_server_->key));
  ASSERT_EQ(std::rename((files.key + ".new").c_str(), files.key.c_str()), 0);
  ASSERT_EQ(std::rename((files.cert + ".new").c_str(), files.cert.c_str()), 0);

  absl::StatusOr<ServingStatus> status;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    absl::SleepFor(absl::Milliseconds(200));
    status = CheckWith(*server, ClientTls(other_ca_->cert));
  } while (!status.ok() && absl::Now() < give_up);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  EXPECT_FALSE(CheckWith(*server, ClientTls(ca_->cert)).ok()) << "the old certificate is still used";
}

// --- mTLS ----------------------------------------------------------------------

TEST_F(TlsTest, MtlsAcceptsClientCertificateFromTheClientCa) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_, ca_->cert)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(ca_->cert, client_));
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
}

TEST_F(TlsTest, MtlsRefusesClientWithoutCertificate) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_, ca_->cert)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(ca_->cert));
  ASSERT_FALSE(status.ok()) << "a client without a certificate got through";
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
}

TEST_F(TlsTest, MtlsRefusesClientCertificateFromAnotherCa) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_, ca_->cert)));
  absl::StatusOr<ServingStatus> status = CheckWith(*server, ClientTls(ca_->cert, other_client_));
  ASSERT_FALSE(status.ok()) << "a certificate of another CA got through";
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
}

TEST_F(TlsTest, MtlsClientCaMayDifferFromTheServerCa) {
  // Clients chain to other-ca while the server's own certificate is from ca.
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_, other_ca_->cert)));
  OKR_EXPECT_OK(CheckWith(*server, ClientTls(ca_->cert, other_client_)));
  EXPECT_FALSE(CheckWith(*server, ClientTls(ca_->cert, client_)).ok());
}

// --- Validation ----------------------------------------------------------------

// The error's code and that its message names `flag`.
void ExpectFlagError(const absl::Status& status, absl::string_view flag) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), absl::StrCat("--", flag, ":"))) << status;
}

TEST_F(TlsTest, ValidConfigsPass) {
  OKR_EXPECT_OK(ValidateTlsConfig(TlsConfig{}));
  OKR_EXPECT_OK(ValidateTlsConfig(ServerTls(*server_)));
  OKR_EXPECT_OK(ValidateTlsConfig(ServerTls(*server_, ca_->cert)));
  OKR_EXPECT_OK(ValidateTlsConfig(ClientTls(ca_->cert, client_)));
}

TEST_F(TlsTest, CertificateWithoutKeyAndReverseAreRefused) {
  TlsConfig config;
  config.cert_file = server_->cert;
  ExpectFlagError(ValidateTlsConfig(config), "tls_cert");
  config = TlsConfig{};
  config.key_file = server_->key;
  ExpectFlagError(ValidateTlsConfig(config), "tls_key");
  ExpectFlagError(ServerCredentialsFor(config).status(), "tls_key");
}

TEST_F(TlsTest, ClientCaWithoutCertificateIsRefused) {
  TlsConfig config;
  config.client_ca_file = ca_->cert;
  ExpectFlagError(ValidateTlsConfig(config), "tls_client_ca");
}

TEST_F(TlsTest, UnreadableFilesAreRefusedNamingTheFlag) {
  const std::string missing = dir_->File("missing.pem");
  TlsConfig config = ServerTls(*server_);
  config.cert_file = missing;
  ExpectFlagError(ValidateTlsConfig(config), "tls_cert");
  EXPECT_TRUE(absl::StrContains(ValidateTlsConfig(config).message(), missing));
  config = ServerTls(*server_);
  config.key_file = missing;
  ExpectFlagError(ValidateTlsConfig(config), "tls_key");
  config = ServerTls(*server_, missing);
  ExpectFlagError(ValidateTlsConfig(config), "tls_client_ca");
  config = ClientTls(missing);
  ExpectFlagError(ValidateTlsConfig(config), "tls_ca");
  ExpectFlagError(ChannelCredentialsFor(config).status(), "tls_ca");
}

TEST_F(TlsTest, NonPemFilesAreRefusedNamingTheFlag) {
  const std::string junk = dir_->File("junk.pem");
  WriteFile(junk, "not a certificate\n");
  TlsConfig config = ServerTls(*server_);
  config.cert_file = junk;
  ExpectFlagError(ValidateTlsConfig(config), "tls_cert");
  config = ServerTls(*server_);
  config.key_file = junk;
  ExpectFlagError(ValidateTlsConfig(config), "tls_key");
  // A key is not a certificate, and a certificate is not a key.
  config = ServerTls(*server_);
  config.key_file = server_->cert;
  ExpectFlagError(ValidateTlsConfig(config), "tls_key");
  ExpectFlagError(ValidateTlsConfig(ServerTls(*server_, server_->key)), "tls_client_ca");
  ExpectFlagError(ValidateTlsConfig(ClientTls(junk)), "tls_ca");
}

TEST_F(TlsTest, KeyOfAnotherCertificateIsRefused) {
  TlsConfig config = ServerTls(*server_);
  config.key_file = client_->key;
  const absl::Status status = ValidateTlsConfig(config);
  ExpectFlagError(status, "tls_key");
  EXPECT_TRUE(absl::StrContains(status.message(), "not the private key")) << status;
}

TEST_F(TlsTest, FlagsAreReadAndValidated) {
  const auto reset = [] {
    absl::SetFlag(&FLAGS_tls_cert, "");
    absl::SetFlag(&FLAGS_tls_key, "");
    absl::SetFlag(&FLAGS_tls_client_ca, "");
    absl::SetFlag(&FLAGS_tls_ca, "");
    absl::SetFlag(&FLAGS_health_listen, "");
  };
  absl::SetFlag(&FLAGS_tls_cert, server_->cert);
  absl::SetFlag(&FLAGS_tls_key, server_->key);
  absl::SetFlag(&FLAGS_tls_client_ca, ca_->cert);
  absl::SetFlag(&FLAGS_tls_ca, other_ca_->cert);
  absl::SetFlag(&FLAGS_health_listen, "127.0.0.1:0");
  absl::StatusOr<TlsConfig> config = TlsConfigFromFlags();
  absl::SetFlag(&FLAGS_tls_key, "");
  absl::StatusOr<TlsConfig> without_key = TlsConfigFromFlags();
  reset();
  OKR_ASSERT_OK(config);
  EXPECT_EQ(config->cert_file, server_->cert);
  EXPECT_EQ(config->key_file, server_->key);
  EXPECT_EQ(config->client_ca_file, ca_->cert);
  EXPECT_EQ(config->ca_file, other_ca_->cert);
  EXPECT_EQ(config->health_listen, "127.0.0.1:0");
  EXPECT_TRUE(config->server_tls());
  EXPECT_TRUE(config->client_tls());
  ExpectFlagError(without_key.status(), "tls_cert");
}

// --- Health port ---------------------------------------------------------------

std::string HealthTarget(const Server& server) {
  return absl::StrCat("127.0.0.1:", server.health_port());
}

TEST_F(TlsTest, HealthPortServesPlaintextWhileTheMainPortIsTls) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server,
                           StartServer(ServerTls(*server_, ca_->cert), "127.0.0.1:0"));
  ASSERT_NE(server->health_port(), 0);
  ASSERT_NE(server->health_port(), server->port());
  absl::StatusOr<ServingStatus> status = CheckHealth(HealthTarget(*server), "", kCallTimeout);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);
  EXPECT_FALSE(CheckHealth(server->address(), "", kCallTimeout).ok())
      << "the main port answered a plaintext client";
}

TEST_F(TlsTest, HealthPortMirrorsTheMainServersStatuses) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(ServerTls(*server_), "127.0.0.1:0"));
  const std::string target = HealthTarget(*server);
  server->SetServing(false);
  absl::StatusOr<ServingStatus> status = CheckHealth(target, "", kCallTimeout);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kNotServing);
  server->SetServing(true);
  status = CheckHealth(target, "", kCallTimeout);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);

  // A per-service entry a main sets directly on the main server's health.
  grpc::HealthCheckServiceInterface* health = server->grpc_server()->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("okr.v1.PlanningService", false);
  status = CheckHealth(target, "okr.v1.PlanningService", kCallTimeout);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kNotServing);
  health->SetServingStatus("okr.v1.PlanningService", true);
  status = CheckHealth(target, "okr.v1.PlanningService", kCallTimeout);
  OKR_ASSERT_OK(status);
  EXPECT_EQ(*status, ServingStatus::kServing);

  // An entry the main server does not know.
  status = CheckHealth(target, "okr.v1.NoSuchService", kCallTimeout);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << status.status();
}

TEST_F(TlsTest, HealthPortServesNoOtherService) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(TlsConfig{}, "127.0.0.1:0"));
  auto main = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto health = grpc::CreateChannel(HealthTarget(*server), grpc::InsecureChannelCredentials());
  // The same calls the main port answers.
  const grpc::Status on_main = CallMethod(main, kOkrMethod);
  EXPECT_TRUE(on_main.ok()) << on_main.error_message();
  for (const std::string& method :
       {std::string(kOkrMethod), std::string("/grpc.health.v1.Health/Watch"),
        std::string("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")}) {
    const grpc::Status status = CallMethod(health, method);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
        << method << ": " << status.error_message();
  }
}

TEST_F(TlsTest, HealthPortStopsWithTheServer) {
  OKR_ASSERT_OK_AND_ASSIGN(auto server, StartServer(TlsConfig{}, "127.0.0.1:0"));
  const std::string target = HealthTarget(*server);
  OKR_ASSERT_OK(CheckHealth(target, "", kCallTimeout));
  server->Shutdown();
  absl::StatusOr<ServingStatus> status = CheckHealth(target, "", kCallTimeout);
  EXPECT_FALSE(status.ok()) << "still answering after Shutdown: " << Name(*status);
}

TEST_F(TlsTest, BadOrTakenHealthAddressFailsTheStart) {
  absl::StatusOr<std::unique_ptr<Server>> bad = StartServer(TlsConfig{}, "no-port");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "health_listen_address:")) << bad.status();

  OKR_ASSERT_OK_AND_ASSIGN(auto first, StartServer(TlsConfig{}));
  absl::StatusOr<std::unique_ptr<Server>> taken =
      StartServer(TlsConfig{}, absl::StrCat("127.0.0.1:", first->port()));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kUnavailable) << taken.status();
  EXPECT_TRUE(absl::StrContains(taken.status().message(), "health_listen_address"))
      << taken.status();
}

}  // namespace
}  // namespace okr
