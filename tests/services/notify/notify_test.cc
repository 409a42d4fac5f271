// Unit tests of the notify use-cases (services/notify/notify.h) over real
// parts wherever they run in process: the plan from an in-process Planning
// (through its change feed, as in production), check-ins and reviews in an
// in-process Tracking, the SQLite NotifyStore in a temp dir and a real
// redis-server behind the ReminderPublisher. Only the TrackingSource is a
// thin in-process adapter over that Tracking (with a switch that makes it
// unreachable).
//
// The clock is TrackingTest's: 2026-03-18 10:00 in New York (a Wednesday),
// inside FY2027-Q1 (1 Feb .. 1 May 2026) of "acme", whose fiscal year starts
// in February. The default weekly window therefore began on Monday
// 2026-03-16 at 09:00 (ISO week 2026-W12), and Q1's mid-quarter day,
// 2026-02-01 + floor(89 / 2) = 2026-03-17, has passed.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/model_proto.h"
#include "common/redis.h"
#include "services/notify/cadence.h"
#include "services/notify/notify.h"
#include "services/notify/notify_store.h"
#include "services/notify/reminder_publisher.h"
#include "services/notify/tracking_source.h"
#include "services/notify/watch_hub.h"
#include "tests/services/tracking/tracking_test_util.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using tracking::IsFieldError;

// ListStaleKeyResults and ListReviews of an in-process Tracking, page by page.
class InProcessTrackingSource : public TrackingSource {
 public:
  explicit InProcessTrackingSource(tracking::Tracking** tracking) : tracking_(tracking) {}

  void set_unavailable(bool unavailable) {
    absl::MutexLock lock(&mu_);
    unavailable_ = unavailable;
  }

  absl::StatusOr<std::vector<v1::StaleKeyResult>> StaleKeyResults(absl::string_view org,
                                                                  absl::Time since) override {
    OKR_RETURN_IF_ERROR(Check());
    std::vector<v1::StaleKeyResult> out;
    v1::ListStaleKeyResultsRequest request;
    *request.mutable_since() = ToProto(since);
    request.set_page_size(2);  // several pages even for small plans
    for (;;) {
      v1::ListStaleKeyResultsResponse response;
      OKR_RETURN_IF_ERROR((*tracking_)->ListStaleKeyResults(org, request, &response));
      for (const auto& kr : response.stale_key_results()) out.push_back(kr);
      if (response.next_page_token().empty()) return out;
      request.set_page_token(response.next_page_token());
    }
  }

  absl::StatusOr<std::vector<v1::Review>> Reviews(absl::string_view org,
                                                  absl::string_view cycle_id,
                                                  v1::ReviewKind kind) override {
    OKR_RETURN_IF_ERROR(Check());
    std::vector<v1::Review> out;
    v1::ListReviewsRequest request;
    request.set_cycle_id(std::string(cycle_id));
    request.set_kind(kind);
    for (;;) {
      v1::ListReviewsResponse response;
      OKR_RETURN_IF_ERROR((*tracking_)->ListReviews(org, request, &response));
      for (const auto& review : response.reviews()) out.push_back(review);
      if (response.next_page_token().empty()) return out;
      request.set_page_token(response.next_page_token());
    }
  }

 private:
  absl::Status Check() {
    absl::MutexLock lock(&mu_);
    if (unavailable_) return absl::UnavailableError("tracking at 127.0.0.1:1 is unreachable");
    return absl::OkStatus();
  }

  tracking::Tracking** const tracking_;
  absl::Mutex mu_;
  bool unavailable_ = false;
};

