// Tests of alignment and roll over (services/planning/planning_alignment.cc):
// the customer-success cascade of annual-planning-with-okrs.txt in both
// methods (Duality through CascadeKeyResult, Classic through AlignObjective),
// the sales department's annual objective and its first-quarter breakdown
// (annual-quarterly-breakdown.txt), the rules that keep the alignment graph a
// forest, the alignment tree, and roll over into the next cycle.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "okr/v1/planning.pb.h"
#include "services/planning/planning.h"
#include "tests/services/planning/planning_test_util.h"

namespace okr::planning {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The fields a status's violations name, in order.
std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

std::vector<Id> IdsOf(const std::vector<Objective>& objectives) {
  std::vector<Id> ids;
  for (const Objective& o : objectives) ids.push_back(o.id);
  return ids;
}

AlignmentTreeQuery InCycle(const Id& cycle_id) {
  AlignmentTreeQuery query;
  query.cycle_id = cycle_id;
  return query;
}

AlignmentTreeQuery Under(const Id& root_objective_id) {
  AlignmentTreeQuery query;
  query.root_objective_id = root_objective_id;
  return query;
}

BreakdownItem Part(const Id& cycle_id, const std::string& title,
                   const Id& owner_id = "",
                   ObjectiveKind kind = ObjectiveKind::kUnspecified) {
  BreakdownItem item;
  item.cycle_id = cycle_id;
  item.title = title;
  item.owner_id = owner_id;
  item.kind = kind;
  return item;
}

RollOverItem Roll(const Id& objective_id,
                  std::vector<Id> key_result_ids = {}) {
  RollOverItem item;
  item.objective_id = objective_id;
  item.key_result_ids = std::move(key_result_ids);
  return item;
}

class AlignmentTest : public PlanningTest {
 protected:
  AlignmentTest() {
    fy2027_ = MakeFiscalYear(2027);
    fy2028_ = MakeFiscalYear(2028);
    ceo_ = MakePerson("Ada Chief");
    jane_ = MakePerson("Jane Success");
    nick_ = MakePerson("Nick Success");
    customer_success_ = MakeTeam("Customer Success");
  }

  const Cycle& Q(int n) const { return fy2027_.quarters[n - 1]; }

