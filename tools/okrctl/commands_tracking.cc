// Commands over the tracking service: check-ins and their history, scores
// and their explanations, the scored alignment tree, stale key results,
// reviews, closing a cycle and rebuilding the rollups.
//
// These call okr.v1.TrackingService at --tracking-addr; names (people,
// cycles, teams) are still looked up in planning, and the titles shown next
// to scores are read from planning too. Titles are decoration: once the
// tracking call has succeeded, a planning failure shows ids instead of
// failing the command (a check-in that was recorded must not look failed).
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using TStub = TrackingClient::Stub;
using PStub = PlanningClient::Stub;

// ---- values -------------------------------------------------------------

absl::StatusOr<google::protobuf::Timestamp> TimestampFlag(absl::string_view flag,
                                                          const std::string& text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return UsageError(absl::StrCat("--", flag, ": '", text,
                                   "' is not an RFC 3339 time (e.g. 2026-11-28T09:00:00Z or "
                                   "2026-11-28T09:00:00-05:00)"));
  }
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  timestamp.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(timestamp.seconds()))));
  return timestamp;
}

}  // namespace

absl::StatusOr<std::optional<google::protobuf::Timestamp>> OptionalTimestamp(
    const Context& ctx, absl::string_view flag) {
  std::optional<std::string> text = ctx.flags().Get(flag);
  if (!text.has_value()) return std::optional<google::protobuf::Timestamp>();
  OKR_ASSIGN_OR_RETURN(google::protobuf::Timestamp t, TimestampFlag(flag, *text));
  return std::optional<google::protobuf::Timestamp>(t);
}

namespace {

// An int32 flag; the server checks the range that matters, this only keeps
// a huge number from wrapping into a valid one.
absl::StatusOr<std::optional<int32_t>> Int32Flag(const Context& ctx, absl::string_view flag) {
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> value, ctx.flags().Int(flag));
  if (!value.has_value()) return std::optional<int32_t>();
  if (*value < std::numeric_limits<int32_t>::min() ||
      *value > std::numeric_limits<int32_t>::max()) {
    return UsageError(absl::StrCat("--", flag, ": ", *value, " is out of range"));
  }
  return std::optional<int32_t>(static_cast<int32_t>(*value));
}

// "mid" and "end" besides the enum's own names (mid-quarter, END_OF_QUARTER).
absl::StatusOr<okr::v1::ReviewKind> ParseReviewKind(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "mid") return okr::v1::REVIEW_KIND_MID_QUARTER;
  if (lower == "end") return okr::v1::REVIEW_KIND_END_OF_QUARTER;
  absl::StatusOr<okr::v1::ReviewKind> kind = ParseEnum<okr::v1::ReviewKind>("kind", text);
  if (!kind.ok() || *kind == okr::v1::REVIEW_KIND_UNSPECIFIED) {
    return UsageError(
        absl::StrCat("--kind: '", text, "' is not one of mid, end (mid-quarter, end-of-quarter)"));
  }
  return *kind;
}

absl::StatusOr<okr::v1::ReviewKind> RequiredReviewKind(const Context& ctx,
                                                       absl::string_view command) {
  std::optional<std::string> kind = ctx.flags().Get("kind");
  if (!kind.has_value()) return UsageError(absl::StrCat(command, " needs --kind=mid|end"));
  return ParseReviewKind(*kind);
}

// ---- formatting ---------------------------------------------------------

std::string Score(double value) { return absl::StrFormat("%.2f", value); }

std::string GradeName(okr::v1::Grade grade) {
  return grade == okr::v1::GRADE_UNSPECIFIED ? "" : ShortName(grade);
}

std::string StatusName(okr::v1::CheckInStatus status) {
  return status == okr::v1::CHECK_IN_STATUS_UNSPECIFIED ? "" : ShortName(status);
}

double Effective(const okr::v1::ObjectiveScore& s) {
  return s.has_final_score() ? s.final_score() : s.score();
}

double Effective(const okr::v1::KeyResultScore& s) {
  return s.has_final_score() ? s.final_score() : s.progress();
}

// What a check-in reported: "value 7.9", "done", "not done".
std::string Reported(const okr::v1::CheckIn& c) {
  if (c.has_value()) return absl::StrCat("value ", FormatNumber(c.value()));
  if (c.has_done()) return c.done() ? "done" : "not done";
  return "";
}

// The latest value of a key result: its current value (metric) or whether
// it is done (milestone); "" when the score says neither.
std::string Current(const okr::v1::KeyResultScore& s) {
  if (s.has_current_value()) return FormatNumber(s.current_value());
  if (s.has_done()) return s.done() ? "done" : "not done";
  return "";
}

