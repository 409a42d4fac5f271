// The organisation generator (org_generator.h). A retail company laid out in
// blocks: person 0 is the CEO; then each department is one head plus up to 8
// teams of 8 (a lead and 7 members), people numbered in that order. Quarter
// objectives are handed out in the same order (CEO, head, lead, members), so
// trimming to the requested count drops whole tails and a member's objective
// never exists without its lead's. Everything random comes from one
// splitmix64 stream seeded by the spec, so the plan is a pure function of the
// spec and the day of generation.
#include "tests/bench/org/org_generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"

namespace okr::bench {
namespace {

constexpr int kTeamSize = 8;  // a lead and 7 members
constexpr int kTeamsPerDepartment = 8;
constexpr int kDepartmentBlock = 1 + kTeamSize * kTeamsPerDepartment;
// Planning's limits (services/planning): live objectives per owner and cycle,
// key results per objective.
constexpr int kMaxObjectivesPerOwner = 20;
constexpr int kMaxKeyResultsPerObjective = 20;
constexpr int kCompanyAnnualObjectives = 3;
constexpr int kHeadQuarterObjectives = 2;
constexpr char kTimeZone[] = "America/New_York";
constexpr int kFiscalYearStartMonth = 2;  // the retail convention

// splitmix64: tiny, fast, and the same on every platform (unlike the
// standard distributions, whose algorithms are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0.
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Below(static_cast<int>(N)))];
  }

 private:
  uint64_t state_;
};

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double Round1(double x) { return std::round(x * 10) / 10; }

std::string WithUnit(double v, absl::string_view unit) {
  if (unit.empty()) return absl::StrCat(v);
  if (unit == "%") return absl::StrCat(v, "%");
  return absl::StrCat(v, " ", unit);
}

constexpr std::array<absl::string_view, 24> kFirstNames = {
    "Ava",   "Liam",  "Noah",  "Emma",   "Mia",    "Lucas", "Sofia",  "Mateo",
    "Amara", "Kenji", "Priya", "Jonas",  "Chloe",  "Omar",  "Elena",  "Tariq",
    "Grace", "Diego", "Hana",  "Samuel", "Fatima", "Leo",   "Ingrid", "Nick"};
constexpr std::array<absl::string_view, 24> kLastNames = {
    "Garcia", "Smith",  "Nguyen", "Okafor", "Muller", "Rossi",  "Tanaka", "Silva",
    "Khan",   "Larsen", "Dubois", "Cohen",  "Patel",  "Novak",  "Lopez",  "Brown",
    "Kim",    "Ahmed",  "Walsh",  "Moreau", "Berg",   "Costa",  "Ivanov", "Reyes"};

struct Function {
  absl::string_view name;
  std::array<absl::string_view, 3> objectives;
};

constexpr std::array<Function, 12> kFunctions = {{
    {"Store Operations",
     {"Make every store visit effortless", "Raise in-store conversion in our flagship stores",
      "Run leaner, safer store operations"}},
    {"E-commerce",
     {"Make mobile checkout the fastest in retail", "Grow online revenue profitably",
      "Turn browsers into repeat buyers"}},
    {"Merchandising",
     {"Have the right product on the right shelf", "Sharpen our private-label assortment",
      "Price to win without giving away margin"}},
    {"Supply Chain",
     {"Never run out of our best sellers", "Ship faster at lower cost",
      "Make returns painless for customers and stores"}},
    {"Marketing",
     {"Promote the right products to the right people at the right time",
      "Grow brand awareness in new markets", "Make every campaign pay for itself"}},
    {"Customer Success",
     {"Delight customers so they stay and grow with us", "Answer every customer faster",
      "Turn support insights into product fixes"}},
    {"Sales",
     {"Improve the business ability of the sales team",
      "Build benchmark customers in five industries",
      "Significantly improve the performance of the sales department"}},
    {"People",
     {"Hire and keep outstanding people", "Make onboarding the best week of a new hire's year",
      "Grow leaders from within"}},
    {"Finance",
     {"Give every team a clear view of its numbers", "Close the books faster",
      "Fund growth without surprises"}},
    {"IT",
     {"Keep every till and site up when customers need it", "Modernise store systems",
      "Make security everyone's habit"}},
    {"Data and Analytics",
     {"Turn data into better decisions everywhere", "Give merchants self-serve insights",
      "Build one trusted view of the customer"}},
    {"Loyalty",
     {"Make our loyalty programme irresistible", "Reward our best customers",
      "Grow member engagement"}},
}};

