/* synth.c — traces drawn from a recording's blocks (hb_synth.h). */
#include "hb_synth.h"

#include <stdlib.h>
#include <string.h>

/* ---- The recording's blocks ---- */
typedef struct block_event { /* a realloc or the free of a block */
  uint64_t offset;           /* ops after the block's creation */
  uint64_t size;             /* realloc: new size */
  uint32_t thread;
  uint8_t kind, flags;
} block_event;

typedef struct block_record {
  hb_op create;        /* the creating op (its id unused) */
  uint64_t first_event; /* into events; events of one block are contiguous, in order */
  uint32_t event_count;
} block_record;

typedef struct profile_blocks {
  block_record *blocks;
  size_t block_count;
  block_event *events;
  size_t event_count;
  uint64_t *created_at; /* per block: the op that creates it */
  uint32_t *op_block;   /* per op: its block, UINT32_MAX for free(NULL); NULL unless asked for */
} profile_blocks;

static int creates(const hb_op *op) {
  return op->kind != HB_OP_FREE && (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
}

static void profile_release(profile_blocks *p) {
  free(p->blocks);
  free(p->events);
  free(p->created_at);
  free(p->op_block);
}

/* Every block of the trace, with its events, and with `op_blocks` each
 * op's block. Two passes: count each block's events, then place them
 * contiguously. */
static int profile_collect(const hb_trace *t, int op_blocks, profile_blocks *p, hb_error *error) {
  memset(p, 0, sizeof *p);
  size_t *current = malloc((t->id_count ? t->id_count : 1) * sizeof *current);
  uint64_t *created_at = p->created_at = malloc((t->op_count ? t->op_count : 1) * sizeof *created_at);
  p->blocks = calloc(t->op_count ? t->op_count : 1, sizeof *p->blocks);
  if (op_blocks) p->op_block = malloc((t->op_count ? t->op_count : 1) * sizeof *p->op_block);
  if (!current || !created_at || !p->blocks || (op_blocks && !p->op_block)) goto oom;
  for (size_t i = 0; i < t->op_count; i++) {
    const hb_op *op = &t->ops[i];
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) {
      continue;
    } else if (creates(op)) {
      current[op->id] = p->block_count;
      created_at[p->block_count] = i;
      p->blocks[p->block_count++] = (block_record){.create = *op};
    } else {
      p->blocks[current[op->id]].event_count++;
      p->event_count++;
    }
  }
  p->events = malloc((p->event_count ? p->event_count : 1) * sizeof *p->events);
  if (!p->events) goto oom;
  uint64_t next = 0;
  for (size_t b = 0; b < p->block_count; b++) {
    p->blocks[b].first_event = next;
    next += p->blocks[b].event_count;
    p->blocks[b].event_count = 0; /* refilled below */
  }
  size_t block = 0;
  for (size_t i = 0; i < t->op_count; i++) {
    const hb_op *op = &t->ops[i];
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) {
      if (p->op_block) p->op_block[i] = UINT32_MAX;
      continue;
    }
    if (creates(op)) current[op->id] = block++;
    if (p->op_block) p->op_block[i] = (uint32_t)current[op->id];
    if (creates(op)) continue;
    block_record *r = &p->blocks[current[op->id]];
    p->events[r->first_event + r->event_count++] =
        (block_event){.offset = i - created_at[current[op->id]], .size = op->size,
                      .thread = op->thread, .kind = op->kind, .flags = op->flags};
  }
  free(current);
  return 0;
oom:
  free(current);
  profile_release(p);
  return hb_fail(error, "%s: out of memory reading its blocks", t->path);
}

/* ---- Random numbers: splitmix64 ---- */
static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* ---- Pending events of the synthetic trace: a binary min-heap ---- */
typedef struct pending {
  uint64_t time;     /* in the recording's ops */
  uint64_t sequence; /* ties: in the order they were scheduled */
  uint32_t id;       /* synthetic block id */
  uint32_t block;    /* the recording's block it copies */
  uint32_t event;    /* its next event (index among the block's) */
} pending;

