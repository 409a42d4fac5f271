// Planning use-cases for the spreadsheet migration template: import and
// export of a plan as CSV (docs/csv-format.md, common/plan_csv.h).
//
// Import parses the file outside any lock, then, against the organisation's
// current state, maps the file's names to its people, teams and cycles and
// its refs to new ids, and checks every objective and key result with the
// model library's validation before anything is written. Every problem
// becomes a CsvRowError pointing at a spreadsheet row and column; a file
// with any problem writes nothing. The file creates objectives and key
// results only: the people, teams and cycles it names must exist.
//
// The current_value, done and confidence columns are checked by the parser
// but not stored: planning keeps no check-ins (tracking does), so an import
// drops them and an export leaves them empty.
//
// Export writes the objectives asked for plus every objective and key result
// they link to (the format wants a closed file), grouped by cycle (a year
// before its quarters) and in creation order within a cycle, so a file that
// was imported comes back in its own order.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/plan_csv.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/planning/planning.h"

namespace okr::planning {
namespace {

// At most this many problems are collected from one file, as the parser does.
constexpr int kMaxImportErrors = 1000;
// A failed import's status carries the first few problems only: gRPC sends a
// status's message and details as trailing metadata, which peers limit to a
// few KiB. A dry run returns every problem in its response instead.
constexpr int kMaxViolationsInStatus = 10;
constexpr size_t kMaxStatusDescriptionBytes = 2048;

std::string Quoted(absl::string_view s) {
  return absl::StrCat("'", absl::CHexEscape(s), "'");
}

std::string Folded(absl::string_view s) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
}

// The CSV column a validation field path is about, for the error's column.
// `path` is relative to "objective." or "key_result.". Empty: the whole row.
std::string ObjectiveColumn(absl::string_view path, const Objective& o) {
  static const auto* const kColumns =
      new absl::flat_hash_map<absl::string_view, absl::string_view>{
          {"id", "objective_ref"},
          {"title", "objective_title"},
          {"description", "objective_description"},
          {"level", "level"},
          {"owner_id", "owner"},
          {"team_id", "team"},
          {"cycle_id", "cycle"},
          {"kind", "kind"},
          {"category", "category"},
          {"priority", "priority"},
          {"state", "state"},
          {"progress_source", "progress_source"},
          {"alignment.weight", "alignment_weight"},
          {"alignment.kind", "aligned_to"},
          {"alignment.parent_key_result_id", "aligned_to_kr"},
          {"breakdown_of_objective_id", "breakdown_of"},
      };
  if (path == "alignment.parent_objective_id") {
    return o.alignment.kind == AlignmentKind::kKeyResult ? "aligned_to_kr"
                                                         : "aligned_to";
  }
  auto it = kColumns->find(path);
  return it == kColumns->end() ? "" : std::string(it->second);
}

std::string KeyResultColumn(absl::string_view path) {
  static const auto* const kColumns =
      new absl::flat_hash_map<absl::string_view, absl::string_view>{
          {"id", "kr_ref"},
          {"objective_id", "objective_ref"},
          {"title", "kr_title"},
          {"owner_id", "kr_owner"},
          {"type", "kr_type"},
          {"measure", "measure"},
          {"from", "from"},
          {"to", "to"},
          {"unit", "unit"},
          {"direction", "direction"},
          {"weight", "kr_weight"},
          {"data_source", "data_source"},
          {"data_source_ref", "data_source_ref"},
          {"progress_from_children", "progress_from_children"},
      };
  auto it = kColumns->find(path);
  return it == kColumns->end() ? "" : std::string(it->second);
}

// Strips "objective." / "key_result." from a violation's field.
absl::string_view RelativePath(absl::string_view field,
                               absl::string_view prefix) {
  absl::string_view path = field;
  if (absl::ConsumePrefix(&path, prefix) && absl::ConsumePrefix(&path, ".")) {
    return path;
  }
  return field;
}

// One row error and whether it is a conflict with the state (a CLOSED cycle)
// rather than a problem of the file.
struct RowProblem {
  CsvRowError error;
  bool closed_cycle = false;
};

// The organisation's people, teams and cycles by the names a file uses.
// The name indexes of people and teams are built on the first name that is
// not an id: a file that names owners and teams by id (what an export
// writes) costs no pass over a large directory.
class Directory {
 public:
  explicit Directory(const OrgState& state) : state_(state) {
    for (const auto& [id, c] : state.cycles()) {
      cycles_by_name_[Folded(c.name)].push_back(&c);
    }
  }

