#include "services/planning/grpc_planning_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/grpc_status.h"
#include "common/lint.h"
#include "common/model_proto.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace okr::planning {
namespace {

// At most this many characters in a request_id (common.proto).
constexpr size_t kMaxRequestIdLength = 64;
// Change-feed entries a watch reads per step: small enough that a slow
// client holds little memory, large enough that a backlog moves quickly.
constexpr int kWatchBatch = 100;
// ListPlanChanges reads at most this many pages' worth of entries when a
// resource_kinds filter drops most of them, then returns what it has with a
// token, so one call never scans an unbounded feed.
constexpr int kMaxChangeScanPages = 10;
// The prefix inside a ListPlanChanges page token (before base64).
constexpr absl::string_view kChangeTokenPrefix = "okr.pc.v1:";

// Finishes a unary call at once with an authorization refusal.
grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The idempotency key of a create-like request: its request_id and the
// fingerprint of everything else in it.
template <typename Request>
absl::StatusOr<RequestKey> KeyOf(const Request& request) {
  if (request.request_id().size() > kMaxRequestIdLength) {
    return MakeInvalidArgument(
        {{"request_id",
          absl::StrCat("at most ", kMaxRequestIdLength,
                       " characters (a UUID is recommended), got ",
                       request.request_id().size())}});
  }
  RequestKey key;
  key.request_id = request.request_id();
  if (!key.request_id.empty()) {
    Request content = request;
    content.clear_request_id();
    key.fingerprint = RequestFingerprint(content);
  }
  return key;
}

PageRequest PageOf(int32_t page_size, const std::string& page_token) {
  PageRequest page;
  page.page_size = page_size;
  page.page_token = page_token;
  return page;
}

std::vector<std::string> PathsOf(const google::protobuf::FieldMask& mask) {
  return std::vector<std::string>(mask.paths().begin(), mask.paths().end());
}

// Copies a page of model values into a list response.
template <typename T, typename Response, typename Field>
void FillPage(const Page<T>& page, Response* response, Field* items) {
  items->Reserve(static_cast<int>(page.items.size()));
  for (const T& item : page.items) *items->Add() = ToProto(item);
  response->set_next_page_token(page.next_page_token);
  response->set_total_size(page.total_size);
}

v1::LintRule LintRuleToProto(const LintRule& rule) {
  v1::LintRule out;
  out.set_rule_id(std::string(rule.id));
  out.set_severity(ToProto(rule.severity));
  out.set_summary(std::string(rule.description));
  return out;
}

v1::OkrTemplate TemplateToProto(const OkrTemplate& value) {
  v1::OkrTemplate out;
  out.set_id(value.id);
  out.set_category(ToProto(value.category));
  out.set_function(value.function);
  out.set_level(ToProto(value.level));
  out.set_kind(ToProto(value.kind));
  out.set_objective_title(value.objective_title);
  out.set_description(value.description);
  for (const KeyResultTemplate& kr : value.key_results) {
    v1::KeyResultTemplate* k = out.add_key_results();
    k->set_title(kr.title);
    k->set_type(ToProto(kr.type));
    k->set_measure(ToProto(kr.measure));
    if (kr.start_value.has_value()) k->set_start_value(*kr.start_value);
    if (kr.target_value.has_value()) k->set_target_value(*kr.target_value);
    k->set_unit(kr.unit);
    k->set_direction(ToProto(kr.direction));
  }
  return out;
}

v1::AlignmentLink LinkToProto(const AlignmentLink& link) {
  v1::AlignmentLink out;
  out.set_child_objective_id(link.child_objective_id);
  out.set_parent_objective_id(link.parent_objective_id);
  out.set_parent_key_result_id(link.parent_key_result_id);
  out.set_kind(ToProto(link.kind));
  out.set_weight(link.weight);
  return out;
}

// The kinds a change-feed request asks for; empty means all.
template <typename Kinds>
absl::StatusOr<absl::flat_hash_set<ResourceKind>> KindsOf(
    const Kinds& kinds, absl::string_view field) {
  absl::flat_hash_set<ResourceKind> out;
  for (int i = 0; i < kinds.size(); ++i) {
    ResourceKind kind;
    OKR_RETURN_IF_ERROR(
        FromProto(static_cast<int>(kinds.Get(i)),
                  absl::StrCat(field, "[", i, "]"), &kind));
    out.insert(kind);
  }
  return out;
}

bool Wanted(const absl::flat_hash_set<ResourceKind>& kinds,
            ResourceKind kind) {
  return kinds.empty() || kinds.contains(kind);
}

absl::Status ParseChange(const StoredChange& stored, v1::PlanChange* out) {
  if (!out->ParseFromString(stored.body)) {
    return absl::DataLossError(absl::StrCat(
        "change-feed entry ", stored.sequence, " cannot be decoded"));
  }
  return absl::OkStatus();
}

// A stream that fails before it starts.
class ErrorWriteReactor final
    : public grpc::ServerWriteReactor<v1::PlanChange> {
 public:
  explicit ErrorWriteReactor(grpc::Status status) {
    Finish(std::move(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

std::string RequestFingerprint(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return StableHash(bytes);
}

std::string EncodeChangePageToken(int64_t sequence) {
  return absl::WebSafeBase64Escape(absl::StrCat(kChangeTokenPrefix, sequence));
}

absl::StatusOr<int64_t> DecodeChangePageToken(absl::string_view token) {
  std::string raw;
  absl::string_view rest;
  int64_t sequence = 0;
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      !absl::ConsumePrefix(&(rest = raw), kChangeTokenPrefix) ||
      !absl::SimpleAtoi(rest, &sequence) || sequence < 0) {
    return MakeInvalidArgument(
        {{"page_token",
          "not a token of ListPlanChanges; pass the next_page_token of the "
          "previous response unchanged, or none"}});
  }
  return sequence;
}

// --- WatchPlanChanges --------------------------------------------------------
//
// A stream alternates between two steps, never both at once: a pump (on a
// worker) reads the next batch after `cursor_` into `pending_`, then the
// reactor writes `pending_` one message at a time; when it is empty and
// `more_` says the feed moved on, the next pump is scheduled. A commit only
// sets `more_` (and schedules a pump when the stream is idle), so the
// Subscribe callback never blocks the writer. gRPC operations (StartWrite,
// Finish) are never started while `mu_` is held. The reactor deletes itself
// once gRPC called OnDone and no pump is queued or running.
class PlanningGrpcService::WatchReactor final
    : public grpc::ServerWriteReactor<v1::PlanChange> {
 public:
  WatchReactor(PlanningGrpcService* service, std::string org,
               int64_t after_sequence,
               absl::flat_hash_set<ResourceKind> kinds)
      : service_(service),
        org_(std::move(org)),
        kinds_(std::move(kinds)),
        cursor_(after_sequence) {}

  // Starts the first pump: subscribe, then send the backlog.
  void Begin() {
    {
      absl::MutexLock lock(&notifier_->mu);
      notifier_->reactor = this;
    }
    Action action;
    {
      absl::MutexLock lock(&mu_);
      action = NextActionLocked();
    }
    if (Perform(action)) Cleanup();
  }

  // Ends the stream with `status` once the write in flight (if any) is done.
  // Later calls are ignored.
  void End(grpc::Status status) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (!finish_wanted_.has_value()) finish_wanted_ = std::move(status);
      action = NextActionLocked();
    }
    if (Perform(action)) Cleanup();
  }

  // The last sequence sent (or skipped by the filter); for messages.
  int64_t cursor() {
    absl::MutexLock lock(&mu_);
    return cursor_;
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (!ok && !finish_wanted_.has_value()) {
        // The stream is broken (client gone); nobody reads this status.
        finish_wanted_ =
            grpc::Status(grpc::StatusCode::CANCELLED, "stream write failed");
      }
      action = NextActionLocked();
    }
    if (Perform(action)) Cleanup();
  }

  void OnCancel() override {
    End(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled"));
  }

  void OnDone() override {
    bool cleanup_now = false;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      cleanup_now = !pump_scheduled_;
    }
    if (!cleanup_now) return;  // the running pump cleans up
    // Unsubscribe touches Planning, which a gRPC thread should not wait on.
    WorkerPool* pool = service_->pool_;
    if (!pool->Submit([this] { Cleanup(); }).ok()) Cleanup();
  }

 private:
  // Lets the Subscribe callback, which Planning may call until Unsubscribe
  // returns, outlive the reactor safely.
  struct Notifier {
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };

  // What to start once mu_ is released.
  struct Action {
    const v1::PlanChange* write = nullptr;
    std::optional<grpc::Status> finish;
    bool pump = false;
  };

  Action NextActionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Action action;
    if (finished_ || write_in_flight_) return action;
    if (finish_wanted_.has_value()) {
      finished_ = true;
      action.finish = *finish_wanted_;
      return action;
    }
    if (pump_scheduled_) return action;
    if (!pending_.empty()) {
      writing_ = std::move(pending_.front());
      pending_.pop_front();
      write_in_flight_ = true;
      action.write = &writing_;
      return action;
    }
    if (more_) {
      pump_scheduled_ = true;
      action.pump = true;
    }
    return action;
  }

