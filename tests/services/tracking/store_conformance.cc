#include "tests/services/tracking/store_conformance.h"

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
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr::tracking {

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

void TrackingStoreConformance::SetUp() {
  factory_ = GetParam().new_location();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not open a fresh store";
}

void TrackingStoreConformance::TearDown() {
  store_.reset();  // before the factory, which may own the location
  factory_ = nullptr;
}

void TrackingStoreConformance::Reopen() {
  store_.reset();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not reopen its store";
}

namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// What a check-in's body carries, as flags.
enum Carries : unsigned { kNothing = 0, kValue = 1, kDone = 2, kSignal = 4 };

// A body with bytes that text handling would mangle: NULs, 0xff, newlines.
std::string BinaryBody(absl::string_view tag) {
  std::string body(tag);
  body += std::string("\0\x01\xff\n\r\0", 6);
  body.append(tag.data(), tag.size());
  return body;
}

// Seconds after 2026-01-01, with nanoseconds the store must keep.
absl::Time At(int64_t seconds) {
  return absl::FromUnixNanos(1767225600000000000 + seconds * 1000000000 + 123456789);
}

StoredCheckIn CheckIn(absl::string_view key_result_id, absl::string_view client_key,
                      absl::Time time, unsigned carries = kValue) {
  StoredCheckIn c;
  c.id = absl::StrCat("ci-", key_result_id, "-", client_key);
  c.key_result_id = std::string(key_result_id);
  c.client_key = std::string(client_key);
  c.time = time;
  c.has_value = (carries & kValue) != 0;
  c.has_done = (carries & kDone) != 0;
  c.has_signal = (carries & kSignal) != 0;
  c.fingerprint = std::string("fp\0", 3) + std::string(client_key);
  c.body = BinaryBody(absl::StrCat(key_result_id, "/", client_key));
  return c;
}

StoredReview Review(absl::string_view objective_id, ReviewKind kind, absl::string_view body) {
  StoredReview r;
  r.objective_id = std::string(objective_id);
  r.kind = kind;
  r.cycle_id = "q1";
  r.body = BinaryBody(body);
  return r;
}

FrozenCycle Freeze(absl::string_view cycle_id, std::vector<std::string> tags) {
  FrozenCycle cycle;
  cycle.cycle_id = std::string(cycle_id);
  cycle.freeze_time = absl::FromUnixNanos(1775001600987654321);
  for (size_t i = 0; i < tags.size(); ++i) {
    FrozenScore score;
    score.kind = i % 2 == 0 ? ResourceKind::kObjective : ResourceKind::kKeyResult;
    score.id = tags[i];
    score.body = BinaryBody(tags[i]);
    cycle.scores.push_back(std::move(score));
  }
  return cycle;
}

// Every field, for comparisons with a readable failure message.
using CheckInTuple = std::tuple<Id, Id, std::string, absl::Time, int64_t, bool, bool, bool,
                                std::string, std::string>;

CheckInTuple Tuple(const StoredCheckIn& c) {
  return {c.id,        c.key_result_id, c.client_key, c.time,        c.sequence,
          c.has_value, c.has_done,      c.has_signal, c.fingerprint, c.body};
}

CheckInTuple WithSequence(StoredCheckIn c, int64_t sequence) {
  c.sequence = sequence;
  return Tuple(c);
}

std::vector<int64_t> Sequences(const std::vector<StoredCheckIn>& check_ins) {
  std::vector<int64_t> out;
  for (const StoredCheckIn& c : check_ins) out.push_back(c.sequence);
  return out;
}

std::vector<std::tuple<ResourceKind, Id, std::string>> ScoreTuples(const FrozenCycle& cycle) {
  std::vector<std::tuple<ResourceKind, Id, std::string>> out;
  for (const FrozenScore& s : cycle.scores) out.emplace_back(s.kind, s.id, s.body);
  return out;
}

CheckInQuery Query(absl::string_view key_result_id, int page_size = 50) {
  CheckInQuery query;
  query.key_result_id = std::string(key_result_id);
  query.page_size = page_size;
  return query;
}

// Appends and expects a new row.
int64_t MustAppend(TrackingStore& store, absl::string_view org, const StoredCheckIn& check_in) {
  absl::StatusOr<AppendResult> result = store.AppendCheckIn(org, check_in);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return -1;
  EXPECT_FALSE(result->replayed) << check_in.client_key;
  return result->check_in.sequence;
}

// Every page of `query` from the first, checking total_size on each.
std::vector<StoredCheckIn> AllPages(TrackingStore& store, absl::string_view org,
                                    CheckInQuery query, int64_t want_total) {
  std::vector<StoredCheckIn> all;
  query.page_token.clear();
  for (int pages = 0; pages < 1000; ++pages) {
    absl::StatusOr<CheckInPage> page = store.ListCheckIns(org, query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    EXPECT_EQ(page->total_size, want_total);
    EXPECT_LE(page->check_ins.size(), static_cast<size_t>(query.page_size));
    all.insert(all.end(), page->check_ins.begin(), page->check_ins.end());
    if (page->next_page_token.empty()) break;
    EXPECT_EQ(page->check_ins.size(), static_cast<size_t>(query.page_size))
        << "only the last page may be short";
    query.page_token = page->next_page_token;
  }
  return all;
}

// (objective, kind, version, sequence, body) of reviews.
using ReviewTuple = std::tuple<Id, ReviewKind, int64_t, int64_t, std::string>;

std::vector<ReviewTuple> ReviewTuples(const std::vector<StoredReview>& reviews) {
  std::vector<ReviewTuple> out;
  for (const StoredReview& r : reviews) {
    out.emplace_back(r.objective_id, r.kind, r.version, r.sequence, r.body);
  }
  return out;
}

TEST_P(TrackingStoreConformance, UnknownOrganisationIsEmpty) {
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store_->LoadOrganisation("nobody"));
  EXPECT_EQ(snapshot.latest_sequence, 0);
  EXPECT_THAT(snapshot.key_results, IsEmpty());
  EXPECT_THAT(snapshot.reviews, IsEmpty());
  EXPECT_THAT(snapshot.frozen_cycles, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("nobody"));
  EXPECT_EQ(latest, 0);
  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges changes, store_->ChangesAfter("nobody", 0, 10));
  EXPECT_THAT(changes.check_ins, IsEmpty());
  EXPECT_THAT(changes.reviews, IsEmpty());
  EXPECT_THAT(changes.frozen_cycles, IsEmpty());
  EXPECT_EQ(changes.latest_sequence, 0);
  OKR_ASSERT_OK_AND_ASSIGN(auto found, store_->FindCheckIn("nobody", "kr", "key"));
  EXPECT_FALSE(found.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("nobody", Query("kr")));
  EXPECT_THAT(page.check_ins, IsEmpty());
  EXPECT_EQ(page.total_size, 0);
  EXPECT_EQ(page.next_page_token, "");
}

