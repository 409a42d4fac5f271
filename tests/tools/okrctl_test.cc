// Tests of okrctl, in three layers:
//  - in process: the command line (help, usage errors and their exit
//    statuses), the tree drawing and the error report, without a server;
//  - the okrctl binary against a fake PlanningService in this process, for
//    what the real service cannot be made to do on demand (a slow call, an
//    exact BadRequest) and to check the metadata and the deadline it sends;
//  - end to end: the okrctl binary against the real okr-planning, started on a
//    free loopback port with a temporary SQLite store.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/model.h"
#include "common/plan_csv.h"
#include "common/server.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"
#include "tools/okrctl/args.h"
#include "tools/okrctl/commands.h"
#include "tools/okrctl/render.h"

namespace okr::okrctl {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------
// Running okrctl
// ---------------------------------------------------------------------------

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  absl::Duration elapsed;
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
  const absl::Time start = absl::Now();
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  auto status = (*process)->Wait(absl::Seconds(60));
  run.elapsed = absl::Now() - start;
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) {
    EXPECT_TRUE(status->exited()) << status->ToString();
    run.exit_code = status->exit_code;
  }
  run.out = ReadFileToString(dir.File("out"));
  run.err = ReadFileToString(dir.File("err"));
  return run;
}

// One line of a drawn tree: its depth (0 for a root) and its text after the
// box characters.
struct TreeLine {
  int depth = 0;
  std::string text;
};

std::vector<TreeLine> ParseTree(const std::string& drawn) {
  std::vector<TreeLine> lines;
  for (absl::string_view line : absl::StrSplit(drawn, '\n', absl::SkipEmpty())) {
    TreeLine parsed;
    // Each level is four columns: "│   " or "    " above, "├── " or "└── "
    // at the node itself.
    while (true) {
      if (absl::ConsumePrefix(&line, "│   ") || absl::ConsumePrefix(&line, "    ")) {
        ++parsed.depth;
      } else if (absl::ConsumePrefix(&line, "├── ") || absl::ConsumePrefix(&line, "└── ")) {
        ++parsed.depth;
        break;
      } else {
        break;
      }
    }
    parsed.text = std::string(line);
    lines.push_back(parsed);
  }
  return lines;
}

// Indexes of the direct children of line `parent`.
std::vector<size_t> ChildLines(const std::vector<TreeLine>& lines, size_t parent) {
  std::vector<size_t> children;
  for (size_t i = parent + 1; i < lines.size() && lines[i].depth > lines[parent].depth; ++i) {
    if (lines[i].depth == lines[parent].depth + 1) children.push_back(i);
  }
  return children;
}

std::optional<size_t> FindLine(const std::vector<TreeLine>& lines, absl::string_view prefix,
                               size_t from = 0) {
  for (size_t i = from; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i].text, prefix)) return i;
  }
  return std::nullopt;
}

std::string FirstLine(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(absl::StripAsciiWhitespace(text), '\n', absl::SkipEmpty());
}

// ---------------------------------------------------------------------------
// In process: the command line
// ---------------------------------------------------------------------------

TEST(OkrctlCommandLineTest, HelpListsEveryCommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"help"}, {"--help"}, {"-h"}}) {
    CtlRun run = InProcess(args);
    EXPECT_EQ(run.exit_code, kExitOk) << run;
    for (const Command& c : AllCommands()) EXPECT_THAT(run.out, HasSubstr(c.path)) << args[0];
    for (const FlagSpec& f : GlobalFlags()) EXPECT_THAT(run.out, HasSubstr("--" + f.name));
  }
  // The commands the brief asks for are all there.
  std::vector<std::string> paths;
  for (const Command& c : AllCommands()) paths.push_back(c.path);
  for (const char* wanted :
       {"org bootstrap", "org show", "team create", "team list", "person create", "person list",
        "cycle create-year", "cycle list", "cycle set-state", "objective create",
        "objective list", "objective show", "objective update", "objective archive",
        "objective delete", "kr create", "kr list", "kr update", "kr archive", "align",
        "cascade", "unalign", "breakdown", "tree", "lint", "timeline", "templates", "import",
        "export", "changes"}) {
    EXPECT_NE(std::find(paths.begin(), paths.end(), wanted), paths.end()) << wanted;
  }
}

TEST(OkrctlCommandLineTest, CommandHelpListsItsFlags) {
  for (const Command& c : AllCommands()) {
    std::vector<std::string> args = absl::StrSplit(c.path, ' ');
    args.push_back("--help");
    CtlRun run = InProcess(args);
    EXPECT_EQ(run.exit_code, kExitOk) << run;
    EXPECT_THAT(run.out, HasSubstr("Usage: okrctl " + c.path));
    for (const FlagSpec& f : c.flags) EXPECT_THAT(run.out, HasSubstr("--" + f.name)) << c.path;
  }
}

TEST(OkrctlCommandLineTest, FlagNamesParseTheSameWayInEveryCommand) {
  // Flags are split from words before the command is known, so a name must
  // not be boolean in one command and take a value in another.
  std::map<std::string, bool> takes_value;
  for (const FlagSpec& f : GlobalFlags()) takes_value[f.name] = f.kind != FlagSpec::Kind::kBool;
  for (const Command& c : AllCommands()) {
    for (const FlagSpec& f : c.flags) {
      const bool value = f.kind != FlagSpec::Kind::kBool;
      auto [it, inserted] = takes_value.emplace(f.name, value);
      EXPECT_EQ(it->second, value) << "--" << f.name << " in " << c.path;
    }
  }
}

