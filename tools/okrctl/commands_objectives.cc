// Commands over objectives and key results, and the alignment verbs (align,
// cascade, unalign, breakdown).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using Stub = PlanningClient::Stub;

// ---- objective fields -------------------------------------------------------

std::vector<FlagSpec> ObjectiveFieldFlags(bool with_cycle, bool with_state) {
  std::vector<FlagSpec> flags = {
      ValueFlag("title", "TEXT", "qualitative, actionable statement (1..200 characters)"),
      ValueFlag("description", "TEXT", "context"),
      ValueFlag("level", "company|team|individual", "where it lives"),
      ValueFlag("owner", "PERSON", "the person responsible (id, name or e-mail)"),
      ValueFlag("team", "TEAM", "its team; required for team objectives"),
      ValueFlag("kind", "committed|aspirational", "must be achieved, or a stretch"),
      ValueFlag("category", "profit|product|people|promotion|progress|none", "one of the 5 Ps"),
      ValueFlag("priority", "N", "rank within owner and cycle, 1 first; 0 unranked"),
      ValueFlag("progress-source", "key-results|children|both", "where its score comes from"),
  };
  if (with_cycle) flags.push_back(ValueFlag("cycle", "CYCLE", "the cycle it is due in"));
  if (with_state) flags.push_back(ValueFlag("state", "draft|published", "publication state"));
  return flags;
}

// Sets the objective fields whose flags are given and lists their proto
// paths in `mask` (for an update's field mask).
absl::Status FillObjective(Context& ctx, okr::v1::Objective* o, std::vector<std::string>* mask) {
  const Invocation& f = ctx.flags();
  auto mark = [&](const char* path) { mask->push_back(path); };
  if (auto v = f.Get("title")) {
    o->set_title(*v);
    mark("title");
  }
  if (auto v = f.Get("description")) {
    o->set_description(*v);
    mark("description");
  }
  if (auto v = f.Get("level")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Level level, ParseEnum<okr::v1::Level>("level", *v));
    o->set_level(level);
    mark("level");
  }
  if (f.Has("owner")) {
    OKR_ASSIGN_OR_RETURN(*o->mutable_owner_id(), ctx.PersonFlag("owner"));
    mark("owner_id");
  }
  if (f.Has("team")) {
    OKR_ASSIGN_OR_RETURN(*o->mutable_team_id(), ctx.TeamFlag("team"));
    mark("team_id");
  }
  if (f.Has("cycle")) {
    OKR_ASSIGN_OR_RETURN(*o->mutable_cycle_id(), ctx.CycleFlag("cycle"));
    mark("cycle_id");
  }
  if (auto v = f.Get("kind")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ObjectiveKind kind,
                         ParseEnum<okr::v1::ObjectiveKind>("kind", *v));
    o->set_kind(kind);
    mark("kind");
  }
  if (auto v = f.Get("category")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Category category,
                         ParseEnum<okr::v1::Category>("category", *v));
    o->set_category(category);
    mark("category");
  }
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> priority, f.Int("priority"));
  if (priority.has_value()) {
    o->set_priority(static_cast<int32_t>(*priority));
    mark("priority");
  }
  if (auto v = f.Get("state")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ObjectiveState state,
                         ParseEnum<okr::v1::ObjectiveState>("state", *v));
    o->set_state(state);
    mark("state");
  }
  if (auto v = f.Get("progress-source")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ProgressSource source,
                         ParseEnum<okr::v1::ProgressSource>("progress-source", *v));
    o->set_progress_source(source);
    mark("progress_source");
  }
  return absl::OkStatus();
}

std::vector<std::string> ObjectiveRow(const okr::v1::Objective& o, const Names& names) {
  return {o.id(),
          names.Cycle(o.cycle_id()),
          ShortName(o.level()),
          ShortName(o.state()),
          o.priority() == 0 ? "" : absl::StrCat(o.priority()),
          o.owner_id().empty() ? "" : names.Person(o.owner_id()),
          o.title()};
}

const std::vector<std::string> kObjectiveHeader = {"ID",       "CYCLE", "LEVEL", "STATE",
                                                   "PRIORITY", "OWNER", "TITLE"};

std::vector<std::string> KeyResultRow(const okr::v1::KeyResult& kr, const Names& names) {
  return {kr.id(),
          kr.objective_id(),
          ShortName(kr.type()),
          FormatRange(kr),
          FormatNumber(kr.weight()),
          kr.owner_id().empty() ? "" : names.Person(kr.owner_id()),
          absl::StrCat(kr.title(), kr.archived() ? "  (archived)" : "")};
}

