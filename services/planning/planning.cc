// The planning core: per-organisation state, Read, Write (commit, then
// apply), catching up with other replicas, and the change feed. The
// use-cases live in the planning_*.cc files.
#include "services/planning/planning.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/model_proto.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "okr/v1/planning.pb.h"

namespace okr::planning {

struct Planning::OrgHandle {
  absl::Mutex mu;
  bool loaded ABSL_GUARDED_BY(mu) = false;
  OrgState state ABSL_GUARDED_BY(mu);
  // When the state was last known to match the store (wall time).
  absl::Time synced ABSL_GUARDED_BY(mu) = absl::InfinitePast();

  absl::Mutex subscribers_mu;
  int64_t next_subscriber ABSL_GUARDED_BY(subscribers_mu) = 1;
  std::map<int64_t, std::function<void()>> subscribers
      ABSL_GUARDED_BY(subscribers_mu);
};

namespace {

// How many times a write is rebuilt after another replica committed first.
constexpr int kMaxWriteAttempts = 4;
// Change-feed entries read per store call while catching up.
constexpr int kCatchUpBatch = 1000;

bool IdTaken(const OrgState& state, ResourceKind kind, absl::string_view id) {
  switch (kind) {
    case ResourceKind::kTeam:
      return state.FindTeam(id) != nullptr;
    case ResourceKind::kPerson:
      return state.FindPerson(id) != nullptr;
    case ResourceKind::kCycle:
      return state.FindCycle(id) != nullptr;
    case ResourceKind::kObjective:
      return state.FindObjective(id) != nullptr;
    case ResourceKind::kKeyResult:
      return state.FindKeyResult(id) != nullptr;
    default:
      return false;
  }
}

int64_t StoredVersion(const OrgState& state, ResourceKind kind,
                      absl::string_view id) {
  switch (kind) {
    case ResourceKind::kTeam:
      if (const auto* r = state.FindTeam(id)) return r->version;
      break;
    case ResourceKind::kPerson:
      if (const auto* r = state.FindPerson(id)) return r->version;
      break;
    case ResourceKind::kCycle:
      if (const auto* r = state.FindCycle(id)) return r->version;
      break;
    case ResourceKind::kObjective:
      if (const auto* r = state.FindObjective(id)) return r->version;
      break;
    case ResourceKind::kKeyResult:
      if (const auto* r = state.FindKeyResult(id)) return r->version;
      break;
    default:
      break;
  }
  return 0;
}

// The snapshot of a resource inside a PlanChange, and its body in the store.
void SetSnapshot(const Resource& resource, v1::PlanChange* change,
                 std::string* body) {
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        auto message = ToProto(r);
        *body = message.SerializeAsString();
        if constexpr (std::is_same_v<T, Organisation>) {
          *change->mutable_organisation() = std::move(message);
        } else if constexpr (std::is_same_v<T, Team>) {
          *change->mutable_team() = std::move(message);
        } else if constexpr (std::is_same_v<T, Person>) {
          *change->mutable_person() = std::move(message);
        } else if constexpr (std::is_same_v<T, Cycle>) {
          *change->mutable_cycle() = std::move(message);
        } else if constexpr (std::is_same_v<T, Objective>) {
          *change->mutable_objective() = std::move(message);
        } else {
          *change->mutable_key_result() = std::move(message);
        }
      },
      resource);
}

// Parses a stored body of `kind` back into a resource of `org`.
template <typename Model, typename Message>
absl::StatusOr<Resource> ParseAs(absl::string_view body,
                                 absl::string_view org) {
  Message message;
  if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::DataLossError("a stored resource does not parse");
  }
  Model model;
  OKR_RETURN_IF_ERROR(FromProto(message, "stored", &model));
  if constexpr (!std::is_same_v<Model, Organisation>) {
    model.organisation_id = std::string(org);
  }
  return Resource(std::move(model));
}