TEST(OkrctlCommandLineTest, UsageErrorsExitTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "no command given"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"objective"}, "'objective' needs a subcommand"},
      {{"objective", "explode"}, "unknown command 'objective explode'"},
      {{"objective", "list", "--bogus"}, "unknown flag --bogus"},
      {{"tree", "--title=x"}, "unknown flag --title for 'tree'"},
      {{"objective", "show"}, "'objective show' takes ID, got 0 arguments"},
      {{"objective", "show", "a", "b"}, "got 2 arguments"},
      {{"objective", "list", "--cycle"}, "--cycle needs a value"},
      {{"objective", "list", "--cycle=a", "--cycle=b"}, "--cycle given more than once"},
      {{"objective", "list", "--json=maybe"}, "--json takes no value"},
      {{"objective", "list", "--level=galactic"}, "--level: 'galactic' is not one of"},
      {{"objective", "list", "--limit=ten"}, "--limit: 'ten' is not a whole number"},
      {{"kr", "create", "--from=abc"}, "--from: 'abc' is not a finite number"},
      {{"org", "show", "--timeout=soon"}, "--timeout: 'soon' is not a duration"},
      {{"org", "show", "--timeout=-1s"}, "--timeout: must be positive"},
      {{"org", "show", "-x"}, "unknown flag -x"},
      {{"lint", "--owner=p1"}, "lint: --owner needs --cycle"},
      {{"breakdown", "o1"}, "breakdown needs at least one --item"},
      {{"breakdown", "o1", "--item=no-title"}, "--item: 'no-title' is not CYCLE=TITLE"},
      {{"timeline"}, "timeline needs --year"},
      {{"objective", "update", "o1"}, "give at least one field flag"},
      {{"cycle", "create-year", "next"}, "YEAR: 'next' is not a fiscal year"},
  };
  for (const Case& c : cases) {
    // No server: every one of these must fail before the first call (an
    // attempted call would fail with exit 1 instead).
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "--addr=127.0.0.1:1");
    CtlRun run = InProcess(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_THAT(run.err, HasSubstr(c.message)) << absl::StrJoin(c.args, " ");
    EXPECT_THAT(run.err, HasSubstr("Usage")) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_EQ(run.out, "") << absl::StrJoin(c.args, " ");
  }
}

TEST(OkrctlCommandLineTest, EnumValuesParseInEveryWrittenForm) {
  for (absl::string_view text : {"percent-complete", "PERCENT_COMPLETE", "Percent_Complete",
                                 "MEASURE_PERCENT_COMPLETE"}) {
    absl::StatusOr<okr::v1::Measure> m = ParseEnum<okr::v1::Measure>("measure", text);
    ASSERT_TRUE(m.ok()) << text << ": " << m.status();
    EXPECT_EQ(*m, okr::v1::MEASURE_PERCENT_COMPLETE) << text;
  }
  absl::StatusOr<okr::v1::CycleState> bad = ParseEnum<okr::v1::CycleState>("state", "done");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(IsUsageError(bad.status()));
  // The message lists the accepted values (all but UNSPECIFIED).
  for (const char* v : {"planning", "active", "review", "closed"}) {
    EXPECT_THAT(bad.status().message(), HasSubstr(v));
  }
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("unspecified")));
  EXPECT_EQ(ShortName(okr::v1::DIRECTION_AT_LEAST), "AT_LEAST");
  EXPECT_EQ(EnumPrefix(google::protobuf::GetEnumDescriptor<okr::v1::KeyResultType>()),
            "KEY_RESULT_TYPE");
}

