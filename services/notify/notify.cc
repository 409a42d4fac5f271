// The notify use-cases. See notify.h for what each step of a run does and
// docs/ARCHITECTURE.md ("Notify service") for the decisions behind them.
#include "services/notify/notify.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/model_proto.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/notify/cadence.h"
#include "services/notify/webhook.h"

namespace okr::notify {

struct Notify::Org {
  explicit Org(std::string organisation_id) : id(std::move(organisation_id)) {}

  const std::string id;
  // Serialises plan refreshes and runs of this organisation in this process
  // (replicas are kept apart by the store's claims).
  absl::Mutex mu;
  planning::OrgState plan ABSL_GUARDED_BY(mu);
};

namespace {

using v1::ReminderKind;

constexpr ReminderKind kAllKinds[] = {
    v1::REMINDER_KIND_WEEKLY_CHECK_IN, v1::REMINDER_KIND_MID_QUARTER_REVIEW,
    v1::REMINDER_KIND_END_OF_QUARTER_REVIEW, v1::REMINDER_KIND_PLANNING_MILESTONE};

constexpr int kMaxDisplayName = 200;
constexpr int kSampleLimit = 100;
// Unpublished reminders of earlier runs are retried this many at a time, up
// to kMaxRepublishPages pages per run; the rest wait for the next run.
constexpr int kRepublishBatch = 5000;
constexpr int kMaxRepublishPages = 40;
// Reminders published, logged and marked together.
constexpr size_t kPublishSlice = 5000;
// Titles a reminder's text lists before "and N more".
constexpr int kTitlesInText = 3;
// Team chains longer than this are cut (planning refuses cycles; this only
// guards against a corrupt mirror).
constexpr int kMaxTeamDepth = 64;

// Ids of the reminders and Redis deliveries a run creates: "<prefix>-", 8
// base-36 digits of the Unix time in milliseconds, 4 of a process-wide
// counter and 8 drawn once per process. Later ids sort later, so the store's
// indexes on them grow at their end rather than at random places (a large
// run inserts hundreds of thousands); the counter keeps them unique within
// the process, the random part across processes.
std::string OrderedId(absl::string_view prefix) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto append = [](uint64_t value, int digits, std::string* out) {
    char buffer[16];
    for (int i = digits - 1; i >= 0; --i) {
      buffer[i] = kDigits[value % 36];
      value /= 36;
    }
    out->append(buffer, digits);
  };
  static const std::string* const kProcessPart = [&] {
    absl::BitGen gen;
    auto* part = new std::string();
    append(absl::Uniform<uint64_t>(gen, 0, uint64_t{2821109907456}), 8, part);  // 36^8
    return part;
  }();
  static std::atomic<uint64_t> counter{0};
  const int64_t millis = std::max<int64_t>(0, absl::ToUnixMillis(absl::Now()));
  std::string id = absl::StrCat(prefix, "-");
  id.reserve(id.size() + 20);
  append(static_cast<uint64_t>(millis), 8, &id);  // 36^8 ms: until 2059
  append(counter.fetch_add(1, std::memory_order_relaxed), 4, &id);
  id.append(*kProcessPart);
  return id;
}

// A reminder kind as a metric label: "weekly_check_in" for
// REMINDER_KIND_WEEKLY_CHECK_IN, the number for an unknown kind.
std::string KindLabel(int kind) {
  std::string name = v1::ReminderKind_Name(static_cast<ReminderKind>(kind));
  if (name.empty()) return absl::StrCat(kind);
  absl::string_view view = name;
  absl::ConsumePrefix(&view, "REMINDER_KIND_");
  return absl::AsciiStrToLower(view);
}

// Adds one run's counts (not a dry run's) to okr_reminders_found_total,
// okr_reminders_published_total and okr_reminders_failed_total by kind.
void CountRun(const absl::btree_map<int, v1::ReminderKindCounts>& counts) {
  static metrics::CounterFamily& found = metrics::Default().AddCounter(
      "okr_reminders_found_total", "Reminders found due by RunDueReminders, by kind.", {"kind"});
  static metrics::CounterFamily& published = metrics::Default().AddCounter(
      "okr_reminders_published_total",
      "Reminders published for the first time (Redis, watchers, webhook outbox), by kind.",
      {"kind"});
  static metrics::CounterFamily& failed = metrics::Default().AddCounter(
      "okr_reminders_failed_total",
      "Reminders claimed by a run that Redis did not take (the next run retries them), by kind.",
      {"kind"});
  for (const auto& [kind, count] : counts) {
    const std::string label = KindLabel(kind);
    found.WithLabels({label}).Increment(count.found());
    published.WithLabels({label}).Increment(count.published());
    failed.WithLabels({label}).Increment(count.failed());
  }
}

absl::Status NotFound(absl::string_view field, absl::string_view what) {
  return absl::NotFoundError(absl::StrCat(field, ": ", what));
}

bool KnownKind(int kind) {
  return v1::ReminderKind_IsValid(kind) && kind != v1::REMINDER_KIND_UNSPECIFIED;
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 0) {
    return MakeInvalidArgument({{"page_size", "must not be negative; 0 means 50"}});
  }
  return absl::OkStatus();
}

int PageLimit(int page_size) {
  return page_size == 0 ? planning::kDefaultPageSize : std::min(page_size, planning::kMaxPageSize);
}

// Page tokens of the store-paged lists: web-safe base64 of
// "<tag>|<filter hash>|<before sequence>", bound to the organisation and the
// filters so a token is never used with other filters.
std::string EncodeToken(absl::string_view tag, absl::string_view filter_hash, int64_t before) {
  return absl::WebSafeBase64Escape(absl::StrCat(tag, "|", filter_hash, "|", before));
}

absl::StatusOr<int64_t> DecodeToken(absl::string_view token, absl::string_view tag,
                                    absl::string_view filter_hash) {
  if (token.empty()) return 0;
  std::string decoded;
  std::vector<absl::string_view> parts;
  if (absl::WebSafeBase64Unescape(token, &decoded)) parts = absl::StrSplit(decoded, '|');
  int64_t before = 0;
  if (parts.size() != 3 || parts[0] != tag || !absl::SimpleAtoi(parts[2], &before) ||
      before <= 0) {
    return absl::InvalidArgumentError(
        "page_token: not a token this list returned (pass next_page_token as is)");
  }
  if (parts[1] != filter_hash) {
    return absl::InvalidArgumentError(
        "page_token: was returned for other filters; send the same filters with every page, "
        "or start again without a token");
  }
  return before;
}

std::string TimeText(absl::Time time, absl::TimeZone zone) {
  return absl::FormatTime("%Y-%m-%d", time, zone);
}