const std::vector<std::string> kKeyResultHeader = {"ID",     "OBJECTIVE", "TYPE", "RANGE",
                                                   "WEIGHT", "OWNER",     "TITLE"};

absl::StatusOr<okr::v1::Objective> GetObjective(Context& ctx, const std::string& id) {
  okr::v1::GetObjectiveRequest request;
  request.set_id(id);
  return ctx.client().Call("GetObjective", &Stub::GetObjective, request);
}

// --if-version, else the stored version read with `get` (a read-modify-write
// the server still checks: a change in between fails with ABORTED).
template <typename Get>
absl::StatusOr<int64_t> VersionOf(Context& ctx, Get get) {
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> version, ctx.flags().Int("if-version"));
  if (version.has_value()) return *version;
  auto current = get();
  if (!current.ok()) return current.status();
  return current->version();
}

// ---- objective --------------------------------------------------------------

absl::Status ObjectiveCreate(Context& ctx) {
  okr::v1::CreateObjectiveRequest request;
  request.set_request_id(ctx.RequestId());
  std::vector<std::string> unused_mask;
  OKR_RETURN_IF_ERROR(FillObjective(ctx, request.mutable_objective(), &unused_mask));
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective created,
                       ctx.client().Call("CreateObjective", &Stub::CreateObjective, request));
  ctx.PrintCreated(created, "objective", {{created.id(), created.title()}});
  return absl::OkStatus();
}

absl::Status ObjectiveList(Context& ctx) {
  okr::v1::ListObjectivesRequest request;
  const Invocation& f = ctx.flags();
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_owner_id(), ctx.PersonFlag("owner"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_team_id(), ctx.TeamFlag("team"));
  if (auto v = f.Get("level")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Level level, ParseEnum<okr::v1::Level>("level", *v));
    request.set_level(level);
  }
  if (auto v = f.Get("state")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ObjectiveState state,
                         ParseEnum<okr::v1::ObjectiveState>("state", *v));
    request.set_state(state);
  }
  request.set_parent_objective_id(f.GetOr("parent", ""));
  request.set_breakdown_of_objective_id(f.GetOr("breakdown-of", ""));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListObjectivesResponse objectives,
                       ctx.client().ListAll("ListObjectives", &Stub::ListObjectives, request,
                                            limit,
                                            [](const okr::v1::ListObjectivesResponse& r) {
                                              return r.objectives_size();
                                            }));
  if (ctx.json()) {
    ctx.out() << ToJson(objectives);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : objectives.objectives()) rows.push_back(ObjectiveRow(o, *names));
  ctx.out() << RenderTable(kObjectiveHeader, rows);
  return absl::OkStatus();
}

absl::Status ObjectiveShow(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective o, GetObjective(ctx, ctx.args()[0]));
  if (ctx.json()) {
    ctx.out() << ToJson(o);
    return absl::OkStatus();
  }
  okr::v1::ListKeyResultsRequest request;
  request.set_objective_id(o.id());
  request.set_include_archived(true);
  OKR_ASSIGN_OR_RETURN(okr::v1::ListKeyResultsResponse krs,
                       ctx.client().ListAll("ListKeyResults", &Stub::ListKeyResults, request, 0,
                                            [](const okr::v1::ListKeyResultsResponse& r) {
                                              return r.key_results_size();
                                            }));
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::string alignment;
  switch (o.alignment().kind()) {
    case okr::v1::ALIGNMENT_KIND_OBJECTIVE:
      alignment = absl::StrCat("to objective ", o.alignment().parent_objective_id());
      break;
    case okr::v1::ALIGNMENT_KIND_KEY_RESULT:
      alignment = absl::StrCat("cascaded from key result ",
                               o.alignment().parent_key_result_id(), " of objective ",
                               o.alignment().parent_objective_id());
      break;
    default:
      alignment = "none (a root)";
  }
  if (o.alignment().kind() != okr::v1::ALIGNMENT_KIND_NONE && o.alignment().weight() != 1) {
    absl::StrAppend(&alignment, ", weight ", FormatNumber(o.alignment().weight()));
  }
  std::vector<std::pair<std::string, std::string>> facts = {
      {"id", o.id()},
      {"title", o.title()},
      {"description", o.description()},
      {"cycle", names->Cycle(o.cycle_id())},
      {"level", ShortName(o.level())},
      {"owner", o.owner_id().empty() ? "" : names->Person(o.owner_id())},
      {"team", o.team_id().empty() ? "" : names->Team(o.team_id())},
      {"kind", ShortName(o.kind())},
      {"category", ShortName(o.category())},
      {"priority", o.priority() == 0 ? "" : absl::StrCat(o.priority())},
      {"state", ShortName(o.state())},
      {"progress from", ShortName(o.progress_source())},
      {"alignment", alignment},
      {"breakdown of", o.breakdown_of_objective_id()},
      {"rolled over from", o.rolled_over_from_id()},
      {"version", absl::StrCat(o.version())},
  };
  for (const auto& [name, value] : facts) {
    if (!value.empty()) ctx.out() << name << ": " << value << "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& kr : krs.key_results()) rows.push_back(KeyResultRow(kr, *names));
  if (rows.empty()) {
    ctx.out() << "\nno key results\n";
  } else {
    ctx.out() << "\n" << RenderTable(kKeyResultHeader, rows);
  }
  return absl::OkStatus();
}