  // A person by id, e-mail or display name (case-insensitive). On failure
  // returns nullptr and sets `*reason`.
  const Person* FindPerson(const std::string& name, std::string* reason) {
    if (const Person* p = state_.FindPerson(name)) return p;
    if (!people_indexed_) {
      people_indexed_ = true;
      for (const auto& [id, p] : state_.people()) {
        people_by_name_[Folded(p.display_name)].push_back(&p);
        if (!p.email.empty()) people_by_email_[Folded(p.email)].push_back(&p);
      }
    }
    const std::string key = Folded(name);
    auto email = people_by_email_.find(key);
    if (email != people_by_email_.end() && email->second.size() == 1) {
      return email->second[0];
    }
    return Unique<Person>(people_by_name_, name, "person", "people",
                          &Person::display_name,
                          "create the person first (CreatePerson) or use an "
                          "existing person's display name or e-mail",
                          reason);
  }

  const Team* FindTeam(const std::string& name, std::string* reason) {
    if (const Team* t = state_.FindTeam(name)) return t;
    if (!teams_indexed_) {
      teams_indexed_ = true;
      for (const auto& [id, t] : state_.teams()) {
        teams_by_name_[Folded(t.name)].push_back(&t);
      }
    }
    return Unique<Team>(teams_by_name_, name, "team", "teams", &Team::name,
                        "create the team first (CreateTeam) or use an "
                        "existing team's name",
                        reason);
  }

  const Cycle* FindCycle(const std::string& name, std::string* reason) const {
    return Unique<Cycle>(cycles_by_name_, name, "cycle", "cycles", &Cycle::name,
                         "create it first (CreateFiscalYear creates a fiscal "
                         "year with its quarters) or use an existing cycle's "
                         "name",
                         reason);
  }

 private:
  // The one entry whose folded name is `name`'s; among several, the one
  // spelled exactly like `name` if it is unique.
  template <typename T>
  static const T* Unique(
      const absl::flat_hash_map<std::string, std::vector<const T*>>& index,
      const std::string& name, absl::string_view what,
      absl::string_view what_plural, std::string T::*name_field,
      absl::string_view hint, std::string* reason) {
    auto it = index.find(Folded(name));
    if (it == index.end()) {
      *reason = absl::StrCat("no ", what, " named ", Quoted(name),
                             " in the organisation; ", hint);
      return nullptr;
    }
    if (it->second.size() == 1) return it->second[0];
    const T* exact = nullptr;
    int exact_count = 0;
    std::vector<absl::string_view> ids;
    for (const T* entry : it->second) {
      ids.push_back(entry->id);
      if (entry->*name_field == name) {
        exact = entry;
        ++exact_count;
      }
    }
    if (exact_count == 1) return exact;
    *reason = absl::StrCat(Quoted(name), " matches ", it->second.size(), " ",
                           what_plural, " (", absl::StrJoin(ids, ", "),
                           "); give them different names");
    return nullptr;
  }

  const OrgState& state_;
  bool people_indexed_ = false;
  bool teams_indexed_ = false;
  absl::flat_hash_map<std::string, std::vector<const Person*>>
      people_by_name_;
  absl::flat_hash_map<std::string, std::vector<const Person*>>
      people_by_email_;
  absl::flat_hash_map<std::string, std::vector<const Team*>> teams_by_name_;
  absl::flat_hash_map<std::string, std::vector<const Cycle*>> cycles_by_name_;
};

// Maps a parsed file onto an organisation: new ids, real references, and
// every problem found on the way. The objectives and key results are valid
// to store only when problems() is empty.
class Importer {
 public:
  Importer(const OrgState& state, const PlanCsv& file)
      : state_(state), file_(file), directory_(state) {}

