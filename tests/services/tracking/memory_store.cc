#include "tests/services/tracking/memory_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace okr::tracking {
namespace {

// The SQLite store keeps whole nanoseconds; so does the fake, so that both
// return the same times.
absl::Time ToNanos(absl::Time t) { return absl::FromUnixNanos(absl::ToUnixNanos(t)); }

// Newest first: by time, then by sequence.
bool Newer(const StoredCheckIn& a, const StoredCheckIn& b) {
  return std::tie(a.time, a.sequence) > std::tie(b.time, b.sequence);
}

}  // namespace

void MemoryTrackingStore::set_failure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

int MemoryTrackingStore::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

absl::StatusOr<AppendResult> MemoryTrackingStore::AppendCheckIn(
    absl::string_view organisation_id, const StoredCheckIn& check_in) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  OKR_RETURN_IF_ERROR(ValidateCheckInForAppend(organisation_id, check_in));
  Org& org = orgs_[std::string(organisation_id)];
  auto [it, inserted] =
      org.by_client_key.try_emplace({check_in.key_result_id, check_in.client_key},
                                    org.check_ins.size());
  if (!inserted) return AppendResult{org.check_ins[it->second], true};
  StoredCheckIn stored = check_in;
  stored.sequence = ++org.latest;
  stored.time = ToNanos(check_in.time);
  org.check_ins.push_back(stored);
  ++writes_;
  return AppendResult{std::move(stored), false};
}

absl::StatusOr<std::optional<StoredCheckIn>> MemoryTrackingStore::FindCheckIn(
    absl::string_view organisation_id, absl::string_view key_result_id,
    absl::string_view client_key) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  auto org = orgs_.find(organisation_id);
  if (org == orgs_.end()) return std::nullopt;
  auto it = org->second.by_client_key.find({std::string(key_result_id), std::string(client_key)});
  if (it == org->second.by_client_key.end()) return std::nullopt;
  return org->second.check_ins[it->second];
}

absl::StatusOr<CheckInPage> MemoryTrackingStore::ListCheckIns(absl::string_view organisation_id,
                                                              const CheckInQuery& query) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  OKR_RETURN_IF_ERROR(ValidateCheckInQuery(organisation_id, query));
  OKR_ASSIGN_OR_RETURN(std::optional<CheckInCursor> cursor,
                       DecodeCheckInPageToken(organisation_id, query));
  CheckInPage page;
  auto org = orgs_.find(organisation_id);
  if (org == orgs_.end()) return page;
  std::vector<const StoredCheckIn*> matching;
  for (const StoredCheckIn& check_in : org->second.check_ins) {
    if (check_in.key_result_id == query.key_result_id && check_in.time >= query.start_time &&
        check_in.time < query.end_time) {
      matching.push_back(&check_in);
    }
  }
  page.total_size = static_cast<int64_t>(matching.size());
  std::sort(matching.begin(), matching.end(),
            [](const StoredCheckIn* a, const StoredCheckIn* b) { return Newer(*a, *b); });
  auto begin = matching.begin();
  if (cursor.has_value()) {
    // The first check-in strictly older than the cursor.
    begin = std::find_if(matching.begin(), matching.end(), [&](const StoredCheckIn* c) {
      return std::tie(c->time, c->sequence) < std::tie(cursor->time, cursor->sequence);
    });
  }
  const size_t left = static_cast<size_t>(matching.end() - begin);
  const size_t take = std::min(left, static_cast<size_t>(query.page_size));
  for (auto it = begin; it != begin + take; ++it) page.check_ins.push_back(**it);
  if (take < left) {
    const StoredCheckIn& last = page.check_ins.back();
    page.next_page_token =
        EncodeCheckInPageToken(organisation_id, query, {last.time, last.sequence});
  }
  return page;
}

absl::StatusOr<StoredReview> MemoryTrackingStore::PutReview(absl::string_view organisation_id,
                                                            const StoredReview& review,
                                                            int64_t expected_version) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  OKR_RETURN_IF_ERROR(ValidateReviewForPut(organisation_id, review, expected_version));
  Org& org = orgs_[std::string(organisation_id)];
  auto it = org.reviews.find({review.objective_id, review.kind});
  const int64_t stored_version = it == org.reviews.end() ? 0 : it->second.version;
  if (stored_version != expected_version) {
    return absl::AbortedError(absl::StrCat(
        "version: the ", Name(review.kind), " review of objective '", review.objective_id, "' ",
        it != org.reviews.end() ? absl::StrCat("is at version ", stored_version)
                                : std::string("does not exist yet"),
        ", not ", expected_version, expected_version == 0 ? " (0 creates a new one)" : "",
        "; reload it and retry with its version"));
  }
  StoredReview row = review;
  row.version = expected_version + 1;
  row.sequence = ++org.latest;
  org.reviews[{review.objective_id, review.kind}] = row;
  ++writes_;
  return row;
}