absl::Status ObjectiveUpdate(Context& ctx) {
  okr::v1::UpdateObjectiveRequest request;
  okr::v1::Objective* o = request.mutable_objective();
  o->set_id(ctx.args()[0]);
  std::vector<std::string> mask;
  OKR_RETURN_IF_ERROR(FillObjective(ctx, o, &mask));
  if (mask.empty()) return UsageError("objective update: give at least one field flag to change");
  for (const std::string& path : mask) request.mutable_update_mask()->add_paths(path);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetObjective(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective updated,
                       ctx.client().Call("UpdateObjective", &Stub::UpdateObjective, request));
  ctx.Print(updated, [&] {
    return absl::StrCat("updated objective ", updated.id(), " (", absl::StrJoin(mask, ", "),
                        "), version ", updated.version(), "\n");
  });
  return absl::OkStatus();
}

absl::Status ObjectiveArchive(Context& ctx) {
  okr::v1::ArchiveObjectiveRequest request;
  request.set_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetObjective(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective archived,
                       ctx.client().Call("ArchiveObjective", &Stub::ArchiveObjective, request));
  ctx.Print(archived, [&] { return absl::StrCat("archived objective ", archived.id(), "\n"); });
  return absl::OkStatus();
}

absl::Status ObjectiveDelete(Context& ctx) {
  okr::v1::DeleteObjectiveRequest request;
  request.set_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetObjective(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(google::protobuf::Empty empty,
                       ctx.client().Call("DeleteObjective", &Stub::DeleteObjective, request));
  ctx.Print(empty, [&] { return absl::StrCat("deleted objective ", request.id(), "\n"); });
  return absl::OkStatus();
}

// ---- kr ---------------------------------------------------------------------

std::vector<FlagSpec> KeyResultFieldFlags() {
  return {
      ValueFlag("title", "TEXT", "verb + what is measured + from x to y"),
      ValueFlag("owner", "PERSON", "the person responsible (default: the objective's owner)"),
      ValueFlag("type", "metric|milestone", "how it is measured"),
      ValueFlag("measure", "kpi|percent-complete", "metric only"),
      ValueFlag("from", "NUMBER", "metric only: the start value"),
      ValueFlag("to", "NUMBER", "metric only: the target (or threshold)"),
      ValueFlag("unit", "TEXT", "metric only: unit of the values"),
      ValueFlag("direction", "increase|decrease|at-least|at-most",
                "metric only (default: from the values)"),
      ValueFlag("weight", "NUMBER", "weight in the objective's average (default 1)"),
      ValueFlag("data-source", "manual|spreadsheet|integration|unknown", "where the data is"),
      ValueFlag("data-source-ref", "TEXT", "the integration's reference"),
      BoolFlag("progress-from-children", "take progress from objectives cascaded from it"),
  };
}

absl::Status FillKeyResult(Context& ctx, okr::v1::KeyResult* kr, std::vector<std::string>* mask) {
  const Invocation& f = ctx.flags();
  auto mark = [&](const char* path) { mask->push_back(path); };
  if (auto v = f.Get("title")) {
    kr->set_title(*v);
    mark("title");
  }
  if (f.Has("owner")) {
    OKR_ASSIGN_OR_RETURN(*kr->mutable_owner_id(), ctx.PersonFlag("owner"));
    mark("owner_id");
  }
  if (auto v = f.Get("type")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::KeyResultType type,
                         ParseEnum<okr::v1::KeyResultType>("type", *v));
    kr->set_type(type);
    mark("type");
  }
  if (auto v = f.Get("measure")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Measure measure, ParseEnum<okr::v1::Measure>("measure", *v));
    kr->set_measure(measure);
    mark("measure");
  }
  OKR_ASSIGN_OR_RETURN(std::optional<double> from, f.Double("from"));
  if (from.has_value()) {
    kr->set_start_value(*from);
    mark("start_value");
  }
  OKR_ASSIGN_OR_RETURN(std::optional<double> to, f.Double("to"));
  if (to.has_value()) {
    kr->set_target_value(*to);
    mark("target_value");
  }
  if (auto v = f.Get("unit")) {
    kr->set_unit(*v);
    mark("unit");
  }
  if (auto v = f.Get("direction")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Direction direction,
                         ParseEnum<okr::v1::Direction>("direction", *v));
    kr->set_direction(direction);
    mark("direction");
  }
  OKR_ASSIGN_OR_RETURN(std::optional<double> weight, f.Double("weight"));
  if (weight.has_value()) {
    kr->set_weight(*weight);
    mark("weight");
  }
  if (auto v = f.Get("data-source")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::DataSource source,
                         ParseEnum<okr::v1::DataSource>("data-source", *v));
    kr->set_data_source(source);
    mark("data_source");
  }
  if (auto v = f.Get("data-source-ref")) {
    kr->set_data_source_ref(*v);
    mark("data_source_ref");
  }
  if (f.Has("progress-from-children")) {
    kr->set_progress_from_children(f.Bool("progress-from-children"));
    mark("progress_from_children");
  }
  return absl::OkStatus();
}