typedef struct heap {
  pending *items;
  size_t count, capacity;
} heap;

static int earlier(const pending *a, const pending *b) {
  return a->time < b->time || (a->time == b->time && a->sequence < b->sequence);
}

static int heap_push(heap *h, pending item) {
  if (h->count == h->capacity) {
    size_t capacity = h->capacity ? 2 * h->capacity : 1024;
    pending *items = realloc(h->items, capacity * sizeof *items);
    if (!items) return -1;
    h->items = items;
    h->capacity = capacity;
  }
  size_t i = h->count++;
  while (i > 0 && earlier(&item, &h->items[(i - 1) / 2])) {
    h->items[i] = h->items[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->items[i] = item;
  return 0;
}

static pending heap_pop(heap *h) {
  pending top = h->items[0], last = h->items[--h->count];
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= h->count) break;
    if (child + 1 < h->count && earlier(&h->items[child + 1], &h->items[child])) child++;
    if (!earlier(&h->items[child], &last)) break;
    h->items[i] = h->items[child];
    i = child;
  }
  if (h->count) h->items[i] = last;
  return top;
}

/* ---- Drawing runs of the recording ---- */
/* A synthetic trace is made of runs: windows of RUN_OPS consecutive ops of
 * the recording, copied in order. Inside a run, every op of a block the run
 * created is copied as it stands (ids renamed), so a block freed on the
 * next op in the recording is freed on the next op here: the interpreter
 * patterns of short lifetimes (perl frees 13% of its blocks one op later)
 * survive, which drawing blocks one at a time did not keep. An op of a
 * block created before the run is a vacancy: it goes to the earliest
 * pending event of a block an earlier run created, for those stand where
 * the recording had events of blocks created before the window. */
#define RUN_OPS 16384u

typedef struct draw {
  const hb_trace *like;
  const profile_blocks *p;
  uint32_t threads;
  heap pending;               /* events of blocks created by earlier runs */
  uint64_t sequence;
  uint32_t next_id;           /* synthetic block ids, in order of creation */
  uint64_t now;               /* synthetic time: recording ops copied so far, all runs */
  uint64_t owed;              /* events still to play of the blocks created so far */
  uint32_t ids[RUN_OPS];      /* synthetic id of each block the current run created */
} draw;

static uint64_t created_time(const draw *d, const pending *e) {
  return e->time - d->p->events[d->p->blocks[e->block].first_event + e->event].offset;
}

/* How far a pending event may move: taking a vacancy early, or played
 * without one when late. 1/8 of its block's age keeps the block's lifetime
 * within the power-of-two class the mix measures, nearly always. */
static uint64_t slack(const draw *d, const pending *e) {
  return (e->time - created_time(d, e)) / 8;
}

/* Schedules event `event` (if the block has it) of a block created at
 * synthetic time `created`. */
static int schedule(draw *d, uint32_t block, uint32_t id, uint64_t created, uint32_t event) {
  const block_record *r = &d->p->blocks[block];
  if (event >= r->event_count) return 0;
  return heap_push(&d->pending, (pending){.time = created + d->p->events[r->first_event + event].offset,
                                          .sequence = d->sequence++, .id = id, .block = block,
                                          .event = event});
}

/* Plays the earliest pending event and schedules its block's next one. */
static int play_pending(draw *d, hb_trace *out, hb_error *error) {
  pending e = heap_pop(&d->pending);
  const block_event *ev = &d->p->events[d->p->blocks[e.block].first_event + e.event];
  hb_op op = {.kind = ev->kind, .flags = ev->flags & (uint8_t)~HB_FLAG_FROM_NULL,
              .thread = ev->thread % d->threads, .id = e.id,
              .size = ev->kind == HB_OP_FREE ? 0 : ev->size};
  if (schedule(d, e.block, e.id, created_time(d, &e), e.event + 1) != 0) return -1;
  d->owed--;
  return hb_trace_push(out, op, error);
}