  // The stored objective (or a default one after ADD_FAILURE).
  Objective Stored(const Id& id) {
    Objective out;
    absl::Status status = planning_->Read(kOrg, [&](const OrgState& state) {
      const Objective* o = state.FindObjective(id);
      if (o == nullptr) return absl::NotFoundError(id);
      out = *o;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  KeyResult StoredKeyResult(const Id& id) {
    KeyResult out;
    absl::Status status = planning_->Read(kOrg, [&](const OrgState& state) {
      const KeyResult* kr = state.FindKeyResult(id);
      if (kr == nullptr) return absl::NotFoundError(id);
      out = *kr;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  int ObjectiveCount() {
    int count = 0;
    EXPECT_TRUE(planning_
                    ->Read(kOrg,
                           [&](const OrgState& state) {
                             count = static_cast<int>(state.objectives().size());
                             return absl::OkStatus();
                           })
                    .ok());
    return count;
  }

  // Stores a changed resource through the core (no use-case rules).
  template <typename T>
  T Replace(T resource) {
    absl::Status status = planning_->Write(
        kOrg, [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
          StampUpdated(resource, ctx.now);
          m->puts.push_back(resource);
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return resource;
  }

  Cycle Close(Cycle cycle) {
    cycle.state = CycleState::kClosed;
    return Replace(cycle);
  }

  Objective Archive(Objective objective) {
    objective.state = ObjectiveState::kArchived;
    return Replace(objective);
  }

  // The fields of a cascaded objective a request gives.
  Objective ChildFields(const Id& owner_id, Level level, const Id& cycle_id,
                        const std::string& title = "") {
    Objective child;
    child.title = title;
    child.owner_id = owner_id;
    child.level = level;
    child.team_id = customer_success_.id;
    child.cycle_id = cycle_id;
    child.kind = ObjectiveKind::kCommitted;
    return child;
  }

  // Sequences of the change-feed entries about `id`, in feed order.
  std::vector<int64_t> FeedSequencesOf(const Id& id) {
    std::vector<int64_t> sequences;
    absl::StatusOr<Planning::ChangeBatch> batch =
        planning_->ListPlanChanges(kOrg, 0, 1000);
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) return sequences;
    for (const StoredChange& change : batch->changes) {
      if (change.id == id) sequences.push_back(change.sequence);
    }
    return sequences;
  }

  FiscalYear fy2027_;
  FiscalYear fy2028_;
  Person ceo_;
  Person jane_;
  Person nick_;
  Team customer_success_;
};

// --- Duality: the customer-success cascade -------------------------------------

TEST_F(AlignmentTest, DualityCascadeOfTheCustomerSuccessExample) {
  const Objective company = MakeObjective("Earn customer love and trust",
                                          fy2027_.year.id, ceo_.id);
  const KeyResult retention = MakeKeyResult(
      company.id, "Increase customer retention rate to 99%", 92, 99);

  // Jane inherits the company KR as her objective: title and cycle default
  // to the KR's and its objective's.
  absl::StatusOr<Objective> jane = planning_->CascadeKeyResult(
      kOrg, retention.id, ChildFields(jane_.id, Level::kTeam, ""), 0,
      RequestKey{});
  ASSERT_TRUE(jane.ok()) << jane.status();
  EXPECT_EQ(jane->title, "Increase customer retention rate to 99%");
  EXPECT_EQ(jane->cycle_id, fy2027_.year.id);
  EXPECT_EQ(jane->owner_id, jane_.id);
  EXPECT_EQ(jane->team_id, customer_success_.id);
  EXPECT_EQ(jane->level, Level::kTeam);
  EXPECT_EQ(jane->state, ObjectiveState::kDraft);
  EXPECT_EQ(jane->progress_source, ProgressSource::kKeyResults);
  EXPECT_EQ(jane->alignment.kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(jane->alignment.parent_objective_id, company.id);
  EXPECT_EQ(jane->alignment.parent_key_result_id, retention.id);
  EXPECT_EQ(jane->alignment.weight, 1.0);  // 0 means 1
  EXPECT_EQ(jane->version, 1);
  EXPECT_EQ(jane->create_time, now_);
  EXPECT_EQ(Stored(jane->id).alignment.parent_key_result_id, retention.id);

  // The company KR now measures Jane's objective.
  const KeyResult retention_after = StoredKeyResult(retention.id);
  EXPECT_TRUE(retention_after.progress_from_children);
  EXPECT_EQ(retention_after.version, retention.version + 1);

  // Jane's first KR becomes one of Nick's quarterly objectives, titled his way.
  const KeyResult plan = MakeKeyResult(
      jane->id,
      "Implement customer improvement plan for 100% of at-risk customers", 0,
      100);
  MakeKeyResult(jane->id, "Increase NPS score from 7 to 8.5", 7, 8.5);
  absl::StatusOr<Objective> nick = planning_->CascadeKeyResult(
      kOrg, plan.id,
      ChildFields(nick_.id, Level::kIndividual, Q(1).id,
                  "Implement customer improvement plan for 100% of all "
                  "at-risk customers"),
      2.5, RequestKey{});
  ASSERT_TRUE(nick.ok()) << nick.status();
  EXPECT_EQ(nick->title,
            "Implement customer improvement plan for 100% of all at-risk "
            "customers");
  EXPECT_EQ(nick->cycle_id, Q(1).id);
  EXPECT_EQ(nick->alignment.parent_objective_id, jane->id);
  EXPECT_EQ(nick->alignment.parent_key_result_id, plan.id);
  EXPECT_EQ(nick->alignment.weight, 2.5);
  MakeKeyResult(nick->id, "Reduce customer response time from 72 hours to 24",
                72, 24);

  // The first quarter's tree shows Nick's objective under its annual
  // ancestors, linked through the key results.
  absl::StatusOr<AlignmentTree> tree =
      planning_->GetAlignmentTree(kOrg, InCycle(Q(1).id));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives),
              ElementsAre(company.id, jane->id, nick->id));
  EXPECT_THAT(tree->root_objective_ids, ElementsAre(company.id));
  ASSERT_EQ(tree->links.size(), 2u);
  EXPECT_EQ(tree->links[0].child_objective_id, jane->id);
  EXPECT_EQ(tree->links[0].parent_objective_id, company.id);
  EXPECT_EQ(tree->links[0].parent_key_result_id, retention.id);
  EXPECT_EQ(tree->links[0].kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(tree->links[1].child_objective_id, nick->id);
  EXPECT_EQ(tree->links[1].parent_key_result_id, plan.id);
  EXPECT_EQ(tree->links[1].weight, 2.5);
  EXPECT_EQ(tree->key_results.size(), 4u);
}

TEST_F(AlignmentTest, CascadeSetsProgressFromChildrenOnlyForTheFirstChild) {
  const Objective company =
      MakeObjective("Earn customer love and trust", fy2027_.year.id, ceo_.id);
  KeyResult kr = MakeKeyResult(company.id, "Increase retention to 99%", 92, 99);
  ASSERT_TRUE(planning_
                  ->CascadeKeyResult(kOrg, kr.id,
                                     ChildFields(jane_.id, Level::kTeam, ""), 1,
                                     RequestKey{})
                  .ok());
  // The owner switches the rollup off; another cascade leaves it off.
  kr = StoredKeyResult(kr.id);
  kr.progress_from_children = false;
  kr = Replace(kr);
  ASSERT_TRUE(planning_
                  ->CascadeKeyResult(kOrg, kr.id,
                                     ChildFields(nick_.id, Level::kTeam, ""), 1,
                                     RequestKey{})
                  .ok());
  const KeyResult after = StoredKeyResult(kr.id);
  EXPECT_FALSE(after.progress_from_children);
  EXPECT_EQ(after.version, kr.version);
}

TEST_F(AlignmentTest, CascadeIsIdempotentByRequestId) {
  const Objective company =
      MakeObjective("Earn customer love and trust", fy2027_.year.id, ceo_.id);
  const KeyResult kr =
      MakeKeyResult(company.id, "Increase retention to 99%", 92, 99);
  const RequestKey key{.request_id = "cascade-1", .fingerprint = "a"};
  absl::StatusOr<Objective> first = planning_->CascadeKeyResult(
      kOrg, kr.id, ChildFields(jane_.id, Level::kTeam, ""), 1, key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  const int objectives = ObjectiveCount();

  absl::StatusOr<Objective> again = planning_->CascadeKeyResult(
      kOrg, kr.id, ChildFields(jane_.id, Level::kTeam, ""), 1, key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(), objectives);

  absl::StatusOr<Objective> other = planning_->CascadeKeyResult(
      kOrg, kr.id, ChildFields(nick_.id, Level::kTeam, ""), 1,
      RequestKey{.request_id = "cascade-1", .fingerprint = "b"});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(FieldsOf(other.status()), ElementsAre("request_id"));
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(AlignmentTest, CascadeRefusesBadRequestsAndStoresNothing) {
  const Objective company =
      MakeObjective("Earn customer love and trust", Q(1).id, ceo_.id);
  const KeyResult kr =
      MakeKeyResult(company.id, "Increase retention to 99%", 92, 99);
  KeyResult archived_kr = MakeKeyResult(company.id, "Old KR", 1, 2);
  archived_kr.archived = true;
  archived_kr = Replace(archived_kr);
  const Cycle closed = Close(Q(2));
  const int commits = store_.commits();
  const int objectives = ObjectiveCount();
  auto cascade = [&](const Id& kr_id, Objective child, double weight = 1) {
    return planning_
        ->CascadeKeyResult(kOrg, kr_id, std::move(child), weight, RequestKey{})
        .status();
  };
  const Objective good = ChildFields(jane_.id, Level::kTeam, "");

  absl::Status s = cascade("kr-missing", good);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("key_result_id"));

  s = cascade("", good);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("key_result_id"));

  for (double weight : {-1.0, 1000.5, std::nan(""),
                        std::numeric_limits<double>::infinity()}) {
    s = cascade(kr.id, good, weight);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << weight;
    EXPECT_THAT(FieldsOf(s), ElementsAre("weight"));
  }

  Objective no_level = good;
  no_level.level = Level::kUnspecified;
  no_level.title = std::string(201, 'x');
  s = cascade(kr.id, no_level);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s),
              UnorderedElementsAre("objective.title", "objective.level"));

  s = cascade(archived_kr.id, good);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("key_result_id"));

  Objective in_closed = good;
  in_closed.cycle_id = closed.id;
  s = cascade(kr.id, in_closed);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective.cycle_id"));
  EXPECT_THAT(s.message(), HasSubstr("CLOSED"));

  Objective unknown = good;
  unknown.owner_id = "person-missing";
  s = cascade(kr.id, unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective.owner_id"));
  unknown = good;
  unknown.team_id = "team-missing";
  s = cascade(kr.id, unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective.team_id"));
  unknown = good;
  unknown.cycle_id = "cycle-missing";
  s = cascade(kr.id, unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective.cycle_id"));

  // The KR's objective is quarterly: an annual child would align upwards in
  // time the wrong way.
  Objective annual = good;
  annual.cycle_id = fy2027_.year.id;
  s = cascade(kr.id, annual);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective.cycle_id"));
  EXPECT_THAT(s.message(), HasSubstr("never the reverse"));

  Archive(company);
  const int commits_after_archive = store_.commits();
  s = cascade(kr.id, good);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("archived"));

  EXPECT_EQ(store_.commits(), commits_after_archive);
  EXPECT_EQ(commits_after_archive, commits + 1);
  EXPECT_EQ(ObjectiveCount(), objectives);
}

// --- Classic: the customer-success example -----------------------------------------

TEST_F(AlignmentTest, ClassicAlignmentOfTheCustomerSuccessExample) {
  const Objective company =
      MakeObjective("Earn customer love and trust", fy2027_.year.id, ceo_.id);
  MakeKeyResult(company.id, "Maintain an NPS score greater than 8", 7, 8);
  const Objective jane =
      MakeObjective("Increase customer satisfaction", Q(1).id, jane_.id,
                    Level::kTeam, customer_success_.id);
  const Objective nick = MakeObjective(">4.5 CSAT score on implementations",
                                       Q(1).id, nick_.id, Level::kIndividual);

  absl::StatusOr<Objective> aligned =
      planning_->AlignObjective(kOrg, jane.id, company.id, 2, jane.version);
  ASSERT_TRUE(aligned.ok()) << aligned.status();
  EXPECT_EQ(aligned->alignment.kind, AlignmentKind::kObjective);
  EXPECT_EQ(aligned->alignment.parent_objective_id, company.id);
  EXPECT_TRUE(aligned->alignment.parent_key_result_id.empty());
  EXPECT_EQ(aligned->alignment.weight, 2.0);
  EXPECT_EQ(aligned->version, jane.version + 1);
  EXPECT_EQ(Stored(jane.id).alignment.parent_objective_id, company.id);

  absl::StatusOr<Objective> nick_aligned =
      planning_->AlignObjective(kOrg, nick.id, jane.id, 0, nick.version);
  ASSERT_TRUE(nick_aligned.ok()) << nick_aligned.status();
  EXPECT_EQ(nick_aligned->alignment.weight, 1.0);  // 0 means 1

  // Asking again for the same link stores nothing.
  const int commits = store_.commits();
  absl::StatusOr<Objective> same = planning_->AlignObjective(
      kOrg, nick.id, jane.id, 1, nick_aligned->version);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->version, nick_aligned->version);
  EXPECT_EQ(store_.commits(), commits);

  absl::StatusOr<AlignmentTree> tree = planning_->GetAlignmentTree(kOrg, {});
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives),
              ElementsAre(company.id, jane.id, nick.id));
  ASSERT_EQ(tree->links.size(), 2u);
  EXPECT_EQ(tree->links[0].kind, AlignmentKind::kObjective);
  EXPECT_EQ(tree->links[0].weight, 2.0);
  EXPECT_TRUE(tree->links[0].parent_key_result_id.empty());
  EXPECT_EQ(tree->links[1].child_objective_id, nick.id);
  EXPECT_EQ(tree->links[1].parent_objective_id, jane.id);
}

TEST_F(AlignmentTest, AlignReplacesADualityLink) {
  const Objective company =
      MakeObjective("Earn customer love and trust", fy2027_.year.id, ceo_.id);
  const KeyResult kr =
      MakeKeyResult(company.id, "Increase retention to 99%", 92, 99);
  const Objective other =
      MakeObjective("Grow the community", fy2027_.year.id, ceo_.id);
  absl::StatusOr<Objective> child = planning_->CascadeKeyResult(
      kOrg, kr.id, ChildFields(jane_.id, Level::kTeam, Q(1).id), 1,
      RequestKey{});
  ASSERT_TRUE(child.ok()) << child.status();

  absl::StatusOr<Objective> moved =
      planning_->AlignObjective(kOrg, child->id, other.id, 1, child->version);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->alignment.kind, AlignmentKind::kObjective);
  EXPECT_EQ(moved->alignment.parent_objective_id, other.id);
  EXPECT_TRUE(moved->alignment.parent_key_result_id.empty());
  absl::Status read = planning_->Read(kOrg, [&](const OrgState& state) {
    EXPECT_THAT(state.CascadedFrom(kr.id), IsEmpty());
    EXPECT_EQ(state.ChildrenOf(other.id).size(), 1u);
    return absl::OkStatus();
  });
  EXPECT_TRUE(read.ok()) << read;
}

TEST_F(AlignmentTest, AlignRefusesLoops) {
  const Objective a = MakeObjective("A", Q(1).id, ceo_.id);
  const Objective b = MakeObjective("B", Q(1).id, jane_.id, Level::kTeam);
  const Objective c = MakeObjective("C", Q(1).id, nick_.id, Level::kTeam);
  ASSERT_TRUE(planning_->AlignObjective(kOrg, b.id, a.id, 1, b.version).ok());
  ASSERT_TRUE(planning_->AlignObjective(kOrg, c.id, b.id, 1, c.version).ok());
  const int commits = store_.commits();

  absl::Status loop =
      planning_->AlignObjective(kOrg, a.id, c.id, 1, a.version).status();
  EXPECT_EQ(loop.code(), absl::StatusCode::kFailedPrecondition) << loop;
  EXPECT_THAT(FieldsOf(loop), ElementsAre("parent_objective_id"));
  EXPECT_THAT(loop.message(), HasSubstr("loop"));
  EXPECT_THAT(loop.message(), HasSubstr(b.id));

  absl::Status self =
      planning_->AlignObjective(kOrg, a.id, a.id, 1, a.version).status();
  EXPECT_EQ(self.code(), absl::StatusCode::kInvalidArgument) << self;
  EXPECT_THAT(FieldsOf(self), ElementsAre("parent_objective_id"));

  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(Stored(a.id).alignment.kind, AlignmentKind::kNone);
}

TEST_F(AlignmentTest, AnnualObjectivesNeverAlignToQuarterlyOnes) {
  const Objective annual =
      MakeObjective("Improve the sales department", fy2027_.year.id, ceo_.id);
  const Objective q1 = MakeObjective("Train the sales team", Q(1).id, jane_.id,
                                     Level::kTeam);
  const Objective q2 = MakeObjective("Recruit sales elites", Q(2).id, jane_.id,
                                     Level::kTeam);
  const Objective next_year =
      MakeObjective("Next year's goal", fy2028_.year.id, ceo_.id);
  const int commits = store_.commits();

  absl::Status s =
      planning_->AlignObjective(kOrg, annual.id, q1.id, 1, annual.version)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("parent_objective_id"));
  EXPECT_THAT(s.message(), HasSubstr("never the reverse"));

  // A parent in a later (or another) cycle is no enclosing parent either.
  s = planning_->AlignObjective(kOrg, q1.id, next_year.id, 1, q1.version)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  s = planning_->AlignObjective(kOrg, q1.id, q2.id, 1, q1.version).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(store_.commits(), commits);

  // The right way round is fine.
  EXPECT_TRUE(
      planning_->AlignObjective(kOrg, q1.id, annual.id, 1, q1.version).ok());
}

TEST_F(AlignmentTest, AlignErrors) {
  const Objective parent = MakeObjective("Parent", fy2027_.year.id, ceo_.id);
  const Objective child =
      MakeObjective("Child", Q(1).id, jane_.id, Level::kTeam);
  const Objective old = Archive(MakeObjective("Old", fy2027_.year.id, ceo_.id));
  const int commits = store_.commits();

  absl::Status s =
      planning_->AlignObjective(kOrg, "obj-missing", parent.id, 1, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective_id"));
  s = planning_->AlignObjective(kOrg, child.id, "obj-missing", 1, child.version)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("parent_objective_id"));

  s = planning_->AlignObjective(kOrg, child.id, parent.id, 1, child.version + 1)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  s = planning_->AlignObjective(kOrg, child.id, parent.id, 1, 0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("version"));

  for (double weight : {-0.5, 1001.0, std::nan("")}) {
    s = planning_->AlignObjective(kOrg, child.id, parent.id, weight,
                                  child.version)
            .status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << weight;
    EXPECT_THAT(FieldsOf(s), ElementsAre("weight"));
  }
  s = planning_->AlignObjective(kOrg, "", "", 1, child.version).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s),
              ElementsAre("objective_id", "parent_objective_id"));