TEST_P(TrackingStoreConformance, AppendNumbersEachOrganisationOnItsOwn) {
  std::vector<int64_t> acme, globex;
  acme.push_back(MustAppend(*store_, "acme", CheckIn("kr1", "a", At(1))));
  globex.push_back(MustAppend(*store_, "globex", CheckIn("kr1", "a", At(1))));
  acme.push_back(MustAppend(*store_, "acme", CheckIn("kr1", "b", At(2))));
  acme.push_back(MustAppend(*store_, "acme", CheckIn("kr2", "c", At(3))));
  globex.push_back(MustAppend(*store_, "globex", CheckIn("kr9", "z", At(0))));
  EXPECT_THAT(acme, ElementsAre(1, 2, 3));
  EXPECT_THAT(globex, ElementsAre(1, 2));
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 3);
  OKR_ASSERT_OK_AND_ASSIGN(latest, store_->LatestSequence("globex"));
  EXPECT_EQ(latest, 2);
}

TEST_P(TrackingStoreConformance, AppendKeepsEveryField) {
  // Every combination of the three flags, so none is stored in another's place.
  std::vector<StoredCheckIn> sent;
  for (unsigned carries = 0; carries < 8; ++carries) {
    sent.push_back(CheckIn("kr1", absl::StrCat("key-", carries), At(carries), carries));
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    OKR_ASSERT_OK_AND_ASSIGN(AppendResult result, store_->AppendCheckIn("acme", sent[i]));
    EXPECT_FALSE(result.replayed);
    EXPECT_EQ(Tuple(result.check_in), WithSequence(sent[i], int64_t(i) + 1));
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredCheckIn> found,
                             store_->FindCheckIn("acme", "kr1", sent[i].client_key));
    ASSERT_TRUE(found.has_value()) << sent[i].client_key;
    EXPECT_EQ(Tuple(*found), WithSequence(sent[i], int64_t(i) + 1));
  }
  // The key is (organisation, key result, client_key): each part counts.
  OKR_ASSERT_OK_AND_ASSIGN(auto missing, store_->FindCheckIn("acme", "kr2", "key-1"));
  EXPECT_FALSE(missing.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(missing, store_->FindCheckIn("acme", "kr1", "key-9"));
  EXPECT_FALSE(missing.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(missing, store_->FindCheckIn("globex", "kr1", "key-1"));
  EXPECT_FALSE(missing.has_value());
}

TEST_P(TrackingStoreConformance, SameClientKeyReplaysTheStoredCheckIn) {
  const StoredCheckIn first = CheckIn("kr1", "retry-me", At(10), kValue);
  MustAppend(*store_, "acme", first);

  StoredCheckIn retry = CheckIn("kr1", "retry-me", At(99), kDone | kSignal);
  retry.id = "ci-other";
  retry.fingerprint = "another content";
  retry.body = "another body";
  OKR_ASSERT_OK_AND_ASSIGN(AppendResult replay, store_->AppendCheckIn("acme", retry));
  EXPECT_TRUE(replay.replayed);
  // The stored row, whatever the retry carried: the caller compares
  // fingerprints.
  EXPECT_EQ(Tuple(replay.check_in), WithSequence(first, 1));

  // A replay takes no sequence number and writes nothing.
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 1);
  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("acme", Query("kr1")));
  EXPECT_EQ(page.total_size, 1);

  // The same client_key on another key result or in another organisation is
  // another check-in.
  EXPECT_EQ(MustAppend(*store_, "acme", CheckIn("kr2", "retry-me", At(11))), 2);
  EXPECT_EQ(MustAppend(*store_, "globex", CheckIn("kr1", "retry-me", At(11))), 1);
}

