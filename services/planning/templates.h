// Example OKRs, by the 5 Ps (profit, product, people, promotion, progress)
// and by business function, written from the planning guide in the domain
// documents. They are data compiled into the service: the product reads
// nothing from the documents at run time.
#ifndef OKR_SERVICES_PLANNING_TEMPLATES_H_
#define OKR_SERVICES_PLANNING_TEMPLATES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/model.h"

namespace okr::planning {

struct KeyResultTemplate {
  std::string title;
  KeyResultType type = KeyResultType::kMetric;
  Measure measure = Measure::kKpi;
  std::optional<double> start_value;
  std::optional<double> target_value;
  std::string unit;
  Direction direction = Direction::kIncrease;
};

struct OkrTemplate {
  std::string id;  // stable slug, e.g. "profit-grow-revenue"
  Category category = Category::kNone;
  std::string function;  // e.g. "Sales", "Customer success"; may be empty
  Level level = Level::kCompany;
  ObjectiveKind kind = ObjectiveKind::kCommitted;
  std::string objective_title;
  std::string description;
  std::vector<KeyResultTemplate> key_results;
};

// Every template, ordered by id. Each one passes validation and lint's
// error-severity rules as a plan (tests/services/planning checks it).
absl::Span<const OkrTemplate> Templates();

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_TEMPLATES_H_
