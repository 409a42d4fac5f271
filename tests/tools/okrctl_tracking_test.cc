// Tests of okrctl's tracking commands (checkin, history, score, tree
// --scores, stale, review, cycle close, rollups rebuild):
//  - in process: their usage errors exit 2 before any call;
//  - end to end: the okrctl binary against the real okr-planning and
//    okr-tracking (with a real redis-server), each on a free loopback port
//    with temporary SQLite files.
//
// The services run on the real clock, so each organisation plans the fiscal
// year that contains today (January start, UTC) and activates it; check-in
// times are a few minutes in the past.
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/tracking.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"
#include "tools/okrctl/commands.h"
#include "tools/okrctl/render.h"

namespace okr::okrctl {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const CtlRun& run) {
  return os << "exit " << run.exit_code << "\n--- stdout:\n"
            << run.out << "--- stderr:\n"
            << run.err;
}

// okrctl's Run() in this process, with an empty environment.
CtlRun InProcess(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  CtlRun run;
  run.exit_code = Run(
      args, [](const char*) { return std::optional<std::string>(); }, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

// The okrctl binary as a child process.
CtlRun RunBinary(const std::vector<std::string>& args,
                 std::vector<std::pair<std::string, std::string>> env = {}) {
  CtlRun run;
  absl::StatusOr<std::string> binary = OkrBinary("okrctl");
  EXPECT_TRUE(binary.ok()) << binary.status();
  if (!binary.ok()) return run;
  TempDir dir("okrctl-run");
  SubprocessOptions options;
  options.program = *binary;
  options.args = args;
  options.env = std::move(env);
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  auto status = (*process)->Wait(absl::Seconds(60));
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) {
    EXPECT_TRUE(status->exited()) << status->ToString();
    run.exit_code = status->exit_code;
  }
  run.out = ReadFileToString(dir.File("out"));
  run.err = ReadFileToString(dir.File("err"));
  return run;
}

std::string FirstLine(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

// The text of the drawn tree's line that shows `id` ("[id]"), without the
// box characters in front; "" when there is none.
std::string TreeLineOf(const std::string& drawn, const std::string& id) {
  for (absl::string_view line : absl::StrSplit(drawn, '\n')) {
    if (!absl::StrContains(line, absl::StrCat("[", id, "]"))) continue;
    while (absl::ConsumePrefix(&line, "│   ") || absl::ConsumePrefix(&line, "    ") ||
           absl::ConsumePrefix(&line, "├── ") || absl::ConsumePrefix(&line, "└── ")) {
    }
    return std::string(line);
  }
  return "";
}

// The score at the start of a scored tree line ("0.25 RED ..."), after
// "KR " for a key result; nullopt when the line does not start with one.
std::optional<double> LeadingScore(std::string line) {
  absl::string_view text = line;
  absl::ConsumePrefix(&text, "KR ");
  double score = 0;
  if (!absl::SimpleAtod(text.substr(0, text.find(' ')), &score)) return std::nullopt;
  return score;
}

// ---------------------------------------------------------------------------
// In process: usage errors never reach a server
// ---------------------------------------------------------------------------

TEST(OkrctlTrackingCommandLineTest, UsageErrorsExitTwoBeforeAnyCall) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"checkin", "kr-1", "--author=p1"}, "checkin needs --value=N"},
      {{"checkin", "kr-1", "--value=1", "--done", "--author=p1"}, "not both"},
      {{"checkin", "kr-1", "--value=lots", "--author=p1"}, "--value: 'lots' is not a finite"},
      {{"checkin", "kr-1", "--value=1"}, "checkin needs --author"},
      {{"checkin", "kr-1", "--done=perhaps", "--author=p1"}, "--done takes no value"},
      {{"checkin", "kr-1", "--value=1", "--status=fine", "--author=p1"}, "--status: 'fine'"},
      {{"checkin", "kr-1", "--value=1", "--time=today", "--author=p1"},
       "--time: 'today' is not an RFC 3339 time"},
      {{"checkin", "kr-1", "--value=1", "--confidence=high", "--author=p1"},
       "--confidence: 'high' is not a whole number"},
      {{"checkin", "--value=1", "--author=p1"}, "'checkin' takes KR_ID, got 0 arguments"},
      {{"history", "kr-1", "--since=last week"}, "--since: 'last week'"},
      {{"history", "kr-1", "--all", "--page-size=2"}, "--all reads every page"},
      {{"score"}, "'score' needs a subcommand"},
      {{"score", "objective"}, "'score objective' takes OBJECTIVE_ID"},
      {{"score", "explain"}, "exactly one of --objective=ID and --kr=ID"},
      {{"score", "explain", "--objective=o-1", "--kr=kr-1"}, "exactly one of"},
      {{"stale"}, "stale needs --since"},
      {{"stale", "--since=2026-11-28"}, "--since: '2026-11-28' is not an RFC 3339 time"},
      {{"review", "set", "o-1"}, "review set needs --kind=mid|end"},
      {{"review", "set", "o-1", "--kind=final"}, "--kind: 'final' is not one of mid, end"},
      {{"review", "set", "o-1", "--kind=end", "--kr=kr-1"}, "--kr: 'kr-1' is not KR_ID=SCORE"},
      {{"review", "set", "o-1", "--kind=end", "--final=good"}, "--final: 'good'"},
      {{"review", "get", "o-1"}, "review get needs --kind"},
      {{"cycle", "close"}, "'cycle close' takes CYCLE"},
      {{"tree", "--scores"}, "tree --scores needs the cycle"},
      {{"tree", "FY2027", "--scores", "--include-archived"}, "cannot be combined"},
      {{"objective", "list", "-v"}, "unknown flag --verbose for 'objective list'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"--addr=127.0.0.1:1", "--tracking-addr=127.0.0.1:1"});
    CtlRun run = InProcess(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_THAT(run.err, HasSubstr(c.message)) << absl::StrJoin(c.args, " ");
    EXPECT_EQ(run.out, "") << absl::StrJoin(c.args, " ");
  }
}