  // Starts what `action` says. Returns true when the caller must call
  // Cleanup() (outside any lock of the Notifier): the pump could not be
  // scheduled and OnDone has already run.
  [[nodiscard]] bool Perform(const Action& action) {
    if (action.write != nullptr) StartWrite(action.write);
    if (action.finish.has_value()) Finish(*action.finish);
    if (!action.pump) return false;
    const absl::Status submitted =
        service_->pool_->Submit([this] { Pump(); });
    if (submitted.ok()) return false;
    Action next;
    {
      absl::MutexLock lock(&mu_);
      pump_scheduled_ = false;
      if (!finish_wanted_.has_value()) {
        finish_wanted_ = ToGrpcStatus(absl::UnavailableError(
            absl::StrCat(submitted.message(), "; resume after sequence ",
                         cursor_)));
      }
      if (done_) return true;
      next = NextActionLocked();
    }
    return Perform(next);
  }

  // Called by Planning on the writer's thread after each commit to org_,
  // under the Notifier's lock. Returns Perform's verdict.
  [[nodiscard]] bool OnCommit() {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      more_ = true;
      action = NextActionLocked();
    }
    return Perform(action);
  }

  // On a worker: reads the next batch into pending_.
  void Pump() {
    int64_t after = 0;
    bool subscribe = false;
    bool skip = false;
    {
      absl::MutexLock lock(&mu_);
      skip = finished_ || finish_wanted_.has_value() || done_;
      after = cursor_;
      more_ = false;
      subscribe = !subscription_.has_value();
    }
    std::vector<v1::PlanChange> batch;
    int64_t last = after;
    absl::Status status;
    bool full = false;
    if (!skip) {
      // Subscribe before reading, so a commit in between is not missed.
      if (subscribe) {
        const int64_t handle = service_->planning_->Subscribe(
            org_, [notifier = notifier_] {
              WatchReactor* reactor = nullptr;
              {
                absl::MutexLock lock(&notifier->mu);
                if (notifier->reactor == nullptr ||
                    !notifier->reactor->OnCommit()) {
                  return;
                }
                reactor = notifier->reactor;
              }
              // Planning forbids calling back into it from here, so the
              // (now inert) subscription stays until the server stops.
              reactor->Cleanup(/*unsubscribe=*/false);
            });
        absl::MutexLock lock(&mu_);
        subscription_ = handle;
      }
      absl::StatusOr<Planning::ChangeBatch> read =
          service_->planning_->ListPlanChanges(org_, after, kWatchBatch);
      if (!read.ok()) {
        status = read.status();
      } else {
        full = static_cast<int>(read->changes.size()) >= kWatchBatch;
        for (const StoredChange& stored : read->changes) {
          last = stored.sequence;
          if (!Wanted(kinds_, stored.kind)) continue;
          batch.emplace_back();
          status = ParseChange(stored, &batch.back());
          if (!status.ok()) break;
        }
      }
    }
    Action action;
    bool cleanup = false;
    {
      absl::MutexLock lock(&mu_);
      if (!skip) {
        if (!status.ok()) {
          if (!finish_wanted_.has_value()) {
            finish_wanted_ = ToGrpcStatus(status);
          }
        } else {
          cursor_ = last;
          if (full) more_ = true;
          for (v1::PlanChange& change : batch) {
            pending_.push_back(std::move(change));
          }
        }
      }
      pump_scheduled_ = false;
      cleanup = done_;
      if (!cleanup) action = NextActionLocked();
    }
    if (cleanup || Perform(action)) Cleanup();
  }

  // After OnDone, with no pump left: stop notifications and free.
  void Cleanup(bool unsubscribe = true) {
    {
      absl::MutexLock lock(&notifier_->mu);
      notifier_->reactor = nullptr;
    }
    std::optional<int64_t> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = subscription_;
    }
    if (unsubscribe && subscription.has_value()) {
      service_->planning_->Unsubscribe(org_, *subscription);
    }
    // The last use of the service: WaitForStreams() may return after it.
    {
      absl::MutexLock lock(&service_->mu_);
      service_->watches_.erase(this);
    }
    delete this;
  }

  PlanningGrpcService* const service_;
  const std::string org_;
  const absl::flat_hash_set<ResourceKind> kinds_;
  const std::shared_ptr<Notifier> notifier_ = std::make_shared<Notifier>();

  absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_);  // last sequence read
  std::deque<v1::PlanChange> pending_ ABSL_GUARDED_BY(mu_);
  v1::PlanChange writing_ ABSL_GUARDED_BY(mu_);  // owned until OnWriteDone
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_scheduled_ ABSL_GUARDED_BY(mu_) = false;  // queued or running
  bool more_ ABSL_GUARDED_BY(mu_) = true;  // entries may follow cursor_
  std::optional<int64_t> subscription_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_wanted_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish called
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // OnDone called
};