// The non-empty parts joined by `separator`.
std::string Join(const std::vector<std::string>& parts, absl::string_view separator) {
  std::vector<std::string> kept;
  for (const std::string& p : parts) {
    if (!p.empty()) kept.push_back(p);
  }
  return absl::StrJoin(kept, separator);
}

// "key: value" lines, leaving out empty values.
std::string Facts(const std::vector<std::pair<std::string, std::string>>& facts) {
  std::string out;
  for (const auto& [key, value] : facts) {
    if (!value.empty()) absl::StrAppend(&out, key, ": ", value, "\n");
  }
  return out;
}

// Titles of objectives and key results from planning, best effort (see the
// file comment). After one failure planning is not asked again: every call
// shares the command's deadline.
class Titles {
 public:
  explicit Titles(Context& ctx) : ctx_(ctx) {}

  std::string Objective(const std::string& id) {
    if (auto it = objectives_.find(id); it != objectives_.end()) return it->second;
    std::string title;
    if (!failed_) {
      okr::v1::GetObjectiveRequest request;
      request.set_id(id);
      absl::StatusOr<okr::v1::Objective> o =
          ctx_.client().Call("GetObjective", &PStub::GetObjective, request);
      if (o.ok()) {
        title = o->title();
      } else {
        failed_ = true;
      }
    }
    objectives_[id] = title;
    return title;
  }

  std::string KeyResult(const std::string& id) {
    if (auto it = key_results_.find(id); it != key_results_.end()) return it->second;
    std::string title;
    if (!failed_) {
      okr::v1::GetKeyResultRequest request;
      request.set_id(id);
      absl::StatusOr<okr::v1::KeyResult> kr =
          ctx_.client().Call("GetKeyResult", &PStub::GetKeyResult, request);
      if (kr.ok()) {
        title = kr->title();
      } else {
        failed_ = true;
      }
    }
    key_results_[id] = title;
    return title;
  }

  // Reads the titles of every key result of `objective_id` in one call.
  void LoadKeyResultsOf(const std::string& objective_id) {
    if (failed_) return;
    okr::v1::ListKeyResultsRequest request;
    request.set_objective_id(objective_id);
    request.set_include_archived(true);
    absl::StatusOr<okr::v1::ListKeyResultsResponse> krs = ctx_.client().ListAll(
        "ListKeyResults", &PStub::ListKeyResults, request, 0,
        [](const okr::v1::ListKeyResultsResponse& r) { return r.key_results_size(); });
    if (!krs.ok()) {
      failed_ = true;
      return;
    }
    for (const auto& kr : krs->key_results()) key_results_[kr.id()] = kr.title();
  }

  // "<title>  [<id>]", or "[<id>]" without a title.
  static std::string Label(const std::string& title, const std::string& id) {
    return title.empty() ? absl::StrCat("[", id, "]") : absl::StrCat(title, "  [", id, "]");
  }

 private:
  Context& ctx_;
  bool failed_ = false;
  absl::flat_hash_map<std::string, std::string> objectives_;
  absl::flat_hash_map<std::string, std::string> key_results_;
};

}  // namespace

const Names* NamesOrNull(Context& ctx) {
  absl::StatusOr<const Names*> names = ctx.names();
  return names.ok() ? *names : nullptr;
}