TEST(OkrctlTrackingRenderTest, ScoresGoBeforeTitlesAndValuesAfterTheRange) {
  okr::v1::AlignmentTree tree;
  okr::v1::Objective* o = tree.add_objectives();
  o->set_id("o-1");
  o->set_title("Earn customer love and trust");
  o->set_state(okr::v1::OBJECTIVE_STATE_PUBLISHED);
  o->set_level(okr::v1::LEVEL_COMPANY);
  okr::v1::KeyResult* kr = tree.add_key_results();
  kr->set_id("kr-1");
  kr->set_objective_id("o-1");
  kr->set_title("Increase NPS from 7 to 8.5");
  kr->set_type(okr::v1::KEY_RESULT_TYPE_METRIC);
  kr->set_start_value(7);
  kr->set_target_value(8.5);
  tree.add_root_objective_ids("o-1");
  Names names;
  const std::string plain = RenderAlignmentTree(tree, names);
  TreeDecorations decorations;
  decorations.objective_prefix["o-1"] = "0.40 YELLOW AT_RISK  ";
  decorations.key_result_prefix["kr-1"] = "0.40 YELLOW  ";
  decorations.key_result_facts["kr-1"] = {"now 7.6"};
  decorations.objective_facts["o-1"] = {"frozen"};
  const std::string scored = RenderAlignmentTree(tree, names, &decorations);
  EXPECT_EQ(TreeLineOf(plain, "o-1"), "Earn customer love and trust  [o-1]  COMPANY");
  EXPECT_EQ(TreeLineOf(scored, "o-1"),
            "0.40 YELLOW AT_RISK  Earn customer love and trust  [o-1]  COMPANY · frozen");
  EXPECT_EQ(TreeLineOf(scored, "kr-1"),
            "KR 0.40 YELLOW  Increase NPS from 7 to 8.5  [kr-1]  7 → 8.5 · now 7.6");
  // Ids without decorations draw as before.
  TreeDecorations other;
  other.objective_prefix["o-2"] = "1.00 GREEN  ";
  EXPECT_EQ(RenderAlignmentTree(tree, names, &other), plain);
}