  s = planning_->AlignObjective(kOrg, child.id, old.id, 1, child.version)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("parent_objective_id"));
  EXPECT_THAT(s.message(), HasSubstr("archived"));

  s = planning_->AlignObjective("nowhere", child.id, parent.id, 1, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(AlignmentTest, UnalignMakesARoot) {
  const Objective parent = MakeObjective("Parent", fy2027_.year.id, ceo_.id);
  const Objective child =
      MakeObjective("Child", Q(1).id, jane_.id, Level::kTeam);
  absl::StatusOr<Objective> aligned =
      planning_->AlignObjective(kOrg, child.id, parent.id, 3, child.version);
  ASSERT_TRUE(aligned.ok()) << aligned.status();

  absl::Status stale =
      planning_->UnalignObjective(kOrg, child.id, child.version).status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << stale;
  absl::Status missing =
      planning_->UnalignObjective(kOrg, "obj-missing", 1).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(FieldsOf(missing), ElementsAre("objective_id"));

  absl::StatusOr<Objective> root =
      planning_->UnalignObjective(kOrg, child.id, aligned->version);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->alignment.kind, AlignmentKind::kNone);
  EXPECT_TRUE(root->alignment.parent_objective_id.empty());
  EXPECT_EQ(root->version, aligned->version + 1);
  EXPECT_EQ(Stored(child.id).alignment.kind, AlignmentKind::kNone);

  // Already a root: nothing to store.
  const int commits = store_.commits();
  absl::StatusOr<Objective> again =
      planning_->UnalignObjective(kOrg, child.id, root->version);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version, root->version);
  EXPECT_EQ(store_.commits(), commits);
}