TEST(OkrctlCommandLineTest, TimeoutsParseWithAndWithoutUnits) {
  EXPECT_EQ(*ParseTimeout("5s"), absl::Seconds(5));
  EXPECT_EQ(*ParseTimeout("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseTimeout("2"), absl::Seconds(2));
  EXPECT_EQ(*ParseTimeout("1m30s"), absl::Seconds(90));
  EXPECT_FALSE(ParseTimeout("0s").ok());
  EXPECT_FALSE(ParseTimeout("inf").ok());
}

// ---------------------------------------------------------------------------
// In process: rendering
// ---------------------------------------------------------------------------

okr::v1::Objective MakeObjective(const std::string& id, const std::string& title,
                                 const std::string& cycle, okr::v1::Level level,
                                 const std::string& owner) {
  okr::v1::Objective o;
  o.set_id(id);
  o.set_title(title);
  o.set_cycle_id(cycle);
  o.set_level(level);
  o.set_owner_id(owner);
  o.set_state(okr::v1::OBJECTIVE_STATE_PUBLISHED);
  return o;
}

okr::v1::KeyResult MakeMetric(const std::string& id, const std::string& objective,
                              const std::string& title, double from, double to,
                              const std::string& unit) {
  okr::v1::KeyResult kr;
  kr.set_id(id);
  kr.set_objective_id(objective);
  kr.set_title(title);
  kr.set_type(okr::v1::KEY_RESULT_TYPE_METRIC);
  kr.set_start_value(from);
  kr.set_target_value(to);
  kr.set_unit(unit);
  kr.set_weight(1);
  return kr;
}

void AddLink(okr::v1::AlignmentTree& tree, const std::string& child,
             const std::string& parent_objective, const std::string& parent_kr,
             double weight) {
  okr::v1::AlignmentLink* link = tree.add_links();
  link->set_child_objective_id(child);
  link->set_parent_objective_id(parent_objective);
  link->set_parent_key_result_id(parent_kr);
  link->set_kind(parent_kr.empty() ? okr::v1::ALIGNMENT_KIND_OBJECTIVE
                                   : okr::v1::ALIGNMENT_KIND_KEY_RESULT);
  link->set_weight(weight);
}

// The customer-success cascade of the planning guide (Duality), plus one
// Classic child: the company objective, Jane's team objective cascaded from
// its first KR, Nick's objective cascaded from Jane's KR.
okr::v1::AlignmentTree CascadeTree() {
  okr::v1::AlignmentTree tree;
  *tree.add_objectives() = MakeObjective("o1", "Earn customer love and trust", "c-fy",
                                         okr::v1::LEVEL_COMPANY, "p-alex");
  *tree.add_objectives() = MakeObjective("o2", "Increase customer retention rate to 99%",
                                         "c-q1", okr::v1::LEVEL_TEAM, "p-jane");
  okr::v1::Objective nick = MakeObjective("o3", "Implement the improvement plan", "c-q1",
                                          okr::v1::LEVEL_INDIVIDUAL, "p-nick");
  nick.set_state(okr::v1::OBJECTIVE_STATE_DRAFT);
  *tree.add_objectives() = nick;
  *tree.add_objectives() = MakeObjective("o4", "Grow the user community", "c-q1",
                                         okr::v1::LEVEL_TEAM, "p-jane");
  *tree.add_key_results() =
      MakeMetric("k1", "o1", "Increase customer retention rate to 99%", 95, 99, "%");
  okr::v1::KeyResult portal;
  portal.set_id("k2");
  portal.set_objective_id("o1");
  portal.set_title("Launch the customer portal");
  portal.set_type(okr::v1::KEY_RESULT_TYPE_MILESTONE);
  *tree.add_key_results() = portal;
  *tree.add_key_results() =
      MakeMetric("k3", "o2", "Implement the plan for 100% of at-risk customers", 0, 100, "%");
  AddLink(tree, "o2", "o1", "k1", 1);
  AddLink(tree, "o3", "o2", "k3", 1);
  AddLink(tree, "o4", "o1", "", 2);
  tree.add_root_objective_ids("o1");
  return tree;
}

Names CascadeNames() {
  Names names;
  names.cycles = {{"c-fy", "FY2027"}, {"c-q1", "FY2027-Q1"}};
  names.people = {{"p-alex", "Alex Rivera"}, {"p-jane", "Jane"}, {"p-nick", "Nick"}};
  return names;
}

TEST(OkrctlRenderTest, DrawsKeyResultsUnderObjectivesAndCascadesUnderKeyResults) {
  const std::string drawn = RenderAlignmentTree(CascadeTree(), CascadeNames());
  const std::string expected =
      "Earn customer love and trust  [o1]  FY2027 · COMPANY · Alex Rivera\n"
      "├── KR Increase customer retention rate to 99%  [k1]  95 → 99 %\n"
      "│   └── Increase customer retention rate to 99%  [o2]  FY2027-Q1 · TEAM · Jane\n"
      "│       └── KR Implement the plan for 100% of at-risk customers  [k3]  0 → 100 %\n"
      "│           └── Implement the improvement plan  [o3]  FY2027-Q1 · INDIVIDUAL · Nick · "
      "DRAFT\n"
      "├── KR Launch the customer portal  [k2]  milestone\n"
      "└── Grow the user community  [o4]  FY2027-Q1 · TEAM · Jane · weight 2\n";
  EXPECT_EQ(drawn, expected);
}

TEST(OkrctlRenderTest, DrawsEveryObjectiveEvenWithoutLinksOrRoots) {
  okr::v1::AlignmentTree tree = CascadeTree();
  // A server that sends neither links nor roots: the objectives' own
  // alignment still places them.
  tree.clear_links();
  tree.clear_root_objective_ids();
  for (auto& o : *tree.mutable_objectives()) {
    if (o.id() == "o2") {
      o.mutable_alignment()->set_kind(okr::v1::ALIGNMENT_KIND_KEY_RESULT);
      o.mutable_alignment()->set_parent_objective_id("o1");
      o.mutable_alignment()->set_parent_key_result_id("k1");
    }
  }
  std::vector<TreeLine> lines = ParseTree(RenderAlignmentTree(tree, CascadeNames()));
  ASSERT_EQ(lines.size(), 7u);
  auto k1 = FindLine(lines, "KR Increase customer retention");
  ASSERT_TRUE(k1.has_value());
  auto o2 = FindLine(lines, "Increase customer retention rate to 99%  [o2]");
  ASSERT_TRUE(o2.has_value());
  EXPECT_EQ(ChildLines(lines, *k1), std::vector<size_t>{*o2});
  // o3 and o4 lost their links: they are roots now.
  EXPECT_EQ(lines[*FindLine(lines, "Implement the improvement plan")].depth, 0);
  EXPECT_EQ(lines[*FindLine(lines, "Grow the user community")].depth, 0);
}

TEST(OkrctlRenderTest, SurvivesALoopInABrokenSnapshot) {
  okr::v1::AlignmentTree tree;
  *tree.add_objectives() = MakeObjective("a", "A", "c", okr::v1::LEVEL_TEAM, "");
  *tree.add_objectives() = MakeObjective("b", "B", "c", okr::v1::LEVEL_TEAM, "");
  AddLink(tree, "a", "b", "", 1);
  AddLink(tree, "b", "a", "", 1);
  std::vector<TreeLine> lines = ParseTree(RenderAlignmentTree(tree, Names()));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].depth, 0);
  EXPECT_EQ(lines[1].depth, 1);
}

