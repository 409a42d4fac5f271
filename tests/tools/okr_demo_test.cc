// End to end: runs the okr-demo binary (the main job's model-library stage)
// on the project's example plans and checks what it prints against the model
// library's own answers for the same files.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/plan_csv.h"
#include "common/scoring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct DemoRun {
  ExitStatus status;
  std::string out;
  std::string err;
};

DemoRun RunDemo(const std::vector<std::string>& args) {
  TempDir dir("okr-demo-test");
  DemoRun run;
  absl::StatusOr<std::string> binary = OkrBinary("okr-demo");
  EXPECT_TRUE(binary.ok()) << binary.status();
  if (!binary.ok()) return run;
  SubprocessOptions options;
  options.program = *binary;
  options.args = args;
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  auto status = (*process)->Wait(absl::Seconds(60));
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) run.status = *status;
  run.out = ReadFileToString(dir.File("out"));
  run.err = ReadFileToString(dir.File("err"));
  return run;
}

std::string ExamplesDir() {
  absl::StatusOr<std::string> dir = OkrSourceFile("examples");
  EXPECT_TRUE(dir.ok()) << dir.status();
  return dir.value_or("examples");
}

// The line okr-demo prints for an objective starts (after indentation) with
// its cycle, then its title, score with two decimals and grade. In the
// Duality method a KR line carries the same title, but not the cycle.
std::string ObjectiveLine(const std::string& out, const Objective& objective) {
  const std::string title = objective.title.substr(0, 40);
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (absl::StartsWith(trimmed, objective.cycle_id + " ") &&
        absl::StrContains(line, title)) {
      return std::string(line);
    }
  }
  return "";
}

TEST(OkrDemoTest, ScoresTheDualityCascadeAsTheLibraryDoes) {
  const std::string examples = ExamplesDir();
  const std::string file = "customer-success-duality.csv";
  DemoRun run = RunDemo({"--examples_dir=" + examples, "--files=" + file,
                     "--now=2026-04-15T12:00:00-04:00"});
  ASSERT_TRUE(run.status.success()) << run.status.ToString() << "\n" << run.err;

  // Independently: parse the same file and score it with the library.
  absl::StatusOr<PlanCsv> parsed = ParsePlanCsv(ReadFileToString(examples + "/" + file));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<ScoreGraph> graph =
      ScoreGraph::Build(parsed->plan.objectives, parsed->plan.key_results, parsed->check_ins);
  ASSERT_TRUE(graph.ok()) << graph.status();
  int checked = 0;
  for (const Objective& o : parsed->plan.objectives) {
    const double score = *graph->ScoreOf(o.id);
    const std::string line = ObjectiveLine(run.out, o);
    ASSERT_FALSE(line.empty()) << "no line for " << o.title << " in:\n" << run.out;
    EXPECT_THAT(line, HasSubstr(absl::StrFormat(" %4.2f %s", score, Name(GradeOf(score)))))
        << o.title;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
  // A Duality company KR takes its progress from Jane's objective.
  EXPECT_THAT(run.out, HasSubstr("weighted mean of the scores of the objectives aligned"));
}

TEST(OkrDemoTest, PrintsTheTimelineAndLintsEveryExample) {
  DemoRun run = RunDemo({"--examples_dir=" + ExamplesDir(), "--fiscal_year=2027",
                     "--fiscal_year_start_month=2", "--planning_profile=ENTERPRISE",
                     "--now=2026-11-28T09:00:00Z"});
  ASSERT_TRUE(run.status.success()) << run.status.ToString() << "\n" << run.err;
  // ENTERPRISE planning starts 3 months before FY2027 (1 Feb 2026).
  EXPECT_THAT(run.out, HasSubstr("2025-11-01 .."));
  EXPECT_THAT(run.out, HasSubstr("the year runs 2026-02-01 .. 2027-01-31"));
  for (const char* file : {"customer-success-classic.csv", "customer-success-duality.csv",
                           "retail-annual.csv", "sales-annual-quarterly.csv"}) {
    EXPECT_THAT(run.out, HasSubstr(file));
  }
  EXPECT_THAT(run.out, HasSubstr("lint: "));
  EXPECT_EQ(run.err, "");
}

TEST(OkrDemoTest, BadFlagsAndFilesFailWithAClearMessage) {
  DemoRun zone = RunDemo({"--examples_dir=" + ExamplesDir(), "--time_zone=Mars/Base"});
  EXPECT_EQ(zone.status.exit_code, 2);
  EXPECT_THAT(zone.err, HasSubstr("time_zone"));

  DemoRun missing = RunDemo({"--examples_dir=" + ExamplesDir(), "--files=no-such-plan.csv"});
  EXPECT_EQ(missing.status.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no-such-plan.csv"));
  EXPECT_THAT(missing.out, Not(HasSubstr("no-such-plan.csv:")));
}

TEST(OkrDemoTest, HelpListsItsOwnFlags) {
  DemoRun help = RunDemo({"--help"});
  const std::string text = help.out + help.err;
  for (const char* flag : {"--examples_dir", "--now", "--fiscal_year_start_month",
                           "--planning_profile", "--time_zone"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace okr
