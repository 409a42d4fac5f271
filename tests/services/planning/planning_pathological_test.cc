// Pathological plans through planning's real code paths: the use-cases over
// the SQLite store on a temp file. A 10,000-deep alignment chain (built by
// CSV import and by AlignObjective), 10,000 children of one objective, and
// strings at, over and far over their limits or not UTF-8 at all. What is
// shown: no stack overflow (the walks are iterative), bounded time (CTest's
// TIMEOUT), clear errors naming the field, and nothing invalid stored.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/plan_csv.h"
#include "common/validation.h"
#include "services/planning/planning.h"
#include "services/planning/sqlite_planning_store.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

using ::absl::StatusCode;

constexpr char kOrg[] = "acme";
constexpr int kDeep = 10000;

// Whether `status` has `code` and names `field` as "<field>: ..." in its
// message (not as the tail of a longer path).
::testing::AssertionResult NamesField(const absl::Status& status,
                                      StatusCode code,
                                      absl::string_view field) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << absl::StatusCodeToString(code) << " naming '"
           << field << "', got " << status.ToString().substr(0, 500);
  }
  const std::string needle = absl::StrCat(field, ":");
  const absl::string_view message = status.message();
  for (size_t at = message.find(needle); at != absl::string_view::npos;
       at = message.find(needle, at + 1)) {
    if (at == 0 || message[at - 1] == ' ' || message[at - 1] == ';') {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "the message does not name '" << field
         << "': " << status.ToString().substr(0, 500);
}

// Whether every byte sequence of `s` is well-formed UTF-8 (no overlongs,
// surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// `n` copies of `unit`.
std::string Repeat(absl::string_view unit, size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(unit.data(), unit.size());
  return out;
}

// Query builders (designated initializers would warn about the members
// they leave out under -Wextra).
AlignmentTreeQuery TreeOf(const Id& cycle_id, const Id& root_id = "") {
  AlignmentTreeQuery q;
  q.cycle_id = cycle_id;
  q.root_objective_id = root_id;
  return q;
}

ObjectiveFilter ChildrenOfFilter(const Id& parent_id) {
  ObjectiveFilter f;
  f.parent_objective_id = parent_id;
  return f;
}

ObjectiveFilter InCycle(const Id& cycle_id) {
  ObjectiveFilter f;
  f.cycle_id = cycle_id;
  return f;
}

KeyResultFilter KeyResultFilterOf(const Id& objective_id) {
  KeyResultFilter f;
  f.objective_id = objective_id;
  return f;
}

LintQuery LintOf(const Id& objective_id) {
  LintQuery q;
  q.scope = LintScope::kObjective;
  q.objective_id = objective_id;
  return q;
}

ExportFilter ExportOf(const Id& cycle_id) {
  ExportFilter f;
  f.cycle_id = cycle_id;
  return f;
}

PageRequest PageOf(int page_size) {
  PageRequest p;
  p.page_size = page_size;
  return p;
}

constexpr char kCsvHeader[] =
    "cycle,objective_ref,objective_title,objective_description,level,kind,state,"
    "progress_source,aligned_to,kr_ref,kr_title,kr_type,from,to\n";

// A CSV of `n` objectives in FY2027-Q1, O<i> aligned to O<i-1>, each scored
// from its child; the last one (the leaf) has one metric KR "K" 0 -> 100.
std::string ChainCsv(int n) {
  std::string csv = kCsvHeader;
  for (int i = 0; i < n; ++i) {
    const bool leaf = i == n - 1;
    absl::StrAppend(&csv, "FY2027-Q1,O", i, ",Chain objective ", i, ",,COMPANY,COMMITTED,",
                    "PUBLISHED,", leaf ? "KEY_RESULTS" : "CHILDREN", ",",
                    i == 0 ? "" : absl::StrCat("O", i - 1), ",",
                    leaf ? "K,Reach 100 widgets,METRIC,0,100" : ",,,,", "\n");
  }
  return csv;
}

class PlanningPathologicalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> store =
        SqlitePlanningStore::Open(dir_.File("planning.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    planning_ = NewPlanning();
    Organisation org;
    org.name = "Acme Retail";
    org.fiscal_year_start_month = 1;
    org.time_zone = "UTC";
    org.planning_profile = PlanningProfile::kSmall;
    ASSERT_TRUE(planning_->BootstrapOrganisation(kOrg, org, {}).ok());
    absl::StatusOr<FiscalYear> fy = planning_->CreateFiscalYear(
        kOrg, 2027, /*include_months=*/false, std::nullopt, {});
    ASSERT_TRUE(fy.ok()) << fy.status();
    ASSERT_EQ(fy->quarters.size(), 4u);
    year_ = fy->year;
    q1_ = fy->quarters[0];
    Person person;
    person.display_name = "Ada Chief";
    person.email = "ada@acme.example";
    absl::StatusOr<Person> owner = planning_->CreatePerson(kOrg, person, {});
    ASSERT_TRUE(owner.ok()) << owner.status();
    owner_ = *owner;
  }

  // A Planning over the same store: what a restart of okr-planning sees.
  std::unique_ptr<Planning> NewPlanning() {
    return std::make_unique<Planning>(
        store_.get(), PlanningOptions{[this] { return now_; }});
  }

  // Imports `csv` (no default cycle) and returns the created ids in file
  // order, or fails the test.
  std::vector<Id> Import(const std::string& csv) {
    absl::StatusOr<ImportResult> result =
        planning_->ImportPlanCsv(kOrg, csv, "", /*dry_run=*/false, {});
    if (!result.ok()) {
      ADD_FAILURE() << result.status().ToString().substr(0, 2000);
      return {};
    }
    return result->objective_ids;
  }

  Objective NewObjective(const std::string& title) {
    Objective o;
    o.title = title;
    o.cycle_id = q1_.id;
    o.owner_id = owner_.id;
    o.level = Level::kCompany;
    o.kind = ObjectiveKind::kCommitted;
    o.state = ObjectiveState::kPublished;
    return o;
  }

  Objective MustGet(const Id& id) {
    absl::StatusOr<Objective> o = planning_->GetObjective(kOrg, id);
    if (!o.ok()) {
      ADD_FAILURE() << o.status();
      return {};
    }
    return *o;
  }

  // Every objective id of the organisation, through ListObjectives pages.
  std::vector<Id> ListAll(const ObjectiveFilter& filter, int page_size) {
    std::vector<Id> ids;
    PageRequest page = PageOf(page_size);
    for (int pages = 0; pages < 100000; ++pages) {
      absl::StatusOr<Page<Objective>> got =
          planning_->ListObjectives(kOrg, filter, page);
      if (!got.ok()) {
        ADD_FAILURE() << got.status();
        return ids;
      }
      for (const Objective& o : got->items) ids.push_back(o.id);
      if (got->next_page_token.empty()) break;
      page.page_token = got->next_page_token;
    }
    return ids;
  }

  TempDir dir_{"okr-planning-pathological"};
  absl::Time now_ = absl::FromCivil(absl::CivilSecond(2027, 1, 4, 9, 0, 0),
                                    absl::UTCTimeZone());
  std::unique_ptr<SqlitePlanningStore> store_;
  std::unique_ptr<Planning> planning_;
  Cycle year_;
  Cycle q1_;
  Person owner_;
};

// --- A 10,000-deep chain -----------------------------------------------------------

TEST_F(PlanningPathologicalTest, DeepChainFromCsvTreeLintCascadeArchiveDelete) {
  const std::vector<Id> ids = Import(ChainCsv(kDeep));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  // File order, each aligned to the one before.
  for (int i : {1, kDeep / 2, kDeep - 1}) {
    const Objective o = MustGet(ids[i]);
    EXPECT_EQ(o.title, absl::StrCat("Chain objective ", i));
    EXPECT_EQ(o.alignment.kind, AlignmentKind::kObjective);
    EXPECT_EQ(o.alignment.parent_objective_id, ids[i - 1]);
  }

  // The whole tree: exactly the limit, parents before children.
  {
    absl::StatusOr<AlignmentTree> tree =
        planning_->GetAlignmentTree(kOrg, TreeOf(q1_.id));
    ASSERT_TRUE(tree.ok()) << tree.status();
    ASSERT_EQ(tree->objectives.size(), static_cast<size_t>(kDeep));
    EXPECT_EQ(tree->root_objective_ids, std::vector<Id>{ids[0]});
    for (int i = 0; i < kDeep; ++i) {
      ASSERT_EQ(tree->objectives[i].id, ids[i]) << "position " << i;
    }
    EXPECT_EQ(tree->links.size(), static_cast<size_t>(kDeep - 1));
    EXPECT_EQ(tree->key_results.size(), 1u);
  }

  // Closing the loop from the root to the leaf walks all 10,000 links.
  const Objective root = MustGet(ids[0]);
  absl::StatusOr<Objective> loop =
      planning_->AlignObjective(kOrg, root.id, ids[kDeep - 1], 1, root.version);
  EXPECT_EQ(loop.status().code(), StatusCode::kFailedPrecondition)
      << loop.status().ToString().substr(0, 500);
  EXPECT_EQ(MustGet(ids[0]).alignment.kind, AlignmentKind::kNone);

  // One more level under the leaf by AlignObjective (depth 10,001), and one
  // by cascading the leaf's key result (Duality, depth 10,001 too).
  absl::StatusOr<Objective> extra =
      planning_->CreateObjective(kOrg, NewObjective("Deeper still"), {});
  ASSERT_TRUE(extra.ok()) << extra.status();
  absl::StatusOr<Objective> aligned = planning_->AlignObjective(
      kOrg, extra->id, ids[kDeep - 1], 2, extra->version);
  ASSERT_TRUE(aligned.ok()) << aligned.status();
  EXPECT_EQ(aligned->alignment.parent_objective_id, ids[kDeep - 1]);

  absl::StatusOr<Page<KeyResult>> krs =
      planning_->ListKeyResults(kOrg, KeyResultFilterOf(ids[kDeep - 1]), {});
  ASSERT_TRUE(krs.ok()) << krs.status();
  ASSERT_EQ(krs->items.size(), 1u);
  Objective child = NewObjective("");
  absl::StatusOr<Objective> cascaded =
      planning_->CascadeKeyResult(kOrg, krs->items[0].id, child, 1, {});
  ASSERT_TRUE(cascaded.ok()) << cascaded.status();
  EXPECT_EQ(cascaded->alignment.kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(cascaded->title, "Reach 100 widgets");

  // Now over the tree limit: a clear refusal, and a subtree still works.
  absl::StatusOr<AlignmentTree> too_big =
      planning_->GetAlignmentTree(kOrg, TreeOf(q1_.id));
  EXPECT_EQ(too_big.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(too_big.status().message(), "root_objective_id"))
      << too_big.status();
  absl::StatusOr<AlignmentTree> subtree = planning_->GetAlignmentTree(
      kOrg, TreeOf(q1_.id, ids[kDeep - 10]));
  ASSERT_TRUE(subtree.ok()) << subtree.status();
  EXPECT_EQ(subtree->objectives.size(), 12u);  // 10 of the chain + 2 below

  // Lint over the whole organisation and over the leaf (the "linked to an
  // annual objective" rule walks every ancestor: none is annual).
  absl::StatusOr<LintResult> lint = planning_->Lint(kOrg, {});
  ASSERT_TRUE(lint.ok()) << lint.status();
  EXPECT_EQ(lint->objectives_checked, kDeep + 2);
  absl::StatusOr<LintResult> leaf_lint = planning_->Lint(
      kOrg, LintOf(extra->id));
  ASSERT_TRUE(leaf_lint.ok()) << leaf_lint.status();
  EXPECT_TRUE(std::any_of(leaf_lint->findings.begin(), leaf_lint->findings.end(),
                          [](const Finding& f) {
                            return absl::StrContains(f.rule_id, "annual");
                          }))
      << "a quarterly chain with no annual ancestor should be flagged";

  // The root cannot be deleted while aligned objectives hang from it (the
  // message stays short), but it can be archived; its child becomes a root.
  Objective root_now = MustGet(ids[0]);
  absl::Status deleted = planning_->DeleteObjective(kOrg, ids[0], root_now.version);
  EXPECT_TRUE(NamesField(deleted, StatusCode::kFailedPrecondition, "id"));
  EXPECT_LT(deleted.message().size(), 2000u);
  absl::StatusOr<Objective> archived =
      planning_->ArchiveObjective(kOrg, ids[0], root_now.version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  absl::StatusOr<AlignmentTree> after = planning_->GetAlignmentTree(
      kOrg, TreeOf(q1_.id, ids[2]));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->objectives.size(), static_cast<size_t>(kDeep - 2 + 2));

  // Unaligning its only child lets the archived root go for good.
  const Objective second = MustGet(ids[1]);
  ASSERT_TRUE(planning_->UnalignObjective(kOrg, ids[1], second.version).ok());
  EXPECT_TRUE(planning_->DeleteObjective(kOrg, ids[0], archived->version).ok());
  EXPECT_EQ(planning_->GetObjective(kOrg, ids[0]).status().code(),
            StatusCode::kNotFound);

  // A restart reloads the deep plan from SQLite.
  planning_ = NewPlanning();
  absl::StatusOr<AlignmentTree> reloaded = planning_->GetAlignmentTree(
      kOrg, TreeOf(q1_.id, ids[2]));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->objectives.size(), static_cast<size_t>(kDeep));
  EXPECT_NE(reloaded->objectives.back().alignment.kind, AlignmentKind::kNone);
}

TEST_F(PlanningPathologicalTest, DeepChainExportsAndReimportsAsDryRun) {
  const std::vector<Id> ids = Import(ChainCsv(kDeep));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  absl::StatusOr<ExportResult> exported =
      planning_->ExportPlanCsv(kOrg, ExportOf(q1_.id));
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->row_count, kDeep);
  EXPECT_TRUE(IsValidUtf8(exported->csv));
  absl::StatusOr<ImportResult> again =
      planning_->ImportPlanCsv(kOrg, exported->csv, "", /*dry_run=*/true, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString().substr(0, 1000);
  EXPECT_TRUE(again->errors.empty());
  EXPECT_EQ(again->objectives_created, kDeep);
}

TEST_F(PlanningPathologicalTest, CsvLoopAcrossTenThousandRowsIsOneShortError) {
  // The chain with O0 aligned to the last row: one loop of 10,000.
  std::string csv = ChainCsv(kDeep);
  const std::string first_row =
      "FY2027-Q1,O0,Chain objective 0,,COMPANY,COMMITTED,PUBLISHED,CHILDREN,,";
  const size_t at = csv.find(first_row);
  ASSERT_NE(at, std::string::npos);
  csv.replace(at, first_row.size(),
              absl::StrCat("FY2027-Q1,O0,Chain objective 0,,COMPANY,COMMITTED,PUBLISHED,CHILDREN,O",
                           kDeep - 1, ","));
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", /*dry_run=*/false, {});
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(result.status().message(), "aligned_to"))
      << result.status().ToString().substr(0, 500);
  // Nothing was imported.
  EXPECT_TRUE(ListAll(InCycle(q1_.id), 500).empty());
}