  // `new_id` names each new resource; `now` stamps them.
  void Run(const std::function<Id(ResourceKind)>& new_id, absl::Time now) {
    const Plan& plan = file_.plan;
    // Ids first: refs may point forwards in the file.
    for (const Objective& o : plan.objectives) {
      objective_ids_[o.id] = new_id(ResourceKind::kObjective);
    }
    for (const KeyResult& kr : plan.key_results) {
      key_result_ids_[kr.id] = new_id(ResourceKind::kKeyResult);
    }
    ResolveCycles();
    // Resources are stamped a nanosecond apart in file order: lists ordered
    // by creation time (an objective's key results, an export) then keep the
    // spreadsheet's order, which random ids alone would shuffle.
    int64_t sequence = 0;
    auto stamp = [&](auto& resource) {
      StampCreated(resource, now + absl::Nanoseconds(sequence++));
    };
    for (const Objective& parsed : plan.objectives) {
      Objective o = MapObjective(parsed);
      stamp(o);
      objectives_.push_back(std::move(o));
    }
    for (const KeyResult& parsed : plan.key_results) {
      KeyResult kr = MapKeyResult(parsed);
      stamp(kr);
      key_results_.push_back(std::move(kr));
    }
    CheckAlignment();
  }

  const std::vector<RowProblem>& problems() const { return problems_; }
  const std::vector<Objective>& objectives() const { return objectives_; }
  const std::vector<KeyResult>& key_results() const { return key_results_; }

  // The resources in change-feed order: each objective after the objectives
  // (and key results) it links to, each followed by its key results.
  std::vector<Resource> InFeedOrder() const {
    absl::flat_hash_map<absl::string_view, size_t> index;
    for (size_t i = 0; i < objectives_.size(); ++i) {
      index[objectives_[i].id] = i;
    }
    absl::flat_hash_map<absl::string_view, std::vector<const KeyResult*>> krs;
    for (const KeyResult& kr : key_results_) krs[kr.objective_id].push_back(&kr);

    std::vector<Resource> out;
    out.reserve(objectives_.size() + key_results_.size());
    std::vector<int> mark(objectives_.size(), 0);  // 0 new, 1 open, 2 done
    auto parents = [&](size_t i) {
      std::vector<size_t> ids;
      const Objective& o = objectives_[i];
      for (const Id* p : {&o.alignment.parent_objective_id,
                          &o.breakdown_of_objective_id}) {
        auto it = index.find(*p);
        if (!p->empty() && it != index.end()) ids.push_back(it->second);
      }
      return ids;
    };
    // Iterative depth-first post-order, so a deep chain cannot overflow the
    // stack; the parser has already refused loops.
    for (size_t root = 0; root < objectives_.size(); ++root) {
      if (mark[root] != 0) continue;
      std::vector<std::pair<size_t, bool>> stack{{root, false}};
      while (!stack.empty()) {
        auto [i, expanded] = stack.back();
        stack.pop_back();
        if (expanded) {
          if (mark[i] == 2) continue;
          mark[i] = 2;
          out.push_back(objectives_[i]);
          for (const KeyResult* kr : krs[objectives_[i].id]) out.push_back(*kr);
          continue;
        }
        if (mark[i] != 0) continue;
        mark[i] = 1;
        stack.push_back({i, true});
        for (size_t p : parents(i)) {
          if (mark[p] == 0) stack.push_back({p, false});
        }
      }
    }
    return out;
  }

 private:
  int ObjectiveRow(const Id& ref) const {
    auto it = file_.objective_rows.find(ref);
    return it == file_.objective_rows.end() ? 0 : it->second;
  }
  int KeyResultRow(const Id& ref) const {
    auto it = file_.key_result_rows.find(ref);
    return it == file_.key_result_rows.end() ? 0 : it->second;
  }

  void Add(int row, std::string column, std::string reason,
           bool closed_cycle = false) {
    problems_.push_back(
        {CsvRowError{row, std::move(column), std::move(reason)}, closed_cycle});
  }

  // Each cycle name of the file to the organisation's cycle.
  void ResolveCycles() {
    for (const Cycle& c : file_.plan.cycles) {
      std::string reason;
      const Cycle* found = directory_.FindCycle(c.name, &reason);
      if (found != nullptr) {
        cycles_[c.id] = found;
      } else {
        cycle_errors_[c.id] = reason;
      }
    }
  }