TEST_P(TrackingStoreConformance, AppendRefusesMissingFieldsAndWritesNothing) {
  struct Case {
    std::string org;
    StoredCheckIn check_in;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({"", CheckIn("kr1", "k", At(1)), "organisation_id"});
  StoredCheckIn c = CheckIn("kr1", "k", At(1));
  c.id.clear();
  cases.push_back({"acme", c, "check_in.id"});
  c = CheckIn("", "k", At(1));
  cases.push_back({"acme", c, "check_in.key_result_id"});
  c = CheckIn("kr1", "", At(1));
  cases.push_back({"acme", c, "check_in.client_key"});
  cases.push_back({"acme", CheckIn("kr1", "k", absl::InfiniteFuture()), "check_in.time"});
  cases.push_back({"acme", CheckIn("kr1", "k", absl::InfinitePast()), "check_in.time"});
  for (const Case& test : cases) {
    absl::StatusOr<AppendResult> result = store_->AppendCheckIn(test.org, test.check_in);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << test.field << ": " << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(test.field));
  }
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 0);
}

TEST_P(TrackingStoreConformance, ListIsNewestFirstWithHalfOpenTimeFilters) {
  // Arrival order differs from time order; two share a time.
  MustAppend(*store_, "acme", CheckIn("kr1", "t30", At(30)));    // 1
  MustAppend(*store_, "acme", CheckIn("kr1", "t10", At(10)));    // 2
  MustAppend(*store_, "acme", CheckIn("kr1", "t20a", At(20)));   // 3
  MustAppend(*store_, "acme", CheckIn("kr1", "t20b", At(20)));   // 4
  MustAppend(*store_, "acme", CheckIn("kr2", "other", At(25)));  // 5
  MustAppend(*store_, "acme", CheckIn("kr1", "t5", At(5)));      // 6

  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("acme", Query("kr1")));
  // Newest first; at equal times the later sequence first.
  EXPECT_THAT(Sequences(page.check_ins), ElementsAre(1, 4, 3, 2, 6));
  EXPECT_EQ(page.total_size, 5);
  EXPECT_EQ(page.next_page_token, "");
  EXPECT_EQ(page.check_ins[1].client_key, "t20b");

  CheckInQuery window = Query("kr1");
  window.start_time = At(10);  // inclusive
  window.end_time = At(30);    // exclusive
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListCheckIns("acme", window));
  EXPECT_THAT(Sequences(page.check_ins), ElementsAre(4, 3, 2));
  EXPECT_EQ(page.total_size, 3);

  CheckInQuery since = Query("kr1");
  since.start_time = At(20);
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListCheckIns("acme", since));
  EXPECT_THAT(Sequences(page.check_ins), ElementsAre(1, 4, 3));

  CheckInQuery before = Query("kr1");
  before.end_time = At(20);
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListCheckIns("acme", before));
  EXPECT_THAT(Sequences(page.check_ins), ElementsAre(2, 6));
  EXPECT_EQ(page.total_size, 2);

  CheckInQuery empty = Query("kr1");
  empty.start_time = At(31);
  empty.end_time = At(31);
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListCheckIns("acme", empty));
  EXPECT_THAT(page.check_ins, IsEmpty());
  EXPECT_EQ(page.total_size, 0);

  CheckInQuery backwards = Query("kr1");
  backwards.start_time = At(30);
  backwards.end_time = At(10);
  EXPECT_EQ(store_->ListCheckIns("acme", backwards).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreConformance, PagesCoverEveryCheckInOnceInOrder) {
  constexpr int kCount = 23;
  std::vector<std::tuple<absl::Time, int64_t>> want_keys;
  for (int i = 0; i < kCount; ++i) {
    // Repeating times, out of arrival order.
    const absl::Time time = At((i * 7) % 5);
    const int64_t sequence =
        MustAppend(*store_, "acme", CheckIn("kr1", absl::StrCat("k", i), time));
    want_keys.emplace_back(time, sequence);
    MustAppend(*store_, "acme", CheckIn("noise", absl::StrCat("k", i), time));
  }
  std::sort(want_keys.rbegin(), want_keys.rend());  // newest first

  for (int page_size : {1, 5, 22, 23, 500}) {
    std::vector<StoredCheckIn> all = AllPages(*store_, "acme", Query("kr1", page_size), kCount);
    std::vector<std::tuple<absl::Time, int64_t>> got_keys;
    for (const StoredCheckIn& c : all) {
      EXPECT_EQ(c.key_result_id, "kr1");
      got_keys.emplace_back(c.time, c.sequence);
    }
    EXPECT_EQ(got_keys, want_keys) << "page_size " << page_size;
  }

  // With a time filter, across pages.
  CheckInQuery window = Query("kr1", 2);
  window.start_time = At(1);
  window.end_time = At(3);
  std::vector<int64_t> want_window;
  for (const auto& [time, sequence] : want_keys) {
    if (time >= At(1) && time < At(3)) want_window.push_back(sequence);
  }
  std::vector<StoredCheckIn> all =
      AllPages(*store_, "acme", window, static_cast<int64_t>(want_window.size()));
  EXPECT_THAT(Sequences(all), ElementsAreArray(want_window));
}

