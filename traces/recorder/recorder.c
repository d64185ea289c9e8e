/* recorder.c — libhb_record.so, an LD_PRELOAD library that records every
 * allocator call of an unmodified program into raw files (.hbraw, layout
 * in ../hbt_format.h, described in ../FORMAT.md).
 *
 * Where recorders usually break, and what this one does:
 *  - Bootstrap: it never looks the real functions up with dlsym (which
 *    itself allocates); it calls glibc's exported __libc_malloc & co.
 *  - Recursion: it allocates nothing itself (files are mmap'ed, names are
 *    formatted by hand); the few libc calls that might allocate
 *    (pthread_atfork) run under a thread-local guard that sends nested
 *    calls straight to glibc.
 *  - Ordering across threads: a free is stored BEFORE the real call and an
 *    allocation AFTER it, each with a per-process sequence number taken at
 *    that moment, so an address is always released in sequence order
 *    before another thread can be seen receiving it. A realloc is two
 *    records (before and after).
 *  - No global lock on the hot path: each thread writes its own file.
 *  - Nothing lost: each thread's file is mapped MAP_SHARED, so what was
 *    stored is in the page cache whatever happens to the process (SIGSEGV,
 *    abort, _exit, SIGKILL); the header's record_count is stored after
 *    each record, so readers trust exactly the complete records.
 *  - fork: the child starts its own files (atfork handler); exec: the new
 *    image loads the recorder again and names its files by program and
 *    pid (plus a counter when the same program execs itself). The exec
 *    functions are interposed only to mark the old image's recording as
 *    ended by exec (exited = 2, undone if the exec fails): a process that
 *    forked then exec'd is complete, not cut short.
 *
 * Environment: HB_RECORD_DIR, the directory for the files (default: the
 * working directory at the first event); HB_RECORD_CLOCK=monotonic to
 * time every record with clock_gettime (neither the TSC's ticks nor times
 * interpolated with it: record_time), =tsc to time them with the TSC even
 * where the kernel does not use it (see choose_clock).
 */
#define _GNU_SOURCE
#include "hbt_format.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

#define EXPORT __attribute__((visibility("default")))
#define CHUNK_BYTES ((size_t)4 << 20) /* file grows and is mapped by this much */
/* Bytes of a chunk made writable ahead of the records, in one call (see
 * populate_ahead): a few dozen calls per chunk, and at most this much
 * written ahead of the last record. */
#define POPULATE_BYTES ((uint64_t)256 << 10)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#define PATH_BYTES 4096

/* ---- per-process state ----------------------------------------------------- */

static char process_prefix[PATH_BYTES]; /* DIR/program-pid[-n] */
static hb_raw_header *process_header;   /* thread 0's header: the thread count */
static uint64_t process_start_ns;
static uint32_t process_pid;
static int process_state;       /* 0 not started, 1 ready, -1 disabled (cannot write) */
static int process_lock;        /* spin lock around process start */
static uint32_t generation = 1; /* bumped in a fork child: threads restart their files */
static uint64_t sequence;       /* per process, one per record */
static int atfork_registered;

/* ---- per-thread state (initial-exec TLS: no allocation on first use) -------- */

typedef struct thread_state {
  hb_raw_header *header;
  unsigned char *chunk;
  uint64_t chunk_first; /* record byte offset of chunk[0] */
  uint64_t populated;   /* record bytes of the chunk made writable so far */
  uint64_t used;        /* record bytes stored */
  uint64_t count;       /* records stored */
  uint64_t previous_seq, previous_time, previous_ptr;
  /* Interpolated ns (record_time): the last clock read and its TSC, the
   * thread's first one (the rate's base), ns per tick * 2^32 (0: not
   * measured yet) and the ticks a record may be from the last read. */
  uint64_t anchor_tsc, anchor_ns, base_tsc, base_ns, ns_per_tick_q32, window_ticks, rate_span_ns;
  uint32_t index;
  uint32_t generation;  /* process generation the mappings belong to */
  int guard;            /* inside the recorder: nested calls go straight to glibc */
  int disabled;
} thread_state;