constexpr std::array<absl::string_view, 8> kTeamFlavours = {
    "North Region", "South Region", "Flagship Stores", "Online",
    "Enterprise",   "Small Business", "Onboarding",    "Insights"};

constexpr std::array<absl::string_view, 5> kCompanyAnnualTitles = {
    "Become the most loved omnichannel retailer in our markets",
    "Grow profitable revenue across every channel",
    "Build a team where great people do their best work",
    "Make our supply chain faster, leaner and greener",
    "Turn data into better decisions everywhere"};
constexpr std::array<absl::string_view, 5> kCompanyQuarterTitles = {
    "Win back lapsed customers with a seamless shopping experience",
    "Deliver a record season online and in store",
    "Lift margin through smarter pricing and promotions",
    "Make every store visit effortless",
    "Double the engagement of our loyalty members"};
constexpr std::array<absl::string_view, 4> kTeamTitles = {
    "Lift the results of ", "Make a model team of ", "Remove the biggest blockers of ",
    "Deliver the quarter's plan in "};
constexpr std::array<absl::string_view, 6> kIndividualTitles = {
    "Grow my skills in ", "Own ", "Deliver ", "Become the go-to expert for ",
    "Automate the busywork in ", "Coach the team on "};
constexpr std::array<absl::string_view, 12> kAreas = {
    "customer onboarding",   "weekly sales reporting", "the holiday campaign",
    "store replenishment",   "the returns process",    "negotiation and pricing",
    "the loyalty app launch", "vendor scorecards",     "checkout performance",
    "inventory accuracy",    "ticket triage",          "the new POS roll-out"};

struct MetricTemplate {
  absl::string_view title;  // "<title> from X to Y" or "<title> X" (thresholds)
  Direction direction;
  double base_low, base_high;      // start value
  double change_low, change_high;  // relative change (thresholds: margin)
  absl::string_view unit;
  absl::string_view integration;
};

constexpr std::array<MetricTemplate, 17> kMetrics = {{
    {"Increase online conversion rate", Direction::kIncrease, 1.5, 3.0, 0.1, 0.4, "%",
     "analytics.conversion_rate"},
    {"Grow active loyalty members", Direction::kIncrease, 20000, 80000, 0.1, 0.3, "members",
     "crm.loyalty_active"},
    {"Raise Net Promoter Score", Direction::kIncrease, 20, 45, 0.15, 0.4, "points",
     "survey.nps"},
    {"Grow average basket size", Direction::kIncrease, 35, 60, 0.05, 0.15, "USD",
     "pos.average_basket"},
    {"Increase repeat purchase rate", Direction::kIncrease, 20, 35, 0.1, 0.25, "%",
     "crm.repeat_rate"},
    {"Grow quarterly revenue", Direction::kIncrease, 500, 5000, 0.08, 0.2, "kUSD",
     "finance.revenue"},
    {"Increase qualified pipeline", Direction::kIncrease, 200, 900, 0.2, 0.5, "kUSD",
     "crm.pipeline"},
    {"Raise employee engagement score", Direction::kIncrease, 60, 75, 0.05, 0.12, "points",
     "hris.engagement"},
    {"Cut average first response time", Direction::kDecrease, 12, 30, 0.3, 0.6, "hours",
     "helpdesk.first_response"},
    {"Reduce stock-out rate", Direction::kDecrease, 4, 9, 0.2, 0.5, "%", "wms.stockouts"},
    {"Lower cost per order shipped", Direction::kDecrease, 6, 12, 0.1, 0.25, "USD",
     "wms.cost_per_order"},
    {"Reduce voluntary attrition", Direction::kDecrease, 12, 22, 0.15, 0.35, "%",
     "hris.attrition"},
    {"Cut order-to-delivery time", Direction::kDecrease, 3, 7, 0.2, 0.4, "days",
     "wms.delivery_time"},
    {"Keep customer satisfaction at or above", Direction::kAtLeast, 85, 92, 0.01, 0.05, "%",
     "survey.csat"},
    {"Maintain on-shelf availability at or above", Direction::kAtLeast, 95, 98, 0.01, 0.02,
     "%", "wms.availability"},
    {"Keep checkout error rate at or below", Direction::kAtMost, 0.5, 2, 0.1, 0.3, "%",
     "pos.checkout_errors"},
    {"Keep returns processing at or below", Direction::kAtMost, 3, 5, 0.1, 0.3, "days",
     "wms.returns_days"},
}};