// --- Breakdown: the sales department's year --------------------------------------

class BreakdownTest : public AlignmentTest {
 protected:
  BreakdownTest() {
    sales_ = MakeTeam("Sales");
    Objective annual = MakeObjective(
        "Significantly improve the performance level of the sales department",
        fy2027_.year.id, jane_.id, Level::kTeam, sales_.id);
    annual.category = Category::kProfit;
    annual.kind = ObjectiveKind::kAspirational;
    annual_ = Replace(annual);
    MakeKeyResult(annual_.id, "Conversion rate of sales transactions +15%", 0,
                  15);
    MakeKeyResult(annual_.id, "Average customer unit price +30%", 0, 30);
    MakeKeyResult(annual_.id, "Win 10 major customers of 10 million", 0, 10);
    MakeKeyResult(annual_.id, "Recruit 50 outstanding sales elites", 0, 50);
    MakeKeyResult(annual_.id, "Annual cumulative performance over 50 million",
                  0, 50);
  }

  // The first quarter's priorities agreed in the document.
  std::vector<BreakdownItem> FirstQuarter() const {
    return {
        Part(Q(1).id, "Improve the business ability of the sales team"),
        Part(Q(1).id, "Build benchmark customers in five industries",
             nick_.id),
        Part(Q(1).id, "Recruit at least 30 outstanding sales elites", "",
             ObjectiveKind::kCommitted),
    };
  }