static __thread thread_state self __attribute__((tls_model("initial-exec")));

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Record times: the TSC where the kernel itself trusts it as its clock
 * source (invariant and synchronised across CPUs): reading it costs a third
 * of clock_gettime, the biggest part of a record. Clock pairs in each
 * header convert ticks to ns afterwards. Elsewhere: CLOCK_MONOTONIC ns.
 * HB_RECORD_CLOCK=tsc is for virtual machines whose kernel keeps a
 * paravirtual clock (kvm-clock) over a TSC it was told not to trust: there
 * clock_gettime cost 29 ns against 12 for the TSC, and a record's times
 * are right as long as the TSC neither jumps nor changes rate during the
 * recording (a snapshot restored, a migration: the user's call). */
static int use_ticks;
/* Where the times are ns from the kernel's clock (not the TSC): records
 * closer than CLOCK_WINDOW_NS to the last read of it interpolate with the
 * TSC instead of reading it again (record_time). */
static int interpolate;
#define CLOCK_WINDOW_NS 10000u
/* The rate is measured over at least this long before it is used. */
#define CLOCK_RATE_BASE_NS 1000000u

static void choose_clock(void) {
#if defined(__x86_64__)
  const char *forced = getenv("HB_RECORD_CLOCK"); /* "monotonic" or "tsc" */
  if (forced && (strcmp(forced, "monotonic") == 0 || strcmp(forced, "tsc") == 0)) {
    use_ticks = forced[0] == 't';
    return;
  }
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                O_RDONLY | O_CLOEXEC);
  char source[16] = {0};
  if (fd >= 0) {
    ssize_t n = read(fd, source, sizeof source - 1);
    close(fd);
    use_ticks = n == 4 && memcmp(source, "tsc\n", 4) == 0;
  }
  /* Interpolation needs a TSC that runs at one rate and does not stop in
   * sleep states (CPUID 0x80000007, EDX bit 8: "invariant TSC"): one that
   * stopped would hide the time a thread slept. */
  unsigned eax, ebx, ecx, edx;
  interpolate = !use_ticks && __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) && (edx & (1u << 8));
#endif
}

/* A record's time where the kernel's clock is not the TSC (a VM's
 * kvm-clock: clock_gettime 29 ns, two thirds of what a record cost, the
 * TSC 12 ns): the clock is read when the TSC says CLOCK_WINDOW_NS have
 * passed since its last read (or went backwards, or jumped: another CPU,
 * a migration), else the time is that read plus the TSC's ticks since, at
 * the rate this thread measured against the clock itself over its life
 * (at least CLOCK_RATE_BASE_NS). A time is then at most the window times
 * the rate's error off (nanoseconds), and never earlier than the thread's
 * previous one; the TSC only measures within the window, so a TSC the
 * kernel does not trust as its clock does not set the times. */
static uint64_t read_anchor(thread_state *t, uint64_t tsc) {
  uint64_t ns = now_ns();
  if (!t->base_ns || tsc <= t->base_tsc || ns <= t->base_ns) {
    t->base_tsc = tsc;
    t->base_ns = ns;
    t->ns_per_tick_q32 = t->window_ticks = t->rate_span_ns = 0;
  } else if (ns - t->base_ns >= CLOCK_RATE_BASE_NS && ns - t->base_ns >= 2 * t->rate_span_ns) {
    /* Measured again each time the span doubles: a few divisions in a
     * thread's life, each rate more exact than the last. */
    __extension__ typedef unsigned __int128 u128;
    uint64_t rate = (uint64_t)(((u128)(ns - t->base_ns) << 32) / (tsc - t->base_tsc));
    t->ns_per_tick_q32 = rate;
    t->window_ticks = rate ? ((uint64_t)CLOCK_WINDOW_NS << 32) / rate : 0;
    t->rate_span_ns = ns - t->base_ns;
  }
  t->anchor_tsc = tsc;
  t->anchor_ns = ns;
  return ns;
}

