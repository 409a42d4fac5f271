#include "tests/services/planning/store_conformance.h"

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr::planning {

std::string StoreBackendName(
    const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

void PrintTo(const StoreBackend& backend, std::ostream* os) {
  *os << backend.name;
}

void PlanningStoreConformance::SetUp() {
  factory_ = GetParam().new_location();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not open a fresh store";
}

void PlanningStoreConformance::TearDown() {
  store_.reset();  // before the factory, which may own the location
  factory_ = nullptr;
}

void PlanningStoreConformance::Reopen() {
  store_.reset();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not reopen its store";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// A body with bytes that text handling would mangle: NULs, 0xff, newlines.
std::string BinaryBody(absl::string_view tag) {
  std::string body(tag);
  body += std::string("\0\x01\xff\n\r\0", 6);
  body.append(tag.data(), tag.size());
  return body;
}

StoredResource Resource(ResourceKind kind, absl::string_view id,
                        int64_t version, std::string body) {
  StoredResource r;
  r.kind = kind;
  r.id = std::string(id);
  r.version = version;
  r.body = std::move(body);
  return r;
}

StoredChange Change(int64_t sequence, ResourceKind kind, absl::string_view id,
                    std::string body) {
  StoredChange c;
  c.sequence = sequence;
  c.kind = kind;
  c.id = std::string(id);
  // Nanosecond precision on purpose: the store must keep it.
  c.commit_time = absl::FromUnixNanos(1767225600123456789 + sequence);
  c.body = std::move(body);
  return c;
}

// A commit of one put with its change-feed entry.
PlanCommit PutCommit(absl::string_view org, int64_t base, ResourceKind kind,
                     absl::string_view id, std::string body) {
  PlanCommit commit;
  commit.organisation_id = std::string(org);
  commit.base_sequence = base;
  commit.puts.push_back(Resource(kind, id, base + 1, body));
  commit.changes.push_back(Change(base + 1, kind, id, "change:" + body));
  return commit;
}

StoredRequest Request(absl::string_view method, absl::string_view request_id,
                      std::vector<Id> ids) {
  StoredRequest r;
  r.method = std::string(method);
  r.request_id = std::string(request_id);
  r.fingerprint = std::string("fp\0\xfe", 4);
  r.result_ids = std::move(ids);
  r.create_time = absl::FromUnixNanos(1767225600987654321);
  return r;
}

// (kind, id, version, body) for order-insensitive comparisons.
using ResourceTuple = std::tuple<ResourceKind, Id, int64_t, std::string>;

std::vector<ResourceTuple> Tuples(const StoredOrganisation& org) {
  std::vector<ResourceTuple> out;
  for (const StoredResource& r : org.resources) {
    out.emplace_back(r.kind, r.id, r.version, r.body);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> Sequences(const std::vector<StoredChange>& changes) {
  std::vector<int64_t> out;
  for (const StoredChange& c : changes) out.push_back(c.sequence);
  return out;
}

TEST_P(PlanningStoreConformance, UnknownOrganisationIsEmpty) {
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("nobody"));
  EXPECT_THAT(org.resources, IsEmpty());
  EXPECT_EQ(org.latest_sequence, 0);
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("nobody"));
  EXPECT_EQ(latest, 0);
  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("nobody", 0, 10));
  EXPECT_THAT(changes, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(auto request,
                           store_->FindRequest("nobody", "CreateTeam", "r1"));
  EXPECT_FALSE(request.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(auto ids, store_->ListOrganisationIds());
  EXPECT_THAT(ids, IsEmpty());
}

TEST_P(PlanningStoreConformance, PutAndLoadKeepBinaryBodies) {
  PlanCommit commit;
  commit.organisation_id = "acme";
  commit.puts.push_back(
      Resource(ResourceKind::kObjective, "obj-1", 3, BinaryBody("o1")));
  commit.puts.push_back(
      Resource(ResourceKind::kKeyResult, "kr-1", 1, BinaryBody("k1")));
  // Same id, other kind: a separate resource.
  commit.puts.push_back(
      Resource(ResourceKind::kKeyResult, "obj-1", 7, std::string()));
  commit.changes.push_back(
      Change(1, ResourceKind::kObjective, "obj-1", BinaryBody("c1")));
  commit.changes.push_back(
      Change(2, ResourceKind::kKeyResult, "kr-1", BinaryBody("c2")));
  commit.changes.push_back(
      Change(3, ResourceKind::kKeyResult, "obj-1", BinaryBody("c3")));
  OKR_ASSERT_OK(store_->Commit(commit));

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_EQ(org.latest_sequence, 3);
  EXPECT_THAT(
      Tuples(org),
      ElementsAre(
          ResourceTuple(ResourceKind::kObjective, "obj-1", 3, BinaryBody("o1")),
          ResourceTuple(ResourceKind::kKeyResult, "kr-1", 1, BinaryBody("k1")),
          ResourceTuple(ResourceKind::kKeyResult, "obj-1", 7, "")));

  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("acme", 0, 100));
  ASSERT_EQ(changes.size(), 3u);
  for (size_t i = 0; i < changes.size(); ++i) {
    const StoredChange& want = commit.changes[i];
    EXPECT_EQ(changes[i].sequence, want.sequence);
    EXPECT_EQ(changes[i].kind, want.kind);
    EXPECT_EQ(changes[i].id, want.id);
    EXPECT_EQ(changes[i].commit_time, want.commit_time) << "at " << i;
    EXPECT_EQ(changes[i].body, want.body);
  }
}

TEST_P(PlanningStoreConformance, PutReplacesAndDeleteRemoves) {
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 0, ResourceKind::kTeam, "t1", "first")));
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 1, ResourceKind::kTeam, "t2", "other")));
  // Replace t1 with a new version and body.
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 2, ResourceKind::kTeam, "t1", "second")));
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_THAT(Tuples(org),
              ElementsAre(ResourceTuple(ResourceKind::kTeam, "t1", 3, "second"),
                          ResourceTuple(ResourceKind::kTeam, "t2", 2, "other")));

  PlanCommit remove;
  remove.organisation_id = "acme";
  remove.base_sequence = 3;
  remove.deletes.emplace_back(ResourceKind::kTeam, "t1");
  remove.deletes.emplace_back(ResourceKind::kTeam, "never-stored");
  remove.deletes.emplace_back(ResourceKind::kPerson, "t2");  // other kind
  remove.changes.push_back(Change(4, ResourceKind::kTeam, "t1", "deleted"));
  OKR_ASSERT_OK(store_->Commit(remove));
  OKR_ASSERT_OK_AND_ASSIGN(org, store_->LoadOrganisation("acme"));
  EXPECT_THAT(Tuples(org),
              ElementsAre(ResourceTuple(ResourceKind::kTeam, "t2", 2, "other")));
  EXPECT_EQ(org.latest_sequence, 4);
}