TEST(OkrctlTrackingCommandLineTest, TrackingAddressComesFromTheFlagOrTheEnvironment) {
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string tracking = absl::StrCat("127.0.0.1:", *port);
  // Nothing listens there: the error names the address and the way to set it.
  for (const auto& [args, env] : std::vector<
           std::pair<std::vector<std::string>, std::vector<std::pair<std::string, std::string>>>>{
           {{"--tracking_addr=" + tracking}, {}},
           {{"--tracking-addr=" + tracking}, {}},
           {{}, {{"OKR_TRACKING_ADDR", tracking}}}}) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--org=acme", "--timeout=3s", "score", "kr", "kr-1"});
    CtlRun run = RunBinary(full, env);
    EXPECT_EQ(run.exit_code, kExitRpcError) << run;
    EXPECT_THAT(run.err, AllOf(HasSubstr("UNAVAILABLE"), HasSubstr("GetKeyResultScore"),
                               HasSubstr(tracking), HasSubstr("is okr-tracking running")))
        << run;
  }
}

// ---------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------

class OkrctlTrackingEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new Env;
    absl::Status started = env_->Start();
    *startup_error_ = started.ok() ? "" : started.ToString();
  }

  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(startup_error_->empty()) << "the services did not start: " << *startup_error_;
  }

  // okrctl against both services as organisation `org`.
  static CtlRun Ctl(const std::string& org, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--addr=" + env_->planning_addr, "--tracking-addr=" + env_->tracking_addr,
                 "--org=" + org, "--timeout=20s"});
    return RunBinary(args);
  }

  // Ctl that must succeed; returns stdout.
  static std::string Must(const std::string& org, std::vector<std::string> args) {
    CtlRun run = Ctl(org, args);
    EXPECT_EQ(run.exit_code, kExitOk) << absl::StrJoin(args, " ") << "\n" << run;
    return run.out;
  }

  // What Plan() made.
  struct Plan {
    std::string cycle;      // the fiscal year containing today, e.g. "FY2026"
    std::string company;    // Alex's company objective
    std::string retention;  // its metric KR 95 -> 99, progress from children
    std::string portal;     // its milestone KR
    std::string team;       // Jane's objective cascaded from `retention`
    std::string nps;        // Jane's KR: NPS 7 -> 8.5
  };

  // An organisation with the fiscal year containing today, ACTIVE, and a
  // published two-level Duality cascade:
  //   company: KR retention (progress from children) --> team objective: KR nps
  //            KR portal (milestone)
  static Plan MakePlan(const std::string& org) {
    Plan p;
    const int year = static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year());
    p.cycle = absl::StrCat("FY", year);
    Must(org, {"org", "bootstrap", org, "--name", "Tracking " + org});
    Must(org, {"cycle", "create-year", absl::StrCat(year), "-q"});
    Must(org, {"cycle", "set-state", p.cycle, "active"});
    Must(org, {"team", "create", "Leadership"});
    Must(org, {"team", "create", "Customer Success"});
    Must(org, {"person", "create", "Alex Rivera", "--team", "Leadership"});
    Must(org, {"person", "create", "Jane", "--team", "Customer Success"});
    p.company =
        FirstLine(Must(org, {"objective", "create", "-q", "--title", "Earn customer love and trust",
                             "--level", "company", "--owner", "Alex Rivera", "--team", "Leadership",
                             "--cycle", p.cycle, "--kind", "committed", "--state", "published"}));
    p.retention = FirstLine(Must(
        org, {"kr", "create", "-q", "--objective", p.company, "--title",
              "Increase customer retention rate from 95% to 99%", "--type", "metric", "--measure",
              "kpi", "--from", "95", "--to", "99", "--unit", "%", "--progress-from-children"}));
    p.portal = FirstLine(Must(org, {"kr", "create", "-q", "--objective", p.company, "--title",
                                    "Launch the customer portal", "--type", "milestone"}));
    p.team = FirstLine(Must(org, {"cascade", p.retention, "-q", "--owner", "Jane", "--level",
                                  "team", "--team", "Customer Success", "--cycle", p.cycle,
                                  "--kind", "committed", "--state", "published"}));
    p.nps = FirstLine(Must(org, {"kr", "create", "-q", "--objective", p.team, "--title",
                                 "Increase NPS from 7 to 8.5", "--type", "metric", "--measure",
                                 "kpi", "--from", "7", "--to", "8.5", "--unit", "NPS"}));
    for (const std::string* id : {&p.company, &p.retention, &p.portal, &p.team, &p.nps}) {
      EXPECT_FALSE(id->empty());
    }
    return p;
  }

  // The three services and their files.
  struct Env {
    TempDir dir{"okrctl-tracking-e2e"};
    std::unique_ptr<RedisServer> redis;
    std::unique_ptr<ServiceProcess> planning;
    std::unique_ptr<ServiceProcess> tracking;
    std::string planning_addr;
    std::string tracking_addr;

    absl::Status Start() {
      OKR_ASSIGN_OR_RETURN(redis, RedisServer::Start());
      OKR_ASSIGN_OR_RETURN(
          planning, ServiceProcess::Start(
                        {.binary = "okr-planning",
                         .args = {"--auth=false", "--store=sqlite:" + dir.File("planning.db")},
                         .log_path = dir.File("planning.log")}));
      planning_addr = planning->address();
      OKR_ASSIGN_OR_RETURN(
          tracking, ServiceProcess::Start(
                        {.binary = "okr-tracking",
                         .args = {"--auth=false", "--store=sqlite:" + dir.File("tracking.db"),
                                  absl::StrCat("--redis=127.0.0.1:", redis->port()),
                                  "--planning_addr=" + planning_addr},
                         .log_path = dir.File("tracking.log")}));
      tracking_addr = tracking->address();
      return absl::OkStatus();
    }

    ~Env() {
      // Tracking first: it calls planning.
      for (ServiceProcess* s : {tracking.get(), planning.get()}) {
        if (s != nullptr) (void)s->Stop();
      }
    }
  };

  static Env* env_;
  static std::string* startup_error_;
};