class NotifyTest : public tracking::TrackingTest {
 protected:
  NotifyTest() {
    absl::StatusOr<std::unique_ptr<NotifyStore>> store =
        OpenNotifyStore(absl::StrCat("sqlite:", dir_.File("notify.db")));
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return;
    }
    store_ = *std::move(store);
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    if (!redis.ok()) {
      ADD_FAILURE() << redis.status();
      return;
    }
    notify_redis_server_ = *std::move(redis);
    RedisOptions redis_options;
    redis_options.port = notify_redis_server_->port();
    notify_redis_ = std::make_unique<RedisClient>(redis_options);
    publisher_ = std::make_unique<ReminderPublisher>(notify_redis_.get());
    tracking_raw_ = tracking_.get();
    NotifyOptions options;
    options.clock = [this] { return now_; };
    // The webhooks below name 127.0.0.1.
    options.webhook_destinations = WebhookDestinationPolicy({*ParseIpNetwork("127.0.0.0/8")});
    notify_ = std::make_unique<Notify>(store_.get(), plan_source_.get(), &source_, publisher_.get(),
                                       &hub_, /*dispatcher=*/nullptr, options);
  }

  v1::RunDueRemindersResponse Run(std::vector<v1::ReminderKind> kinds, bool dry_run = false) {
    v1::RunDueRemindersRequest request;
    for (v1::ReminderKind kind : kinds) request.add_kinds(kind);
    request.set_dry_run(dry_run);
    v1::RunDueRemindersResponse response;
    tracking_raw_ = tracking_.get();
    absl::Status status = notify_->RunDueReminders(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  static v1::ReminderKindCounts CountsOf(const v1::RunDueRemindersResponse& response,
                                         v1::ReminderKind kind) {
    for (const auto& counts : response.counts()) {
      if (counts.kind() == kind) return counts;
    }
    ADD_FAILURE() << "no counts for " << v1::ReminderKind_Name(kind);
    return {};
  }

  std::vector<v1::Reminder> Reminders(v1::ReminderKind kind = v1::REMINDER_KIND_UNSPECIFIED) {
    v1::ListRemindersRequest request;
    request.set_kind(kind);
    request.set_page_size(500);
    v1::ListRemindersResponse response;
    absl::Status status = notify_->ListReminders(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return {response.reminders().begin(), response.reminders().end()};
  }

  int64_t StreamLength() {
    absl::StatusOr<RedisReply> reply =
        notify_redis_->Command({"XLEN", ReminderPublisher::StreamKey(kOrg)});
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->integer : -1;
  }

  absl::Time NewYork(int y, int m, int d, int hh, int mm) const {
    return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), zone_);
  }

  Team MakeTeam(const std::string& name, const Id& parent = "") {
    Team team;
    team.name = name;
    team.parent_team_id = parent;
    absl::StatusOr<Team> created = planning_->CreateTeam(kOrg, team, planning::RequestKey{});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Team{};
  }

  Team SetLead(const Team& team, const Id& person_id) {
    Team values = team;
    values.lead_person_id = person_id;
    absl::StatusOr<Team> updated =
        planning_->UpdateTeam(kOrg, values, {"lead_person_id"}, team.version);
    EXPECT_TRUE(updated.ok()) << updated.status();
    return updated.ok() ? *updated : Team{};
  }

  Person MakeMember(const std::string& name, const Id& team_id) {
    Person person;
    person.display_name = name;
    person.email = absl::StrCat(absl::AsciiStrToLower(name.substr(0, name.find(' '))),
                                "@acme.example");
    person.team_ids = {team_id};
    absl::StatusOr<Person> created = planning_->CreatePerson(kOrg, person, planning::RequestKey{});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Person{};
  }

  absl::Status SetPolicy(const v1::ReminderPolicy& policy, int64_t version = 0) {
    v1::SetReminderPolicyRequest request;
    *request.mutable_policy() = policy;
    request.set_version(version);
    v1::ReminderPolicy response;
    return notify_->SetReminderPolicy(kOrg, request, &response);
  }

  TempDir dir_;
  std::unique_ptr<NotifyStore> store_;
  std::unique_ptr<RedisServer> notify_redis_server_;
  std::unique_ptr<RedisClient> notify_redis_;
  std::unique_ptr<ReminderPublisher> publisher_;
  tracking::Tracking* tracking_raw_ = nullptr;
  InProcessTrackingSource source_{&tracking_raw_};
  WatchHub hub_;
  std::unique_ptr<Notify> notify_;
};

// --- Weekly check-ins ------------------------------------------------------------

