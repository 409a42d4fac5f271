#include "tests/services/planning/planning_test_util.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/calendar.h"
#include "common/status_macros.h"

namespace okr::planning {
namespace {

PlanningOptions PinnedClock(const absl::Time* now) {
  return PlanningOptions{.clock = [now] { return *now; }};
}

}  // namespace

PlanningTest::PlanningTest()
    : planning_(std::make_unique<Planning>(&store_, PinnedClock(&now_))) {
  absl::Status status = planning_->Write(
      kOrg, "", RequestKey{},
      [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
        Organisation org;
        org.id = kOrg;
        org.name = "Acme Retail";
        org.fiscal_year_start_month = 1;
        org.time_zone = "UTC";
        org.planning_profile = PlanningProfile::kSmall;
        StampCreated(org, ctx.now);
        m->puts.push_back(org);
        return absl::OkStatus();
      },
      [](const OrgState&, absl::Span<const Id>) { return absl::OkStatus(); },
      /*allow_missing=*/true);
  EXPECT_TRUE(status.ok()) << status;
}

std::unique_ptr<Planning> PlanningTest::Restart() {
  return std::make_unique<Planning>(&store_, PinnedClock(&now_));
}

template <typename T>
T PlanningTest::PutNew(ResourceKind kind, T resource) {
  absl::Status status = planning_->Write(
      kOrg, [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
        resource.id = ctx.new_id(kind);
        resource.organisation_id = kOrg;
        StampCreated(resource, ctx.now);
        m->puts.push_back(resource);
        return absl::OkStatus();
      });
  if (!status.ok()) {
    ADD_FAILURE() << "setup failed: " << status;
    return T{};
  }
  return resource;
}

Person PlanningTest::MakePerson(const std::string& display_name) {
  Person person;
  person.display_name = display_name;
  std::string local = absl::AsciiStrToLower(display_name);
  absl::StrReplaceAll({{" ", "."}}, &local);
  person.email = absl::StrCat(local, "@acme.example");
  return PutNew(ResourceKind::kPerson, person);
}

Team PlanningTest::MakeTeam(const std::string& name,
                            const Id& parent_team_id) {
  Team team;
  team.name = name;
  team.parent_team_id = parent_team_id;
  return PutNew(ResourceKind::kTeam, team);
}

FiscalYear PlanningTest::MakeFiscalYear(int year) {
  FiscalYear out;
  absl::StatusOr<FiscalCalendar> calendar = FiscalCalendar::Create(1);
  if (!calendar.ok()) {
    ADD_FAILURE() << calendar.status();
    return out;
  }
  absl::Status status = planning_->Write(
      kOrg, [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
        std::vector<Cycle> cycles = FiscalYearCycles(
            *calendar, year, kOrg, /*include_months=*/false,
            [&](const Cycle&) { return ctx.new_id(ResourceKind::kCycle); });
        for (Cycle& cycle : cycles) {
          StampCreated(cycle, ctx.now);
          m->puts.push_back(cycle);
          if (cycle.kind == CycleKind::kAnnual) {
            out.year = cycle;
          } else {
            out.quarters.push_back(cycle);
          }
        }
        return absl::OkStatus();
      });
  if (!status.ok()) ADD_FAILURE() << "setup failed: " << status;
  return out;
}

Objective PlanningTest::MakeObjective(const std::string& title,
                                      const Id& cycle_id, const Id& owner_id,
                                      Level level, const Id& team_id) {
  Objective objective;
  objective.title = title;
  objective.cycle_id = cycle_id;
  objective.owner_id = owner_id;
  objective.level = level;
  objective.team_id = team_id;
  objective.kind = ObjectiveKind::kCommitted;
  objective.state = ObjectiveState::kPublished;
  objective.progress_source = ProgressSource::kKeyResults;
  return PutNew(ResourceKind::kObjective, objective);
}

KeyResult PlanningTest::MakeKeyResult(const Id& objective_id,
                                      const std::string& title, double from,
                                      double to) {
  KeyResult key_result;
  key_result.objective_id = objective_id;
  key_result.title = title;
  key_result.type = KeyResultType::kMetric;
  key_result.measure = Measure::kKpi;
  key_result.from = from;
  key_result.to = to;
  key_result.direction = to >= from ? Direction::kIncrease : Direction::kDecrease;
  key_result.weight = 1.0;
  key_result.data_source = DataSource::kManual;
  return PutNew(ResourceKind::kKeyResult, key_result);
}

// Every kind a test may put directly.
template Team PlanningTest::PutNew(ResourceKind, Team);
template Person PlanningTest::PutNew(ResourceKind, Person);
template Cycle PlanningTest::PutNew(ResourceKind, Cycle);
template Objective PlanningTest::PutNew(ResourceKind, Objective);
template KeyResult PlanningTest::PutNew(ResourceKind, KeyResult);

}  // namespace okr::planning