TEST_F(PlanningPathologicalTest, DeepChainBuiltOneAlignObjectiveAtATime) {
  // Link by link through AlignObjective, each call checking the whole
  // ancestor chain for a loop: one commit per create and per align, so
  // 1,000 deep here (10,000 took ~130 s of SQLite commits on the 2-core CI
  // machine); the 10,000-deep chain is the CSV test above. 20 live
  // objectives per owner and cycle: one owner per 20 links.
  constexpr int kLinks = 1000;
  std::vector<Id> owners;
  for (int p = 0; p < kLinks / kMaxObjectivesPerOwnerCycle; ++p) {
    Person person;
    person.display_name = absl::StrCat("Owner ", p);
    person.email = absl::StrCat("owner", p, "@acme.example");
    absl::StatusOr<Person> created = planning_->CreatePerson(kOrg, person, {});
    ASSERT_TRUE(created.ok()) << created.status();
    owners.push_back(created->id);
  }
  std::vector<Id> ids;
  for (int i = 0; i < kLinks; ++i) {
    Objective o = NewObjective(absl::StrCat("Link ", i));
    o.owner_id = owners[i / kMaxObjectivesPerOwnerCycle];
    o.level = Level::kIndividual;
    o.progress_source = ProgressSource::kChildren;
    absl::StatusOr<Objective> created = planning_->CreateObjective(kOrg, o, {});
    ASSERT_TRUE(created.ok()) << "objective " << i << ": " << created.status();
    if (i > 0) {
      absl::StatusOr<Objective> aligned = planning_->AlignObjective(
          kOrg, created->id, ids.back(), 1, created->version);
      ASSERT_TRUE(aligned.ok()) << "link " << i << ": " << aligned.status();
    }
    ids.push_back(created->id);
  }
  // One more for the first owner is over the per-owner limit.
  Objective over = NewObjective("One too many");
  over.owner_id = owners[0];
  EXPECT_TRUE(NamesField(planning_->CreateObjective(kOrg, over, {}).status(),
                         StatusCode::kFailedPrecondition, "objective.owner_id"));

  absl::StatusOr<AlignmentTree> tree = planning_->GetAlignmentTree(
      kOrg, TreeOf("", ids[0]));
  ASSERT_TRUE(tree.ok()) << tree.status();
  ASSERT_EQ(tree->objectives.size(), static_cast<size_t>(kLinks));
  EXPECT_EQ(tree->objectives.back().id, ids.back());

  // The leaf's loop back to the root, after a restart from SQLite.
  planning_ = NewPlanning();
  const Objective root = MustGet(ids[0]);
  EXPECT_EQ(planning_->AlignObjective(kOrg, ids[0], ids.back(), 1, root.version)
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

// --- 10,000 children of one objective ---------------------------------------------

TEST_F(PlanningPathologicalTest, TenThousandChildrenAlignListAndPage) {
  std::string csv = kCsvHeader;
  absl::StrAppend(&csv,
                  "FY2027-Q1,P,The parent,,COMPANY,COMMITTED,PUBLISHED,CHILDREN,,,,,,\n");
  for (int i = 0; i < kDeep - 1; ++i) {
    absl::StrAppend(&csv, "FY2027-Q1,C", i, ",Child ", i,
                    ",,COMPANY,COMMITTED,PUBLISHED,KEY_RESULTS,P,,,,,\n");
  }
  const std::vector<Id> ids = Import(csv);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  const Id parent = ids[0];

  // The 10,000th child through AlignObjective.
  absl::StatusOr<Objective> last =
      planning_->CreateObjective(kOrg, NewObjective("Child by API"), {});
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(
      planning_->AlignObjective(kOrg, last->id, parent, 1, last->version).ok());

  // Every child exactly once, whatever the page size, and total_size right.
  absl::flat_hash_set<Id> expected(ids.begin() + 1, ids.end());
  expected.insert(last->id);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kDeep));
  for (int page_size : {0, 500, 777, 100000}) {
    std::vector<Id> listed =
        ListAll(ChildrenOfFilter(parent), page_size);
    EXPECT_EQ(listed.size(), static_cast<size_t>(kDeep)) << page_size;
    absl::flat_hash_set<Id> unique(listed.begin(), listed.end());
    EXPECT_EQ(unique, expected) << "page_size " << page_size;
  }
  absl::StatusOr<Page<Objective>> first = planning_->ListObjectives(
      kOrg, ChildrenOfFilter(parent), PageOf(100000));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->items.size(), 500u);  // capped
  EXPECT_EQ(first->total_size, kDeep);

  // A page token keeps its place while children come and go between pages.
  std::vector<Id> seen;
  PageRequest page = PageOf(500);
  int removed = 0;
  for (;;) {
    absl::StatusOr<Page<Objective>> got =
        planning_->ListObjectives(kOrg, ChildrenOfFilter(parent), page);
    ASSERT_TRUE(got.ok()) << got.status();
    for (const Objective& o : got->items) seen.push_back(o.id);
    if (got->next_page_token.empty()) break;
    page.page_token = got->next_page_token;
    if (removed == 0) {
      // Unalign one already listed: the next pages must not shift.
      const Objective listed = MustGet(seen.front());
      ASSERT_TRUE(
          planning_->UnalignObjective(kOrg, listed.id, listed.version).ok());
      ++removed;
    }
  }
  absl::flat_hash_set<Id> seen_unique(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), seen_unique.size()) << "an id was listed twice";
  EXPECT_EQ(seen_unique, expected);

  // The tree (10,001 objectives) is over the limit: a clear refusal. Lint
  // and delete stay bounded.
  absl::StatusOr<AlignmentTree> tree =
      planning_->GetAlignmentTree(kOrg, TreeOf(q1_.id));
  EXPECT_EQ(tree.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(tree.status().message(), "10001"))
      << tree.status();
  absl::StatusOr<LintResult> lint = planning_->Lint(kOrg, {});
  ASSERT_TRUE(lint.ok()) << lint.status();
  EXPECT_EQ(lint->objectives_checked, kDeep + 1);
  const Objective p = MustGet(parent);
  absl::Status deleted = planning_->DeleteObjective(kOrg, parent, p.version);
  EXPECT_TRUE(NamesField(deleted, StatusCode::kFailedPrecondition, "id"));
  EXPECT_LT(deleted.message().size(), 2000u) << "the message lists every child";
}