// "a; b; c and 2 more": the first of `total` titles, `shown`.
std::string TitleList(absl::Span<const std::string> shown, size_t total) {
  shown = shown.subspan(0, kTitlesInText);
  std::string text = absl::StrJoin(shown, "; ");
  if (total > shown.size()) absl::StrAppend(&text, " and ", total - shown.size(), " more");
  return text;
}

std::string TitleList(const std::vector<std::string>& titles) {
  return TitleList(titles, titles.size());
}

// `prefix` + TimeText(time, zone), memoised per civil day and `owner` (what
// the zone belongs to, the same zone for every call with it): a large run
// formats hundreds of thousands of check-in dates, most of them shared.
class DayTexts {
 public:
  explicit DayTexts(absl::string_view prefix) : prefix_(prefix) {}

  const std::string& Get(const void* owner, absl::TimeZone zone, absl::Time time) {
    const absl::CivilDay day = absl::ToCivilDay(time, zone);
    auto [it, added] = texts_.try_emplace(std::make_pair(owner, day - absl::CivilDay()));
    if (added) it->second = absl::StrCat(prefix_, TimeText(time, zone));
    return it->second;
  }

 private:
  const std::string prefix_;
  absl::flat_hash_map<std::pair<const void*, int64_t>, std::string> texts_;
};

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

v1::ResourceRef Ref(v1::ResourceKind kind, absl::string_view id) {
  v1::ResourceRef ref;
  ref.set_kind(kind);
  ref.set_id(std::string(id));
  return ref;
}

// Teams from `team_id` up to its top-level ancestor.
std::vector<const Team*> TeamChain(const planning::OrgState& plan, absl::string_view team_id) {
  std::vector<const Team*> chain;
  const Team* team = plan.FindTeam(team_id);
  while (team != nullptr && chain.size() < kMaxTeamDepth) {
    chain.push_back(team);
    if (team->parent_team_id.empty()) break;
    team = plan.FindTeam(team->parent_team_id);
  }
  return chain;
}

// The stored policies of one organisation and the effective policies
// resolved from them, memoised per team.
class PolicyResolver {
 public:
  PolicyResolver(const planning::OrgState& plan, std::vector<StoredPolicy> stored)
      : plan_(plan) {
    for (StoredPolicy& policy : stored) {
      v1::ReminderPolicy parsed;
      if (!parsed.ParseFromString(policy.body)) {
        LogError("stored reminder policy does not parse; ignored",
                 {{"organisation", plan.organisation().id}, {"team", policy.team_id}});
        continue;
      }
      stored_[policy.team_id] = std::move(parsed);
    }
  }

  struct Resolved {
    v1::ReminderPolicy policy;  // effective, every section set
    absl::TimeZone zone;
    Id team_id;  // the nearest team with a stored policy; empty: the organisation's
  };

  // The effective policy of a team ("" for the organisation).
  const Resolved& ForTeam(absl::string_view team_id) {
    auto it = by_team_.find(team_id);
    if (it != by_team_.end()) return it->second;
    std::vector<const v1::ReminderPolicy*> chain;
    Id nearest;
    for (const Team* team : TeamChain(plan_, team_id)) {
      auto policy = stored_.find(team->id);
      if (policy == stored_.end()) continue;
      if (nearest.empty()) nearest = team->id;
      chain.push_back(&policy->second);
    }
    if (auto org_policy = stored_.find(""); org_policy != stored_.end()) {
      chain.push_back(&org_policy->second);
    }
    Resolved resolved;
    resolved.policy = EffectivePolicy(plan_.organisation(), team_id, chain);
    absl::StatusOr<absl::TimeZone> zone = LoadZone(resolved.policy.time_zone());
    // Zones are checked when a policy is set; the organisation's comes from
    // planning, which checks it too. UTC only if tzdata lost a zone since.
    resolved.zone = zone.ok() ? *zone : absl::UTCTimeZone();
    resolved.team_id = nearest;
    return by_team_.emplace(std::string(team_id), std::move(resolved)).first->second;
  }

  // A person's effective policy: that of the first of their teams whose
  // chain has a stored policy, else of their first team, else the
  // organisation's.
  const Resolved& ForPerson(const Person& person) {
    for (const Id& team_id : person.team_ids) {
      const Resolved& resolved = ForTeam(team_id);
      if (!resolved.team_id.empty()) return resolved;
    }
    return ForTeam(person.team_ids.empty() ? "" : person.team_ids.front());
  }

  bool HasStored(absl::string_view team_id) const { return stored_.contains(team_id); }

 private:
  const planning::OrgState& plan_;
  absl::flat_hash_map<std::string, v1::ReminderPolicy> stored_;
  // Callers keep references to the resolved policies: node_hash_map keeps
  // them stable while more teams are resolved.
  absl::node_hash_map<std::string, Resolved> by_team_;
};

// A due reminder before it is claimed.
struct Due {
  v1::Reminder reminder;
  const Person* recipient = nullptr;
};

// A reminder for `person` of `kind`, without id and publish time.
v1::Reminder NewDue(const Person& person, ReminderKind kind, const PolicyResolver::Resolved& policy,
                    const DueWindow& window) {
  v1::Reminder reminder;
  reminder.set_recipient_id(person.id);
  reminder.set_recipient_name(person.display_name.empty() ? person.id : person.display_name);
  reminder.set_kind(kind);
  reminder.set_window_key(window.key);
  reminder.set_team_id(policy.team_id);
  *reminder.mutable_due_time() = ToProto(window.due);
  return reminder;
}

int GraceDays(const Organisation& organisation, const Cycle& cycle) {
  if (cycle.check_in_grace_days.has_value()) return std::max(0, *cycle.check_in_grace_days);
  if (organisation.check_in_grace_days.has_value()) {
    return std::max(0, *organisation.check_in_grace_days);
  }
  return kDefaultCheckInGraceDays;
}

// Finds the due reminders of each kind of one run. Holds the organisation's
// lock (through its caller) while it runs.
class DueFinder {
 public:
  DueFinder(const planning::OrgState& plan, PolicyResolver& policies, TrackingSource& tracking,
            absl::Time now)
      : plan_(plan), policies_(policies), tracking_(tracking), now_(now) {}

  absl::StatusOr<std::vector<Due>> Find(ReminderKind kind) {
    switch (kind) {
      case v1::REMINDER_KIND_WEEKLY_CHECK_IN:
        return WeeklyCheckIns();
      case v1::REMINDER_KIND_MID_QUARTER_REVIEW:
      case v1::REMINDER_KIND_END_OF_QUARTER_REVIEW:
        return Reviews(kind);
      case v1::REMINDER_KIND_PLANNING_MILESTONE:
        return Milestones();
      default:
        return absl::InvalidArgumentError(absl::StrCat("kinds: unknown kind ", kind));
    }
  }