static inline uint64_t record_time(thread_state *t) {
#if defined(__x86_64__)
  if (__builtin_expect(use_ticks, 1)) return __builtin_ia32_rdtsc();
  if (interpolate) {
    uint64_t tsc = __builtin_ia32_rdtsc(), since = tsc - t->anchor_tsc;
    uint64_t ns = since < t->window_ticks ? t->anchor_ns + ((since * t->ns_per_tick_q32) >> 32)
                                          : read_anchor(t, tsc);
    return ns > t->previous_time ? ns : t->previous_time;
  }
#else
  (void)t;
#endif
  return now_ns();
}

/* A thread's first time (its header's base): the clock itself. */
static inline uint64_t now_time(void) {
#if defined(__x86_64__)
  if (use_ticks) return __builtin_ia32_rdtsc();
#endif
  return now_ns();
}

/* Refreshes the header's later clock pair (see hbt_format.h). */
static void refresh_clock(hb_raw_header *header) {
  uint32_t slot = 1 - __atomic_load_n(&header->late_slot, __ATOMIC_RELAXED);
  header->late_time[slot] = now_time();
  header->late_ns[slot] = now_ns();
  __atomic_store_n(&header->late_slot, slot, __ATOMIC_RELEASE);
}

/* Appends text or a decimal number to dst (of PATH_BYTES); no allocation. */
static void append(char *dst, const char *text) {
  size_t len = strnlen(dst, PATH_BYTES), n = strlen(text);
  if (len + n >= PATH_BYTES) n = PATH_BYTES - 1 - len;
  memcpy(dst + len, text, n);
  dst[len + n] = 0;
}

