// SPDX-License-Identifier: Apache-2.0
// Clang's thread-safety analysis (-Wthread-safety): attributes that let the
// compiler check, at every access, that a member is touched only with the
// lock that guards it held. Read with shardwal::Mutex (mutex.h), the only
// lock type they are used with; docs/design.md ("Lock annotations") lists the
// annotated classes. Under GCC (and any compiler without the attributes) the
// macros expand to nothing.
//
//   GUARDED_BY(mu)        the member is read and written only with mu held
//   PT_GUARDED_BY(mu)     what the pointer member points to, likewise
//   REQUIRES(mu)          the caller holds mu (the *Locked helpers)
//   REQUIRES_SHARED(mu)   the caller holds mu, at least shared
//   EXCLUDES(mu)          the caller does not hold mu (the function takes it)
//   ACQUIRE / RELEASE     the function takes / lets go of the capability
//   RETURN_CAPABILITY(mu) the function returns a reference to mu (an accessor)
//   ASSERT_CAPABILITY(mu) from here on, mu is known to be held
//   NO_THREAD_SAFETY_ANALYSIS  the function is not checked (say why)
//
// The names follow clang's documentation (and LevelDB's and abseil's
// thread_annotations.h), so the attributes read the same everywhere.
#pragma once

#if defined(__clang__)
#define SHARDWAL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SHARDWAL_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) SHARDWAL_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SHARDWAL_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) SHARDWAL_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SHARDWAL_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) SHARDWAL_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SHARDWAL_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) SHARDWAL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SHARDWAL_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) SHARDWAL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SHARDWAL_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SHARDWAL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SHARDWAL_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SHARDWAL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) SHARDWAL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) SHARDWAL_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) SHARDWAL_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS SHARDWAL_THREAD_ANNOTATION(no_thread_safety_analysis)