  Team sales_;
  Objective annual_;
};

TEST_F(BreakdownTest, TheSalesYearBrokenIntoTheFirstQuarter) {
  absl::StatusOr<std::vector<Objective>> quarter = planning_->BreakDownObjective(
      kOrg, annual_.id, FirstQuarter(), /*align=*/true, RequestKey{});
  ASSERT_TRUE(quarter.ok()) << quarter.status();
  ASSERT_EQ(quarter->size(), 3u);
  const std::vector<BreakdownItem> items = FirstQuarter();
  for (int i = 0; i < 3; ++i) {
    const Objective& o = (*quarter)[i];
    SCOPED_TRACE(o.title);
    EXPECT_EQ(o.title, items[i].title);
    EXPECT_EQ(o.priority, i + 1);
    EXPECT_EQ(o.cycle_id, Q(1).id);
    EXPECT_EQ(o.breakdown_of_objective_id, annual_.id);
    EXPECT_EQ(o.level, Level::kTeam);
    EXPECT_EQ(o.team_id, sales_.id);
    EXPECT_EQ(o.category, Category::kProfit);
    EXPECT_EQ(o.state, ObjectiveState::kDraft);
    EXPECT_EQ(o.alignment.kind, AlignmentKind::kObjective);
    EXPECT_EQ(o.alignment.parent_objective_id, annual_.id);
    EXPECT_EQ(o.alignment.weight, 1.0);
    EXPECT_EQ(Stored(o.id).breakdown_of_objective_id, annual_.id);
  }
  EXPECT_EQ((*quarter)[0].owner_id, jane_.id);  // the annual objective's
  EXPECT_EQ((*quarter)[1].owner_id, nick_.id);
  EXPECT_EQ((*quarter)[0].kind, ObjectiveKind::kAspirational);  // inherited
  EXPECT_EQ((*quarter)[2].kind, ObjectiveKind::kCommitted);

  absl::Status read = planning_->Read(kOrg, [&](const OrgState& state) {
    std::vector<Id> ids;
    for (const Objective* o : state.BreakdownsOf(annual_.id)) {
      ids.push_back(o->id);
    }
    EXPECT_THAT(ids, UnorderedElementsAre((*quarter)[0].id, (*quarter)[1].id,
                                          (*quarter)[2].id));
    return absl::OkStatus();
  });
  EXPECT_TRUE(read.ok()) << read;

  // The quarter's tree: the annual objective, then its breakdowns in
  // priority order.
  absl::StatusOr<AlignmentTree> tree = planning_->GetAlignmentTree(
      kOrg, [&] {
        AlignmentTreeQuery q = InCycle(Q(1).id);
        q.exclude_key_results = true;
        return q;
      }());
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives),
              ElementsAre(annual_.id, (*quarter)[0].id, (*quarter)[1].id,
                          (*quarter)[2].id));
  EXPECT_THAT(tree->key_results, IsEmpty());
  EXPECT_EQ(tree->links.size(), 3u);
}

TEST_F(BreakdownTest, WithoutAlignTheBreakdownsAreRoots) {
  absl::StatusOr<std::vector<Objective>> quarter = planning_->BreakDownObjective(
      kOrg, annual_.id, FirstQuarter(), /*align=*/false, RequestKey{});
  ASSERT_TRUE(quarter.ok()) << quarter.status();
  for (const Objective& o : *quarter) {
    EXPECT_EQ(o.alignment.kind, AlignmentKind::kNone);
    EXPECT_EQ(o.breakdown_of_objective_id, annual_.id);
  }
}

