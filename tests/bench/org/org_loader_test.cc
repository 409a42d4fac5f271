// LoadOrg against a real okr-planning (SQLite in a temporary directory,
// --auth=false): what the service lists afterwards is the generated plan,
// link for link. OKR_BENCH_ORG_OBJECTIVES sizes the organisation (default
// 300) so that the same test times a full-size load by hand.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "tests/bench/org/org_generator.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::bench {
namespace {

namespace v1 = ::okr::v1;

constexpr char kOrg[] = "bench-loader-test";

int Objectives() {
  int n = 300;
  if (const char* env = std::getenv("OKR_BENCH_ORG_OBJECTIVES")) {
    if (!absl::SimpleAtoi(env, &n) || n < 1) n = 300;
  }
  return n;
}

class OrgLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(
        process_, ServiceProcess::Start(
                      {.binary = "okr-planning",
                       .args = {"--auth=false",
                                absl::StrCat("--store=sqlite:", dir_.File("plan.db"))},
                       .log_path = dir_.File("planning.log")}));
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    stub_ = v1::PlanningService::NewStub(grpc::CreateCustomChannel(
        process_->address(), grpc::InsecureChannelCredentials(), args));
  }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::PlanningService::Stub::*method)(grpc::ClientContext*,
                                                                     const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    context.AddMetadata("okr-organisation-id", kOrg);
    return (stub_.get()->*method)(&context, request, response);
  }

  TempDir dir_{"okr-org-loader-test"};
  std::unique_ptr<ServiceProcess> process_;
  std::unique_ptr<v1::PlanningService::Stub> stub_;

  void LoadAndCompare(int objectives, int key_results_per_objective = 4);
};

TEST_F(OrgLoaderTest, PlanningShowsTheGeneratedPlan) { LoadAndCompare(Objectives()); }

// Over 10,000 CSV rows: two imports, and Classic links between them made by
// AlignObjective.
TEST_F(OrgLoaderTest, PlanInSeveralFilesIsLinkedAcrossThem) { LoadAndCompare(560, 20); }

