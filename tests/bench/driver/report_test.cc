#include "tests/bench/driver/report.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FormatValueTest, PicksReadableUnits) {
  EXPECT_EQ(FormatValue(Unit::kPerSecond, 52134.4), "52,134/s");
  EXPECT_EQ(FormatValue(Unit::kPerSecond, 1234567, " check-ins/s"), "1,234,567 check-ins/s");
  EXPECT_EQ(FormatValue(Unit::kPerSecond, 12.5), "12.5/s");
  EXPECT_EQ(FormatValue(Unit::kSeconds, 152e-6), "152 us");
  EXPECT_EQ(FormatValue(Unit::kSeconds, 4.52e-3), "4.52 ms");
  EXPECT_EQ(FormatValue(Unit::kSeconds, 1.234), "1.23 s");
  EXPECT_EQ(FormatValue(Unit::kBytes, 30.0 * 1024 * 1024), "30.0 MiB");
  EXPECT_EQ(FormatValue(Unit::kCount, 100000), "100,000");
  EXPECT_EQ(FormatValue(Unit::kCount, 999), "999");
  EXPECT_EQ(FormatValue(Unit::kCount, 0), "0");
}

TEST(RowTest, RatioIsValueOverBaselineOrInverse) {
  Row row{.value = 40000, .baseline = 50000};
  ASSERT_TRUE(row.ratio().has_value());
  EXPECT_DOUBLE_EQ(*row.ratio(), 0.8);
  row.inverse_ratio = true;
  EXPECT_DOUBLE_EQ(*row.ratio(), 1.25);
  row.baseline = std::nullopt;
  EXPECT_FALSE(row.ratio().has_value());
  row.baseline = 0;
  EXPECT_FALSE(row.ratio().has_value());
}

TEST(RowTest, VerdictsFollowTheTargetKind) {
  Row qps{.value = 41000, .baseline = 50000, .target = {TargetKind::kRatioAtLeast, 0.8}};
  EXPECT_EQ(qps.met(), true);
  qps.value = 39000;
  EXPECT_EQ(qps.met(), false);

  Row p99{.value = 7e-3, .baseline = 4e-3, .target = {TargetKind::kRatioAtMost, 1.5}};
  EXPECT_EQ(p99.met(), false);
  p99.value = 6e-3;
  EXPECT_EQ(p99.met(), true);

  Row p50{.value = 240e-6, .baseline = 150e-6, .target = {TargetKind::kAtMostBaselinePlus, 100e-6}};
  EXPECT_EQ(p50.met(), true);
  p50.value = 260e-6;
  EXPECT_EQ(p50.met(), false);

  Row below{.value = 0.5, .target = {TargetKind::kValueBelow, 0.5}};
  EXPECT_EQ(below.met(), false);
  below.value = 0.49;
  EXPECT_EQ(below.met(), true);

  Row equals{.value = 1, .target = {TargetKind::kValueEquals, 0}};
  EXPECT_EQ(equals.met(), false);

  Row same{.value = 7, .baseline = 7, .target = {TargetKind::kEqualsBaseline, 0}};
  EXPECT_EQ(same.met(), true);
  same.baseline = 8;
  EXPECT_EQ(same.met(), false);

  Row none{.value = 1, .baseline = 2};
  EXPECT_FALSE(none.met().has_value());
  Row no_baseline{.value = 1, .target = {TargetKind::kRatioAtMost, 1.2}};
  EXPECT_FALSE(no_baseline.met().has_value());
}

TEST(RenderMarkdownTest, HasOneLinePerRowWithVerdicts) {
  std::vector<Row> rows = {
      {.scenario = "cached_read", .label = "b. read QPS @32", .unit = Unit::kPerSecond,
       .value = 30000, .baseline = 50000, .baseline_label = "Empty @32",
       .target = {TargetKind::kRatioAtLeast, 0.8}},
      {.scenario = "rebuild", .label = "f. rebuild", .unit = Unit::kSeconds, .value = 0.2,
       .target = {TargetKind::kValueBelow, 0.5}, .note = "server-side 0.18 s"},
      {.scenario = "load", .label = "load | pipes", .unit = Unit::kCount, .value = 3},
  };
  const std::string table = RenderMarkdown(rows, /*smoke=*/false);
  EXPECT_THAT(table, HasSubstr("| scenario | value | baseline | ratio | target | met |"));
  EXPECT_THAT(table,
              HasSubstr("| b. read QPS @32 | 30,000/s | 50,000/s (Empty @32) | 0.60x | >= 0.8x "
                        "| **no** |"));
  EXPECT_THAT(table, HasSubstr("| f. rebuild [1] | 200 ms | - | - | < 500 ms | yes |"));
  EXPECT_THAT(table, HasSubstr("| load \\| pipes | 3 | - | - |  | - |"));
  EXPECT_THAT(table, HasSubstr("[1] server-side 0.18 s"));

  const std::string smoke = RenderMarkdown(rows, /*smoke=*/true);
  EXPECT_THAT(smoke, HasSubstr("| >= 0.8x | smoke |"));
  EXPECT_THAT(smoke, Not(HasSubstr("**no**")));
  EXPECT_THAT(smoke, Not(HasSubstr("| yes |")));
}

TEST(RenderJsonTest, WritesNumbersNullsAndEscapedStrings) {
  std::vector<Row> rows = {
      {.scenario = "memory", .label = "h. \"RSS\"", .unit = Unit::kBytes, .value = 1048576,
       .target = {TargetKind::kValueBelow, 2097152}},
  };
  const std::string json = RenderJson(rows, /*smoke=*/false, {{"cpu", "x\ty"}});
  EXPECT_THAT(json, HasSubstr("\"cpu\": \"x\\ty\""));
  EXPECT_THAT(json, HasSubstr("\"label\": \"h. \\\"RSS\\\"\""));
  EXPECT_THAT(json, HasSubstr("\"value\": 1048576"));
  EXPECT_THAT(json, HasSubstr("\"baseline\": null"));
  EXPECT_THAT(json, HasSubstr("\"met\": true"));
  EXPECT_THAT(RenderJson(rows, /*smoke=*/true, {}), HasSubstr("\"met\": null"));
}

TEST(AllScenariosTest, ListsTheIssueScenarios) {
  const std::vector<std::string>& all = AllScenarios();
  EXPECT_EQ(all.size(), 10u);
  for (const char* s : {"baseline", "cached_read", "check_in", "check_in_scale", "tree", "rebuild",
                        "reminders", "memory", "start"}) {
    EXPECT_NE(std::find(all.begin(), all.end(), s), all.end()) << s;
  }
}

}  // namespace
}  // namespace okr::bench
