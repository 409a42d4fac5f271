// Unit tests of the organisation generator: determinism, exact sizes, the
// depth bound, validation and planning's limits, and the check-in stream.
#include "tests/bench/org/org_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/plan_csv.h"
#include "common/scoring.h"
#include "common/validation.h"
#include "gtest/gtest.h"

namespace okr::bench {
namespace {

// Everything the generator decides, as one string.
std::string Fingerprint(const Plan& plan) {
  std::string out;
  const Organisation& o = plan.organisation;
  absl::StrAppend(&out, o.id, "|", o.name, "|", o.time_zone, "|", o.fiscal_year_start_month, "|",
                  absl::FormatTime(o.create_time), "\n");
  for (const Team& t : plan.teams) absl::StrAppend(&out, t.id, "|", t.name, "|", t.parent_team_id, "\n");
  for (const Person& p : plan.people) {
    absl::StrAppend(&out, p.id, "|", p.display_name, "|", p.email, "|");
    for (const Id& t : p.team_ids) absl::StrAppend(&out, t, ",");
    out += "\n";
  }
  for (const Cycle& c : plan.cycles) {
    absl::StrAppend(&out, c.id, "|", c.name, "|", Name(c.state), "|", absl::FormatCivilTime(c.start),
                    "\n");
  }
  absl::StatusOr<std::string> csv = WritePlanCsv(plan, {});
  EXPECT_TRUE(csv.ok()) << csv.status();
  if (csv.ok()) out += *csv;
  return out;
}

const Cycle* ActiveQuarter(const Plan& plan) {
  for (const Cycle& c : plan.cycles) {
    if (c.kind == CycleKind::kQuarterly && c.state == CycleState::kActive) return &c;
  }
  return nullptr;
}

// Alignment depth of each objective (roots are 1), by walking parents.
std::vector<int> Depths(const Plan& plan) {
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < plan.objectives.size(); ++i) index[plan.objectives[i].id] = i;
  std::vector<int> depth(plan.objectives.size(), 0);
  for (size_t i = 0; i < plan.objectives.size(); ++i) {
    int d = 1;
    for (size_t j = i; plan.objectives[j].alignment.kind != AlignmentKind::kNone; ++d) {
      j = index.at(plan.objectives[j].alignment.parent_objective_id);
      if (d > 100) break;  // a loop; the forest check reports it
    }
    depth[i] = d;
  }
  return depth;
}

TEST(OrgGeneratorTest, SameSpecGivesTheSamePlanAndSeedsDiffer) {
  const OrgSpec spec{.seed = 7, .objectives = 500};
  const std::string a = Fingerprint(GenerateOrg(spec));
  EXPECT_EQ(a, Fingerprint(GenerateOrg(spec)));
  EXPECT_NE(a, Fingerprint(GenerateOrg({.seed = 8, .objectives = 500})));
}

TEST(OrgGeneratorTest, SizesAreExact) {
  for (const OrgSpec& spec : {OrgSpec{.objectives = 1000},
                              OrgSpec{.seed = 3, .objectives = 300, .key_results_per_objective = 3},
                              OrgSpec{.seed = 4, .objectives = 5000, .people = 100},
                              OrgSpec{.seed = 5, .objectives = 40, .people = 2000},
                              OrgSpec{.seed = 6, .objectives = 10, .key_results_per_objective = 0},
                              OrgSpec{.seed = 9, .objectives = 1}}) {
    SCOPED_TRACE(absl::StrCat("objectives ", spec.objectives, " people ", spec.people));
    const Plan plan = GenerateOrg(spec);
    const Cycle* quarter = ActiveQuarter(plan);
    ASSERT_NE(quarter, nullptr);
    int in_quarter = 0, in_year = 0;
    for (const Objective& o : plan.objectives) {
      if (o.cycle_id == quarter->id) ++in_quarter;
      if (o.cycle_id == plan.cycles[0].id) ++in_year;
    }
    EXPECT_EQ(in_quarter, spec.objectives);
    EXPECT_EQ(in_quarter + in_year, static_cast<int>(plan.objectives.size()));
    int departments = 0;
    for (const Team& t : plan.teams) departments += t.parent_team_id.empty() ? 1 : 0;
    --departments;  // the executive team
    EXPECT_EQ(in_year, 3 + departments);
    EXPECT_EQ(plan.key_results.size(),
              plan.objectives.size() * static_cast<size_t>(spec.key_results_per_objective));
    if (spec.people > 0) {
      EXPECT_EQ(static_cast<int>(plan.people.size()),
                std::max(spec.people, (spec.objectives + 19) / 20));
    }
  }
}

TEST(OrgGeneratorTest, EveryPersonOwnsAboutOneObjective) {
  const Plan plan = GenerateOrg({.seed = 2, .objectives = 2000});
  const Cycle* quarter = ActiveQuarter(plan);
  ASSERT_NE(quarter, nullptr);
  absl::flat_hash_map<std::string, int> owned;
  for (const Objective& o : plan.objectives) {
    if (o.cycle_id == quarter->id) ++owned[o.owner_id];
  }
  EXPECT_GE(owned.size(), plan.people.size() * 95 / 100);
  EXPECT_LE(plan.people.size(), 2000u);
  // Departments of about 8 teams of about 8.
  EXPECT_GT(plan.teams.size(), 2000u / 9);
  EXPECT_LT(plan.teams.size(), 2000u / 7 + 40);
}

TEST(OrgGeneratorTest, DepthIsBoundedAndReached) {
  for (int max_depth : {1, 2, 3, 6}) {
    SCOPED_TRACE(absl::StrCat("max_depth ", max_depth));
    const Plan plan = GenerateOrg({.seed = 11, .objectives = 1500, .max_depth = max_depth});
    const std::vector<int> depth = Depths(plan);
    EXPECT_EQ(*std::max_element(depth.begin(), depth.end()), max_depth);
    EXPECT_TRUE(ValidateAlignmentForest(plan.objectives, plan.key_results).ok());
  }
}

TEST(OrgGeneratorTest, PlanPassesValidationAndPlanningLimits) {
  const Plan plan = GenerateOrg({.seed = 5, .objectives = 3000});
  ASSERT_TRUE(ValidateOrganisation(plan.organisation).ok());
  for (const Team& t : plan.teams) ASSERT_TRUE(ValidateTeam(t).ok()) << t.id;
  absl::flat_hash_set<std::string> emails;
  for (const Person& p : plan.people) {
    ASSERT_TRUE(ValidatePerson(p).ok()) << p.id;
    EXPECT_TRUE(emails.insert(p.email).second) << p.email;
  }
  for (const Cycle& c : plan.cycles) ASSERT_TRUE(ValidateCycle(c).ok()) << c.id;
  absl::flat_hash_map<std::string, const Objective*> objectives;
  absl::flat_hash_map<std::string, const KeyResult*> key_results;
  absl::flat_hash_map<std::string, int> per_owner_cycle, krs_per_objective;
  for (const Objective& o : plan.objectives) {
    absl::Status s = ValidateObjective(o);
    ASSERT_TRUE(s.ok()) << o.id << ": " << s;
    objectives[o.id] = &o;
    ++per_owner_cycle[absl::StrCat(o.owner_id, "/", o.cycle_id)];
  }
  for (const KeyResult& kr : plan.key_results) {
    absl::Status s = ValidateKeyResult(kr);
    ASSERT_TRUE(s.ok()) << kr.id << ": " << s;
    key_results[kr.id] = &kr;
    ++krs_per_objective[kr.objective_id];
  }
  for (const auto& [owner, n] : per_owner_cycle) EXPECT_LE(n, 20) << owner;
  for (const auto& [objective, n] : krs_per_objective) EXPECT_LE(n, 20) << objective;
  // Each link against its parent (cycle containment, KR belongs to parent).
  int duality = 0, weighted = 0;
  for (const Objective& o : plan.objectives) {
    if (o.alignment.kind == AlignmentKind::kNone) continue;
    std::vector<Objective> involved{o, *objectives.at(o.alignment.parent_objective_id)};
    std::vector<KeyResult> krs;
    if (o.alignment.kind == AlignmentKind::kKeyResult) {
      krs.push_back(*key_results.at(o.alignment.parent_key_result_id));
      ++duality;
    }
    if (o.alignment.weight != 1) ++weighted;
    absl::Status s = ValidateAlignment(o, involved, krs, plan.cycles);
    ASSERT_TRUE(s.ok()) << o.id << ": " << s;
  }
  EXPECT_GT(duality, 100);
  EXPECT_GT(weighted, 100);
  EXPECT_TRUE(ValidateAlignmentForest(plan.objectives, plan.key_results).ok());
  // Scoring accepts it, and the CSV format reads back what it writes.
  EXPECT_TRUE(ScoreGraph::Build(plan.objectives, plan.key_results, {}).ok());
  absl::StatusOr<std::string> csv = WritePlanCsv(plan, {});
  ASSERT_TRUE(csv.ok()) << csv.status();
  absl::StatusOr<PlanCsv> parsed = ParsePlanCsv(*csv);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->plan.objectives.size(), plan.objectives.size());
}

