/* slowsync: an LD_PRELOAD shim that makes every durability flush of a process take at
 * least SLOWSYNC_US microseconds (default 1000; 0 = pass-through), to model a cloud
 * disk (Cloud SQL: ~1 ms per flush) on a fast local one (~0.08 ms). See README.md.
 *
 * Delayed, after the real call succeeds, until the call has taken SLOWSYNC_US in total:
 *   fsync, fdatasync, syncfs, sync_file_range with SYNC_FILE_RANGE_WAIT_AFTER,
 *   msync with MS_SYNC, and write/pwrite/pwrite64/pwritev/pwritev64 on a descriptor
 *   opened (open/open64/openat/openat64) with O_DSYNC or O_SYNC.
 * Only the calling thread sleeps (clock_nanosleep on CLOCK_MONOTONIC, resumed after
 * EINTR); errno is preserved. SLOWSYNC_STATS=/path appends one line per process at exit
 * (only if it made a flush call):
 *   calls fsync=N fdatasync=N syncfs=N sync_file_range=N msync=N dsync_write=N
 *   delayed=N delayed_us=N pid=N prog=NAME
 *
 * Build: ci/bench/slowsync/build.sh (cc -O2 -fPIC -shared -o libslowsync.so slowsync.c -ldl)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The real functions, found once with dlsym(RTLD_NEXT). */
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_syncfs)(int);
static int (*real_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*real_msync)(void *, size_t, int);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);

static long long delay_ns; /* SLOWSYNC_US * 1000, read once */
static pthread_once_t once = PTHREAD_ONCE_INIT;

enum { C_FSYNC, C_FDATASYNC, C_SYNCFS, C_SFR, C_MSYNC, C_DSYNC_WRITE, C_DELAYED, C_DELAYED_NS, C_N };
static const char *const names[C_N] = {"fsync", "fdatasync", "syncfs", "sync_file_range",
                                       "msync", "dsync_write", "delayed", "delayed_us"};
static _Atomic unsigned long long count[C_N];

/* Descriptors opened with O_DSYNC/O_SYNC (O_SYNC includes the O_DSYNC bit on Linux). A
 * hint only: a write to a marked fd re-checks F_GETFL, so a stale mark never delays. */
#define MAX_FD 65536
static _Atomic unsigned char dsync_fd[MAX_FD];

#define RESOLVE(f) real_##f = (__typeof__(real_##f))dlsym(RTLD_NEXT, #f)

static void init(void) {
  RESOLVE(fsync); RESOLVE(fdatasync); RESOLVE(syncfs); RESOLVE(sync_file_range);
  RESOLVE(msync); RESOLVE(open); RESOLVE(open64); RESOLVE(openat); RESOLVE(openat64);
  RESOLVE(close); RESOLVE(write); RESOLVE(pwrite); RESOLVE(pwrite64); RESOLVE(pwritev);
  RESOLVE(pwritev64);
  const char *us = getenv("SLOWSYNC_US");
  long long v = us && *us ? atoll(us) : 1000;
  delay_ns = v > 0 ? v * 1000 : 0;
}

/* Every wrapper starts with this: a call may come before our constructor has run. */
#define INIT() pthread_once(&once, init)

__attribute__((constructor)) static void slowsync_load(void) { INIT(); }

static struct timespec now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

static long long ns_between(struct timespec a, struct timespec b) {
  return (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}

/* Counts one flush that started at t0 and, if it succeeded, sleeps the calling thread
 * until t0 + SLOWSYNC_US. */
static void pad(struct timespec t0, int which, int ok) {
  atomic_fetch_add_explicit(&count[which], 1, memory_order_relaxed);
  if (!ok || !delay_ns) return;
  struct timespec t1 = now();
  if (ns_between(t0, t1) >= delay_ns) return;
  int saved = errno;
  struct timespec until = t0;
  long long ns = until.tv_nsec + delay_ns;
  until.tv_sec += ns / 1000000000LL;
  until.tv_nsec = ns % 1000000000LL;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {}
  atomic_fetch_add_explicit(&count[C_DELAYED], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&count[C_DELAYED_NS], ns_between(t1, now()), memory_order_relaxed);
  errno = saved;
}

#define FLUSH(which, ok_if, call)        \
  do {                                   \
    INIT();                              \
    struct timespec t0 = now();          \
    __typeof__(call) r = call;           \
    pad(t0, which, ok_if);               \
    return r;                            \
  } while (0)

int fsync(int fd) { FLUSH(C_FSYNC, r == 0, real_fsync(fd)); }
int fdatasync(int fd) { FLUSH(C_FDATASYNC, r == 0, real_fdatasync(fd)); }
int syncfs(int fd) { FLUSH(C_SYNCFS, r == 0, real_syncfs(fd)); }

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  INIT();
  if (!(flags & SYNC_FILE_RANGE_WAIT_AFTER)) return real_sync_file_range(fd, off, n, flags);
  FLUSH(C_SFR, r == 0, real_sync_file_range(fd, off, n, flags));
}