void OrgLoaderTest::LoadAndCompare(int objectives, int key_results_per_objective) {
  const Plan plan = GenerateOrg(
      {.seed = 42, .objectives = objectives, .key_results_per_objective = key_results_per_objective});
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadedOrg> loaded =
      LoadOrg(plan, process_->address(), 4, {{"okr-organisation-id", kOrg}});
  ASSERT_TRUE(loaded.ok()) << loaded.status() << "\n" << process_->log();
  const absl::Duration took = absl::Now() - start;
  std::cout << "LoadOrg of " << plan.objectives.size() << " objectives, "
            << plan.key_results.size() << " key results, " << plan.people.size() << " people, "
            << plan.teams.size() << " teams: " << took << "\n";
  for (const auto& [step, duration] : loaded->step_times) {
    std::cout << "  " << step << ": " << duration << "\n";
  }

  EXPECT_EQ(loaded->organisation_id, kOrg);
  ASSERT_EQ(loaded->objective_ids.size(), plan.objectives.size());
  ASSERT_EQ(loaded->key_result_ids.size(), plan.key_results.size());
  ASSERT_EQ(loaded->people_ids.size(), plan.people.size());
  absl::flat_hash_set<std::string> distinct(loaded->key_result_ids.begin(),
                                            loaded->key_result_ids.end());
  EXPECT_EQ(distinct.size(), plan.key_results.size());
  distinct.insert(loaded->objective_ids.begin(), loaded->objective_ids.end());
  EXPECT_EQ(distinct.size(), plan.key_results.size() + plan.objectives.size());
  EXPECT_FALSE(distinct.contains(""));

  // The active cycle is the plan's active quarter, ACTIVE in planning too.
  {
    v1::GetCycleRequest request;
    request.set_id(loaded->active_cycle_id);
    v1::Cycle cycle;
    ASSERT_TRUE(Call(&v1::PlanningService::Stub::GetCycle, request, &cycle).ok());
    EXPECT_EQ(cycle.state(), v1::CYCLE_STATE_ACTIVE);
    EXPECT_EQ(cycle.kind(), v1::CYCLE_KIND_QUARTERLY);
    for (const Cycle& c : plan.cycles) {
      if (c.name == cycle.name()) {
        EXPECT_EQ(loaded->ids.at(c.id), cycle.id());
      }
    }
  }

  // Every objective as planning lists it: cycle, owner, team and link.
  absl::flat_hash_map<std::string, v1::Objective> listed;
  v1::ListObjectivesRequest list;
  list.set_page_size(500);
  do {
    v1::ListObjectivesResponse page;
    ASSERT_TRUE(Call(&v1::PlanningService::Stub::ListObjectives, list, &page).ok());
    for (const v1::Objective& o : page.objectives()) listed[o.id()] = o;
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  ASSERT_EQ(listed.size(), plan.objectives.size());
  int links = 0;
  for (size_t i = 0; i < plan.objectives.size(); ++i) {
    const Objective& o = plan.objectives[i];
    ASSERT_EQ(loaded->ids.at(o.id), loaded->objective_ids[i]);
    const v1::Objective& got = listed.at(loaded->objective_ids[i]);
    EXPECT_EQ(got.title(), o.title);
    EXPECT_EQ(got.owner_id(), loaded->ids.at(o.owner_id));
    EXPECT_EQ(got.team_id(), loaded->ids.at(o.team_id));
    EXPECT_EQ(got.cycle_id(), loaded->ids.at(o.cycle_id));
    EXPECT_EQ(got.state(), v1::OBJECTIVE_STATE_PUBLISHED);
    EXPECT_EQ(static_cast<int>(got.alignment().kind()), static_cast<int>(o.alignment.kind))
        << o.id;
    if (o.alignment.kind == AlignmentKind::kNone) continue;
    ++links;
    EXPECT_EQ(got.alignment().parent_objective_id(),
              loaded->ids.at(o.alignment.parent_objective_id))
        << o.id;
    EXPECT_EQ(got.alignment().weight(), o.alignment.weight) << o.id;
    if (o.alignment.kind == AlignmentKind::kKeyResult) {
      EXPECT_EQ(got.alignment().parent_key_result_id(),
                loaded->ids.at(o.alignment.parent_key_result_id))
          << o.id;
    }
  }
  EXPECT_GT(links, objectives / 2);

  // The active quarter's alignment tree: its objectives plus their annual
  // ancestors, with their key results.
  const Cycle* quarter = nullptr;
  for (const Cycle& c : plan.cycles) {
    if (c.kind == CycleKind::kQuarterly && c.state == CycleState::kActive) quarter = &c;
  }
  ASSERT_NE(quarter, nullptr);
  if (objectives <= 9000) {
    v1::GetAlignmentTreeRequest request;
    request.set_cycle_id(loaded->active_cycle_id);
    v1::AlignmentTree tree;
    ASSERT_TRUE(Call(&v1::PlanningService::Stub::GetAlignmentTree, request, &tree).ok());
    int in_quarter = 0;
    for (const v1::Objective& o : tree.objectives()) {
      in_quarter += o.cycle_id() == loaded->active_cycle_id;
    }
    EXPECT_EQ(in_quarter, objectives);
    absl::flat_hash_set<std::string> tree_objectives;
    for (const v1::Objective& o : tree.objectives()) tree_objectives.insert(o.id());
    size_t krs = 0;
    for (size_t k = 0; k < plan.key_results.size(); ++k) {
      krs += tree_objectives.contains(loaded->ids.at(plan.key_results[k].objective_id));
    }
    EXPECT_EQ(static_cast<size_t>(tree.key_results_size()), krs);
  }

  // Key results: the real id of each ref is the same key result.
  for (size_t k = 0; k < plan.key_results.size(); k += 37) {
    v1::GetKeyResultRequest request;
    request.set_id(loaded->key_result_ids[k]);
    v1::KeyResult kr;
    ASSERT_TRUE(Call(&v1::PlanningService::Stub::GetKeyResult, request, &kr).ok());
    EXPECT_EQ(kr.title(), plan.key_results[k].title);
    EXPECT_EQ(kr.objective_id(), loaded->ids.at(plan.key_results[k].objective_id));
    EXPECT_EQ(kr.weight(), plan.key_results[k].weight);
  }

  // People and teams.
  v1::ListPeopleRequest people;
  people.set_page_size(1);
  v1::ListPeopleResponse people_page;
  ASSERT_TRUE(Call(&v1::PlanningService::Stub::ListPeople, people, &people_page).ok());
  EXPECT_EQ(people_page.total_size(), static_cast<int>(plan.people.size()));
  v1::ListTeamsRequest teams;
  teams.set_page_size(1);
  v1::ListTeamsResponse teams_page;
  ASSERT_TRUE(Call(&v1::PlanningService::Stub::ListTeams, teams, &teams_page).ok());
  EXPECT_EQ(teams_page.total_size(), static_cast<int>(plan.teams.size()));
  if (plan.key_results.size() > 10000) {
    bool aligned_across = false;
    for (const auto& [step, duration] : loaded->step_times) {
      aligned_across |= step.find("AlignObjective (0 ") == std::string::npos &&
                        step.find("AlignObjective") != std::string::npos;
    }
    EXPECT_TRUE(aligned_across);
  }
}

TEST_F(OrgLoaderTest, UnreachablePlanningIsUnavailable) {
  const Plan plan = GenerateOrg({.objectives = 5});
  absl::StatusOr<LoadedOrg> loaded = LoadOrg(plan, "127.0.0.1:1", 2, {});
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kUnavailable) << loaded.status();
}

TEST_F(OrgLoaderTest, SecondLoadOfTheSameOrganisationFails) {
  const Plan plan = GenerateOrg({.objectives = 5});
  ASSERT_TRUE(LoadOrg(plan, process_->address(), 2, {{"okr-organisation-id", kOrg}}).ok());
  const Plan other = GenerateOrg({.seed = 2, .objectives = 5});
  absl::StatusOr<LoadedOrg> again =
      LoadOrg(other, process_->address(), 2, {{"okr-organisation-id", kOrg}});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
}

}  // namespace
}  // namespace okr::bench