TEST_F(BreakdownTest, IsIdempotentByRequestId) {
  const RequestKey key{.request_id = "q1-breakdown", .fingerprint = "f"};
  absl::StatusOr<std::vector<Objective>> first = planning_->BreakDownObjective(
      kOrg, annual_.id, FirstQuarter(), true, key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<std::vector<Objective>> again = planning_->BreakDownObjective(
      kOrg, annual_.id, FirstQuarter(), true, key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(IdsOf(*again), IdsOf(*first));
  EXPECT_EQ(store_.commits(), commits);

  absl::Status other =
      planning_
          ->BreakDownObjective(kOrg, annual_.id, FirstQuarter(), false,
                               RequestKey{.request_id = "q1-breakdown",
                                          .fingerprint = "g"})
          .status();
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
}

TEST_F(BreakdownTest, RefusesBadItemsAllOrNothing) {
  const int commits = store_.commits();
  const int objectives = ObjectiveCount();
  auto breakdown = [&](const std::vector<BreakdownItem>& items,
                       const Id& objective_id = "") {
    return planning_
        ->BreakDownObjective(kOrg,
                             objective_id.empty() ? annual_.id : objective_id,
                             items, true, RequestKey{})
        .status();
  };

  absl::Status s = breakdown({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items"));
  s = breakdown(std::vector<BreakdownItem>(
      13, Part(Q(1).id, "Too many")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items"));

  std::vector<BreakdownItem> items = FirstQuarter();
  items[1].title = "";
  items[2].cycle_id = "";
  s = breakdown(items);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s),
              UnorderedElementsAre("items[1].title", "items[2].cycle_id"));

  items = FirstQuarter();
  items[2].cycle_id = fy2028_.quarters[0].id;  // a quarter of another year
  s = breakdown(items);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[2].cycle_id"));
  EXPECT_THAT(s.message(), HasSubstr("FY2027-Q1"));  // the choices

  items = FirstQuarter();
  items[0].cycle_id = fy2027_.year.id;  // the year itself
  s = breakdown(items);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[0].cycle_id"));

  items = FirstQuarter();
  items[1].cycle_id = "cycle-missing";
  s = breakdown(items);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[1].cycle_id"));

  items = FirstQuarter();
  items[2].owner_id = "person-missing";
  s = breakdown(items);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[2].owner_id"));

  s = breakdown(FirstQuarter(), "obj-missing");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("objective_id"));

  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(), objectives);

  // A quarterly objective has no quarters to break into.
  const Objective quarterly = MakeObjective("Quarterly", Q(1).id, jane_.id);
  s = breakdown({Part(Q(1).id, "Same quarter")}, quarterly.id);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("no child cycles"));
}

TEST_F(BreakdownTest, KeepsTheOwnersObjectiveLimit) {
  for (int i = 0; i < kMaxObjectivesPerOwnerCycle - 1; ++i) {
    MakeObjective(absl::StrCat("Existing ", i), Q(1).id, jane_.id);
  }
  const int commits = store_.commits();
  // Items 0 and 2 fall to Jane (the annual objective's owner): item 0 takes
  // her to the limit, item 2 would be one too many.
  absl::Status s = planning_
                       ->BreakDownObjective(kOrg, annual_.id, FirstQuarter(),
                                            true, RequestKey{})
                       .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[2].owner_id"));
  EXPECT_EQ(store_.commits(), commits);
}

// --- The alignment tree ----------------------------------------------------------

TEST_F(AlignmentTest, TreeOrdersRootsByPriorityThenIdAndChildrenAfterParents) {
  // Roots: two ranked ones out of id order and one unranked.
  Objective unranked = MakeObjective("Unranked", fy2027_.year.id, ceo_.id);
  Objective second = MakeObjective("Second", fy2027_.year.id, ceo_.id);
  second.priority = 2;
  second = Replace(second);
  Objective first = MakeObjective("First", fy2027_.year.id, ceo_.id);
  first.priority = 1;
  first = Replace(first);
  Objective child_b = MakeObjective("Child B", Q(1).id, jane_.id, Level::kTeam);
  Objective child_a = MakeObjective("Child A", Q(1).id, nick_.id, Level::kTeam);
  child_a.priority = 1;
  child_a = Replace(child_a);
  Objective grandchild =
      MakeObjective("Grandchild", Q(1).id, nick_.id, Level::kIndividual);
  ASSERT_TRUE(planning_
                  ->AlignObjective(kOrg, child_b.id, second.id, 1,
                                   child_b.version)
                  .ok());
  ASSERT_TRUE(planning_
                  ->AlignObjective(kOrg, child_a.id, second.id, 1,
                                   child_a.version)
                  .ok());
  ASSERT_TRUE(planning_
                  ->AlignObjective(kOrg, grandchild.id, child_b.id, 1,
                                   grandchild.version)
                  .ok());

  absl::StatusOr<AlignmentTree> tree = planning_->GetAlignmentTree(kOrg, {});
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives),
              ElementsAre(first.id, second.id, unranked.id, child_a.id,
                          child_b.id, grandchild.id));
  EXPECT_THAT(tree->root_objective_ids,
              ElementsAre(first.id, second.id, unranked.id));
  ASSERT_EQ(tree->links.size(), 3u);
  EXPECT_EQ(tree->links[0].child_objective_id, child_a.id);
  EXPECT_EQ(tree->links[1].child_objective_id, child_b.id);
  EXPECT_EQ(tree->links[2].child_objective_id, grandchild.id);
  EXPECT_EQ(tree->links[2].parent_objective_id, child_b.id);

  absl::StatusOr<Planning::ChangeBatch> feed =
      planning_->ListPlanChanges(kOrg, 0, 1);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(tree->sequence, feed->latest_sequence);

  // One subtree.
  tree = planning_->GetAlignmentTree(kOrg, Under(child_b.id));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives), ElementsAre(child_b.id, grandchild.id));
  EXPECT_THAT(tree->root_objective_ids, ElementsAre(child_b.id));
  ASSERT_EQ(tree->links.size(), 1u);  // not the link to `second`
  EXPECT_EQ(tree->links[0].child_objective_id, grandchild.id);

  // A quarter without these objectives has an empty tree.
  tree = planning_->GetAlignmentTree(kOrg, InCycle(Q(2).id));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(tree->objectives, IsEmpty());
}

TEST_F(AlignmentTest, TreeLeavesOutArchivedObjectivesUnlessAsked) {
  const Objective parent = MakeObjective("Parent", fy2027_.year.id, ceo_.id);
  const Objective child =
      MakeObjective("Child", Q(1).id, jane_.id, Level::kTeam);
  KeyResult archived_kr = MakeKeyResult(child.id, "Archived KR", 1, 2);
  archived_kr.archived = true;
  Replace(archived_kr);
  const KeyResult live_kr = MakeKeyResult(child.id, "Live KR", 1, 2);
  ASSERT_TRUE(
      planning_->AlignObjective(kOrg, child.id, parent.id, 1, child.version)
          .ok());
  Archive(Stored(parent.id));

  // The child's parent is archived: the child is a root of the quarter.
  absl::StatusOr<AlignmentTree> tree =
      planning_->GetAlignmentTree(kOrg, InCycle(Q(1).id));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives), ElementsAre(child.id));
  EXPECT_THAT(tree->root_objective_ids, ElementsAre(child.id));
  EXPECT_THAT(tree->links, IsEmpty());
  ASSERT_EQ(tree->key_results.size(), 1u);
  EXPECT_EQ(tree->key_results[0].id, live_kr.id);

  tree = planning_->GetAlignmentTree(
      kOrg, [&] {
        AlignmentTreeQuery q = InCycle(Q(1).id);
        q.include_archived = true;
        return q;
      }());
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives), ElementsAre(parent.id, child.id));
  EXPECT_EQ(tree->links.size(), 1u);
  EXPECT_EQ(tree->key_results.size(), 2u);
}