/* Runs of RUN_OPS ops, or an eighth of a shorter recording (at least 256
 * ops, at most all of it): even a short recording is drawn from several
 * runs rather than copied whole. 16,384 ops: runs of 4,096 cut more of
 * python3-threads' blocks that live 2,048-4,096 ops (lifetime mix L1 0.20
 * against 0.09); runs of 65,536 bring little more (0.05) and fewer draws. */
static uint64_t run_length(uint64_t ops) {
  uint64_t run = ops / 8 < 256 ? 256 : ops / 8;
  if (run > RUN_OPS) run = RUN_OPS;
  return run < ops ? run : ops;
}

/* The first block created at or after recording op `op`. */
static uint32_t first_block_from(const draw *d, uint64_t op) {
  size_t low = 0, high = d->p->block_count;
  while (low < high) {
    size_t mid = low + (high - low) / 2;
    if (d->p->created_at[mid] < op) low = mid + 1;
    else high = mid;
  }
  return (uint32_t)low;
}

/* Copies the recording's ops [from, to) as one run, stopping early at the
 * op where the ops written and the events owed reach `limit`; the
 * events of the run's blocks that it did not reach become pending. */
static int copy_run(draw *d, uint64_t from, uint64_t to, uint64_t limit, hb_trace *out,
                    hb_error *error) {
  const uint32_t first = first_block_from(d, from);
  const uint64_t base = d->now;
  uint64_t i = from;
  for (; i < to && out->op_count + d->owed < limit; i++) {
    const uint64_t now = base + (i - from);
    while (d->pending.count && d->pending.items[0].time + slack(d, &d->pending.items[0]) < now)
      if (play_pending(d, out, error) != 0) return -1; /* late: no vacancy came */
    hb_op op = d->like->ops[i];
    const uint32_t b = d->p->op_block[i];
    op.thread %= d->threads;
    if (b != UINT32_MAX && d->p->created_at[b] < from) { /* a vacancy */
      if (d->pending.count &&
          d->pending.items[0].time <= now + slack(d, &d->pending.items[0]) &&
          play_pending(d, out, error) != 0)
        return -1;
      continue;
    }
    if (b != UINT32_MAX) {
      if (d->p->created_at[b] == i) {
        d->ids[b - first] = d->next_id++;
        d->owed += d->p->blocks[b].event_count;
      } else {
        d->owed--;
      }
      op.id = d->ids[b - first];
    }
    if (hb_trace_push(out, op, error) != 0) return -1;
  }
  /* The run's blocks live on: their events past op i become pending. */
  const uint32_t end_block = first_block_from(d, i);
  for (uint32_t b = first; b < end_block; b++) {
    const block_record *r = &d->p->blocks[b];
    uint32_t e = 0;
    while (e < r->event_count && d->p->created_at[b] + d->p->events[r->first_event + e].offset < i) e++;
    if (schedule(d, b, d->ids[b - first], base + (d->p->created_at[b] - from), e) != 0) return -1;
  }
  d->now = base + (i - from);
  return 0;
}