static void append_number(char *dst, uint64_t value) {
  char digits[24];
  int i = (int)sizeof digits - 1;
  digits[i] = 0;
  do {
    digits[--i] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  append(dst, digits + i);
}

static void thread_file_name(char *name, uint32_t index) {
  name[0] = 0;
  append(name, process_prefix);
  append(name, ".t");
  append_number(name, index);
  append(name, ".hbraw");
}

static void at_fork_child(void);

/* Sets the file prefix: DIR/program-pid, or -1, -2... if a file of that
 * name exists (the same program exec'ed under the same pid). Returns the
 * open fd of thread 0's file, or -1. */
static int start_process(char *name) {
  char prefix[PATH_BYTES];
  const char *dir = getenv("HB_RECORD_DIR");
  prefix[0] = 0;
  /* An absolute path: the program may change directory between events. */
  if (!dir || *dir != '/') {
    if (!getcwd(prefix, PATH_BYTES - 512)) return -1;
    if (dir && *dir) {
      append(prefix, "/");
      append(prefix, dir);
    }
  } else {
    append(prefix, dir);
  }
  append(prefix, "/");
  char program[128];
  size_t n = strnlen(program_invocation_short_name, sizeof program - 1);
  memcpy(program, program_invocation_short_name, n);
  program[n] = 0;
  for (size_t i = 0; i < n; i++)
    if (program[i] == '/' || program[i] == ' ') program[i] = '_';
  append(prefix, n ? program : "unknown");
  append(prefix, "-");
  process_pid = (uint32_t)getpid();
  append_number(prefix, process_pid);
  for (unsigned attempt = 0; attempt < 1000; attempt++) {
    process_prefix[0] = 0;
    append(process_prefix, prefix);
    if (attempt) {
      append(process_prefix, "-");
      append_number(process_prefix, attempt);
    }
    thread_file_name(name, 0);
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

/* One line on stderr, without stdio (which may allocate). */
static void say_cannot_record(const char *name, int errnum) {
  char message[PATH_BYTES + 128];
  message[0] = 0;
  append(message, "heapbench recorder: cannot create ");
  append(message, name);
  append(message, ": error ");
  append_number(message, (uint64_t)errnum);
  append(message, "; this thread's calls go unrecorded (is HB_RECORD_DIR a writable "
                  "directory?)\n");
  ssize_t ignored = write(2, message, strlen(message));
  (void)ignored;
}

static int populate_works = 1; /* MADV_POPULATE_WRITE has not failed */

/* Makes the next POPULATE_BYTES of the chunk writable in one call. The
 * pages of a shared file mapping are otherwise made writable by a fault
 * each at their first write, and the kernel's entry and exit per fault
 * cost more than the page's work (in a virtual machine most of all:
 * FORMAT.md, "Conversion", has the figures). MAP_POPULATE does not do it:
 * it maps shared pages read-only, so each still faults at its first write.
 * Not the whole chunk at once: pages made writable are dirty, so a
 * short-lived process would leave 4 MiB of zeros to write back instead of
 * a hole. Where the call fails (a kernel before 5.14), pages fault in as
 * they are written. */
static void populate_ahead(thread_state *t) {
  uint64_t chunk_end = t->chunk_first + CHUNK_BYTES;
  uint64_t bytes = chunk_end - t->populated < POPULATE_BYTES ? chunk_end - t->populated
                                                             : POPULATE_BYTES;
  int saved = errno; /* inside the program's malloc or free */
  if (__atomic_load_n(&populate_works, __ATOMIC_RELAXED) &&
      madvise(t->chunk + (t->populated - t->chunk_first), bytes, MADV_POPULATE_WRITE) != 0)
    __atomic_store_n(&populate_works, 0, __ATOMIC_RELAXED);
  errno = saved;
  t->populated = __atomic_load_n(&populate_works, __ATOMIC_RELAXED) ? t->populated + bytes
                                                                   : chunk_end;
}

/* Maps chunk number `chunk` of the open file, growing the file first. */
static int map_chunk(thread_state *t, int fd, uint64_t chunk) {
  off_t offset = HB_RAW_HEADER_BYTES + (off_t)(chunk * CHUNK_BYTES);
  if (ftruncate(fd, offset + (off_t)CHUNK_BYTES) != 0) return -1;
  void *map = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (map == MAP_FAILED) return -1;
  if (t->chunk) munmap(t->chunk, CHUNK_BYTES);
  t->chunk = map;
  t->chunk_first = t->populated = chunk * CHUNK_BYTES;
  populate_ahead(t);
  return 0;
}

/* First event of a thread (or of a process, or after fork): open its file. */
static int start_thread(thread_state *t) {
  t->guard = 1;
  if (t->generation != __atomic_load_n(&generation, __ATOMIC_ACQUIRE)) {
    /* Mappings inherited from the parent process: leave its files alone. */
    if (t->header) munmap(t->header, HB_RAW_HEADER_BYTES);
    if (t->chunk) munmap(t->chunk, CHUNK_BYTES);
    t->header = NULL;
    t->chunk = NULL;
    t->disabled = 0;
  }
  char name[PATH_BYTES];
  int fd = -1, first = 0;
  while (__atomic_exchange_n(&process_lock, 1, __ATOMIC_ACQUIRE)) {
  }
  if (process_state == 0) {
    fd = start_process(name);
    process_state = fd >= 0 ? 1 : -1;
    if (fd < 0) say_cannot_record(name, errno);
    process_start_ns = now_ns();
    choose_clock();
    first = fd >= 0;
    if (!atfork_registered) { /* may allocate: under the guard */
      atfork_registered = 1;
      pthread_atfork(NULL, NULL, at_fork_child);
    }
  }
  int state = process_state;
  __atomic_store_n(&process_lock, 0, __ATOMIC_RELEASE);

  uint32_t index = 0;
  if (state == 1 && !first) {
    /* Not the first thread: wait until thread 0's header is mapped (or
     * thread 0 found it cannot record). */
    while (!__atomic_load_n(&process_header, __ATOMIC_ACQUIRE)) {
      if (__atomic_load_n(&process_state, __ATOMIC_ACQUIRE) < 0) {
        t->disabled = 1;
        t->generation = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        t->guard = 0;
        return -1;
      }
    }
    index = __atomic_fetch_add(&process_header->threads_started, 1, __ATOMIC_ACQ_REL);
    thread_file_name(name, index);
    fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) say_cannot_record(name, errno);
  }
  int ok = fd >= 0;
  hb_raw_header *header = MAP_FAILED;
  if (ok) ok = ftruncate(fd, HB_RAW_HEADER_BYTES) == 0;
  if (ok) {
    header = mmap(NULL, HB_RAW_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ok = header != MAP_FAILED;
  }
  if (ok) {
    t->chunk = NULL;
    ok = map_chunk(t, fd, 0) == 0;
  }
  if (fd >= 0) close(fd); /* the mappings stay; programs may close fds behind our back */
  if (ok) {
    memcpy(header->magic, HB_RAW_MAGIC, sizeof header->magic);
    header->version = HB_RAW_VERSION;
    header->chunk_bytes = CHUNK_BYTES;
    header->thread_index = index;
    header->pid = process_pid;
    header->os_tid = (uint32_t)syscall(SYS_gettid);
    header->start_ns = process_start_ns;
    header->time_in_ticks = (uint32_t)use_ticks;
    header->base_time = now_time();
    header->base_ns = use_ticks ? now_ns() : header->base_time;
    size_t n = strnlen(program_invocation_short_name, HB_RAW_PROGRAM_BYTES - 1);
    memcpy(header->program, program_invocation_short_name, n);
    t->header = header;
    t->count = 0;
    t->used = 0;
    t->previous_seq = UINT64_MAX; /* -1 */
    t->previous_time = header->base_time;
    t->anchor_tsc = t->anchor_ns = t->base_tsc = t->base_ns = 0;
    t->ns_per_tick_q32 = t->window_ticks = t->rate_span_ns = 0;
    t->previous_ptr = 0;
    t->index = index;
    if (first) {
      header->threads_started = 1;
      __atomic_store_n(&process_header, header, __ATOMIC_RELEASE);
    }
  } else {
    if (header != MAP_FAILED) munmap(header, HB_RAW_HEADER_BYTES);
    t->disabled = 1;
    if (first) { /* nobody can record in this process */
      __atomic_store_n(&process_state, -1, __ATOMIC_RELEASE);
    }
  }
  t->generation = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
  t->guard = 0;
  return ok ? 0 : -1;
}

static void at_fork_child(void) {
  /* Only the forking thread survives; its next event starts the child's files. */
  process_header = NULL;
  process_state = 0;
  process_lock = 0;
  __atomic_fetch_add(&generation, 1, __ATOMIC_ACQ_REL);
}

__attribute__((destructor)) static void at_exit(void) {
  hb_raw_header *header = __atomic_load_n(&process_header, __ATOMIC_ACQUIRE);
  if (self.header && self.generation == __atomic_load_n(&generation, __ATOMIC_ACQUIRE))
    refresh_clock(self.header);
  if (header && header->pid == (uint32_t)getpid()) __atomic_store_n(&header->exited, 1, __ATOMIC_RELEASE);
}

/* Before an exec: this image's recording ends here (HB_RAW_EXITED_EXEC).
 * Returns the header marked, for exec_failed. Not in a vfork child, which
 * shares the parent's memory (the pid check). */
static hb_raw_header *exec_starting(void) {
  hb_raw_header *header = __atomic_load_n(&process_header, __ATOMIC_ACQUIRE);
  if (!header || header->pid != (uint32_t)getpid() || header->exited) return NULL;
  if (self.header && self.generation == __atomic_load_n(&generation, __ATOMIC_ACQUIRE))
    refresh_clock(self.header);
  __atomic_store_n(&header->exited, HB_RAW_EXITED_EXEC, __ATOMIC_RELEASE);
  return header;
}

static void exec_failed(hb_raw_header *header) {
  if (header) __atomic_store_n(&header->exited, 0, __ATOMIC_RELEASE);
}

/* Whether this thread records: not inside the recorder, files open. */
static inline thread_state *recording(void) {
  thread_state *t = &self;
  if (__builtin_expect(t->guard, 0)) return NULL;
  if (__builtin_expect(t->generation != __atomic_load_n(&generation, __ATOMIC_RELAXED) ||
                           !t->header, 0)) {
    if (t->disabled && t->generation == __atomic_load_n(&generation, __ATOMIC_RELAXED))
      return NULL;
    if (__atomic_load_n(&process_state, __ATOMIC_ACQUIRE) < 0 &&
        t->generation == __atomic_load_n(&generation, __ATOMIC_RELAXED))
      return NULL;
    if (start_thread(t)) return NULL;
  }
  return t;
}

static inline unsigned char *put_varint(unsigned char *p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = (unsigned char)(value | 0x80);
    value >>= 7;
  }
  *p++ = (unsigned char)value;
  return p;
}

static inline uint64_t zigzag(uint64_t difference) {
  return (difference << 1) ^ (uint64_t)((int64_t)difference >> 63);
}

static inline void store(thread_state *t, unsigned event, unsigned align_log2, const void *ptr,
                         uint64_t size) {
  /* While the process has one thread (glibc's flag: cleared in
   * pthread_create before the new thread exists, never set again), no
   * other thread takes numbers: a plain increment, not a locked one (a
   * tenth of a record's cost). The thread that creates the second thread
   * switches to the atomic one, and pthread_create publishes the counter
   * to the new thread. */
  uint64_t seq;
  if (__libc_single_threaded) {
    seq = __atomic_load_n(&sequence, __ATOMIC_RELAXED);
    __atomic_store_n(&sequence, seq + 1, __ATOMIC_RELAXED);
  } else {
    seq = __atomic_fetch_add(&sequence, 1, __ATOMIC_RELAXED);
  }
  uint64_t time = record_time(t);
  /* Near the end of what populate_ahead made writable, within the chunk. */
  if (__builtin_expect(t->used + HB_RAW_MAX_RECORD_BYTES > t->populated, 0) &&
      t->used - t->chunk_first <= CHUNK_BYTES - HB_RAW_MAX_RECORD_BYTES)
    populate_ahead(t);
  if (__builtin_expect(t->used - t->chunk_first > CHUNK_BYTES - HB_RAW_MAX_RECORD_BYTES, 0)) {
    /* The rest of this chunk stays zero: padding. Records start afresh in
     * the next one, so none straddles two mappings. */
    t->guard = 1;
    char name[PATH_BYTES];
    thread_file_name(name, t->index);
    int fd = open(name, O_RDWR | O_CLOEXEC);
    int failed = fd < 0 || map_chunk(t, fd, t->chunk_first / CHUNK_BYTES + 1) != 0;
    if (fd >= 0) close(fd);
    t->guard = 0;
    if (failed) {
      t->disabled = 1;
      t->header = NULL; /* stays mapped: its committed count is the truth */
      return;
    }
    t->used = t->chunk_first;
  }
  unsigned char *start = t->chunk + (t->used - t->chunk_first), *p = start;
  p = put_varint(p, (seq - t->previous_seq - 1) << 3 | event);
  if (event == HB_RAW_ALIGNED) *p++ = (unsigned char)align_log2;
  p = put_varint(p, zigzag(time - t->previous_time));
  p = put_varint(p, zigzag((uint64_t)(uintptr_t)ptr - t->previous_ptr));
  if (hb_raw_event_has_size(event)) p = put_varint(p, size);
  t->previous_seq = seq;
  t->previous_time = time;
  t->previous_ptr = (uint64_t)(uintptr_t)ptr;
  t->used += (uint64_t)(p - start);
  t->count++;
  __atomic_store_n(&t->header->committed_bytes, t->used, __ATOMIC_RELEASE);
  __atomic_store_n(&t->header->record_count, t->count, __ATOMIC_RELAXED);
  if (__builtin_expect((t->count & (HB_RAW_CLOCK_EVERY - 1)) == 0, 0)) refresh_clock(t->header);
}

static unsigned log2_ceil(size_t value) {
  unsigned log = 0;
  while (log < 63 && ((size_t)1 << log) < value) log++;
  return log;
}

/* ---- the interposed functions ---------------------------------------------- */

EXPORT void *malloc(size_t size) {
  void *p = __libc_malloc(size);
  thread_state *t = recording();
  if (t) store(t, HB_RAW_MALLOC, 0, p, size);
  return p;
}

EXPORT void free(void *ptr) {
  thread_state *t = recording();
  if (t) store(t, HB_RAW_FREE, 0, ptr, 0);
  __libc_free(ptr);
}

EXPORT void *calloc(size_t nmemb, size_t size) {
  void *p = __libc_calloc(nmemb, size);
  thread_state *t = recording();
  size_t bytes;
  if (__builtin_mul_overflow(nmemb, size, &bytes)) bytes = SIZE_MAX;
  if (t) store(t, HB_RAW_CALLOC, 0, p, bytes);
  return p;
}

EXPORT void *realloc(void *ptr, size_t size) {
  thread_state *t = recording();
  if (t) store(t, HB_RAW_REALLOC_BEGIN, 0, ptr, size);
  void *p = __libc_realloc(ptr, size);
  if (t) store(t, HB_RAW_REALLOC_END, 0, p, size);
  return p;
}

EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(nmemb, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(ptr, bytes);
}

static void *aligned(size_t alignment, size_t size, void *(*call)(size_t, size_t)) {
  void *p = call(alignment, size);
  thread_state *t = recording();
  if (t) store(t, HB_RAW_ALIGNED, log2_ceil(alignment), p, size);
  return p;
}

EXPORT void *memalign(size_t alignment, size_t size) {
  return aligned(alignment, size, __libc_memalign);
}

EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  return aligned(alignment, size, __libc_memalign);
}

EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size) {
  if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
    return EINVAL;
  int saved = errno;
  void *p = aligned(alignment, size, __libc_memalign);
  if (!p) return ENOMEM;
  errno = saved;
  *memptr = p;
  return 0;
}

