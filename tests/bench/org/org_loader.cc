// LoadOrg (org_generator.h): a generated plan into a running okr-planning
// through its public API only.
//
// Order: BootstrapOrganisation, CreateFiscalYear and UpdateCycleState, teams
// level by level, people, then objectives and key results by ImportPlanCsv in
// chunks, AlignObjective for the Classic links that cross chunks, and
// ListKeyResults per objective for the key results' real ids. The many small
// calls run on a pool of `concurrency` threads over one channel with blocking
// stubs; every create carries a request_id so a retry after UNAVAILABLE is
// safe.
//
// Chunks: a CSV file may only refer to rows of the same file, and Duality
// (aligned_to_kr) and breakdown links cannot be added afterwards without
// recreating the child, so objectives joined by such links form one
// indivisible unit. Units are packed in plan order into files of at most
// 10,000 rows and 4 MiB (planning's limits); a Classic link whose parent
// landed in another file is left out of the file and made afterwards with
// AlignObjective. In the CSV, owners and teams are written as their real ids
// (the importer looks a name up as an id first), so people and teams need no
// unique names.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "common/plan_csv.h"
#include "common/status_macros.h"
#include "okr/v1/planning.grpc.pb.h"
#include "tests/bench/org/org_generator.h"

namespace okr::bench {
namespace {

namespace v1 = ::okr::v1;

constexpr int kMaxCsvRows = 10000;
// Planning refuses more than 4 MiB; the margin covers the request's framing.
constexpr size_t kMaxCsvBytes = (size_t{4} << 20) - (size_t{64} << 10);
constexpr absl::Duration kCallDeadline = absl::Seconds(60);
constexpr absl::Duration kImportDeadline = absl::Seconds(600);
constexpr int kAttempts = 3;

// Runs fn(0) .. fn(n - 1) on up to `concurrency` threads. After the first
// failure no new index is started; returns that failure.
absl::Status ParallelFor(size_t n, int concurrency,
                         const std::function<absl::Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first;
  auto work = [&] {
    for (size_t i = next++; i < n && !failed.load(); i = next++) {
      absl::Status s = fn(i);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first.ok()) first = std::move(s);
        failed = true;
      }
    }
  };
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, concurrency)));
  if (threads <= 1) {
    work();
    return first;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  return first;
}

class Client {
 public:
  Client(std::shared_ptr<grpc::Channel> channel,
         std::vector<std::pair<std::string, std::string>> metadata)
      : stub_(v1::PlanningService::NewStub(channel)), metadata_(std::move(metadata)) {}

  // One unary call, retried on UNAVAILABLE; a failure names `what`.
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::PlanningService::Stub::*method)(
                        grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, absl::string_view what,
                    absl::Duration deadline = kCallDeadline) {
    grpc::Status s;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      for (const auto& [key, value] : metadata_) context.AddMetadata(key, value);
      s = (stub_.get()->*method)(&context, request, response);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      absl::SleepFor(absl::Milliseconds(100 * attempt));
    }
    if (s.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(what, ": ", s.error_message()));
  }

 private:
  std::unique_ptr<v1::PlanningService::Stub> stub_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// Request ids are at most 64 characters; refs are short. The nonce keeps a
// second load from replaying the first one's answers.
std::string RequestId(absl::string_view nonce, absl::string_view kind, absl::string_view ref) {
  return absl::StrCat("bench-", nonce, "-", kind, "-", ref).substr(0, 64);
}

// Union-find over objective indices.
int Find(std::vector<int>& up, int i) {
  while (up[static_cast<size_t>(i)] != i) {
    up[static_cast<size_t>(i)] = up[static_cast<size_t>(up[static_cast<size_t>(i)])];
    i = up[static_cast<size_t>(i)];
  }
  return i;
}

class Stopwatch {
 public:
  explicit Stopwatch(LoadedOrg* out) : out_(out), start_(absl::Now()) {}
  void Lap(absl::string_view step) {
    const absl::Time now = absl::Now();
    out_->step_times.emplace_back(std::string(step), now - start_);
    start_ = now;
  }

