/* record_target.c — a program for the recorder's tests: each mode makes
 * allocator calls with sizes nothing else in the process uses, so the test
 * can count them exactly in the recording.
 *
 * Usage: record_target MODE
 *   (basic | threads | contend | fork | sleep | spaced | crash | abort | _exit
 *    | exec | long [ROUNDS [PAUSE_MS]])
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKED 1000 /* marked calls in the crash, abort and _exit modes */

static void *volatile sink; /* keeps GCC from deleting free(malloc(n)) */

static void basic(void) {
  void *a = malloc(10001);
  void *b = calloc(3, 3335); /* 10005 */
  a = realloc(a, 10002);
  void *c = realloc(NULL, 10003);
  c = reallocarray(c, 2, 5002); /* 10004 */
  void *d = NULL;
  if (posix_memalign(&d, 64, 10006)) abort();
  void *e = aligned_alloc(32, 10016);
  void *f = memalign(128, 10007);
  void *g = valloc(10008);
  void *h = pvalloc(10009);
  void *all[] = {a, b, c, d, e, f, g, h};
  for (int i = 0; i < 8; i++) sink = all[i];
  free(NULL);
  void *z = malloc(10010);
  z = realloc(z, 0); /* glibc frees and returns NULL */
  sink = z;
  free(a);
  free(b);
  free(c);
  free(d);
  free(e);
  free(f);
  free(g);
  free(h);
}

#define THREADS 4
#define PER_THREAD 5000
static void *blocks[THREADS][PER_THREAD];

/* Each worker allocates; main frees every block a worker made, while the
 * others are still allocating: addresses move between threads. */
static void *worker(void *arg) {
  void **mine = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    mine[i] = malloc(20001 + (size_t)(i % 7));
    void *scratch = malloc(20010);
    sink = scratch;
    free(scratch);
  }
  return NULL;
}

static void threads(void) {
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, blocks[i]);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    for (int j = 0; j < PER_THREAD; j++) free(blocks[i][j]);
  }
}

/* One arena, no thread cache (the test sets GLIBC_TUNABLES): a block one
 * thread frees is the next another thread gets, so a recorder that logs a
 * free after the call would be caught handing out a live address. */
#define CONTEND_ROUNDS 50000
static void *contender(void *arg) {
  (void)arg;
  for (int i = 0; i < CONTEND_ROUNDS; i++) {
    void *p = malloc(24);
    sink = p;
    free(p);
  }
  return NULL;
}

static void contend(void) {
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, contender, NULL);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
}

/* By default, enough records for several of the recorder's 4 MiB chunks. */
#define LONG_ROUNDS 1000000
static void long_run(long rounds) {
  for (long i = 0; i < rounds; i++) {
    void *p = malloc(70001 + (size_t)(i % 3));
    sink = p;
    free(p);
  }
}

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* SPACED mallocs of 70001 bytes, one every 3 us (closer than the
 * recorder's 10 us between two reads of the clock: their times are
 * interpolated), each time read just before the call written to
 * $HB_RECORD_DIR/spaced.times for the test to compare. */
#define SPACED 20000
static void spaced(void) {
  static uint64_t times[SPACED];
  /* The recorder starts at the first call (files, mappings): not timed. */
  sink = malloc(70000);
  free(sink);
  uint64_t start = monotonic_ns();
  for (int i = 0; i < SPACED; i++) {
    while (monotonic_ns() < start + (uint64_t)i * 3000) {
    }
    times[i] = monotonic_ns();
    sink = malloc(70001);
    free(sink);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/spaced.times", getenv("HB_RECORD_DIR"));
  FILE *file = fopen(path, "wb");
  if (!file || fwrite(times, sizeof times, 1, file) != 1) exit(3);
  fclose(file);
}

static void marked(int count) {
  for (int i = 0; i < count; i++) sink = malloc(30001);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *mode = argv[1];
  setvbuf(stdout, NULL, _IONBF, 0);
  if (strcmp(mode, "basic") == 0) {
    basic();
  } else if (strcmp(mode, "threads") == 0) {
    threads();
  } else if (strcmp(mode, "contend") == 0) {
    contend();
  } else if (strcmp(mode, "fork") == 0) {
    marked(100);
    pid_t child = fork();
    if (child == 0) {
      for (int i = 0; i < 200; i++) sink = malloc(40001);
      exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    for (int i = 0; i < 300; i++) sink = malloc(50001);
  } else if (strcmp(mode, "sleep") == 0) {
    sink = malloc(60001);
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    sink = malloc(60002);
  } else if (strcmp(mode, "spaced") == 0) {
    spaced();
  } else if (strcmp(mode, "crash") == 0) {
    marked(MARKED);
    raise(SIGSEGV);
  } else if (strcmp(mode, "abort") == 0) {
    marked(MARKED);
    abort();
  } else if (strcmp(mode, "_exit") == 0) {
    marked(MARKED);
    _exit(0);
  } else if (strcmp(mode, "long") == 0) {
    long_run(argc > 2 ? atol(argv[2]) : LONG_ROUNDS);
    if (argc > 3) { /* idle time at the end: for a conversion that follows */
      struct timespec pause = {atol(argv[3]) / 1000, atol(argv[3]) % 1000 * 1000000};
      nanosleep(&pause, NULL);
    }
  } else if (strcmp(mode, "exec") == 0) {
    marked(10);
    execl("/proc/self/exe", argv[0], "basic", (char *)NULL);
    return 1;
  } else {
    return 2;
  }
  return 0;
}