TEST_P(TrackingStoreConformance, PageTokensAreKeyBasedAndSurviveAppends) {
  for (int i = 0; i < 6; ++i) {
    MustAppend(*store_, "acme", CheckIn("kr1", absl::StrCat("k", i), At(10 + i)));  // 1..6
  }
  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage first, store_->ListCheckIns("acme", Query("kr1", 2)));
  EXPECT_THAT(Sequences(first.check_ins), ElementsAre(6, 5));
  ASSERT_NE(first.next_page_token, "");

  // A newer and an older check-in arrive between pages: the newer one is
  // before the cursor and stays out, the older one comes at the end, and
  // nothing is repeated or skipped.
  MustAppend(*store_, "acme", CheckIn("kr1", "newest", At(100)));  // 7
  MustAppend(*store_, "acme", CheckIn("kr1", "oldest", At(0)));    // 8
  CheckInQuery next = Query("kr1", 3);  // the page size may change
  next.page_token = first.next_page_token;
  std::vector<int64_t> rest;
  while (true) {
    OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("acme", next));
    EXPECT_EQ(page.total_size, 8);
    for (const StoredCheckIn& c : page.check_ins) rest.push_back(c.sequence);
    if (page.next_page_token.empty()) break;
    next.page_token = page.next_page_token;
  }
  EXPECT_THAT(rest, ElementsAre(4, 3, 2, 1, 8));
}

TEST_P(TrackingStoreConformance, ForeignPageTokensAreInvalidArgument) {
  for (int i = 0; i < 4; ++i) {
    MustAppend(*store_, "acme", CheckIn("kr1", absl::StrCat("k", i), At(i)));
    MustAppend(*store_, "acme", CheckIn("kr2", absl::StrCat("k", i), At(i)));
    MustAppend(*store_, "globex", CheckIn("kr1", absl::StrCat("k", i), At(i)));
  }
  CheckInQuery windowed = Query("kr1", 1);
  windowed.start_time = At(1);
  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("acme", windowed));
  const std::string token = page.next_page_token;
  ASSERT_NE(token, "");

  auto with_token = [](CheckInQuery query, std::string page_token) {
    query.page_token = std::move(page_token);
    return query;
  };
  CheckInQuery other_start = windowed;
  other_start.start_time = At(0);
  CheckInQuery other_end = windowed;
  other_end.end_time = At(3);
  struct Case {
    std::string what;
    std::string org;
    CheckInQuery query;
  };
  const std::vector<Case> cases = {
      {"garbage", "acme", with_token(windowed, "not a token")},
      {"base64 of garbage", "acme", with_token(windowed, absl::WebSafeBase64Escape("x|y|z|w"))},
      {"truncated", "acme", with_token(windowed, token.substr(0, token.size() / 2))},
      {"other key result", "acme", with_token(Query("kr2", 1), token)},
      {"other start_time", "acme", with_token(other_start, token)},
      {"other end_time", "acme", with_token(other_end, token)},
      {"other organisation", "globex", with_token(windowed, token)},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CheckInPage> bad = store_->ListCheckIns(c.org, c.query);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what << ": " << bad.status();
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr("page_token: ")) << c.what;
  }
  // The token still works for its own query, with any page size.
  CheckInQuery own = with_token(windowed, token);
  own.page_size = 10;
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListCheckIns("acme", own));
  EXPECT_EQ(page.check_ins.size(), 2u);
}

