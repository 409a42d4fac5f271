// A fixture for unit tests of the planning use-cases: a Planning over an
// in-memory store with a pinned clock and one bootstrapped organisation, and
// small builders that fail the test (ADD_FAILURE) when a setup step fails.
#ifndef OKR_TESTS_SERVICES_PLANNING_PLANNING_TEST_UTIL_H_
#define OKR_TESTS_SERVICES_PLANNING_PLANNING_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/planning/planning.h"
#include "tests/services/planning/memory_store.h"

namespace okr::planning {

class PlanningTest : public ::testing::Test {
 protected:
  // The organisation every builder works in: fiscal year from January, UTC,
  // planning profile SMALL.
  static constexpr char kOrg[] = "acme";

  PlanningTest();

  // A second Planning over the same store, as after a restart.
  std::unique_ptr<Planning> Restart();

  // Builders. Each creates through the use-case API (no request id) and
  // returns what was stored, or a default value after ADD_FAILURE.
  Person MakePerson(const std::string& display_name);  // e-mail derived
  Team MakeTeam(const std::string& name, const Id& parent_team_id = "");
  // FY `year` (January start) with its quarters, all PLANNING.
  FiscalYear MakeFiscalYear(int year);
  // A PUBLISHED, COMMITTED objective with progress from its key results.
  Objective MakeObjective(const std::string& title, const Id& cycle_id,
                          const Id& owner_id, Level level = Level::kCompany,
                          const Id& team_id = "");
  // A metric KPI key result from `from` to `to` (INCREASE or DECREASE by
  // their order), weight 1, manual data source.
  KeyResult MakeKeyResult(const Id& objective_id, const std::string& title,
                          double from, double to);

  // Puts `resource` with a fresh id, stamped, through the core (no
  // use-case rules), and returns it as stored.
  template <typename T>
  T PutNew(ResourceKind kind, T resource);

  MemoryPlanningStore store_;
  absl::Time now_ = absl::FromCivil(absl::CivilSecond(2027, 1, 4, 9, 0, 0),
                                    absl::UTCTimeZone());
  std::unique_ptr<Planning> planning_;
};

}  // namespace okr::planning

#endif  // OKR_TESTS_SERVICES_PLANNING_PLANNING_TEST_UTIL_H_