 private:
  // Owners with key results that have no check-in since their weekly window
  // began. People are grouped by the instant their window began, so tracking
  // is asked once per distinct policy, not once per person.
  absl::StatusOr<std::vector<Due>> WeeklyCheckIns() {
    struct Recipient {
      const Person* person;
      const PolicyResolver::Resolved* policy;
      DueWindow window;
    };
    absl::btree_map<absl::Time, std::vector<Recipient>> by_since;
    // The window depends on the policy alone: computed once per policy.
    absl::flat_hash_map<const PolicyResolver::Resolved*, DueWindow> windows;
    for (const auto& [id, person] : plan_.people()) {
      const PolicyResolver::Resolved& policy = policies_.ForPerson(person);
      if (!policy.policy.weekly_check_in().enabled()) continue;
      auto window = windows.find(&policy);
      if (window == windows.end()) {
        OKR_ASSIGN_OR_RETURN(
            DueWindow computed,
            WeeklyCheckInWindow(policy.policy.weekly_check_in(), policy.zone, now_));
        window = windows.emplace(&policy, std::move(computed)).first;
      }
      by_since[window->second.due].push_back({&person, &policy, window->second});
    }
    std::vector<Due> due;
    for (const auto& entry : by_since) {
      // Named, not structured bindings: the page callback below refers to
      // them, and clang 14 cannot capture a structured binding.
      const absl::Time since = entry.first;
      const std::vector<Recipient>& recipients = entry.second;
      // What each recipient is due, filled page by page as tracking's
      // listing arrives, then taken in the recipients' order.
      absl::flat_hash_map<absl::string_view, size_t> by_person;
      by_person.reserve(recipients.size());
      for (size_t i = 0; i < recipients.size(); ++i) by_person.emplace(recipients[i].person->id, i);
      struct Building {
        Due item;
        size_t titles = 0;
        std::vector<std::string> shown;  // the first kTitlesInText titles
      };
      std::vector<int> slot(recipients.size(), -1);  // into building
      std::vector<Building> building;
      DayTexts since_texts("no check-in since ");
      OKR_RETURN_IF_ERROR(tracking_.ForEachStalePage(
          plan_.organisation().id, since,
          [&](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>& page) -> absl::Status {
            for (const v1::StaleKeyResult& kr : page) {
              auto it = by_person.find(kr.owner_id());
              if (it == by_person.end()) continue;
              const Recipient& recipient = recipients[it->second];
              int& index = slot[it->second];
              if (index < 0) {
                index = static_cast<int>(building.size());
                building.push_back({Due{NewDue(*recipient.person, v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                                               *recipient.policy, recipient.window),
                                        recipient.person},
                                    0,
                                    {}});
              }
              Building& b = building[index];
              v1::DueItem* due_item = b.item.reminder.add_due_items();
              v1::ResourceRef* target = due_item->mutable_target();
              target->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
              target->set_id(kr.key_result_id());
              due_item->set_title(kr.key_result_title());
              if (kr.has_last_check_in_time()) {
                absl::Time last;
                OKR_RETURN_IF_ERROR(
                    FromProto(kr.last_check_in_time(), "last_check_in_time", &last));
                due_item->set_detail(
                    since_texts.Get(recipient.policy, recipient.policy->zone, last));
                *due_item->mutable_last_check_in_time() = kr.last_check_in_time();
              } else {
                due_item->set_detail("no check-in yet");
              }
              if (b.shown.size() < kTitlesInText) b.shown.push_back(kr.key_result_title());
              ++b.titles;
            }
            return absl::OkStatus();
          }));
      for (size_t i = 0; i < recipients.size(); ++i) {
        if (slot[i] < 0) continue;
        Building& b = building[slot[i]];
        b.item.reminder.set_text(
            absl::StrCat("Weekly check-in (", recipients[i].window.key,
                         "): ", Plural(b.titles, "key result needs", "key results need"),
                         " a check-in: ", TitleList(b.shown, b.titles)));
        due.push_back(std::move(b.item));
      }
    }
    return due;
  }

  // Owners of the published objectives of quarterly cycles whose review
  // window is open under the owner's policy, minus the objectives that
  // already have a review of that kind.
  absl::StatusOr<std::vector<Due>> Reviews(ReminderKind kind) {
    const bool mid = kind == v1::REMINDER_KIND_MID_QUARTER_REVIEW;
    const v1::ReviewKind review_kind = mid ? v1::REVIEW_KIND_MID_QUARTER : v1::REVIEW_KIND_END_OF_QUARTER;
    absl::btree_map<Id, std::vector<const Objective*>> objectives_by_cycle;
    for (const auto& [id, objective] : plan_.objectives()) {
      if (objective.state != ObjectiveState::kPublished) continue;
      objectives_by_cycle[objective.cycle_id].push_back(&objective);
    }
    std::vector<Due> due;
    for (const auto& [cycle_id, objectives] : objectives_by_cycle) {
      const Cycle* cycle = plan_.FindCycle(cycle_id);
      if (cycle == nullptr || cycle->kind != CycleKind::kQuarterly) continue;
      const bool open = cycle->state == CycleState::kActive ||
                        (!mid && cycle->state == CycleState::kReview);
      if (!open) continue;
      // Owner -> (window, objectives); the window depends on the owner's policy.
      struct Owner {
        const Person* person;
        const PolicyResolver::Resolved* policy;
        DueWindow window;
        std::vector<const Objective*> objectives;
      };
      absl::btree_map<Id, Owner> owners;
      // The window depends on the policy and the cycle: once per policy.
      absl::flat_hash_map<const PolicyResolver::Resolved*, std::optional<DueWindow>> windows;
      for (const Objective* objective : objectives) {
        const Person* person = plan_.FindPerson(objective->owner_id);
        if (person == nullptr) continue;
        auto it = owners.find(person->id);
        if (it == owners.end()) {
          const PolicyResolver::Resolved& policy = policies_.ForPerson(*person);
          const v1::ReviewReminderPolicy& section =
              mid ? policy.policy.mid_quarter_review() : policy.policy.end_of_quarter_review();
          if (!section.enabled()) continue;
          auto window = windows.find(&policy);
          if (window == windows.end()) {
            window = windows
                         .emplace(&policy,
                                  mid ? MidQuarterReviewWindow(section, *cycle, policy.zone, now_)
                                      : EndOfQuarterReviewWindow(
                                            section, *cycle,
                                            GraceDays(plan_.organisation(), *cycle),
                                            policy.zone, now_))
                         .first;
          }
          if (!window->second.has_value()) continue;
          it = owners.emplace(person->id, Owner{person, &policy, *window->second, {}}).first;
        }
        it->second.objectives.push_back(objective);
      }
      if (owners.empty()) continue;
      // Only now is tracking asked, and only for cycles with an open window.
      OKR_ASSIGN_OR_RETURN(std::vector<v1::Review> reviews,
                           tracking_.Reviews(plan_.organisation().id, cycle_id, review_kind));
      absl::flat_hash_set<std::string> reviewed;
      for (const v1::Review& review : reviews) reviewed.insert(review.objective_id());
      for (auto& [owner_id, owner] : owners) {
        Due item{NewDue(*owner.person, kind, *owner.policy, owner.window), owner.person};
        item.reminder.set_window_key(cycle->id);
        std::vector<std::string> titles;
        for (const Objective* objective : owner.objectives) {
          if (reviewed.contains(objective->id)) continue;
          v1::DueItem* due_item = item.reminder.add_due_items();
          *due_item->mutable_target() = Ref(v1::RESOURCE_KIND_OBJECTIVE, objective->id);
          due_item->set_title(objective->title);
          due_item->set_detail(
              mid ? absl::StrCat("mid-quarter review of ", cycle->name, " is due")
                  : absl::StrCat("score and review by ",
                                 TimeText(owner.window.end - absl::Nanoseconds(1),
                                          owner.policy->zone)));
          titles.push_back(objective->title);
        }
        if (titles.empty()) continue;
        item.reminder.set_text(absl::StrCat(
            mid ? "Mid-quarter review of " : "End-of-quarter review of ", cycle->name, ": ",
            mid ? "review " : "score and review ", Plural(titles.size(), "objective", "objectives"),
            ": ", TitleList(titles)));
        due.push_back(std::move(item));
      }
    }
    return due;
  }

