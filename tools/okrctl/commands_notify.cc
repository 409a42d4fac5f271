// Commands over the notify service: reminder policies, webhooks, running
// and listing reminders, the delivery log, and watching reminders live.
//
// These call okr.v1.NotifyService at --notify-addr. A team or person given
// by name (--team, --recipient) is looked up in planning, so those flags
// need planning as well; names printed next to ids come from planning too,
// best effort (an id stands in when planning cannot say).
//
// Every flag is parsed before the first call, so a usage error never waits
// for a server.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using NStub = NotifyClient::Stub;
using okr::v1::ReminderKind;

// The defaults notify.proto documents for a section that leaves them unset.
constexpr absl::string_view kDefaultWeekday = "MONDAY";
constexpr int kDefaultHour = 9;

// ---- values -------------------------------------------------------------

// "weekly", "mid", "end" and "milestone" besides the enum's own names
// ("weekly-check-in", "REMINDER_KIND_PLANNING_MILESTONE", ...).
absl::StatusOr<ReminderKind> ParseReminderKind(absl::string_view flag, absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "weekly") return okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN;
  if (lower == "mid") return okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW;
  if (lower == "end") return okr::v1::REMINDER_KIND_END_OF_QUARTER_REVIEW;
  if (lower == "milestone" || lower == "milestones") {
    return okr::v1::REMINDER_KIND_PLANNING_MILESTONE;
  }
  absl::StatusOr<ReminderKind> kind = ParseEnum<ReminderKind>(flag, text);
  if (!kind.ok() || *kind == okr::v1::REMINDER_KIND_UNSPECIFIED) {
    return UsageError(absl::StrCat("--", flag, ": '", text,
                                   "' is not one of weekly, mid, end, milestone (or "
                                   "weekly-check-in, mid-quarter-review, end-of-quarter-review, "
                                   "planning-milestone)"));
  }
  return *kind;
}

// Every kind a repeatable flag names; each value may be a comma-separated
// list ("--kinds weekly,mid"). Duplicates are dropped, the order kept.
absl::StatusOr<std::vector<ReminderKind>> KindsFlag(const Context& ctx, absl::string_view flag) {
  std::vector<ReminderKind> kinds;
  for (const std::string& value : ctx.flags().GetAll(flag)) {
    for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      OKR_ASSIGN_OR_RETURN(ReminderKind kind, ParseReminderKind(flag, part));
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
    }
  }
  return kinds;
}

std::string KindName(ReminderKind kind) { return ShortName(kind); }

// "MON", "monday", "Mon" or the enum's names ("DAY_OF_WEEK_MONDAY").
absl::StatusOr<okr::v1::DayOfWeek> ParseWeekday(absl::string_view flag, absl::string_view text) {
  static constexpr std::pair<absl::string_view, okr::v1::DayOfWeek> kShort[] = {
      {"mon", okr::v1::DAY_OF_WEEK_MONDAY},    {"tue", okr::v1::DAY_OF_WEEK_TUESDAY},
      {"wed", okr::v1::DAY_OF_WEEK_WEDNESDAY}, {"thu", okr::v1::DAY_OF_WEEK_THURSDAY},
      {"fri", okr::v1::DAY_OF_WEEK_FRIDAY},    {"sat", okr::v1::DAY_OF_WEEK_SATURDAY},
      {"sun", okr::v1::DAY_OF_WEEK_SUNDAY}};
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  for (const auto& [name, day] : kShort) {
    if (lower == name) return day;
  }
  absl::StatusOr<okr::v1::DayOfWeek> day = ParseEnum<okr::v1::DayOfWeek>(flag, text);
  if (!day.ok() || *day == okr::v1::DAY_OF_WEEK_UNSPECIFIED) {
    return UsageError(absl::StrCat("--", flag, ": '", text,
                                   "' is not a weekday (MON, TUE, WED, THU, FRI, SAT, SUN)"));
  }
  return *day;
}

// "09:00" or "9:30". Only the form is checked here; the server checks the
// ranges and names the field.
absl::StatusOr<okr::v1::TimeOfDay> ParseTimeOfDay(absl::string_view flag, absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  int hours = 0;
  int minutes = 0;
  if (parts.size() != 2 || parts[0].empty() || parts[0].size() > 2 || parts[1].size() != 2 ||
      !absl::ascii_isdigit(static_cast<unsigned char>(parts[0].front())) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(parts[1].front())) ||
      !absl::SimpleAtoi(parts[0], &hours) || !absl::SimpleAtoi(parts[1], &minutes)) {
    return UsageError(
        absl::StrCat("--", flag, ": '", text, "' is not a local time HH:MM (e.g. 09:00)"));
  }
  okr::v1::TimeOfDay time;
  time.set_hours(hours);
  time.set_minutes(minutes);
  return time;
}