absl::StatusOr<okr::v1::KeyResult> GetKeyResult(Context& ctx, const std::string& id) {
  okr::v1::GetKeyResultRequest request;
  request.set_id(id);
  return ctx.client().Call("GetKeyResult", &Stub::GetKeyResult, request);
}

absl::Status KeyResultCreate(Context& ctx) {
  okr::v1::CreateKeyResultRequest request;
  request.set_request_id(ctx.RequestId());
  request.mutable_key_result()->set_objective_id(ctx.flags().GetOr("objective", ""));
  std::vector<std::string> unused_mask;
  OKR_RETURN_IF_ERROR(FillKeyResult(ctx, request.mutable_key_result(), &unused_mask));
  OKR_ASSIGN_OR_RETURN(okr::v1::KeyResult created,
                       ctx.client().Call("CreateKeyResult", &Stub::CreateKeyResult, request));
  ctx.PrintCreated(created, "key result", {{created.id(), created.title()}});
  return absl::OkStatus();
}

absl::Status KeyResultList(Context& ctx) {
  okr::v1::ListKeyResultsRequest request;
  request.set_objective_id(ctx.flags().GetOr("objective", ""));
  OKR_ASSIGN_OR_RETURN(*request.mutable_owner_id(), ctx.PersonFlag("owner"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  request.set_include_archived(ctx.flags().Bool("include-archived"));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListKeyResultsResponse krs,
                       ctx.client().ListAll("ListKeyResults", &Stub::ListKeyResults, request,
                                            limit,
                                            [](const okr::v1::ListKeyResultsResponse& r) {
                                              return r.key_results_size();
                                            }));
  if (ctx.json()) {
    ctx.out() << ToJson(krs);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& kr : krs.key_results()) rows.push_back(KeyResultRow(kr, *names));
  ctx.out() << RenderTable(kKeyResultHeader, rows);
  return absl::OkStatus();
}

absl::Status KeyResultUpdate(Context& ctx) {
  okr::v1::UpdateKeyResultRequest request;
  okr::v1::KeyResult* kr = request.mutable_key_result();
  kr->set_id(ctx.args()[0]);
  std::vector<std::string> mask;
  OKR_RETURN_IF_ERROR(FillKeyResult(ctx, kr, &mask));
  if (mask.empty()) return UsageError("kr update: give at least one field flag to change");
  for (const std::string& path : mask) request.mutable_update_mask()->add_paths(path);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetKeyResult(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::KeyResult updated,
                       ctx.client().Call("UpdateKeyResult", &Stub::UpdateKeyResult, request));
  ctx.Print(updated, [&] {
    return absl::StrCat("updated key result ", updated.id(), " (", absl::StrJoin(mask, ", "),
                        "), version ", updated.version(), "\n");
  });
  return absl::OkStatus();
}

absl::Status KeyResultArchive(Context& ctx) {
  okr::v1::ArchiveKeyResultRequest request;
  request.set_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetKeyResult(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::KeyResult archived,
                       ctx.client().Call("ArchiveKeyResult", &Stub::ArchiveKeyResult, request));
  ctx.Print(archived, [&] { return absl::StrCat("archived key result ", archived.id(), "\n"); });
  return absl::OkStatus();
}

// ---- alignment --------------------------------------------------------------

absl::Status Align(Context& ctx) {
  okr::v1::AlignObjectiveRequest request;
  request.set_objective_id(ctx.args()[0]);
  request.set_parent_objective_id(ctx.args()[1]);
  OKR_ASSIGN_OR_RETURN(std::optional<double> weight, ctx.flags().Double("weight"));
  request.set_weight(weight.value_or(0));
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetObjective(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective aligned,
                       ctx.client().Call("AlignObjective", &Stub::AlignObjective, request));
  ctx.Print(aligned, [&] {
    return absl::StrCat("aligned objective ", aligned.id(), " to objective ",
                        aligned.alignment().parent_objective_id(), "\n");
  });
  return absl::OkStatus();
}

absl::Status Cascade(Context& ctx) {
  okr::v1::CascadeKeyResultRequest request;
  request.set_key_result_id(ctx.args()[0]);
  request.set_request_id(ctx.RequestId());
  OKR_ASSIGN_OR_RETURN(std::optional<double> weight, ctx.flags().Double("weight"));
  request.set_weight(weight.value_or(0));
  std::vector<std::string> unused_mask;
  OKR_RETURN_IF_ERROR(FillObjective(ctx, request.mutable_objective(), &unused_mask));
  OKR_ASSIGN_OR_RETURN(okr::v1::CascadeKeyResultResponse response,
                       ctx.client().Call("CascadeKeyResult", &Stub::CascadeKeyResult, request));
  const okr::v1::Objective& child = response.objective();
  ctx.PrintCreated(response, "objective", {{child.id(), child.title()}});
  return absl::OkStatus();
}

absl::Status Unalign(Context& ctx) {
  okr::v1::UnalignObjectiveRequest request;
  request.set_objective_id(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(int64_t version,
                       VersionOf(ctx, [&] { return GetObjective(ctx, ctx.args()[0]); }));
  request.set_version(version);
  OKR_ASSIGN_OR_RETURN(okr::v1::Objective root,
                       ctx.client().Call("UnalignObjective", &Stub::UnalignObjective, request));
  ctx.Print(root, [&] { return absl::StrCat("objective ", root.id(), " is now a root\n"); });
  return absl::OkStatus();
}

absl::Status Breakdown(Context& ctx) {
  okr::v1::BreakDownObjectiveRequest request;
  request.set_objective_id(ctx.args()[0]);
  request.set_align(ctx.flags().Bool("align"));
  request.set_request_id(ctx.RequestId());
  const std::vector<std::string> items = ctx.flags().GetAll("item");
  if (items.empty()) {
    return UsageError("breakdown needs at least one --item CYCLE=TITLE (in priority order)");
  }
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(absl::StrCat("--item: '", item, "' is not CYCLE=TITLE"));
    }
    okr::v1::BreakdownItem* b = request.add_items();
    OKR_ASSIGN_OR_RETURN(*b->mutable_cycle_id(),
                         ctx.ResolveCycle("--item", item.substr(0, eq)));
    b->set_title(item.substr(eq + 1));
  }
  OKR_ASSIGN_OR_RETURN(std::string owner, ctx.PersonFlag("owner"));
  if (auto kind = ctx.flags().Get("kind")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::ObjectiveKind k,
                         ParseEnum<okr::v1::ObjectiveKind>("kind", *kind));
    for (auto& b : *request.mutable_items()) b.set_kind(k);
  }
  for (auto& b : *request.mutable_items()) b.set_owner_id(owner);
  OKR_ASSIGN_OR_RETURN(
      okr::v1::BreakDownObjectiveResponse response,
      ctx.client().Call("BreakDownObjective", &Stub::BreakDownObjective, request));
  std::vector<std::pair<std::string, std::string>> ids;
  for (const auto& o : response.objectives()) {
    ids.push_back({o.id(), absl::StrCat("priority ", o.priority(), ": ", o.title())});
  }
  ctx.PrintCreated(response, "objective", ids);
  return absl::OkStatus();
}