TEST_P(PlanningStoreConformance, DeleteAfterPutInOneCommitWins) {
  PlanCommit commit = PutCommit("acme", 0, ResourceKind::kCycle, "c1", "x");
  commit.deletes.emplace_back(ResourceKind::kCycle, "c1");
  OKR_ASSERT_OK(store_->Commit(commit));
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_THAT(org.resources, IsEmpty());
  EXPECT_EQ(org.latest_sequence, 1);
}

TEST_P(PlanningStoreConformance, StaleBaseIsAbortedAndAppliesNothing) {
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 0, ResourceKind::kTeam, "t1", "one")));
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 1, ResourceKind::kTeam, "t2", "two")));
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation before,
                           store_->LoadOrganisation("acme"));

  for (int64_t base : {0, 1, 3}) {
    PlanCommit stale = PutCommit("acme", base, ResourceKind::kTeam, "t1",
                                 absl::StrCat("stale-", base));
    stale.deletes.emplace_back(ResourceKind::kTeam, "t2");
    stale.request = Request("CreateTeam", absl::StrCat("stale-", base), {"t1"});
    absl::Status status = store_->Commit(stale);
    EXPECT_EQ(status.code(), absl::StatusCode::kAborted)
        << "base " << base << ": " << status;
    EXPECT_NE(status.message().find("another writer"), std::string::npos)
        << status;

    OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation after,
                             store_->LoadOrganisation("acme"));
    EXPECT_EQ(Tuples(after), Tuples(before)) << "base " << base;
    EXPECT_EQ(after.latest_sequence, 2);
    OKR_ASSERT_OK_AND_ASSIGN(auto request,
                             store_->FindRequest("acme", "CreateTeam",
                                                 absl::StrCat("stale-", base)));
    EXPECT_FALSE(request.has_value()) << "base " << base;
  }
  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("acme", 0, 100));
  EXPECT_THAT(Sequences(changes), ElementsAre(1, 2));
  EXPECT_EQ(changes[0].body, "change:one");
}