TEST_P(TrackingStoreConformance, ReviewsAreCreatedAndReplacedByVersion) {
  StoredReview mid = Review("o1", ReviewKind::kMidQuarter, "mid-1");
  mid.version = 42;    // ignored
  mid.sequence = 99;   // ignored
  OKR_ASSERT_OK_AND_ASSIGN(StoredReview created, store_->PutReview("acme", mid, 0));
  EXPECT_EQ(created.version, 1);
  EXPECT_EQ(created.sequence, 1);
  EXPECT_EQ(created.objective_id, "o1");
  EXPECT_EQ(created.cycle_id, "q1");
  EXPECT_EQ(created.body, BinaryBody("mid-1"));

  // Creating again: ABORTED, naming the version.
  absl::StatusOr<StoredReview> again =
      store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "dup"), 0);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted) << again.status();
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("version"));

  OKR_ASSERT_OK_AND_ASSIGN(
      StoredReview replaced,
      store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "mid-2"), 1));
  EXPECT_EQ(replaced.version, 2);
  EXPECT_EQ(replaced.sequence, 2);

  // Stale and future versions, and replacing what does not exist.
  for (int64_t version : {1, 3, 7}) {
    absl::StatusOr<StoredReview> stale =
        store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "stale"), version);
    EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << version;
  }
  absl::StatusOr<StoredReview> missing =
      store_->PutReview("acme", Review("o2", ReviewKind::kMidQuarter, "none"), 1);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kAborted) << missing.status();

  // The other kind of the same objective is another review.
  OKR_ASSERT_OK_AND_ASSIGN(
      StoredReview end,
      store_->PutReview("acme", Review("o1", ReviewKind::kEndOfQuarter, "end"), 0));
  EXPECT_EQ(end.version, 1);
  EXPECT_EQ(end.sequence, 3);

  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store_->LoadOrganisation("acme"));
  EXPECT_EQ(snapshot.latest_sequence, 3);  // refused writes took no sequence
  EXPECT_THAT(ReviewTuples(snapshot.reviews),
              ElementsAre(ReviewTuple("o1", ReviewKind::kMidQuarter, 2, 2, BinaryBody("mid-2")),
                          ReviewTuple("o1", ReviewKind::kEndOfQuarter, 1, 3, BinaryBody("end"))));
}

TEST_P(TrackingStoreConformance, ReviewRefusesMissingFields) {
  struct Case {
    std::string org;
    StoredReview review;
    int64_t version;
    std::string field;
  };
  StoredReview no_cycle = Review("o1", ReviewKind::kMidQuarter, "x");
  no_cycle.cycle_id.clear();
  const std::vector<Case> cases = {
      {"", Review("o1", ReviewKind::kMidQuarter, "x"), 0, "organisation_id"},
      {"acme", Review("", ReviewKind::kMidQuarter, "x"), 0, "review.objective_id"},
      {"acme", Review("o1", ReviewKind::kUnspecified, "x"), 0, "review.kind"},
      {"acme", no_cycle, 0, "review.cycle_id"},
      {"acme", Review("o1", ReviewKind::kMidQuarter, "x"), -1, "version"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<StoredReview> result = store_->PutReview(c.org, c.review, c.version);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.field));
  }
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 0);
}

TEST_P(TrackingStoreConformance, CycleIsFrozenOnce) {
  MustAppend(*store_, "acme", CheckIn("kr1", "k", At(1)));  // 1
  const FrozenCycle freeze = Freeze("q1", {"o1", "kr1", "o2", "kr2"});
  OKR_ASSERT_OK_AND_ASSIGN(FrozenCycle first, store_->FreezeCycle("acme", freeze));
  EXPECT_EQ(first.sequence, 2);
  EXPECT_EQ(first.cycle_id, "q1");
  EXPECT_EQ(first.freeze_time, freeze.freeze_time);
  EXPECT_EQ(ScoreTuples(first), ScoreTuples(freeze));

  // A retried close with other scores gets the first freeze back.
  FrozenCycle retry = Freeze("q1", {"o9"});
  retry.freeze_time = At(1000);
  OKR_ASSERT_OK_AND_ASSIGN(FrozenCycle second, store_->FreezeCycle("acme", retry));
  EXPECT_EQ(second.sequence, 2);
  EXPECT_EQ(second.freeze_time, freeze.freeze_time);
  EXPECT_EQ(ScoreTuples(second), ScoreTuples(freeze));
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, 2);

  // Another cycle, even with no scores, is another freeze.
  OKR_ASSERT_OK_AND_ASSIGN(FrozenCycle other, store_->FreezeCycle("acme", Freeze("q2", {})));
  EXPECT_EQ(other.sequence, 3);

  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store_->LoadOrganisation("acme"));
  ASSERT_EQ(snapshot.frozen_cycles.size(), 2u);
  EXPECT_EQ(snapshot.frozen_cycles[0].cycle_id, "q1");
  EXPECT_EQ(snapshot.frozen_cycles[0].sequence, 2);
  EXPECT_EQ(snapshot.frozen_cycles[0].freeze_time, freeze.freeze_time);
  EXPECT_EQ(ScoreTuples(snapshot.frozen_cycles[0]), ScoreTuples(freeze));
  EXPECT_EQ(snapshot.frozen_cycles[1].cycle_id, "q2");
  EXPECT_THAT(snapshot.frozen_cycles[1].scores, IsEmpty());
}