TEST_F(NotifyTest, WeeklyRemindsOwnersWithoutACheckInSinceTheWindowBegan) {
  const Person bob = MakePerson("Bob Builder");
  const Objective bobs = MakeObjective("Grow the pipeline", bob.id);
  const KeyResult leads = MakeMetricKr(bobs.id, "Qualified leads", 0, 100);
  const KeyResult calls = MakeMetricKr(bobs.id, "Discovery calls", 0, 50);
  const Objective adas = MakeObjective("Ship the plan", author_.id);
  const KeyResult plan = MakeMetricKr(adas.id, "Plan reviewed", 0, 10);
  // Ada checked in this week, Bob's "calls" last week only.
  CheckIn(plan.id, 5);
  v1::RecordCheckInRequest last_week = ValueRequest(calls.id, 10);
  *last_week.mutable_time() = ToProto(NewYork(2026, 3, 12, 15, 0));
  CheckIn(last_week);

  std::vector<v1::Reminder> watched;
  absl::Mutex watched_mu;
  WatchFilter filter;
  filter.organisation_id = kOrg;
  hub_.Subscribe(filter, [&](const v1::Reminder& reminder) {
    absl::MutexLock lock(&watched_mu);
    watched.push_back(reminder);
  });

  v1::RunDueRemindersResponse first = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  const v1::ReminderKindCounts counts = CountsOf(first, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(counts.found(), 1);
  EXPECT_EQ(counts.published(), 1);
  EXPECT_EQ(counts.skipped(), 0);
  EXPECT_EQ(counts.failed(), 0);

  const std::vector<v1::Reminder> reminders = Reminders();
  ASSERT_EQ(reminders.size(), 1u);
  const v1::Reminder& reminder = reminders[0];
  EXPECT_EQ(reminder.recipient_id(), bob.id);
  EXPECT_EQ(reminder.recipient_name(), "Bob Builder");
  EXPECT_EQ(reminder.window_key(), "2026-W12");
  EXPECT_EQ(reminder.team_id(), "");
  absl::Time due;
  OKR_ASSERT_OK(FromProto(reminder.due_time(), "due_time", &due));
  EXPECT_EQ(due, NewYork(2026, 3, 16, 9, 0));
  ASSERT_EQ(reminder.due_items_size(), 2);
  std::vector<std::string> targets;
  for (const auto& item : reminder.due_items()) targets.push_back(item.target().id());
  EXPECT_TRUE(std::find(targets.begin(), targets.end(), leads.id) != targets.end());
  EXPECT_TRUE(std::find(targets.begin(), targets.end(), calls.id) != targets.end());
  for (const auto& item : reminder.due_items()) {
    EXPECT_EQ(item.target().kind(), v1::RESOURCE_KIND_KEY_RESULT);
    if (item.target().id() == calls.id) {
      EXPECT_EQ(item.detail(), "no check-in since 2026-03-12");
      EXPECT_TRUE(item.has_last_check_in_time());
    } else {
      EXPECT_EQ(item.detail(), "no check-in yet");
    }
  }
  EXPECT_NE(reminder.text().find("2 key results need a check-in"), std::string::npos)
      << reminder.text();
  EXPECT_EQ(StreamLength(), 1);
  {
    absl::MutexLock lock(&watched_mu);
    ASSERT_EQ(watched.size(), 1u);
    EXPECT_EQ(watched[0].id(), reminder.id());
  }

  // The Redis deliveries are logged.
  v1::ListDeliveriesRequest deliveries_request;
  deliveries_request.set_reminder_id(reminder.id());
  v1::ListDeliveriesResponse deliveries;
  OKR_ASSERT_OK(notify_->ListDeliveries(kOrg, deliveries_request, &deliveries));
  ASSERT_EQ(deliveries.deliveries_size(), 2);
  for (const auto& delivery : deliveries.deliveries()) {
    EXPECT_EQ(delivery.status(), v1::DELIVERY_STATUS_SUCCEEDED);
    EXPECT_TRUE(delivery.channel() == v1::DELIVERY_CHANNEL_REDIS_STREAM ||
                delivery.channel() == v1::DELIVERY_CHANNEL_REDIS_PUBSUB);
  }

  // A rerun in the same window publishes nothing, also an hour later.
  AdvanceClock(absl::Hours(1));
  v1::RunDueRemindersResponse second = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  const v1::ReminderKindCounts again = CountsOf(second, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(again.found(), 1);
  EXPECT_EQ(again.published(), 0);
  EXPECT_EQ(again.skipped(), 1);
  EXPECT_EQ(Reminders().size(), 1u);
  EXPECT_EQ(StreamLength(), 1);

  // Next week's window is a new one: Bob is reminded again, Ada too (her
  // check-in is now last week's).
  AdvanceClock(absl::Hours(24 * 5));  // Monday 2026-03-23 11:00
  v1::RunDueRemindersResponse next_week = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  EXPECT_EQ(CountsOf(next_week, v1::REMINDER_KIND_WEEKLY_CHECK_IN).published(), 2);
  EXPECT_EQ(StreamLength(), 3);
}

TEST_F(NotifyTest, TeamPolicyOverridesTheWeeklyWindowAndNamesTheTeam) {
  const Team sales = MakeTeam("Sales");
  const Person carol = MakeMember("Carol Closer", sales.id);
  const Objective objective = MakeObjective("Close the quarter", carol.id);
  MakeMetricKr(objective.id, "Deals closed", 0, 20);

  v1::ReminderPolicy policy;
  policy.set_team_id(sales.id);
  policy.set_time_zone("Europe/Berlin");
  policy.mutable_weekly_check_in()->set_enabled(true);
  policy.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_FRIDAY);
  policy.mutable_weekly_check_in()->mutable_local_time()->set_hours(17);
  policy.mutable_weekly_check_in()->mutable_local_time()->set_minutes(30);
  OKR_ASSERT_OK(SetPolicy(policy));

  Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  const std::vector<v1::Reminder> reminders = Reminders();
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(reminders[0].recipient_id(), carol.id);
  EXPECT_EQ(reminders[0].team_id(), sales.id);
  // The latest Friday 17:30 in Berlin before Wed 2026-03-18 is 2026-03-13.
  EXPECT_EQ(reminders[0].window_key(), "2026-W11");
  absl::Time due;
  OKR_ASSERT_OK(FromProto(reminders[0].due_time(), "due_time", &due));
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  EXPECT_EQ(due, absl::FromCivil(absl::CivilSecond(2026, 3, 13, 17, 30, 0), berlin));

  // Weekly reminders off for the team: nothing due for Carol.
  policy.mutable_weekly_check_in()->set_enabled(false);
  OKR_ASSERT_OK(SetPolicy(policy, /*version=*/1));
  AdvanceClock(absl::Hours(24 * 7));
  v1::RunDueRemindersResponse off = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN}, /*dry_run=*/true);
  EXPECT_EQ(CountsOf(off, v1::REMINDER_KIND_WEEKLY_CHECK_IN).found(), 0);
}