std::string FormatTimeOfDay(const okr::v1::TimeOfDay& time) {
  return absl::StrFormat("%02d:%02d", time.hours(), time.minutes());
}

// The compact JSON of one message on one line (`reminders watch --json`
// prints JSON Lines, so that a consumer can read it as it arrives).
std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return ToJson(message);  // says why in valid JSON
  }
  return json + "\n";
}

// --count / --limit style flags that must be positive when given.
absl::StatusOr<int64_t> PositiveFlag(const Context& ctx, absl::string_view flag) {
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> value, ctx.flags().Int(flag));
  if (!value.has_value()) return 0;
  if (*value <= 0) return UsageError(absl::StrCat("--", flag, ": must be > 0, got ", *value));
  return *value;
}

std::string TeamLabel(Context& ctx, const std::string& team_id) {
  if (team_id.empty()) return "";
  const Names* names = NamesOrNull(ctx);
  const std::string name = names == nullptr ? team_id : names->Team(team_id);
  return name == team_id ? team_id : absl::StrCat(name, " [", team_id, "]");
}

// ---- policies -----------------------------------------------------------

// What `policy set` does to one section of the policy.
enum class Edit {
  kKeep,     // flag absent: the section stays as stored
  kInherit,  // clear the section: it is inherited (team: the organisation's)
  kOn,       // enable, keeping the stored schedule
  kOff,      // disable, keeping the stored schedule
  kSet,      // enable with the schedule given
};

struct WeeklyEdit {
  Edit edit = Edit::kKeep;
  okr::v1::DayOfWeek weekday = okr::v1::DAY_OF_WEEK_UNSPECIFIED;
  std::optional<okr::v1::TimeOfDay> time;
};

struct ReviewEdit {
  Edit edit = Edit::kKeep;
  int32_t offset_days = 0;
  std::optional<okr::v1::TimeOfDay> time;
};

struct PolicyEdits {
  std::optional<std::string> time_zone;  // "" to inherit the organisation's
  WeeklyEdit weekly;
  ReviewEdit mid_quarter;
  ReviewEdit end_of_quarter;
  Edit milestones = Edit::kKeep;
};

// on | off | inherit, else nullopt (a schedule follows).
std::optional<Edit> KeywordEdit(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "on") return Edit::kOn;
  if (lower == "off") return Edit::kOff;
  if (lower == "inherit") return Edit::kInherit;
  return std::nullopt;
}

// --weekly DAY[@HH:MM] | on | off | inherit
absl::StatusOr<WeeklyEdit> ParseWeeklyEdit(const std::string& text) {
  WeeklyEdit out;
  if (std::optional<Edit> keyword = KeywordEdit(text); keyword.has_value()) {
    out.edit = *keyword;
    return out;
  }
  out.edit = Edit::kSet;
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('@', 1));
  OKR_ASSIGN_OR_RETURN(out.weekday, ParseWeekday("weekly", parts[0]));
  if (parts.size() == 2) {
    OKR_ASSIGN_OR_RETURN(out.time, ParseTimeOfDay("weekly", parts[1]));
  }
  return out;
}

// --mid-quarter / --end-of-quarter OFFSET[@HH:MM] | on | off | inherit
absl::StatusOr<ReviewEdit> ParseReviewEdit(absl::string_view flag, const std::string& text) {
  ReviewEdit out;
  if (std::optional<Edit> keyword = KeywordEdit(text); keyword.has_value()) {
    out.edit = *keyword;
    return out;
  }
  out.edit = Edit::kSet;
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('@', 1));
  absl::string_view offset = absl::StripAsciiWhitespace(parts[0]);
  absl::ConsumePrefix(&offset, "+");  // SimpleAtoi takes "-3" but not "+3"
  if (offset.empty() || !absl::SimpleAtoi(offset, &out.offset_days)) {
    return UsageError(absl::StrCat(
        "--", flag, ": '", text,
        "' is not OFFSET[@HH:MM] (days from the anchor day, e.g. -3@09:00), on, off or inherit"));
  }
  if (parts.size() == 2) {
    OKR_ASSIGN_OR_RETURN(out.time, ParseTimeOfDay(flag, parts[1]));
  }
  return out;
}