namespace {

std::string PersonName(const Names* names, const std::string& id) {
  if (id.empty()) return "";
  return names == nullptr ? id : names->Person(id);
}

// Rows of the "what moved" table of a check-in and of `score objective`.
const std::vector<std::string> kScoreHeader = {"", "SCORE", "GRADE", "PACE", "TITLE"};

std::vector<std::string> KeyResultScoreRow(const okr::v1::KeyResultScore& s, Titles& titles) {
  return {"key result", Score(Effective(s)), GradeName(s.grade()), "",
          Titles::Label(titles.KeyResult(s.key_result_id()), s.key_result_id())};
}

std::vector<std::string> ObjectiveScoreRow(const okr::v1::ObjectiveScore& s, Titles& titles) {
  return {"objective", Score(Effective(s)), GradeName(s.grade()), StatusName(s.pace().status()),
          Titles::Label(titles.Objective(s.objective_id()), s.objective_id())};
}

// ---- checkin ------------------------------------------------------------

absl::Status CheckIn(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::RecordCheckInRequest request;
  request.set_key_result_id(ctx.args()[0]);
  const bool has_value = f.Has("value");
  const bool has_done = f.Has("done");
  if (has_value && has_done) return UsageError("checkin: give --value or --done, not both");
  if (has_value) {
    OKR_ASSIGN_OR_RETURN(std::optional<double> value, f.Double("value"));
    request.set_value(*value);
  } else if (has_done) {
    request.set_done(f.Bool("done"));
  } else {
    return UsageError(
        "checkin needs --value=N (a metric key result) or --done[=true|false] (a milestone)");
  }
  OKR_ASSIGN_OR_RETURN(std::optional<int32_t> confidence, Int32Flag(ctx, "confidence"));
  if (confidence.has_value()) request.set_confidence(*confidence);
  if (std::optional<std::string> status = f.Get("status"); status.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::CheckInStatus s,
                         ParseEnum<okr::v1::CheckInStatus>("status", *status));
    request.set_status(s);
  }
  request.set_note(f.GetOr("note", ""));
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> time,
                       OptionalTimestamp(ctx, "time"));
  if (time.has_value()) *request.mutable_time() = *time;
  if (!f.Has("author")) return UsageError("checkin needs --author=PERSON (id, name or e-mail)");
  // Last: the name lookup is the first call, and a usage error must not
  // wait for a server.
  OKR_ASSIGN_OR_RETURN(*request.mutable_author_id(), ctx.PersonFlag("author"));
  // A random key makes each run a new check-in; a script that must not
  // record twice when retried passes its own --key.
  request.set_client_key(f.Has("key") ? *f.Get("key") : NewUuid());

  OKR_ASSIGN_OR_RETURN(okr::v1::RecordCheckInResponse response,
                       ctx.tracking().Call("RecordCheckIn", &TStub::RecordCheckIn, request));
  if (ctx.json()) {
    ctx.out() << ToJson(response);
    return absl::OkStatus();
  }
  const okr::v1::CheckIn& c = response.check_in();
  if (ctx.quiet()) {
    // Like a create: the id alone (the earlier one when replayed).
    ctx.out() << c.id() << "\n";
    return absl::OkStatus();
  }
  if (response.replayed()) {
    ctx.out() << "check-in " << c.id() << " was already recorded with this client key;"
              << " nothing changed\n";
  } else {
    const Names* names = NamesOrNull(ctx);
    ctx.out() << "recorded check-in " << c.id() << " on key result " << c.key_result_id() << ": "
              << Join({Reported(c),
                       c.has_confidence() ? absl::StrCat("confidence ", c.confidence()) : "",
                       StatusName(c.status()),
                       absl::StrCat("at ", FormatTimestamp(c.time()), " by ",
                                    PersonName(names, c.author_id()))},
                      ", ")
              << "\n";
  }
  if (f.Bool("verbose")) ctx.out() << "client key: " << c.client_key() << "\n";
  Titles titles(ctx);
  std::vector<std::vector<std::string>> rows;
  if (response.has_key_result_score()) {
    rows.push_back(KeyResultScoreRow(response.key_result_score(), titles));
  }
  for (const auto& s : response.objective_scores()) rows.push_back(ObjectiveScoreRow(s, titles));
  ctx.out() << RenderTable(kScoreHeader, rows);
  return absl::OkStatus();
}

// ---- history ------------------------------------------------------------

absl::Status History(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::ListCheckInsRequest request;
  request.set_key_result_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> since,
                       OptionalTimestamp(ctx, "since"));
  if (since.has_value()) *request.mutable_start_time() = *since;
  OKR_ASSIGN_OR_RETURN(std::optional<google::protobuf::Timestamp> until,
                       OptionalTimestamp(ctx, "until"));
  if (until.has_value()) *request.mutable_end_time() = *until;
  OKR_ASSIGN_OR_RETURN(std::optional<int32_t> page_size, Int32Flag(ctx, "page-size"));
  const bool all = f.Bool("all");
  if (all && (page_size.has_value() || f.Has("page-token"))) {
    return UsageError("history: --all reads every page; leave out --page-size and --page-token");
  }
  okr::v1::ListCheckInsResponse response;
  if (all) {
    OKR_ASSIGN_OR_RETURN(
        response, ctx.tracking().ListAll(
                      "ListCheckIns", &TStub::ListCheckIns, request, 0,
                      [](const okr::v1::ListCheckInsResponse& r) { return r.check_ins_size(); }));
  } else {
    request.set_page_size(page_size.value_or(0));
    request.set_page_token(f.GetOr("page-token", ""));
    OKR_ASSIGN_OR_RETURN(response,
                         ctx.tracking().Call("ListCheckIns", &TStub::ListCheckIns, request));
  }
  if (ctx.json()) {
    ctx.out() << ToJson(response);
    return absl::OkStatus();
  }
  if (response.check_ins().empty()) {
    ctx.out() << "no check-ins\n";
    return absl::OkStatus();
  }
  const Names* names = NamesOrNull(ctx);
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : response.check_ins()) {
    std::string reported = c.has_value()  ? FormatNumber(c.value())
                           : c.has_done() ? (c.done() ? "done" : "not done")
                                          : "";
    rows.push_back({FormatTimestamp(c.time()), c.id(), reported,
                    c.has_confidence() ? absl::StrCat(c.confidence()) : "", StatusName(c.status()),
                    PersonName(names, c.author_id()), c.note()});
  }
  ctx.out() << RenderTable({"TIME", "ID", "VALUE", "CONFIDENCE", "STATUS", "AUTHOR", "NOTE"}, rows);
  ctx.out() << response.check_ins_size() << " of " << response.total_size() << " check-ins"
            << (response.next_page_token().empty()
                    ? ""
                    : absl::StrCat("; more with --all or --page-token=",
                                   response.next_page_token()))
            << "\n";
  return absl::OkStatus();
}