TEST_P(TrackingStoreConformance, FreezeRefusesBadScores) {
  FrozenCycle duplicate = Freeze("q1", {"o1", "kr1", "o1"});
  FrozenCycle wrong_kind = Freeze("q1", {"o1"});
  wrong_kind.scores[0].kind = ResourceKind::kCycle;
  FrozenCycle no_id = Freeze("q1", {""});
  FrozenCycle no_cycle = Freeze("", {"o1"});
  FrozenCycle no_time = Freeze("q1", {"o1"});
  no_time.freeze_time = absl::InfiniteFuture();
  struct Case {
    FrozenCycle cycle;
    std::string field;
  };
  for (const Case& c :
       {Case{duplicate, "cycle.scores[2].id"}, Case{wrong_kind, "cycle.scores[0].kind"},
        Case{no_id, "cycle.scores[0].id"}, Case{no_cycle, "cycle.cycle_id"},
        Case{no_time, "cycle.freeze_time"}}) {
    absl::StatusOr<FrozenCycle> result = store_->FreezeCycle("acme", c.cycle);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.field));
  }
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store_->LoadOrganisation("acme"));
  EXPECT_THAT(snapshot.frozen_cycles, IsEmpty());
}

TEST_P(TrackingStoreConformance, LoadOrganisationKeepsTheLatestOfEachKind) {
  // Metric "m": a check-in older than the newest arrives after it, and an
  // even older one last.
  MustAppend(*store_, "acme", CheckIn("m", "s1", At(10), kValue | kSignal));  // 1
  MustAppend(*store_, "acme", CheckIn("m", "s2", At(30), kValue));           // 2
  MustAppend(*store_, "acme", CheckIn("m", "s3", At(20), kSignal));          // 3
  MustAppend(*store_, "acme", CheckIn("m", "s4", At(5), kValue | kSignal));   // 4
  // Milestone "ms": a tie on time goes to the later sequence.
  MustAppend(*store_, "acme", CheckIn("ms", "s5", At(10), kSignal));  // 5
  MustAppend(*store_, "acme", CheckIn("ms", "s6", At(10), kDone));    // 6
  MustAppend(*store_, "acme", CheckIn("ms", "s7", At(15), kSignal));  // 7
  MustAppend(*store_, "acme", CheckIn("ms", "s8", At(12), kDone));    // 8
  // "tie": two values at one time.
  MustAppend(*store_, "acme", CheckIn("tie", "s9", At(50), kValue));   // 9
  MustAppend(*store_, "acme", CheckIn("tie", "s10", At(50), kValue));  // 10
  // "note": carries nothing but is still the latest.
  MustAppend(*store_, "acme", CheckIn("note", "s11", At(1), kNothing));  // 11
  // Another organisation's check-ins stay out.
  MustAppend(*store_, "globex", CheckIn("m", "g1", At(99), kValue | kDone | kSignal));

  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store_->LoadOrganisation("acme"));
  EXPECT_EQ(snapshot.latest_sequence, 11);
  ASSERT_EQ(snapshot.key_results.size(), 4u);
  const KeyResultHistory& m = snapshot.key_results[0];
  EXPECT_EQ(m.key_result_id, "m");
  EXPECT_EQ(m.check_in_count, 4);
  EXPECT_EQ(m.last_time, At(30));
  // s2: latest of all and latest value; s3: latest signal. Newest first.
  EXPECT_THAT(Sequences(m.latest), ElementsAre(2, 3));
  EXPECT_EQ(Tuple(m.latest[1]), WithSequence(CheckIn("m", "s3", At(20), kSignal), 3));

  const KeyResultHistory& ms = snapshot.key_results[1];
  EXPECT_EQ(ms.key_result_id, "ms");
  EXPECT_EQ(ms.check_in_count, 4);
  EXPECT_EQ(ms.last_time, At(15));
  EXPECT_THAT(Sequences(ms.latest), ElementsAre(7, 8));  // s7 signal+latest, s8 done

  const KeyResultHistory& note = snapshot.key_results[2];
  EXPECT_EQ(note.key_result_id, "note");
  EXPECT_EQ(note.check_in_count, 1);
  EXPECT_EQ(note.last_time, At(1));
  EXPECT_THAT(Sequences(note.latest), ElementsAre(11));

  const KeyResultHistory& tie = snapshot.key_results[3];
  EXPECT_EQ(tie.key_result_id, "tie");
  EXPECT_EQ(tie.check_in_count, 2);
  EXPECT_THAT(Sequences(tie.latest), ElementsAre(10));

  // A newer done on "ms" replaces only the done entry and the latest.
  MustAppend(*store_, "acme", CheckIn("ms", "s12", At(40), kDone));  // 12
  OKR_ASSERT_OK_AND_ASSIGN(snapshot, store_->LoadOrganisation("acme"));
  EXPECT_THAT(Sequences(snapshot.key_results[1].latest), ElementsAre(12, 7));
  EXPECT_EQ(snapshot.key_results[1].check_in_count, 5);
  EXPECT_EQ(snapshot.key_results[1].last_time, At(40));
}