int msync(void *addr, size_t len, int flags) {
  INIT();
  if (!(flags & MS_SYNC)) return real_msync(addr, len, flags);
  FLUSH(C_MSYNC, r == 0, real_msync(addr, len, flags));
}

/* open*: remember whether the new descriptor writes synchronously. */
static int opened(int fd, int flags) {
  if (fd >= 0 && fd < MAX_FD)
    atomic_store_explicit(&dsync_fd[fd], (flags & O_DSYNC) != 0, memory_order_relaxed);
  return fd;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

#define OPEN(real, ...)                   \
  do {                                    \
    INIT();                               \
    va_list ap;                           \
    va_start(ap, flags);                  \
    mode_t mode = mode_arg(flags, ap);    \
    va_end(ap);                           \
    return opened(real(__VA_ARGS__, flags, mode), flags); \
  } while (0)

int open(const char *path, int flags, ...) { OPEN(real_open, path); }
int open64(const char *path, int flags, ...) { OPEN(real_open64, path); }
int openat(int dir, const char *path, int flags, ...) { OPEN(real_openat, dir, path); }
int openat64(int dir, const char *path, int flags, ...) { OPEN(real_openat64, dir, path); }

int close(int fd) {
  INIT();
  if (fd >= 0 && fd < MAX_FD) atomic_store_explicit(&dsync_fd[fd], 0, memory_order_relaxed);
  return real_close(fd);
}

/* A marked descriptor that really has O_DSYNC now (dup2, fdopen+fclose can reuse a number
 * behind our back); one fcntl per such write, nothing for the others. */
static int is_dsync(int fd) {
  if (fd < 0 || fd >= MAX_FD || !atomic_load_explicit(&dsync_fd[fd], memory_order_relaxed))
    return 0;
  int saved = errno, fl = fcntl(fd, F_GETFL);
  errno = saved;
  if (fl >= 0 && (fl & O_DSYNC)) return 1;
  atomic_store_explicit(&dsync_fd[fd], 0, memory_order_relaxed);
  return 0;
}

#define WRITE(call)                                  \
  do {                                               \
    INIT();                                          \
    if (!is_dsync(fd)) return call;                  \
    FLUSH(C_DSYNC_WRITE, r >= 0, call);              \
  } while (0)

ssize_t write(int fd, const void *b, size_t n) { WRITE(real_write(fd, b, n)); }
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { WRITE(real_pwrite(fd, b, n, o)); }
ssize_t pwrite64(int fd, const void *b, size_t n, off64_t o) { WRITE(real_pwrite64(fd, b, n, o)); }
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o) { WRITE(real_pwritev(fd, v, c, o)); }
ssize_t pwritev64(int fd, const struct iovec *v, int c, off64_t o) { WRITE(real_pwritev64(fd, v, c, o)); }

__attribute__((destructor)) static void slowsync_stats(void) {
  const char *path = getenv("SLOWSYNC_STATS");
  if (!path || !*path || !real_open) return;
  unsigned long long c[C_N], calls = 0;
  for (int i = 0; i < C_N; i++) c[i] = atomic_load(&count[i]);
  for (int i = 0; i < C_DELAYED; i++) calls += c[i];
  if (!calls) return;
  c[C_DELAYED_NS] /= 1000;
  char line[512];
  int len = snprintf(line, sizeof line, "calls");
  for (int i = 0; i < C_N; i++)
    len += snprintf(line + len, sizeof line - len, " %s=%llu", names[i], c[i]);
  len += snprintf(line + len, sizeof line - len, " pid=%d prog=%s\n", (int)getpid(),
                  program_invocation_short_name);
  int fd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (real_write(fd, line, (size_t)len) < 0) { /* nothing to do at exit */ }
  real_close(fd);
}
