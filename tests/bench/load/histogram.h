// A latency histogram for the benchmark harness: log-linear buckets (128 per
// power of two, so a bucket is at most 0.8% wide and a reported percentile,
// the bucket's midpoint, is within 0.4% of a recorded value) over 1 us to
// 100 s. Recording is an index computation and an increment; histograms kept
// per thread or per call slot are merged once at the end, so the load
// generator takes no lock per call.
//
// Values outside the range are clamped to it (a 200 ns call counts as 1 us,
// a 5 min one as 100 s), so that count() is always the number of Record()
// calls. Not thread-safe: one writer at a time.
#ifndef OKR_TESTS_BENCH_LOAD_HISTOGRAM_H_
#define OKR_TESTS_BENCH_LOAD_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace okr::bench {

class LatencyHistogram {
 public:
  // The recordable range; values outside it are clamped.
  static constexpr absl::Duration kMin = absl::Microseconds(1);
  static constexpr absl::Duration kMax = absl::Seconds(100);

  // Adds one observation (clamped to [kMin, kMax]).
  void Record(absl::Duration latency);

  // Adds every observation of `other` to this histogram.
  void Merge(const LatencyHistogram& other);

  // Observations recorded.
  int64_t count() const { return count_; }

  // The smallest value v such that at least `percent` % of the observations
  // are <= v, to within the bucket precision (exact for 0 and 100, which are
  // the smallest and largest value). `percent` is clamped to [0, 100]. Zero
  // when the histogram is empty.
  absl::Duration Percentile(double percent) const;

  // Mean of the (clamped) observations, exact; zero when empty.
  absl::Duration Mean() const;
  // Largest / smallest (clamped) observation, exact; zero when empty.
  absl::Duration Max() const;
  absl::Duration Min() const;

 private:
  // Nanoseconds stored in a bucket index's range, and the reverse.
  static int BucketOf(int64_t nanos);
  static int64_t BucketMidpoint(int bucket);

  // Grown on demand up to the largest bucket used, so that a histogram of
  // sub-millisecond calls stays a few KB.
  std::vector<uint64_t> counts_;
  int64_t count_ = 0;
  // Sums of nanoseconds; 100 s * 2^63 / 1e11 allows ~9e7 maximal calls,
  // far more than a benchmark run makes.
  int64_t sum_nanos_ = 0;
  int64_t min_nanos_ = 0;
  int64_t max_nanos_ = 0;
};

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_LOAD_HISTOGRAM_H_