TEST_P(PlanningStoreConformance, RequestIsRecordedOnceAndDuplicateApplysNothing) {
  PlanCommit create =
      PutCommit("acme", 0, ResourceKind::kObjective, "o1", "body-1");
  create.request = Request("CreateObjective", "req-1", {"o1", "k1", "k2"});
  OKR_ASSERT_OK(store_->Commit(create));

  OKR_ASSERT_OK_AND_ASSIGN(
      std::optional<StoredRequest> found,
      store_->FindRequest("acme", "CreateObjective", "req-1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->method, "CreateObjective");
  EXPECT_EQ(found->request_id, "req-1");
  EXPECT_EQ(found->fingerprint, create.request->fingerprint);
  EXPECT_THAT(found->result_ids, ElementsAre("o1", "k1", "k2"));
  EXPECT_EQ(found->create_time, create.request->create_time);

  // The same request_id under another method is another request.
  OKR_ASSERT_OK_AND_ASSIGN(
      auto other, store_->FindRequest("acme", "CreateTeam", "req-1"));
  EXPECT_FALSE(other.has_value());

  PlanCommit again =
      PutCommit("acme", 1, ResourceKind::kObjective, "o2", "body-2");
  again.request = Request("CreateObjective", "req-1", {"o2"});
  again.request->fingerprint = "different";
  absl::Status status = store_->Commit(again);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_NE(status.message().find("req-1"), std::string::npos) << status;

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_THAT(Tuples(org), ElementsAre(ResourceTuple(ResourceKind::kObjective,
                                                     "o1", 1, "body-1")));
  EXPECT_EQ(org.latest_sequence, 1);
  OKR_ASSERT_OK_AND_ASSIGN(
      found, store_->FindRequest("acme", "CreateObjective", "req-1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_THAT(found->result_ids, ElementsAre("o1", "k1", "k2"));
  EXPECT_EQ(found->fingerprint, create.request->fingerprint);

  // The same request_id under another method commits.
  PlanCommit team = PutCommit("acme", 1, ResourceKind::kTeam, "t1", "team");
  team.request = Request("CreateTeam", "req-1", {"t1"});
  OKR_EXPECT_OK(store_->Commit(team));
}

TEST_P(PlanningStoreConformance, RequestResultIdsRoundTripAnyBytes) {
  const std::vector<Id> ids = {
      "",           "3:abc",          std::string("nul\0id", 6),
      "12345678901", "with:colons:", "\xff\xfe",
      std::string(300, 'x')};
  PlanCommit commit = PutCommit("acme", 0, ResourceKind::kTeam, "t1", "b");
  commit.request = Request("ImportPlanCsv", "odd", ids);
  OKR_ASSERT_OK(store_->Commit(commit));
  PlanCommit none = PutCommit("acme", 1, ResourceKind::kTeam, "t2", "b");
  none.request = Request("CreateTeam", "empty", {});
  OKR_ASSERT_OK(store_->Commit(none));

  OKR_ASSERT_OK_AND_ASSIGN(auto found,
                           store_->FindRequest("acme", "ImportPlanCsv", "odd"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->result_ids, ids);
  OKR_ASSERT_OK_AND_ASSIGN(found,
                           store_->FindRequest("acme", "CreateTeam", "empty"));
  ASSERT_TRUE(found.has_value());
  EXPECT_THAT(found->result_ids, IsEmpty());
}

TEST_P(PlanningStoreConformance, MalformedCommitIsInvalidAndAppliesNothing) {
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 0, ResourceKind::kTeam, "t1", "kept")));

  struct Case {
    std::string what;
    PlanCommit commit;
    std::string field;
  };
  std::vector<Case> cases;
  {
    PlanCommit c = PutCommit("", 1, ResourceKind::kTeam, "t2", "x");
    cases.push_back({"empty org", c, "organisation_id"});
  }
  {
    PlanCommit c = PutCommit("acme", 1, ResourceKind::kTeam, "t2", "x");
    c.changes[0].sequence = 3;  // a gap
    cases.push_back({"gap", c, "changes[0].sequence"});
  }
  {
    PlanCommit c = PutCommit("acme", 1, ResourceKind::kTeam, "t2", "x");
    c.changes.push_back(Change(2, ResourceKind::kTeam, "t2", "dup"));
    cases.push_back({"repeated sequence", c, "changes[1].sequence"});
  }
  {
    // Stale and malformed: the shape is refused first.
    PlanCommit c = PutCommit("acme", 0, ResourceKind::kTeam, "t2", "x");
    c.changes[0].sequence = 5;
    cases.push_back({"stale gap", c, "changes[0].sequence"});
  }
  {
    PlanCommit c = PutCommit("acme", 1, ResourceKind::kUnspecified, "t2", "x");
    cases.push_back({"no kind", c, "puts[0].kind"});
  }
  {
    PlanCommit c = PutCommit("acme", 1, ResourceKind::kTeam, "", "x");
    cases.push_back({"no id", c, "puts[0].id"});
  }
  {
    PlanCommit c = PutCommit("acme", 1, ResourceKind::kTeam, "t2", "x");
    c.request = Request("CreateTeam", "", {"t2"});
    cases.push_back({"no request_id", c, "request.request_id"});
  }
  {
    PlanCommit c = PutCommit("acme", -1, ResourceKind::kTeam, "t2", "x");
    cases.push_back({"negative base", c, "base_sequence"});
  }
  for (const Case& c : cases) {
    absl::Status status = store_->Commit(c.commit);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << c.what << ": " << status;
    EXPECT_EQ(status.message().substr(0, c.field.size() + 1), c.field + ":")
        << c.what << ": " << status;
  }
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_THAT(Tuples(org),
              ElementsAre(ResourceTuple(ResourceKind::kTeam, "t1", 1, "kept")));
  EXPECT_EQ(org.latest_sequence, 1);
}

TEST_P(PlanningStoreConformance, ListChangesPagesInOrder) {
  for (int64_t base = 0; base < 25; ++base) {
    OKR_ASSERT_OK(store_->Commit(PutCommit(
        "acme", base, ResourceKind::kPerson, absl::StrCat("p", base), "b")));
  }
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 25);

  std::vector<int64_t> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    OKR_ASSERT_OK_AND_ASSIGN(auto page, store_->ListChanges("acme", after, 10));
    if (page.empty()) break;
    EXPECT_LE(page.size(), 10u);
    ++pages;
    for (const StoredChange& c : page) {
      seen.push_back(c.sequence);
      EXPECT_EQ(c.id, absl::StrCat("p", c.sequence - 1));
    }
    after = page.back().sequence;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], int64_t(i) + 1);

  OKR_ASSERT_OK_AND_ASSIGN(auto tail, store_->ListChanges("acme", 22, 100));
  EXPECT_THAT(Sequences(tail), ElementsAre(23, 24, 25));
  OKR_ASSERT_OK_AND_ASSIGN(auto one, store_->ListChanges("acme", 0, 1));
  EXPECT_THAT(Sequences(one), ElementsAre(1));
  OKR_ASSERT_OK_AND_ASSIGN(auto past, store_->ListChanges("acme", 25, 10));
  EXPECT_THAT(past, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(auto negative, store_->ListChanges("acme", -5, 2));
  EXPECT_THAT(Sequences(negative), ElementsAre(1, 2));

  EXPECT_EQ(store_->ListChanges("acme", 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListChanges("acme", 0, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(PlanningStoreConformance, OrganisationsAreIsolated) {
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 0, ResourceKind::kTeam, "t1", "acme-team")));
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("acme", 1, ResourceKind::kTeam, "t2", "acme-team-2")));
  // Same kind and id in another organisation: its own resource and feed.
  PlanCommit globex = PutCommit("globex", 0, ResourceKind::kTeam, "t1", "gx");
  globex.request = Request("CreateTeam", "r1", {"t1"});
  OKR_ASSERT_OK(store_->Commit(globex));
  // acme's request_id r1 is still free.
  PlanCommit acme = PutCommit("acme", 2, ResourceKind::kTeam, "t3", "a3");
  acme.request = Request("CreateTeam", "r1", {"t3"});
  OKR_ASSERT_OK(store_->Commit(acme));

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation a,
                           store_->LoadOrganisation("acme"));
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation g,
                           store_->LoadOrganisation("globex"));
  EXPECT_EQ(a.latest_sequence, 3);
  EXPECT_EQ(g.latest_sequence, 1);
  EXPECT_EQ(a.resources.size(), 3u);
  EXPECT_THAT(Tuples(g),
              ElementsAre(ResourceTuple(ResourceKind::kTeam, "t1", 1, "gx")));
  OKR_ASSERT_OK_AND_ASSIGN(auto g_changes, store_->ListChanges("globex", 0, 10));
  EXPECT_THAT(Sequences(g_changes), ElementsAre(1));
  OKR_ASSERT_OK_AND_ASSIGN(auto found,
                           store_->FindRequest("globex", "CreateTeam", "r1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_THAT(found->result_ids, ElementsAre("t1"));
  OKR_ASSERT_OK_AND_ASSIGN(found, store_->FindRequest("acme", "CreateTeam", "r1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_THAT(found->result_ids, ElementsAre("t3"));

  // A prefix of another organisation's id is a different organisation.
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation prefix,
                           store_->LoadOrganisation("acm"));
  EXPECT_THAT(prefix.resources, IsEmpty());

  // Deleting in globex leaves acme's t1.
  PlanCommit remove;
  remove.organisation_id = "globex";
  remove.base_sequence = 1;
  remove.deletes.emplace_back(ResourceKind::kTeam, "t1");
  remove.changes.push_back(Change(2, ResourceKind::kTeam, "t1", "gone"));
  OKR_ASSERT_OK(store_->Commit(remove));
  OKR_ASSERT_OK_AND_ASSIGN(a, store_->LoadOrganisation("acme"));
  EXPECT_EQ(a.resources.size(), 3u);
}

TEST_P(PlanningStoreConformance, ListOrganisationIdsIsSortedAndSkipsEmpty) {
  for (const char* org : {"zeta", "acme", "Beta", "acme-2"}) {
    OKR_ASSERT_OK(
        store_->Commit(PutCommit(org, 0, ResourceKind::kOrganisation, org, "o")));
  }
  // An organisation whose only resource was deleted has none left.
  PlanCommit remove;
  remove.organisation_id = "zeta";
  remove.base_sequence = 1;
  remove.deletes.emplace_back(ResourceKind::kOrganisation, "zeta");
  remove.changes.push_back(Change(2, ResourceKind::kOrganisation, "zeta", "x"));
  OKR_ASSERT_OK(store_->Commit(remove));

  OKR_ASSERT_OK_AND_ASSIGN(std::vector<Id> ids, store_->ListOrganisationIds());
  // Byte order: uppercase before lowercase, a prefix before its extensions.
  EXPECT_THAT(ids, ElementsAre("Beta", "acme", "acme-2"));
}

TEST_P(PlanningStoreConformance, CommitWithoutResourcesStillMovesTheFeed) {
  PlanCommit commit;
  commit.organisation_id = "acme";
  commit.changes.push_back(Change(1, ResourceKind::kReview, "rv1", "note"));
  OKR_ASSERT_OK(store_->Commit(commit));
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 1);
  // A commit with nothing at all still checks its base.
  PlanCommit empty;
  empty.organisation_id = "acme";
  empty.base_sequence = 1;
  OKR_EXPECT_OK(store_->Commit(empty));
  empty.base_sequence = 0;
  EXPECT_EQ(store_->Commit(empty).code(), absl::StatusCode::kAborted);
}

TEST_P(PlanningStoreConformance, CommittedDataSurvivesReopen) {
  if (!GetParam().durable) GTEST_SKIP() << "backend keeps nothing on reopen";
  PlanCommit first = PutCommit("acme", 0, ResourceKind::kObjective, "o1",
                               BinaryBody("persist"));
  first.request = Request("CreateObjective", "r1", {"o1"});
  OKR_ASSERT_OK(store_->Commit(first));
  OKR_ASSERT_OK(store_->Commit(
      PutCommit("globex", 0, ResourceKind::kTeam, "t1", "gx")));
  PlanCommit remove;
  remove.organisation_id = "acme";
  remove.base_sequence = 1;
  remove.puts.push_back(Resource(ResourceKind::kTeam, "t9", 4, "t9"));
  remove.changes.push_back(Change(2, ResourceKind::kTeam, "t9", "t9"));
  OKR_ASSERT_OK(store_->Commit(remove));

  ASSERT_NO_FATAL_FAILURE(Reopen());

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_EQ(org.latest_sequence, 2);
  EXPECT_THAT(Tuples(org),
              ElementsAre(ResourceTuple(ResourceKind::kTeam, "t9", 4, "t9"),
                          ResourceTuple(ResourceKind::kObjective, "o1", 1,
                                        BinaryBody("persist"))));
  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("acme", 0, 10));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].body, first.changes[0].body);
  EXPECT_EQ(changes[0].commit_time, first.changes[0].commit_time);
  OKR_ASSERT_OK_AND_ASSIGN(auto found,
                           store_->FindRequest("acme", "CreateObjective", "r1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_THAT(found->result_ids, ElementsAre("o1"));
  OKR_ASSERT_OK_AND_ASSIGN(auto ids, store_->ListOrganisationIds());
  EXPECT_THAT(ids, ElementsAre("acme", "globex"));

  // The reopened store goes on from where the feed stopped.
  EXPECT_EQ(store_->Commit(PutCommit("acme", 0, ResourceKind::kTeam, "x", "x"))
                .code(),
            absl::StatusCode::kAborted);
  OKR_EXPECT_OK(
      store_->Commit(PutCommit("acme", 2, ResourceKind::kTeam, "t10", "x")));
}

// Several threads race for each sequence: in every round they all read the
// latest sequence, meet at a barrier, and commit on it at once. Exactly one
// may win; the others must get ABORTED. The feed must then hold every
// winner, once, in order.
TEST_P(PlanningStoreConformance, ConcurrentCommittersExactlyOneWinsEachSequence) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 30;
  std::barrier sync(kThreads);
  // won[round] collects the tags that committed in that round.
  std::vector<std::vector<std::string>> won(kRounds);
  absl::Mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        absl::StatusOr<int64_t> latest = store_->LatestSequence("acme");
        sync.arrive_and_wait();  // nobody commits before everyone has read
        const std::string tag = absl::StrCat("round", round, "-thread", t);
        absl::Status status =
            latest.ok() ? store_->Commit(PutCommit("acme", *latest,
                                                   ResourceKind::kCheckIn, tag,
                                                   tag))
                        : latest.status();
        {
          absl::MutexLock lock(&mu);
          if (status.ok()) {
            won[round].push_back(tag);
          } else if (status.code() != absl::StatusCode::kAborted) {
            errors.push_back(absl::StrCat(tag, ": ", status.ToString()));
          }
        }
        sync.arrive_and_wait();  // the round is over before the next read
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(errors, IsEmpty());

  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("acme", 0, 1000));
  ASSERT_EQ(changes.size(), size_t{kRounds});
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_EQ(won[round].size(), 1u) << "round " << round;
    EXPECT_EQ(changes[round].sequence, round + 1);
    EXPECT_EQ(changes[round].id, won[round][0]) << "round " << round;
  }
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_EQ(org.resources.size(), size_t{kRounds});
  EXPECT_EQ(org.latest_sequence, kRounds);
}

