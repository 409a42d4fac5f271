// Runs the README's main job, scripts/run-suite.sh, as a new user would
// (without a terminal, so non-interactively) against this build's binaries,
// in a fresh data directory, and checks what it prints and leaves behind:
// the four processes started on loopback, every example plan loaded and
// scored, and the reminder job's reminders published once: heard by the
// live listener, held by the streams, and not sent again by the second run.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

// Sums the organisations' totals of a reminder job's output: each line is
// one organisation, its total "published" first, then the counts per kind.
int SumPublished(const std::string& job_output) {
  static const std::regex kPublished("\"published\":\\s*([0-9]+)");
  int sum = 0;
  for (absl::string_view line : absl::StrSplit(job_output, '\n', absl::SkipEmpty())) {
    const std::string text(line);
    std::smatch match;
    if (std::regex_search(text, match, kPublished)) sum += std::stoi(match[1].str());
  }
  return sum;
}

// The number after `label` in the summary, e.g. "heard live: 12".
int SummaryNumber(const std::string& output, const std::string& label) {
  const std::regex pattern(label + ":? ([0-9]+)");
  std::smatch match;
  if (!std::regex_search(output, match, pattern)) {
    ADD_FAILURE() << "no \"" << label << "\" in the summary";
    return -1;
  }
  return std::stoi(match[1].str());
}

TEST(RunSuiteTest, MainJobEndsWithScoredTreesAndRemindersPublishedOnce) {
  OKR_ASSERT_OK_AND_ASSIGN(std::string script, OkrSourceFile("scripts/run-suite.sh"));
  OKR_ASSERT_OK_AND_ASSIGN(std::string planning, OkrBinary("okr-planning"));
  const std::string bin_dir = planning.substr(0, planning.rfind('/'));
  TempDir dir;
  const std::string data = dir.File("suite-data");
  const std::string out_path = dir.File("out.txt");

  SubprocessOptions options;
  options.program = "/bin/bash";
  options.args = {script, absl::StrCat("--bin-dir=", bin_dir), "--fresh"};
  options.env = {{"OKR_DATA_DIR", data}, {"TERM", "dumb"}};
  options.stdout_path = out_path;
  options.stderr_path = out_path;
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> run, Subprocess::Start(options));
  OKR_ASSERT_OK_AND_ASSIGN(ExitStatus exit, run->Wait(absl::Minutes(8)));
  const std::string output = ReadFileToString(out_path);
  ASSERT_TRUE(exit.success()) << exit.ToString() << "\n" << output;

  // The four processes, each on loopback.
  for (const char* name : {"redis-server", "okr-planning", "okr-tracking", "okr-notify"}) {
    EXPECT_TRUE(std::regex_search(output, std::regex(absl::StrCat(name, " +127\\.0\\.0\\.1:[0-9]+"))))
        << name << " not started on loopback:\n" << output;
  }
  // Every example loaded; the tracked ones scored after their check-ins.
  for (const char* org : {"retail-annual", "customer-success-duality", "customer-success-classic",
                          "sales-annual-quarterly"}) {
    EXPECT_NE(output.find(absl::StrCat("Loading examples/", org, ".csv")), std::string::npos) << org;
    EXPECT_NE(output.find(absl::StrCat("Reminders published for '", org, "'")), std::string::npos)
        << org;
  }
  for (const char* org : {"retail-annual", "customer-success-duality", "customer-success-classic"}) {
    EXPECT_NE(output.find(absl::StrCat("Scores of '", org)), std::string::npos) << org;
  }
  EXPECT_TRUE(std::regex_search(output, std::regex("(GREEN|YELLOW|RED)"))) << "no graded scores";

  // The reminder job: reminders published by the first run, none by the
  // second, and every one heard live and kept in a stream.
  const std::string first = ReadFileToString(absl::StrCat(data, "/reminder-job-1.json"));
  const std::string second = ReadFileToString(absl::StrCat(data, "/reminder-job-2.json"));
  ASSERT_FALSE(first.empty()) << output;
  const int published = SumPublished(first);
  EXPECT_GT(published, 0) << "the examples have owners without check-ins this week:\n" << first;
  EXPECT_EQ(SumPublished(second), 0) << second;
  EXPECT_NE(second.find("\"skipped\""), std::string::npos) << second;
  EXPECT_EQ(SummaryNumber(output, "published by the first job run"), published);
  EXPECT_EQ(SummaryNumber(output, "heard live"), published);
  EXPECT_EQ(SummaryNumber(output, "in the streams"), published);
  EXPECT_NE(output.find("Weekly check-in"), std::string::npos) << "no weekly reminder listed";
  EXPECT_NE(output.find("Services stopped"), std::string::npos);
}

}  // namespace
}  // namespace okr
