// The example OKRs of ListTemplates.
//
// Sources (/work/shared/domain): the planning guide's "5 Ps" (one objective
// per P: what the category is for, with key results in the guide's
// "verb + what you measure + from x to y" form, e.g. its own "Increase
// in-store pre-sale attendance from 350 to 500 people"), its annual company
// OKRs for the in-store sales function, its customer-success cascade in the
// Duality and the Classic method, and the annual-quarterly breakdown case of
// a sales department. The functions the guide only names (marketing,
// merchandising, supply chain, IT, store operations) get one template each,
// built from what the guide says about them. Start and target values follow
// the documents where they give them; elsewhere they are plausible figures
// (the same ones as in examples/), so every metric key result has a range
// that scores.
#include "services/planning/templates.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace okr::planning {
namespace {

// A metric key result with a KPI from `from` to `to`; its direction follows
// from the sign of to - from, as validation requires.
KeyResultTemplate Kpi(std::string title, double from, double to,
                      std::string unit) {
  KeyResultTemplate kr;
  kr.title = std::move(title);
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.start_value = from;
  kr.target_value = to;
  kr.unit = std::move(unit);
  kr.direction = to >= from ? Direction::kIncrease : Direction::kDecrease;
  return kr;
}

// A metric key result that holds a threshold ("maintain NPS above 8").
KeyResultTemplate Threshold(std::string title, double from, double to,
                            std::string unit, Direction direction) {
  KeyResultTemplate kr = Kpi(std::move(title), from, to, std::move(unit));
  kr.direction = direction;
  return kr;
}

// A metric key result measured as a percentage complete (0..100).
KeyResultTemplate Percent(std::string title, double from, double to,
                          std::string unit) {
  KeyResultTemplate kr = Kpi(std::move(title), from, to, std::move(unit));
  kr.measure = Measure::kPercentComplete;
  return kr;
}

// A binary key result: done or not; no measure, values or unit.
KeyResultTemplate Milestone(std::string title) {
  KeyResultTemplate kr;
  kr.title = std::move(title);
  kr.type = KeyResultType::kMilestone;
  kr.measure = Measure::kUnspecified;
  kr.direction = Direction::kUnspecified;
  return kr;
}

OkrTemplate Make(std::string id, Category category, std::string function,
                 Level level, ObjectiveKind kind, std::string title,
                 std::string description,
                 std::vector<KeyResultTemplate> key_results) {
  OkrTemplate t;
  t.id = std::move(id);
  t.category = category;
  t.function = std::move(function);
  t.level = level;
  t.kind = kind;
  t.objective_title = std::move(title);
  t.description = std::move(description);
  t.key_results = std::move(key_results);
  return t;
}

std::vector<OkrTemplate> BuildTemplates() {
  constexpr auto kCompany = Level::kCompany;
  constexpr auto kTeam = Level::kTeam;
  constexpr auto kIndividual = Level::kIndividual;
  constexpr auto kCommitted = ObjectiveKind::kCommitted;
  constexpr auto kAspirational = ObjectiveKind::kAspirational;
  std::vector<OkrTemplate> all;

  // --- The 5 Ps --------------------------------------------------------------
  all.push_back(Make(
      "profit-grow-profitable-revenue", Category::kProfit, "", kCompany,
      kCommitted, "Grow profitable omnichannel revenue",
      "Profit: how you make money. A financial objective is a good place to "
      "start; it often drives innovation, technology and customer-experience "
      "priorities.",
      {Kpi("Increase gross margin from 38% to 42%", 38, 42, "%"),
       Kpi("Grow click-and-collect revenue from $12M to $18M", 12000000,
           18000000, "USD"),
       Kpi("Reduce markdown spend from 9% to 6% of sales", 9, 6,
           "% of sales")}));
  all.push_back(Make(
      "product-private-label-reason-to-visit", Category::kProduct,
      "Merchandising", kCompany, kAspirational,
      "Make our private-label range a reason to visit",
      "Product or service: what you sell or do, and the programs and "
      "services around it.",
      {Kpi("Launch 40 new private-label products", 0, 40, "products"),
       Kpi("Raise private-label share of the average basket from 15% to 22%",
           15, 22, "% of basket"),
       Percent("Move 100% of private-label suppliers onto the sustainable "
               "sourcing standard",
               0, 100, "% of suppliers")}));
  all.push_back(Make(
      "people-best-place-to-work", Category::kPeople, "", kCompany, kCommitted,
      "Make our stores the best place to work in retail",
      "People: who your team is. Employees at HQ and in stores are your most "
      "valuable assets: hiring, engagement, culture and operations.",
      {Kpi("Increase store employee engagement score from 62 to 75", 62, 75,
           "points"),
       Kpi("Reduce store staff turnover from 45% to 30%", 45, 30, "% per year"),
       Kpi("Fill 90% of store manager openings with internal promotions", 60,
           90, "% internal fills")}));
  all.push_back(Make(
      "promotion-loyal-local-community", Category::kPromotion, "Marketing",
      kCompany, kCommitted, "Turn local shoppers into a loyal community",
      "Promotion: how you get the word out (marketing, advertising, "
      "branding, content, public relations) to acquire and retain "
      "customers.",
      {Kpi("Increase in-store pre-sale attendance from 350 to 500 people", 350,
           500, "people"),
       Kpi("Grow loyalty programme members from 1.2M to 1.5M", 1200000,
           1500000, "members"),
       Threshold("Maintain a social media sentiment score of at least 80", 76,
                 80, "score", Direction::kAtLeast)}));
  all.push_back(Make(
      "progress-same-day-delivery", Category::kProgress, "", kCompany,
      kAspirational, "Launch same-day delivery from every store",
      "Progress: the goal that will dramatically move the business forward.",
      {Percent("Roll out same-day delivery to 100% of stores", 0, 100,
               "% of stores"),
       Threshold("Cut average delivery time from 26 hours to under 6 hours",
                 26, 6, "hours", Direction::kAtMost),
       Milestone("Last-mile delivery partner contract signed")}));

  // --- In-store sales: the guide's annual company OKR examples ---------------
  const std::string kInStore = "In-store sales";
  all.push_back(Make(
      "in-store-sales-new-customers", Category::kProfit, kInStore, kCompany,
      kCommitted, "Drive sales contribution of new customers from 10% to 20%",
      "Annual company OKR for the in-store sales function.",
      {Kpi("Exclusive tie-up deals with 2 top brands to draw new footfalls to "
           "the store",
           0, 2, "deals"),
       Kpi("Become the anchor store in 10 mall complexes (# of current anchor "
           "stores: 100) by end of Q1",
           100, 110, "anchor stores"),
       Kpi("Increase the number of out-of-store adverts from 3 to 5 in all "
           "geographies",
           3, 5, "adverts")}));
  all.push_back(Make(
      "in-store-sales-reduce-churn", Category::kPromotion, kInStore, kCompany,
      kCommitted, "Reduce churn of existing customers from 40% to 20%",
      "Annual company OKR for the in-store sales function.",
      {Kpi("5 out of 10 customers to avail loyalty points during purchase", 30,
           50, "% of customers"),
       Kpi("Train 1000 in-store sales staff to deliver best in-store "
           "experience",
           0, 1000, "staff trained"),
       Kpi("Reduce average out-of-stock days in key categories (E.g.: "
           "Grocery) from 5 days to 1 day",
           5, 1, "days")}));
  all.push_back(Make(
      "in-store-sales-average-bill-value", Category::kProfit, kInStore,
      kCompany, kAspirational,
      "Increase the average bill value (ABV) per customer from $100 to $150",
      "Annual company OKR for the in-store sales function.",
      {Kpi("Deliver 3 targeted in-store promotion activities", 0, 3,
           "promotions"),
       Threshold("Ensure daily 3 in-store staff incentive achievers for "
                 "driving ABV",
                 1, 3, "achievers per day", Direction::kAtLeast),
       Kpi("Increase the store layout revamp frequency from "
           "'Once-in-2-months' to 'Once-every-month'",
           6, 12, "revamps per year")}));

  // --- Customer success: the guide's cascade, both methods -------------------
  const std::string kCustomerSuccess = "Customer success";
  all.push_back(Make(
      "customer-success-company-love-and-trust", Category::kNone,
      kCustomerSuccess, kCompany, kCommitted, "Earn customer love and trust",
      "The company objective both cascade examples start from: its retention "
      "key result is cascaded with the Duality method, its NPS key result "
      "guides the teams' own objectives in the Classic method.",
      {Kpi("Increase customer retention rate to 99%", 95, 99, "% retained"),
       Threshold("Maintain an NPS score greater than 8", 7, 8, "NPS",
                 Direction::kAtLeast)}));
  all.push_back(Make(
      "customer-success-duality-vp", Category::kNone, kCustomerSuccess, kTeam,
      kCommitted, "Increase customer retention rate to 99%",
      "Duality method: the VP of Customer Success inherits the company key "
      "result as her objective.",
      {Percent("Implement customer improvement plan for 100% of at-risk "
               "customers",
               0, 100, "% of at-risk customers"),
       Kpi("Increase NPS score from 7 to 8.5", 7, 8.5, "NPS"),
       Kpi("Increase customer engagement from 1x a month to 2x a month", 1, 2,
           "touchpoints per month")}));
  all.push_back(Make(
      "customer-success-duality-director", Category::kNone, kCustomerSuccess,
      kIndividual, kCommitted,
      "Implement customer improvement plan for 100% of all at-risk customers",
      "Duality method: the VP's first key result becomes the Director's "
      "objective, measured by his own 3-5 key results.",
      {Threshold("Reduce customer response time from 72 hours to <24 hours",
                 72, 24, "hours", Direction::kAtMost),
       Kpi("Increase total amount of completed QBRs from 88% to 100%", 88, 100,
           "% of accounts"),
       Kpi("Develop an action plan with 3 improvements and implement this "
           "quarter",
           0, 3, "improvements implemented")}));
  all.push_back(Make(
      "customer-success-classic-vp", Category::kNone, kCustomerSuccess, kTeam,
      kCommitted, "Increase customer satisfaction",
      "Classic method: the VP of Customer Success writes her own objective "
      "that serves the company's NPS goal.",
      {Milestone("Identify top 3 drivers causing friction and implement "
                 "corrective action"),
       Threshold("Reduce customer response time to <24 hours", 72, 24, "hours",
                 Direction::kAtMost),
       Kpi("Resolve 90% open cases", 70, 90, "% of open cases")}));
  all.push_back(Make(
      "customer-success-classic-director", Category::kNone, kCustomerSuccess,
      kIndividual, kAspirational, ">4.5 CSAT score on implementations",
      "Classic method: the Director of Customer Success finds his own way to "
      "contribute, through the CSAT score.",
      {Percent("Deploy new onboarding and implementation process to 100% of "
               "new customers",
               0, 100, "% of new customers"),
       Kpi("Implement new customer community with 65% engagement rate", 0, 65,
           "% engaged"),
       Kpi("Make customer office hour training sessions available 4x week", 0,
           4, "sessions per week")}));

  // --- Sales: the annual-quarterly breakdown case ----------------------------
  const std::string kSales = "Sales";
  all.push_back(Make(
      "sales-annual-department-performance", Category::kProfit, kSales, kTeam,
      kAspirational,
      "Significantly improve the performance level of the sales department",
      "Annual objective of a sales department; break it down into quarterly "
      "objectives in priority order.",
      {Kpi("The conversion rate of sales transactions increased 15%", 0, 15,
           "% increase"),
       Kpi("The average customer unit price has increased by 30%", 0, 30,
           "% increase"),
       Kpi("Complete 10 major customers of 10 million each", 0, 10,
           "major customers"),
       Kpi("Recruit 50 outstanding sales elites", 0, 50, "hires"),
       Kpi("The cumulative performance of the whole year exceeded 50 million",
           0, 50000000, "revenue")}));
  all.push_back(Make(
      "sales-quarterly-business-ability", Category::kPeople, kSales, kTeam,
      kCommitted, "Improve the business ability of the sales team",
      "First-quarter priority from the sales department's annual objective: "
      "train the existing sales staff.",
      {Milestone("Make the sales training plan by stages and implement it as "
                 "planned"),
       Threshold("After taking part in the training, the passing rate of "
                 "assessment is over 98%",
                 90, 98, "% pass rate", Direction::kAtLeast),
       Threshold("According to the business scenario, complete the "
                 "role-playing for more than 3 times per sale",
                 0, 3, "role-plays per salesperson", Direction::kAtLeast),
       Milestone("Frequently Asked Questions on Production and Sales")}));

  // --- Functions the guide names without an example -------------------------
  all.push_back(Make(
      "supply-chain-pickup-availability", Category::kProduct, "Supply chain",
      kTeam, kCommitted, "Keep every promoted item available for in-store pickup",
      "The guide's warning: if marketing does not know what is available for "
      "in-store pickup, it promotes the wrong products to the wrong people.",
      {Kpi("Raise the in-stock rate of promoted items at pickup stores from 85% "
           "to 98%",
           85, 98, "% in stock"),
       Kpi("Reduce average out-of-stock days in key categories from 5 days to "
           "1 day",
           5, 1, "days"),
       Percent("Share daily pickup availability with marketing for 100% of "
               "promoted items",
               0, 100, "% of promoted items")}));
  all.push_back(Make(
      "it-connect-okr-data", Category::kProgress, "IT", kTeam, kCommitted,
      "Connect every key result to the data that measures it",
      "Step 4 of the guide asks where each key result's data comes from "
      "(manual, spreadsheet, another app or unknown); IT makes it automatic.",
      {Kpi("Reduce key results with an unknown data source from 40% to 0%", 40,
           0, "% of key results"),
       Kpi("Increase key results updated by an integration from 10% to 60%",
           10, 60, "% of key results"),
       Kpi("Connect 3 of 3 core systems (POS, ERP, CRM) to OKR tracking", 0, 3,
           "systems")}));
  all.push_back(Make(
      "store-operations-in-store-experience", Category::kPeople,
      "Store operations", kTeam, kCommitted,
      "Deliver the best in-store experience in every store",
      "Store operations turns the company's customer goals into the "
      "experience shoppers have in the store.",
      {Kpi("Train 1000 in-store sales staff to deliver best in-store "
           "experience",
           0, 1000, "staff trained"),
       Kpi("Increase the store layout revamp frequency from 6 to 12 per year",
           6, 12, "revamps per year"),
       Kpi("Reduce average checkout wait time from 8 minutes to 3 minutes", 8, 3,
           "minutes")}));

  std::sort(all.begin(), all.end(),
            [](const OkrTemplate& a, const OkrTemplate& b) {
              return a.id < b.id;
            });
  return all;
}

}  // namespace

absl::Span<const OkrTemplate> Templates() {
  static const std::vector<OkrTemplate>* const kTemplates =
      new std::vector<OkrTemplate>(BuildTemplates());
  return *kTemplates;
}

}  // namespace okr::planning