absl::StatusOr<PolicyEdits> ParsePolicyEdits(const Context& ctx) {
  const Invocation& f = ctx.flags();
  PolicyEdits edits;
  if (std::optional<std::string> zone = f.Get("time-zone"); zone.has_value()) {
    edits.time_zone = absl::AsciiStrToLower(*zone) == "inherit" ? "" : *zone;
  }
  if (std::optional<std::string> weekly = f.Get("weekly"); weekly.has_value()) {
    OKR_ASSIGN_OR_RETURN(edits.weekly, ParseWeeklyEdit(*weekly));
  }
  if (std::optional<std::string> mid = f.Get("mid-quarter"); mid.has_value()) {
    OKR_ASSIGN_OR_RETURN(edits.mid_quarter, ParseReviewEdit("mid-quarter", *mid));
  }
  if (std::optional<std::string> end = f.Get("end-of-quarter"); end.has_value()) {
    OKR_ASSIGN_OR_RETURN(edits.end_of_quarter, ParseReviewEdit("end-of-quarter", *end));
  }
  if (std::optional<std::string> milestones = f.Get("milestones"); milestones.has_value()) {
    std::optional<Edit> edit = KeywordEdit(*milestones);
    if (!edit.has_value()) {
      return UsageError(
          absl::StrCat("--milestones: '", *milestones, "' is not one of on, off, inherit"));
    }
    edits.milestones = *edit;
  }
  return edits;
}

void ApplyWeekly(const WeeklyEdit& edit, okr::v1::ReminderPolicy& policy) {
  switch (edit.edit) {
    case Edit::kKeep:
      return;
    case Edit::kInherit:
      policy.clear_weekly_check_in();
      return;
    case Edit::kOn:
    case Edit::kOff:
      policy.mutable_weekly_check_in()->set_enabled(edit.edit == Edit::kOn);
      return;
    case Edit::kSet: {
      okr::v1::WeeklyCheckInPolicy* weekly = policy.mutable_weekly_check_in();
      weekly->set_enabled(true);
      weekly->set_weekday(edit.weekday);
      if (edit.time.has_value()) {
        *weekly->mutable_local_time() = *edit.time;
      } else {
        weekly->clear_local_time();  // the default time
      }
      return;
    }
  }
}

void ApplyReview(const ReviewEdit& edit,
                 okr::v1::ReviewReminderPolicy* (*section)(okr::v1::ReminderPolicy&),
                 void (*clear)(okr::v1::ReminderPolicy&), okr::v1::ReminderPolicy& policy) {
  switch (edit.edit) {
    case Edit::kKeep:
      return;
    case Edit::kInherit:
      clear(policy);
      return;
    case Edit::kOn:
    case Edit::kOff:
      section(policy)->set_enabled(edit.edit == Edit::kOn);
      return;
    case Edit::kSet: {
      okr::v1::ReviewReminderPolicy* review = section(policy);
      review->set_enabled(true);
      review->set_offset_days(edit.offset_days);
      if (edit.time.has_value()) {
        *review->mutable_local_time() = *edit.time;
      } else {
        review->clear_local_time();
      }
      return;
    }
  }
}

void ApplyEdits(const PolicyEdits& edits, okr::v1::ReminderPolicy& policy) {
  if (edits.time_zone.has_value()) policy.set_time_zone(*edits.time_zone);
  ApplyWeekly(edits.weekly, policy);
  ApplyReview(
      edits.mid_quarter, [](okr::v1::ReminderPolicy& p) { return p.mutable_mid_quarter_review(); },
      [](okr::v1::ReminderPolicy& p) { p.clear_mid_quarter_review(); }, policy);
  ApplyReview(
      edits.end_of_quarter,
      [](okr::v1::ReminderPolicy& p) { return p.mutable_end_of_quarter_review(); },
      [](okr::v1::ReminderPolicy& p) { p.clear_end_of_quarter_review(); }, policy);
  switch (edits.milestones) {
    case Edit::kKeep:
      break;
    case Edit::kInherit:
      policy.clear_planning_milestones();
      break;
    default:
      policy.mutable_planning_milestones()->set_enabled(edits.milestones != Edit::kOff);
      break;
  }
}

// "MONDAY 09:00", "off (MONDAY 09:00)", "inherited".
std::string DescribeWeekly(const okr::v1::ReminderPolicy& p) {
  if (!p.has_weekly_check_in()) return "inherited";
  const okr::v1::WeeklyCheckInPolicy& w = p.weekly_check_in();
  const std::string schedule =
      absl::StrCat(w.weekday() == okr::v1::DAY_OF_WEEK_UNSPECIFIED ? std::string(kDefaultWeekday)
                                                                   : ShortName(w.weekday()),
                   " ",
                   w.has_local_time() ? FormatTimeOfDay(w.local_time())
                                      : absl::StrFormat("%02d:00", kDefaultHour));
  return w.enabled() ? schedule : absl::StrCat("off (", schedule, ")");
}