  // The people each due planning milestone is for, under their own policy
  // (zone and whether milestones are on).
  absl::StatusOr<std::vector<Due>> Milestones() {
    absl::flat_hash_set<std::string> leadership;
    absl::flat_hash_set<std::string> team_leads;
    for (const auto& [id, team] : plan_.teams()) {
      if (team.lead_person_id.empty()) continue;
      team_leads.insert(team.lead_person_id);
      if (team.parent_team_id.empty()) leadership.insert(team.lead_person_id);
    }
    // DueMilestones per zone: people under one zone share it.
    absl::flat_hash_map<std::string, std::vector<DueMilestone>> by_zone;
    std::vector<Due> due;
    for (const auto& [id, person] : plan_.people()) {
      const PolicyResolver::Resolved& policy = policies_.ForPerson(person);
      if (!policy.policy.planning_milestones().enabled()) continue;
      auto zone_it = by_zone.find(policy.policy.time_zone());
      if (zone_it == by_zone.end()) {
        OKR_ASSIGN_OR_RETURN(std::vector<DueMilestone> milestones,
                             DueMilestones(plan_.organisation(), policy.zone, now_));
        zone_it = by_zone.emplace(policy.policy.time_zone(), std::move(milestones)).first;
      }
      for (const DueMilestone& milestone : zone_it->second) {
        const bool audience = milestone.audience == MilestoneAudience::kEveryone ||
                              (milestone.audience == MilestoneAudience::kTeamLeads &&
                               team_leads.contains(person.id)) ||
                              (milestone.audience == MilestoneAudience::kLeadership &&
                               leadership.contains(person.id));
        if (!audience) continue;
        Due item{NewDue(person, v1::REMINDER_KIND_PLANNING_MILESTONE, policy, milestone.window),
                 &person};
        v1::DueItem* due_item = item.reminder.add_due_items();
        if (const Cycle* annual = AnnualCycle(milestone.fiscal_year); annual != nullptr) {
          *due_item->mutable_target() = Ref(v1::RESOURCE_KIND_CYCLE, annual->id);
        }
        due_item->set_title(milestone.milestone.title);
        due_item->set_detail(absl::StrCat(milestone.milestone.who, ": ", milestone.milestone.what));
        item.reminder.set_text(absl::StrCat(
            "Planning ", FiscalYearName(milestone.fiscal_year), ": ", milestone.milestone.title,
            " (until ", absl::FormatCivilTime(milestone.milestone.due - 1), ")"));
        due.push_back(std::move(item));
      }
    }
    return due;
  }

  const Cycle* AnnualCycle(int64_t fiscal_year) const {
    const std::string name = FiscalYearName(fiscal_year);
    for (const auto& [id, cycle] : plan_.cycles()) {
      if (cycle.kind == CycleKind::kAnnual && cycle.name == name) return &cycle;
    }
    return nullptr;
  }

  const planning::OrgState& plan_;
  PolicyResolver& policies_;
  TrackingSource& tracking_;
  const absl::Time now_;
};

bool WebhookWants(const v1::Webhook& webhook, const v1::Reminder& reminder,
                  const Person* recipient) {
  if (!webhook.kinds().empty() &&
      std::find(webhook.kinds().begin(), webhook.kinds().end(), reminder.kind()) ==
          webhook.kinds().end()) {
    return false;
  }
  if (webhook.team_id().empty()) return true;
  return recipient != nullptr &&
         std::find(recipient->team_ids.begin(), recipient->team_ids.end(), webhook.team_id()) !=
             recipient->team_ids.end();
}

StoredDelivery RedisDelivery(absl::string_view reminder_id, v1::DeliveryChannel channel,
                             v1::DeliveryStatus status, absl::string_view error, absl::Time time) {
  v1::Delivery delivery;
  delivery.set_id(OrderedId("dl"));
  delivery.set_reminder_id(std::string(reminder_id));
  delivery.set_channel(channel);
  delivery.set_attempt(1);
  delivery.set_status(status);
  delivery.set_error(std::string(error));
  *delivery.mutable_time() = ToProto(time);
  StoredDelivery stored;
  stored.id = delivery.id();
  stored.reminder_id = std::string(reminder_id);
  stored.channel = channel;
  stored.attempt = 1;
  stored.status = status;
  stored.time = time;
  stored.body = delivery.SerializeAsString();
  return stored;
}

}  // namespace

Notify::Notify(NotifyStore* store, tracking::PlanSource* plan, TrackingSource* tracking,
               ReminderPublisher* publisher, WatchHub* hub, WebhookDispatcher* dispatcher,
               NotifyOptions options)
    : store_(store),
      plan_(plan),
      tracking_(tracking),
      publisher_(publisher),
      hub_(hub),
      dispatcher_(dispatcher),
      options_(std::move(options)) {
  health_.redis_enabled = publisher_ != nullptr;
}