TEST_P(TrackingStoreConformance, ChangesAfterIsInSequenceOrderAndLimited) {
  MustAppend(*store_, "acme", CheckIn("kr1", "a", At(1)));                          // 1
  OKR_ASSERT_OK(store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "v1"), 0)
                    .status());                                                      // 2
  MustAppend(*store_, "acme", CheckIn("kr2", "b", At(2)));                          // 3
  OKR_ASSERT_OK(store_->FreezeCycle("acme", Freeze("q0", {"o0"})).status());        // 4
  OKR_ASSERT_OK(store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "v2"), 1)
                    .status());                                                      // 5
  MustAppend(*store_, "acme", CheckIn("kr1", "c", At(0)));                          // 6
  OKR_ASSERT_OK(store_->PutReview("acme", Review("o2", ReviewKind::kEndOfQuarter, "e"), 0)
                    .status());                                                      // 7
  MustAppend(*store_, "globex", CheckIn("kr1", "a", At(1)));

  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges all, store_->ChangesAfter("acme", 0, 100));
  EXPECT_EQ(all.latest_sequence, 7);
  EXPECT_THAT(Sequences(all.check_ins), ElementsAre(1, 3, 6));
  EXPECT_EQ(Tuple(all.check_ins[2]), WithSequence(CheckIn("kr1", "c", At(0)), 6));
  // A review rewritten shows once, as its current row.
  EXPECT_THAT(ReviewTuples(all.reviews),
              ElementsAre(ReviewTuple("o1", ReviewKind::kMidQuarter, 2, 5, BinaryBody("v2")),
                          ReviewTuple("o2", ReviewKind::kEndOfQuarter, 1, 7, BinaryBody("e"))));
  ASSERT_EQ(all.frozen_cycles.size(), 1u);
  EXPECT_EQ(all.frozen_cycles[0].sequence, 4);
  EXPECT_EQ(ScoreTuples(all.frozen_cycles[0]), ScoreTuples(Freeze("q0", {"o0"})));

  // The limit counts every kind together.
  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges page, store_->ChangesAfter("acme", 0, 2));
  EXPECT_THAT(Sequences(page.check_ins), ElementsAre(1, 3));
  EXPECT_THAT(page.reviews, IsEmpty());
  EXPECT_THAT(page.frozen_cycles, IsEmpty());
  EXPECT_EQ(page.latest_sequence, 7);
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ChangesAfter("acme", 3, 2));
  EXPECT_THAT(page.check_ins, IsEmpty());
  ASSERT_EQ(page.frozen_cycles.size(), 1u);
  EXPECT_EQ(page.frozen_cycles[0].sequence, 4);
  ASSERT_EQ(page.reviews.size(), 1u);
  EXPECT_EQ(page.reviews[0].sequence, 5);
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ChangesAfter("acme", 7, 10));
  EXPECT_THAT(page.check_ins, IsEmpty());
  EXPECT_THAT(page.reviews, IsEmpty());
  EXPECT_THAT(page.frozen_cycles, IsEmpty());
  EXPECT_EQ(page.latest_sequence, 7);

  // A replica catching up one write at a time sees every live write once.
  std::vector<int64_t> seen;
  int64_t after = 0;
  for (int round = 0; round < 20 && after < 7; ++round) {
    OKR_ASSERT_OK_AND_ASSIGN(page, store_->ChangesAfter("acme", after, 1));
    const size_t count = page.check_ins.size() + page.reviews.size() + page.frozen_cycles.size();
    ASSERT_EQ(count, 1u) << "after " << after;
    for (const StoredCheckIn& c : page.check_ins) after = c.sequence;
    for (const StoredReview& r : page.reviews) after = r.sequence;
    for (const FrozenCycle& f : page.frozen_cycles) after = f.sequence;
    seen.push_back(after);
  }
  EXPECT_THAT(seen, ElementsAre(1, 3, 4, 5, 6, 7));

  EXPECT_EQ(store_->ChangesAfter("acme", 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(TrackingStoreConformance, OrganisationsAreIsolated) {
  StoredCheckIn acme_check_in = CheckIn("kr1", "same-key", At(1));
  StoredCheckIn globex_check_in = CheckIn("kr1", "same-key", At(2), kDone);
  globex_check_in.body = "globex's";
  MustAppend(*store_, "acme", acme_check_in);
  MustAppend(*store_, "globex", globex_check_in);
  OKR_ASSERT_OK(store_->PutReview("acme", Review("o1", ReviewKind::kMidQuarter, "acme"), 0)
                    .status());
  OKR_ASSERT_OK(store_->PutReview("globex", Review("o1", ReviewKind::kMidQuarter, "globex"), 0)
                    .status());
  OKR_ASSERT_OK(store_->FreezeCycle("acme", Freeze("q1", {"acme-o"})).status());
  OKR_ASSERT_OK_AND_ASSIGN(FrozenCycle globex_freeze,
                           store_->FreezeCycle("globex", Freeze("q1", {"globex-o"})));
  EXPECT_EQ(globex_freeze.scores[0].id, "globex-o");

  OKR_ASSERT_OK_AND_ASSIGN(auto found, store_->FindCheckIn("globex", "kr1", "same-key"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->body, "globex's");
  OKR_ASSERT_OK_AND_ASSIGN(CheckInPage page, store_->ListCheckIns("acme", Query("kr1")));
  ASSERT_EQ(page.check_ins.size(), 1u);
  EXPECT_EQ(Tuple(page.check_ins[0]), WithSequence(acme_check_in, 1));

  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot acme, store_->LoadOrganisation("acme"));
  EXPECT_EQ(acme.latest_sequence, 3);
  ASSERT_EQ(acme.key_results.size(), 1u);
  EXPECT_EQ(acme.key_results[0].latest[0].body, acme_check_in.body);
  ASSERT_EQ(acme.reviews.size(), 1u);
  EXPECT_EQ(acme.reviews[0].body, BinaryBody("acme"));
  ASSERT_EQ(acme.frozen_cycles.size(), 1u);
  EXPECT_EQ(acme.frozen_cycles[0].scores[0].id, "acme-o");

  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges changes, store_->ChangesAfter("globex", 0, 100));
  EXPECT_EQ(changes.check_ins.size(), 1u);
  EXPECT_EQ(changes.reviews.size(), 1u);
  EXPECT_EQ(changes.reviews[0].body, BinaryBody("globex"));
  EXPECT_EQ(changes.frozen_cycles.size(), 1u);
}

TEST_P(TrackingStoreConformance, EverythingSurvivesReopen) {
  if (!GetParam().durable) GTEST_SKIP() << "the backend keeps nothing across objects";
  const StoredCheckIn check_in = CheckIn("kr1", "k1", At(7), kValue | kSignal);
  MustAppend(*store_, "acme", check_in);
  OKR_ASSERT_OK(store_->PutReview("acme", Review("o1", ReviewKind::kEndOfQuarter, "r"), 0)
                    .status());
  OKR_ASSERT_OK(store_->FreezeCycle("acme", Freeze("q1", {"o1", "kr1"})).status());
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot before, store_->LoadOrganisation("acme"));

  Reopen();
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot after, store_->LoadOrganisation("acme"));
  EXPECT_EQ(after.latest_sequence, 3);
  ASSERT_EQ(after.key_results.size(), 1u);
  ASSERT_EQ(after.key_results[0].latest.size(), 1u);
  EXPECT_EQ(Tuple(after.key_results[0].latest[0]), WithSequence(check_in, 1));
  EXPECT_EQ(ReviewTuples(after.reviews), ReviewTuples(before.reviews));
  ASSERT_EQ(after.frozen_cycles.size(), 1u);
  EXPECT_EQ(ScoreTuples(after.frozen_cycles[0]), ScoreTuples(Freeze("q1", {"o1", "kr1"})));

  // The sequence and the idempotency keys carry on.
  OKR_ASSERT_OK_AND_ASSIGN(AppendResult replay, store_->AppendCheckIn("acme", check_in));
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(MustAppend(*store_, "acme", CheckIn("kr1", "k2", At(8))), 4);
}