// "middle day +0, 09:00", "last day -3, 09:00", "off (...)", "inherited".
std::string DescribeReview(bool has, const okr::v1::ReviewReminderPolicy& r,
                           absl::string_view anchor) {
  if (!has) return "inherited";
  const std::string schedule =
      absl::StrCat(anchor, " ", r.offset_days() >= 0 ? "+" : "", r.offset_days(), ", ",
                   r.has_local_time() ? FormatTimeOfDay(r.local_time())
                                      : absl::StrFormat("%02d:00", kDefaultHour));
  return r.enabled() ? schedule : absl::StrCat("off (", schedule, ")");
}

std::string DescribeMilestones(const okr::v1::ReminderPolicy& p) {
  if (!p.has_planning_milestones()) return "inherited";
  return p.planning_milestones().enabled() ? "on" : "off";
}

std::string DescribeTimeZone(const okr::v1::ReminderPolicy& p) {
  return p.time_zone().empty() ? "inherited (the organisation's)" : p.time_zone();
}

// The whole policy for a person: what it is for, then one line per section.
std::string DescribePolicy(Context& ctx, const okr::v1::ReminderPolicy& p) {
  std::string scope = p.team_id().empty() ? std::string("the organisation")
                                          : absl::StrCat("team ", TeamLabel(ctx, p.team_id()));
  std::string head;
  if (p.version() == 0) {
    // Not stored: GetReminderPolicy --effective combined it.
    head = absl::StrCat("effective reminder policy of ", scope,
                        " (stored policies over the built-in defaults)");
  } else {
    head = absl::StrCat("reminder policy of ", scope, ", version ", p.version(), ", updated ",
                        FormatTimestamp(p.update_time()));
  }
  std::string out = absl::StrCat(head, "\n");
  const std::pair<absl::string_view, std::string> lines[] = {
      {"time zone", DescribeTimeZone(p)},
      {"weekly check-in", DescribeWeekly(p)},
      {"mid-quarter review",
       DescribeReview(p.has_mid_quarter_review(), p.mid_quarter_review(), "middle day")},
      {"end-of-quarter review",
       DescribeReview(p.has_end_of_quarter_review(), p.end_of_quarter_review(), "last day")},
      {"planning milestones", DescribeMilestones(p)}};
  for (const auto& [what, value] : lines) {
    absl::StrAppend(&out, absl::StrFormat("  %-22s %s\n", what, value));
  }
  return out;
}

absl::StatusOr<okr::v1::ReminderPolicy> GetPolicy(Context& ctx, const std::string& team_id,
                                                  bool effective) {
  okr::v1::GetReminderPolicyRequest request;
  request.set_team_id(team_id);
  request.set_effective(effective);
  return ctx.notify().Call("GetReminderPolicy", &NStub::GetReminderPolicy, request);
}

absl::Status PolicySet(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(const PolicyEdits edits, ParsePolicyEdits(ctx));
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> if_version, ctx.flags().Int("if-version"));
  OKR_ASSIGN_OR_RETURN(const std::string team_id, ctx.TeamFlag("team"));
  // The stored policy is both the base the flags edit (a flag left out keeps
  // its section) and the version to send, so that running the same command
  // twice just works; a concurrent change in between fails with ABORTED.
  okr::v1::SetReminderPolicyRequest request;
  okr::v1::ReminderPolicy* policy = request.mutable_policy();
  absl::StatusOr<okr::v1::ReminderPolicy> stored = GetPolicy(ctx, team_id, false);
  if (stored.ok()) {
    *policy = *stored;
    request.set_version(stored->version());
  } else if (stored.status().code() != absl::StatusCode::kNotFound) {
    return stored.status();
  }
  // NOT_FOUND also covers an unknown team: SetReminderPolicy then names
  // policy.team_id.
  policy->set_team_id(team_id);
  policy->clear_version();
  policy->clear_update_time();
  ApplyEdits(edits, *policy);
  if (if_version.has_value()) request.set_version(*if_version);
  OKR_ASSIGN_OR_RETURN(okr::v1::ReminderPolicy saved,
                       ctx.notify().Call("SetReminderPolicy", &NStub::SetReminderPolicy, request));
  ctx.Print(saved, [&] {
    return absl::StrCat(request.version() == 0 ? "created " : "updated ",
                        DescribePolicy(ctx, saved));
  });
  return absl::OkStatus();
}

