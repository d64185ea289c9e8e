/* worker_heapmap.c — the heap-map pass (`replay --heap-map K`,
 * docs/METRICS.md, "Heap map"): the trace replayed once more, in a fresh
 * process of its own, stopping after chosen ops to draw the heap as
 * address ranges. Never timed, and never one of the other passes: a walk
 * of the heap reads every block header, which would show in the timed
 * figures and in the instrumented pass's resident ones.
 *
 * Snapshots are taken after K evenly spaced ops (op floor((k + 1) n / K)
 * - 1, the last op always among them) and after the trace's peak-live op.
 * Each is a list of address ranges:
 *   - the sbrk policies: every block of the heap, allocated, free or
 *     parked, from the allocator's own walk (hb_sbrk_walk, in the native
 *     worker only: HB_WORKER_SBRK);
 *   - any other allocator: the live blocks the replay holds (its slot
 *     table, requested sizes), all "allocated": what a process can see.
 * The ranges are sorted by address and cut into at most HB_HEAPMAP_SEGMENTS
 * segments at gaps of HB_HEAPMAP_GAP_BYTES or more (a heap and a far-away
 * mmap'ed block are drawn side by side, not 40 TiB apart); the segments,
 * laid end to end, are binned into at most HB_HEAPMAP_BINS bins with the
 * bytes of each state per bin. A snapshot with at most
 * HB_HEAPMAP_EXACT_BLOCKS ranges also lists them exactly. So what the
 * pass prints is bounded whatever the trace's block count; the ranges
 * themselves are gathered in harness memory, reused from one snapshot to
 * the next.
 *
 * Multi-threaded traces are replayed in trace order on one thread: the
 * heap is stopped at exact ops, and the process never has a second
 * thread (the default sbrk policy's thread caches stay unused).
 */
#define _GNU_SOURCE
#include "worker_pass.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HB_WORKER_SBRK
#include "sbrk/hb_sbrk.h"
#endif

enum { STATE_ALLOCATED, STATE_FREE, STATE_PARKED, STATES };
static const char state_letter[STATES] = {'a', 'f', 'p'};

typedef struct range {
  uint64_t start, bytes;
  uint8_t state;
} range;

static struct heapmap_state {
  range *ranges;
  uint64_t range_count, range_capacity;
  int out_of_memory;
  char *text; /* the snapshots' lines, printed after the status line */
  size_t text_used, text_capacity;
} M;

/* ---- Harness memory that grows (no malloc: see worker_pass.h) ---- */
static void *grow(void *old, size_t old_bytes, size_t new_bytes) {
  void *bigger = hb_harness_map(new_bytes);
  if (!bigger) return NULL;
  if (old) {
    memcpy(bigger, old, old_bytes);
    hb_harness_unmap(old, old_bytes);
  }
  return bigger;
}

static void add_range(uint64_t start, uint64_t bytes, unsigned state) {
  if (M.range_count == M.range_capacity) {
    uint64_t capacity = M.range_capacity ? 2 * M.range_capacity : 4096;
    range *bigger = grow(M.ranges, M.range_capacity * sizeof *M.ranges, capacity * sizeof *M.ranges);
    if (!bigger) {
      M.out_of_memory = 1;
      return;
    }
    M.ranges = bigger;
    M.range_capacity = capacity;
  }
  M.ranges[M.range_count++] = (range){start, bytes, (uint8_t)state};
}