TEST(OkrctlRenderTest, TablesAlignColumnsByCodePoints) {
  std::string table = RenderTable({"ID", "TITLE"}, {{"o1", "Réduire"}, {"objective-2", "x"}});
  std::vector<std::string> lines = Lines(table);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "ID           TITLE");
  EXPECT_EQ(lines[1], "o1           Réduire");
  EXPECT_EQ(lines[2], "objective-2  x");
  EXPECT_EQ(RenderTable({"ID"}, {}), "");
}

TEST(OkrctlRenderTest, ErrorsNameTheCodeTheFieldsAndTheCsvCells) {
  absl::Status status = Annotate(
      MakeInvalidArgument({{"objective.title", "must not be empty"},
                           {"rows[4].kind", "'COMMITED' is not one of COMMITTED, ASPIRATIONAL"},
                           {"rows[7]", "the row has no objective_ref"}}),
      "CreateObjective");
  const std::string report = FormatError(status);
  EXPECT_THAT(report, StartsWith("okrctl: INVALID_ARGUMENT: CreateObjective: "));
  EXPECT_THAT(report, HasSubstr("\n  objective.title: must not be empty\n"));
  EXPECT_THAT(report, HasSubstr(
                          "\n  row 4, column kind: 'COMMITED' is not one of COMMITTED, "
                          "ASPIRATIONAL\n"));
  EXPECT_THAT(report, HasSubstr("\n  row 7: the row has no objective_ref\n"));
  EXPECT_EQ(FormatRowError(0, "", "the file is too large"), "the file is too large");
}

TEST(OkrctlRenderTest, NumbersPrintInTheirShortestExactForm) {
  EXPECT_EQ(FormatNumber(99), "99");
  EXPECT_EQ(FormatNumber(8.5), "8.5");
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  EXPECT_EQ(FormatNumber(-2.25), "-2.25");
  EXPECT_EQ(FormatNumber(100), "100");
  EXPECT_EQ(FormatNumber(1500000), "1500000");
  EXPECT_EQ(FormatNumber(0), "0");
  EXPECT_EQ(FormatNumber(1e-7), "1e-07");
  EXPECT_EQ(FormatNumber(2e20), "2e+20");
}

// ---------------------------------------------------------------------------
// The binary against a fake service
// ---------------------------------------------------------------------------

// Answers a few RPCs the way the contract says a failing service does, and
// records the metadata and deadlines it was called with.
class FakePlanningService final : public okr::v1::PlanningService::Service {
 public:
  struct Call {
    std::string method;
    std::string organisation;
    std::string authorization;
    absl::Duration deadline_in;  // deadline minus arrival time
  };

  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  grpc::Status GetOrganisation(grpc::ServerContext* context,
                               const okr::v1::GetOrganisationRequest*,
                               okr::v1::Organisation* response) override {
    Record(context, "GetOrganisation");
    // Slow enough to outlast a short --timeout, short enough for shutdown.
    absl::SleepFor(absl::Seconds(4));
    response->set_id("slow");
    return grpc::Status::OK;
  }

  grpc::Status CreateObjective(grpc::ServerContext* context,
                               const okr::v1::CreateObjectiveRequest*,
                               okr::v1::Objective*) override {
    Record(context, "CreateObjective");
    return ToGrpcStatus(MakeInvalidArgument(
        {{"objective.title", "must not be empty"},
         {"objective.owner_id", "required: the person responsible (the O of PLOT)"}}));
  }

  grpc::Status GetObjective(grpc::ServerContext* context, const okr::v1::GetObjectiveRequest* r,
                            okr::v1::Objective*) override {
    Record(context, "GetObjective");
    return ToGrpcStatus(MakeFieldStatus(absl::StatusCode::kNotFound,
                                        {{"id", absl::StrCat("no objective '", r->id(), "'")}}));
  }

  grpc::Status ListObjectives(grpc::ServerContext* context,
                              const okr::v1::ListObjectivesRequest* request,
                              okr::v1::ListObjectivesResponse* response) override {
    Record(context, "ListObjectives");
    // Two pages: o1, o2 and then o3.
    if (request->page_token().empty()) {
      *response->add_objectives() = MakeObjective("o1", "One", "", okr::v1::LEVEL_TEAM, "");
      *response->add_objectives() = MakeObjective("o2", "Two", "", okr::v1::LEVEL_TEAM, "");
      response->set_next_page_token("page-2");
    } else if (request->page_token() == "page-2") {
      *response->add_objectives() = MakeObjective("o3", "Three", "", okr::v1::LEVEL_TEAM, "");
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token: unknown");
    }
    response->set_total_size(3);
    return grpc::Status::OK;
  }

  grpc::Status ImportPlanCsv(grpc::ServerContext* context,
                             const okr::v1::ImportPlanCsvRequest* request,
                             okr::v1::ImportPlanCsvResponse* response) override {
    Record(context, "ImportPlanCsv");
    if (request->dry_run()) {
      response->set_objectives_created(1);
      okr::v1::CsvRowError* e = response->add_errors();
      e->set_row(3);
      e->set_column("to");
      e->set_reason("must differ from 'from' (both are 5)");
      return grpc::Status::OK;
    }
    return ToGrpcStatus(MakeInvalidArgument(
        {{"rows[3].to", "must differ from 'from' (both are 5)"},
         {"rows[4].owner", "no person named 'Zed' in the organisation"}}));
  }