absl::Status PolicyGet(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(const std::string team_id, ctx.TeamFlag("team"));
  OKR_ASSIGN_OR_RETURN(okr::v1::ReminderPolicy policy,
                       GetPolicy(ctx, team_id, ctx.flags().Bool("effective")));
  ctx.Print(policy, [&] { return DescribePolicy(ctx, policy); });
  return absl::OkStatus();
}

absl::Status PolicyList(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListReminderPoliciesResponse response,
                       ctx.notify().ListAll("ListReminderPolicies", &NStub::ListReminderPolicies,
                                            okr::v1::ListReminderPoliciesRequest(), limit,
                                            [](const okr::v1::ListReminderPoliciesResponse& r) {
                                              return r.policies_size();
                                            }));
  ctx.Print(response, [&] {
    if (response.policies().empty()) {
      return std::string("no stored reminder policies (the built-in defaults apply)\n");
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : response.policies()) {
      rows.push_back(
          {p.team_id().empty() ? "organisation"
                               : absl::StrCat("team ", TeamLabel(ctx, p.team_id())),
           p.time_zone().empty() ? "inherited" : p.time_zone(), DescribeWeekly(p),
           DescribeReview(p.has_mid_quarter_review(), p.mid_quarter_review(), "middle day"),
           DescribeReview(p.has_end_of_quarter_review(), p.end_of_quarter_review(), "last day"),
           DescribeMilestones(p), absl::StrCat(p.version()), FormatTimestamp(p.update_time())});
    }
    return RenderTable({"SCOPE", "TIME ZONE", "WEEKLY CHECK-IN", "MID-QUARTER", "END-OF-QUARTER",
                        "MILESTONES", "VERSION", "UPDATED"},
                       rows);
  });
  return absl::OkStatus();
}

absl::Status PolicyDelete(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> if_version, ctx.flags().Int("if-version"));
  OKR_ASSIGN_OR_RETURN(const std::string team_id, ctx.TeamFlag("team"));
  okr::v1::DeleteReminderPolicyRequest request;
  request.set_team_id(team_id);
  if (if_version.has_value()) {
    request.set_version(*if_version);
  } else {
    OKR_ASSIGN_OR_RETURN(okr::v1::ReminderPolicy stored, GetPolicy(ctx, team_id, false));
    request.set_version(stored.version());
  }
  OKR_ASSIGN_OR_RETURN(
      google::protobuf::Empty empty,
      ctx.notify().Call("DeleteReminderPolicy", &NStub::DeleteReminderPolicy, request));
  ctx.Print(empty, [&] {
    if (team_id.empty()) {
      return absl::StrCat("deleted the organisation's reminder policy (version ", request.version(),
                          "); the built-in defaults apply now\n");
    }
    return absl::StrCat("deleted the reminder policy of team ", TeamLabel(ctx, team_id),
                        " (version ", request.version(), "); it inherits the organisation's now\n");
  });
  return absl::OkStatus();
}

// ---- webhooks -----------------------------------------------------------

std::string KindsLabel(const google::protobuf::RepeatedField<int>& kinds) {
  if (kinds.empty()) return "all";
  std::vector<std::string> names;
  for (int kind : kinds) names.push_back(KindName(static_cast<ReminderKind>(kind)));
  return absl::StrJoin(names, ",");
}

absl::Status WebhookAdd(Context& ctx) {
  okr::v1::CreateWebhookRequest request;
  okr::v1::Webhook* webhook = request.mutable_webhook();
  webhook->set_url(ctx.args()[0]);
  webhook->set_display_name(ctx.flags().GetOr("name", ""));
  OKR_ASSIGN_OR_RETURN(std::vector<ReminderKind> kinds, KindsFlag(ctx, "kinds"));
  for (ReminderKind kind : kinds) webhook->add_kinds(kind);
  request.set_request_id(ctx.RequestId());
  OKR_ASSIGN_OR_RETURN(*webhook->mutable_team_id(), ctx.TeamFlag("team"));
  OKR_ASSIGN_OR_RETURN(okr::v1::Webhook created,
                       ctx.notify().Call("CreateWebhook", &NStub::CreateWebhook, request));
  const std::string label = created.display_name().empty()
                                ? created.url()
                                : absl::StrCat(created.display_name(), " (", created.url(), ")");
  ctx.PrintCreated(created, "webhook", {{created.id(), label}});
  return absl::OkStatus();
}

