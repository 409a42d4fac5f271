// The NotifyStore conformance suite: what every backend (SQLite, PostgreSQL)
// must do, written once against the interface in store_conformance.cc. A
// backend instantiates it with a NotifyStoreBackend, in any test binary that
// links store_conformance.cc:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Postgres, NotifyStoreConformance,
//       ::testing::Values(NotifyStoreBackend{"Postgres", [] { ...; return factory; }}),
//       NotifyStoreBackendName);
//
// Each test asks the backend for a fresh, empty location and a factory that
// opens it. The factory is also called while an earlier store is alive (a
// second store object on the same data stands for another process, e.g. a
// replica) and after it was destroyed (a reopen, how durability is tested).
#ifndef OKR_TESTS_SERVICES_NOTIFY_STORE_CONFORMANCE_H_
#define OKR_TESTS_SERVICES_NOTIFY_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "services/notify/notify_store.h"

namespace okr::notify {

// Opens the store of one test's location; returns nullptr after reporting a
// gtest failure when it cannot.
using StoreFactory = std::function<std::unique_ptr<NotifyStore>()>;

struct NotifyStoreBackend {
  // The instantiation's name in test names: letters, digits, '_' only.
  std::string name;
  // Called once per test: prepares a fresh, empty location (a temp file, a
  // new database) and returns the factory that opens it. The factory owns
  // the location (e.g. by capturing a shared TempDir) and may be called
  // several times.
  std::function<StoreFactory()> new_location;
};

// Test-name generator for INSTANTIATE_TEST_SUITE_P.
std::string NotifyStoreBackendName(const ::testing::TestParamInfo<NotifyStoreBackend>& info);

// gtest prints parameters; a backend prints as its name.
void PrintTo(const NotifyStoreBackend& backend, std::ostream* os);

class NotifyStoreConformance : public ::testing::TestWithParam<NotifyStoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Destroys the current store and opens the location again.
  void Reopen();

  StoreFactory factory_;
  std::unique_ptr<NotifyStore> store_;
};

}  // namespace okr::notify

#endif  // OKR_TESTS_SERVICES_NOTIFY_STORE_CONFORMANCE_H_