static size_t page_bytes(void) {
  static size_t cached;
  if (!cached) cached = (size_t)sysconf(_SC_PAGESIZE);
  return cached;
}

EXPORT void *valloc(size_t size) {
  void *p = __libc_valloc(size);
  thread_state *t = recording();
  if (t) store(t, HB_RAW_ALIGNED, log2_ceil(page_bytes()), p, size);
  return p;
}

EXPORT void *pvalloc(size_t size) {
  void *p = __libc_pvalloc(size);
  thread_state *t = recording();
  if (t) store(t, HB_RAW_ALIGNED, log2_ceil(page_bytes()), p, size);
  return p;
}

/* ---- exec: mark, then the real function (exec_starting) ------------------- */

/* The next definition of `name` (glibc's): dlsym may allocate, so under the guard. */
static void *next_function(const char *name) {
  int guard = self.guard;
  self.guard = 1;
  void *function = dlsym(RTLD_NEXT, name);
  self.guard = guard;
  return function;
}

#define FORWARD_EXEC(name, type, ...)                        \
  do {                                                       \
    void *found = next_function(name);                       \
    type real; /* ISO C has no object-to-function cast */    \
    memcpy(&real, &found, sizeof real);                      \
    if (!real) {                                             \
      errno = ENOSYS;                                        \
      return -1;                                             \
    }                                                        \
    hb_raw_header *marked = exec_starting();                 \
    int rc = real(__VA_ARGS__);                              \
    int saved = errno;                                       \
    exec_failed(marked);                                     \
    errno = saved;                                           \
    return rc;                                               \
  } while (0)