constexpr std::array<absl::string_view, 6> kPercentComplete = {
    "Roll out self-checkout to every store", "Migrate the product catalogue to the new PIM",
    "Complete sales-methodology training for the whole team",
    "Move customer tickets to the new help desk", "Digitise the store opening checklist",
    "Label every warehouse bin for scan-based picking"};
constexpr std::array<absl::string_view, 8> kMilestones = {
    "Launch the click-and-collect pilot in 5 stores",
    "Publish the returns policy playbook",
    "Sign 10 benchmark customers in key industries",
    "Establish a baseline for customer effort score",
    "Ship the new mobile checkout",
    "Hire a head of data engineering",
    "Run the first quarterly business review with every key account",
    "Agree service levels with our top 20 suppliers"};

enum class Role { kCeo, kHead, kLead, kMember };

// Who is who in an organisation of `people` people (see the file comment).
struct Shape {
  int people = 0;
  int departments = 0;
  std::vector<Role> role;
  std::vector<int> department;  // -1 for the CEO
  std::vector<int> team;        // index into Plan::teams of the person's own team
  std::vector<int> department_team;
  std::vector<std::vector<int>> department_subteams;
};

int Departments(int people) { return (people - 1 + kDepartmentBlock - 1) / kDepartmentBlock; }

int CompanyQuarterObjectives(int objectives) { return std::clamp(objectives / 50, 1, 5); }

// Picks a weight the way planners do: mostly 1, sometimes double or half.
double PickWeight(Rng& rng) {
  const double u = rng.Unit();
  return u < 0.8 ? 1.0 : (u < 0.9 ? 2.0 : 0.5);
}

KeyResult MakeKeyResult(Rng& rng, const std::string& objective_ref, int objective_index,
                        int k, absl::string_view department_name) {
  KeyResult kr;
  kr.id = absl::StrCat("kr-", objective_index, "-", k);
  kr.objective_id = objective_ref;
  kr.weight = PickWeight(rng);
  const double u = rng.Unit();
  if (u < 0.15) {
    kr.type = KeyResultType::kMilestone;
    kr.title = std::string(rng.Pick(kMilestones));
  } else if (u < 0.30) {
    kr.type = KeyResultType::kMetric;
    kr.measure = Measure::kPercentComplete;
    kr.title = std::string(rng.Pick(kPercentComplete));
    kr.from = 0;
    kr.to = 100;
    kr.unit = "%";
    kr.direction = Direction::kIncrease;
  } else {
    // Thresholds are rarer than moves: skip to them only one time in four.
    const MetricTemplate* t = &kMetrics[static_cast<size_t>(rng.Below(13))];
    if (rng.Chance(0.25)) t = &kMetrics[static_cast<size_t>(13 + rng.Below(4))];
    kr.type = KeyResultType::kMetric;
    kr.measure = Measure::kKpi;
    kr.unit = std::string(t->unit);
    kr.direction = t->direction;
    const double base = t->base_low + (t->base_high - t->base_low) * rng.Unit();
    const double change = t->change_low + (t->change_high - t->change_low) * rng.Unit();
    kr.from = base >= 100 ? std::round(base) : Round1(base);
    switch (t->direction) {
      case Direction::kIncrease:
        kr.to = base >= 100 ? std::round(base * (1 + change)) : Round1(base * (1 + change));
        if (kr.to <= kr.from) kr.to = kr.from + 1;
        kr.title = absl::StrCat(t->title, " from ", WithUnit(kr.from, kr.unit), " to ",
                                WithUnit(kr.to, kr.unit));
        break;
      case Direction::kDecrease:
        kr.to = base >= 100 ? std::round(base * (1 - change)) : Round1(base * (1 - change));
        if (kr.to >= kr.from) kr.to = kr.from - 1;
        kr.title = absl::StrCat(t->title, " from ", WithUnit(kr.from, kr.unit), " to ",
                                WithUnit(kr.to, kr.unit));
        break;
      case Direction::kAtLeast:
        kr.to = Round1(base * (1 - change));
        kr.title = absl::StrCat(t->title, " ", WithUnit(kr.to, kr.unit));
        break;
      default:  // kAtMost
        kr.to = Round1(base * (1 + change));
        kr.title = absl::StrCat(t->title, " ", WithUnit(kr.to, kr.unit));
        break;
    }
    if (rng.Chance(0.3)) {
      kr.data_source = DataSource::kIntegration;
      kr.data_source_ref = std::string(t->integration);
    }
  }
  if (kr.data_source == DataSource::kUnknown) {
    const double s = rng.Unit();
    if (s < 0.5) {
      kr.data_source = DataSource::kManual;
    } else if (s < 0.8) {
      kr.data_source = DataSource::kSpreadsheet;
      kr.data_source_ref = absl::StrCat(department_name, " OKR tracker");
    }
  }
  return kr;
}

}  // namespace