absl::StatusOr<FrozenCycle> MemoryTrackingStore::FreezeCycle(absl::string_view organisation_id,
                                                             const FrozenCycle& cycle) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  OKR_RETURN_IF_ERROR(ValidateFrozenCycle(organisation_id, cycle));
  Org& org = orgs_[std::string(organisation_id)];
  auto it = org.frozen_cycles.find(cycle.cycle_id);
  if (it != org.frozen_cycles.end()) return it->second;
  FrozenCycle row = cycle;
  row.sequence = ++org.latest;
  row.freeze_time = ToNanos(cycle.freeze_time);
  org.frozen_cycles[cycle.cycle_id] = row;
  ++writes_;
  return row;
}

absl::StatusOr<TrackingSnapshot> MemoryTrackingStore::LoadOrganisation(
    absl::string_view organisation_id) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  TrackingSnapshot snapshot;
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end()) return snapshot;
  const Org& org = it->second;
  snapshot.latest_sequence = org.latest;

  std::map<Id, std::vector<const StoredCheckIn*>> by_key_result;
  for (const StoredCheckIn& check_in : org.check_ins) {
    by_key_result[check_in.key_result_id].push_back(&check_in);
  }
  for (auto& [key_result_id, check_ins] : by_key_result) {
    std::sort(check_ins.begin(), check_ins.end(),
              [](const StoredCheckIn* a, const StoredCheckIn* b) { return Newer(*a, *b); });
    KeyResultHistory history;
    history.key_result_id = key_result_id;
    history.check_in_count = static_cast<int64_t>(check_ins.size());
    history.last_time = check_ins.front()->time;
    bool value = false, done = false, signal = false;
    for (size_t i = 0; i < check_ins.size(); ++i) {
      const StoredCheckIn& c = *check_ins[i];
      const bool wanted = i == 0 || (c.has_value && !value) || (c.has_done && !done) ||
                          (c.has_signal && !signal);
      value = value || c.has_value;
      done = done || c.has_done;
      signal = signal || c.has_signal;
      if (wanted) history.latest.push_back(c);
    }
    snapshot.key_results.push_back(std::move(history));
  }

  for (const auto& [key, review] : org.reviews) snapshot.reviews.push_back(review);
  std::sort(snapshot.reviews.begin(), snapshot.reviews.end(),
            [](const StoredReview& a, const StoredReview& b) { return a.sequence < b.sequence; });
  for (const auto& [id, cycle] : org.frozen_cycles) snapshot.frozen_cycles.push_back(cycle);
  std::sort(snapshot.frozen_cycles.begin(), snapshot.frozen_cycles.end(),
            [](const FrozenCycle& a, const FrozenCycle& b) { return a.sequence < b.sequence; });
  return snapshot;
}

absl::StatusOr<TrackingChanges> MemoryTrackingStore::ChangesAfter(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  if (limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be positive, got ", limit));
  }
  TrackingChanges changes;
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end()) return changes;
  const Org& org = it->second;
  changes.latest_sequence = org.latest;

  // Sequences are unique across the three kinds: the limit-th one after
  // after_sequence bounds the page.
  std::vector<int64_t> sequences;
  for (const StoredCheckIn& c : org.check_ins) sequences.push_back(c.sequence);
  for (const auto& [key, review] : org.reviews) sequences.push_back(review.sequence);
  for (const auto& [id, cycle] : org.frozen_cycles) sequences.push_back(cycle.sequence);
  std::sort(sequences.begin(), sequences.end());
  auto first = std::upper_bound(sequences.begin(), sequences.end(), after_sequence);
  if (first == sequences.end()) return changes;
  const int64_t up_to = sequences.end() - first > limit ? first[limit - 1] : sequences.back();
  auto in_page = [&](int64_t s) { return s > after_sequence && s <= up_to; };

  for (const StoredCheckIn& c : org.check_ins) {
    if (in_page(c.sequence)) changes.check_ins.push_back(c);
  }
  for (const auto& [key, review] : org.reviews) {
    if (in_page(review.sequence)) changes.reviews.push_back(review);
  }
  std::sort(changes.reviews.begin(), changes.reviews.end(),
            [](const StoredReview& a, const StoredReview& b) { return a.sequence < b.sequence; });
  for (const auto& [id, cycle] : org.frozen_cycles) {
    if (in_page(cycle.sequence)) changes.frozen_cycles.push_back(cycle);
  }
  std::sort(changes.frozen_cycles.begin(), changes.frozen_cycles.end(),
            [](const FrozenCycle& a, const FrozenCycle& b) { return a.sequence < b.sequence; });
  return changes;
}

absl::StatusOr<int64_t> MemoryTrackingStore::LatestSequence(absl::string_view organisation_id) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  auto it = orgs_.find(organisation_id);
  return it == orgs_.end() ? 0 : it->second.latest;
}

}  // namespace okr::tracking