// ---- scores -------------------------------------------------------------

std::string DescribeKeyResultScore(const okr::v1::KeyResultScore& s, Titles& titles) {
  std::string out =
      absl::StrCat(Titles::Label(titles.KeyResult(s.key_result_id()), s.key_result_id()), "\n");
  absl::StrAppend(
      &out, Facts({{"progress", Score(s.progress())},
                   {"final score", s.has_final_score() ? absl::StrCat(Score(s.final_score()),
                                                                      " (end-of-quarter review)")
                                                       : ""},
                   {"grade", GradeName(s.grade())},
                   {s.has_done() ? "done" : "current value", Current(s)},
                   {"confidence", s.has_confidence() ? absl::StrCat(s.confidence()) : ""},
                   {"status", StatusName(s.status())},
                   {"check-ins", s.check_in_count() == 0
                                     ? "none yet"
                                     : absl::StrCat(s.check_in_count(), ", latest ",
                                                    FormatTimestamp(s.last_check_in_time()))},
                   {"frozen", s.frozen() ? "yes (the cycle is closed)" : ""},
                   {"objective", s.objective_id()},
                   {"score version", absl::StrCat(s.score_version())}}));
  return out;
}

absl::Status ScoreKeyResult(Context& ctx) {
  okr::v1::GetKeyResultScoreRequest request;
  request.set_key_result_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(
      okr::v1::KeyResultScore score,
      ctx.tracking().Call("GetKeyResultScore", &TStub::GetKeyResultScore, request));
  if (ctx.json()) {
    ctx.out() << ToJson(score);
    return absl::OkStatus();
  }
  Titles titles(ctx);
  ctx.out() << DescribeKeyResultScore(score, titles);
  return absl::OkStatus();
}

absl::Status ScoreObjective(Context& ctx) {
  okr::v1::GetObjectiveScoreRequest request;
  request.set_objective_id(ctx.args()[0]);
  request.set_include_key_results(ctx.flags().Bool("krs"));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ObjectiveScore s,
      ctx.tracking().Call("GetObjectiveScore", &TStub::GetObjectiveScore, request));
  if (ctx.json()) {
    ctx.out() << ToJson(s);
    return absl::OkStatus();
  }
  Titles titles(ctx);
  std::string out =
      absl::StrCat(Titles::Label(titles.Objective(s.objective_id()), s.objective_id()), "\n");
  const okr::v1::Pace& pace = s.pace();
  absl::StrAppend(
      &out,
      Facts({{"score", Score(s.score())},
             {"final score", s.has_final_score()
                                 ? absl::StrCat(Score(s.final_score()), " (end-of-quarter review)")
                                 : ""},
             {"grade", GradeName(s.grade())},
             {"success", s.success() ? "yes" : "no"},
             {"pace", Join({absl::StrCat("expected ", Score(pace.expected())),
                            absl::StrFormat("gap %+.2f", pace.gap()), StatusName(pace.status())},
                           ", ")},
             {"frozen", s.frozen() ? "yes (the cycle is closed)" : ""},
             {"computed", FormatTimestamp(s.compute_time())},
             {"score version", absl::StrCat(s.score_version())}}));
  if (!s.key_result_scores().empty()) {
    titles.LoadKeyResultsOf(s.objective_id());
    std::vector<std::vector<std::string>> rows;
    for (const auto& kr : s.key_result_scores()) {
      rows.push_back({kr.key_result_id(), Score(Effective(kr)), GradeName(kr.grade()), Current(kr),
                      kr.has_confidence() ? absl::StrCat(kr.confidence()) : "",
                      StatusName(kr.status()), absl::StrCat(kr.check_in_count()),
                      titles.KeyResult(kr.key_result_id())});
    }
    absl::StrAppend(&out, "\n",
                    RenderTable({"KEY RESULT", "SCORE", "GRADE", "NOW", "CONFIDENCE", "STATUS",
                                 "CHECK-INS", "TITLE"},
                                rows));
  }
  ctx.out() << out;
  return absl::OkStatus();
}