// --- Strings ---------------------------------------------------------------------------

struct BadText {
  std::string label;
  std::string text;
};

std::vector<BadText> BadTitles() {
  return {
      {"201 code points", Repeat("\xC3\xA9", kMaxTitleLength + 1)},
      {"1 MiB", std::string(1 << 20, 'x')},
      {"lone continuation byte", "Grow \x80 revenue"},
      {"0xFF byte", "Grow \xFF revenue"},
      {"overlong slash", "Grow \xC0\xAF revenue"},
      {"surrogate", "Grow \xED\xA0\x80 revenue"},
      {"truncated sequence", "Grow revenue \xE2\x82"},
      {"past U+10FFFF", "Grow \xF4\x90\x80\x80 revenue"},
      {"embedded NUL", std::string("Grow\0revenue", 12)},
      {"bell", "Grow \a revenue"},
      {"escape sequence", "Grow \x1B[31mrevenue"},
      {"newline in a title", "Grow\nrevenue"},
      {"DEL", "Grow \x7F revenue"},
  };
}

TEST_F(PlanningPathologicalTest, BadObjectiveTitlesAreInvalidArgumentNamingTheField) {
  for (const BadText& bad : BadTitles()) {
    SCOPED_TRACE(bad.label);
    absl::StatusOr<Objective> created =
        planning_->CreateObjective(kOrg, NewObjective(bad.text), {});
    EXPECT_TRUE(NamesField(created.status(), StatusCode::kInvalidArgument,
                           "objective.title"));
    EXPECT_LT(created.status().message().size(), 4096u);
  }
  // At the limit in multi-byte code points: accepted and kept byte for byte.
  const std::string at_limit = Repeat("\xE2\x82\xAC", kMaxTitleLength);  // €
  absl::StatusOr<Objective> ok =
      planning_->CreateObjective(kOrg, NewObjective(at_limit), {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(MustGet(ok->id).title, at_limit);

  // Updates are checked the same way, and change nothing when refused.
  for (const BadText& bad : BadTitles()) {
    SCOPED_TRACE(bad.label);
    Objective values = MustGet(ok->id);
    values.title = bad.text;
    absl::StatusOr<Objective> updated =
        planning_->UpdateObjective(kOrg, values, {"title"}, values.version);
    EXPECT_TRUE(NamesField(updated.status(), StatusCode::kInvalidArgument,
                           "objective.title"));
  }
  EXPECT_EQ(MustGet(ok->id).title, at_limit);
  EXPECT_EQ(ListAll({}, 500).size(), 1u);
}

TEST_F(PlanningPathologicalTest, DescriptionsKeepTabsAndNewlinesButRefuseTheRest) {
  std::string description = Repeat("\xF0\x9F\x8E\xAF", kMaxDescriptionLength - 2);
  description += "\n\t";
  Objective o = NewObjective("Descriptive");
  o.description = description;
  absl::StatusOr<Objective> ok = planning_->CreateObjective(kOrg, o, {});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(MustGet(ok->id).description, description);

  for (const std::string& bad :
       {description + "x", std::string("a\0b", 3), std::string("bad \xFE"),
        std::string("\x1B[2J")}) {
    Objective b = NewObjective("Descriptive two");
    b.description = bad;
    EXPECT_TRUE(NamesField(planning_->CreateObjective(kOrg, b, {}).status(),
                           StatusCode::kInvalidArgument,
                           "objective.description"));
  }
}

TEST_F(PlanningPathologicalTest, BadStringsElsewhereAreRefusedNamingTheField) {
  absl::StatusOr<Objective> o =
      planning_->CreateObjective(kOrg, NewObjective("Host"), {});
  ASSERT_TRUE(o.ok()) << o.status();
  KeyResult kr;
  kr.objective_id = o->id;
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = 0;
  kr.to = 10;
  kr.direction = Direction::kIncrease;
  kr.data_source = DataSource::kManual;
  for (const BadText& bad : BadTitles()) {
    SCOPED_TRACE(bad.label);
    KeyResult k = kr;
    k.title = bad.text;
    EXPECT_TRUE(NamesField(planning_->CreateKeyResult(kOrg, k, {}).status(),
                           StatusCode::kInvalidArgument, "key_result.title"));
    k.title = "Ship 10 things";
    k.unit = bad.text;
    EXPECT_TRUE(NamesField(planning_->CreateKeyResult(kOrg, k, {}).status(),
                           StatusCode::kInvalidArgument, "key_result.unit"));
    Person person;
    person.display_name = bad.text;
    person.email = "someone@acme.example";
    EXPECT_TRUE(NamesField(planning_->CreatePerson(kOrg, person, {}).status(),
                           StatusCode::kInvalidArgument, "person.display_name"));
    Team team;
    team.name = bad.text;
    EXPECT_TRUE(NamesField(planning_->CreateTeam(kOrg, team, {}).status(),
                           StatusCode::kInvalidArgument, "team.name"));
  }
  // Ids with bytes outside [A-Za-z0-9_.:-]: INVALID_ARGUMENT, not NOT_FOUND.
  for (const std::string& id :
       {std::string("obj-\xFF"), std::string("obj\0x", 5), std::string(200, 'a'),
        std::string("obj 1")}) {
    // A lookup of an id that cannot exist may say either.
    const StatusCode code = planning_->GetObjective(kOrg, id).status().code();
    EXPECT_TRUE(code == StatusCode::kInvalidArgument ||
                code == StatusCode::kNotFound)
        << code;
    EXPECT_EQ(planning_->AlignObjective(kOrg, o->id, id, 1, o->version)
                  .status()
                  .code(),
              StatusCode::kInvalidArgument);
  }
  // Nothing bad reached the store: the export is clean UTF-8 with one row.
  absl::StatusOr<ExportResult> exported = planning_->ExportPlanCsv(kOrg, {});
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_TRUE(IsValidUtf8(exported->csv));
  EXPECT_EQ(exported->row_count, 1);
}

// --- The CSV import with bad cells --------------------------------------------------

TEST_F(PlanningPathologicalTest, CsvWithBadCellsIsRefusedWholeNamingRowAndColumn) {
  const std::string good_row = "FY2027-Q1,G,Good objective,,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n";
  struct Case {
    std::string label;
    std::string row;  // row 3 of the file, after the header and good_row
    std::string column;
  };
  const std::vector<Case> cases = {
      {"title over the limit",
       absl::StrCat("FY2027-Q1,B,", Repeat("\xC3\xA9", kMaxTitleLength + 1),
                    ",,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n"),
       "objective_title"},
      {"description over the limit",
       absl::StrCat("FY2027-Q1,B,Bad,\"", Repeat("d", kMaxDescriptionLength + 1),
                    "\",COMPANY,COMMITTED,PUBLISHED,,,,,,,\n"),
       "objective_description"},
      {"control character", "FY2027-Q1,B,Bad \x1B title,,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n",
       ""},
      {"NUL",
       absl::StrCat("FY2027-Q1,B,Bad ", std::string(1, '\0'),
                    " title,,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n"),
       ""},
      {"non-UTF-8", "FY2027-Q1,B,Caf\xE9 (Latin-1),,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n", ""},
      {"huge cell", absl::StrCat("FY2027-Q1,B,\"", std::string(100000, 'z'),
                                 "\",,COMPANY,COMMITTED,PUBLISHED,,,,,,,\n"),
       ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string csv = absl::StrCat(kCsvHeader, good_row, c.row);
    absl::StatusOr<ImportResult> result =
        planning_->ImportPlanCsv(kOrg, csv, "", /*dry_run=*/false, {});
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument)
        << result.status().ToString().substr(0, 500);
    EXPECT_TRUE(absl::StrContains(result.status().message(), "rows[3]") ||
                absl::StrContains(result.status().message(), "row 3"))
        << result.status().ToString().substr(0, 500);
    if (!c.column.empty()) {
      EXPECT_TRUE(absl::StrContains(result.status().message(), c.column))
          << result.status().ToString().substr(0, 500);
    }
    EXPECT_LT(result.status().message().size(), 8192u);
    // The dry run reports the same problem as a row error.
    absl::StatusOr<ImportResult> dry =
        planning_->ImportPlanCsv(kOrg, csv, "", /*dry_run=*/true, {});
    if (dry.ok()) {
      ASSERT_FALSE(dry->errors.empty());
      EXPECT_EQ(dry->errors[0].row, 3);
    } else {
      EXPECT_EQ(dry.status().code(), StatusCode::kInvalidArgument);
    }
  }
  // All or nothing: not even the good row was imported.
  EXPECT_TRUE(ListAll({}, 500).empty());

  // Over the row and byte limits: refused up front.
  std::string too_many = kCsvHeader;
  for (int i = 0; i <= kMaxCsvRows; ++i) {
    absl::StrAppend(&too_many, "FY2027-Q1,R", i, ",Row ", i, ",,,,,,,,,,,\n");
  }
  EXPECT_EQ(planning_->ImportPlanCsv(kOrg, too_many, "", false, {}).status().code(),
            StatusCode::kInvalidArgument);
  std::string too_big = absl::StrCat(kCsvHeader, "FY2027-Q1,B,\"",
                                     std::string(kMaxCsvBytes, 'z'), "\"\n");
  EXPECT_EQ(planning_->ImportPlanCsv(kOrg, too_big, "", false, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(ListAll({}, 500).empty());
}

}  // namespace
}  // namespace okr::planning