OkrctlTrackingEndToEndTest::Env* OkrctlTrackingEndToEndTest::env_ = nullptr;
std::string* OkrctlTrackingEndToEndTest::startup_error_ = new std::string("not started");

TEST_F(OkrctlTrackingEndToEndTest, ACheckInMovesTheScoresUpTheChain) {
  const std::string org = "tr-scores";
  const Plan p = MakePlan(org);

  // Before any check-in everything is at its start.
  auto before =
      ParseJson<okr::v1::ObjectiveScore>(Must(org, {"score", "objective", p.company, "--json"}));
  EXPECT_EQ(before.objective_id(), p.company);
  EXPECT_DOUBLE_EQ(before.score(), 0.0);
  std::string tree = Must(org, {"tree", p.cycle, "--scores"});
  EXPECT_EQ(LeadingScore(TreeLineOf(tree, p.company)), 0.0) << tree;

  // NPS 7 -> 7.75 is half way: the team objective is at 0.5, and so is the
  // retention KR it feeds; the company averages retention and the portal.
  const double value = 7.75;
  const double nps_progress = (value - 7) / (8.5 - 7);
  const double company_score = (nps_progress + 0.0) / 2;
  CtlRun checkin = Ctl(org, {"checkin", p.nps, absl::StrCat("--value=", value), "--confidence=7",
                             "--status=on-track", "--note=survey wave 1", "--author=Jane", "-v"});
  ASSERT_EQ(checkin.exit_code, kExitOk) << checkin;
  EXPECT_THAT(checkin.out, AllOf(HasSubstr("recorded check-in"), HasSubstr("value 7.75"),
                                 HasSubstr("confidence 7"), HasSubstr("ON_TRACK"),
                                 HasSubstr("by Jane"), HasSubstr("client key: ")));
  // The moved scores, key result first, then each objective up the chain
  // with its title.
  std::vector<std::string> lines = absl::StrSplit(checkin.out, '\n', absl::SkipEmpty());
  std::vector<std::string> rows;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "key result ") || absl::StartsWith(line, "objective ")) {
      rows.push_back(line);
    }
  }
  ASSERT_EQ(rows.size(), 3u) << checkin;
  EXPECT_THAT(rows[0], AllOf(HasSubstr("0.50"), HasSubstr("Increase NPS from 7 to 8.5")));
  EXPECT_THAT(rows[1], AllOf(HasSubstr("0.50"), HasSubstr("[" + p.team + "]")));
  EXPECT_THAT(rows[2], AllOf(HasSubstr("0.25"), HasSubstr("Earn customer love and trust")));

  auto kr = ParseJson<okr::v1::KeyResultScore>(Must(org, {"score", "kr", p.nps, "--json"}));
  EXPECT_DOUBLE_EQ(kr.progress(), nps_progress);
  EXPECT_DOUBLE_EQ(kr.current_value(), value);
  EXPECT_EQ(kr.check_in_count(), 1);
  EXPECT_EQ(kr.confidence(), 7);
  EXPECT_THAT(Must(org, {"score", "kr", p.nps}),
              AllOf(HasSubstr("progress: 0.50"), HasSubstr("current value: 7.75")));

  auto after = ParseJson<okr::v1::ObjectiveScore>(
      Must(org, {"score", "objective", p.company, "--json", "--krs"}));
  EXPECT_DOUBLE_EQ(after.score(), company_score);
  EXPECT_GT(after.score_version(), before.score_version());
  ASSERT_EQ(after.key_result_scores_size(), 2);
  const std::string objective_text = Must(org, {"score", "objective", p.company, "--krs"});
  EXPECT_THAT(objective_text,
              AllOf(HasSubstr("Earn customer love and trust"), HasSubstr("score: 0.25"),
                    HasSubstr("pace: expected"), HasSubstr("Launch the customer portal")));

  // The scored tree shows the same numbers on the same lines as the tree.
  tree = Must(org, {"tree", p.cycle, "--scores"});
  EXPECT_EQ(LeadingScore(TreeLineOf(tree, p.company)), 0.25) << tree;
  EXPECT_EQ(LeadingScore(TreeLineOf(tree, p.team)), 0.5) << tree;
  EXPECT_THAT(TreeLineOf(tree, p.nps),
              AllOf(StartsWith("KR 0.50 YELLOW  Increase NPS"), HasSubstr("now 7.75")))
      << tree;
  EXPECT_THAT(TreeLineOf(tree, p.portal), StartsWith("KR 0.00 RED  Launch")) << tree;
  EXPECT_THAT(TreeLineOf(tree, p.company), HasSubstr("0.25 RED ")) << tree;
  auto scored =
      ParseJson<okr::v1::ScoredTree>(Must(org, {"tree", "--cycle", p.cycle, "--scores", "--json"}));
  EXPECT_EQ(scored.tree().objectives_size(), 2);
  EXPECT_EQ(scored.objective_scores_size(), 2);
  EXPECT_EQ(scored.key_result_scores_size(), 3);

  // Without --scores the tree is planning's alone: tracking may be down.
  CtlRun plain = RunBinary({"--addr=" + env_->planning_addr, "--tracking-addr=127.0.0.1:1",
                            "--org=" + org, "tree", p.cycle});
  EXPECT_EQ(plain.exit_code, kExitOk) << plain;
  EXPECT_THAT(TreeLineOf(plain.out, p.company), StartsWith("Earn customer love and trust"));

  // The explanation names the inputs with their weights.
  auto explained = ParseJson<okr::v1::ScoreExplanation>(
      Must(org, {"score", "explain", "--objective", p.company, "--json"}));
  EXPECT_DOUBLE_EQ(explained.score(), company_score);
  EXPECT_EQ(explained.inputs_size(), 2);
  const std::string explain_text = Must(org, {"score", "explain", "--kr", p.nps});
  EXPECT_THAT(explain_text, AllOf(HasSubstr("score: 0.50"), HasSubstr("formula: "),
                                  HasSubstr("CHECK_IN"), HasSubstr("7.75")));
}

