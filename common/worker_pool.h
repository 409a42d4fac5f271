// A fixed set of worker threads with a bounded queue, for the blocking work
// (store, Redis, other services) that gRPC callback handlers must not do on
// gRPC's own threads (DESIGN.md section 8), and RunUnary(), the helper that
// runs a unary callback handler's body on such a pool.
//
// The queue is bounded on purpose: when every worker is busy and the queue is
// full, Submit() refuses the task at once instead of queueing without bound,
// so an overloaded server answers UNAVAILABLE ("retry with backoff") within
// microseconds rather than letting latency and memory grow until callers
// time out. Shutdown() stops taking tasks and runs every task already queued
// before it returns: a queued task is usually the only thing that will ever
// Finish() its RPC, and an unfinished reactor would make the gRPC server's
// shutdown hang. Tasks that should not run after their caller went away check
// that themselves (RunUnary checks the call's cancellation).
#ifndef OKR_COMMON_WORKER_POOL_H_
#define OKR_COMMON_WORKER_POOL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <deque>
#include <exception>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/request_context.h"

namespace okr {

struct WorkerPoolOptions {
  // Worker threads, at least 1.
  int threads = 4;
  // Tasks that may wait while every worker is busy (running ones are not
  // counted). A task an idle worker can take is always accepted, so 0 means
  // "never wait".
  int max_queued = 256;
  // Shown in the error a full pool returns, e.g. "planning".
  std::string name = "worker";
};

// Thread-safe. Destroying the pool calls Shutdown().
class WorkerPool {
 public:
  // Starts options.threads workers (values below 1 are raised to 1; a
  // negative max_queued counts as 0).
  explicit WorkerPool(WorkerPoolOptions options = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` to run once on a worker, in submission order. Returns
  // UNAVAILABLE without queueing when the queue already holds max_queued
  // tasks that no idle worker can take ("overloaded", retry with backoff) or
  // after Shutdown() began ("shutting down"); `task` is then destroyed
  // unrun. A task must not throw; one that does terminates the process.
  absl::Status Submit(absl::AnyInvocable<void()> task);

  // Stops accepting tasks, runs every task already queued, and joins the
  // workers. Idempotent; concurrent callers all wait. Must not be called
  // from a task (it would wait for itself).
  void Shutdown();

  // Tasks waiting for a worker / running right now; for tests and metrics.
  int queued() const;
  int running() const;
  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  void WorkerLoop();

  const WorkerPoolOptions options_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;  // serialises Shutdown()'s join
  bool joined_ ABSL_GUARDED_BY(join_mu_) = false;
  std::vector<std::thread> workers_;  // set in the constructor only
};

// Runs a unary callback handler's body on `pool` and finishes the call with
// its result, converted by okr::ToGrpcStatus (so field violations become
// BadRequest details). `fn` is called with no arguments on a worker, fills
// the response it captured, and returns absl::Status. A call past its
// deadline or cancelled before a worker picks it up is finished with
// DEADLINE_EXCEEDED / CANCELLED without running `fn`; a full or stopping
// pool finishes it at once with the pool's UNAVAILABLE status. An exception
// escaping `fn` becomes INTERNAL rather than leaving the call unfinished.
// While `fn` runs, the call's "x-request-id" is the thread's current request
// id (common/request_context.h).
// Use it as
//   grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* ctx,
//                                     const GetTeamRequest* req,
//                                     Team* resp) override {
//     return RunUnary(ctx, pool_, [=] { ... return absl::OkStatus(); });
//   }
// The request and response stay valid until the reactor finishes, so `fn`
// may capture their pointers.
template <class Fn>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context,
                                   WorkerPool& pool, Fn fn) {
  static_assert(std::is_invocable_r_v<absl::Status, Fn&>,
                "RunUnary's function must return absl::Status");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status submitted =
      pool.Submit([context, reactor, fn = std::move(fn)]() mutable {
        // The deadline is checked too: the server learns of an expired
        // or cancelled call asynchronously, possibly after a worker is free.
        if (context->deadline() <= std::chrono::system_clock::now()) {
          reactor->Finish(grpc::Status(
              grpc::StatusCode::DEADLINE_EXCEEDED,
              "the deadline passed while the call waited for a worker"));
          return;
        }
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status(
              grpc::StatusCode::CANCELLED,
              "the call was cancelled while it waited for a worker"));
          return;
        }
        absl::Status status;
        // The RPC interceptor (common/metrics.h) put the call's request id
        // into its metadata; log lines and calls to other services made by
        // `fn` carry it.
        ScopedRequestId request_id(RequestIdFromMetadata(context->client_metadata()));
        try {
          status = fn();
        } catch (const std::exception& e) {
          status = absl::InternalError(
              std::string("unexpected exception: ") + e.what());
        } catch (...) {
          status = absl::InternalError("unexpected exception");
        }
        reactor->Finish(ToGrpcStatus(status));
      });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
  return reactor;
}

}  // namespace okr

#endif  // OKR_COMMON_WORKER_POOL_H_