  grpc::Status GetAlignmentTree(grpc::ServerContext* context,
                                const okr::v1::GetAlignmentTreeRequest*,
                                okr::v1::AlignmentTree* response) override {
    Record(context, "GetAlignmentTree");
    *response = CascadeTree();
    return grpc::Status::OK;
  }

  grpc::Status ListCycles(grpc::ServerContext* context, const okr::v1::ListCyclesRequest*,
                          okr::v1::ListCyclesResponse* response) override {
    Record(context, "ListCycles");
    for (const auto& [id, name] : CascadeNames().cycles) {
      okr::v1::Cycle* c = response->add_cycles();
      c->set_id(id);
      c->set_name(name);
    }
    return grpc::Status::OK;
  }

  grpc::Status ListPeople(grpc::ServerContext* context, const okr::v1::ListPeopleRequest*,
                          okr::v1::ListPeopleResponse* response) override {
    Record(context, "ListPeople");
    for (const auto& [id, name] : CascadeNames().people) {
      okr::v1::Person* p = response->add_people();
      p->set_id(id);
      p->set_display_name(name);
    }
    return grpc::Status::OK;
  }

  grpc::Status ListTeams(grpc::ServerContext* context, const okr::v1::ListTeamsRequest*,
                         okr::v1::ListTeamsResponse*) override {
    Record(context, "ListTeams");
    return grpc::Status::OK;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& method) {
    Call call;
    call.method = method;
    for (const auto& [key, value] : context->client_metadata()) {
      const std::string k(key.data(), key.size());
      if (k == "okr-organisation-id") call.organisation.assign(value.data(), value.size());
      if (k == "authorization") call.authorization.assign(value.data(), value.size());
    }
    call.deadline_in = absl::FromChrono(context->deadline()) - absl::Now();
    absl::MutexLock lock(&mu_);
    calls_.push_back(call);
  }

  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

class OkrctlFakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.service_name = "fake-planning";
    options.shutdown_grace = absl::Seconds(1);
    auto server = Server::Start(options, {&service_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    addr_ = absl::StrCat("127.0.0.1:", server_->port());
  }

  CtlRun Ctl(std::vector<std::string> args,
             std::vector<std::pair<std::string, std::string>> env = {}) {
    args.insert(args.begin(), "--addr=" + addr_);
    return RunBinary(args, std::move(env));
  }

  FakePlanningService service_;
  std::unique_ptr<Server> server_;
  std::string addr_;
};

TEST_F(OkrctlFakeServerTest, InvalidArgumentPrintsTheCodeAndEveryField) {
  CtlRun run = Ctl({"--org=acme", "objective", "create", "--title=", "--level=team"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("CreateObjective"));
  EXPECT_THAT(run.err, HasSubstr("  objective.title: must not be empty\n"));
  EXPECT_THAT(run.err, HasSubstr("  objective.owner_id: required"));
  EXPECT_EQ(run.out, "");
}

TEST_F(OkrctlFakeServerTest, NotFoundNamesTheField) {
  CtlRun run = Ctl({"--org=acme", "objective", "show", "o-missing"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(run.err, HasSubstr("  id: no objective 'o-missing'"));
}

TEST_F(OkrctlFakeServerTest, SendsTheOrganisationTokenAndADeadline) {
  CtlRun run = Ctl({"objective", "show", "o1", "--timeout=3s"},
                   {{"OKR_ORG", "from-env"}, {"OKR_TOKEN", "secret-token"}});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  run = Ctl({"objective", "show", "o1", "--org=from-flag"}, {{"OKR_ORG", "from-env"}});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  std::vector<FakePlanningService::Call> calls = service_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].organisation, "from-env");
  EXPECT_EQ(calls[0].authorization, "Bearer secret-token");
  EXPECT_GT(calls[0].deadline_in, absl::ZeroDuration());
  EXPECT_LE(calls[0].deadline_in, absl::Seconds(3));
  EXPECT_EQ(calls[1].organisation, "from-flag");  // the flag wins
  EXPECT_EQ(calls[1].authorization, "");
  // The default deadline is 5 s.
  EXPECT_GT(calls[1].deadline_in, absl::Seconds(3));
  EXPECT_LE(calls[1].deadline_in, absl::Seconds(5));
}

TEST_F(OkrctlFakeServerTest, ASlowServerHitsTheDeadline) {
  CtlRun run = Ctl({"org", "show", "--timeout=300ms"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_LT(run.elapsed, absl::Seconds(3)) << "the call outlived its deadline";
}

TEST_F(OkrctlFakeServerTest, ListsFollowEveryPage) {
  CtlRun run = Ctl({"objective", "list", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  okr::v1::ListObjectivesResponse merged;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &merged).ok()) << run.out;
  ASSERT_EQ(merged.objectives_size(), 3);
  EXPECT_EQ(merged.objectives(2).id(), "o3");
  EXPECT_EQ(merged.next_page_token(), "");
  // Proto field names, not lowerCamelCase.
  EXPECT_THAT(run.out, HasSubstr("\"total_size\""));

  run = Ctl({"objective", "list", "--limit=2", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &merged).ok());
  EXPECT_EQ(merged.objectives_size(), 2);
  EXPECT_EQ(merged.next_page_token(), "page-2");
}

TEST_F(OkrctlFakeServerTest, ImportErrorsReadAsRowAndColumn) {
  TempDir dir("okrctl-import");
  const std::string file = dir.File("plan.csv");
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("cycle,objective_ref,objective_title\nFY2027,O1,x\n", f);
  fclose(f);
  CtlRun run = Ctl({"import", file});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.err, HasSubstr("\n  row 3, column to: must differ from 'from' (both are 5)\n"));
  EXPECT_THAT(run.err, HasSubstr("\n  row 4, column owner: no person named 'Zed'"));

  run = Ctl({"import", file, "--dry-run"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.out, HasSubstr("dry run"));
  EXPECT_THAT(run.err, HasSubstr("\n  row 3, column to: must differ from 'from' (both are 5)\n"));

  run = Ctl({"import", dir.File("missing.csv")});
  EXPECT_EQ(run.exit_code, kExitUsage) << run;
  EXPECT_THAT(run.err, HasSubstr("cannot read"));
}

TEST_F(OkrctlFakeServerTest, TreeResolvesNamesAndJsonParses) {
  CtlRun run = Ctl({"tree"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_EQ(run.out, RenderAlignmentTree(CascadeTree(), CascadeNames()));
  run = Ctl({"tree", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  okr::v1::AlignmentTree tree;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &tree).ok()) << run.out;
  EXPECT_EQ(tree.SerializeAsString(), CascadeTree().SerializeAsString());
}

TEST(OkrctlServerDownTest, UnavailableWithinTheTimeout) {
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  CtlRun run = RunBinary(
      {absl::StrCat("--addr=127.0.0.1:", *port), "--timeout=2s", "--org=acme", "org", "show"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(run.err, HasSubstr(absl::StrCat("127.0.0.1:", *port)));
  EXPECT_LT(run.elapsed, absl::Seconds(4));
}

// ---------------------------------------------------------------------------
// End to end: okrctl against the real okr-planning
// ---------------------------------------------------------------------------

class OkrctlEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("okrctl-e2e");
    absl::StatusOr<std::unique_ptr<ServiceProcess>> server = ServiceProcess::Start(
        {.binary = "okr-planning",
         .args = {"--auth=false", "--store=sqlite:" + dir_->File("planning.db")},
         .log_path = dir_->File("planning.log")});
    if (!server.ok()) {
      *startup_error_ = server.status().ToString();
      return;
    }
    server_ = server->release();
    addr_ = new std::string(server_->address());
    startup_error_->clear();
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) (void)server_->Stop();
    delete server_;
    server_ = nullptr;
    delete addr_;
    addr_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(startup_error_->empty()) << "okr-planning did not start: " << *startup_error_;
  }

  // okrctl against the server as organisation `org`.
  static CtlRun Ctl(const std::string& org, std::vector<std::string> args) {
    args.insert(args.begin(), {"--addr=" + *addr_, "--org=" + org, "--timeout=20s"});
    return RunBinary(args);
  }

  // Ctl that must succeed; returns stdout.
  static std::string Must(const std::string& org, std::vector<std::string> args) {
    CtlRun run = Ctl(org, args);
    EXPECT_EQ(run.exit_code, kExitOk) << absl::StrJoin(args, " ") << "\n" << run;
    return run.out;
  }

  // A bootstrapped organisation with fiscal year 2027 (January start) and
  // the teams and people of the customer-success example.
  static void SetUpOrganisation(const std::string& org) {
    Must(org, {"org", "bootstrap", org, "--name", "E2E " + org, "--time-zone",
               "America/New_York"});
    EXPECT_EQ(Lines(Must(org, {"cycle", "create-year", "2027", "-q"})).size(), 5u);
    Must(org, {"team", "create", "Leadership"});
    Must(org, {"team", "create", "Customer Success"});
    Must(org, {"person", "create", "Alex Rivera", "--team", "Leadership"});
    Must(org, {"person", "create", "Jane", "--team", "Customer Success"});
    Must(org, {"person", "create", "Nick", "--team", "Customer Success"});
  }

  static std::string* startup_error_;
  static TempDir* dir_;
  static std::string* addr_;
  static ServiceProcess* server_;
};

std::string* OkrctlEndToEndTest::startup_error_ = new std::string("not started");
TempDir* OkrctlEndToEndTest::dir_ = nullptr;
std::string* OkrctlEndToEndTest::addr_ = nullptr;
ServiceProcess* OkrctlEndToEndTest::server_ = nullptr;

TEST_F(OkrctlEndToEndTest, BuildsAPlanByHandAndDrawsItsTree) {
  const std::string org = "e2e-manual";
  SetUpOrganisation(org);
  const std::string o1 = FirstLine(
      Must(org, {"objective", "create", "-q", "--title", "Earn customer love and trust",
                 "--level", "company", "--owner", "Alex Rivera", "--team", "Leadership",
                 "--cycle", "FY2027", "--kind", "committed", "--state", "published"}));
  ASSERT_FALSE(o1.empty());
  const std::string k1 = FirstLine(
      Must(org, {"kr", "create", "-q", "--objective", o1, "--title",
                 "Increase customer retention rate from 95% to 99%", "--type", "metric",
                 "--measure", "kpi", "--from", "95", "--to", "99", "--unit", "%"}));
  const std::string k2 =
      FirstLine(Must(org, {"kr", "create", "-q", "--objective", o1, "--title",
                           "Launch the customer portal", "--type", "milestone"}));
  ASSERT_FALSE(k1.empty());
  ASSERT_FALSE(k2.empty());
  // Duality: Jane's objective is Alex's first key result.
  const std::string o2 = FirstLine(
      Must(org, {"cascade", k1, "-q", "--owner", "Jane", "--level", "team", "--team",
                 "Customer Success", "--cycle", "FY2027-Q1", "--kind", "committed"}));
  ASSERT_FALSE(o2.empty());
  // Classic: another of Jane's objectives aligned to the company objective.
  const std::string o3 = FirstLine(
      Must(org, {"objective", "create", "-q", "--title", "Grow the user community", "--level",
                 "team", "--owner", "Jane", "--team", "Customer Success", "--cycle",
                 "FY2027-Q1", "--kind", "aspirational"}));
  Must(org, {"align", o3, o1, "--weight", "2"});

  std::vector<TreeLine> lines = ParseTree(Must(org, {"tree"}));
  auto root = FindLine(lines, "Earn customer love and trust  [" + o1 + "]");
  ASSERT_TRUE(root.has_value()) << Must(org, {"tree"});
  EXPECT_EQ(lines[*root].depth, 0);
  std::vector<std::string> children;
  for (size_t i : ChildLines(lines, *root)) children.push_back(lines[i].text);
  ASSERT_EQ(children.size(), 3u) << absl::StrJoin(children, "\n");
  EXPECT_THAT(children[0], StartsWith("KR Increase customer retention rate from 95% to 99%  [" +
                                      k1 + "]"));
  EXPECT_THAT(children[0], HasSubstr("95 → 99 %"));
  EXPECT_THAT(children[1], StartsWith("KR Launch the customer portal  [" + k2 + "]"));
  EXPECT_THAT(children[2], AllOf(StartsWith("Grow the user community  [" + o3 + "]"),
                                 HasSubstr("weight 2"), HasSubstr("Jane")));
  auto k1_line = FindLine(lines, "KR Increase customer retention");
  std::vector<size_t> under_k1 = ChildLines(lines, *k1_line);
  ASSERT_EQ(under_k1.size(), 1u);
  // The cascaded objective takes the key result's title.
  EXPECT_THAT(lines[under_k1[0]].text,
              StartsWith("Increase customer retention rate from 95% to 99%  [" + o2 + "]"));

  // --json is the AlignmentTree message.
  okr::v1::AlignmentTree tree;
  const std::string json = Must(org, {"tree", "--json"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &tree).ok()) << json;
  EXPECT_EQ(tree.objectives_size(), 3);
  EXPECT_EQ(tree.key_results_size(), 2);
  EXPECT_THAT(tree.root_objective_ids(), ::testing::ElementsAre(o1));

  EXPECT_THAT(Must(org, {"objective", "show", o2}),
              HasSubstr("cascaded from key result " + k1));
  okr::v1::ListObjectivesResponse q1;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Must(org, {"objective", "list", "--cycle", "FY2027-Q1", "--json"}), &q1)
                  .ok());
  EXPECT_EQ(q1.objectives_size(), 2);

  // Updates read the version first; a stale --if-version is ABORTED.
  okr::v1::Objective before;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Must(org, {"objective", "show", o3, "--json"}), &before)
                  .ok());
  Must(org, {"objective", "update", o3, "--title", "Grow the customer community"});
  CtlRun stale = Ctl(org, {"objective", "update", o3, "--priority", "2", "--if-version",
                           absl::StrCat(before.version())});
  EXPECT_EQ(stale.exit_code, kExitRpcError) << stale;
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));

  // Lint of one objective runs and reports.
  EXPECT_THAT(Must(org, {"lint", "--objective", o1}), HasSubstr("objective"));
}