absl::Status WebhookList(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListWebhooksResponse response,
      ctx.notify().ListAll(
          "ListWebhooks", &NStub::ListWebhooks, okr::v1::ListWebhooksRequest(), limit,
          [](const okr::v1::ListWebhooksResponse& r) { return r.webhooks_size(); }));
  ctx.Print(response, [&] {
    if (response.webhooks().empty()) return std::string("no webhooks\n");
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : response.webhooks()) {
      rows.push_back({w.id(), w.display_name(), w.url(), KindsLabel(w.kinds()),
                      w.team_id().empty() ? "all" : TeamLabel(ctx, w.team_id()),
                      FormatTimestamp(w.create_time())});
    }
    return RenderTable({"ID", "NAME", "URL", "KINDS", "TEAM", "CREATED"}, rows);
  });
  return absl::OkStatus();
}

absl::Status WebhookDelete(Context& ctx) {
  okr::v1::DeleteWebhookRequest request;
  request.set_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(google::protobuf::Empty empty,
                       ctx.notify().Call("DeleteWebhook", &NStub::DeleteWebhook, request));
  ctx.Print(empty, [&] { return absl::StrCat("deleted webhook ", request.id(), "\n"); });
  return absl::OkStatus();
}

// ---- reminders ----------------------------------------------------------

std::string RecipientLabel(const okr::v1::Reminder& r) {
  return r.recipient_name().empty() ? r.recipient_id() : r.recipient_name();
}

// One row per reminder: TIME (`time` of it), KIND, RECIPIENT, WINDOW,
// ITEMS, TEXT.
std::string RemindersTable(const google::protobuf::RepeatedPtrField<okr::v1::Reminder>& reminders,
                           const google::protobuf::Timestamp& (okr::v1::Reminder::*time)() const) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reminders) {
    rows.push_back({FormatTimestamp((r.*time)()), KindName(r.kind()), RecipientLabel(r),
                    r.window_key(), absl::StrCat(r.due_items_size()), r.text()});
  }
  return RenderTable({"TIME", "KIND", "RECIPIENT", "WINDOW", "ITEMS", "TEXT"}, rows);
}

absl::Status RemindersRun(Context& ctx) {
  okr::v1::RunDueRemindersRequest request;
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> now,
                       OptionalTimestamp(ctx, "now"));
  if (now.has_value()) *request.mutable_now() = *now;
  request.set_dry_run(ctx.flags().Bool("dry-run"));
  OKR_ASSIGN_OR_RETURN(std::vector<ReminderKind> kinds, KindsFlag(ctx, "kinds"));
  for (ReminderKind kind : kinds) request.add_kinds(kind);
  OKR_ASSIGN_OR_RETURN(okr::v1::RunDueRemindersResponse response,
                       ctx.notify().Call("RunDueReminders", &NStub::RunDueReminders, request));
  ctx.Print(response, [&] {
    std::string out =
        absl::StrCat("reminders due at ", FormatTimestamp(response.now()),
                     request.dry_run() ? " (dry run: nothing was published)" : "", "\n");
    std::vector<std::vector<std::string>> rows;
    okr::v1::ReminderKindCounts total;
    for (const auto& c : response.counts()) {
      rows.push_back({KindName(c.kind()), absl::StrCat(c.found()), absl::StrCat(c.published()),
                      absl::StrCat(c.skipped()), absl::StrCat(c.failed())});
      total.set_found(total.found() + c.found());
      total.set_published(total.published() + c.published());
      total.set_skipped(total.skipped() + c.skipped());
      total.set_failed(total.failed() + c.failed());
    }
    rows.push_back({"TOTAL", absl::StrCat(total.found()), absl::StrCat(total.published()),
                    absl::StrCat(total.skipped()), absl::StrCat(total.failed())});
    absl::StrAppend(&out, RenderTable({"KIND", "FOUND", "PUBLISHED", "SKIPPED", "FAILED"}, rows));
    if (total.failed() > 0) {
      absl::StrAppend(&out, total.failed(),
                      " reminder(s) could not be published (is Redis reachable?); the next run "
                      "publishes them\n");
    }
    if (!response.sample().empty()) {
      absl::StrAppend(&out, "\nwould publish",
                      response.sample_size() < total.found() ? " (sample)" : "", ":\n",
                      RemindersTable(response.sample(), &okr::v1::Reminder::due_time));
    }
    return out;
  });
  return absl::OkStatus();
}