TEST_F(OkrctlTrackingEndToEndTest, HistoryListsNewestFirstAndKeysReplay) {
  const std::string org = "tr-history";
  const Plan p = MakePlan(org);
  const absl::Time now = absl::Now();
  const std::vector<double> values = {7.2, 7.5, 8.1};
  std::vector<std::string> ids;
  for (size_t i = 0; i < values.size(); ++i) {
    // Oldest first, 30, 20 and 10 minutes ago.
    const absl::Time at = now - absl::Minutes(30 - 10 * static_cast<int>(i));
    auto response = ParseJson<okr::v1::RecordCheckInResponse>(
        Must(org, {"checkin", p.nps, absl::StrCat("--value=", values[i]), "--author=Jane",
                   "--time=" + Rfc3339(at), absl::StrCat("--key=weekly-", i), "--json"}));
    EXPECT_FALSE(response.replayed());
    EXPECT_EQ(response.check_in().client_key(), absl::StrCat("weekly-", i));
    EXPECT_EQ(response.check_in().time().seconds(), absl::ToUnixSeconds(at));
    ids.push_back(response.check_in().id());
  }

  auto all =
      ParseJson<okr::v1::ListCheckInsResponse>(Must(org, {"history", p.nps, "--all", "--json"}));
  ASSERT_EQ(all.check_ins_size(), 3);
  EXPECT_EQ(all.total_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(all.check_ins(i).id(), ids[2 - i]) << i;
    EXPECT_DOUBLE_EQ(all.check_ins(i).value(), values[2 - i]);
  }
  // The table, newest first too.
  const std::string table = Must(org, {"history", p.nps});
  const size_t newest = table.find(ids[2]);
  const size_t oldest = table.find(ids[0]);
  ASSERT_NE(newest, std::string::npos) << table;
  ASSERT_NE(oldest, std::string::npos) << table;
  EXPECT_LT(newest, oldest) << table;
  EXPECT_THAT(table, HasSubstr("3 of 3 check-ins"));

  // Pages and time filters.
  auto page = ParseJson<okr::v1::ListCheckInsResponse>(
      Must(org, {"history", p.nps, "--page-size=2", "--json"}));
  ASSERT_EQ(page.check_ins_size(), 2);
  EXPECT_FALSE(page.next_page_token().empty());
  auto rest = ParseJson<okr::v1::ListCheckInsResponse>(Must(
      org,
      {"history", p.nps, "--page-size=2", "--page-token=" + page.next_page_token(), "--json"}));
  ASSERT_EQ(rest.check_ins_size(), 1);
  EXPECT_EQ(rest.check_ins(0).id(), ids[0]);
  auto recent = ParseJson<okr::v1::ListCheckInsResponse>(
      Must(org, {"history", p.nps, "--since=" + Rfc3339(now - absl::Minutes(25)), "--json"}));
  EXPECT_EQ(recent.check_ins_size(), 2);

  // The same key and content replays; other content with it is refused.
  const absl::Time first = now - absl::Minutes(30);
  CtlRun replay = Ctl(org, {"checkin", p.nps, "--value=7.2", "--author=Jane",
                            "--time=" + Rfc3339(first), "--key=weekly-0"});
  EXPECT_EQ(replay.exit_code, kExitOk) << replay;
  EXPECT_THAT(replay.out, HasSubstr("already recorded"));
  CtlRun clash = Ctl(org, {"checkin", p.nps, "--value=9", "--author=Jane",
                           "--time=" + Rfc3339(first), "--key=weekly-0"});
  EXPECT_EQ(clash.exit_code, kExitRpcError) << clash;
  EXPECT_THAT(clash.err, AllOf(HasSubstr("ALREADY_EXISTS"), HasSubstr("client_key")));
  EXPECT_EQ(
      ParseJson<okr::v1::ListCheckInsResponse>(Must(org, {"history", p.nps, "--all", "--json"}))
          .check_ins_size(),
      3);
  // Without --key every run is a new check-in.
  Must(org, {"checkin", p.nps, "--value=8.2", "--author=Jane"});
  Must(org, {"checkin", p.nps, "--value=8.2", "--author=Jane"});
  EXPECT_EQ(ParseJson<okr::v1::KeyResultScore>(Must(org, {"score", "kr", p.nps, "--json"}))
                .check_in_count(),
            5);

  // Stale: the key results with no check-in since a moment ago are the
  // ones never checked in on.
  auto stale = ParseJson<okr::v1::ListStaleKeyResultsResponse>(
      Must(org, {"stale", "--since=" + Rfc3339(now - absl::Minutes(5)), "--json"}));
  std::vector<std::string> stale_ids;
  for (const auto& s : stale.stale_key_results()) stale_ids.push_back(s.key_result_id());
  EXPECT_THAT(stale_ids, ::testing::UnorderedElementsAre(p.retention, p.portal));
  EXPECT_THAT(Must(org, {"stale", "--since=" + Rfc3339(now), "--owner=Alex Rivera"}),
              AllOf(HasSubstr("Launch the customer portal"), HasSubstr("never"),
                    Not(HasSubstr("Increase NPS"))));
}