// --- Reviews ---------------------------------------------------------------------

TEST_F(NotifyTest, MidQuarterReviewGoesToOwnersOfUnreviewedObjectives) {
  const Person bob = MakePerson("Bob Builder");
  const Objective reviewed = MakeObjective("Reviewed already", bob.id);
  const Objective pending = MakeObjective("Still to review", bob.id);
  tracking::ObjectiveSpec draft;
  draft.state = ObjectiveState::kDraft;
  MakeObjective("A draft", bob.id, draft);
  v1::UpsertReviewRequest review;
  review.mutable_review()->set_objective_id(reviewed.id);
  review.mutable_review()->set_kind(v1::REVIEW_KIND_MID_QUARTER);
  v1::Review stored_review;
  OKR_ASSERT_OK(tracking_->UpsertReview(kOrg, review, &stored_review));

  v1::RunDueRemindersResponse run = Run({v1::REMINDER_KIND_MID_QUARTER_REVIEW});
  EXPECT_EQ(CountsOf(run, v1::REMINDER_KIND_MID_QUARTER_REVIEW).published(), 1);
  const std::vector<v1::Reminder> reminders = Reminders();
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(reminders[0].recipient_id(), bob.id);
  EXPECT_EQ(reminders[0].window_key(), q1_.id);
  ASSERT_EQ(reminders[0].due_items_size(), 1);
  EXPECT_EQ(reminders[0].due_items(0).target().id(), pending.id);
  EXPECT_EQ(reminders[0].due_items(0).target().kind(), v1::RESOURCE_KIND_OBJECTIVE);
  absl::Time due;
  OKR_ASSERT_OK(FromProto(reminders[0].due_time(), "due_time", &due));
  EXPECT_EQ(due, NewYork(2026, 3, 17, 9, 0));
}