  // A placeholder for a reference that could not be resolved (already
  // reported), so that validation does not report it a second time.
  static constexpr absl::string_view kUnresolved = "unresolved";

  Id MapPerson(const Id& name, int row, absl::string_view column) {
    if (name.empty()) return "";
    std::string reason;
    const Person* p = directory_.FindPerson(name, &reason);
    if (p != nullptr) return p->id;
    Add(row, std::string(column), reason);
    return std::string(kUnresolved);
  }

  Objective MapObjective(const Objective& parsed) {
    const int row = ObjectiveRow(parsed.id);
    Objective o = parsed;
    o.id = objective_ids_[parsed.id];
    o.organisation_id = state_.organisation().id;
    o.owner_id = MapPerson(parsed.owner_id, row, "owner");
    if (!parsed.team_id.empty()) {
      std::string reason;
      const Team* t = directory_.FindTeam(parsed.team_id, &reason);
      if (t != nullptr) {
        o.team_id = t->id;
      } else {
        Add(row, "team", reason);
        o.team_id = std::string(kUnresolved);
      }
    }
    auto cycle = cycles_.find(parsed.cycle_id);
    if (cycle != cycles_.end()) {
      o.cycle_id = cycle->second->id;
      if (cycle->second->state == CycleState::kClosed) {
        Add(row, "cycle",
            absl::StrCat("cycle ", Quoted(cycle->second->name),
                         " is CLOSED and takes no new objectives; import "
                         "into an open cycle"),
            /*closed_cycle=*/true);
      }
    } else {
      auto error = cycle_errors_.find(parsed.cycle_id);
      Add(row, "cycle",
          error != cycle_errors_.end()
              ? error->second
              : absl::StrCat("no cycle ", Quoted(parsed.cycle_id)));
      o.cycle_id = std::string(kUnresolved);
    }
    if (!parsed.alignment.parent_objective_id.empty()) {
      o.alignment.parent_objective_id =
          objective_ids_[parsed.alignment.parent_objective_id];
    }
    if (!parsed.alignment.parent_key_result_id.empty()) {
      o.alignment.parent_key_result_id =
          key_result_ids_[parsed.alignment.parent_key_result_id];
    }
    if (!parsed.breakdown_of_objective_id.empty()) {
      o.breakdown_of_objective_id =
          objective_ids_[parsed.breakdown_of_objective_id];
    }
    for (const FieldViolation& v :
         FieldViolationsOf(ValidateObjective(o))) {
      Add(row, ObjectiveColumn(RelativePath(v.field, "objective"), o),
          v.description);
    }
    return o;
  }

  KeyResult MapKeyResult(const KeyResult& parsed) {
    const int row = KeyResultRow(parsed.id);
    KeyResult kr = parsed;
    kr.id = key_result_ids_[parsed.id];
    kr.organisation_id = state_.organisation().id;
    kr.objective_id = objective_ids_[parsed.objective_id];
    kr.owner_id = MapPerson(parsed.owner_id, row, "kr_owner");
    for (const FieldViolation& v : FieldViolationsOf(ValidateKeyResult(kr))) {
      Add(row, KeyResultColumn(RelativePath(v.field, "key_result")),
          v.description);
    }
    return kr;
  }