TEST_F(OkrctlTrackingEndToEndTest, BadValuesExitOneNamingTheField) {
  const std::string org = "tr-errors";
  const Plan p = MakePlan(org);
  struct Case {
    std::vector<std::string> args;
    std::string code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"checkin", p.nps, "--value=8", "--confidence=11", "--author=Jane"},
       "INVALID_ARGUMENT",
       "confidence"},
      {{"checkin", p.portal, "--value=1", "--author=Jane"}, "INVALID_ARGUMENT", "value"},
      {{"checkin", p.nps, "--done", "--author=Jane"}, "INVALID_ARGUMENT", "done"},
      {{"checkin", "no-such-kr", "--value=1", "--author=Jane"}, "NOT_FOUND", "key_result_id"},
      {{"checkin", p.nps, "--value=8", "--author=nobody-at-all"}, "NOT_FOUND", "author_id"},
      {{"checkin", p.nps, "--value=8", "--author=Jane",
        "--time=" + Rfc3339(absl::Now() + absl::Hours(2))},
       "INVALID_ARGUMENT",
       "time"},
      {{"review", "set", p.team, "--kind=end", "--final=1.5"},
       "INVALID_ARGUMENT",
       "review.final_score"},
      {{"score", "objective", "no-such-objective"}, "NOT_FOUND", "GetObjectiveScore"},
  };
  for (const Case& c : cases) {
    CtlRun run = Ctl(org, c.args);
    EXPECT_EQ(run.exit_code, kExitRpcError) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_THAT(run.err, AllOf(HasSubstr(c.code), HasSubstr(c.field)))
        << absl::StrJoin(c.args, " ");
  }
  // Nothing was recorded.
  EXPECT_EQ(ParseJson<okr::v1::KeyResultScore>(Must(org, {"score", "kr", p.nps, "--json"}))
                .check_in_count(),
            0);
}