static void text_line(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void text_line(const char *format, ...) {
  char line[256];
  va_list args;
  va_start(args, format);
  int len = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (len <= 0 || M.out_of_memory) return;
  if ((size_t)len >= sizeof line) len = sizeof line - 1;
  if (M.text_used + (size_t)len > M.text_capacity) {
    size_t capacity = M.text_capacity ? 2 * M.text_capacity : (size_t)1 << 20;
    char *bigger = grow(M.text, M.text_capacity, capacity);
    if (!bigger) {
      M.out_of_memory = 1;
      return;
    }
    M.text = bigger;
    M.text_capacity = capacity;
  }
  memcpy(M.text + M.text_used, line, (size_t)len);
  M.text_used += (size_t)len;
}

#ifdef HB_WORKER_SBRK
static void visit_block(void *context, uintptr_t address, size_t bytes, hb_sbrk_block_state state) {
  (void)context;
  add_range(address, bytes,
            state == HB_SBRK_BLOCK_FREE     ? STATE_FREE
            : state == HB_SBRK_BLOCK_PARKED ? STATE_PARKED
                                            : STATE_ALLOCATED);
}
#endif

/* ---- Sorting by address: heapsort (qsort may malloc) ---- */
static void sift_down(range *v, uint64_t root, uint64_t n) {
  for (;;) {
    uint64_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && v[child + 1].start > v[child].start) child++;
    if (v[root].start >= v[child].start) return;
    range t = v[root];
    v[root] = v[child];
    v[child] = t;
    root = child;
  }
}

static void sort_ranges(range *v, uint64_t n) {
  uint64_t i = 1;
  while (i < n && v[i - 1].start <= v[i].start) i++;
  if (i >= n) return; /* already sorted: the sbrk walk of one region */
  for (uint64_t k = n / 2; k-- > 0;) sift_down(v, k, n);
  for (uint64_t end = n; end-- > 1;) {
    range t = v[0];
    v[0] = v[end];
    v[end] = t;
    sift_down(v, 0, end);
  }
}

/* ---- One snapshot: segments, bins, and the exact ranges when few ---- */
typedef struct segment {
  uint64_t start, bytes, offset; /* offset: where it starts in the segments laid end to end */
} segment;

/* The ranges' gaps at which segments are cut: those of HB_HEAPMAP_GAP_BYTES
 * or more, the largest HB_HEAPMAP_SEGMENTS - 1 of them when there are more.
 * Returns how many; `cut` holds the index of the range after each gap, in
 * ascending order. */
static unsigned choose_cuts(uint64_t cut[HB_HEAPMAP_SEGMENTS - 1]) {
  uint64_t gap_of[HB_HEAPMAP_SEGMENTS - 1];
  unsigned count = 0;
  uint64_t end = M.ranges[0].start + M.ranges[0].bytes;
  for (uint64_t i = 1; i < M.range_count; i++) {
    uint64_t gap = M.ranges[i].start > end ? M.ranges[i].start - end : 0;
    if (M.ranges[i].start + M.ranges[i].bytes > end) end = M.ranges[i].start + M.ranges[i].bytes;
    if (gap < HB_HEAPMAP_GAP_BYTES) continue;
    if (count < HB_HEAPMAP_SEGMENTS - 1) {
      cut[count] = i;
      gap_of[count++] = gap;
      continue;
    }
    unsigned smallest = 0;
    for (unsigned k = 1; k < count; k++)
      if (gap_of[k] < gap_of[smallest]) smallest = k;
    if (gap > gap_of[smallest]) {
      cut[smallest] = i;
      gap_of[smallest] = gap;
    }
  }
  for (unsigned a = 1; a < count; a++) /* ascending */
    for (unsigned b = a; b > 0 && cut[b - 1] > cut[b]; b--) {
      uint64_t t = cut[b];
      cut[b] = cut[b - 1];
      cut[b - 1] = t;
    }
  return count;
}

static uint64_t bins[HB_HEAPMAP_BINS][STATES];

