#include "tests/bench/load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/time/time.h"

namespace okr::bench {
namespace {

// The exact nearest-rank percentile of `values` (sorted in place).
int64_t ExactPercentileNanos(std::vector<int64_t>& values, double percent) {
  std::sort(values.begin(), values.end());
  const auto rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size()))));
  return values[static_cast<size_t>(rank - 1)];
}

void ExpectWithinOnePercent(absl::Duration actual, int64_t expected_nanos, double percent) {
  const double actual_nanos = absl::ToDoubleNanoseconds(actual);
  EXPECT_NEAR(actual_nanos, static_cast<double>(expected_nanos),
              0.01 * static_cast<double>(expected_nanos))
      << "percentile " << percent;
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  const LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0);
  EXPECT_EQ(histogram.Percentile(50), absl::ZeroDuration());
  EXPECT_EQ(histogram.Percentile(100), absl::ZeroDuration());
  EXPECT_EQ(histogram.Mean(), absl::ZeroDuration());
  EXPECT_EQ(histogram.Max(), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, UniformMicrosecondsWithinOnePercent) {
  LatencyHistogram histogram;
  std::vector<int64_t> values;
  // 1 us .. 20 ms in steps of 1 us, shuffled so that order cannot matter.
  for (int64_t us = 1; us <= 20'000; ++us) values.push_back(us * 1000);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(7));
  for (int64_t nanos : values) histogram.Record(absl::Nanoseconds(nanos));
  ASSERT_EQ(histogram.count(), 20'000);
  for (double percent : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
    ExpectWithinOnePercent(histogram.Percentile(percent),
                           ExactPercentileNanos(values, percent), percent);
  }
  // The mean of 1..20000 us is 10000.5 us, exactly.
  EXPECT_EQ(histogram.Mean(), absl::Nanoseconds(10'000'500));
  EXPECT_EQ(histogram.Max(), absl::Milliseconds(20));
  EXPECT_EQ(histogram.Min(), absl::Microseconds(1));
  EXPECT_EQ(histogram.Percentile(0), absl::Microseconds(1));
  EXPECT_EQ(histogram.Percentile(100), absl::Milliseconds(20));
}

TEST(LatencyHistogramTest, LogNormalAcrossDecadesWithinOnePercent) {
  // A long-tailed latency distribution: median ~200 us, tail into seconds,
  // at nanosecond resolution (no value falls on a bucket boundary on purpose).
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> distribution(std::log(200'000.0), 1.5);
  LatencyHistogram histogram;
  std::vector<int64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const auto nanos = std::clamp<int64_t>(static_cast<int64_t>(distribution(random)), 1'000,
                                           100'000'000'000);
    values.push_back(nanos);
    histogram.Record(absl::Nanoseconds(nanos));
  }
  for (double percent : {0.1, 5.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    ExpectWithinOnePercent(histogram.Percentile(percent),
                           ExactPercentileNanos(values, percent), percent);
  }
  int64_t sum = 0;
  for (int64_t nanos : values) sum += nanos;
  EXPECT_EQ(histogram.Mean(), absl::Nanoseconds(sum) / static_cast<int64_t>(values.size()));
  EXPECT_EQ(histogram.Max(), absl::Nanoseconds(*std::max_element(values.begin(), values.end())));
}

TEST(LatencyHistogramTest, PercentilesAreMonotonic) {
  LatencyHistogram histogram;
  std::mt19937_64 random(3);
  std::exponential_distribution<double> distribution(1.0 / 500'000.0);
  for (int i = 0; i < 50'000; ++i) {
    histogram.Record(absl::Nanoseconds(static_cast<int64_t>(distribution(random))));
  }
  absl::Duration previous = histogram.Percentile(0);
  for (double percent = 0.5; percent <= 100; percent += 0.5) {
    const absl::Duration current = histogram.Percentile(percent);
    EXPECT_GE(current, previous) << "percentile " << percent;
    previous = current;
  }
  EXPECT_EQ(previous, histogram.Max());
}

TEST(LatencyHistogramTest, SingleValueIsExactAtEveryPercentile) {
  LatencyHistogram histogram;
  for (int i = 0; i < 10; ++i) histogram.Record(absl::Microseconds(1234));
  for (double percent : {0.0, 1.0, 50.0, 99.9, 100.0}) {
    EXPECT_EQ(histogram.Percentile(percent), absl::Microseconds(1234)) << percent;
  }
  EXPECT_EQ(histogram.Mean(), absl::Microseconds(1234));
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram all;
  LatencyHistogram fast;
  LatencyHistogram slow;
  std::mt19937_64 random(11);
  std::uniform_int_distribution<int64_t> fast_nanos(2'000, 90'000);
  std::uniform_int_distribution<int64_t> slow_nanos(1'000'000, 3'000'000'000);
  for (int i = 0; i < 30'000; ++i) {
    const absl::Duration value = absl::Nanoseconds(fast_nanos(random));
    fast.Record(value);
    all.Record(value);
  }
  for (int i = 0; i < 10'000; ++i) {
    const absl::Duration value = absl::Nanoseconds(slow_nanos(random));
    slow.Record(value);
    all.Record(value);
  }
  LatencyHistogram merged;
  merged.Merge(slow);  // the larger bucket vector first, then the smaller
  merged.Merge(fast);
  merged.Merge(LatencyHistogram());  // an empty one changes nothing
  EXPECT_EQ(merged.count(), 40'000);
  EXPECT_EQ(merged.Mean(), all.Mean());
  EXPECT_EQ(merged.Max(), all.Max());
  EXPECT_EQ(merged.Min(), all.Min());
  for (double percent : {0.0, 10.0, 50.0, 75.0, 76.0, 90.0, 99.0, 100.0}) {
    EXPECT_EQ(merged.Percentile(percent), all.Percentile(percent)) << percent;
  }
  // 3/4 of the calls were fast: p75 is below 90 us, p76 at least 1 ms.
  EXPECT_LE(merged.Percentile(75), absl::Microseconds(91));
  EXPECT_GE(merged.Percentile(76), absl::Milliseconds(1));
}

TEST(LatencyHistogramTest, OutOfRangeValuesClamp) {
  LatencyHistogram histogram;
  histogram.Record(absl::Nanoseconds(200));
  histogram.Record(-absl::Seconds(5));
  histogram.Record(absl::Minutes(10));
  histogram.Record(absl::InfiniteDuration());
  EXPECT_EQ(histogram.count(), 4);
  EXPECT_EQ(histogram.Min(), LatencyHistogram::kMin);
  EXPECT_EQ(histogram.Max(), LatencyHistogram::kMax);
  // Reported to within the bucket precision, like any other value.
  ExpectWithinOnePercent(histogram.Percentile(50), 1'000, 50);
  ExpectWithinOnePercent(histogram.Percentile(51), 100'000'000'000, 51);
  EXPECT_EQ(histogram.Mean(), (2 * LatencyHistogram::kMin + 2 * LatencyHistogram::kMax) / 4);
}

TEST(LatencyHistogramTest, PercentOutsideRangeIsClamped) {
  LatencyHistogram histogram;
  histogram.Record(absl::Microseconds(10));
  histogram.Record(absl::Microseconds(500));
  EXPECT_EQ(histogram.Percentile(-3), absl::Microseconds(10));
  EXPECT_EQ(histogram.Percentile(250), absl::Microseconds(500));
}

}  // namespace
}  // namespace okr::bench