absl::StatusOr<Resource> ParseResource(ResourceKind kind,
                                       absl::string_view body,
                                       absl::string_view org) {
  switch (kind) {
    case ResourceKind::kOrganisation:
      return ParseAs<Organisation, v1::Organisation>(body, org);
    case ResourceKind::kTeam:
      return ParseAs<Team, v1::Team>(body, org);
    case ResourceKind::kPerson:
      return ParseAs<Person, v1::Person>(body, org);
    case ResourceKind::kCycle:
      return ParseAs<Cycle, v1::Cycle>(body, org);
    case ResourceKind::kObjective:
      return ParseAs<Objective, v1::Objective>(body, org);
    case ResourceKind::kKeyResult:
      return ParseAs<KeyResult, v1::KeyResult>(body, org);
    default:
      return absl::DataLossError(
          absl::StrCat("a stored resource has kind ", Name(kind)));
  }
}

absl::StatusOr<Resource> SnapshotOf(const v1::PlanChange& change,
                                    absl::string_view org) {
  switch (change.snapshot_case()) {
    case v1::PlanChange::kOrganisation:
      return ParseAs<Organisation, v1::Organisation>(
          change.organisation().SerializeAsString(), org);
    case v1::PlanChange::kTeam:
      return ParseAs<Team, v1::Team>(change.team().SerializeAsString(), org);
    case v1::PlanChange::kPerson:
      return ParseAs<Person, v1::Person>(change.person().SerializeAsString(),
                                         org);
    case v1::PlanChange::kCycle:
      return ParseAs<Cycle, v1::Cycle>(change.cycle().SerializeAsString(), org);
    case v1::PlanChange::kObjective:
      return ParseAs<Objective, v1::Objective>(
          change.objective().SerializeAsString(), org);
    case v1::PlanChange::kKeyResult:
      return ParseAs<KeyResult, v1::KeyResult>(
          change.key_result().SerializeAsString(), org);
    default:
      return absl::DataLossError("a stored change has no snapshot");
  }
}

absl::Status NotBootstrapped(absl::string_view org) {
  return absl::NotFoundError(absl::StrCat(
      "organisation '", org,
      "' is not bootstrapped (BootstrapOrganisation creates it)"));
}

}  // namespace

Planning::Planning(PlanningStore* store, PlanningOptions options)
    : store_(store), options_(std::move(options)) {}

Planning::~Planning() = default;

absl::StatusOr<Planning::OrgHandle*> Planning::Handle(absl::string_view org) {
  if (org.empty()) {
    return absl::InvalidArgumentError("no organisation given");
  }
  absl::MutexLock lock(&mu_);
  auto& handle = orgs_[org];
  if (handle == nullptr) handle = std::make_unique<OrgHandle>();
  return handle.get();
}

namespace {

// Loads the organisation into `state` from the store.
absl::Status LoadInto(PlanningStore& store, absl::string_view org,
                      OrgState& state) {
  OKR_ASSIGN_OR_RETURN(StoredOrganisation stored,
                       store.LoadOrganisation(org));
  OrgState loaded;
  // Parents first, so indexes see objectives before key results need them.
  std::stable_sort(stored.resources.begin(), stored.resources.end(),
                   [](const StoredResource& a, const StoredResource& b) {
                     return a.kind < b.kind;
                   });
  for (const StoredResource& resource : stored.resources) {
    OKR_ASSIGN_OR_RETURN(Resource parsed,
                         ParseResource(resource.kind, resource.body, org));
    loaded.Put(std::move(parsed));
  }
  loaded.set_sequence(stored.latest_sequence);
  state = std::move(loaded);
  return absl::OkStatus();
}

// Applies the store's feed after state.sequence() (another replica's
// commits) to `state`.
absl::Status CatchUp(PlanningStore& store, absl::string_view org,
                     OrgState& state) {
  while (true) {
    OKR_ASSIGN_OR_RETURN(
        std::vector<StoredChange> changes,
        store.ListChanges(org, state.sequence(), kCatchUpBatch));
    if (changes.empty()) return absl::OkStatus();
    for (const StoredChange& stored : changes) {
      v1::PlanChange change;
      if (!change.ParseFromString(stored.body)) {
        return absl::DataLossError(absl::StrCat(
            "change ", stored.sequence, " of '", org, "' does not parse"));
      }
      if (change.deleted()) {
        state.Erase(stored.kind, stored.id);
      } else {
        OKR_ASSIGN_OR_RETURN(Resource resource, SnapshotOf(change, org));
        state.Put(std::move(resource));
      }
      state.set_sequence(stored.sequence);
    }
  }
}

}  // namespace