 private:
  LoadedOrg* out_;
  absl::Time start_;
};

}  // namespace

absl::StatusOr<LoadedOrg> LoadOrg(
    const okr::Plan& plan, const std::string& planning_address, int concurrency,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  LoadedOrg out;
  Stopwatch watch(&out);
  out.organisation_id = plan.organisation.id;
  std::vector<std::pair<std::string, std::string>> md;
  for (const auto& [key, value] : metadata) {
    if (key == "okr-organisation-id") {
      out.organisation_id = value;
    } else {
      md.emplace_back(key, value);
    }
  }
  md.emplace_back("okr-organisation-id", out.organisation_id);
  out.ids[plan.organisation.id] = out.organisation_id;

  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(8 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(planning_address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to okr-planning at ", planning_address));
  }
  Client client(channel, md);
  const std::string nonce = absl::StrCat(absl::Hex(absl::Uniform<uint32_t>(absl::BitGen()),
                                                   absl::kZeroPad8));

  // --- organisation and cycles ----------------------------------------------
  {
    v1::BootstrapOrganisationRequest request;
    request.set_organisation_id(out.organisation_id);
    *request.mutable_organisation() = ToProto(plan.organisation);
    request.set_request_id(RequestId(nonce, "org", out.organisation_id));
    v1::Organisation response;
    OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::BootstrapOrganisation, request,
                                    &response,
                                    absl::StrCat("BootstrapOrganisation ", out.organisation_id)));
  }
  int64_t fiscal_year = 0;
  for (const Cycle& c : plan.cycles) {
    if (c.kind == CycleKind::kAnnual) {
      if (fiscal_year != 0 || !absl::SimpleAtoi(absl::string_view(c.name).substr(2), &fiscal_year)) {
        return absl::InvalidArgumentError(
            "plan.cycles: LoadOrg loads exactly one fiscal year named FY<yyyy>");
      }
    }
  }
  absl::flat_hash_map<std::string, const Cycle*> cycle_by_name;
  for (const Cycle& c : plan.cycles) cycle_by_name[c.name] = &c;
  {
    v1::CreateFiscalYearRequest request;
    request.set_fiscal_year(static_cast<int32_t>(fiscal_year));
    request.set_request_id(RequestId(nonce, "fy", absl::StrCat(fiscal_year)));
    v1::CreateFiscalYearResponse response;
    OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::CreateFiscalYear, request,
                                    &response, absl::StrCat("CreateFiscalYear ", fiscal_year)));
    std::vector<v1::Cycle> created{response.year()};
    created.insert(created.end(), response.quarters().begin(), response.quarters().end());
    for (const v1::Cycle& c : created) {
      auto it = cycle_by_name.find(c.name());
      if (it == cycle_by_name.end()) continue;
      if (it->second->start != absl::CivilDay(c.start_date().year(), c.start_date().month(),
                                              c.start_date().day())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cycle ", c.name(), " starts on a different day in okr-planning than in the plan"));
      }
      out.ids[it->second->id] = c.id();
    }
    for (const Cycle& c : plan.cycles) {
      if (!out.ids.contains(c.id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "plan.cycles: ", c.name, " is not part of fiscal year ", fiscal_year,
            "; LoadOrg creates the year and its quarters only"));
      }
    }
    // The year before its quarters: planning wants a parent at least as far on.
    for (const v1::Cycle& c : created) {
      auto it = cycle_by_name.find(c.name());
      if (it == cycle_by_name.end() || it->second->state == CycleState::kPlanning) continue;
      if (it->second->state != CycleState::kActive) {
        return absl::UnimplementedError(absl::StrCat(
            "plan.cycles: ", c.name(), " is ", Name(it->second->state),
            "; LoadOrg moves cycles to ACTIVE only"));
      }
      v1::UpdateCycleStateRequest request;
      request.set_id(c.id());
      request.set_state(v1::CYCLE_STATE_ACTIVE);
      request.set_version(c.version());
      v1::Cycle updated;
      OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::UpdateCycleState, request,
                                      &updated, absl::StrCat("UpdateCycleState ", c.name())));
      if (it->second->kind == CycleKind::kQuarterly || out.active_cycle_id.empty()) {
        out.active_cycle_id = c.id();
      }
    }
  }
  watch.Lap("organisation and cycles");

  // --- teams, parents first ---------------------------------------------------
  absl::flat_hash_map<absl::string_view, size_t> team_index;
  for (size_t i = 0; i < plan.teams.size(); ++i) team_index[plan.teams[i].id] = i;
  std::vector<int> team_level(plan.teams.size(), -1);
  int max_level = 0;
  for (size_t i = 0; i < plan.teams.size(); ++i) {
    int level = 0;
    for (size_t j = i; !plan.teams[j].parent_team_id.empty(); ++level) {
      auto it = team_index.find(plan.teams[j].parent_team_id);
      if (it == team_index.end() || level > static_cast<int>(plan.teams.size())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "plan.teams: ", plan.teams[i].id, " has an unknown or looping parent"));
      }
      j = it->second;
    }
    team_level[i] = level;
    max_level = std::max(max_level, level);
  }
  std::vector<std::string> team_ids(plan.teams.size());
  for (int level = 0; level <= max_level; ++level) {
    std::vector<size_t> wave;
    for (size_t i = 0; i < plan.teams.size(); ++i) {
      if (team_level[i] == level) wave.push_back(i);
    }
    OKR_RETURN_IF_ERROR(ParallelFor(wave.size(), concurrency, [&](size_t w) {
      const Team& t = plan.teams[wave[w]];
      v1::CreateTeamRequest request;
      request.mutable_team()->set_name(t.name);
      if (!t.parent_team_id.empty()) {
        request.mutable_team()->set_parent_team_id(team_ids[team_index.at(t.parent_team_id)]);
      }
      request.set_request_id(RequestId(nonce, "team", t.id));
      v1::Team response;
      OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::CreateTeam, request, &response,
                                      absl::StrCat("CreateTeam ", t.id)));
      team_ids[wave[w]] = response.id();
      return absl::OkStatus();
    }));
  }
  for (size_t i = 0; i < plan.teams.size(); ++i) out.ids[plan.teams[i].id] = team_ids[i];
  watch.Lap("teams");

  // --- people -------------------------------------------------------------------
  out.people_ids.resize(plan.people.size());
  OKR_RETURN_IF_ERROR(ParallelFor(plan.people.size(), concurrency, [&](size_t i) {
    const Person& p = plan.people[i];
    v1::CreatePersonRequest request;
    request.mutable_person()->set_display_name(p.display_name);
    request.mutable_person()->set_email(p.email);
    for (const Id& t : p.team_ids) {
      auto it = team_index.find(t);
      if (it == team_index.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("plan.people: ", p.id, " is in unknown team ", t));
      }
      request.mutable_person()->add_team_ids(team_ids[it->second]);
    }
    request.set_request_id(RequestId(nonce, "person", p.id));
    v1::Person response;
    OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::CreatePerson, request, &response,
                                    absl::StrCat("CreatePerson ", p.id)));
    out.people_ids[i] = response.id();
    return absl::OkStatus();
  }));
  for (size_t i = 0; i < plan.people.size(); ++i) out.ids[plan.people[i].id] = out.people_ids[i];
  watch.Lap("people");

  // --- objectives and key results: CSV chunks -------------------------------------
  const size_t n = plan.objectives.size();
  absl::flat_hash_map<absl::string_view, int> objective_index;
  for (size_t i = 0; i < n; ++i) objective_index[plan.objectives[i].id] = static_cast<int>(i);
  std::vector<std::vector<size_t>> krs_of(n);
  for (size_t k = 0; k < plan.key_results.size(); ++k) {
    auto it = objective_index.find(plan.key_results[k].objective_id);
    if (it == objective_index.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "plan.key_results: ", plan.key_results[k].id, " has an unknown objective"));
    }
    krs_of[static_cast<size_t>(it->second)].push_back(k);
  }
  auto index_of = [&](const Id& ref, absl::string_view what, size_t child) -> absl::StatusOr<int> {
    auto it = objective_index.find(ref);
    if (it == objective_index.end()) {
      return absl::InvalidArgumentError(absl::StrCat("plan.objectives: ", plan.objectives[child].id,
                                                     " has an unknown ", what, " ", ref));
    }
    return it->second;
  };
  // Units: objectives tied by links that only a CSV file can make.
  std::vector<int> up(n);
  std::iota(up.begin(), up.end(), 0);
  for (size_t i = 0; i < n; ++i) {
    const Objective& o = plan.objectives[i];
    std::vector<int> tied;
    if (o.alignment.kind == AlignmentKind::kKeyResult) {
      OKR_ASSIGN_OR_RETURN(int p, index_of(o.alignment.parent_objective_id, "parent", i));
      tied.push_back(p);
    }
    if (!o.breakdown_of_objective_id.empty()) {
      OKR_ASSIGN_OR_RETURN(int p, index_of(o.breakdown_of_objective_id, "breakdown parent", i));
      tied.push_back(p);
    }
    for (int p : tied) up[static_cast<size_t>(Find(up, static_cast<int>(i)))] = Find(up, p);
  }
  std::vector<int> unit_of(n);
  std::vector<std::vector<int>> units;
  absl::flat_hash_map<int, int> unit_by_root;
  std::vector<int> unit_rows;
  for (size_t i = 0; i < n; ++i) {
    const int root = Find(up, static_cast<int>(i));
    auto [it, fresh] = unit_by_root.try_emplace(root, static_cast<int>(units.size()));
    if (fresh) {
      units.emplace_back();
      unit_rows.push_back(0);
    }
    units[static_cast<size_t>(it->second)].push_back(static_cast<int>(i));
    unit_rows[static_cast<size_t>(it->second)] +=
        std::max<int>(1, static_cast<int>(krs_of[i].size()));
    unit_of[i] = it->second;
  }
  std::vector<std::vector<int>> chunks;  // of units
  int rows = 0;
  for (size_t u = 0; u < units.size(); ++u) {
    if (unit_rows[u] > kMaxCsvRows) {
      return absl::FailedPreconditionError(absl::StrCat(
          "objectives linked by aligned_to_kr or breakdown_of around ",
          plan.objectives[static_cast<size_t>(units[u][0])].id, " need ", unit_rows[u],
          " CSV rows, more than one import takes (", kMaxCsvRows,
          "); use fewer key results per objective or more people"));
    }
    if (chunks.empty() || rows + unit_rows[u] > kMaxCsvRows) {
      chunks.emplace_back();
      rows = 0;
    }
    chunks.back().push_back(static_cast<int>(u));
    rows += unit_rows[u];
  }

  // The CSV of a chunk; its objectives (plan indices, file order) in `members`.
  std::vector<int> chunk_of(n, -1);
  struct CrossLink {
    size_t child;
    size_t parent;
    double weight;
  };
  auto write_chunk = [&](const std::vector<int>& chunk, int chunk_id, std::vector<int>* members,
                         std::vector<CrossLink>* cross) -> absl::StatusOr<std::string> {
    members->clear();
    cross->clear();
    for (int u : chunk) {
      for (int i : units[static_cast<size_t>(u)]) members->push_back(i);
    }
    std::sort(members->begin(), members->end());
    for (int i : *members) chunk_of[static_cast<size_t>(i)] = chunk_id;
    Plan file;
    for (const Cycle& c : plan.cycles) {
      Cycle named;
      named.id = c.id;
      named.name = c.name;
      file.cycles.push_back(std::move(named));
    }
    absl::flat_hash_set<std::string> people, teams;
    for (int i : *members) {
      Objective o = plan.objectives[static_cast<size_t>(i)];
      if (o.alignment.kind == AlignmentKind::kObjective) {
        OKR_ASSIGN_OR_RETURN(int p, index_of(o.alignment.parent_objective_id, "parent",
                                             static_cast<size_t>(i)));
        if (chunk_of[static_cast<size_t>(p)] != chunk_id) {
          cross->push_back({static_cast<size_t>(i), static_cast<size_t>(p), o.alignment.weight});
          o.alignment = Alignment();
        }
      }
      for (const Id* person : {&o.owner_id}) {
        if (!person->empty() && people.insert(*person).second) {
          Person named;
          named.id = *person;
          auto real = out.ids.find(*person);
          if (real == out.ids.end()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "plan.objectives: ", o.id, " is owned by unknown person ", *person));
          }
          named.display_name = real->second;
          file.people.push_back(std::move(named));
        }
      }
      if (!o.team_id.empty() && teams.insert(o.team_id).second) {
        Team named;
        named.id = o.team_id;
        auto real = out.ids.find(o.team_id);
        if (real == out.ids.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("plan.objectives: ", o.id, " has unknown team ", o.team_id));
        }
        named.name = real->second;
        file.teams.push_back(std::move(named));
      }
      for (size_t k : krs_of[static_cast<size_t>(i)]) {
        const KeyResult& kr = plan.key_results[k];
        if (!kr.owner_id.empty() && people.insert(kr.owner_id).second) {
          Person named;
          named.id = kr.owner_id;
          auto real = out.ids.find(kr.owner_id);
          if (real == out.ids.end()) {
            return absl::InvalidArgumentError(absl::StrCat(
                "plan.key_results: ", kr.id, " is owned by unknown person ", kr.owner_id));
          }
          named.display_name = real->second;
          file.people.push_back(std::move(named));
        }
        file.key_results.push_back(kr);
      }
      file.objectives.push_back(std::move(o));
    }
    return WritePlanCsv(file, {});
  };

  // Write every chunk, halving those over the byte limit.
  struct File {
    std::string csv;
    std::vector<int> members;
  };
  std::vector<File> files;
  std::vector<CrossLink> cross_links;
  for (size_t c = 0; c < chunks.size(); ++c) {
    std::vector<int> members;
    std::vector<CrossLink> cross;
    const int chunk_id = static_cast<int>(files.size());
    OKR_ASSIGN_OR_RETURN(std::string csv, write_chunk(chunks[c], chunk_id, &members, &cross));
    if (csv.size() > kMaxCsvBytes && chunks[c].size() > 1) {
      const size_t half = chunks[c].size() / 2;
      std::vector<int> second(chunks[c].begin() + static_cast<std::ptrdiff_t>(half),
                              chunks[c].end());
      chunks[c].resize(half);
      chunks.push_back(std::move(second));
      for (int i : members) chunk_of[static_cast<size_t>(i)] = -1;
      --c;
      continue;
    }
    if (csv.size() > kMaxCsvBytes) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the CSV of the objectives around ", plan.objectives[static_cast<size_t>(members[0])].id,
          " takes ", csv.size(), " bytes, more than one import takes"));
    }
    files.push_back({std::move(csv), std::move(members)});
    cross_links.insert(cross_links.end(), cross.begin(), cross.end());
  }
  // A Classic link to an objective of a later file was cut when the earlier
  // file was written; links into earlier files were cut too. Either way each
  // cut link is in cross_links exactly once.
  watch.Lap(absl::StrCat("CSV writing (", files.size(), " files)"));

  out.objective_ids.resize(n);
  OKR_RETURN_IF_ERROR(ParallelFor(files.size(), concurrency, [&](size_t f) {
    v1::ImportPlanCsvRequest request;
    request.set_csv(files[f].csv);
    request.set_request_id(RequestId(nonce, "import", absl::StrCat(f)));
    v1::ImportPlanCsvResponse response;
    OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::ImportPlanCsv, request, &response,
                                    absl::StrCat("ImportPlanCsv file ", f + 1, " of ",
                                                 files.size()),
                                    kImportDeadline));
    if (static_cast<size_t>(response.objective_ids_size()) != files[f].members.size()) {
      return absl::InternalError(absl::StrCat("ImportPlanCsv file ", f + 1, " created ",
                                              response.objective_ids_size(), " objectives, expected ",
                                              files[f].members.size()));
    }
    for (size_t j = 0; j < files[f].members.size(); ++j) {
      out.objective_ids[static_cast<size_t>(files[f].members[j])] =
          response.objective_ids(static_cast<int>(j));
    }
    return absl::OkStatus();
  }));
  watch.Lap("ImportPlanCsv");

  OKR_RETURN_IF_ERROR(ParallelFor(cross_links.size(), concurrency, [&](size_t l) {
    const CrossLink& link = cross_links[l];
    v1::AlignObjectiveRequest request;
    request.set_objective_id(out.objective_ids[link.child]);
    request.set_parent_objective_id(out.objective_ids[link.parent]);
    request.set_weight(link.weight);
    request.set_version(1);  // as imported
    v1::Objective response;
    const std::string what = absl::StrCat("AlignObjective ", plan.objectives[link.child].id,
                                          " to ", plan.objectives[link.parent].id);
    absl::Status s =
        client.Call(&v1::PlanningService::Stub::AlignObjective, request, &response, what);
    if (absl::IsAborted(s)) {  // someone else touched it: align the current version
      v1::GetObjectiveRequest get;
      get.set_id(request.objective_id());
      v1::Objective current;
      OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::GetObjective, get, &current,
                                      absl::StrCat("GetObjective ", plan.objectives[link.child].id)));
      request.set_version(current.version());
      s = client.Call(&v1::PlanningService::Stub::AlignObjective, request, &response, what);
    }
    return s;
  }));
  watch.Lap(absl::StrCat("AlignObjective (", cross_links.size(), " links)"));

  // --- key result ids -------------------------------------------------------------
  out.key_result_ids.resize(plan.key_results.size());
  OKR_RETURN_IF_ERROR(ParallelFor(n, concurrency, [&](size_t i) {
    if (krs_of[i].empty()) return absl::OkStatus();
    std::vector<std::pair<std::string, std::string>> listed;  // title, id
    v1::ListKeyResultsRequest request;
    request.set_objective_id(out.objective_ids[i]);
    request.set_page_size(500);
    do {
      v1::ListKeyResultsResponse response;
      OKR_RETURN_IF_ERROR(client.Call(&v1::PlanningService::Stub::ListKeyResults, request,
                                      &response,
                                      absl::StrCat("ListKeyResults of ", plan.objectives[i].id)));
      for (const v1::KeyResult& kr : response.key_results()) listed.emplace_back(kr.title(), kr.id());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    if (listed.size() != krs_of[i].size()) {
      return absl::InternalError(absl::StrCat("objective ", plan.objectives[i].id, " has ",
                                              listed.size(), " key results in okr-planning, ",
                                              krs_of[i].size(), " in the plan"));
    }
    // By title: the list is ordered by creation time in microseconds, and the
    // import stamps one file's key results a nanosecond apart, so their order
    // within an objective is not the file's.
    absl::flat_hash_map<std::string, std::string> by_title;
    for (auto& [title, id] : listed) {
      if (!by_title.emplace(title, id).second) {
        return absl::FailedPreconditionError(absl::StrCat(
            "objective ", plan.objectives[i].id, " has two key results titled '", title,
            "'; LoadOrg tells an objective's key results apart by title"));
      }
    }
    for (size_t k : krs_of[i]) {
      auto it = by_title.find(plan.key_results[k].title);
      if (it == by_title.end()) {
        return absl::InternalError(absl::StrCat("key result ", plan.key_results[k].id,
                                                " is missing in okr-planning after the import"));
      }
      out.key_result_ids[k] = it->second;
    }
    return absl::OkStatus();
  }));
  watch.Lap("ListKeyResults");

  out.ids.reserve(out.ids.size() + n + plan.key_results.size());
  for (size_t i = 0; i < n; ++i) out.ids[plan.objectives[i].id] = out.objective_ids[i];
  for (size_t k = 0; k < plan.key_results.size(); ++k) {
    out.ids[plan.key_results[k].id] = out.key_result_ids[k];
  }
  return out;
}

}  // namespace okr::bench
