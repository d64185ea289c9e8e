/* valgrind.c — importer of `valgrind --trace-malloc=yes` logs (plain or
 * gzip-compressed).
 *
 * Event lines look like
 *   --PID-- malloc(SIZE) = 0xADDR            calloc(NMEMB,SIZE) = 0xADDR
 *   --PID-- realloc(0xOLD,SIZE) = 0xNEW      free(0xADDR)
 *   --PID-- memalign(al 64, size 100) = 0x.. (posix_memalign, aligned_alloc and valloc
 *                                             are logged as memalign)
 *   --PID-- _Znwm(8) = 0x..   _ZdlPvm(0x..)  _ZnwmSt11align_val_t(size 64, al 64) = 0x..
 *   --PID-- realloc(0x0,5)malloc(5) = 0x..   realloc(0x..,0)free(0x..)  (nested calls)
 * Other lines (valgrind's "==PID==" banner, other "--PID--" messages,
 * program output) are skipped. Only the first process in the log is read:
 * a log of several processes (--trace-children=yes) mixes address spaces;
 * the calls of the others are counted (other_process_calls), so the
 * commands can say what was left out.
 * The last line may be cut short (the process was killed): a last line
 * without its newline is ignored; a malformed event line anywhere else is
 * an error.
 */
#include "builder.h"
#include "hb_trace.h"
#include "reader_source.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum call { CALL_NONE, CALL_MALLOC, CALL_CALLOC, CALL_REALLOC, CALL_ALIGNED, CALL_FREE };

static int starts_with(const char *text, const char *prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

static enum call classify(const char *name) {
  if (strcmp(name, "malloc") == 0 || strcmp(name, "__builtin_new") == 0 ||
      strcmp(name, "__builtin_vec_new") == 0)
    return CALL_MALLOC;
  if (starts_with(name, "_Znw") || starts_with(name, "_Zna"))
    return strstr(name, "align_val_t") ? CALL_ALIGNED : CALL_MALLOC;
  if (strcmp(name, "calloc") == 0) return CALL_CALLOC;
  if (strcmp(name, "realloc") == 0) return CALL_REALLOC;
  if (strcmp(name, "memalign") == 0 || strcmp(name, "posix_memalign") == 0 ||
      strcmp(name, "aligned_alloc") == 0 || strcmp(name, "valloc") == 0 ||
      strcmp(name, "pvalloc") == 0)
    return CALL_ALIGNED;
  if (strcmp(name, "free") == 0 || strcmp(name, "cfree") == 0 || starts_with(name, "_Zdl") ||
      starts_with(name, "_Zda") || strcmp(name, "__builtin_delete") == 0 ||
      strcmp(name, "__builtin_vec_delete") == 0)
    return CALL_FREE;
  return CALL_NONE;
}

/* A number, hex with 0x or decimal. */
static int parse_number(const char **cursor, uint64_t *value) {
  const char *p = *cursor;
  while (*p == ' ') p++;
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p += 2;
  }
  uint64_t v = 0;
  const char *start = p;
  for (;; p++) {
    int digit;
    if (*p >= '0' && *p <= '9') digit = *p - '0';
    else if (base == 16 && *p >= 'a' && *p <= 'f') digit = *p - 'a' + 10;
    else if (base == 16 && *p >= 'A' && *p <= 'F') digit = *p - 'A' + 10;
    else break;
    if (v > (UINT64_MAX - (uint64_t)digit) / (uint64_t)base) return -1;
    v = v * (uint64_t)base + (uint64_t)digit;
  }
  if (p == start) return -1;
  *value = v;
  *cursor = p;
  return 0;
}

typedef struct event {
  enum call call;
  char name[64];
  uint64_t args[2];     /* positional, unlabelled */
  int arg_count;
  uint64_t size, align; /* from "size N" / "al N" labels */
  int has_size, has_align;
  uint64_t result;
  int has_result;
  int realloc_freed; /* "realloc(p,0)free(p)": the realloc freed p */
} event;

/* Parses "name(args)[ = result]" at p. 1 = event, 0 = not an allocator
 * call (skip the line), -1 = malformed. */