TEST_P(TrackingStoreConformance, ConcurrentAppendsGetDistinctContiguousSequences) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::vector<int64_t>> sequences(kThreads);
  std::vector<std::string> errors(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<AppendResult> result = store_->AppendCheckIn(
            "acme", CheckIn(absl::StrCat("kr", i % 3), absl::StrCat("t", t, "-", i), At(i)));
        if (!result.ok() || result->replayed) {
          errors[t] = result.ok() ? "replayed" : result.status().ToString();
          return;
        }
        sequences[t].push_back(result->check_in.sequence);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    // Each caller's own appends are numbered in the order it made them.
    EXPECT_TRUE(std::is_sorted(sequences[t].begin(), sequences[t].end())) << "thread " << t;
    all.insert(sequences[t].begin(), sequences[t].end());
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread}) << "sequences were reused";
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges changes,
                           store_->ChangesAfter("acme", 0, kThreads * kPerThread + 1));
  EXPECT_EQ(changes.check_ins.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(changes.latest_sequence, kThreads * kPerThread);
}

TEST_P(TrackingStoreConformance, RacingSameClientKeyStoresOneAndReplaysTheRest) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = absl::StrCat("racy-", round);
    std::vector<absl::StatusOr<AppendResult>> results(kThreads,
                                                      absl::UnknownError("not run"));
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        StoredCheckIn check_in = CheckIn("kr1", key, At(t));
        check_in.fingerprint = absl::StrCat("thread-", t);
        start.arrive_and_wait();
        results[t] = store_->AppendCheckIn("acme", check_in);
      });
    }
    for (std::thread& thread : threads) thread.join();
    int stored = 0;
    std::string winner;
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_TRUE(results[t].ok()) << "round " << round << ": " << results[t].status();
      if (!results[t]->replayed) {
        ++stored;
        winner = results[t]->check_in.fingerprint;
        EXPECT_EQ(winner, absl::StrCat("thread-", t));
      }
    }
    EXPECT_EQ(stored, 1) << "round " << round;
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(results[t]->check_in.fingerprint, winner) << "round " << round;
      EXPECT_EQ(results[t]->check_in.sequence, round + 1) << "round " << round;
    }
  }
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store_->LatestSequence("acme"));
  EXPECT_EQ(latest, kRounds);
}

}  // namespace
}  // namespace okr::tracking
