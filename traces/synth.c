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
  size_t null_frees; /* free(NULL) ops */
} profile_blocks;

static int creates(const hb_op *op) {
  return op->kind != HB_OP_FREE && (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
}

static void profile_release(profile_blocks *p) {
  free(p->blocks);
  free(p->events);
}

/* Every block of the trace, with its events. Two passes: count each
 * block's events, then place them contiguously. */
static int profile_collect(const hb_trace *t, profile_blocks *p, hb_error *error) {
  memset(p, 0, sizeof *p);
  size_t *current = malloc((t->id_count ? t->id_count : 1) * sizeof *current);
  uint64_t *created_at = malloc((t->op_count ? t->op_count : 1) * sizeof *created_at);
  p->blocks = calloc(t->op_count ? t->op_count : 1, sizeof *p->blocks);
  if (!current || !created_at || !p->blocks) goto oom;
  for (size_t i = 0; i < t->op_count; i++) {
    const hb_op *op = &t->ops[i];
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) {
      p->null_frees++;
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
    if (op->kind == HB_OP_FREE && op->id == HB_NULL_ID) continue;
    if (creates(op)) {
      current[op->id] = block++;
      continue;
    }
    block_record *r = &p->blocks[current[op->id]];
    p->events[r->first_event + r->event_count++] =
        (block_event){.offset = i - created_at[current[op->id]], .size = op->size,
                      .thread = op->thread, .kind = op->kind, .flags = op->flags};
  }
  free(current);
  free(created_at);
  return 0;
oom:
  free(current);
  free(created_at);
  profile_release(p);
  return hb_fail(error, "%s: out of memory reading its blocks", t->path);
}

/* Times in units of 1/blocks op can pass 2^64 on long draws from large
 * recordings. */
__extension__ typedef unsigned __int128 wide;

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

int hb_trace_synth(const hb_trace *like, const hb_synth_options *o, hb_trace *out,
                   hb_error *error) {
  hb_trace_init(out, "synthetic", "hbt");
  profile_blocks p;
  if (profile_collect(like, &p, error) != 0) return -1;
  if (p.block_count == 0) {
    profile_release(&p);
    return hb_fail(error, "%s: no block is ever allocated: nothing to draw from", like->path);
  }
  if (p.block_count > UINT32_MAX || o->ops > (uint64_t)UINT32_MAX * 2) {
    profile_release(&p);
    return hb_fail(error, "%s: too large to draw from (at most 2^32 blocks)", like->path);
  }
  uint32_t threads = o->threads ? o->threads : like->thread_count;
  out->thread_count = threads;
  free(out->program);
  out->program = strdup(like->program ? like->program : "");
  uint64_t state = o->seed;
  /* Creations at the recording's rate: one every ops/blocks of its ops
   * (in units of 1/blocks op, so the spacing stays exact). */
  const uint64_t n = like->op_count, blocks = p.block_count;
  uint64_t creations = 0, null_frees = 0, sequence = 0;
  heap h = {0};
  int rc = 0;
  while (out->op_count < o->ops && rc == 0) {
    /* Due next: the earliest of the next creation, the next free(NULL)
     * and the earliest pending event, all in units of 1/blocks op. */
    wide create_at = (wide)creations * n;
    wide null_at = p.null_frees ? (wide)null_frees * n * blocks / p.null_frees
                                             : (wide)-1;
    wide event_at = h.count ? (wide)h.items[0].time * blocks
                                         : (wide)-1;
    /* Once the ops written and the events pending reach the length asked
     * for, no more blocks are created: what is pending is played out, as
     * a recording ends with its program's teardown. */
    if (out->op_count + h.count >= o->ops) create_at = null_at = (wide)-1;
    if (create_at == (wide)-1 && event_at == (wide)-1) break;
    hb_op op = {0};
    if (null_at <= create_at && null_at <= event_at) {
      null_frees++;
      op = (hb_op){.kind = HB_OP_FREE, .id = HB_NULL_ID,
                   .thread = (uint32_t)(next_random(&state) % like->thread_count) % threads};
    } else if (create_at <= event_at) {
      /* A block created about where this one falls in the recording's
       * run (the draw repeats the run: creation k stands at creation
       * k mod blocks), within 1% of the run either way: the program's
       * phases, a build-up and its teardown, come back in their order. */
      uint64_t at = creations % blocks, window = blocks / 100 > 8 ? blocks / 100 : 8;
      uint64_t low = at > window ? at - window : 0, high = at + window < blocks ? at + window : blocks - 1;
      uint32_t b = (uint32_t)(low + next_random(&state) % (high - low + 1));
      const block_record *r = &p.blocks[b];
      op = r->create;
      op.id = (uint32_t)creations;
      op.thread %= threads;
      if (r->event_count)
        rc = heap_push(&h, (pending){.time = (uint64_t)(create_at / blocks) + p.events[r->first_event].offset,
                                     .sequence = sequence++, .id = op.id, .block = b, .event = 0});
      creations++;
    } else {
      pending e = heap_pop(&h);
      const block_record *r = &p.blocks[e.block];
      const block_event *ev = &p.events[r->first_event + e.event];
      op = (hb_op){.kind = ev->kind, .flags = ev->flags & (uint8_t)~HB_FLAG_FROM_NULL,
                   .thread = ev->thread % threads, .id = e.id,
                   .size = ev->kind == HB_OP_FREE ? 0 : ev->size};
      if (e.event + 1 < r->event_count) {
        const uint64_t created = e.time - ev->offset;
        e.event++;
        e.time = created + p.events[r->first_event + e.event].offset;
        e.sequence = sequence++;
        rc = heap_push(&h, e);
      }
    }
    if (rc == 0) rc = hb_trace_push(out, op, error);
  }
  free(h.items);
  profile_release(&p);
  if (rc != 0) {
    hb_trace_release(out);
    return hb_fail(error, "%s: out of memory drawing %llu ops", like->path,
                   (unsigned long long)o->ops);
  }
  out->id_count = (uint32_t)(creations ? creations : 1);
  return 0;
}

/* ---- Profiles ---- */
static unsigned log2_bucket(uint64_t value) {
  return value <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(value - 1);
}

int hb_trace_profile_compute(const hb_trace *t, hb_trace_profile *profile, hb_error *error) {
  memset(profile, 0, sizeof *profile);
  profile_blocks p;
  if (profile_collect(t, &p, error) != 0) return -1;
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