TEST_F(OkrctlEndToEndTest, ImportsTheDualityExampleAndDrawsItsCascade) {
  const std::string org = "e2e-duality";
  SetUpOrganisation(org);
  absl::StatusOr<std::string> path = OkrSourceFile("examples/customer-success-duality.csv");
  ASSERT_TRUE(path.ok()) << path.status();
  // What the file holds, by the model library's parser.
  absl::StatusOr<PlanCsv> file = ParsePlanCsv(ReadFileToString(*path));
  ASSERT_TRUE(file.ok()) << file.status();

  const std::string imported = Must(org, {"import", *path});
  EXPECT_THAT(imported, HasSubstr(absl::StrCat("imported ", file->plan.objectives.size(),
                                               " objectives and ",
                                               file->plan.key_results.size(), " key results")));

  // Every Duality link of the file shows as the child objective directly
  // under its parent key result.
  const std::string drawn = Must(org, {"tree"});
  std::vector<TreeLine> lines = ParseTree(drawn);
  absl::flat_hash_map<std::string, std::string> kr_titles;
  for (const KeyResult& kr : file->plan.key_results) kr_titles[kr.id] = kr.title;
  int cascades = 0;
  for (const Objective& o : file->plan.objectives) {
    if (o.alignment.kind != AlignmentKind::kKeyResult) {
      auto root = FindLine(lines, o.title + "  [");
      ASSERT_TRUE(root.has_value()) << o.title << "\n" << drawn;
      EXPECT_EQ(lines[*root].depth, 0) << o.title;
      continue;
    }
    ++cascades;
    const std::string& parent_title = kr_titles[o.alignment.parent_key_result_id];
    bool found = false;
    for (size_t i = 0; i < lines.size() && !found; ++i) {
      if (!absl::StartsWith(lines[i].text, "KR " + parent_title + "  [")) continue;
      for (size_t child : ChildLines(lines, i)) {
        found = found || absl::StartsWith(lines[child].text, o.title + "  [");
      }
    }
    EXPECT_TRUE(found) << o.title << " is not drawn under KR '" << parent_title << "'\n"
                       << drawn;
  }
  EXPECT_GE(cascades, 2);

  // Jane has one objective in the quarter: the 3-5 objectives rule fires.
  const std::string lint = Must(org, {"lint", "--owner", "Jane", "--cycle", "FY2027-Q1"});
  EXPECT_THAT(lint, HasSubstr("too-few-objectives")) << lint;
  okr::v1::LintResponse findings;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Must(org, {"lint", "--cycle", "FY2027-Q1", "--json"}), &findings)
                  .ok());
  EXPECT_GT(findings.objectives_checked(), 0);
}

