#include "tests/bench/load/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace okr::bench {
namespace {

// 2^kPrecisionBits buckets per power of two: values below that many
// nanoseconds get a bucket each, larger ones share a bucket with the values
// that agree on their kPrecisionBits + 1 leading bits.
constexpr int kPrecisionBits = 7;
constexpr int64_t kSubBuckets = int64_t{1} << kPrecisionBits;

// LatencyHistogram::kMin and kMax in nanoseconds.
constexpr int64_t kMinNanos = 1'000;
constexpr int64_t kMaxNanos = 100'000'000'000;

}  // namespace

int LatencyHistogram::BucketOf(int64_t nanos) {
  const auto value = static_cast<uint64_t>(nanos);
  const int top_bit = std::bit_width(value) - 1;
  if (top_bit < kPrecisionBits) return static_cast<int>(value);
  const int shift = top_bit - kPrecisionBits;
  // (value >> shift) is in [kSubBuckets, 2 * kSubBuckets).
  return static_cast<int>((shift + 1) * kSubBuckets + static_cast<int64_t>(value >> shift) -
                          kSubBuckets);
}

int64_t LatencyHistogram::BucketMidpoint(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = static_cast<int>(bucket / kSubBuckets) - 1;
  const int64_t leading = bucket % kSubBuckets + kSubBuckets;
  const int64_t lower = leading << shift;
  const int64_t width = int64_t{1} << shift;
  return lower + (width - 1) / 2;
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t nanos = std::clamp(absl::ToInt64Nanoseconds(latency), kMinNanos, kMaxNanos);
  const auto bucket = static_cast<size_t>(BucketOf(nanos));
  if (bucket >= counts_.size()) counts_.resize(bucket + 1, 0);
  ++counts_[bucket];
  if (count_ == 0 || nanos < min_nanos_) min_nanos_ = nanos;
  if (count_ == 0 || nanos > max_nanos_) max_nanos_ = nanos;
  ++count_;
  sum_nanos_ += nanos;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_nanos_ = count_ == 0 ? other.min_nanos_ : std::min(min_nanos_, other.min_nanos_);
  max_nanos_ = count_ == 0 ? other.max_nanos_ : std::max(max_nanos_, other.max_nanos_);
  count_ += other.count_;
  sum_nanos_ += other.sum_nanos_;
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return absl::ZeroDuration();
  if (!(percent > 0)) return absl::Nanoseconds(min_nanos_);  // also NaN
  if (percent >= 100) return absl::Nanoseconds(max_nanos_);
  // The rank (1-based) of the observation asked for.
  const auto rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t bucket = 0; bucket < counts_.size(); ++bucket) {
    seen += static_cast<int64_t>(counts_[bucket]);
    if (seen >= rank) {
      // The midpoint may lie outside what was recorded when the extreme
      // observations share a bucket with it.
      return absl::Nanoseconds(
          std::clamp(BucketMidpoint(static_cast<int>(bucket)), min_nanos_, max_nanos_));
    }
  }
  return absl::Nanoseconds(max_nanos_);
}

absl::Duration LatencyHistogram::Mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Nanoseconds(sum_nanos_) / count_;
}

absl::Duration LatencyHistogram::Max() const { return absl::Nanoseconds(max_nanos_); }

absl::Duration LatencyHistogram::Min() const { return absl::Nanoseconds(min_nanos_); }

}  // namespace okr::bench