// Free-running committers that retry on ABORTED: no reported success may be
// missing from the feed, and none may appear twice.
TEST_P(PlanningStoreConformance, ConcurrentCommittersNeverLoseACommit) {
  constexpr int kThreads = 4;
  constexpr int kCommitsPerThread = 25;
  std::vector<std::vector<std::string>> won(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kCommitsPerThread;) {
        absl::StatusOr<int64_t> latest = store_->LatestSequence("acme");
        if (!latest.ok()) {
          errors[t] = latest.status().ToString();
          return;
        }
        const std::string tag = absl::StrCat("thread", t, "-", n);
        absl::Status status = store_->Commit(
            PutCommit("acme", *latest, ResourceKind::kCheckIn, tag, tag));
        if (status.ok()) {
          won[t].push_back(tag);
          ++n;
        } else if (status.code() != absl::StatusCode::kAborted) {
          errors[t] = status.ToString();
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
  }

  constexpr int kTotal = kThreads * kCommitsPerThread;
  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store_->ListChanges("acme", 0, 1000));
  ASSERT_EQ(changes.size(), size_t{kTotal});
  std::multiset<std::string> in_feed;
  for (size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].sequence, int64_t(i) + 1);
    in_feed.insert(changes[i].id);
  }
  std::multiset<std::string> reported;
  for (const auto& tags : won) reported.insert(tags.begin(), tags.end());
  EXPECT_EQ(in_feed, reported);
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_EQ(org.resources.size(), size_t{kTotal});
  EXPECT_EQ(org.latest_sequence, kTotal);
}