TEST_F(AlignmentTest, TreeErrors) {
  absl::Status s =
      planning_->GetAlignmentTree(kOrg, InCycle("cycle-missing")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("cycle_id"));
  s = planning_->GetAlignmentTree(kOrg, Under("obj-missing"))
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("root_objective_id"));
  s = planning_->GetAlignmentTree(kOrg, InCycle("bad id!")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  s = planning_->GetAlignmentTree("nowhere", {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

TEST_F(AlignmentTest, TreeRefusesMoreThanTheLimit) {
  // One commit of kMaxTreeObjectives + 1 objectives (through the core).
  absl::Status put = planning_->Write(
      kOrg, [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
        for (int i = 0; i <= kMaxTreeObjectives; ++i) {
          Objective o;
          o.id = absl::StrCat("obj-", i);
          o.organisation_id = kOrg;
          o.title = absl::StrCat("Objective ", i);
          o.level = Level::kTeam;
          o.cycle_id = Q(1).id;
          o.kind = ObjectiveKind::kCommitted;
          StampCreated(o, ctx.now);
          m->puts.push_back(o);
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(put.ok()) << put;
  absl::Status s = planning_->GetAlignmentTree(kOrg, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("root_objective_id"));
  // Narrowed to one root it answers.
  absl::StatusOr<AlignmentTree> one =
      planning_->GetAlignmentTree(kOrg, Under("obj-7"));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->objectives.size(), 1u);
}

// --- Roll over -------------------------------------------------------------------

class RollOverTest : public AlignmentTest {
 protected:
  RollOverTest() {
    annual_ = MakeObjective("Earn customer love and trust", fy2027_.year.id,
                            ceo_.id);
    q1_parent_ = MakeObjective("Increase customer satisfaction", Q(1).id,
                               jane_.id, Level::kTeam, customer_success_.id);
    // Key results keep their creation order: let the clock tick.
    now_ += absl::Seconds(1);
    drivers_ = MakeKeyResult(q1_parent_.id,
                             "Identify top 3 drivers causing friction", 0, 3);
    now_ += absl::Seconds(1);
    response_ = MakeKeyResult(q1_parent_.id,
                              "Reduce customer response time to 24 hours", 72,
                              24);
    KeyResult old = MakeKeyResult(q1_parent_.id, "Resolve 90% open cases", 0,
                                  90);
    old.archived = true;
    archived_ = Replace(old);
    q1_child_ = MakeObjective(">4.5 CSAT score on implementations", Q(1).id,
                              nick_.id, Level::kIndividual);
    csat_ = MakeKeyResult(q1_child_.id, "Deploy the new onboarding process", 0,
                          100);
    Align(q1_parent_, annual_.id);
    Align(q1_child_, q1_parent_.id);
  }

  void Align(Objective& child, const Id& parent_id) {
    absl::StatusOr<Objective> aligned = planning_->AlignObjective(
        kOrg, child.id, parent_id, 1.5, child.version);
    ASSERT_TRUE(aligned.ok()) << aligned.status();
    child = *aligned;
  }

  Objective annual_;
  Objective q1_parent_;
  Objective q1_child_;
  KeyResult drivers_;
  KeyResult response_;
  KeyResult archived_;
  KeyResult csat_;
};

TEST_F(RollOverTest, CopiesIntoTheNextQuarterKeepingValidLinks) {
  // The child first: the feed must still store its parent's copy first.
  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, Q(2).id,
      {Roll(q1_child_.id), Roll(q1_parent_.id)},
      /*keep_alignment=*/true, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  ASSERT_EQ(rolled->objectives.size(), 2u);
  const Objective& child = rolled->objectives[0];
  const Objective& parent = rolled->objectives[1];
  EXPECT_EQ(child.rolled_over_from_id, q1_child_.id);
  EXPECT_EQ(parent.rolled_over_from_id, q1_parent_.id);
  for (const Objective& o : rolled->objectives) {
    EXPECT_EQ(o.cycle_id, Q(2).id);
    EXPECT_EQ(o.state, ObjectiveState::kDraft);
    EXPECT_EQ(o.version, 1);
    EXPECT_EQ(Stored(o.id).rolled_over_from_id, o.rolled_over_from_id);
  }
  EXPECT_EQ(child.title, q1_child_.title);
  EXPECT_EQ(child.owner_id, nick_.id);
  // The copied child follows the copied parent; the parent stays under the
  // annual objective, which encloses Q2 too.
  EXPECT_EQ(child.alignment.kind, AlignmentKind::kObjective);
  EXPECT_EQ(child.alignment.parent_objective_id, parent.id);
  EXPECT_EQ(child.alignment.weight, 1.5);
  EXPECT_EQ(parent.alignment.parent_objective_id, annual_.id);

  // Non-archived key results, in the order of the item's objectives.
  ASSERT_EQ(rolled->key_results.size(), 3u);
  EXPECT_EQ(rolled->key_results[0].rolled_over_from_id, csat_.id);
  EXPECT_EQ(rolled->key_results[0].objective_id, child.id);
  EXPECT_EQ(rolled->key_results[1].rolled_over_from_id, drivers_.id);
  EXPECT_EQ(rolled->key_results[2].rolled_over_from_id, response_.id);
  EXPECT_EQ(rolled->key_results[2].objective_id, parent.id);
  EXPECT_EQ(rolled->key_results[2].from, 72);
  EXPECT_EQ(rolled->key_results[2].to, 24);

  const std::vector<int64_t> parent_feed = FeedSequencesOf(parent.id);
  const std::vector<int64_t> child_feed = FeedSequencesOf(child.id);
  ASSERT_EQ(parent_feed.size(), 1u);
  ASSERT_EQ(child_feed.size(), 1u);
  EXPECT_LT(parent_feed[0], child_feed[0]);

  // The originals are untouched.
  EXPECT_EQ(Stored(q1_child_.id).version, q1_child_.version);
  EXPECT_EQ(Stored(q1_child_.id).cycle_id, Q(1).id);
}

TEST_F(RollOverTest, ParentsOutOfScopeMakeRoots) {
  // Only the child rolls over: its Q1 parent does not enclose Q2.
  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, Q(2).id, {Roll(q1_child_.id)}, true, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->objectives[0].alignment.kind, AlignmentKind::kNone);

  // Without keep_alignment even the annual parent is dropped.
  rolled = planning_->RollOverObjectives(
      kOrg, Q(3).id, {Roll(q1_parent_.id)}, false, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->objectives[0].alignment.kind, AlignmentKind::kNone);

  // Into next year, FY2027's annual objective no longer encloses the cycle.
  rolled = planning_->RollOverObjectives(
      kOrg, fy2028_.quarters[0].id, {Roll(q1_parent_.id)}, true,
      RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->objectives[0].alignment.kind, AlignmentKind::kNone);
}

TEST_F(RollOverTest, CopiesChosenKeyResultsAndDualityLinks) {
  const Objective company =
      MakeObjective("Earn customer love and trust 2", Q(1).id, ceo_.id);
  const KeyResult retention =
      MakeKeyResult(company.id, "Increase retention to 99%", 92, 99);
  const KeyResult other = MakeKeyResult(company.id, "Other", 1, 2);
  absl::StatusOr<Objective> cascaded = planning_->CascadeKeyResult(
      kOrg, retention.id, ChildFields(jane_.id, Level::kTeam, Q(1).id), 2,
      RequestKey{});
  ASSERT_TRUE(cascaded.ok()) << cascaded.status();

  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, Q(2).id,
      {Roll(cascaded->id),
       Roll(company.id, {retention.id})},
      true, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  ASSERT_EQ(rolled->key_results.size(), 1u);  // `other` was not chosen
  const KeyResult& retention_copy = rolled->key_results[0];
  EXPECT_EQ(retention_copy.rolled_over_from_id, retention.id);
  EXPECT_TRUE(retention_copy.progress_from_children);
  const Objective& child = rolled->objectives[0];
  EXPECT_EQ(child.alignment.kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(child.alignment.parent_key_result_id, retention_copy.id);
  EXPECT_EQ(child.alignment.parent_objective_id, rolled->objectives[1].id);
  EXPECT_EQ(child.alignment.weight, 2.0);
  (void)other;
}

TEST_F(RollOverTest, IsIdempotentByRequestId) {
  const RequestKey key{.request_id = "roll-q2", .fingerprint = "x"};
  absl::StatusOr<RollOverResult> first = planning_->RollOverObjectives(
      kOrg, Q(2).id, {Roll(q1_parent_.id)}, true, key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  const int objectives = ObjectiveCount();
  absl::StatusOr<RollOverResult> again = planning_->RollOverObjectives(
      kOrg, Q(2).id, {Roll(q1_parent_.id)}, true, key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(IdsOf(again->objectives), IdsOf(first->objectives));
  ASSERT_EQ(again->key_results.size(), first->key_results.size());
  EXPECT_EQ(again->key_results[1].id, first->key_results[1].id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(), objectives);

  absl::Status other =
      planning_
          ->RollOverObjectives(kOrg, Q(3).id, {Roll(q1_parent_.id)},
                               true,
                               RequestKey{.request_id = "roll-q2",
                                          .fingerprint = "y"})
          .status();
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
}

TEST_F(RollOverTest, RefusesBadRequestsAndStoresNothing) {
  const Cycle closed = Close(Q(4));
  const int commits = store_.commits();
  const int objectives = ObjectiveCount();
  auto roll = [&](const Id& target, std::vector<RollOverItem> items) {
    return planning_->RollOverObjectives(kOrg, target, items, true,
                                         RequestKey{})
        .status();
  };

  absl::Status s = roll(Q(2).id, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items"));
  std::vector<RollOverItem> many;
  for (int i = 0; i < 101; ++i) {
    many.push_back(Roll(absl::StrCat("obj-", i)));
  }
  s = roll(Q(2).id, many);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items"));
  s = roll("", {Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("target_cycle_id"));
  s = roll(Q(2).id,
           {Roll(q1_parent_.id), Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[1].objective_id"));

  s = roll("cycle-missing", {Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("target_cycle_id"));
  s = roll(Q(2).id, {Roll(q1_parent_.id),
                     Roll("obj-missing")});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[1].objective_id"));
  s = roll(Q(2).id, {Roll(q1_parent_.id,
                      {drivers_.id, "kr-missing"})});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[0].key_result_ids[1]"));

  s = roll(closed.id, {Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("target_cycle_id"));
  s = roll(fy2028_.year.id, {Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[0].objective_id"));
  s = roll(Q(1).id, {Roll(q1_parent_.id)});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  s = roll(Q(2).id, {Roll(q1_parent_.id,
                      {csat_.id})});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("items[0].key_result_ids[0]"));
  EXPECT_THAT(s.message(), HasSubstr(q1_child_.id));

  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(), objectives);
}

TEST_F(RollOverTest, ChosenArchivedKeyResultsComeBackLive) {
  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, Q(2).id,
      {Roll(q1_parent_.id, {archived_.id})},
      false, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  ASSERT_EQ(rolled->key_results.size(), 1u);
  EXPECT_FALSE(rolled->key_results[0].archived);
  EXPECT_EQ(rolled->key_results[0].title, archived_.title);
}

TEST_F(RollOverTest, SurvivesARestart) {
  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, Q(2).id, {Roll(q1_parent_.id)}, true, RequestKey{});
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  std::unique_ptr<Planning> restarted = Restart();
  absl::StatusOr<AlignmentTree> tree =
      restarted->GetAlignmentTree(kOrg, InCycle(Q(2).id));
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_THAT(IdsOf(tree->objectives),
              ElementsAre(annual_.id, rolled->objectives[0].id));
  EXPECT_EQ(tree->key_results.size(), 2u);
}

}  // namespace
}  // namespace okr::planning