Notify::~Notify() = default;

Notify::Org& Notify::OrgFor(absl::string_view org) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Org>& slot = orgs_[org];
  if (slot == nullptr) slot = std::make_unique<Org>(std::string(org));
  return *slot;
}

absl::Status Notify::RefreshPlan(Org& org) {
  org.mu.AssertHeld();
  return tracking::CatchUpPlan(*plan_, org.id, org.plan).status();
}

NotifyHealth Notify::health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

// --- Policies ------------------------------------------------------------------

absl::Status Notify::SetReminderPolicy(absl::string_view org,
                                       const v1::SetReminderPolicyRequest& request,
                                       v1::ReminderPolicy* response) {
  response->Clear();
  if (!request.has_policy()) return MakeInvalidArgument({{"policy", "required"}});
  OKR_RETURN_IF_ERROR(ValidatePolicy(request.policy(), "policy"));
  if (request.version() < 0) {
    return MakeInvalidArgument({{"version", "must be 0 (create) or the version read"}});
  }
  const std::string& team_id = request.policy().team_id();
  if (!team_id.empty()) {
    Org& o = OrgFor(org);
    absl::MutexLock lock(&o.mu);
    OKR_RETURN_IF_ERROR(RefreshPlan(o));
    if (o.plan.FindTeam(team_id) == nullptr) {
      return NotFound("policy.team_id", absl::StrCat("no team '", team_id, "'"));
    }
  }
  v1::ReminderPolicy policy = request.policy();
  const absl::Time now = options_.clock();
  policy.set_version(request.version() + 1);
  *policy.mutable_update_time() = ToProto(now);
  StoredPolicy stored{team_id, policy.version(), now, policy.SerializeAsString()};
  OKR_ASSIGN_OR_RETURN(StoredPolicy put, store_->PutPolicy(org, stored, request.version()));
  if (!response->ParseFromString(put.body)) {
    return absl::InternalError("stored reminder policy does not parse");
  }
  return absl::OkStatus();
}

absl::Status Notify::GetReminderPolicy(absl::string_view org,
                                       const v1::GetReminderPolicyRequest& request,
                                       v1::ReminderPolicy* response) {
  response->Clear();
  Org& o = OrgFor(org);
  const bool need_plan = request.effective() || !request.team_id().empty();
  if (need_plan) {
    absl::MutexLock lock(&o.mu);
    OKR_RETURN_IF_ERROR(RefreshPlan(o));
    if (!request.team_id().empty() && o.plan.FindTeam(request.team_id()) == nullptr) {
      return NotFound("team_id", absl::StrCat("no team '", request.team_id(), "'"));
    }
    if (request.effective()) {
      OKR_ASSIGN_OR_RETURN(std::vector<StoredPolicy> stored, store_->ListPolicies(org));
      PolicyResolver resolver(o.plan, std::move(stored));
      *response = resolver.ForTeam(request.team_id()).policy;
      return absl::OkStatus();
    }
  }
  OKR_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored,
                       store_->GetPolicy(org, request.team_id()));
  if (!stored.has_value()) {
    return request.team_id().empty()
               ? absl::NotFoundError(
                     "no reminder policy stored for the organisation (it uses the built-in "
                     "defaults; ask with effective = true to see them)")
               : absl::NotFoundError(absl::StrCat("team_id: no reminder policy stored for team '",
                                                  request.team_id(),
                                                  "' (it inherits; ask with effective = true)"));
  }
  if (!response->ParseFromString(stored->body)) {
    return absl::InternalError("stored reminder policy does not parse");
  }
  return absl::OkStatus();
}

absl::Status Notify::ListReminderPolicies(absl::string_view org,
                                          const v1::ListReminderPoliciesRequest& request,
                                          v1::ListReminderPoliciesResponse* response) {
  response->Clear();
  OKR_RETURN_IF_ERROR(CheckPageSize(request.page_size()));
  OKR_ASSIGN_OR_RETURN(std::vector<StoredPolicy> stored, store_->ListPolicies(org));
  // Sort keys keep the organisation's ("" sorts first) before the teams.
  std::vector<std::string> keys;
  keys.reserve(stored.size());
  for (const StoredPolicy& policy : stored) keys.push_back(policy.team_id);
  OKR_ASSIGN_OR_RETURN(
      planning::PageSlice slice,
      planning::Paginate({request.page_size(), request.page_token()}, "policies", keys));
  for (size_t i = slice.begin; i < slice.end; ++i) {
    if (!response->add_policies()->ParseFromString(stored[i].body)) {
      return absl::InternalError("stored reminder policy does not parse");
    }
  }
  response->set_next_page_token(slice.next_page_token);
  response->set_total_size(static_cast<int32_t>(stored.size()));
  return absl::OkStatus();
}

absl::Status Notify::DeleteReminderPolicy(absl::string_view org,
                                          const v1::DeleteReminderPolicyRequest& request) {
  return store_->DeletePolicy(org, request.team_id(), request.version());
}

// --- Webhooks --------------------------------------------------------------------

absl::Status Notify::CreateWebhook(absl::string_view org, const v1::CreateWebhookRequest& request,
                                   v1::Webhook* response) {
  response->Clear();
  if (!request.has_webhook()) return MakeInvalidArgument({{"webhook", "required"}});
  const v1::Webhook& in = request.webhook();
  OKR_RETURN_IF_ERROR(ValidateWebhookUrl(in.url(), "webhook.url"));
  OKR_RETURN_IF_ERROR(options_.webhook_destinations.CheckUrlHost(in.url(), "webhook.url"));
  if (in.display_name().size() > kMaxDisplayName) {
    return MakeInvalidArgument(
        {{"webhook.display_name", absl::StrCat("at most ", kMaxDisplayName, " characters")}});
  }
  for (int i = 0; i < in.kinds_size(); ++i) {
    if (!KnownKind(in.kinds(i))) {
      return MakeInvalidArgument({{absl::StrCat("webhook.kinds[", i, "]"),
                                   absl::StrCat("unknown reminder kind ", in.kinds(i))}});
    }
  }
  if (request.request_id().size() > 64) {
    return MakeInvalidArgument({{"request_id", "at most 64 characters"}});
  }
  if (!in.team_id().empty()) {
    Org& o = OrgFor(org);
    absl::MutexLock lock(&o.mu);
    OKR_RETURN_IF_ERROR(RefreshPlan(o));
    if (o.plan.FindTeam(in.team_id()) == nullptr) {
      return NotFound("webhook.team_id", absl::StrCat("no team '", in.team_id(), "'"));
    }
  }
  v1::Webhook webhook;
  webhook.set_id(planning::NewPrefixedId("wh"));
  webhook.set_url(in.url());
  webhook.set_display_name(in.display_name());
  *webhook.mutable_kinds() = in.kinds();
  webhook.set_team_id(in.team_id());
  const absl::Time now = options_.clock();
  *webhook.mutable_create_time() = ToProto(now);
  StoredWebhook stored{webhook.id(), request.request_id(), webhook.url(), now,
                       webhook.SerializeAsString()};
  OKR_ASSIGN_OR_RETURN(StoredWebhook created,
                       store_->CreateWebhook(org, stored, options_.max_webhooks));
  if (!response->ParseFromString(created.body)) {
    return absl::InternalError("stored webhook does not parse");
  }
  return absl::OkStatus();
}