std::vector<FlagSpec> With(std::vector<FlagSpec> flags, std::vector<FlagSpec> more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

}  // namespace

void AddObjectiveCommands(std::vector<Command>& commands) {
  commands.push_back({"objective create", "", "Create an objective (a draft unless --state)",
                      With(ObjectiveFieldFlags(true, true), {RequestIdFlag()}), 0, 0,
                      ObjectiveCreate});
  commands.push_back(
      {"objective list", "", "List objectives by cycle, owner and priority",
       {ValueFlag("cycle", "CYCLE", "only this cycle"),
        ValueFlag("level", "company|team|individual", "only this level"),
        ValueFlag("owner", "PERSON", "only this owner"), ValueFlag("team", "TEAM", "only this team"),
        ValueFlag("state", "draft|published|archived", "only this state (default: not archived)"),
        ValueFlag("parent", "OBJECTIVE", "only objectives aligned to this one"),
        ValueFlag("breakdown-of", "OBJECTIVE", "only breakdowns of this one"), LimitFlag()},
       0, 0, ObjectiveList});
  commands.push_back({"objective show", "ID", "Show an objective and its key results", {}, 1, 1,
                      ObjectiveShow});
  commands.push_back({"objective update", "ID", "Change the fields given as flags",
                      With(ObjectiveFieldFlags(false, true), {IfVersionFlag()}), 1, 1,
                      ObjectiveUpdate});
  commands.push_back({"objective archive", "ID", "Archive an objective (hidden, not scored)",
                      {IfVersionFlag()}, 1, 1, ObjectiveArchive});
  commands.push_back({"objective delete", "ID", "Delete an objective and its key results",
                      {IfVersionFlag()}, 1, 1, ObjectiveDelete});
  commands.push_back({"kr create", "", "Create a key result on an objective",
                      With({ValueFlag("objective", "ID", "the objective it measures")},
                           With(KeyResultFieldFlags(), {RequestIdFlag()})),
                      0, 0, KeyResultCreate});
  commands.push_back({"kr list", "", "List key results",
                      {ValueFlag("objective", "ID", "only this objective's"),
                       ValueFlag("owner", "PERSON", "only this owner's"),
                       ValueFlag("cycle", "CYCLE", "only objectives of this cycle"),
                       BoolFlag("include-archived", "also archived key results"), LimitFlag()},
                      0, 0, KeyResultList});
  commands.push_back({"kr update", "ID", "Change the fields given as flags",
                      With(KeyResultFieldFlags(), {IfVersionFlag()}), 1, 1, KeyResultUpdate});
  commands.push_back({"kr archive", "ID", "Archive a key result (not scored or reminded)",
                      {IfVersionFlag()}, 1, 1, KeyResultArchive});
  commands.push_back({"align", "OBJECTIVE PARENT",
                      "Classic: align an objective to a parent objective",
                      {ValueFlag("weight", "NUMBER", "weight in the parent's rollup (default 1)"),
                       IfVersionFlag()},
                      2, 2, Align});
  commands.push_back(
      {"cascade", "KR", "Duality: make a key result the objective of a child (owner, cycle...)",
       With(ObjectiveFieldFlags(true, true),
            {ValueFlag("weight", "NUMBER", "weight in the key result's rollup (default 1)"),
             RequestIdFlag()}),
       1, 1, Cascade});
  commands.push_back({"unalign", "OBJECTIVE", "Remove an objective's alignment (make it a root)",
                      {IfVersionFlag()}, 1, 1, Unalign});
  commands.push_back(
      {"breakdown", "OBJECTIVE",
       "Break an annual objective into priority-ordered objectives of its quarters",
       {ListFlag("item", "CYCLE=TITLE", "one new objective, in priority order (1..12)"),
        ValueFlag("owner", "PERSON", "owner of the new objectives (default: the objective's)"),
        ValueFlag("kind", "committed|aspirational", "kind of the new objectives"),
        BoolFlag("align", "also align each new objective to the broken-down one"),
        RequestIdFlag()},
       1, 1, Breakdown});
}

}  // namespace okr::okrctl