TEST_F(OkrctlTrackingEndToEndTest, ReviewsAreSetReadAndVersioned) {
  const std::string org = "tr-reviews";
  const Plan p = MakePlan(org);
  Must(org, {"checkin", p.nps, "--value=7.75", "--author=Jane"});

  CtlRun set =
      Ctl(org, {"review", "set", p.team, "--kind=end", "--final=0.8", "--kr", p.nps + "=0.9",
                "--learnings=Survey earlier next time", "--roll-over", "--author=Jane"});
  ASSERT_EQ(set.exit_code, kExitOk) << set;
  EXPECT_THAT(set.out, AllOf(HasSubstr("created END_OF_QUARTER review"),
                             HasSubstr("final score: 0.80"), HasSubstr("roll over: yes")));

  auto review = ParseJson<okr::v1::Review>(
      Must(org, {"review", "get", p.team, "--kind=end-of-quarter", "--json"}));
  EXPECT_EQ(review.objective_id(), p.team);
  EXPECT_EQ(review.kind(), okr::v1::REVIEW_KIND_END_OF_QUARTER);
  EXPECT_DOUBLE_EQ(review.final_score(), 0.8);
  EXPECT_DOUBLE_EQ(review.computed_score(), 0.5);
  ASSERT_EQ(review.key_results_size(), 1);
  EXPECT_EQ(review.key_results(0).key_result_id(), p.nps);
  EXPECT_DOUBLE_EQ(review.key_results(0).final_score(), 0.9);
  EXPECT_EQ(review.learnings(), "Survey earlier next time");
  EXPECT_TRUE(review.roll_over());
  EXPECT_EQ(review.version(), 1);

  // The reviewed objective's final score shows in its score.
  auto score =
      ParseJson<okr::v1::ObjectiveScore>(Must(org, {"score", "objective", p.team, "--json"}));
  EXPECT_DOUBLE_EQ(score.final_score(), 0.8);
  EXPECT_EQ(score.grade(), okr::v1::GRADE_GREEN);

  // A second set reads the version itself; a stale --if-version is ABORTED.
  EXPECT_THAT(Must(org, {"review", "set", p.team, "--kind=end", "--final=0.7"}),
              HasSubstr("updated END_OF_QUARTER review"));
  EXPECT_EQ(ParseJson<okr::v1::Review>(Must(org, {"review", "get", p.team, "--kind=end", "--json"}))
                .version(),
            2);
  CtlRun stale = Ctl(org, {"review", "set", p.team, "--kind=end", "--final=0.6", "--if-version=1"});
  EXPECT_EQ(stale.exit_code, kExitRpcError) << stale;
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));

  CtlRun missing = Ctl(org, {"review", "get", p.team, "--kind=mid"});
  EXPECT_EQ(missing.exit_code, kExitRpcError) << missing;
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));

  auto listed = ParseJson<okr::v1::ListReviewsResponse>(
      Must(org, {"review", "list", "--cycle", p.cycle, "--json"}));
  ASSERT_EQ(listed.reviews_size(), 1);
  EXPECT_EQ(listed.reviews(0).objective_id(), p.team);
  EXPECT_THAT(Must(org, {"review", "list", "--kind=end"}),
              AllOf(HasSubstr(p.team), HasSubstr("END_OF_QUARTER")));
  EXPECT_EQ(Must(org, {"review", "list", "--kind=mid"}), "no reviews\n");
}