okr::Plan GenerateOrg(const OrgSpec& spec) {
  Rng rng(spec.seed);
  const int n = std::max(0, spec.objectives);
  const int krs_per_objective =
      std::clamp(spec.key_results_per_objective, 0, kMaxKeyResultsPerObjective);
  const int max_depth = std::max(1, spec.max_depth);
  const int company_quarter = CompanyQuarterObjectives(n);

  // --- people and structure -------------------------------------------------
  int people = spec.people;
  if (people <= 0) {
    // One quarter objective each: n = (people - 1) + company_quarter + departments.
    people = std::max(1, n);
    for (int i = 0; i < 4; ++i) {
      people = std::max(1, n + 1 - company_quarter - Departments(people));
    }
  }
  // Nobody may own more than kMaxObjectivesPerOwner objectives of a cycle.
  people = std::max(people, (n + kMaxObjectivesPerOwner - 1) / kMaxObjectivesPerOwner);

  Plan plan;
  Organisation& org = plan.organisation;
  org.id = absl::StrCat("org-bench-", spec.seed);
  org.name = "Northwind Retail";
  org.fiscal_year_start_month = kFiscalYearStartMonth;
  org.time_zone = kTimeZone;
  org.mission = "Make great everyday products easy to find, buy and love, in store and online.";
  org.vision = "The most loved omnichannel retailer in every market we serve.";
  org.values = {"Customers first", "Own the outcome", "Keep it simple", "Win together"};
  org.planning_profile = people > 1000 ? PlanningProfile::kEnterprise : PlanningProfile::kSmall;

  // --- the calendar: the fiscal year and quarter of today -------------------
  const absl::TimeZone zone = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone(kTimeZone, &z)) z = absl::UTCTimeZone();
    return z;
  }();
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), zone);
  // The "as of" instant of the plan: check-ins are generated before it. A
  // whole day, so that plans generated on the same day are identical.
  org.create_time = StartOfDay(today, zone);
  org.update_time = org.create_time;
  const FiscalCalendar calendar = *FiscalCalendar::Create(kFiscalYearStartMonth);
  const FiscalPosition position = calendar.Locate(today);
  plan.cycles = FiscalYearCycles(calendar, position.year, org.id, /*include_months=*/false,
                                 [](const Cycle& c) {
                                   std::string id = absl::StrCat("cy-", c.name);
                                   for (char& ch : id) ch = absl::ascii_tolower(ch);
                                   return id;
                                 });
  const Id year_cycle = plan.cycles[0].id;
  const Id quarter_cycle = plan.cycles[static_cast<size_t>(position.quarter)].id;
  for (Cycle& c : plan.cycles) {
    if (c.id == year_cycle || c.id == quarter_cycle) c.state = CycleState::kActive;
  }

  Shape shape;
  shape.people = people;
  shape.departments = Departments(people);
  plan.teams.reserve(static_cast<size_t>(1 + shape.departments * (1 + kTeamsPerDepartment)));
  auto add_team = [&](std::string name, int parent) {
    Team t;
    t.id = absl::StrCat("t-", plan.teams.size());
    t.organisation_id = org.id;
    t.name = std::move(name);
    if (parent >= 0) t.parent_team_id = plan.teams[static_cast<size_t>(parent)].id;
    plan.teams.push_back(std::move(t));
    return static_cast<int>(plan.teams.size()) - 1;
  };
  const int executive_team = add_team("Executive Team", -1);
  std::vector<std::string> department_names;
  for (int d = 0; d < shape.departments; ++d) {
    std::string name(kFunctions[static_cast<size_t>(d) % kFunctions.size()].name);
    if (d >= static_cast<int>(kFunctions.size())) {
      absl::StrAppend(&name, " ", d / static_cast<int>(kFunctions.size()) + 1);
    }
    department_names.push_back(name);
    shape.department_team.push_back(add_team(name, -1));
    shape.department_subteams.emplace_back();
  }
  shape.role.resize(static_cast<size_t>(people));
  shape.department.resize(static_cast<size_t>(people), -1);
  shape.team.resize(static_cast<size_t>(people), executive_team);
  plan.people.reserve(static_cast<size_t>(people));
  for (int p = 0; p < people; ++p) {
    Role role = Role::kCeo;
    if (p > 0) {
      const int d = (p - 1) / kDepartmentBlock;
      const int r = (p - 1) % kDepartmentBlock;
      shape.department[static_cast<size_t>(p)] = d;
      if (r == 0) {
        role = Role::kHead;
        shape.team[static_cast<size_t>(p)] = shape.department_team[static_cast<size_t>(d)];
      } else {
        const int k = (r - 1) / kTeamSize;
        role = (r - 1) % kTeamSize == 0 ? Role::kLead : Role::kMember;
        auto& subteams = shape.department_subteams[static_cast<size_t>(d)];
        if (role == Role::kLead) {
          subteams.push_back(add_team(
              absl::StrCat(department_names[static_cast<size_t>(d)], " - ",
                           kTeamFlavours[static_cast<size_t>(k)]),
              shape.department_team[static_cast<size_t>(d)]));
        }
        shape.team[static_cast<size_t>(p)] = subteams.back();
      }
    }
    shape.role[static_cast<size_t>(p)] = role;
    Person person;
    person.id = absl::StrCat("p-", p);
    person.organisation_id = org.id;
    const absl::string_view first = rng.Pick(kFirstNames);
    const absl::string_view last = rng.Pick(kLastNames);
    person.display_name = absl::StrCat(first, " ", last);
    person.email = absl::StrCat(absl::AsciiStrToLower(first), ".", absl::AsciiStrToLower(last),
                                ".", p, "@northwind-retail.example");
    if (role == Role::kHead) person.team_ids.push_back(plan.teams[executive_team].id);
    person.team_ids.push_back(plan.teams[static_cast<size_t>(shape.team[static_cast<size_t>(p)])].id);
    plan.people.push_back(std::move(person));
  }

  // --- how many quarter objectives each person owns -------------------------
  std::vector<int> count(static_cast<size_t>(people), 0);
  int64_t total = 0;
  for (int p = 0; p < people; ++p) {
    const Role role = shape.role[static_cast<size_t>(p)];
    count[static_cast<size_t>(p)] = role == Role::kCeo    ? company_quarter
                                    : role == Role::kHead ? kHeadQuarterObjectives
                                                          : 1;
    total += count[static_cast<size_t>(p)];
  }
  for (int p = people - 1; p >= 0 && total > n; --p) {
    const int drop = static_cast<int>(std::min<int64_t>(total - n, count[static_cast<size_t>(p)]));
    count[static_cast<size_t>(p)] -= drop;
    total -= drop;
  }
  // Too few people for one each: members take more first, then everyone.
  for (bool members_only : {true, false}) {
    bool added = true;
    while (total < n && added) {
      added = false;
      for (int p = 0; p < people && total < n; ++p) {
        if (members_only && shape.role[static_cast<size_t>(p)] != Role::kMember) continue;
        if (count[static_cast<size_t>(p)] >= kMaxObjectivesPerOwner) continue;
        ++count[static_cast<size_t>(p)];
        ++total;
        added = true;
      }
    }
  }

  // --- objectives and key results --------------------------------------------
  const size_t total_objectives =
      static_cast<size_t>(n + kCompanyAnnualObjectives + shape.departments);
  plan.objectives.reserve(total_objectives);
  plan.key_results.reserve(total_objectives * static_cast<size_t>(krs_per_objective));
  std::vector<int> depth;
  std::vector<int> parent;  // alignment parent objective index, -1 for a root
  depth.reserve(total_objectives);
  parent.reserve(total_objectives);

  // Adds an objective aligned to `natural_parent` (or one of its key results
  // when `duality`), moved up the chain while it would exceed max_depth.
  auto add_objective = [&](std::string title, Level level, int owner, int team,
                           const Id& cycle, int priority, int natural_parent, bool duality,
                           absl::string_view department_name) {
    const int index = static_cast<int>(plan.objectives.size());
    Objective o;
    o.id = absl::StrCat("o-", index);
    o.organisation_id = org.id;
    o.title = std::move(title);
    o.level = level;
    o.owner_id = plan.people[static_cast<size_t>(owner)].id;
    o.team_id = plan.teams[static_cast<size_t>(team)].id;
    o.cycle_id = cycle;
    o.kind = rng.Chance(level == Level::kIndividual ? 0.3 : 0.5) ? ObjectiveKind::kCommitted
                                                                 : ObjectiveKind::kAspirational;
    o.category = static_cast<Category>(rng.Below(6));
    o.priority = priority;
    o.state = ObjectiveState::kPublished;
    if (rng.Chance(0.4)) {
      o.description = absl::StrCat("Why it matters: ", department_name,
                                   " commits to this for ", cycle == year_cycle ? "the year" : "the quarter",
                                   ". Owner checks in weekly.");
    }
    int p = natural_parent;
    while (p >= 0 && depth[static_cast<size_t>(p)] >= max_depth) {
      p = parent[static_cast<size_t>(p)];
      duality = false;
    }
    if (p >= 0) {
      const Objective& po = plan.objectives[static_cast<size_t>(p)];
      o.alignment.weight = PickWeight(rng);
      if (duality && krs_per_objective > 0) {
        o.alignment.kind = AlignmentKind::kKeyResult;
        o.alignment.parent_objective_id = po.id;
        o.alignment.parent_key_result_id =
            absl::StrCat("kr-", p, "-", 1 + rng.Below(krs_per_objective));
      } else {
        o.alignment.kind = AlignmentKind::kObjective;
        o.alignment.parent_objective_id = po.id;
      }
    }
    depth.push_back(p >= 0 ? depth[static_cast<size_t>(p)] + 1 : 1);
    parent.push_back(p);
    // Titles are unique within an objective: the loader tells an
    // objective's key results apart by title.
    const size_t first_kr = plan.key_results.size();
    for (int k = 1; k <= krs_per_objective; ++k) {
      KeyResult kr = MakeKeyResult(rng, o.id, index, k, department_name);
      kr.organisation_id = org.id;
      for (size_t j = first_kr; j < plan.key_results.size(); ++j) {
        if (plan.key_results[j].title == kr.title) {
          absl::StrAppend(&kr.title, " (part ", k, ")");
          break;
        }
      }
      plan.key_results.push_back(std::move(kr));
    }
    plan.objectives.push_back(std::move(o));
    return index;
  };

  // Company: annual roots, then the quarter's objectives under them.
  std::vector<int> company_annual, company_quarter_objectives;
  for (int i = 0; i < kCompanyAnnualObjectives; ++i) {
    company_annual.push_back(add_objective(std::string(kCompanyAnnualTitles[static_cast<size_t>(i)]),
                                           Level::kCompany, 0, executive_team, year_cycle, i + 1,
                                           -1, false, "The company"));
  }
  for (int i = 0; i < count[0]; ++i) {
    company_quarter_objectives.push_back(add_objective(
        i < static_cast<int>(kCompanyQuarterTitles.size())
            ? std::string(kCompanyQuarterTitles[static_cast<size_t>(i)])
            : absl::StrCat(kCompanyQuarterTitles[static_cast<size_t>(i) % kCompanyQuarterTitles.size()],
                           " (stream ", i + 1, ")"),
        Level::kCompany, 0, executive_team, quarter_cycle, i + 1,
        company_annual[static_cast<size_t>(i % kCompanyAnnualObjectives)], rng.Chance(0.5),
        "The company"));
  }

  // Departments, each a contiguous run of objectives (the loader imports
  // whole departments per CSV chunk; only the department's annual objective
  // links out, to a company one).
  int p = 1;
  for (int d = 0; d < shape.departments; ++d) {
    const Function& function = kFunctions[static_cast<size_t>(d) % kFunctions.size()];
    const std::string& dept_name = department_names[static_cast<size_t>(d)];
    const int dept_team = shape.department_team[static_cast<size_t>(d)];
    const int head = p++;
    const int dept_annual = add_objective(
        absl::StrCat(function.objectives[0], " this year"), Level::kTeam, head, dept_team,
        year_cycle, 1, company_annual[static_cast<size_t>(d % kCompanyAnnualObjectives)], false,
        dept_name);
    std::vector<int> dept_quarter;
    // Under the department's annual objective rather than a company quarter
    // objective: a link out of the department is an AlignObjective call for
    // the loader, and planning checks each against the whole organisation.
    for (int i = 0; i < count[static_cast<size_t>(head)]; ++i) {
      dept_quarter.push_back(add_objective(
          std::string(function.objectives[static_cast<size_t>(i) % function.objectives.size()]),
          Level::kTeam, head, dept_team, quarter_cycle, i + 1, dept_annual, rng.Chance(0.5),
          dept_name));
    }
    const auto& subteams = shape.department_subteams[static_cast<size_t>(d)];
    for (size_t t = 0; t < subteams.size(); ++t) {
      const int team = subteams[t];
      const std::string& team_name = plan.teams[static_cast<size_t>(team)].name;
      const int lead = p++;
      std::vector<int> lead_objectives;
      for (int i = 0; i < count[static_cast<size_t>(lead)]; ++i) {
        const int natural = dept_quarter.empty()
                                ? dept_annual
                                : dept_quarter[(t + static_cast<size_t>(i)) % dept_quarter.size()];
        lead_objectives.push_back(add_objective(
            absl::StrCat(rng.Pick(kTeamTitles), kTeamFlavours[t % kTeamFlavours.size()]),
            Level::kTeam, lead, team, quarter_cycle, i + 1, natural,
            !dept_quarter.empty() && rng.Chance(0.4), team_name));
      }
      // Members: the first two are seniors whose objectives others align to.
      std::vector<int> seniors;
      for (int m = 1; m < kTeamSize && p < people && shape.role[static_cast<size_t>(p)] == Role::kMember;
           ++m) {
        const int member = p++;
        for (int i = 0; i < count[static_cast<size_t>(member)]; ++i) {
          int natural = lead_objectives.empty()
                            ? (dept_quarter.empty() ? dept_annual : dept_quarter[0])
                            : lead_objectives[static_cast<size_t>(i) % lead_objectives.size()];
          bool duality = !lead_objectives.empty() && rng.Chance(0.4);
          if (m > 2 && !seniors.empty() && rng.Chance(0.3)) {
            natural = seniors[static_cast<size_t>(rng.Below(static_cast<int>(seniors.size())))];
            duality = false;
          }
          if (rng.Chance(0.03)) natural = -1;  // a personal objective, aligned to nothing
          const int index = add_objective(
              absl::StrCat(rng.Pick(kIndividualTitles), rng.Pick(kAreas)), Level::kIndividual,
              member, team, quarter_cycle, i + 1, natural, duality, team_name);
          if (m <= 2 && i == 0) seniors.push_back(index);
        }
      }
    }
  }

  // Progress sources and Duality KRs, now that every link is known.
  std::vector<char> has_classic_child(plan.objectives.size(), 0);
  std::vector<char> kr_has_child(plan.key_results.size(), 0);
  for (const Objective& o : plan.objectives) {
    if (o.alignment.kind == AlignmentKind::kObjective) {
      int index = 0;
      absl::SimpleAtoi(absl::string_view(o.alignment.parent_objective_id).substr(2), &index);
      has_classic_child[static_cast<size_t>(index)] = 1;
    } else if (o.alignment.kind == AlignmentKind::kKeyResult) {
      // "kr-<objective>-<k>": KRs are laid out krs_per_objective per objective.
      int index = 0, k = 0;
      const absl::string_view ref = o.alignment.parent_key_result_id;
      const size_t dash = ref.rfind('-');
      absl::SimpleAtoi(ref.substr(3, dash - 3), &index);
      absl::SimpleAtoi(ref.substr(dash + 1), &k);
      const size_t kr_index = static_cast<size_t>(index * krs_per_objective + k - 1);
      if (!kr_has_child[kr_index]) {
        kr_has_child[kr_index] = 1;
        plan.key_results[kr_index].progress_from_children = rng.Chance(0.7);
      }
    }
  }
  for (size_t i = 0; i < plan.objectives.size(); ++i) {
    if (!has_classic_child[i]) continue;
    const double u = rng.Unit();
    plan.objectives[i].progress_source = u < 0.5    ? ProgressSource::kBoth
                                         : u < 0.75 ? ProgressSource::kChildren
                                                    : ProgressSource::kKeyResults;
  }
  return plan;
}