TEST(OrgGeneratorTest, KeyResultsMixEveryType) {
  const Plan plan = GenerateOrg({.seed = 13, .objectives = 1000});
  absl::flat_hash_map<std::string, int> kinds;
  int from_children = 0, not_one = 0, integration = 0;
  for (const KeyResult& kr : plan.key_results) {
    if (kr.type == KeyResultType::kMilestone) {
      ++kinds["milestone"];
    } else if (kr.measure == Measure::kPercentComplete) {
      ++kinds["percent"];
    } else {
      ++kinds[std::string(Name(EffectiveDirection(kr)))];
    }
    from_children += kr.progress_from_children;
    not_one += kr.weight != 1;
    integration += kr.data_source == DataSource::kIntegration;
  }
  for (const char* kind : {"milestone", "percent", "INCREASE", "DECREASE", "AT_LEAST", "AT_MOST"}) {
    EXPECT_GT(kinds[kind], 40) << kind;
  }
  EXPECT_GT(from_children, 20);
  EXPECT_GT(not_one, 200);
  EXPECT_GT(integration, 100);
}

TEST(OrgGeneratorTest, ActiveQuarterContainsToday) {
  const Plan plan = GenerateOrg({.objectives = 20});
  const Cycle* quarter = ActiveQuarter(plan);
  ASSERT_NE(quarter, nullptr);
  absl::TimeZone zone;
  ASSERT_TRUE(absl::LoadTimeZone(plan.organisation.time_zone, &zone));
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), zone);
  EXPECT_LE(quarter->start, today);
  EXPECT_LT(today, quarter->end);
  EXPECT_EQ(quarter->parent_cycle_id, plan.cycles[0].id);
  EXPECT_EQ(plan.cycles[0].state, CycleState::kActive);
}

