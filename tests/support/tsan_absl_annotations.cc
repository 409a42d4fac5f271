// ThreadSanitizer annotations for Debian's Abseil, linked into test executables of
// the OKR_TSAN build only.
//
// Debian builds libabsl_synchronization without ThreadSanitizer, so TSan cannot see
// absl::Mutex's acquire and release: every field guarded by a Mutex reads as a data
// race. This file defines the Mutex and CondVar entry points in the executable, which
// takes precedence over the shared library's definitions (ELF symbol interposition,
// for our code and for gRPC's, whose locks are absl::Mutex too); each wrapper tells
// TSan about the acquire or release and calls the library's function found with
// dlsym(RTLD_NEXT). A Condition is evaluated with the mutex held but inside the
// library (by the waiter, or by whichever thread unlocks), so it is wrapped to
// acquire before and release after each evaluation. Lock-free handoffs inside
// uninstrumented libraries stay invisible; tests/tsan.supp names those.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Next(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_annotations: %s not found in Abseil\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// A Condition that tells TSan the mutex is held while `inner` is evaluated.
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& inner, absl::Mutex* mu) : inner_(inner), mu_(mu) {}
  absl::Condition condition() { return absl::Condition(&Eval, this); }

 private:
  static bool Eval(AnnotatedCondition* self) {
    __tsan_acquire(self->mu_);
    const bool result = self->inner_.Eval();
    __tsan_release(self->mu_);
    return result;
  }

  const absl::Condition& inner_;
  absl::Mutex* mu_;
};

// Abseil's deadlock detector keeps its graph under an internal SpinLock that TSan
// cannot see either; the ThreadSanitizer build checks races, the other builds keep
// the detector on.
const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

// The names below are mangled with Debian's inline namespace (debian3), so another
// Abseil fails at the first lock with the message above instead of silently.

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto next = Next<void (*)(Mutex*)>("_ZN4absl7debian35Mutex4LockEv");
  next(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static auto next = Next<void (*)(Mutex*)>("_ZN4absl7debian35Mutex10ReaderLockEv");
  next(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static auto next = Next<bool (*)(Mutex*)>("_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = next(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto next = Next<bool (*)(Mutex*)>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = next(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static auto next = Next<void (*)(Mutex*)>("_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  next(this);
}

void Mutex::ReaderUnlock() {
  static auto next = Next<void (*)(Mutex*)>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  next(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto next =
      Next<void (*)(Mutex*, const Condition&)>("_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  AnnotatedCondition annotated(cond, this);
  next(this, annotated.condition());
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto next = Next<void (*)(Mutex*, const Condition&)>(
      "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  AnnotatedCondition annotated(cond, this);
  next(this, annotated.condition());
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto next = Next<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition annotated(cond, this);
  const bool result = next(this, annotated.condition(), timeout);
  __tsan_acquire(this);  // held on return either way
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto next = Next<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition annotated(cond, this);
  const bool result = next(this, annotated.condition(), deadline);
  __tsan_acquire(this);
  return result;
}

void Mutex::Await(const Condition& cond) {
  static auto next =
      Next<void (*)(Mutex*, const Condition&)>("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  next(this, annotated.condition());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto next = Next<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = next(this, annotated.condition(), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto next = Next<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition annotated(cond, this);
  __tsan_release(this);
  const bool result = next(this, annotated.condition(), deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static auto next =
      Next<void (*)(CondVar*, Mutex*)>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  next(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto next = Next<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = next(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto next = Next<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = next(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