absl::Status ScoreExplain(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::ExplainScoreRequest request;
  if (f.Has("objective") == f.Has("kr")) {
    return UsageError("score explain needs exactly one of --objective=ID and --kr=ID");
  }
  if (f.Has("objective")) {
    request.set_objective_id(f.GetOr("objective", ""));
  } else {
    request.set_key_result_id(f.GetOr("kr", ""));
  }
  OKR_ASSIGN_OR_RETURN(okr::v1::ScoreExplanation e,
                       ctx.tracking().Call("ExplainScore", &TStub::ExplainScore, request));
  if (ctx.json()) {
    ctx.out() << ToJson(e);
    return absl::OkStatus();
  }
  Titles titles(ctx);
  const bool objective = e.target().kind() == okr::v1::RESOURCE_KIND_OBJECTIVE;
  const std::string& id = e.target().id();
  std::string out =
      absl::StrCat(objective ? "objective " : "key result ",
                   Titles::Label(objective ? titles.Objective(id) : titles.KeyResult(id), id), "\n",
                   "score: ", Score(e.score()), "\n", "formula: ", e.formula(), "\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& in : e.inputs()) {
    // Check-ins and start values carry the raw metric, the rest a progress.
    const bool raw = in.kind() == okr::v1::SCORE_INPUT_KIND_CHECK_IN ||
                     in.kind() == okr::v1::SCORE_INPUT_KIND_START_VALUE;
    rows.push_back({ShortName(in.kind()), in.label().empty() ? in.source().id() : in.label(),
                    raw ? FormatNumber(in.value()) : Score(in.value()), FormatNumber(in.weight()),
                    absl::StrFormat("%.3f", in.contribution()),
                    // The provenance usually says when; the time alone otherwise.
                    Join({in.source().id(),
                          in.provenance().empty() ? FormatTimestamp(in.time()) : in.provenance()},
                         " · ")});
  }
  if (!rows.empty()) {
    absl::StrAppend(
        &out, "\n",
        RenderTable({"INPUT", "LABEL", "VALUE", "WEIGHT", "CONTRIBUTION", "SOURCE"}, rows));
  }
  if (!e.notes().empty()) {
    absl::StrAppend(&out, "\nnotes:\n");
    for (const std::string& note : e.notes()) absl::StrAppend(&out, "  - ", note, "\n");
  }
  ctx.out() << out;
  return absl::OkStatus();
}

// ---- stale --------------------------------------------------------------

absl::Status Stale(Context& ctx) {
  okr::v1::ListStaleKeyResultsRequest request;
  if (!ctx.flags().Has("since")) {
    return UsageError("stale needs --since=TIME (RFC 3339): key results without a check-in since");
  }
  OKR_ASSIGN_OR_RETURN(*request.mutable_since(), TimestampFlag("since", *ctx.flags().Get("since")));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_owner_id(), ctx.PersonFlag("owner"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_team_id(), ctx.TeamFlag("team"));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListStaleKeyResultsResponse response,
      ctx.tracking().ListAll("ListStaleKeyResults", &TStub::ListStaleKeyResults, request, limit,
                             [](const okr::v1::ListStaleKeyResultsResponse& r) {
                               return r.stale_key_results_size();
                             }));
  if (ctx.json()) {
    ctx.out() << ToJson(response);
    return absl::OkStatus();
  }
  if (response.stale_key_results().empty()) {
    ctx.out() << "no stale key results\n";
    return absl::OkStatus();
  }
  const Names* names = NamesOrNull(ctx);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : response.stale_key_results()) {
    const std::string last = FormatTimestamp(s.last_check_in_time());
    rows.push_back({PersonName(names, s.owner_id()), s.key_result_id(),
                    last.empty() ? "never" : last, s.key_result_title(), s.objective_title()});
  }
  ctx.out() << RenderTable({"OWNER", "KEY RESULT", "LAST CHECK-IN", "TITLE", "OBJECTIVE"}, rows)
            << response.stale_key_results_size() << " stale key result"
            << (response.stale_key_results_size() == 1 ? "" : "s") << "\n";
  return absl::OkStatus();
}

// ---- reviews ------------------------------------------------------------

std::string DescribeReview(const okr::v1::Review& r, Titles& titles, const Names* names) {
  std::string out =
      absl::StrCat(ShortName(r.kind()), " review ", r.id(), " of objective ",
                   Titles::Label(titles.Objective(r.objective_id()), r.objective_id()), "\n");
  absl::StrAppend(&out,
                  Facts({{"computed score", Score(r.computed_score())},
                         {"final score", r.has_final_score() ? Score(r.final_score()) : ""},
                         {"grade", GradeName(r.grade())},
                         {"roll over", r.roll_over() ? "yes" : "no"},
                         {"learnings", r.learnings()},
                         {"author", PersonName(names, r.author_id())},
                         {"cycle", names == nullptr ? r.cycle_id() : names->Cycle(r.cycle_id())},
                         {"version", absl::StrCat(r.version())},
                         {"updated", FormatTimestamp(r.update_time())}}));
  if (!r.key_results().empty()) {
    titles.LoadKeyResultsOf(r.objective_id());
    std::vector<std::vector<std::string>> rows;
    for (const auto& kr : r.key_results()) {
      rows.push_back({kr.key_result_id(), Score(kr.computed_score()),
                      kr.has_final_score() ? Score(kr.final_score()) : "",
                      kr.roll_over() ? "yes" : "", titles.KeyResult(kr.key_result_id()),
                      kr.note()});
    }
    absl::StrAppend(
        &out, "\n",
        RenderTable({"KEY RESULT", "COMPUTED", "FINAL", "ROLL OVER", "TITLE", "NOTE"}, rows));
  }
  return out;
}