// --- The service ------------------------------------------------------------

PlanningGrpcService::PlanningGrpcService(Planning* planning, WorkerPool* pool,
                                         const Authenticator& auth)
    : planning_(planning), pool_(pool), auth_(auth) {}

PlanningGrpcService::~PlanningGrpcService() = default;

void PlanningGrpcService::StopStreams() {
  // Held while ending each stream so that none is deleted meanwhile
  // (Cleanup takes mu_ before it deletes; gRPC never runs OnDone inside
  // Finish). Ending a stream that already finished does nothing.
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (WatchReactor* watch : watches_) {
    watch->End(ToGrpcStatus(absl::UnavailableError(absl::StrCat(
        "server shutting down; resume WatchPlanChanges after sequence ",
        watch->cursor(), " (the last one received)"))));
  }
}

bool PlanningGrpcService::WaitForStreams(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto none_left = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return watches_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&none_left), timeout);
}

int PlanningGrpcService::live_streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watches_.size());
}

template <typename Fn>
grpc::ServerUnaryReactor* PlanningGrpcService::WithOrganisation(
    grpc::CallbackServerContext* context, Role required, Fn fn) {
  // On gRPC's thread: Authorize only compares digests (and at most once a
  // second stats the tokens file), so a refused call never takes a worker.
  absl::StatusOr<Caller> caller = auth_.Authorize(*context, required);
  if (!caller.ok()) return Refuse(context, caller.status());
  return RunUnary(
      context, *pool_,
      [fn = std::move(fn), org = std::move(caller->organisation_id)]() mutable {
        return fn(org);
      });
}