TEST_F(OkrctlEndToEndTest, ExportImportsBackUnchanged) {
  const std::string source_org = "e2e-export";
  const std::string target_org = "e2e-reimport";
  SetUpOrganisation(source_org);
  SetUpOrganisation(target_org);
  absl::StatusOr<std::string> path = OkrSourceFile("examples/customer-success-duality.csv");
  ASSERT_TRUE(path.ok()) << path.status();
  Must(source_org, {"import", *path});

  TempDir dir("okrctl-roundtrip");
  const std::string exported = dir.File("exported.csv");
  EXPECT_THAT(Must(source_org, {"export", "-o", exported}), HasSubstr("exported "));
  okr::v1::ExportPlanCsvResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Must(source_org, {"export", "--json"}), &response)
                  .ok());
  EXPECT_EQ(ReadFileToString(exported), response.csv());

  Must(target_org, {"import", exported, "--dry-run"});
  Must(target_org, {"import", exported});
  const std::string again = Must(target_org, {"export"});

  // Ids differ between the organisations; everything else must not.
  absl::StatusOr<PlanCsv> a = ParsePlanCsv(ReadFileToString(exported));
  absl::StatusOr<PlanCsv> b = ParsePlanCsv(again);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  auto objectives = [](const PlanCsv& p) {
    absl::flat_hash_map<std::string, std::string> titles;
    for (const Objective& o : p.plan.objectives) titles[o.id] = o.title;
    absl::flat_hash_map<std::string, std::string> kr_titles;
    for (const KeyResult& kr : p.plan.key_results) kr_titles[kr.id] = kr.title;
    std::vector<std::string> out;
    for (const Objective& o : p.plan.objectives) {
      out.push_back(absl::StrJoin(
          {o.title, o.description, std::string(Name(o.level)), o.owner_id, o.team_id,
           o.cycle_id, std::string(Name(o.kind)), std::string(Name(o.state)),
           absl::StrCat(o.priority), std::string(Name(o.alignment.kind)),
           titles[o.alignment.parent_objective_id],
           kr_titles[o.alignment.parent_key_result_id]},
          "|"));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto key_results = [](const PlanCsv& p) {
    absl::flat_hash_map<std::string, std::string> titles;
    for (const Objective& o : p.plan.objectives) titles[o.id] = o.title;
    std::vector<std::string> out;
    for (const KeyResult& kr : p.plan.key_results) {
      out.push_back(absl::StrJoin(
          {titles[kr.objective_id], kr.title, kr.owner_id, std::string(Name(kr.type)),
           FormatNumber(kr.from), FormatNumber(kr.to), kr.unit,
           std::string(Name(kr.direction)), FormatNumber(kr.weight),
           std::string(Name(kr.data_source)), kr.data_source_ref},
          "|"));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(objectives(*a), objectives(*b));
  EXPECT_EQ(key_results(*a), key_results(*b));
  EXPECT_EQ(a->plan.key_results.size(), static_cast<size_t>(response.row_count()));
}

TEST_F(OkrctlEndToEndTest, ErrorsExitNonZeroWithTheCodeAndTheField) {
  const std::string org = "e2e-errors";
  SetUpOrganisation(org);
  // Unknown id.
  CtlRun run = Ctl(org, {"objective", "show", "no-such-objective"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  // Unknown owner on create: NOT_FOUND naming the field.
  run = Ctl(org, {"objective", "create", "--title", "Ship it", "--level", "individual",
                  "--owner", "nobody-with-this-id", "--cycle", "FY2027", "--kind",
                  "committed"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("NOT_FOUND"), HasSubstr("objective.owner_id")));
  // Invalid fields: INVALID_ARGUMENT with each field.
  run = Ctl(org, {"objective", "create", "--title", "", "--level", "individual", "--owner",
                  "Jane", "--cycle", "FY2027"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("objective.title"),
                             HasSubstr("objective.kind")));
  // A bad CSV: nothing imported, each problem as row and column.
  TempDir dir("okrctl-bad-csv");
  const std::string bad = dir.File("bad.csv");
  FILE* f = fopen(bad.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("cycle,objective_ref,objective_title,level,owner,kind\n"
        "FY2027,O1,Delight customers,COMPANY,Jane,COMMITED\n",
        f);
  fclose(f);
  run = Ctl(org, {"import", bad, "--dry-run"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("row 2, column kind: "));
  run = Ctl(org, {"import", bad});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("column kind")));
  EXPECT_THAT(Must(org, {"objective", "list"}), Not(HasSubstr("Delight customers")));
  // A bad flag never reaches the server.
  run = Ctl(org, {"objective", "list", "--colour=blue"});
  EXPECT_EQ(run.exit_code, kExitUsage) << run;
  EXPECT_THAT(run.err, HasSubstr("--colour"));
}

}  // namespace
}  // namespace okr::okrctl