absl::Status RemindersList(Context& ctx) {
  okr::v1::ListRemindersRequest request;
  if (std::optional<std::string> kind = ctx.flags().Get("kind"); kind.has_value()) {
    OKR_ASSIGN_OR_RETURN(ReminderKind k, ParseReminderKind("kind", *kind));
    request.set_kind(k);
  }
  request.set_window_key(ctx.flags().GetOr("window", ""));
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> since,
                       OptionalTimestamp(ctx, "since"));
  if (since.has_value()) *request.mutable_start_time() = *since;
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(*request.mutable_recipient_id(), ctx.PersonFlag("recipient"));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListRemindersResponse response,
                       ctx.notify().ListAll("ListReminders", &NStub::ListReminders, request, limit,
                                            [](const okr::v1::ListRemindersResponse& r) {
                                              return r.reminders_size();
                                            }));
  ctx.Print(response, [&] {
    if (response.reminders().empty()) return std::string("no reminders\n");
    return RemindersTable(response.reminders(), &okr::v1::Reminder::publish_time);
  });
  return absl::OkStatus();
}

absl::Status RemindersWatch(Context& ctx) {
  okr::v1::WatchRemindersRequest request;
  OKR_ASSIGN_OR_RETURN(std::vector<ReminderKind> kinds, KindsFlag(ctx, "kind"));
  for (ReminderKind kind : kinds) request.add_kinds(kind);
  OKR_ASSIGN_OR_RETURN(const int64_t count, PositiveFlag(ctx, "count"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_recipient_id(), ctx.PersonFlag("recipient"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_team_id(), ctx.TeamFlag("team"));
  // A watch runs until Ctrl-C or --count reminders; only an explicit
  // --timeout bounds it, and then running out of time is how it ends.
  const bool bounded = ctx.flags().Has("timeout");
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderInterface<okr::v1::Reminder>> reader =
      ctx.notify().Stream(context, &NStub::WatchReminders, request, bounded);
  okr::v1::Reminder reminder;
  int64_t seen = 0;
  while ((count == 0 || seen < count) && reader->Read(&reminder)) {
    ++seen;
    if (ctx.json()) {
      ctx.out() << JsonLine(reminder);
    } else {
      ctx.out() << absl::StrJoin(
                       {FormatTimestamp(reminder.publish_time()), KindName(reminder.kind()),
                        RecipientLabel(reminder), reminder.window_key(),
                        absl::StrCat(reminder.due_items_size(),
                                     reminder.due_items_size() == 1 ? " item" : " items"),
                        reminder.text()},
                       "  ")
                << "\n";
    }
    // Whoever reads the other end of a pipe sees each reminder at once.
    ctx.out().flush();
  }
  if (count > 0 && seen >= count) {
    context.TryCancel();
    (void)reader->Finish();  // CANCELLED, by us
    return absl::OkStatus();
  }
  const grpc::Status status = reader->Finish();
  if (bounded && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::OkStatus();
  }
  return ctx.notify().StreamStatus(status, "WatchReminders");
}

// ---- deliveries ---------------------------------------------------------

absl::Status Deliveries(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::ListDeliveriesRequest request;
  request.set_reminder_id(f.GetOr("reminder", ""));
  request.set_webhook_id(f.GetOr("webhook", ""));
  if (std::optional<std::string> channel = f.Get("channel"); channel.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::DeliveryChannel c,
                         ParseEnum<okr::v1::DeliveryChannel>("channel", *channel));
    request.set_channel(c);
  }
  if (std::optional<std::string> status = f.Get("status"); status.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::DeliveryStatus s,
                         ParseEnum<okr::v1::DeliveryStatus>("status", *status));
    request.set_status(s);
  }
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> since,
                       OptionalTimestamp(ctx, "since"));
  if (since.has_value()) *request.mutable_start_time() = *since;
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListDeliveriesResponse response,
                       ctx.notify().ListAll("ListDeliveries", &NStub::ListDeliveries, request,
                                            limit, [](const okr::v1::ListDeliveriesResponse& r) {
                                              return r.deliveries_size();
                                            }));
  ctx.Print(response, [&] {
    if (response.deliveries().empty()) return std::string("no deliveries\n");
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : response.deliveries()) {
      rows.push_back({FormatTimestamp(d.time()), d.reminder_id(), ShortName(d.channel()),
                      d.webhook_id(), absl::StrCat(d.attempt()), ShortName(d.status()),
                      d.http_status() == 0 ? "" : absl::StrCat(d.http_status()), d.error()});
    }
    return RenderTable(
        {"TIME", "REMINDER", "CHANNEL", "WEBHOOK", "ATTEMPT", "STATUS", "HTTP", "ERROR"}, rows);
  });
  return absl::OkStatus();
}