absl::StatusOr<okr::v1::Review> GetReview(Context& ctx, const std::string& objective_id,
                                          okr::v1::ReviewKind kind) {
  okr::v1::GetReviewRequest request;
  request.set_objective_id(objective_id);
  request.set_kind(kind);
  return ctx.tracking().Call("GetReview", &TStub::GetReview, request);
}

absl::Status ReviewSet(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::UpsertReviewRequest request;
  okr::v1::Review* review = request.mutable_review();
  review->set_objective_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(okr::v1::ReviewKind kind, RequiredReviewKind(ctx, "review set"));
  review->set_kind(kind);
  OKR_ASSIGN_OR_RETURN(std::optional<double> final_score, f.Double("final"));
  if (final_score.has_value()) review->set_final_score(*final_score);
  for (const std::string& item : f.GetAll("kr")) {
    const size_t eq = item.find('=');
    double score = 0;
    if (eq == std::string::npos || eq == 0 ||
        !absl::SimpleAtod(absl::string_view(item).substr(eq + 1), &score) ||
        !std::isfinite(score)) {
      return UsageError(absl::StrCat("--kr: '", item, "' is not KR_ID=SCORE (e.g. kr-1=0.7)"));
    }
    okr::v1::KeyResultReview* kr = review->add_key_results();
    kr->set_key_result_id(item.substr(0, eq));
    kr->set_final_score(score);
  }
  review->set_learnings(f.GetOr("learnings", ""));
  review->set_roll_over(f.Bool("roll-over"));
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> version, f.Int("if-version"));
  OKR_ASSIGN_OR_RETURN(*review->mutable_author_id(), ctx.PersonFlag("author"));
  // Like the planning updates: --if-version, else the stored version (0
  // when there is no review yet), which the server still checks.
  if (version.has_value()) {
    request.set_version(*version);
  } else {
    absl::StatusOr<okr::v1::Review> current = GetReview(ctx, review->objective_id(), kind);
    if (current.ok()) {
      request.set_version(current->version());
    } else if (current.status().code() != absl::StatusCode::kNotFound) {
      return current.status();
    }
  }
  OKR_ASSIGN_OR_RETURN(okr::v1::Review saved,
                       ctx.tracking().Call("UpsertReview", &TStub::UpsertReview, request));
  if (ctx.json()) {
    ctx.out() << ToJson(saved);
    return absl::OkStatus();
  }
  Titles titles(ctx);
  ctx.out() << (request.version() == 0 ? "created " : "updated ")
            << DescribeReview(saved, titles, NamesOrNull(ctx));
  return absl::OkStatus();
}

absl::Status ReviewGet(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(okr::v1::ReviewKind kind, RequiredReviewKind(ctx, "review get"));
  OKR_ASSIGN_OR_RETURN(okr::v1::Review review, GetReview(ctx, ctx.args()[0], kind));
  if (ctx.json()) {
    ctx.out() << ToJson(review);
    return absl::OkStatus();
  }
  Titles titles(ctx);
  ctx.out() << DescribeReview(review, titles, NamesOrNull(ctx));
  return absl::OkStatus();
}

absl::Status ReviewList(Context& ctx) {
  okr::v1::ListReviewsRequest request;
  if (std::optional<std::string> kind = ctx.flags().Get("kind"); kind.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ReviewKind k, ParseReviewKind(*kind));
    request.set_kind(k);
  }
  request.set_objective_id(ctx.flags().GetOr("objective", ""));
  request.set_roll_over_only(ctx.flags().Bool("roll-over-only"));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_owner_id(), ctx.PersonFlag("owner"));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListReviewsResponse response,
                       ctx.tracking().ListAll(
                           "ListReviews", &TStub::ListReviews, request, limit,
                           [](const okr::v1::ListReviewsResponse& r) { return r.reviews_size(); }));
  if (ctx.json()) {
    ctx.out() << ToJson(response);
    return absl::OkStatus();
  }
  if (response.reviews().empty()) {
    ctx.out() << "no reviews\n";
    return absl::OkStatus();
  }
  Titles titles(ctx);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : response.reviews()) {
    rows.push_back({r.objective_id(), ShortName(r.kind()),
                    Score(r.has_final_score() ? r.final_score() : r.computed_score()),
                    GradeName(r.grade()), r.roll_over() ? "yes" : "no", absl::StrCat(r.version()),
                    FormatTimestamp(r.update_time()), titles.Objective(r.objective_id())});
  }
  ctx.out() << RenderTable(
      {"OBJECTIVE", "KIND", "SCORE", "GRADE", "ROLL OVER", "VERSION", "UPDATED", "TITLE"}, rows);
  return absl::OkStatus();
}

