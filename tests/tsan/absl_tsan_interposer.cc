// ThreadSanitizer builds only (QG_TSAN): makes the system abseil's
// synchronisation visible to TSan.
//
// Debian's libabsl_synchronization.so is prebuilt without TSan: absl::Mutex
// parks threads on futexes, not pthread objects, so TSan's interceptors never
// see a lock, and every access guarded by an absl::Mutex would be reported as
// a race. This file, linked into each test binary, defines the entry points
// our code calls (absl::Mutex, absl::CondVar, absl::Notification) itself: each
// announces the operation to TSan with the mutex annotations of
// <sanitizer/tsan_interface.h> (the ones abseil itself uses when it is built
// with TSan) and calls the library's function, found with dlsym(RTLD_NEXT).
// The executable's definitions win over the shared library's for every call
// made from the executable; calls inside abseil stay unannotated.
//
// absl::Status shares its message by a reference count whose last decrement
// (in libabsl_status.so, uninstrumented) frees it: Status::UnrefNonInlined is
// wrapped the same way, or every Status copied across threads would show
// its free racing with the other owners' reads.
//
// Conditions (Await, LockWhen, ...) are evaluated by abseil while the mutex is
// really held — by the waiting thread inside Await, where TSan has been told
// the mutex is released, or by the thread that unlocks it: each is wrapped so
// its evaluation acquires the mutex's clock before and releases it after.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#define QG_STR2(x) #x
#define QG_STR(x) QG_STR2(x)