static int parse_event(const char *p, event *e) {
  memset(e, 0, sizeof *e);
  size_t n = 0;
  while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
         (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
    n++;
  if (n == 0 || n >= sizeof e->name || p[n] != '(') return 0;
  memcpy(e->name, p, n);
  e->call = classify(e->name);
  if (e->call == CALL_NONE) return 0;
  p += n + 1;
  for (;;) {
    while (*p == ' ') p++;
    if (*p == ')') break;
    const char *label = p;
    while (*p >= 'a' && *p <= 'z') p++;
    size_t label_len = (size_t)(p - label);
    uint64_t value;
    if (label_len && *p != ' ') p = label, label_len = 0; /* "0x.." starts with a digit anyway */
    if (parse_number(&p, &value)) return -1;
    if (label_len == 2 && strncmp(label, "al", 2) == 0) {
      e->align = value;
      e->has_align = 1;
    } else if (label_len == 4 && strncmp(label, "size", 4) == 0) {
      e->size = value;
      e->has_size = 1;
    } else if (label_len == 0 && e->arg_count < 2) {
      e->args[e->arg_count++] = value;
    } else {
      return -1;
    }
    while (*p == ' ') p++;
    if (*p == ',') p++;
    else if (*p != ')') return -1;
  }
  p++;
  while (*p == ' ') p++;
  /* valgrind traces a call that another one makes on the same line:
   * "realloc(0x0,5)malloc(5) = 0x..." (realloc of NULL is malloc) and
   * "realloc(0x..,0)free(0x..)" (its " = 0" follows on a line of its own,
   * which is skipped). The outer call takes the inner one's result. */
  if (e->call == CALL_REALLOC && ((*p >= 'a' && *p <= 'z') || *p == '_')) {
    event inner;
    if (parse_event(p, &inner) != 1) return -1;
    if (inner.call == CALL_MALLOC && inner.has_result) {
      e->result = inner.result;
      e->has_result = 1;
    } else if (inner.call == CALL_FREE) {
      e->realloc_freed = 1;
      e->has_result = 1; /* NULL */
    } else {
      return -1;
    }
    return 1;
  }
  if (*p == '=') {
    p++;
    if (parse_number(&p, &e->result)) return -1;
    e->has_result = 1;
  }
  while (*p == ' ' || *p == '\r' || *p == '\n') p++;
  if (*p) return -1;
  if (e->call != CALL_FREE && !e->has_result) return -1;
  return 1;
}

static unsigned log2_ceil(uint64_t value) {
  unsigned log = 0;
  while (log < 63 && ((uint64_t)1 << log) < value) log++;
  return log;
}

/* Applies one parsed event. 1 = applied, -1 = malformed arguments, -2 = error set. */
static int apply(hb_builder *b, const event *e, hb_error *error) {
  uint64_t a0 = e->args[0], a1 = e->args[1];
  switch (e->call) {
  case CALL_MALLOC: {
    if (!e->has_size && e->arg_count != 1) return -1;
    uint64_t size = e->has_size ? e->size : a0;
    return hb_builder_alloc(b, HB_OP_MALLOC, 0, size, 0, e->result, 0, error) ? -2 : 1;
  }
  case CALL_CALLOC: {
    if (e->arg_count != 2) return -1;
    uint64_t size = a1 && a0 > UINT64_MAX / a1 ? UINT64_MAX : a0 * a1;
    return hb_builder_alloc(b, HB_OP_CALLOC, 0, size, 0, e->result, 0, error) ? -2 : 1;
  }
  case CALL_ALIGNED: {
    uint64_t size, align;
    if (e->has_size && e->has_align) {
      size = e->size;
      align = e->align;
    } else if (!e->has_size && !e->has_align && e->arg_count == 2) {
      align = a0;
      size = a1;
    } else if (strcmp(e->name, "valloc") == 0 && e->arg_count == 1) {
      align = 4096;
      size = a0;
    } else {
      return -1;
    }
    return hb_builder_alloc(b, HB_OP_ALIGNED, 0, size, log2_ceil(align), e->result, 0, error)
               ? -2 : 1;
  }
  case CALL_REALLOC: {
    if (e->arg_count != 2) return -1;
    uint32_t id = hb_builder_realloc_take(b, a0);
    /* realloc(p, 0) that freed p: a free by realloc, whatever it returned. */
    uint64_t size = e->realloc_freed ? 0 : a1, result = e->realloc_freed ? 0 : e->result;
    return hb_builder_realloc_finish(b, 0, a0, id, size, result, 0, error) ? -2 : 1;
  }
  case CALL_FREE:
    if (e->arg_count < 1) return -1;
    return hb_builder_free(b, 0, a0, 0, error) ? -2 : 1;
  default:
    return 0;
  }
}

/* Reads one line into buf; a longer line is cut and the rest discarded.
 * Returns the length, 0 at end of file; *complete says whether it ended
 * with a newline. */
static size_t read_line(gzFile file, char *buf, size_t size, int *complete, int *too_long) {
  *complete = 0;
  *too_long = 0;
  if (!gzgets(file, buf, (int)size)) return 0;
  size_t len = strlen(buf);
  if (len && buf[len - 1] == '\n') {
    *complete = 1;
    return len;
  }
  if (len == size - 1) { /* cut: skip to the end of the line */
    *too_long = 1;
    int c;
    while ((c = gzgetc(file)) != -1 && c != '\n') {
    }
    *complete = c == '\n';
  }
  return len;
}

/* The reader streams (reader_source.h): the builder's address map holds
 * the live blocks, the batch the ops parsed since the last fill. */
typedef struct valgrind_state {
  char *path;
  gzFile file;
  hb_builder builder;
  unsigned long line_number;
  long pid;
} valgrind_state;

static void valgrind_close(void *state) {
  valgrind_state *v = state;
  if (!v) return;
  if (v->file) gzclose(v->file);
  hb_builder_finish(&v->builder); /* releases its map; figures already in the batch */
  free(v->path);
  free(v);
}

static int valgrind_fill(void *state, hb_trace *trace, hb_error *error) {
  valgrind_state *v = state;
  const char *path = v->path;
  char line[1024];
  int complete, too_long;
  while (trace->op_count < HB_READER_BATCH_OPS) {
    if (!read_line(v->file, line, sizeof line, &complete, &too_long)) break;
    v->line_number++;
    /* valgrind writes whole lines: one without its newline can only be
     * the last, cut short when the process was killed. It is left out. */
    if (!complete && !too_long) break;
    long line_pid = 0;
    int prefix = 0;
    if (sscanf(line, "--%ld--%n", &line_pid, &prefix) < 1 || prefix == 0 || line[prefix] != ' ') {
      if (sscanf(line, "==%ld== Command: %n", &line_pid, &prefix) >= 1 && prefix > 0 &&
          !trace->program[0] && (v->pid < 0 || v->pid == line_pid)) {
        size_t n = strcspn(line + prefix, " \r\n");
        char *program = strndup(line + prefix, n);
        if (program) {
          free(trace->program);
          trace->program = program;
        }
      }
      continue;
    }
    event e;
    int parsed = too_long ? -1 : parse_event(line + prefix + 1, &e);
    if (parsed == 0) continue;
    if (v->pid < 0) {
      v->pid = line_pid;
      trace->pid = (uint32_t)v->pid;
    }
    if (line_pid != v->pid) { /* another address space: its ids cannot mix with ours */
      trace->other_process_calls++;
      continue;
    }
    int applied = parsed < 0 ? -1 : apply(&v->builder, &e, error);
    if (applied == -2) return -1;
    if (applied == -1)
      return hb_fail(error, "%s:%lu: malformed %s event", path, v->line_number,
                     too_long ? "(over-long)" : e.name);
  }
  trace->dropped_ops = trace->unmatched_frees + trace->failed_allocs;
  if (trace->op_count >= HB_READER_BATCH_OPS) return 0;
  int errnum = Z_OK;
  const char *message = gzerror(v->file, &errnum);
  if (errnum != Z_OK && errnum != Z_STREAM_END)
    return hb_fail(error, "%s:%lu: read error: %s", path, v->line_number, message);
  if (v->pid < 0)
    return hb_fail(error, "%s:%lu: no allocator call found (is this a valgrind "
                   "--trace-malloc=yes log?)", path, v->line_number);
  return 1;
}

int hb_valgrind_open(const char *path, hb_trace *trace, hb_reader_source *source,
                     hb_error *error) {
  valgrind_state *v = calloc(1, sizeof *v);
  if (!v || !(v->path = strdup(path))) {
    free(v);
    return hb_fail(error, "%s: out of memory", path);
  }
  v->pid = -1;
  hb_trace_init(trace, path, "valgrind");
  v->file = gzopen(path, "rb");
  if (!v->file) {
    int rc = hb_fail(error, "%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    free(v->path);
    free(v);
    hb_trace_release(trace);
    return rc;
  }
  gzbuffer(v->file, 1 << 16);
  if (hb_builder_init(&v->builder, trace, 0, error)) {
    gzclose(v->file);
    free(v->path);
    free(v);
    hb_trace_release(trace);
    return -1;
  }
  *source = (hb_reader_source){valgrind_fill, valgrind_close, v, 0, 0};
  return 0;
}