// --- Organisation ------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::BootstrapOrganisation(
    grpc::CallbackServerContext* context,
    const v1::BootstrapOrganisationRequest* request,
    v1::Organisation* response) {
  // The one call whose body names the organisation: an admin token may
  // bootstrap only its own, a service token any.
  absl::StatusOr<Caller> caller =
      auth_.AuthorizeFor(*context, Role::kAdmin, request->organisation_id());
  if (!caller.ok()) return Refuse(context, caller.status());
  return RunUnary(context, *pool_, [this, request, response]() -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
    Organisation organisation;
    OKR_RETURN_IF_ERROR(
        FromProto(request->organisation(), "organisation", &organisation));
    OKR_ASSIGN_OR_RETURN(
        Organisation created,
        planning_->BootstrapOrganisation(request->organisation_id(),
                                         std::move(organisation), key));
    *response = ToProto(created);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetOrganisation(
    grpc::CallbackServerContext* context, const v1::GetOrganisationRequest*,
    v1::Organisation* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Organisation organisation,
                             planning_->GetOrganisation(org));
        *response = ToProto(organisation);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateOrganisation(
    grpc::CallbackServerContext* context,
    const v1::UpdateOrganisationRequest* request, v1::Organisation* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        Organisation values;
        OKR_RETURN_IF_ERROR(
            FromProto(request->organisation(), "organisation", &values));
        OKR_ASSIGN_OR_RETURN(Organisation updated,
                             planning_->UpdateOrganisation(
                                 org, values, PathsOf(request->update_mask()),
                                 request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

// --- Teams ---------------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::CreateTeam(
    grpc::CallbackServerContext* context, const v1::CreateTeamRequest* request,
    v1::Team* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        Team team;
        OKR_RETURN_IF_ERROR(FromProto(request->team(), "team", &team));
        OKR_ASSIGN_OR_RETURN(Team created,
                             planning_->CreateTeam(org, std::move(team), key));
        *response = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetTeam(
    grpc::CallbackServerContext* context, const v1::GetTeamRequest* request,
    v1::Team* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Team team, planning_->GetTeam(org, request->id()));
        *response = ToProto(team);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListTeams(
    grpc::CallbackServerContext* context, const v1::ListTeamsRequest* request,
    v1::ListTeamsResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        TeamFilter filter;
        filter.parent_team_id = request->parent_team_id();
        filter.person_id = request->person_id();
        OKR_ASSIGN_OR_RETURN(
            Page<Team> page,
            planning_->ListTeams(
                org, filter,
                PageOf(request->page_size(), request->page_token())));
        FillPage(page, response, response->mutable_teams());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateTeam(
    grpc::CallbackServerContext* context, const v1::UpdateTeamRequest* request,
    v1::Team* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        Team values;
        OKR_RETURN_IF_ERROR(FromProto(request->team(), "team", &values));
        OKR_ASSIGN_OR_RETURN(
            Team updated,
            planning_->UpdateTeam(org, values, PathsOf(request->update_mask()),
                                  request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::DeleteTeam(
    grpc::CallbackServerContext* context, const v1::DeleteTeamRequest* request,
    google::protobuf::Empty*) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request](const std::string& org) -> absl::Status {
        return planning_->DeleteTeam(org, request->id(), request->version());
      });
}

// --- People --------------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::CreatePerson(
    grpc::CallbackServerContext* context,
    const v1::CreatePersonRequest* request, v1::Person* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        Person person;
        OKR_RETURN_IF_ERROR(FromProto(request->person(), "person", &person));
        OKR_ASSIGN_OR_RETURN(Person created, planning_->CreatePerson(
                                                 org, std::move(person), key));
        *response = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetPerson(
    grpc::CallbackServerContext* context, const v1::GetPersonRequest* request,
    v1::Person* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Person person,
                             planning_->GetPerson(org, request->id()));
        *response = ToProto(person);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListPeople(
    grpc::CallbackServerContext* context, const v1::ListPeopleRequest* request,
    v1::ListPeopleResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        PersonFilter filter;
        filter.team_id = request->team_id();
        filter.email = request->email();
        OKR_ASSIGN_OR_RETURN(
            Page<Person> page,
            planning_->ListPeople(
                org, filter,
                PageOf(request->page_size(), request->page_token())));
        FillPage(page, response, response->mutable_people());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdatePerson(
    grpc::CallbackServerContext* context,
    const v1::UpdatePersonRequest* request, v1::Person* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        Person values;
        OKR_RETURN_IF_ERROR(FromProto(request->person(), "person", &values));
        OKR_ASSIGN_OR_RETURN(Person updated,
                             planning_->UpdatePerson(
                                 org, values, PathsOf(request->update_mask()),
                                 request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::DeletePerson(
    grpc::CallbackServerContext* context,
    const v1::DeletePersonRequest* request, google::protobuf::Empty*) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request](const std::string& org) -> absl::Status {
        return planning_->DeletePerson(org, request->id(), request->version());
      });
}

// --- Cycles --------------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::CreateCycle(
    grpc::CallbackServerContext* context, const v1::CreateCycleRequest* request,
    v1::Cycle* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        Cycle cycle;
        OKR_RETURN_IF_ERROR(FromProto(request->cycle(), "cycle", &cycle));
        OKR_ASSIGN_OR_RETURN(
            Cycle created, planning_->CreateCycle(org, std::move(cycle), key));
        *response = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::CreateFiscalYear(
    grpc::CallbackServerContext* context,
    const v1::CreateFiscalYearRequest* request,
    v1::CreateFiscalYearResponse* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        std::optional<int> grace_days;
        if (request->has_check_in_grace_days()) {
          grace_days = request->check_in_grace_days();
        }
        OKR_ASSIGN_OR_RETURN(FiscalYear year,
                             planning_->CreateFiscalYear(
                                 org, request->fiscal_year(),
                                 request->include_months(), grace_days, key));
        *response->mutable_year() = ToProto(year.year);
        for (const Cycle& quarter : year.quarters) {
          *response->add_quarters() = ToProto(quarter);
        }
        for (const Cycle& month : year.months) {
          *response->add_months() = ToProto(month);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetCycle(
    grpc::CallbackServerContext* context, const v1::GetCycleRequest* request,
    v1::Cycle* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Cycle cycle,
                             planning_->GetCycle(org, request->id()));
        *response = ToProto(cycle);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListCycles(
    grpc::CallbackServerContext* context, const v1::ListCyclesRequest* request,
    v1::ListCyclesResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        CycleFilter filter;
        OKR_RETURN_IF_ERROR(FromProto(request->kind(), "kind", &filter.kind));
        OKR_RETURN_IF_ERROR(
            FromProto(request->state(), "state", &filter.state));
        filter.parent_cycle_id = request->parent_cycle_id();
        if (request->has_contains_date()) {
          absl::CivilDay day;
          OKR_RETURN_IF_ERROR(
              FromProto(request->contains_date(), "contains_date", &day));
          filter.contains_day = day;
        }
        OKR_ASSIGN_OR_RETURN(
            Page<Cycle> page,
            planning_->ListCycles(
                org, filter,
                PageOf(request->page_size(), request->page_token())));
        FillPage(page, response, response->mutable_cycles());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateCycle(
    grpc::CallbackServerContext* context, const v1::UpdateCycleRequest* request,
    v1::Cycle* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        Cycle values;
        OKR_RETURN_IF_ERROR(FromProto(request->cycle(), "cycle", &values));
        OKR_ASSIGN_OR_RETURN(
            Cycle updated,
            planning_->UpdateCycle(org, values, PathsOf(request->update_mask()),
                                   request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateCycleState(
    grpc::CallbackServerContext* context,
    const v1::UpdateCycleStateRequest* request, v1::Cycle* response) {
  return WithOrganisation(
      context, Role::kAdmin,
      [this, request, response](const std::string& org) -> absl::Status {
        CycleState state;
        OKR_RETURN_IF_ERROR(FromProto(request->state(), "state", &state));
        OKR_ASSIGN_OR_RETURN(
            Cycle updated, planning_->UpdateCycleState(
                               org, request->id(), state, request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

// --- Objectives ----------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::CreateObjective(
    grpc::CallbackServerContext* context,
    const v1::CreateObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        Objective objective;
        OKR_RETURN_IF_ERROR(
            FromProto(request->objective(), "objective", &objective));
        OKR_ASSIGN_OR_RETURN(
            Objective created,
            planning_->CreateObjective(org, std::move(objective), key));
        *response = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetObjective(
    grpc::CallbackServerContext* context,
    const v1::GetObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Objective objective,
                             planning_->GetObjective(org, request->id()));
        *response = ToProto(objective);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListObjectives(
    grpc::CallbackServerContext* context,
    const v1::ListObjectivesRequest* request,
    v1::ListObjectivesResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        ObjectiveFilter filter;
        filter.cycle_id = request->cycle_id();
        OKR_RETURN_IF_ERROR(
            FromProto(request->level(), "level", &filter.level));
        filter.owner_id = request->owner_id();
        filter.team_id = request->team_id();
        OKR_RETURN_IF_ERROR(
            FromProto(request->state(), "state", &filter.state));
        filter.parent_objective_id = request->parent_objective_id();
        filter.breakdown_of_objective_id = request->breakdown_of_objective_id();
        OKR_ASSIGN_OR_RETURN(
            Page<Objective> page,
            planning_->ListObjectives(
                org, filter,
                PageOf(request->page_size(), request->page_token())));
        FillPage(page, response, response->mutable_objectives());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateObjective(
    grpc::CallbackServerContext* context,
    const v1::UpdateObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        Objective values;
        OKR_RETURN_IF_ERROR(
            FromProto(request->objective(), "objective", &values));
        OKR_ASSIGN_OR_RETURN(Objective updated,
                             planning_->UpdateObjective(
                                 org, values, PathsOf(request->update_mask()),
                                 request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ArchiveObjective(
    grpc::CallbackServerContext* context,
    const v1::ArchiveObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(Objective archived,
                             planning_->ArchiveObjective(org, request->id(),
                                                         request->version()));
        *response = ToProto(archived);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::DeleteObjective(
    grpc::CallbackServerContext* context,
    const v1::DeleteObjectiveRequest* request, google::protobuf::Empty*) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request](const std::string& org) -> absl::Status {
        return planning_->DeleteObjective(org, request->id(),
                                          request->version());
      });
}

// --- Key results ---------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::CreateKeyResult(
    grpc::CallbackServerContext* context,
    const v1::CreateKeyResultRequest* request, v1::KeyResult* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        KeyResult key_result;
        OKR_RETURN_IF_ERROR(
            FromProto(request->key_result(), "key_result", &key_result));
        OKR_ASSIGN_OR_RETURN(
            KeyResult created,
            planning_->CreateKeyResult(org, std::move(key_result), key));
        *response = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetKeyResult(
    grpc::CallbackServerContext* context,
    const v1::GetKeyResultRequest* request, v1::KeyResult* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(KeyResult key_result,
                             planning_->GetKeyResult(org, request->id()));
        *response = ToProto(key_result);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListKeyResults(
    grpc::CallbackServerContext* context,
    const v1::ListKeyResultsRequest* request,
    v1::ListKeyResultsResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        KeyResultFilter filter;
        filter.objective_id = request->objective_id();
        filter.owner_id = request->owner_id();
        filter.cycle_id = request->cycle_id();
        filter.include_archived = request->include_archived();
        OKR_ASSIGN_OR_RETURN(
            Page<KeyResult> page,
            planning_->ListKeyResults(
                org, filter,
                PageOf(request->page_size(), request->page_token())));
        FillPage(page, response, response->mutable_key_results());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UpdateKeyResult(
    grpc::CallbackServerContext* context,
    const v1::UpdateKeyResultRequest* request, v1::KeyResult* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        KeyResult values;
        OKR_RETURN_IF_ERROR(
            FromProto(request->key_result(), "key_result", &values));
        OKR_ASSIGN_OR_RETURN(KeyResult updated,
                             planning_->UpdateKeyResult(
                                 org, values, PathsOf(request->update_mask()),
                                 request->version()));
        *response = ToProto(updated);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ArchiveKeyResult(
    grpc::CallbackServerContext* context,
    const v1::ArchiveKeyResultRequest* request, v1::KeyResult* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(KeyResult archived,
                             planning_->ArchiveKeyResult(org, request->id(),
                                                         request->version()));
        *response = ToProto(archived);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::DeleteKeyResult(
    grpc::CallbackServerContext* context,
    const v1::DeleteKeyResultRequest* request, google::protobuf::Empty*) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request](const std::string& org) -> absl::Status {
        return planning_->DeleteKeyResult(org, request->id(),
                                          request->version());
      });
}

// --- Alignment -----------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::AlignObjective(
    grpc::CallbackServerContext* context,
    const v1::AlignObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(
            Objective aligned,
            planning_->AlignObjective(org, request->objective_id(),
                                      request->parent_objective_id(),
                                      request->weight(), request->version()));
        *response = ToProto(aligned);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::CascadeKeyResult(
    grpc::CallbackServerContext* context,
    const v1::CascadeKeyResultRequest* request,
    v1::CascadeKeyResultResponse* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        Objective child;
        OKR_RETURN_IF_ERROR(
            FromProto(request->objective(), "objective", &child));
        OKR_ASSIGN_OR_RETURN(Objective created,
                             planning_->CascadeKeyResult(
                                 org, request->key_result_id(),
                                 std::move(child), request->weight(), key));
        *response->mutable_objective() = ToProto(created);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::UnalignObjective(
    grpc::CallbackServerContext* context,
    const v1::UnalignObjectiveRequest* request, v1::Objective* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(
            Objective unaligned,
            planning_->UnalignObjective(org, request->objective_id(),
                                        request->version()));
        *response = ToProto(unaligned);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::BreakDownObjective(
    grpc::CallbackServerContext* context,
    const v1::BreakDownObjectiveRequest* request,
    v1::BreakDownObjectiveResponse* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        std::vector<BreakdownItem> items;
        items.reserve(request->items_size());
        for (int i = 0; i < request->items_size(); ++i) {
          const v1::BreakdownItem& in = request->items(i);
          BreakdownItem item;
          item.cycle_id = in.cycle_id();
          item.title = in.title();
          item.description = in.description();
          item.owner_id = in.owner_id();
          OKR_RETURN_IF_ERROR(FromProto(
              in.kind(), absl::StrCat("items[", i, "].kind"), &item.kind));
          items.push_back(std::move(item));
        }
        OKR_ASSIGN_OR_RETURN(
            std::vector<Objective> created,
            planning_->BreakDownObjective(org, request->objective_id(), items,
                                          request->align(), key));
        for (const Objective& objective : created) {
          *response->add_objectives() = ToProto(objective);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetAlignmentTree(
    grpc::CallbackServerContext* context,
    const v1::GetAlignmentTreeRequest* request, v1::AlignmentTree* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        AlignmentTreeQuery query;
        query.cycle_id = request->cycle_id();
        query.root_objective_id = request->root_objective_id();
        query.include_archived = request->include_archived();
        query.exclude_key_results = request->exclude_key_results();
        OKR_ASSIGN_OR_RETURN(AlignmentTree tree,
                             planning_->GetAlignmentTree(org, query));
        for (const Objective& objective : tree.objectives) {
          *response->add_objectives() = ToProto(objective);
        }
        for (const KeyResult& key_result : tree.key_results) {
          *response->add_key_results() = ToProto(key_result);
        }
        for (const AlignmentLink& link : tree.links) {
          *response->add_links() = LinkToProto(link);
        }
        for (const Id& id : tree.root_objective_ids) {
          response->add_root_objective_ids(id);
        }
        response->set_sequence(tree.sequence);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::RollOverObjectives(
    grpc::CallbackServerContext* context,
    const v1::RollOverObjectivesRequest* request,
    v1::RollOverObjectivesResponse* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        std::vector<RollOverItem> items;
        items.reserve(request->items_size());
        for (const v1::RollOverItem& in : request->items()) {
          RollOverItem item;
          item.objective_id = in.objective_id();
          item.key_result_ids.assign(in.key_result_ids().begin(),
                                     in.key_result_ids().end());
          items.push_back(std::move(item));
        }
        OKR_ASSIGN_OR_RETURN(RollOverResult result,
                             planning_->RollOverObjectives(
                                 org, request->target_cycle_id(), items,
                                 request->keep_alignment(), key));
        for (const Objective& objective : result.objectives) {
          *response->add_objectives() = ToProto(objective);
        }
        for (const KeyResult& key_result : result.key_results) {
          *response->add_key_results() = ToProto(key_result);
        }
        return absl::OkStatus();
      });
}

// --- Editing help --------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::Lint(
    grpc::CallbackServerContext* context, const v1::LintRequest* request,
    v1::LintResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        LintQuery query;
        switch (request->scope_case()) {
          case v1::LintRequest::kObjectiveId:
            query.scope = LintScope::kObjective;
            query.objective_id = request->objective_id();
            break;
          case v1::LintRequest::kOwnerCycle:
            query.scope = LintScope::kOwnerCycle;
            query.owner_id = request->owner_cycle().owner_id();
            query.cycle_id = request->owner_cycle().cycle_id();
            break;
          case v1::LintRequest::kOrganisation:
            query.scope = LintScope::kOrganisation;
            query.cycle_id = request->organisation().cycle_id();
            break;
          case v1::LintRequest::SCOPE_NOT_SET:
            return MakeInvalidArgument(
                {{"scope",
                  "required: set objective_id, owner_cycle or organisation"}});
        }
        OKR_RETURN_IF_ERROR(
            FromProto(static_cast<int>(request->minimum_severity()),
                      "minimum_severity", &query.minimum_severity));
        query.disabled_rule_ids.assign(request->disabled_rule_ids().begin(),
                                       request->disabled_rule_ids().end());
        query.max_findings = request->max_findings();
        OKR_ASSIGN_OR_RETURN(LintResult result, planning_->Lint(org, query));
        for (const Finding& finding : result.findings) {
          *response->add_findings() = ToProto(finding);
        }
        response->set_truncated(result.truncated);
        response->set_objectives_checked(result.objectives_checked);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListLintRules(
    grpc::CallbackServerContext* context,
    const v1::ListLintRulesRequest* request,
    v1::ListLintRulesResponse* response) {
  if (absl::Status allowed = auth_.AuthorizeUnscoped(*context, Role::kReader);
      !allowed.ok()) {
    return Refuse(context, allowed);
  }
  return RunUnary(context, *pool_, [this, request, response]() -> absl::Status {
    OKR_ASSIGN_OR_RETURN(
        Page<LintRule> page,
        planning_->ListLintRules(
            PageOf(request->page_size(), request->page_token())));
    for (const LintRule& rule : page.items) {
      *response->add_rules() = LintRuleToProto(rule);
    }
    response->set_next_page_token(page.next_page_token);
    response->set_total_size(page.total_size);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PlanningGrpcService::GetPlanningTimeline(
    grpc::CallbackServerContext* context,
    const v1::GetPlanningTimelineRequest* request,
    v1::GetPlanningTimelineResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        PlanningProfile profile;
        OKR_RETURN_IF_ERROR(FromProto(request->planning_profile(),
                                      "planning_profile", &profile));
        OKR_ASSIGN_OR_RETURN(PlanningTimelineResult timeline,
                             planning_->GetPlanningTimeline(
                                 org, request->fiscal_year(), profile));
        *response->mutable_fiscal_year_start() =
            ToProto(timeline.fiscal_year_start);
        response->set_planning_profile(ToProto(timeline.profile));
        for (const PlanningMilestone& milestone : timeline.milestones) {
          *response->add_milestones() = ToProto(milestone);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ListTemplates(
    grpc::CallbackServerContext* context,
    const v1::ListTemplatesRequest* request,
    v1::ListTemplatesResponse* response) {
  if (absl::Status allowed = auth_.AuthorizeUnscoped(*context, Role::kReader);
      !allowed.ok()) {
    return Refuse(context, allowed);
  }
  return RunUnary(context, *pool_, [this, request, response]() -> absl::Status {
    TemplateFilter filter;
    Category category;
    OKR_RETURN_IF_ERROR(FromProto(request->category(), "category", &category));
    // CATEGORY_NONE is the zero value: as a filter it means "any".
    if (category != Category::kNone) filter.category = category;
    filter.function = request->function();
    OKR_ASSIGN_OR_RETURN(
        Page<OkrTemplate> page,
        planning_->ListTemplates(
            filter, PageOf(request->page_size(), request->page_token())));
    for (const OkrTemplate& value : page.items) {
      *response->add_templates() = TemplateToProto(value);
    }
    response->set_next_page_token(page.next_page_token);
    response->set_total_size(page.total_size);
    return absl::OkStatus();
  });
}

// --- Spreadsheet migration -------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::ImportPlanCsv(
    grpc::CallbackServerContext* context,
    const v1::ImportPlanCsvRequest* request,
    v1::ImportPlanCsvResponse* response) {
  return WithOrganisation(
      context, Role::kWriter,
      [this, request, response](const std::string& org) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const RequestKey key, KeyOf(*request));
        OKR_ASSIGN_OR_RETURN(ImportResult result,
                             planning_->ImportPlanCsv(org, request->csv(),
                                                      request->default_cycle(),
                                                      request->dry_run(), key));
        response->set_objectives_created(result.objectives_created);
        response->set_key_results_created(result.key_results_created);
        for (const CsvRowError& error : result.errors) {
          v1::CsvRowError* out = response->add_errors();
          out->set_row(error.row);
          out->set_column(error.column);
          out->set_reason(error.reason);
        }
        for (const Id& id : result.objective_ids)
          response->add_objective_ids(id);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PlanningGrpcService::ExportPlanCsv(
    grpc::CallbackServerContext* context,
    const v1::ExportPlanCsvRequest* request,
    v1::ExportPlanCsvResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        ExportFilter filter;
        filter.cycle_id = request->cycle_id();
        filter.owner_id = request->owner_id();
        filter.team_id = request->team_id();
        filter.include_archived = request->include_archived();
        OKR_ASSIGN_OR_RETURN(ExportResult result,
                             planning_->ExportPlanCsv(org, filter));
        response->set_csv(std::move(result.csv));
        response->set_row_count(result.row_count);
        return absl::OkStatus();
      });
}

// --- Change feed -----------------------------------------------------------------

grpc::ServerUnaryReactor* PlanningGrpcService::ListPlanChanges(
    grpc::CallbackServerContext* context,
    const v1::ListPlanChangesRequest* request,
    v1::ListPlanChangesResponse* response) {
  return WithOrganisation(
      context, Role::kReader,
      [this, request, response](const std::string& org) -> absl::Status {
        int64_t cursor = request->after_sequence();
        if (!request->page_token().empty()) {
          OKR_ASSIGN_OR_RETURN(cursor,
                               DecodeChangePageToken(request->page_token()));
        } else if (cursor < 0) {
          return MakeInvalidArgument(
              {{"after_sequence",
                absl::StrCat("must not be negative, got ", cursor)}});
        }
        if (request->page_size() < 0) {
          return MakeInvalidArgument(
              {{"page_size", absl::StrCat("must not be negative, got ",
                                          request->page_size())}});
        }
        const int limit =
            request->page_size() == 0
                ? kDefaultChangePageSize
                : std::min<int>(request->page_size(), kMaxChangePageSize);
        OKR_ASSIGN_OR_RETURN(
            const auto kinds,
            KindsOf(request->resource_kinds(), "resource_kinds"));

        int64_t latest = 0;
        for (int scan = 0; scan < kMaxChangeScanPages; ++scan) {
          OKR_ASSIGN_OR_RETURN(Planning::ChangeBatch batch,
                               planning_->ListPlanChanges(org, cursor, limit));
          latest = batch.latest_sequence;
          bool page_full = false;
          for (const StoredChange& stored : batch.changes) {
            cursor = stored.sequence;
            if (!Wanted(kinds, stored.kind)) continue;
            OKR_RETURN_IF_ERROR(ParseChange(stored, response->add_changes()));
            if (response->changes_size() >= limit) {
              page_full = true;
              break;
            }
          }
          if (page_full || batch.changes.empty() || cursor >= latest) break;
        }
        response->set_latest_sequence(latest);
        if (cursor < latest) {
          response->set_next_page_token(EncodeChangePageToken(cursor));
        }
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::PlanChange>* PlanningGrpcService::WatchPlanChanges(
    grpc::CallbackServerContext* context,
    const v1::WatchPlanChangesRequest* request) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*context, Role::kReader);
  if (!caller.ok()) {
    return new ErrorWriteReactor(ToGrpcStatus(caller.status()));
  }
  if (request->after_sequence() < 0) {
    return new ErrorWriteReactor(ToGrpcStatus(MakeInvalidArgument(
        {{"after_sequence", absl::StrCat("must not be negative, got ",
                                         request->after_sequence())}})));
  }
  absl::StatusOr<absl::flat_hash_set<ResourceKind>> kinds =
      KindsOf(request->resource_kinds(), "resource_kinds");
  if (!kinds.ok()) return new ErrorWriteReactor(ToGrpcStatus(kinds.status()));

  auto* watch = new WatchReactor(this, std::move(caller->organisation_id),
                                 request->after_sequence(), *std::move(kinds));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      delete watch;
      return new ErrorWriteReactor(ToGrpcStatus(absl::UnavailableError(
          "server shutting down; retry WatchPlanChanges on another replica "
          "or after the restart")));
    }
    watches_.insert(watch);
  }
  watch->Begin();
  return watch;
}

}  // namespace okr::planning
