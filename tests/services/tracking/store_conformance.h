// The TrackingStore conformance suite: what every backend (SQLite, the
// in-memory fake, later PostgreSQL) must do, written once against the
// interface. A backend instantiates it with a StoreBackend:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Backends, TrackingStoreConformance,
//       ::testing::Values(StoreBackend{"Sqlite", [] { ...; return factory; }}),
//       StoreBackendName);
//
// Each test asks the backend for a fresh, empty location and a factory that
// opens it. Calling the factory again after the previous store is destroyed
// must open the same data ("reopen"), which is how durability is tested;
// backends that keep nothing across objects set `durable` to false and the
// durability test is skipped for them.
#ifndef OKR_TESTS_SERVICES_TRACKING_STORE_CONFORMANCE_H_
#define OKR_TESTS_SERVICES_TRACKING_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

// Opens the store of one test's location; returns nullptr after reporting a
// gtest failure when it cannot.
using StoreFactory = std::function<std::unique_ptr<TrackingStore>()>;

struct StoreBackend {
  // The instantiation's name in test names: letters, digits, '_' only.
  std::string name;
  // Called once per test: prepares a fresh, empty location (a temp file, a
  // new database) and returns the factory that opens it. The factory owns
  // the location (e.g. by capturing a shared TempDir) and may be called
  // several times, never while a store it returned is still alive.
  std::function<StoreFactory()> new_location;
  // True when a store opened again sees everything written before.
  bool durable = true;
};

// Test-name generator for INSTANTIATE_TEST_SUITE_P.
std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);

// gtest prints parameters; a backend prints as its name.
void PrintTo(const StoreBackend& backend, std::ostream* os);

class TrackingStoreConformance : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Destroys the current store and opens the location again.
  void Reopen();

  StoreFactory factory_;
  std::unique_ptr<TrackingStore> store_;
};

}  // namespace okr::tracking

#endif  // OKR_TESTS_SERVICES_TRACKING_STORE_CONFORMANCE_H_