typedef int (*execve_type)(const char *, char *const[], char *const[]);
typedef int (*execv_type)(const char *, char *const[]);
typedef int (*fexecve_type)(int, char *const[], char *const[]);

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  FORWARD_EXEC("execve", execve_type, path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[]) {
  FORWARD_EXEC("execv", execv_type, path, argv);
}

EXPORT int execvp(const char *file, char *const argv[]) {
  FORWARD_EXEC("execvp", execv_type, file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  FORWARD_EXEC("execvpe", execve_type, file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  FORWARD_EXEC("fexecve", fexecve_type, fd, argv, envp);
}

/* execl, execlp, execle: their arguments as an array on the stack. */
#define COLLECT_ARGS(first, argv, ap_after)                 \
  size_t count = 1;                                         \
  va_list ap;                                               \
  va_start(ap, first);                                      \
  while (va_arg(ap, char *)) count++;                       \
  va_end(ap);                                               \
  char *argv[count + 1];                                    \
  argv[0] = (char *)first;                                  \
  va_start(ap, first);                                      \
  for (size_t i = 1; i <= count; i++) argv[i] = va_arg(ap, char *); \
  ap_after;                                                 \
  va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...) {
  COLLECT_ARGS(arg, argv, (void)0);
  return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...) {
  COLLECT_ARGS(arg, argv, (void)0);
  return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...) {
  char *const *envp;
  COLLECT_ARGS(arg, argv, envp = va_arg(ap, char *const *));
  return execve(path, argv, envp);
}