// ---- cycle close, rollups -----------------------------------------------

absl::Status CycleClose(Context& ctx) {
  okr::v1::CloseCycleRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.ResolveCycle("CYCLE", ctx.args()[0]));
  request.set_force(ctx.flags().Bool("force"));
  OKR_ASSIGN_OR_RETURN(okr::v1::CloseCycleResponse response,
                       ctx.tracking().Call("CloseCycle", &TStub::CloseCycle, request));
  ctx.Print(response, [&] {
    return absl::StrCat("cycle ", response.cycle().id(), " (", response.cycle().name(), ") is now ",
                        ShortName(response.cycle().state()), ": ", response.objectives_frozen(),
                        " objective and ", response.key_results_frozen(),
                        " key result scores frozen (grace period for late check-ins ended ",
                        FormatTimestamp(response.grace_end_time()), ")\n");
  });
  return absl::OkStatus();
}

absl::Status RollupsRebuild(Context& ctx) {
  okr::v1::RebuildRollupsRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  OKR_ASSIGN_OR_RETURN(okr::v1::RebuildRollupsResponse response,
                       ctx.tracking().Call("RebuildRollups", &TStub::RebuildRollups, request));
  ctx.Print(response, [&] {
    const absl::Duration took = absl::Seconds(response.duration().seconds()) +
                                absl::Nanoseconds(response.duration().nanos());
    return absl::StrCat("rebuilt ", response.objectives_rebuilt(), " objective and ",
                        response.key_results_rebuilt(), " key result scores in ",
                        absl::FormatDuration(took), "\n");
  });
  return absl::OkStatus();
}

}  // namespace

// ---- tree --scores ------------------------------------------------------

absl::Status ScoredTree(Context& ctx, const std::string& cycle_id) {
  okr::v1::GetScoredTreeRequest request;
  request.set_cycle_id(cycle_id);
  request.set_root_objective_id(ctx.flags().GetOr("root", ""));
  request.set_exclude_key_results(ctx.flags().Bool("no-krs"));
  OKR_ASSIGN_OR_RETURN(okr::v1::ScoredTree scored,
                       ctx.tracking().Call("GetScoredTree", &TStub::GetScoredTree, request));
  if (ctx.json()) {
    ctx.out() << ToJson(scored);
    return absl::OkStatus();
  }
  if (scored.tree().objectives().empty()) {
    ctx.out() << "no objectives\n";
    return absl::OkStatus();
  }
  // Names are decoration here too: without planning the ids stand in.
  const Names no_names;
  const Names* names = NamesOrNull(ctx);
  if (names == nullptr) names = &no_names;
  TreeDecorations decorations;
  for (const auto& s : scored.objective_scores()) {
    // "0.62 YELLOW AT_RISK  Improve customer satisfaction": the effective
    // score (a review's final score when there is one) and what it means.
    decorations.objective_prefix[s.objective_id()] = absl::StrCat(
        Join({Score(Effective(s)), GradeName(s.grade()), StatusName(s.pace().status())}, " "),
        "  ");
    std::vector<std::string>& facts = decorations.objective_facts[s.objective_id()];
    if (s.has_final_score()) facts.push_back(absl::StrCat("computed ", Score(s.score())));
    if (s.frozen() && !scored.frozen()) facts.push_back("frozen");
  }
  for (const auto& s : scored.key_result_scores()) {
    decorations.key_result_prefix[s.key_result_id()] =
        absl::StrCat(Join({Score(Effective(s)), GradeName(s.grade())}, " "), "  ");
    std::vector<std::string>& facts = decorations.key_result_facts[s.key_result_id()];
    if (s.check_in_count() > 0) facts.push_back(absl::StrCat("now ", Current(s)));
    if (s.has_final_score()) facts.push_back(absl::StrCat("computed ", Score(s.progress())));
  }
  ctx.out() << "Scores of " << names->Cycle(cycle_id) << " as of "
            << FormatTimestamp(scored.as_of_time())
            << (scored.frozen() ? " (the cycle is closed: scores are frozen)" : "") << "\n"
            << RenderAlignmentTree(scored.tree(), *names, &decorations);
  return absl::OkStatus();
}