  // The alignment rules (a parent's cycle at least as long as the child's, a
  // breakdown's inside a longer one), checked on the file's own refs and
  // cycle names so that the messages speak the spreadsheet's language.
  // Loops were refused by the parser.
  void CheckAlignment() {
    const Plan& plan = file_.plan;
    absl::flat_hash_map<absl::string_view, const Objective*> objectives;
    for (const Objective& o : plan.objectives) objectives[o.id] = &o;
    absl::flat_hash_map<absl::string_view, const KeyResult*> key_results;
    for (const KeyResult& kr : plan.key_results) key_results[kr.id] = &kr;
    // The organisation's cycles under the file's names.
    auto cycle_as_named = [&](const Id& name, std::vector<Cycle>* out) {
      auto it = cycles_.find(name);
      if (it == cycles_.end()) return false;
      Cycle c = *it->second;
      c.id = name;
      out->push_back(std::move(c));
      return true;
    };
    for (const Objective& child : plan.objectives) {
      const bool linked = child.alignment.kind != AlignmentKind::kNone ||
                          !child.breakdown_of_objective_id.empty();
      if (!linked) continue;
      std::vector<Objective> involved{child};
      std::vector<KeyResult> krs;
      std::vector<Cycle> cycles;
      bool resolved = cycle_as_named(child.cycle_id, &cycles);
      auto add_objective = [&](const Id& ref) {
        auto it = objectives.find(ref);
        if (it == objectives.end()) return;
        involved.push_back(*it->second);
        resolved = cycle_as_named(it->second->cycle_id, &cycles) && resolved;
      };
      if (!child.alignment.parent_key_result_id.empty()) {
        auto it = key_results.find(child.alignment.parent_key_result_id);
        if (it != key_results.end()) krs.push_back(*it->second);
      }
      if (child.alignment.kind != AlignmentKind::kNone) {
        add_objective(child.alignment.parent_objective_id);
      }
      if (!child.breakdown_of_objective_id.empty()) {
        add_objective(child.breakdown_of_objective_id);
      }
      // An unknown cycle is reported already; its rules cannot be judged.
      if (!resolved) continue;
      const absl::Status status =
          ValidateAlignment(child, involved, krs, cycles);
      std::vector<FieldViolation> violations = FieldViolationsOf(status);
      if (!status.ok() && violations.empty()) {
        violations.push_back({"", std::string(status.message())});
      }
      for (const FieldViolation& v : violations) {
        Add(ObjectiveRow(child.id),
            ObjectiveColumn(RelativePath(v.field, "objective"), child),
            v.description);
      }
    }
  }

  const OrgState& state_;
  const PlanCsv& file_;
  Directory directory_;
  absl::flat_hash_map<Id, Id> objective_ids_;   // ref -> new id
  absl::flat_hash_map<Id, Id> key_result_ids_;  // kr_ref -> new id
  absl::flat_hash_map<Id, const Cycle*> cycles_;      // file name -> cycle
  absl::flat_hash_map<Id, std::string> cycle_errors_;  // file name -> reason
  std::vector<RowProblem> problems_;
  std::vector<Objective> objectives_;
  std::vector<KeyResult> key_results_;
};

// Row order, the order a person fixes a spreadsheet in; at most
// kMaxImportErrors, the last one saying that the list stops there.
std::vector<RowProblem> SortAndCap(std::vector<RowProblem> problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const RowProblem& a, const RowProblem& b) {
                     return a.error.row < b.error.row;
                   });
  if (problems.size() > static_cast<size_t>(kMaxImportErrors)) {
    const size_t total = problems.size();
    problems.resize(kMaxImportErrors - 1);
    problems.push_back(
        {CsvRowError{0, "",
                     absl::StrFormat("%d more problems not listed; fix these "
                                     "and import again",
                                     total - problems.size())},
         false});
  }
  return problems;
}

// "rows[4].kind" for a cell, "rows[4]" for a whole row, "csv" for the file.
std::string ViolationField(const CsvRowError& e) {
  if (e.row <= 0) return "csv";
  if (e.column.empty()) return absl::StrCat("rows[", e.row, "]");
  return absl::StrCat("rows[", e.row, "].", e.column);
}

// The status of an import that found problems: INVALID_ARGUMENT for a
// problem of the file, FAILED_PRECONDITION when the only problem is a CLOSED
// cycle. Lists the first problems; a dry run lists them all.
absl::Status ImportFailure(const std::vector<RowProblem>& problems) {
  const bool only_closed =
      std::all_of(problems.begin(), problems.end(),
                  [](const RowProblem& p) { return p.closed_cycle; });
  std::vector<FieldViolation> violations;
  size_t bytes = 0;
  for (const RowProblem& p : problems) {
    if (!violations.empty() &&
        (violations.size() >= static_cast<size_t>(kMaxViolationsInStatus) ||
         bytes + p.error.reason.size() > kMaxStatusDescriptionBytes)) {
      break;
    }
    bytes += p.error.reason.size();
    violations.push_back({ViolationField(p.error), p.error.reason});
  }
  if (violations.size() < problems.size()) {
    violations.push_back(
        {"csv", absl::StrFormat("%d more problems not listed; import with "
                                "dry_run to list every problem",
                                problems.size() - violations.size())});
  }
  return MakeFieldStatus(only_closed ? absl::StatusCode::kFailedPrecondition
                                     : absl::StatusCode::kInvalidArgument,
                         violations);
}