absl::Status Notify::ListWebhooks(absl::string_view org, const v1::ListWebhooksRequest& request,
                                  v1::ListWebhooksResponse* response) {
  response->Clear();
  OKR_RETURN_IF_ERROR(CheckPageSize(request.page_size()));
  OKR_ASSIGN_OR_RETURN(std::vector<StoredWebhook> stored, store_->ListWebhooks(org));
  // Creation order, made a unique ascending key for Paginate.
  std::vector<std::string> keys;
  keys.reserve(stored.size());
  for (const StoredWebhook& webhook : stored) {
    keys.push_back(absl::StrCat(absl::ToUnixMicros(webhook.create_time) + (int64_t{1} << 62),
                                "|", webhook.id));
  }
  OKR_ASSIGN_OR_RETURN(
      planning::PageSlice slice,
      planning::Paginate({request.page_size(), request.page_token()}, "webhooks", keys));
  for (size_t i = slice.begin; i < slice.end; ++i) {
    if (!response->add_webhooks()->ParseFromString(stored[i].body)) {
      return absl::InternalError("stored webhook does not parse");
    }
  }
  response->set_next_page_token(slice.next_page_token);
  response->set_total_size(static_cast<int32_t>(stored.size()));
  return absl::OkStatus();
}

absl::Status Notify::DeleteWebhook(absl::string_view org, const v1::DeleteWebhookRequest& request) {
  if (request.id().empty()) return MakeInvalidArgument({{"id", "required"}});
  return store_->DeleteWebhook(org, request.id());
}

// --- Reminders ---------------------------------------------------------------------

absl::Status Notify::ValidateWatch(const v1::WatchRemindersRequest& request) {
  for (int i = 0; i < request.kinds_size(); ++i) {
    if (!KnownKind(request.kinds(i))) {
      return MakeInvalidArgument({{absl::StrCat("kinds[", i, "]"),
                                   absl::StrCat("unknown reminder kind ", request.kinds(i))}});
    }
  }
  return absl::OkStatus();
}