static void snapshot(unsigned index, uint64_t op, uint64_t live_bytes, int heap_detail) {
  uint64_t blocks[STATES] = {0}, bytes[STATES] = {0};
  segment segments[HB_HEAPMAP_SEGMENTS];
  unsigned segment_count = 0;
  uint64_t span = 0, bin_bytes = 16;
  memset(bins, 0, sizeof bins);
  if (M.range_count) {
    sort_ranges(M.ranges, M.range_count);
    uint64_t cut[HB_HEAPMAP_SEGMENTS - 1];
    unsigned cuts = choose_cuts(cut);
    /* Segment s holds ranges [first, cut[s]) (the last: to the end). */
    uint64_t first = 0;
    for (unsigned s = 0; s <= cuts; s++) {
      uint64_t last = s < cuts ? cut[s] : M.range_count;
      uint64_t start = M.ranges[first].start, end = start;
      for (uint64_t i = first; i < last; i++)
        if (M.ranges[i].start + M.ranges[i].bytes > end) end = M.ranges[i].start + M.ranges[i].bytes;
      segments[segment_count++] = (segment){start, end - start, span};
      span += end - start;
      first = last;
    }
    bin_bytes = (span + HB_HEAPMAP_BINS - 1) / HB_HEAPMAP_BINS;
    bin_bytes = bin_bytes < 16 ? 16 : (bin_bytes + 15) & ~(uint64_t)15;
    unsigned s = 0;
    for (uint64_t i = 0; i < M.range_count; i++) {
      const range *r = &M.ranges[i];
      while (s + 1 < segment_count && r->start >= segments[s + 1].start) s++;
      blocks[r->state]++;
      bytes[r->state] += r->bytes;
      /* The range's bytes, bin by bin, over the segments laid end to end. */
      uint64_t from = segments[s].offset + (r->start - segments[s].start), to = from + r->bytes;
      for (uint64_t b = from / bin_bytes; b * bin_bytes < to && b < HB_HEAPMAP_BINS; b++) {
        uint64_t low = b * bin_bytes > from ? b * bin_bytes : from;
        uint64_t high = (b + 1) * bin_bytes < to ? (b + 1) * bin_bytes : to;
        bins[b][r->state] += high - low;
      }
    }
  }
  text_line("heapmap %u %llu %llu %s %llu %llu", index, (unsigned long long)op,
            (unsigned long long)live_bytes, heap_detail ? "heap" : "slots",
            (unsigned long long)span, (unsigned long long)bin_bytes);
  for (unsigned k = 0; k < STATES; k++)
    text_line(" %llu %llu", (unsigned long long)blocks[k], (unsigned long long)bytes[k]);
  text_line("\n");
  for (unsigned s = 0; s < segment_count; s++)
    text_line("heapmap_segment %u %llu %llu\n", index, (unsigned long long)segments[s].start,
              (unsigned long long)segments[s].bytes);
  for (unsigned b = 0; b < HB_HEAPMAP_BINS; b++)
    if (bins[b][0] || bins[b][1] || bins[b][2])
      text_line("heapmap_bin %u %u %llu %llu %llu\n", index, b, (unsigned long long)bins[b][0],
                (unsigned long long)bins[b][1], (unsigned long long)bins[b][2]);
  if (M.range_count <= HB_HEAPMAP_EXACT_BLOCKS)
    for (uint64_t i = 0; i < M.range_count; i++)
      text_line("heapmap_block %u %llu %llu %c\n", index, (unsigned long long)M.ranges[i].start,
                (unsigned long long)M.ranges[i].bytes, state_letter[M.ranges[i].state]);
}

/* ---- The pass ---- */

/* The ops after which snapshots are taken, ascending, without repeats. */
static unsigned snapshot_ops(const hb_ops_header *h, unsigned k_even, uint64_t *ops) {
  unsigned count = 0;
  int peak_done = 0;
  for (unsigned k = 0; k < k_even; k++) {
    uint64_t op = (k + 1) * h->op_count / k_even; /* k + 1 <= 64: no overflow */
    op = op ? op - 1 : 0;
    if (!peak_done && h->peak_live_op <= op) {
      if (h->peak_live_op < op && (count == 0 || ops[count - 1] != h->peak_live_op))
        ops[count++] = h->peak_live_op;
      peak_done = 1;
    }
    if (count == 0 || ops[count - 1] != op) ops[count++] = op;
  }
  return count;
}