absl::Status Planning::Read(
    absl::string_view org,
    absl::FunctionRef<absl::Status(const OrgState&)> read, bool allow_missing) {
  OKR_ASSIGN_OR_RETURN(OrgHandle * handle, Handle(org));
  const absl::Time wall = absl::Now();
  bool fresh;
  {
    absl::ReaderMutexLock lock(&handle->mu);
    fresh = handle->loaded &&
            wall - handle->synced < options_.refresh_interval;
  }
  if (!fresh) {
    absl::MutexLock lock(&handle->mu);
    if (!handle->loaded) {
      OKR_RETURN_IF_ERROR(LoadInto(*store_, org, handle->state));
      handle->loaded = true;
      handle->synced = wall;
    } else if (wall - handle->synced >= options_.refresh_interval) {
      OKR_ASSIGN_OR_RETURN(int64_t latest, store_->LatestSequence(org));
      if (latest != handle->state.sequence()) {
        OKR_RETURN_IF_ERROR(CatchUp(*store_, org, handle->state));
      }
      handle->synced = wall;
    }
  }
  absl::ReaderMutexLock lock(&handle->mu);
  if (!handle->state.exists() && !allow_missing) return NotBootstrapped(org);
  return read(handle->state);
}

absl::Status Planning::Write(absl::string_view org, WriteFn write) {
  return Write(
      org, "", RequestKey{}, write,
      [](const OrgState&, absl::Span<const Id>) { return absl::OkStatus(); });
}

absl::Status Planning::Write(absl::string_view org, absl::string_view method,
                             const RequestKey& key, WriteFn write,
                             ReplayFn replay, bool allow_missing) {
  OKR_ASSIGN_OR_RETURN(OrgHandle * handle, Handle(org));
  if (!key.request_id.empty()) {
    OKR_RETURN_IF_ERROR(ValidateId("request_id", key.request_id, false));
  }
  bool committed = false;
  absl::Status result = [&]() -> absl::Status {
    absl::MutexLock lock(&handle->mu);
    OrgState& state = handle->state;
    if (!handle->loaded) {
      OKR_RETURN_IF_ERROR(LoadInto(*store_, org, state));
      handle->loaded = true;
      handle->synced = absl::Now();
    }
    // A retry of a recorded request answers from its record.
    auto replay_recorded = [&]() -> absl::StatusOr<bool> {
      if (key.request_id.empty()) return false;
      OKR_ASSIGN_OR_RETURN(std::optional<StoredRequest> recorded,
                           store_->FindRequest(org, method, key.request_id));
      if (!recorded.has_value()) return false;
      if (recorded->fingerprint != key.fingerprint) {
        return MakeFieldStatus(
            absl::StatusCode::kAlreadyExists,
            {{"request_id",
              absl::StrCat("'", key.request_id, "' was already used for a ",
                           method,
                           " request with other content; use a new "
                           "request_id for a new request")}});
      }
      OKR_RETURN_IF_ERROR(CatchUp(*store_, org, state));
      OKR_RETURN_IF_ERROR(replay(state, recorded->result_ids));
      return true;
    };
    OKR_ASSIGN_OR_RETURN(bool replayed, replay_recorded());
    if (replayed) return absl::OkStatus();

    for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
      if (!state.exists() && !allow_missing) return NotBootstrapped(org);
      Mutation mutation;
      const WriteContext context{
          .now = Now(),
          .new_id =
              [&state](ResourceKind kind) {
                Id id;
                do {
                  id = NewResourceId(kind);
                } while (IdTaken(state, kind, id));
                return id;
              },
      };
      OKR_RETURN_IF_ERROR(write(state, context, &mutation));
      if (mutation.empty()) return absl::OkStatus();

      PlanCommit commit;
      commit.organisation_id = std::string(org);
      commit.base_sequence = state.sequence();
      int64_t sequence = state.sequence();
      for (const Resource& resource : mutation.puts) {
        v1::PlanChange change;
        change.set_sequence(++sequence);
        change.mutable_resource()->set_kind(ToProto(KindOf(resource)));
        change.mutable_resource()->set_id(IdOf(resource));
        change.set_version(VersionOf(resource));
        *change.mutable_commit_time() = ToProto(context.now);
        StoredResource stored{.kind = KindOf(resource),
                              .id = IdOf(resource),
                              .version = VersionOf(resource),
                              .body = {}};
        SetSnapshot(resource, &change, &stored.body);
        commit.changes.push_back({.sequence = sequence,
                                  .kind = stored.kind,
                                  .id = stored.id,
                                  .commit_time = context.now,
                                  .body = change.SerializeAsString()});
        commit.puts.push_back(std::move(stored));
      }
      for (const auto& [kind, id] : mutation.deletes) {
        v1::PlanChange change;
        change.set_sequence(++sequence);
        change.mutable_resource()->set_kind(ToProto(kind));
        change.mutable_resource()->set_id(id);
        change.set_version(StoredVersion(state, kind, id));
        change.set_deleted(true);
        *change.mutable_commit_time() = ToProto(context.now);
        commit.changes.push_back({.sequence = sequence,
                                  .kind = kind,
                                  .id = id,
                                  .commit_time = context.now,
                                  .body = change.SerializeAsString()});
        commit.deletes.emplace_back(kind, id);
      }
      if (!key.request_id.empty()) {
        commit.request = StoredRequest{.method = std::string(method),
                                       .request_id = key.request_id,
                                       .fingerprint = key.fingerprint,
                                       .result_ids = mutation.result_ids,
                                       .create_time = context.now};
      }

      absl::Status status = store_->Commit(commit);
      if (status.ok()) {
        for (const Resource& resource : mutation.puts) state.Put(resource);
        for (const auto& [kind, id] : mutation.deletes) state.Erase(kind, id);
        state.set_sequence(sequence);
        handle->synced = absl::Now();
        committed = true;
        return absl::OkStatus();
      }
      if (absl::IsAlreadyExists(status) && commit.request.has_value()) {
        // Another replica recorded the same request meanwhile.
        OKR_ASSIGN_OR_RETURN(bool again, replay_recorded());
        if (again) return absl::OkStatus();
        return status;
      }
      if (!absl::IsAborted(status)) return status;
      // Another replica committed first: take its changes and rebuild.
      OKR_RETURN_IF_ERROR(CatchUp(*store_, org, state));
    }
    return absl::AbortedError(
        "the organisation's plan kept changing under this write; retry");
  }();

  if (committed) {
    std::vector<std::function<void()>> callbacks;
    {
      absl::MutexLock lock(&handle->subscribers_mu);
      for (const auto& [id, callback] : handle->subscribers) {
        callbacks.push_back(callback);
      }
    }
    for (const auto& callback : callbacks) callback();
  }
  return result;
}