absl::Status Notify::RunDueReminders(absl::string_view org,
                                     const v1::RunDueRemindersRequest& request,
                                     v1::RunDueRemindersResponse* response) {
  response->Clear();
  std::vector<ReminderKind> kinds;
  for (int i = 0; i < request.kinds_size(); ++i) {
    if (!KnownKind(request.kinds(i))) {
      return MakeInvalidArgument({{absl::StrCat("kinds[", i, "]"),
                                   absl::StrCat("unknown reminder kind ", request.kinds(i))}});
    }
    if (std::find(kinds.begin(), kinds.end(), request.kinds(i)) == kinds.end()) {
      kinds.push_back(request.kinds(i));
    }
  }
  if (kinds.empty()) kinds.assign(std::begin(kAllKinds), std::end(kAllKinds));
  const absl::Time started_at = absl::Now();  // for the run's log line
  absl::Time now = options_.clock();
  if (request.has_now()) OKR_RETURN_IF_ERROR(FromProto(request.now(), "now", &now));
  *response->mutable_now() = ToProto(now);

  Org& o = OrgFor(org);
  absl::MutexLock lock(&o.mu);
  OKR_RETURN_IF_ERROR(RefreshPlan(o));
  if (!o.plan.exists()) {
    return absl::NotFoundError(absl::StrCat("organisation '", org,
                                            "' is not known to planning: nothing to remind"));
  }
  const absl::Time planned_at = absl::Now();
  OKR_ASSIGN_OR_RETURN(std::vector<StoredPolicy> stored_policies, store_->ListPolicies(org));
  PolicyResolver policies(o.plan, std::move(stored_policies));
  DueFinder finder(o.plan, policies, *tracking_, now);

  // 1. Find. A kind whose source is unreachable fails alone; the others go on.
  absl::btree_map<int, v1::ReminderKindCounts> counts;
  std::vector<Due> found;
  absl::Status unavailable;
  for (ReminderKind kind : kinds) {
    v1::ReminderKindCounts& count = counts[kind];
    count.set_kind(kind);
    absl::StatusOr<std::vector<Due>> due = finder.Find(kind);
    if (!due.ok()) {
      if (due.status().code() != absl::StatusCode::kUnavailable) return due.status();
      LogWarn("reminders of one kind could not be found",
              {{"organisation", std::string(org)},
               {"kind", v1::ReminderKind_Name(kind)},
               {"error", std::string(due.status().message())}});
      if (unavailable.ok()) unavailable = due.status();
      continue;
    }
    count.set_found(static_cast<int32_t>(due->size()));
    for (Due& item : *due) found.push_back(std::move(item));
  }

  if (request.dry_run()) {
    for (auto& [kind, count] : counts) count.set_skipped(count.found());
    for (size_t i = 0; i < found.size() && i < kSampleLimit; ++i) {
      *response->add_sample() = found[i].reminder;
    }
    for (auto& [kind, count] : counts) *response->add_counts() = count;
    return unavailable;
  }

  // 2. Retry what earlier runs claimed and could not publish (a crash
  //    between claim and publication, a Redis outage), oldest first, a page
  //    at a time while pages come back full and Redis takes them.
  const absl::Time found_at = absl::Now();
  absl::Status redis_error;
  int64_t published_total = 0;
  int64_t retried = 0;
  // Publishing goes a slice at a time (memory stays bounded, and what Redis
  // took is recorded as it goes): Redis takes the slice (pipelined batches),
  // then first publications go to the watchers, and the Redis deliveries are
  // logged and the published marked in the store. Redis takes the next slice
  // while the store records this one (a crash in between leaves that slice
  // claimed and unpublished: the next run retries it, and Redis' markers
  // make the retry add nothing).
  using Outcomes = std::vector<absl::StatusOr<PublishOutcome>>;
  // What Redis answers for `slice`; every reminder fails with `down` when it
  // is an UNAVAILABLE (the rest would only wait out timeouts).
  auto send = [&](absl::Span<const v1::Reminder* const> slice, const absl::Status& down) {
    Outcomes outcomes;
    if (publisher_ == nullptr) return outcomes;
    if (down.code() == absl::StatusCode::kUnavailable) {
      outcomes.assign(slice.size(), down);
    } else {
      outcomes = publisher_->PublishMany(org, slice);
    }
    return outcomes;
  };
  // redis_error as record() leaves it after `outcomes`, as far as the next
  // slice's send() cares: the first UNAVAILABLE sticks.
  auto down_after = [&](const Outcomes& outcomes) -> absl::Status {
    if (redis_error.code() == absl::StatusCode::kUnavailable) return redis_error;
    for (const absl::StatusOr<PublishOutcome>& outcome : outcomes) {
      if (outcome.status().code() == absl::StatusCode::kUnavailable) return outcome.status();
    }
    return absl::OkStatus();
  };
  // Counts `slice` (this run's claims when `claimed_now`) by its outcomes,
  // hands first publications to the watchers, logs the Redis deliveries and
  // marks the published in the store.
  auto record = [&](absl::Span<const v1::Reminder* const> pending, const Outcomes& outcomes,
                    bool claimed_now) -> absl::Status {
    std::vector<Id> published_ids;
    std::vector<StoredDelivery> deliveries;
    published_ids.reserve(pending.size());
    if (publisher_ != nullptr) deliveries.reserve(2 * pending.size());
    const absl::Time time = options_.clock();
    for (size_t i = 0; i < pending.size(); ++i) {
      const v1::Reminder& reminder = *pending[i];
      v1::ReminderKindCounts& count = counts[reminder.kind()];
      count.set_kind(reminder.kind());
      bool first_publication = publisher_ == nullptr;
      if (publisher_ != nullptr) {
        const absl::StatusOr<PublishOutcome>& outcome = outcomes[i];
        if (!outcome.ok()) {
          // Other errors concern one reminder; an UNAVAILABLE is logged once.
          if (redis_error.code() != absl::StatusCode::kUnavailable) {
            redis_error = outcome.status();
            deliveries.push_back(RedisDelivery(reminder.id(), v1::DELIVERY_CHANNEL_REDIS_STREAM,
                                               v1::DELIVERY_STATUS_RETRYING,
                                               outcome.status().message(), time));
          }
          if (claimed_now) count.set_failed(count.failed() + 1);
          continue;
        }
        first_publication = outcome->published;
        if (outcome->published) {
          deliveries.push_back(RedisDelivery(reminder.id(), v1::DELIVERY_CHANNEL_REDIS_STREAM,
                                             v1::DELIVERY_STATUS_SUCCEEDED, "", time));
          deliveries.push_back(RedisDelivery(reminder.id(), v1::DELIVERY_CHANNEL_REDIS_PUBSUB,
                                             v1::DELIVERY_STATUS_SUCCEEDED, "", time));
        }
      }
      published_ids.push_back(reminder.id());
      if (first_publication) {
        count.set_published(count.published() + 1);
        if (hub_ != nullptr) hub_->Publish(org, reminder);
      }
    }
    OKR_RETURN_IF_ERROR(store_->RecordPublished(org, deliveries, published_ids));
    published_total += static_cast<int64_t>(published_ids.size());
    return absl::OkStatus();
  };
  auto publish = [&](absl::Span<const v1::Reminder* const> pending,
                     bool claimed_now) -> absl::Status {
    if (pending.empty()) return absl::OkStatus();
    Outcomes outcomes = send(pending.subspan(0, kPublishSlice), redis_error);
    for (size_t begin = 0; begin < pending.size(); begin += kPublishSlice) {
      const size_t next = begin + kPublishSlice;
      Outcomes next_outcomes;
      std::thread sender;
      if (next < pending.size()) {
        absl::Status down = down_after(outcomes);
        sender = std::thread([&, next, down = std::move(down)] {
          next_outcomes = send(pending.subspan(next, kPublishSlice), down);
        });
      }
      const absl::Status recorded =
          record(pending.subspan(begin, kPublishSlice), outcomes, claimed_now);
      if (sender.joinable()) sender.join();
      OKR_RETURN_IF_ERROR(recorded);
      outcomes = std::move(next_outcomes);
    }
    return absl::OkStatus();
  };
  for (int page = 0; page < kMaxRepublishPages; ++page) {
    OKR_ASSIGN_OR_RETURN(std::vector<StoredReminder> unpublished,
                         store_->UnpublishedReminders(org, kRepublishBatch));
    std::vector<v1::Reminder> parsed;
    parsed.reserve(unpublished.size());
    for (const StoredReminder& stored : unpublished) {
      if (!parsed.emplace_back().ParseFromString(stored.body)) {
        LogError("stored reminder does not parse; left unpublished",
                 {{"organisation", std::string(org)}, {"reminder", stored.id}});
        parsed.pop_back();
      }
    }
    std::vector<const v1::Reminder*> pending;
    pending.reserve(parsed.size());
    for (const v1::Reminder& reminder : parsed) pending.push_back(&reminder);
    const int64_t before = published_total;
    OKR_RETURN_IF_ERROR(publish(pending, /*claimed_now=*/false));
    retried += published_total - before;
    // A short page was the last; a page that published nothing (Redis down,
    // or only reminders that cannot be published) would come back the same.
    if (static_cast<int>(unpublished.size()) < kRepublishBatch || !redis_error.ok() ||
        published_total == before) {
      break;
    }
  }
  const absl::Time retried_at = absl::Now();

  // 3. Claim: only reminders new to their (recipient, kind, window) are
  //    inserted, with their webhook tasks, in one transaction.
  OKR_ASSIGN_OR_RETURN(std::vector<StoredWebhook> stored_webhooks, store_->ListWebhooks(org));
  std::vector<v1::Webhook> webhooks(stored_webhooks.size());
  for (size_t i = 0; i < stored_webhooks.size(); ++i) {
    if (!webhooks[i].ParseFromString(stored_webhooks[i].body)) {
      return absl::InternalError(absl::StrCat("stored webhook ", stored_webhooks[i].id,
                                              " does not parse"));
    }
  }
  const absl::Time publish_time = options_.clock();
  std::vector<NewReminder> claims;
  claims.reserve(found.size());
  for (Due& item : found) {
    v1::Reminder& reminder = item.reminder;
    reminder.set_id(OrderedId("rem"));
    *reminder.mutable_publish_time() = ToProto(publish_time);
    NewReminder claim;
    claim.reminder.id = reminder.id();
    claim.reminder.recipient_id = reminder.recipient_id();
    claim.reminder.kind = reminder.kind();
    claim.reminder.window_key = reminder.window_key();
    claim.reminder.team_id = reminder.team_id();
    claim.reminder.publish_time = publish_time;
    claim.reminder.body = reminder.SerializeAsString();
    for (const v1::Webhook& webhook : webhooks) {
      if (WebhookWants(webhook, reminder, item.recipient)) claim.webhook_ids.push_back(webhook.id());
    }
    claims.push_back(std::move(claim));
  }
  OKR_ASSIGN_OR_RETURN(std::vector<bool> inserted, store_->ClaimReminders(org, claims));
  // This run's claims, published from memory: their stored body is this
  // very message.
  std::vector<const v1::Reminder*> claimed;
  bool any_webhook_task = false;
  for (size_t i = 0; i < found.size(); ++i) {
    const v1::Reminder& reminder = found[i].reminder;
    if (!inserted[i]) {
      counts[reminder.kind()].set_skipped(counts[reminder.kind()].skipped() + 1);
      continue;
    }
    claimed.push_back(&reminder);
    any_webhook_task |= !claims[i].webhook_ids.empty();
  }
  claims.clear();
  claims.shrink_to_fit();
  const absl::Time claimed_at = absl::Now();

  // 4. Publish this run's claims. Redis dedupes by reminder id, so a replica
  //    retrying the same reminder at the same time adds nothing.
  OKR_RETURN_IF_ERROR(publish(claimed, /*claimed_now=*/true));
  const absl::Time published_at = absl::Now();
  if (publisher_ != nullptr) {
    absl::MutexLock lock(&mu_);
    health_.redis_reachable = redis_error.ok();
    health_.redis_error = std::string(redis_error.message());
  }
  if (!redis_error.ok()) {
    LogWarn("reminders claimed but not published to Redis; the next run retries them",
            {{"organisation", std::string(org)}, {"error", std::string(redis_error.message())}});
  }
  if (any_webhook_task && dispatcher_ != nullptr) dispatcher_->Wake();

  CountRun(counts);
  for (auto& [kind, count] : counts) *response->add_counts() = count;
  LogInfo("reminders run",
          {{"organisation", std::string(org)},
           {"now", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
           {"found", static_cast<int64_t>(found.size())},
           {"claimed", static_cast<int64_t>(claimed.size())},
           {"retried", retried},
           {"published", published_total},
           {"plan_ms", absl::ToInt64Milliseconds(planned_at - started_at)},
           {"find_ms", absl::ToInt64Milliseconds(found_at - planned_at)},
           {"retry_ms", absl::ToInt64Milliseconds(retried_at - found_at)},
           {"claim_ms", absl::ToInt64Milliseconds(claimed_at - retried_at)},
           {"publish_ms", absl::ToInt64Milliseconds(published_at - claimed_at)}});
  return unavailable;
}

absl::Status Notify::ListReminders(absl::string_view org, const v1::ListRemindersRequest& request,
                                   v1::ListRemindersResponse* response) {
  response->Clear();
  OKR_RETURN_IF_ERROR(CheckPageSize(request.page_size()));
  if (request.kind() != v1::REMINDER_KIND_UNSPECIFIED && !KnownKind(request.kind())) {
    return MakeInvalidArgument({{"kind", absl::StrCat("unknown reminder kind ", request.kind())}});
  }
  ReminderQuery query;
  query.kind = request.kind();
  query.recipient_id = request.recipient_id();
  query.window_key = request.window_key();
  if (request.has_start_time()) {
    absl::Time start;
    OKR_RETURN_IF_ERROR(FromProto(request.start_time(), "start_time", &start));
    query.start_time = start;
  }
  query.limit = PageLimit(request.page_size());
  const std::string filters = planning::StableHash(absl::StrCat(
      org, "|", query.kind, "|", query.recipient_id, "|", query.window_key, "|",
      query.start_time.has_value() ? absl::ToUnixMicros(*query.start_time) : -1));
  OKR_ASSIGN_OR_RETURN(query.before_sequence, DecodeToken(request.page_token(), "r1", filters));
  OKR_ASSIGN_OR_RETURN(ReminderPage page, store_->ListReminders(org, query));
  for (const StoredReminder& stored : page.reminders) {
    if (!response->add_reminders()->ParseFromString(stored.body)) {
      return absl::InternalError(absl::StrCat("stored reminder ", stored.id, " does not parse"));
    }
  }
  if (page.next_before_sequence > 0) {
    response->set_next_page_token(EncodeToken("r1", filters, page.next_before_sequence));
  }
  response->set_total_size(static_cast<int32_t>(page.total));
  return absl::OkStatus();
}

absl::Status Notify::ListDeliveries(absl::string_view org, const v1::ListDeliveriesRequest& request,
                                    v1::ListDeliveriesResponse* response) {
  response->Clear();
  OKR_RETURN_IF_ERROR(CheckPageSize(request.page_size()));
  if (!v1::DeliveryChannel_IsValid(request.channel())) {
    return MakeInvalidArgument({{"channel", absl::StrCat("unknown channel ", request.channel())}});
  }
  if (!v1::DeliveryStatus_IsValid(request.status())) {
    return MakeInvalidArgument({{"status", absl::StrCat("unknown status ", request.status())}});
  }
  DeliveryQuery query;
  query.reminder_id = request.reminder_id();
  query.webhook_id = request.webhook_id();
  query.channel = request.channel();
  query.status = request.status();
  if (request.has_start_time()) {
    absl::Time start;
    OKR_RETURN_IF_ERROR(FromProto(request.start_time(), "start_time", &start));
    query.start_time = start;
  }
  query.limit = PageLimit(request.page_size());
  const std::string filters = planning::StableHash(absl::StrCat(
      org, "|", query.reminder_id, "|", query.webhook_id, "|", query.channel, "|", query.status,
      "|", query.start_time.has_value() ? absl::ToUnixMicros(*query.start_time) : -1));
  OKR_ASSIGN_OR_RETURN(query.before_sequence, DecodeToken(request.page_token(), "d1", filters));
  OKR_ASSIGN_OR_RETURN(DeliveryPage page, store_->ListDeliveries(org, query));
  for (const StoredDelivery& stored : page.deliveries) {
    if (!response->add_deliveries()->ParseFromString(stored.body)) {
      return absl::InternalError(absl::StrCat("stored delivery ", stored.id, " does not parse"));
    }
  }
  if (page.next_before_sequence > 0) {
    response->set_next_page_token(EncodeToken("d1", filters, page.next_before_sequence));
  }
  response->set_total_size(static_cast<int32_t>(page.total));
  return absl::OkStatus();
}

}  // namespace okr::notify