TEST_F(OkrctlTrackingEndToEndTest, AClosedCycleRefusesCheckInsAndFreezesScores) {
  const std::string org = "tr-close";
  const Plan p = MakePlan(org);
  Must(org, {"checkin", p.nps, "--value=8.5", "--author=Jane"});

  // Within the grace period only --force closes it.
  CtlRun early = Ctl(org, {"cycle", "close", p.cycle});
  EXPECT_EQ(early.exit_code, kExitRpcError) << early;
  EXPECT_THAT(early.err, HasSubstr("FAILED_PRECONDITION"));
  CtlRun closed = Ctl(org, {"cycle", "close", p.cycle, "--force"});
  ASSERT_EQ(closed.exit_code, kExitOk) << closed;
  EXPECT_THAT(closed.out, AllOf(HasSubstr("is now CLOSED"),
                                HasSubstr("2 objective and 3 key result scores frozen")));
  // Closing again answers the same.
  EXPECT_THAT(Must(org, {"cycle", "close", p.cycle, "--force"}),
              HasSubstr("2 objective and 3 key result scores frozen"));
  EXPECT_THAT(Must(org, {"cycle", "show", p.cycle}), HasSubstr("CLOSED"));

  CtlRun late = Ctl(org, {"checkin", p.nps, "--value=7", "--author=Jane"});
  EXPECT_EQ(late.exit_code, kExitRpcError) << late;
  EXPECT_THAT(late.err, HasSubstr("FAILED_PRECONDITION"));

  auto kr = ParseJson<okr::v1::KeyResultScore>(Must(org, {"score", "kr", p.nps, "--json"}));
  EXPECT_TRUE(kr.frozen());
  EXPECT_DOUBLE_EQ(kr.progress(), 1.0);
  const std::string tree = Must(org, {"tree", p.cycle, "--scores"});
  EXPECT_THAT(FirstLine(tree), HasSubstr("scores are frozen"));
  EXPECT_EQ(LeadingScore(TreeLineOf(tree, p.team)), 1.0) << tree;
}

TEST_F(OkrctlTrackingEndToEndTest, RollupsRebuildKeepsTheScores) {
  const std::string org = "tr-rebuild";
  const Plan p = MakePlan(org);
  Must(org, {"checkin", p.nps, "--value=8", "--author=Jane"});
  const auto before =
      ParseJson<okr::v1::ObjectiveScore>(Must(org, {"score", "objective", p.company, "--json"}));
  EXPECT_GT(before.score(), 0.0);
  EXPECT_THAT(Must(org, {"rollups", "rebuild"}), HasSubstr("rebuilt 2 objective and 3 key"));
  EXPECT_THAT(Must(org, {"rollups", "rebuild", "--cycle", p.cycle}),
              HasSubstr("rebuilt 2 objective and 3 key"));
  const auto after =
      ParseJson<okr::v1::ObjectiveScore>(Must(org, {"score", "objective", p.company, "--json"}));
  EXPECT_DOUBLE_EQ(after.score(), before.score());
}

}  // namespace
}  // namespace okr::okrctl