TEST_P(PlanningStoreConformance, LargeCommitIsAppliedWhole) {
  constexpr int kPuts = 10000;
  PlanCommit commit;
  commit.organisation_id = "acme";
  for (int i = 0; i < kPuts; ++i) {
    const std::string id = absl::StrCat("kr-", i);
    commit.puts.push_back(Resource(ResourceKind::kKeyResult, id, 1,
                                   absl::StrCat(BinaryBody(id), i)));
    commit.changes.push_back(
        Change(i + 1, ResourceKind::kKeyResult, id, absl::StrCat("c", i)));
  }
  commit.request = Request("ImportPlanCsv", "big", {"kr-0", "kr-9999"});
  OKR_ASSERT_OK(store_->Commit(commit));

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store_->LoadOrganisation("acme"));
  EXPECT_EQ(org.latest_sequence, kPuts);
  ASSERT_EQ(org.resources.size(), size_t{kPuts});
  std::vector<ResourceTuple> want;
  for (const StoredResource& r : commit.puts) {
    want.emplace_back(r.kind, r.id, r.version, r.body);
  }
  std::sort(want.begin(), want.end());
  EXPECT_TRUE(Tuples(org) == want) << "the loaded resources differ";

  int64_t after = 0;
  int count = 0;
  while (true) {
    OKR_ASSERT_OK_AND_ASSIGN(auto page,
                             store_->ListChanges("acme", after, 1000));
    if (page.empty()) break;
    for (const StoredChange& c : page) {
      ASSERT_EQ(c.sequence, after + 1);
      ASSERT_EQ(c.body, absl::StrCat("c", c.sequence - 1));
      after = c.sequence;
      ++count;
    }
  }
  EXPECT_EQ(count, kPuts);

  // A second large commit on a stale base leaves all 10,000 untouched.
  PlanCommit stale = commit;
  stale.request.reset();
  for (StoredResource& r : stale.puts) r.body = "overwritten";
  absl::Status status = store_->Commit(stale);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  OKR_ASSERT_OK_AND_ASSIGN(org, store_->LoadOrganisation("acme"));
  EXPECT_TRUE(Tuples(org) == want) << "the stale commit changed something";
}

}  // namespace
}  // namespace okr::planning