TEST_F(NotifyTest, ReviewWindowsOpenAndCloseWithTheirPolicy) {
  const Person bob = MakePerson("Bob Builder");
  MakeObjective("Grow", bob.id);
  v1::RunDueRemindersRequest request;
  request.set_dry_run(true);
  request.add_kinds(v1::REMINDER_KIND_MID_QUARTER_REVIEW);
  request.add_kinds(v1::REMINDER_KIND_END_OF_QUARTER_REVIEW);
  auto found_at = [&](absl::Time now, v1::ReminderKind kind) {
    *request.mutable_now() = ToProto(now);
    v1::RunDueRemindersResponse response;
    absl::Status status = notify_->RunDueReminders(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return CountsOf(response, kind).found();
  };
  // Mid-quarter: from 09:00 on 2026-03-17 until the quarter ends.
  EXPECT_EQ(found_at(NewYork(2026, 3, 17, 8, 59), v1::REMINDER_KIND_MID_QUARTER_REVIEW), 0);
  EXPECT_EQ(found_at(NewYork(2026, 3, 17, 9, 0), v1::REMINDER_KIND_MID_QUARTER_REVIEW), 1);
  // End of quarter: last day 2026-04-30 minus 3 days at 09:00.
  EXPECT_EQ(found_at(NewYork(2026, 4, 27, 8, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 0);
  EXPECT_EQ(found_at(NewYork(2026, 4, 27, 9, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 1);
  // During REVIEW, until the grace (7 days) ends on 2026-05-08.
  AdvanceCycle(q1_.id, CycleState::kReview);
  EXPECT_EQ(found_at(NewYork(2026, 5, 7, 23, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 1);
  EXPECT_EQ(found_at(NewYork(2026, 5, 8, 0, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 0);
  EXPECT_EQ(found_at(NewYork(2026, 4, 1, 9, 0), v1::REMINDER_KIND_MID_QUARTER_REVIEW), 0)
      << "no mid-quarter reminders once the cycle is in REVIEW";

  // The organisation moves the end-of-quarter reminder to the last day.
  v1::ReminderPolicy policy;
  policy.mutable_end_of_quarter_review()->set_enabled(true);
  policy.mutable_end_of_quarter_review()->set_offset_days(0);
  OKR_ASSERT_OK(SetPolicy(policy));
  EXPECT_EQ(found_at(NewYork(2026, 4, 29, 12, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 0);
  EXPECT_EQ(found_at(NewYork(2026, 4, 30, 9, 0), v1::REMINDER_KIND_END_OF_QUARTER_REVIEW), 1);
}

// --- Planning milestones ------------------------------------------------------------

TEST_F(NotifyTest, PlanningMilestonesGoToTheirAudience) {
  // Ada leads the top-level team, Bob a sub-team with Carol in it.
  const Team company = SetLead(MakeTeam("Company"), author_.id);
  const Team sales = MakeTeam("Sales", company.id);
  const Person bob = MakeMember("Bob Builder", sales.id);
  SetLead(sales, bob.id);
  const Person carol = MakeMember("Carol Closer", sales.id);

  absl::StatusOr<FiscalCalendar> calendar = FiscalCalendar::Create(2);
  ASSERT_TRUE(calendar.ok());
  absl::StatusOr<std::vector<PlanningMilestone>> timeline =
      PlanningTimeline(*calendar, 2028, PlanningProfile::kSmall);
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  auto milestone = [&](absl::string_view id) {
    for (const PlanningMilestone& m : *timeline) {
      if (m.id == id) return m;
    }
    ADD_FAILURE() << "no milestone " << id;
    return PlanningMilestone{};
  };
  auto recipients_at = [&](absl::Time now) {
    v1::RunDueRemindersRequest request;
    request.set_dry_run(true);
    request.add_kinds(v1::REMINDER_KIND_PLANNING_MILESTONE);
    *request.mutable_now() = ToProto(now);
    v1::RunDueRemindersResponse response;
    absl::Status status = notify_->RunDueReminders(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    std::vector<std::string> out;
    for (const auto& reminder : response.sample()) {
      out.push_back(absl::StrCat(reminder.window_key(), " ", reminder.recipient_id()));
    }
    std::sort(out.begin(), out.end());
    return out;
  };

  // Leadership kick-off: Ada only (she leads the only top-level team).
  const absl::Time kickoff = StartOfDay(milestone("leadership-kickoff").start, zone_);
  EXPECT_EQ(recipients_at(kickoff + absl::Hours(1)),
            std::vector<std::string>({"FY2028:leadership-kickoff " + author_.id}));
  EXPECT_TRUE(recipients_at(kickoff - absl::Minutes(1)).empty());
  // Communicating company OKRs: every team lead.
  const absl::Time communicate = StartOfDay(milestone("communicate-company-okrs").start, zone_);
  std::vector<std::string> leads = {"FY2028:communicate-company-okrs " + author_.id,
                                    "FY2028:communicate-company-okrs " + bob.id,
                                    "FY2028:team-q1-okrs " + author_.id,
                                    "FY2028:team-q1-okrs " + bob.id};
  std::sort(leads.begin(), leads.end());
  EXPECT_EQ(recipients_at(communicate + absl::Hours(1)), leads);
  // The first day of FY2028 (across the fiscal year boundary): the roll-out
  // goes to everyone, still keyed FY2028.
  const std::vector<std::string> first_day =
      recipients_at(StartOfDay(milestone("rollout-q1-team-okrs").start, zone_) + absl::Hours(10));
  for (const Id& id : {author_.id, bob.id, carol.id}) {
    EXPECT_TRUE(std::find(first_day.begin(), first_day.end(),
                          "FY2028:rollout-q1-team-okrs " + id) != first_day.end())
        << id;
  }
  EXPECT_EQ(first_day.size(), 9u) << "rollout, cascade and schedule for 3 people";
}

// --- Policies and webhooks -----------------------------------------------------------

TEST_F(NotifyTest, PoliciesAreValidatedVersionedAndInherited) {
  v1::ReminderPolicy bad;
  bad.set_time_zone("Mars/Olympus");
  EXPECT_TRUE(IsFieldError(SetPolicy(bad), absl::StatusCode::kInvalidArgument,
                           "policy.time_zone"));
  v1::ReminderPolicy unknown_team;
  unknown_team.set_team_id("team-nope");
  EXPECT_TRUE(IsFieldError(SetPolicy(unknown_team), absl::StatusCode::kNotFound,
                           "policy.team_id"));
  v1::SetReminderPolicyRequest missing;
  v1::ReminderPolicy ignored;
  EXPECT_TRUE(IsFieldError(notify_->SetReminderPolicy(kOrg, missing, &ignored),
                           absl::StatusCode::kInvalidArgument, "policy"));

  v1::ReminderPolicy org_policy;
  org_policy.set_time_zone("Europe/Lisbon");
  org_policy.mutable_weekly_check_in()->set_enabled(true);
  org_policy.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_TUESDAY);
  OKR_ASSERT_OK(SetPolicy(org_policy));
  EXPECT_EQ(SetPolicy(org_policy).code(), absl::StatusCode::kAborted) << "version 0 again";
  OKR_ASSERT_OK(SetPolicy(org_policy, 1));

  const Team sales = MakeTeam("Sales");
  v1::ReminderPolicy team_policy;
  team_policy.set_team_id(sales.id);
  team_policy.mutable_mid_quarter_review()->set_enabled(false);
  OKR_ASSERT_OK(SetPolicy(team_policy));

  v1::GetReminderPolicyRequest get;
  get.set_team_id(sales.id);
  get.set_effective(true);
  v1::ReminderPolicy effective;
  OKR_ASSERT_OK(notify_->GetReminderPolicy(kOrg, get, &effective));
  EXPECT_EQ(effective.time_zone(), "Europe/Lisbon");
  EXPECT_EQ(effective.weekly_check_in().weekday(), v1::DAY_OF_WEEK_TUESDAY);
  EXPECT_EQ(effective.weekly_check_in().local_time().hours(), kDefaultHour);
  EXPECT_FALSE(effective.mid_quarter_review().enabled());
  EXPECT_TRUE(effective.end_of_quarter_review().enabled());
  EXPECT_EQ(effective.end_of_quarter_review().offset_days(), kDefaultEndOfQuarterOffsetDays);
  EXPECT_EQ(effective.version(), 0);

  v1::GetReminderPolicyRequest stored_get;
  stored_get.set_team_id(sales.id);
  v1::ReminderPolicy stored;
  OKR_ASSERT_OK(notify_->GetReminderPolicy(kOrg, stored_get, &stored));
  EXPECT_EQ(stored.version(), 1);
  EXPECT_FALSE(stored.has_weekly_check_in()) << "stored as set: the section inherits";

  v1::ListReminderPoliciesRequest list_request;
  list_request.set_page_size(1);
  v1::ListReminderPoliciesResponse list;
  OKR_ASSERT_OK(notify_->ListReminderPolicies(kOrg, list_request, &list));
  ASSERT_EQ(list.policies_size(), 1);
  EXPECT_EQ(list.policies(0).team_id(), "") << "the organisation's first";
  EXPECT_EQ(list.total_size(), 2);
  list_request.set_page_token(list.next_page_token());
  OKR_ASSERT_OK(notify_->ListReminderPolicies(kOrg, list_request, &list));
  ASSERT_EQ(list.policies_size(), 1);
  EXPECT_EQ(list.policies(0).team_id(), sales.id);

  v1::DeleteReminderPolicyRequest del;
  del.set_team_id(sales.id);
  del.set_version(7);
  EXPECT_EQ(notify_->DeleteReminderPolicy(kOrg, del).code(), absl::StatusCode::kAborted);
  del.set_version(1);
  OKR_ASSERT_OK(notify_->DeleteReminderPolicy(kOrg, del));
  EXPECT_EQ(notify_->GetReminderPolicy(kOrg, stored_get, &stored).code(),
            absl::StatusCode::kNotFound);
  OKR_ASSERT_OK(notify_->GetReminderPolicy(kOrg, get, &effective));
  EXPECT_TRUE(effective.mid_quarter_review().enabled()) << "back to the organisation's";
}

TEST_F(NotifyTest, WebhooksAreValidatedLimitedAndGetTheirReminders) {
  v1::CreateWebhookRequest request;
  request.mutable_webhook()->set_url("ftp://hooks.example/okr");
  v1::Webhook webhook;
  EXPECT_TRUE(IsFieldError(notify_->CreateWebhook(kOrg, request, &webhook),
                           absl::StatusCode::kInvalidArgument, "webhook.url"));
  request.mutable_webhook()->set_url("http://127.0.0.1:9/hook");
  request.mutable_webhook()->add_kinds(static_cast<v1::ReminderKind>(42));
  EXPECT_TRUE(IsFieldError(notify_->CreateWebhook(kOrg, request, &webhook),
                           absl::StatusCode::kInvalidArgument, "webhook.kinds[0]"));
  request.mutable_webhook()->clear_kinds();
  request.mutable_webhook()->add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  request.set_request_id("create-1");
  OKR_ASSERT_OK(notify_->CreateWebhook(kOrg, request, &webhook));
  v1::Webhook again;
  OKR_ASSERT_OK(notify_->CreateWebhook(kOrg, request, &again));
  EXPECT_EQ(again.id(), webhook.id()) << "the same request_id returns the same webhook";

  // A team webhook only gets the reminders of the team's members.
  const Team sales = MakeTeam("Sales");
  v1::CreateWebhookRequest team_request;
  team_request.mutable_webhook()->set_url("https://hooks.example/sales");
  team_request.mutable_webhook()->set_team_id(sales.id);
  v1::Webhook team_hook;
  OKR_ASSERT_OK(notify_->CreateWebhook(kOrg, team_request, &team_hook));

  const Person carol = MakeMember("Carol Closer", sales.id);
  const Person bob = MakePerson("Bob Builder");
  MakeMetricKr(MakeObjective("Close", carol.id).id, "Deals", 0, 5);
  MakeMetricKr(MakeObjective("Build", bob.id).id, "Walls", 0, 5);
  Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  absl::StatusOr<int64_t> pending = store_->PendingWebhookTasks();
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(*pending, 3) << "2 for the org-wide hook, 1 for the sales hook";

  // The limit: 20 per organisation.
  for (int i = 2; i < 20; ++i) {
    v1::CreateWebhookRequest more;
    more.mutable_webhook()->set_url(absl::StrCat("https://hooks.example/", i));
    v1::Webhook created;
    OKR_ASSERT_OK(notify_->CreateWebhook(kOrg, more, &created));
  }
  v1::CreateWebhookRequest one_too_many;
  one_too_many.mutable_webhook()->set_url("https://hooks.example/21");
  EXPECT_EQ(notify_->CreateWebhook(kOrg, one_too_many, &webhook).code(),
            absl::StatusCode::kFailedPrecondition);
  v1::DeleteWebhookRequest del;
  del.set_id("wh-nope");
  EXPECT_EQ(notify_->DeleteWebhook(kOrg, del).code(), absl::StatusCode::kNotFound);
}

// --- Failures ----------------------------------------------------------------------

TEST_F(NotifyTest, ReminderClaimedWhileRedisIsDownIsPublishedByTheNextRun) {
  const Person bob = MakePerson("Bob Builder");
  MakeMetricKr(MakeObjective("Build", bob.id).id, "Walls", 0, 5);
  OKR_ASSERT_OK(notify_redis_server_->Stop());
  v1::RunDueRemindersResponse down = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  const v1::ReminderKindCounts counts = CountsOf(down, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(counts.found(), 1);
  EXPECT_EQ(counts.published(), 0);
  EXPECT_EQ(counts.failed(), 1);
  EXPECT_FALSE(notify_->health().redis_reachable);

  OKR_ASSERT_OK(notify_redis_server_->Restart());
  // The client waits out its reconnect backoff (100 ms) after a failed connect.
  absl::SleepFor(absl::Milliseconds(300));
  v1::RunDueRemindersResponse up = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  const v1::ReminderKindCounts after = CountsOf(up, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(after.skipped(), 1) << "already claimed";
  EXPECT_EQ(after.published(), 1) << "published now, for the first time";
  EXPECT_EQ(StreamLength(), 1);
  EXPECT_EQ(Reminders().size(), 1u);
  EXPECT_TRUE(notify_->health().redis_reachable);

  v1::ListDeliveriesRequest retrying;
  retrying.set_status(v1::DELIVERY_STATUS_RETRYING);
  v1::ListDeliveriesResponse log;
  OKR_ASSERT_OK(notify_->ListDeliveries(kOrg, retrying, &log));
  ASSERT_EQ(log.deliveries_size(), 1);
  EXPECT_EQ(log.deliveries(0).channel(), v1::DELIVERY_CHANNEL_REDIS_STREAM);
  EXPECT_FALSE(log.deliveries(0).error().empty());
}

// Redis fills up part-way through a run's pipelines: the reminders whose
// scripts ran are published, the rest stay claimed and unpublished, and the
// next run publishes exactly those (the same ids), none twice.
TEST_F(NotifyTest, RemindersRedisRefusesMidRunArePublishedByTheNextRunOnce) {
  constexpr int kOwners = 100;
  for (int i = 0; i < kOwners; ++i) {
    const Person person = MakePerson(absl::StrCat("Owner ", i));
    const Objective objective = MakeObjective(absl::StrCat("Objective ", i), person.id);
    for (int k = 0; k < 3; ++k) {
      // Long titles make each stream entry about 1.5 KB.
      MakeMetricKr(objective.id, absl::StrCat(std::string(180, 'k'), " ", i, "-", k), 0, 10);
    }
  }
  ReminderPublisher pipelined(notify_redis_.get(), {.pipeline_depth = 4});
  NotifyOptions options;
  options.clock = [this] { return now_; };
  Notify notify(store_.get(), plan_source_.get(), &source_, &pipelined, &hub_,
                /*dispatcher=*/nullptr, options);
  auto run = [&] {
    v1::RunDueRemindersRequest request;
    request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    v1::RunDueRemindersResponse response;
    tracking_raw_ = tracking_.get();
    const absl::Status status = notify.RunDueReminders(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return CountsOf(response, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  };
  auto stream_ids = [&] {
    absl::StatusOr<RedisReply> range = notify_redis_->Command(
        {"XRANGE", ReminderPublisher::StreamKey(kOrg), "-", "+"});
    EXPECT_TRUE(range.ok()) << range.status();
    std::vector<std::string> ids;
    if (!range.ok()) return ids;
    for (const RedisReply& entry : range->elements) {
      const std::vector<RedisReply>& fields = entry.elements[1].elements;
      for (size_t f = 0; f + 1 < fields.size(); f += 2) {
        if (fields[f].str == "id") ids.push_back(fields[f + 1].str);
      }
    }
    return ids;
  };
  absl::StatusOr<RedisReply> info = notify_redis_->Command({"INFO", "memory"});
  ASSERT_TRUE(info.ok()) << info.status();
  int64_t used = 0;
  for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
    if (absl::ConsumePrefix(&line, "used_memory:")) {
      ASSERT_TRUE(absl::SimpleAtoi(line, &used));
    }
  }
  ASSERT_GT(used, 0);
  OKR_ASSERT_OK(notify_redis_->Command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).status());
  // Room for about half of the entries (the client buffers take some).
  OKR_ASSERT_OK(
      notify_redis_->Command({"CONFIG", "SET", "maxmemory", absl::StrCat(used + 256 * 1024)})
          .status());

  const v1::ReminderKindCounts full = run();
  EXPECT_EQ(full.found(), kOwners);
  EXPECT_GT(full.published(), 0);
  EXPECT_GT(full.failed(), 0);
  EXPECT_EQ(full.published() + full.failed(), kOwners);
  EXPECT_EQ(static_cast<int>(stream_ids().size()), full.published());
  std::set<std::string> claimed;
  for (const v1::Reminder& reminder : Reminders()) claimed.insert(reminder.id());
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kOwners)) << "all claimed, published or not";

  OKR_ASSERT_OK(notify_redis_->Command({"CONFIG", "SET", "maxmemory", "0"}).status());
  const v1::ReminderKindCounts next = run();
  EXPECT_EQ(next.skipped(), kOwners);
  EXPECT_EQ(next.published(), full.failed()) << "exactly the ones Redis refused";
  EXPECT_EQ(next.failed(), 0);
  const std::vector<std::string> ids = stream_ids();
  EXPECT_EQ(ids.size(), static_cast<size_t>(kOwners));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), claimed) << "each once, same ids";

  const v1::ReminderKindCounts rerun = run();
  EXPECT_EQ(rerun.published(), 0);
  EXPECT_EQ(rerun.skipped(), kOwners);
  EXPECT_EQ(stream_ids().size(), static_cast<size_t>(kOwners));
}

TEST_F(NotifyTest, TrackingDownFailsTheKindsThatNeedIt) {
  const Person bob = MakePerson("Bob Builder");
  MakeMetricKr(MakeObjective("Build", bob.id).id, "Walls", 0, 5);
  source_.set_unavailable(true);
  v1::RunDueRemindersRequest request;
  v1::RunDueRemindersResponse response;
  const absl::Status status = notify_->RunDueReminders(kOrg, request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(Reminders().empty());
  source_.set_unavailable(false);
  EXPECT_EQ(CountsOf(Run({}), v1::REMINDER_KIND_WEEKLY_CHECK_IN).published(), 1);
}

TEST_F(NotifyTest, DryRunStoresAndPublishesNothing) {
  const Person bob = MakePerson("Bob Builder");
  MakeMetricKr(MakeObjective("Build", bob.id).id, "Walls", 0, 5);
  v1::RunDueRemindersResponse dry = Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN}, /*dry_run=*/true);
  EXPECT_EQ(CountsOf(dry, v1::REMINDER_KIND_WEEKLY_CHECK_IN).found(), 1);
  EXPECT_EQ(CountsOf(dry, v1::REMINDER_KIND_WEEKLY_CHECK_IN).skipped(), 1);
  ASSERT_EQ(dry.sample_size(), 1);
  EXPECT_EQ(dry.sample(0).recipient_id(), bob.id);
  EXPECT_TRUE(Reminders().empty());
  EXPECT_EQ(StreamLength(), 0);
}

TEST_F(NotifyTest, BadRequestsNameTheField) {
  v1::RunDueRemindersRequest request;
  request.add_kinds(static_cast<v1::ReminderKind>(99));
  v1::RunDueRemindersResponse response;
  EXPECT_TRUE(IsFieldError(notify_->RunDueReminders(kOrg, request, &response),
                           absl::StatusCode::kInvalidArgument, "kinds[0]"));
  v1::ListRemindersRequest list;
  list.set_page_size(-1);
  v1::ListRemindersResponse reminders;
  EXPECT_TRUE(IsFieldError(notify_->ListReminders(kOrg, list, &reminders),
                           absl::StatusCode::kInvalidArgument, "page_size"));
  list.set_page_size(1);
  list.set_page_token("not-a-token");
  EXPECT_TRUE(IsFieldError(notify_->ListReminders(kOrg, list, &reminders),
                           absl::StatusCode::kInvalidArgument, "page_token"));
  v1::WatchRemindersRequest watch;
  watch.add_kinds(static_cast<v1::ReminderKind>(7));
  EXPECT_TRUE(IsFieldError(Notify::ValidateWatch(watch), absl::StatusCode::kInvalidArgument,
                           "kinds[0]"));
  v1::RunDueRemindersRequest unknown_org;
  EXPECT_EQ(notify_->RunDueReminders("nobody", unknown_org, &response).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(NotifyTest, RemindersPageNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    MakeMetricKr(MakeObjective("Build", MakePerson(absl::StrCat("Person ", i)).id).id, "Walls", 0,
                 5);
  }
  Run({v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  v1::ListRemindersRequest request;
  request.set_page_size(2);
  std::vector<std::string> ids;
  for (int page = 0; page < 5; ++page) {
    v1::ListRemindersResponse response;
    OKR_ASSERT_OK(notify_->ListReminders(kOrg, request, &response));
    EXPECT_EQ(response.total_size(), 5);
    for (const auto& reminder : response.reminders()) ids.push_back(reminder.id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(ids.size(), 5u);
  std::vector<std::string> all;
  for (const auto& reminder : Reminders()) all.push_back(reminder.id());
  EXPECT_EQ(ids, all);
  request.set_kind(v1::REMINDER_KIND_MID_QUARTER_REVIEW);
  v1::ListRemindersResponse response;
  EXPECT_TRUE(IsFieldError(notify_->ListReminders(kOrg, request, &response),
                           absl::StatusCode::kInvalidArgument, "page_token"))
      << "a token is bound to its filters";
}

}  // namespace
}  // namespace okr::notify