constexpr absl::string_view kKindValues = "weekly|mid|end|milestone";

}  // namespace

void AddNotifyCommands(std::vector<Command>& commands) {
  const FlagSpec team = ValueFlag("team", "TEAM", "a team's policy (default: the organisation's)");
  commands.push_back(
      {"policy set",
       "",
       "Create or change a reminder policy; flags left out keep what is stored",
       {team, ValueFlag("time-zone", "IANA|inherit", "time zone of the local times"),
        ValueFlag("weekly", "DAY[@HH:MM]|on|off|inherit",
                  "weekly check-in reminders, e.g. MON@09:00"),
        ValueFlag("mid-quarter", "OFFSET[@HH:MM]|on|off|inherit",
                  "mid-quarter review: days from the quarter's middle day, e.g. 0@09:00"),
        ValueFlag("end-of-quarter", "OFFSET[@HH:MM]|on|off|inherit",
                  "end-of-quarter review: days from its last day, e.g. -3@09:00"),
        ValueFlag("milestones", "on|off|inherit", "planning milestone reminders"), IfVersionFlag()},
       0,
       0,
       PolicySet});
  commands.push_back({"policy get",
                      "",
                      "Show the stored (or --effective) reminder policy",
                      {team, BoolFlag("effective",
                                      "the policy that applies: team over organisation over "
                                      "built-in defaults")},
                      0,
                      0,
                      PolicyGet});
  commands.push_back({"policy list",
                      "",
                      "List the stored reminder policies (organisation first, then teams)",
                      {LimitFlag()},
                      0,
                      0,
                      PolicyList});
  commands.push_back({"policy delete",
                      "",
                      "Delete a reminder policy (a team then inherits the organisation's)",
                      {team, IfVersionFlag()},
                      0,
                      0,
                      PolicyDelete});
  commands.push_back(
      {"webhook add",
       "URL",
       "Register an http(s) webhook that receives reminders (Slack-compatible JSON)",
       {ValueFlag("name", "TEXT", "display name"),
        ListFlag("kinds", std::string(kKindValues), "only these kinds (default: all)"),
        ValueFlag("team", "TEAM", "only reminders for this team's members"), RequestIdFlag()},
       1,
       1,
       WebhookAdd});
  commands.push_back(
      {"webhook list", "", "List webhooks by creation time", {LimitFlag()}, 0, 0, WebhookList});
  commands.push_back({"webhook delete", "ID", "Delete a webhook", {}, 1, 1, WebhookDelete});
  commands.push_back(
      {"reminders run",
       "",
       "Find the reminders due and publish the new ones; prints the counts per kind",
       {ValueFlag("now", "RFC3339", "evaluate at this instant (default: the server's time)"),
        BoolFlag("dry-run", "find and count, publish nothing; prints a sample"),
        ListFlag("kinds", std::string(kKindValues), "only these kinds (default: all)")},
       0,
       0,
       RemindersRun});
  commands.push_back(
      {"reminders list",
       "",
       "Published reminders, newest first",
       {ValueFlag("kind", std::string(kKindValues), "only this kind"),
        ValueFlag("recipient", "PERSON", "only this person's (id, name or e-mail)"),
        ValueFlag("window", "KEY", "only this window, e.g. 2027-W05 or a cycle id"),
        ValueFlag("since", "RFC3339", "only reminders published at or after this time"),
        LimitFlag()},
       0,
       0,
       RemindersList});
  commands.push_back(
      {"reminders watch",
       "",
       "Print reminders as they are published, until Ctrl-C (--json: one JSON object a line)",
       {ListFlag("kind", std::string(kKindValues), "only these kinds (default: all)"),
        ValueFlag("recipient", "PERSON", "only this person's"),
        ValueFlag("team", "TEAM", "only reminders under this team's policy"),
        ValueFlag("count", "N", "stop after N reminders")},
       0,
       0,
       RemindersWatch});
  commands.push_back(
      {"deliveries",
       "",
       "The delivery log, newest first: one row per attempt on each channel",
       {ValueFlag("reminder", "ID", "only this reminder's deliveries"),
        ValueFlag("webhook", "ID", "only deliveries to this webhook"),
        ValueFlag("channel", "redis-pubsub|redis-stream|webhook", "only this channel"),
        ValueFlag("status", "succeeded|retrying|failed", "only this outcome"),
        ValueFlag("since", "RFC3339", "only attempts at or after this time"), LimitFlag()},
       0,
       0,
       Deliveries});
}

}  // namespace okr::okrctl