TEST(OrgGeneratorTest, CheckInsAreValidDeterministicAndProgress) {
  const Plan plan = GenerateOrg({.seed = 3, .objectives = 200});
  const Cycle* quarter = ActiveQuarter(plan);
  ASSERT_NE(quarter, nullptr);
  absl::TimeZone zone;
  ASSERT_TRUE(absl::LoadTimeZone(plan.organisation.time_zone, &zone));
  const absl::Time start = absl::FromCivil(quarter->start, zone);
  const absl::Time now = absl::Now();
  absl::flat_hash_map<std::string, const KeyResult*> krs;
  absl::flat_hash_map<std::string, const Objective*> objectives;
  for (const KeyResult& kr : plan.key_results) krs[kr.id] = &kr;
  for (const Objective& o : plan.objectives) objectives[o.id] = &o;
  const uint64_t count = plan.key_results.size();
  for (uint64_t i = 0; i < 10 * count; ++i) {
    const CheckIn ci = GenerateCheckIn(plan, i);
    const KeyResult& kr = *krs.at(ci.key_result_id);
    absl::Status s = ValidateCheckIn(ci, kr);
    ASSERT_TRUE(s.ok()) << i << ": " << s;
    EXPECT_EQ(ci.author_id, objectives.at(kr.objective_id)->owner_id);
    EXPECT_GE(ci.time, start) << i;
    EXPECT_LE(ci.time, plan.organisation.create_time) << i;
    EXPECT_LE(ci.time, now) << i;
    if (i % 97 == 0) {
      const CheckIn again = GenerateCheckIn(plan, i);
      EXPECT_EQ(again.value, ci.value);
      EXPECT_EQ(again.done, ci.done);
      EXPECT_EQ(again.time, ci.time);
    }
  }
  // Values move towards the target: after 10 rounds most metric KRs that
  // move (increase / decrease) are closer to it than after the first.
  int closer = 0, moving = 0;
  for (uint64_t k = 0; k < count; ++k) {
    const KeyResult& kr = plan.key_results[k];
    if (kr.type != KeyResultType::kMetric) continue;
    const Direction d = EffectiveDirection(kr);
    if (d != Direction::kIncrease && d != Direction::kDecrease) continue;
    ++moving;
    const double first = *GenerateCheckIn(plan, k).value;
    const double later = *GenerateCheckIn(plan, k + 9 * count).value;
    closer += std::abs(kr.to - later) < std::abs(kr.to - first);
    EXPECT_LE(GenerateCheckIn(plan, k).time, GenerateCheckIn(plan, k + 9 * count).time);
  }
  EXPECT_GT(moving, 100);
  EXPECT_GT(closer, moving * 9 / 10);
}

TEST(OrgGeneratorTest, LargeOrgIsQuick) {
  // CPU time, not wall time: the machine may be busy with other work.
  const std::clock_t start = std::clock();
  const Plan plan = GenerateOrg({.seed = 1, .objectives = 100000});
  const double cpu_seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  EXPECT_EQ(plan.key_results.size(), plan.objectives.size() * 4);
  EXPECT_GT(plan.objectives.size(), 100000u);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(cpu_seconds, 3.0);
#endif
  RecordProperty("generate_100k_cpu_ms", static_cast<int>(cpu_seconds * 1000));
}

}  // namespace
}  // namespace okr::bench
