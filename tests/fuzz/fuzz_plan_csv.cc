// libFuzzer target: the spreadsheet import. The first byte holds options
// (bit 0: dry run, bit 1: default cycle "FY2027-Q1"), the rest is the file.
// It is parsed and validated on its own (ParsePlanCsv) and then imported by
// the planning use-case into the bootstrapped retail organisation, the path
// ImportPlanCsv takes after the gRPC adapter.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/plan_csv.h"
#include "services/planning/planning.h"
#include "tests/fuzz/fuzz_stack.h"

namespace {
// A successful import adds up to kMaxCsvRows objects: reset often.
constexpr int kResetEvery = 500;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool dry_run = (data[0] & 1) != 0;
  const absl::string_view default_cycle = (data[0] & 2) != 0 ? "FY2027-Q1" : "";
  const absl::string_view csv(reinterpret_cast<const char*>(data + 1), size - 1);

  okr::PlanCsvOptions options;
  options.default_cycle = std::string(default_cycle);
  std::vector<okr::PlanCsvError> errors;
  (void)okr::ParsePlanCsv(csv, &errors, options);

  okr::fuzz::FuzzStack& stack =
      okr::fuzz::SharedStack(okr::fuzz::StackLevel::kPlanning, kResetEvery);
  (void)stack.planning().ImportPlanCsv(okr::fuzz::kFuzzOrganisation, csv, default_cycle,
                                       dry_run, {});
  return 0;
}