okr::CheckIn GenerateCheckIn(const okr::Plan& plan, uint64_t index) {
  const uint64_t krs = plan.key_results.size();
  const KeyResult& kr = plan.key_results[index % krs];
  const uint64_t round = index / krs;
  const uint64_t h = Mix(index);
  const uint64_t kr_hash = Mix(index % krs + 0x51ED);

  CheckIn ci;
  ci.organisation_id = plan.organisation.id;
  ci.key_result_id = kr.id;
  ci.client_key = absl::StrCat("ci-", index);
  if (!kr.owner_id.empty()) {
    ci.author_id = kr.owner_id;
  } else {
    // "kr-<objective index>-<k>" and "o-<index>": no search needed.
    const absl::string_view ref = kr.id;
    int objective = 0;
    const size_t dash = ref.rfind('-');
    if (absl::SimpleAtoi(ref.substr(3, dash - 3), &objective) && objective >= 0 &&
        static_cast<size_t>(objective) < plan.objectives.size()) {
      ci.author_id = plan.objectives[static_cast<size_t>(objective)].owner_id;
    }
  }
  // Progress approaches 1 over the rounds, with some noise per check-in.
  const double noise = (static_cast<double>(h % 1000) / 1000.0 - 0.5) * 0.1;
  const double progress =
      std::clamp(1 - std::pow(0.8, static_cast<double>(round) + 1) + noise, 0.0, 1.0);
  if (kr.type == KeyResultType::kMilestone) {
    ci.done = round >= 1 + kr_hash % 4;
  } else {
    double value = kr.from + (kr.to - kr.from) * progress;
    if (kr.direction == Direction::kAtLeast || kr.direction == Direction::kAtMost) {
      // Thresholds hover around the line.
      value = kr.to * (1 + (static_cast<double>(h % 200) / 1000.0 - 0.1));
    }
    value = Round1(value);
    if (kr.measure == Measure::kPercentComplete) value = std::clamp(value, 0.0, 100.0);
    ci.value = value;
  }
  ci.confidence = static_cast<int>(3 + (h >> 20) % 8);
  if ((h >> 32) % 5 == 0) ci.note = "Weekly update: on it, see the team board.";

  // Inside the active quarter, before the plan's "as of" instant.
  absl::Time start = plan.organisation.create_time;
  for (const Cycle& c : plan.cycles) {
    if (c.kind == CycleKind::kQuarterly && c.state == CycleState::kActive) {
      absl::TimeZone zone;
      if (!absl::LoadTimeZone(plan.organisation.time_zone, &zone)) zone = absl::UTCTimeZone();
      start = StartOfDay(c.start, zone);
      break;
    }
  }
  const absl::Time end = plan.organisation.create_time;
  if (end > start) {
    const double u = static_cast<double>((h >> 8) % 1000) / 1000.0;
    const double fraction = 1 - std::pow(0.85, static_cast<double>(round) + 1 + u);
    ci.time = start + absl::Trunc((end - start) * fraction, absl::Seconds(1));
  } else {
    ci.time = start;
  }
  return ci;
}

}  // namespace okr::bench