void AddTrackingCommands(std::vector<Command>& commands) {
  commands.push_back(
      {"checkin",
       "KR_ID",
       "Record a check-in on a key result; prints the scores it moved",
       {ValueFlag("value", "N", "a metric key result's current value"),
        BoolFlag("done", "a milestone key result: done (--done=false: not yet)"),
        ValueFlag("confidence", "0-10", "confidence of reaching the target"),
        ValueFlag("status", "on-track|at-risk|off-track", "the author's status"),
        ValueFlag("note", "TEXT", "a note (at most 2,000 characters)"),
        ValueFlag("author", "PERSON", "who checks in (id, name or e-mail); required"),
        ValueFlag("time", "RFC3339", "when the value was observed (default: now)"),
        ValueFlag("key", "CLIENT_KEY",
                  "idempotency key: a rerun with the same key replays (default: random)"),
        {"verbose", FlagSpec::Kind::kBool, "", "also print the client key", 'v'}},
       1,
       1,
       CheckIn});
  commands.push_back(
      {"history",
       "KR_ID",
       "A key result's check-ins, newest first",
       {ValueFlag("since", "RFC3339", "only check-ins at or after this time"),
        ValueFlag("until", "RFC3339", "only check-ins before this time"),
        ValueFlag("page-size", "N", "check-ins per page (default 50, at most 500)"),
        ValueFlag("page-token", "TOKEN", "the page after the one that printed this token"),
        BoolFlag("all", "every page")},
       1,
       1,
       History});
  commands.push_back({"score kr",
                      "KR_ID",
                      "A key result's progress, grade and latest check-in",
                      {},
                      1,
                      1,
                      ScoreKeyResult});
  commands.push_back({"score objective",
                      "OBJECTIVE_ID",
                      "An objective's score, grade, success and pace",
                      {BoolFlag("krs", "also its key results' scores")},
                      1,
                      1,
                      ScoreObjective});
  commands.push_back({"score explain",
                      "",
                      "Explain a score (--objective ID or --kr ID): formula, inputs, notes",
                      {ValueFlag("objective", "ID", "explain this objective's score"),
                       ValueFlag("kr", "ID", "explain this key result's score")},
                      0,
                      0,
                      ScoreExplain});
  commands.push_back(
      {"stale",
       "",
       "Key results without a check-in since a time (owner, then key result)",
       {ValueFlag("since", "RFC3339", "required: stale when the latest check-in is older"),
        ValueFlag("cycle", "CYCLE", "only this cycle (default: every active cycle)"),
        ValueFlag("owner", "PERSON", "only this person's key results"),
        ValueFlag("team", "TEAM", "only this team's objectives"), LimitFlag()},
       0,
       0,
       Stale});
  commands.push_back({"review set",
                      "OBJECTIVE_ID",
                      "Create or replace an objective's mid- or end-of-quarter review",
                      {ValueFlag("kind", "mid|end", "which review; required"),
                       ValueFlag("final", "SCORE", "the objective's final score 0..1"),
                       ListFlag("kr", "KR_ID=SCORE", "a key result's final score 0..1"),
                       ValueFlag("learnings", "TEXT", "the retrospective"),
                       BoolFlag("roll-over", "carry the objective into the next cycle"),
                       ValueFlag("author", "PERSON", "who wrote the review"), IfVersionFlag()},
                      1,
                      1,
                      ReviewSet});
  commands.push_back({"review get",
                      "OBJECTIVE_ID",
                      "Show an objective's review",
                      {ValueFlag("kind", "mid|end", "which review; required")},
                      1,
                      1,
                      ReviewGet});
  commands.push_back(
      {"review list",
       "",
       "List reviews (by objective, then kind)",
       {ValueFlag("cycle", "CYCLE", "only reviews of this cycle's objectives"),
        ValueFlag("kind", "mid|end", "only this kind"),
        ValueFlag("objective", "ID", "only this objective's reviews"),
        ValueFlag("owner", "PERSON", "only reviews of this person's objectives"),
        BoolFlag("roll-over-only", "only reviews that recommend rolling over"), LimitFlag()},
       0,
       0,
       ReviewList});
  commands.push_back(
      {"cycle close",
       "CYCLE",
       "Freeze a cycle's scores and close it (tracking service)",
       {BoolFlag("force", "close before the grace period for late check-ins has ended")},
       1,
       1,
       CycleClose});
  commands.push_back({"rollups rebuild",
                      "",
                      "Recompute the scores from the store and rewrite the cache",
                      {ValueFlag("cycle", "CYCLE", "only this cycle (default: every open one)")},
                      0,
                      0,
                      RollupsRebuild});
}

}  // namespace okr::okrctl