int hb_heapmap_pass(const hb_pass_env *env) {
  memset(&M, 0, sizeof M);
  const hb_allocator *a = env->allocator;
  const hb_ops_header *h = &env->trace->header;
  const uint32_t null_slot = h->slot_count - 1;
  uint64_t ops[HB_HEAPMAP_MAX_SNAPSHOTS + 1];
  unsigned count = snapshot_ops(h, env->heap_map, ops), next = 0;
  size_t size_bytes = h->slot_count * sizeof(uint64_t);
  uint64_t *block_bytes = hb_harness_map(size_bytes); /* requested size per live slot */
  if (!block_bytes || count == 0) {
    hb_out("status failed: the worker could not map its heap-map arrays\n");
    return -1;
  }
  void **slots = env->slots;
  uint64_t live_bytes = 0;
  hb_ops_file *trace = env->trace;
  int more;
  /* Window by window (hb_ops.h); a snapshot falls between two ops,
   * wherever the window boundaries are. */
  for (more = hb_ops_window_first(trace); more > 0 && next < count; more = hb_ops_window_next(trace)) {
    for (uint64_t i = trace->first; i < trace->first + trace->count && next < count; i++) {
      const hb_ops_op op = trace->ops[i - trace->first];
      void *p;
      switch (op.kind) {
        case HB_OPS_FREE:
          a->free(slots[op.slot], op.size);
          if (op.slot != null_slot) {
            live_bytes -= block_bytes[op.slot];
            block_bytes[op.slot] = 0;
            slots[op.slot] = NULL;
          }
          p = NULL;
          break;
        case HB_OPS_MALLOC: p = a->malloc(op.size); break;
        case HB_OPS_CALLOC: p = a->calloc(1, op.size); break;
        case HB_OPS_ALIGNED: p = a->aligned_alloc((size_t)1 << op.align_log2, op.size); break;
        case HB_OPS_REALLOC: p = a->realloc(slots[op.slot], op.size); break;
        default: p = a->realloc(NULL, op.size); break; /* HB_OPS_REALLOC_NEW */
      }
      if (op.kind != HB_OPS_FREE) {
        if (!p && op.size) {
          hb_out("status failed: allocation of %llu bytes returned NULL at op %llu\n",
                 (unsigned long long)op.size, (unsigned long long)i);
          return -1;
        }
        if (p && op.size) *(volatile char *)p = (char)i; /* as the timed pass does */
        slots[op.slot] = p;
        live_bytes += op.size - block_bytes[op.slot];
        block_bytes[op.slot] = op.size;
      }
      if (i != ops[next]) continue;
      M.range_count = 0;
      int heap_detail = 0;
  #ifdef HB_WORKER_SBRK
      heap_detail = hb_sbrk_walk(a->name, visit_block, NULL) == 0;
  #endif
      if (!heap_detail)
        for (uint32_t s = 0; s < null_slot; s++)
          if (slots[s] && block_bytes[s]) add_range((uintptr_t)slots[s], block_bytes[s], STATE_ALLOCATED);
      snapshot(next++, i, live_bytes, heap_detail);
    }
  }
  hb_harness_unmap(block_bytes, size_bytes);
  if (more < 0) {
    hb_out("status failed: the worker could not map a window of the ops\n");
    return -1;
  }
  if (M.out_of_memory) {
    hb_out("status failed: the worker could not map its heap-map arrays\n");
    return -1;
  }
  hb_out("status ok\n");
  hb_out_figure(HB_FIG_OPS, h->op_count);
  hb_out_flush();
  for (size_t done = 0; done < M.text_used;) { /* past hb_out's line buffer: written whole */
    ssize_t n = write(STDOUT_FILENO, M.text + done, M.text_used - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  hb_harness_unmap(M.text, M.text_capacity);
  hb_harness_unmap(M.ranges, M.range_capacity * sizeof *M.ranges);
  return 0;
}