int hb_trace_synth(const hb_trace *like, const hb_synth_options *o, hb_trace *out,
                   hb_error *error) {
  hb_trace_init(out, "synthetic", "hbt");
  profile_blocks p;
  if (profile_collect(like, 1, &p, error) != 0) return -1;
  if (p.block_count == 0) {
    profile_release(&p);
    return hb_fail(error, "%s: no block is ever allocated: nothing to draw from", like->path);
  }
  if (p.block_count > UINT32_MAX - 1 || o->ops > UINT32_MAX - 1) {
    profile_release(&p);
    return hb_fail(error, "%s: too large to draw from (at most 2^32 blocks and ops)", like->path);
  }
  draw *d = calloc(1, sizeof *d);
  int rc = d ? 0 : -1;
  if (rc == 0) {
    d->like = like;
    d->p = &p;
    d->threads = o->threads ? o->threads : like->thread_count;
    out->thread_count = d->threads;
    free(out->program);
    out->program = strdup(like->program ? like->program : "");
    /* Runs follow the recording's run (the draw repeats it: the trace's
     * op k stands at recording op k mod ops), each starting within 1% of
     * the run either way of where it falls, and at most a quarter of a
     * run: a program's phases, a build-up and its teardown, come back in
     * their order, and the recording is covered about once per repetition
     * (a spread of 1% of a 1.4M-op recording, more than a run, left gaps
     * and doubles that moved the drawn peak live by -24% to +10%). */
    const uint64_t n = like->op_count, run = run_length(n), spread = n / 100 < run / 4 ? n / 100 : run / 4;
    uint64_t state = o->seed;
    while (rc == 0 && out->op_count + d->owed < o->ops) {
      uint64_t at = d->now % n;
      uint64_t low = at > spread ? at - spread : 0, high = at + spread < n ? at + spread : n - 1;
      /* The first run starts where the program did: what a process
       * allocates first (an interpreter's start-up, a compiler's tables)
       * often lives to the end and makes much of its peak. */
      uint64_t from = d->now == 0 ? 0 : low + next_random(&state) % (high - low + 1);
      /* A run never wraps: the last of a repetition is cut at the end of
       * the recording, and the next starts over at its beginning. */
      rc = copy_run(d, from, from + run < n ? from + run : n, o->ops, out, error);
    }
    /* What is pending is played out, as a recording ends with its
     * program's teardown, up to the length asked for (the last block
     * created may owe more events than fit: those are left out). */
    while (rc == 0 && d->pending.count && out->op_count < o->ops) rc = play_pending(d, out, error);
    out->id_count = d->next_id ? d->next_id : 1;
  }
  if (d) free(d->pending.items);
  free(d);
  profile_release(&p);
  if (rc != 0) {
    hb_trace_release(out);
    return hb_fail(error, "%s: out of memory drawing %llu ops", like->path,
                   (unsigned long long)o->ops);
  }
  return 0;
}

/* ---- Profiles ---- */
static unsigned log2_bucket(uint64_t value) {
  return value <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(value - 1);
}

int hb_trace_profile_compute(const hb_trace *t, hb_trace_profile *profile, hb_error *error) {
  memset(profile, 0, sizeof *profile);
  profile_blocks p;
  if (profile_collect(t, 0, &p, error) != 0) return -1;
  for (size_t b = 0; b < p.block_count; b++) {
    const block_record *r = &p.blocks[b];
    profile->size_mix[log2_bucket(r->create.size)] += 1;
    const block_event *last = r->event_count ? &p.events[r->first_event + r->event_count - 1] : NULL;
    if (last && last->kind == HB_OP_FREE)
      profile->lifetime_mix[log2_bucket(last->offset)] += 1;
    else
      profile->lifetime_mix[HB_PROFILE_BUCKETS - 1] += 1;
  }
  for (unsigned k = 0; k < HB_PROFILE_BUCKETS && p.block_count; k++) {
    profile->size_mix[k] /= (double)p.block_count;
    profile->lifetime_mix[k] /= (double)p.block_count;
  }
  for (size_t i = 0; i < t->op_count; i++) profile->kind_share[t->ops[i].kind] += 1;
  for (unsigned k = 0; k < HB_OP_KIND_COUNT && t->op_count; k++)
    profile->kind_share[k] /= (double)t->op_count;
  profile_release(&p);
  return 0;
}

void hb_trace_profile_compare(const hb_trace_profile *a, const hb_trace_profile *b,
                              double *size_l1, double *lifetime_l1, double *kind_max) {
  *size_l1 = *lifetime_l1 = *kind_max = 0;
  for (unsigned k = 0; k < HB_PROFILE_BUCKETS; k++) {
    double ds = a->size_mix[k] - b->size_mix[k], dl = a->lifetime_mix[k] - b->lifetime_mix[k];
    *size_l1 += ds < 0 ? -ds : ds;
    *lifetime_l1 += dl < 0 ? -dl : dl;
  }
  for (unsigned k = 0; k < HB_OP_KIND_COUNT; k++) {
    double d = a->kind_share[k] - b->kind_share[k];
    if ((d < 0 ? -d : d) > *kind_max) *kind_max = d < 0 ? -d : d;
  }
}