namespace {

// "_ZN" + "4absl" + <inline namespace> + `rest` ("_ZNK" for const members).
template <typename F>
F Real(bool is_const, const char* rest) {
  const std::string ns = QG_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string(is_const ? "_ZNK" : "_ZN") + "4absl" + std::to_string(ns.size()) + ns + rest;
  void* f = dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr, "absl_tsan_interposer: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

#define QG_REAL(type, rest) static const auto real = Real<type>(false, rest)
#define QG_REAL_CONST(type, rest) static const auto real = Real<type>(true, rest)

// TSan's view: the mutex is released across a wait and held again after.
void AnnotateUnlock(const void* mu, unsigned flags) {
  __tsan_mutex_pre_unlock(const_cast<void*>(mu), flags);
  __tsan_mutex_post_unlock(const_cast<void*>(mu), flags);
}
void AnnotateLock(const void* mu, unsigned flags) {
  __tsan_mutex_pre_lock(const_cast<void*>(mu), flags);
  __tsan_mutex_post_lock(const_cast<void*>(mu), flags, 0);
}

// A condition evaluated under `mu` (by whichever thread holds it).
struct GuardedCondition {
  const absl::Condition* cond;
  const absl::Mutex* mu;
  static bool Eval(void* arg) {
    auto* self = static_cast<GuardedCondition*>(arg);
    void* mu = const_cast<absl::Mutex*>(self->mu);
    __tsan_acquire(mu);
    const bool result = self->cond->Eval();
    // Whoever takes the mutex next does so after this evaluation.
    __tsan_release(mu);
    return result;
  }
};

// abseil's own debug deadlock detector keeps a global graph of every mutex
// behind an uninstrumented spinlock; its bookkeeping (memmove, seen by TSan's
// interceptors) would show as races between unrelated mutexes. It is turned
// off before main(): TSan's own lock-order checking, fed by the annotations
// below, takes its place.
const bool kAbslDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// ---- Mutex ----------------------------------------------------------------

Mutex::~Mutex() {
  QG_REAL(void (*)(Mutex*), "5MutexD1Ev");
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  QG_REAL(void (*)(Mutex*), "5Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  QG_REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::TryLock() {
  QG_REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool ok = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (ok ? 0 : __tsan_mutex_try_lock_failed), 0);
  return ok;
}

bool Mutex::ReaderTryLock() {
  QG_REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  const bool ok = real(this);
  __tsan_mutex_post_lock(this, flags | (ok ? 0 : __tsan_mutex_try_lock_failed), 0);
  return ok;
}

void Mutex::Unlock() {
  QG_REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  QG_REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

// Await*: called with the mutex held (our code holds it exclusively); it is
// released while waiting and held again on return.
void Mutex::Await(const Condition& cond) {
  QG_REAL(void (*)(Mutex*, const Condition&), "5Mutex5AwaitERKNS0_9ConditionE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  AnnotateUnlock(this, 0);
  real(this, guarded);
  AnnotateLock(this, 0);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
          "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  AnnotateUnlock(this, 0);
  const bool ok = real(this, guarded, timeout);
  AnnotateLock(this, 0);
  return ok;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
          "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  AnnotateUnlock(this, 0);
  const bool ok = real(this, guarded, deadline);
  AnnotateLock(this, 0);
  return ok;
}

void Mutex::LockWhen(const Condition& cond) {
  QG_REAL(void (*)(Mutex*, const Condition&), "5Mutex8LockWhenERKNS0_9ConditionE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, 0);
  real(this, guarded);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  QG_REAL(void (*)(Mutex*, const Condition&), "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this, guarded);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
          "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, 0);
  const bool ok = real(this, guarded, timeout);  // held either way
  __tsan_mutex_post_lock(this, 0, 0);
  return ok;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
          "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, 0);
  const bool ok = real(this, guarded, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return ok;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
          "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  const bool ok = real(this, guarded, timeout);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return ok;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  QG_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
          "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition g{&cond, this};
  const Condition guarded(&GuardedCondition::Eval, &g);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  const bool ok = real(this, guarded, deadline);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return ok;
}

// ---- CondVar ----------------------------------------------------------------
// Wait releases `mu` and holds it again on return; Signal releases the
// condition variable's own clock, which a returning Wait acquires.

void CondVar::Wait(Mutex* mu) {
  QG_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  AnnotateUnlock(mu, 0);
  real(this, mu);
  AnnotateLock(mu, 0);
  __tsan_acquire(this);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  QG_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
          "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  AnnotateUnlock(mu, 0);
  const bool timed_out = real(this, mu, timeout);
  AnnotateLock(mu, 0);
  __tsan_acquire(this);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  QG_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
          "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  AnnotateUnlock(mu, 0);
  const bool timed_out = real(this, mu, deadline);
  AnnotateLock(mu, 0);
  __tsan_acquire(this);
  return timed_out;
}

void CondVar::Signal() {
  QG_REAL(void (*)(CondVar*), "7CondVar6SignalEv");
  __tsan_release(this);
  real(this);
}

void CondVar::SignalAll() {
  QG_REAL(void (*)(CondVar*), "7CondVar9SignalAllEv");
  __tsan_release(this);
  real(this);
}

// ---- Notification -----------------------------------------------------------
// Notify releases the notification's clock; WaitFor* acquires it.
// (HasBeenNotified() is inline and cannot be wrapped: our code does not use
// absl::Notification; code that polls it would need its own annotation.)

void Notification::Notify() {
  QG_REAL(void (*)(Notification*), "12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  QG_REAL_CONST(void (*)(const Notification*), "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  QG_REAL_CONST(bool (*)(const Notification*, absl::Duration),
                "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  QG_REAL_CONST(bool (*)(const Notification*, absl::Time),
                "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

// ---- Status -------------------------------------------------------------------
// Each unref is an acq_rel decrement: it releases this owner's accesses, and
// the owner whose decrement frees the message acquires every earlier one's.

void Status::UnrefNonInlined(uintptr_t rep) {
  QG_REAL(void (*)(uintptr_t), "6Status15UnrefNonInlinedEm");
  void* shared = RepToPointer(rep);
  __tsan_release(shared);
  __tsan_acquire(shared);
  real(rep);
}

ABSL_NAMESPACE_END
}  // namespace absl