// True when `objective` passes the export filter.
bool Matches(const Objective& o, const ExportFilter& filter) {
  if (!filter.include_archived && o.state == ObjectiveState::kArchived) {
    return false;
  }
  return (filter.cycle_id.empty() || o.cycle_id == filter.cycle_id) &&
         (filter.owner_id.empty() || o.owner_id == filter.owner_id) &&
         (filter.team_id.empty() || o.team_id == filter.team_id);
}

}  // namespace

absl::StatusOr<ImportResult> Planning::ImportPlanCsv(
    absl::string_view org, absl::string_view csv,
    absl::string_view default_cycle, bool dry_run, const RequestKey& key) {
  // Parsing needs no state: done before taking the organisation's lock.
  PlanCsvOptions options;
  options.max_input_bytes = kMaxCsvBytes;
  options.max_rows = kMaxCsvRows;
  options.max_errors = kMaxImportErrors;
  options.default_cycle = std::string(default_cycle);
  std::vector<PlanCsvError> parse_errors;
  absl::StatusOr<PlanCsv> parsed = ParsePlanCsv(csv, &parse_errors, options);
  if (!parsed.ok() && parse_errors.empty()) return parsed.status();

  ImportResult result;
  // Builds the import against `state`; returns the problems (empty: the
  // mutation is ready in `m`, when given).
  auto prepare = [&](const OrgState& state,
                     const std::function<Id(ResourceKind)>& new_id,
                     absl::Time now, Mutation* m)
      -> absl::StatusOr<std::vector<RowProblem>> {
    if (!default_cycle.empty()) {
      std::string reason;
      if (Directory(state).FindCycle(std::string(default_cycle), &reason) ==
          nullptr) {
        return MakeFieldStatus(absl::StatusCode::kNotFound,
                               {{"default_cycle", reason}});
      }
    }
    if (!parsed.ok()) {
      std::vector<RowProblem> problems;
      for (const PlanCsvError& e : parse_errors) {
        problems.push_back({CsvRowError{e.row, e.column, e.reason}, false});
      }
      return SortAndCap(std::move(problems));
    }
    Importer importer(state, *parsed);
    importer.Run(new_id, now);
    result.objectives_created =
        static_cast<int>(importer.objectives().size());
    result.key_results_created =
        static_cast<int>(importer.key_results().size());
    if (!importer.problems().empty()) return SortAndCap(importer.problems());
    if (m != nullptr) {
      m->puts = importer.InFeedOrder();
      for (const Objective& o : importer.objectives()) {
        m->result_ids.push_back(o.id);
        result.objective_ids.push_back(o.id);
      }
    }
    return std::vector<RowProblem>();
  };

  if (dry_run) {
    OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
      int64_t next = 0;
      // Placeholder ids: nothing is stored, but validation checks id shapes.
      auto new_id = [&next](ResourceKind kind) {
        return absl::StrCat("dry-run-", Name(kind), "-", ++next);
      };
      OKR_ASSIGN_OR_RETURN(std::vector<RowProblem> problems,
                           prepare(state, new_id, Now(), nullptr));
      for (RowProblem& p : problems) result.errors.push_back(p.error);
      return absl::OkStatus();
    }));
    return result;
  }

  OKR_RETURN_IF_ERROR(Write(
      org, "ImportPlanCsv", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        result = ImportResult();
        OKR_ASSIGN_OR_RETURN(std::vector<RowProblem> problems,
                             prepare(state, ctx.new_id, ctx.now, m));
        if (!problems.empty()) return ImportFailure(problems);
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        result = ImportResult();
        result.objective_ids.assign(ids.begin(), ids.end());
        result.objectives_created = static_cast<int>(ids.size());
        for (const Id& id : ids) {
          result.key_results_created +=
              static_cast<int>(state.KeyResultsOf(id).size());
        }
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<ExportResult> Planning::ExportPlanCsv(
    absl::string_view org, const ExportFilter& filter) {
  ExportResult result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    if (!filter.cycle_id.empty()) {
      OKR_RETURN_IF_ERROR(state.GetCycle(filter.cycle_id, "cycle_id").status());
    }
    if (!filter.owner_id.empty()) {
      OKR_RETURN_IF_ERROR(state.GetPerson(filter.owner_id, "owner_id").status());
    }
    if (!filter.team_id.empty()) {
      OKR_RETURN_IF_ERROR(state.GetTeam(filter.team_id, "team_id").status());
    }

    // The objectives asked for, and (the format needs a closed file) every
    // objective and key result they link to, transitively, whatever its
    // state: an exported link must point into the file.
    std::vector<const Objective*> objectives;
    absl::flat_hash_set<absl::string_view> chosen;
    absl::flat_hash_set<absl::string_view> needed_key_results;
    for (const auto& [id, o] : state.objectives()) {
      if (Matches(o, filter) && chosen.insert(id).second) {
        objectives.push_back(&o);
      }
    }
    for (size_t i = 0; i < objectives.size(); ++i) {
      const Objective& o = *objectives[i];
      if (!o.alignment.parent_key_result_id.empty()) {
        needed_key_results.insert(o.alignment.parent_key_result_id);
      }
      for (const Id* parent_id :
           {&o.alignment.parent_objective_id, &o.breakdown_of_objective_id}) {
        if (parent_id->empty() || chosen.contains(*parent_id)) continue;
        if (const Objective* parent = state.FindObjective(*parent_id)) {
          chosen.insert(parent->id);
          objectives.push_back(parent);
        }
      }
    }

    // Longer cycles before the shorter ones they contain, then creation
    // order (an import keeps the file's order), then id.
    struct Ordered {
      absl::CivilDay start;
      int64_t minus_days = 0;
      std::string cycle;
      absl::Time create_time;
      const Objective* objective;
    };
    std::vector<Ordered> ordered;
    ordered.reserve(objectives.size());
    for (const Objective* o : objectives) {
      Ordered entry{absl::CivilDay(), 0, o->cycle_id, o->create_time, o};
      if (const Cycle* c = state.FindCycle(o->cycle_id)) {
        entry.start = c->start;
        entry.minus_days = -(c->end - c->start);
        entry.cycle = c->name;
      }
      ordered.push_back(std::move(entry));
    }
    std::sort(ordered.begin(), ordered.end(),
              [](const Ordered& a, const Ordered& b) {
                return std::tie(a.start, a.minus_days, a.cycle, a.create_time,
                                a.objective->id) <
                       std::tie(b.start, b.minus_days, b.cycle, b.create_time,
                                b.objective->id);
              });

    Plan plan;
    plan.organisation = state.organisation();
    for (const auto& [id, team] : state.teams()) plan.teams.push_back(team);
    for (const auto& [id, person] : state.people()) plan.people.push_back(person);
    for (const auto& [id, cycle] : state.cycles()) plan.cycles.push_back(cycle);
    int64_t rows = 0;
    for (const Ordered& entry : ordered) {
      const Objective* o = entry.objective;
      plan.objectives.push_back(*o);
      int64_t krs = 0;
      for (const KeyResult* kr : state.KeyResultsOf(o->id)) {
        if (kr->archived && !filter.include_archived &&
            !needed_key_results.contains(kr->id)) {
          continue;
        }
        plan.key_results.push_back(*kr);
        ++krs;
      }
      rows += std::max<int64_t>(krs, 1);
    }
    if (rows > kMaxCsvRows) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the export would have %d rows, more than the limit of %d; narrow "
          "it with cycle_id, owner_id or team_id",
          rows, kMaxCsvRows));
    }
    absl::StatusOr<std::string> csv = WritePlanCsv(plan, {});
    if (!csv.ok()) {
      // Only stored data can make the writer fail (e.g. a cycle whose name
      // the format cannot carry): the state must change, not the request.
      return absl::FailedPreconditionError(
          absl::StrCat("the plan cannot be written as CSV: ",
                       csv.status().message()));
    }
    result.csv = *std::move(csv);
    result.row_count = static_cast<int>(rows);
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace okr::planning
