/*
 * tsan.h: telling ThreadSanitizer (meson -Dtsan=true) what is racy by
 * design.
 *
 * Guest RAM is shared with the guest: its vCPUs read and write it while
 * the monitor, qtest, devices and migration do, without any lock, as on
 * real hardware.  Migration copes (dirty logging re-sends what changed),
 * so those races are the design, not bugs — but TSan cannot know that,
 * and would report every qtest write into RAM that a migration is
 * sending.  The guest-memory accesses of those paths are therefore
 * bracketed with TSAN_GUEST_RAM_BEGIN()/END(), which makes TSan ignore
 * the accesses in between (the annotations of TSan's runtime); every
 * other access, the migration code's own state included, stays checked.
 * Outside a TSan build they are nothing.
 */
#ifndef QEMU_TSAN_H
#define QEMU_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define QEMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QEMU_TSAN 1
#endif
#endif

#ifdef QEMU_TSAN
/* TSan's runtime (the dynamic annotations it exports). */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);

#define TSAN_GUEST_RAM_BEGIN() do { \
        AnnotateIgnoreReadsBegin(__FILE__, __LINE__); \
        AnnotateIgnoreWritesBegin(__FILE__, __LINE__); \
    } while (0)
#define TSAN_GUEST_RAM_END() do { \
        AnnotateIgnoreWritesEnd(__FILE__, __LINE__); \
        AnnotateIgnoreReadsEnd(__FILE__, __LINE__); \
    } while (0)
#else
#define TSAN_GUEST_RAM_BEGIN() do { } while (0)
#define TSAN_GUEST_RAM_END() do { } while (0)
#endif

#endif