absl::StatusOr<Planning::ChangeBatch> Planning::ListPlanChanges(
    absl::string_view org, int64_t after_sequence, int limit) {
  if (after_sequence < 0) {
    return MakeInvalidArgument(
        {{"after_sequence", "must not be negative; 0 reads from the start"}});
  }
  if (org.empty()) return absl::InvalidArgumentError("no organisation given");
  limit = std::clamp(limit, 1, 1000);
  // Served from the store alone, without the organisation's OrgState: a
  // cold organisation's first page would otherwise wait for planning to load
  // the whole plan (seconds at 100,000 objectives, past a caller's deadline).
  // An organisation is bootstrapped exactly when it has committed anything:
  // no write but BootstrapOrganisation commits to a missing organisation.
  ChangeBatch batch;
  OKR_ASSIGN_OR_RETURN(batch.latest_sequence, store_->LatestSequence(org));
  if (batch.latest_sequence == 0) return NotBootstrapped(org);
  OKR_ASSIGN_OR_RETURN(batch.changes,
                       store_->ListChanges(org, after_sequence, limit));
  return batch;
}

int64_t Planning::Subscribe(absl::string_view org,
                            std::function<void()> on_change) {
  absl::StatusOr<OrgHandle*> handle = Handle(org);
  if (!handle.ok()) return 0;
  absl::MutexLock lock(&(*handle)->subscribers_mu);
  const int64_t id = (*handle)->next_subscriber++;
  (*handle)->subscribers.emplace(id, std::move(on_change));
  return id;
}

void Planning::Unsubscribe(absl::string_view org, int64_t handle_id) {
  absl::StatusOr<OrgHandle*> handle = Handle(org);
  if (!handle.ok()) return;
  absl::MutexLock lock(&(*handle)->subscribers_mu);
  (*handle)->subscribers.erase(handle_id);
}

}  // namespace okr::planning
