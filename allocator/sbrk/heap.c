/* heap.c — the boundary-tag heap (contract and region diagram in heap.h,
 * block layout in block.h). Placement is left to the policy's hb_fit.
 *
 * Counters are kept on every change so stat() is O(1) (the replay asks for
 * the footprint after every operation); the checker (checker.c) recounts
 * them by walking every block of every region.
 */
#include "heap.h"

#include "os.h"
#include "region.h"

#include <errno.h>
#include <string.h>

/* The few helpers of the quick-list fast paths: always inlined, so a
 * malloc or free served by a quick list is one call with no frame setup
 * for the slow paths (the gain: docs/SBRK.md, "Fast paths"). */
#define HOT inline __attribute__((always_inline))

static hb_block *top_epilogue(const hb_heap *h) { return (hb_block *)(h->top_end - HB_REGION_EPILOGUE_BYTES); }

static void set_epilogue(char *end, uint64_t prev_alloc) {
  ((hb_block *)(end - HB_REGION_EPILOGUE_BYTES))->header = HB_BLOCK_MAGIC | HB_BLOCK_ALLOC | prev_alloc;
}

/* The top block: the free block that ends the top region, or NULL. It is
 * kept out of the policy's index and used only when no indexed block fits
 * (dlmalloc's "wilderness preservation"): the heap's end stays free to
 * grow into, by malloc or by a realloc of the block below it.
 *
 * Its footer and the epilogue after it are not written while it is free
 * (heap.h): they lie on the last page of the heap, which a write would
 * fault in on every grow and every cut from the top, memory the program
 * may never touch. They are written when the top block stops being the
 * top (allocated up to the end, or left behind by a new region). */
static hb_block *top_block(const hb_heap *h) { return h->top; }

/* A free block that ends the top region becomes the top block: header
 * only. */
static void set_top(hb_heap *h, hb_block *b, size_t size, uint64_t prev_alloc) {
  b->header = HB_BLOCK_MAGIC | size | prev_alloc;
  h->top = b;
}

/* The block before the epilogue is allocated now: write the epilogue. */
static void seal_top(hb_heap *h) {
  h->top = NULL;
  set_epilogue(h->top_end, HB_BLOCK_PREV_ALLOC);
}

/* The block after an allocated block is told so (the epilogue is written
 * whole: while a top block was free it was not kept). */
static void next_is_alloc(hb_heap *h, hb_block *block) {
  hb_block *next = hb_block_next(block);
  if (next == top_epilogue(h))
    seal_top(h);
  else
    hb_block_set_prev_alloc(next, 1);
}

/* A free block leaves the index, or stops being the top block. (Blocks go
 * in with h->fit->insert, or become the top block with set_top.) */
static void index_remove(hb_heap *h, hb_block *b) {
  if (b == h->top)
    h->top = NULL;
  else
    h->fit->remove(h, b);
}

/* Fresh pages from the OS: from the first page boundary at or after
 * `memory` to the top block's footer, nothing has been written. */
static void fresh_memory(hb_heap *h, char *memory) {
  size_t page = hb_os_page_bytes();
  h->zero_lo = ((uintptr_t)memory + page - 1) & ~(uintptr_t)(page - 1);
  h->zero_hi = (uintptr_t)h->top_end - HB_REGION_EPILOGUE_BYTES - 8;
  if (h->zero_lo > h->zero_hi) h->zero_lo = h->zero_hi;
}

/* Everything below `end` may have been written. */
static void dirty_to(hb_heap *h, uintptr_t end) {
  if (end > h->zero_lo) h->zero_lo = end < h->zero_hi ? end : h->zero_hi;
}

/* How much to ask the OS for when `want` bytes are missing: that, but at
 * least footprint >> grow_shift, that minimum capped at
 * grow_max_slack_bytes or footprint >> grow_large_shift, whichever is
 * larger: a little footprint traded for fewer sbrk calls and room to
 * place blocks; a large heap grows in steps proportional to it. */
static size_t grow_request(const hb_heap *h, size_t want, int new_region) {
  size_t slack = h->grow_shift ? (h->footprint_bytes >> h->grow_shift) & ~(size_t)15 : 0;
  size_t cap = h->grow_max_slack_bytes;
  if (h->grow_large_shift && (h->footprint_bytes >> h->grow_large_shift) > cap)
    cap = (h->footprint_bytes >> h->grow_large_shift) & ~(size_t)15;
  if (slack > cap) slack = cap;
  if (want < slack) want = slack;
  want = (want + 15) & ~(size_t)15;
  return new_region && want < HB_REGION_MIN_BYTES ? HB_REGION_MIN_BYTES : want;
}

/* A free block of at least `bytes`, made from new memory (merged with the
 * free block at the top of the top region when the new memory continues
 * it). The block is counted but not in the index. NULL (ENOMEM) when the
 * OS refuses. */
static hb_block *grow(hb_heap *h, size_t bytes) {
  /* A new region that turns out too small is kept (indexed) and extended
   * on the next round, which then is contiguous unless someone else keeps
   * moving the break; give up after a few rounds. */
  for (int round = 0; round < 4; round++) {
    hb_block *top_free = top_block(h);
    size_t top_free_bytes = top_free ? hb_block_size(top_free) : 0;
    if (top_free && top_free_bytes >= bytes) return top_free;
    size_t want = top_free ? bytes - top_free_bytes : bytes + HB_REGION_OVERHEAD_BYTES;
    size_t ask = grow_request(h, want, !top_free);
    int contiguous;
    char *memory = hb_os_grow(ask, &contiguous);
    if (!memory && ask > grow_request(h, want, 1)) /* without the slack */
      memory = hb_os_grow(ask = grow_request(h, want, 1), &contiguous);
    if (!memory) {
      errno = ENOMEM;
      return NULL;
    }
    /* Growing back into memory a trim gave away: that trim cost an sbrk
     * pair and fresh zeroed pages for nothing. Raise the threshold above
     * the swing so the next one is kept (docs/SBRK.md, "Giving back"). The
     * peak footprint is not raised: the heap only keeps what it held before. */
    if (h->peak_footprint_bytes > h->footprint_bytes) {
      size_t swing = 2 * (h->peak_footprint_bytes - h->footprint_bytes + h->trim_keep_bytes);
      if (swing > HB_HEAP_TRIM_MAX_BYTES) swing = HB_HEAP_TRIM_MAX_BYTES;
      if (swing > h->trim_threshold_bytes) h->trim_threshold_bytes = swing;
    }
    if (h->note_grown) {
      uintptr_t page = hb_os_page_bytes(), lo = ((uintptr_t)memory + page - 1) & ~(page - 1),
                hi = ((uintptr_t)memory + ask) & ~(page - 1);
      if (hi > lo) {
        if (!h->grown_hi) h->grown_lo = lo;
        h->grown_hi = hi;
      }
    }
    h->footprint_bytes += ask;
    if (h->footprint_bytes > h->peak_footprint_bytes) h->peak_footprint_bytes = h->footprint_bytes;
    /* os.c's flag is about any caller's last grow; only adjacency to OUR
     * top region lets this region grow. */
    if (h->top_region && memory == h->top_end) {
      /* The old epilogue becomes the header (it was written: no top
       * block), or the top block grows (the block before it is allocated). */
      hb_block *block = top_free ? top_free : top_epilogue(h);
      uint64_t prev_alloc = top_free ? HB_BLOCK_PREV_ALLOC : block->header & HB_BLOCK_PREV_ALLOC;
      size_t size = ask;
      h->top_end += ask;
      if ((uintptr_t)h->top_end > h->highest) h->highest = (uintptr_t)h->top_end;
      if (top_free) {
        size += top_free_bytes;
        h->free_bytes -= top_free_bytes;
        h->free_blocks--;
        h->blocks--;
      }
      set_top(h, block, size, prev_alloc);
      h->blocks++;
      h->free_blocks++;
      h->free_bytes += size;
      fresh_memory(h, memory);
      return block; /* size >= bytes by construction */
    }
    /* The old top region stops growing: its top block joins the index,
     * with the footer and epilogue it lacked. */
    hb_block *old_top = top_block(h);
    if (old_top) {
      hb_block_set_free(old_top, hb_block_size(old_top), old_top->header & HB_BLOCK_PREV_ALLOC);
      set_epilogue(h->top_end, 0);
    }
    hb_region_prologue *prologue = (hb_region_prologue *)memory;
    prologue->prev_region = h->top_region;
    prologue->prev_end = h->top_end;
    prologue->unused = 0;
    h->top_region = memory;
    h->top_end = memory + ask;
    if (old_top) h->fit->insert(h, old_top);
    h->top = NULL;
    if (!h->lowest || (uintptr_t)memory < h->lowest) h->lowest = (uintptr_t)memory;
    if ((uintptr_t)h->top_end > h->highest) h->highest = (uintptr_t)h->top_end;
    hb_block *block = (hb_block *)(memory + HB_REGION_PROLOGUE_BYTES);
    size_t size = ask - HB_REGION_OVERHEAD_BYTES;
    set_top(h, block, size, HB_BLOCK_PREV_ALLOC);
    fresh_memory(h, memory);
    h->blocks++;
    h->free_blocks++;
    h->free_bytes += size;
    if (size >= bytes) return block;
    /* Too small: it is the top block now; the next round extends it. */
  }
  errno = ENOMEM;
  return NULL;
}

/* The heap handed out `bytes` more (take, in-place growth): the clock of
 * the demand's decay advances, and the window's peak follows in_use. */
static void note_demand(hb_heap *h, size_t bytes) {
  h->taken_bytes += bytes;
  if (h->in_use_bytes > h->window_peak_bytes) h->window_peak_bytes = h->in_use_bytes;
}

/* The footprint a trim must leave: the heap's demand plus headroom for
 * fragmentation. The demand is the peak of in-use bytes, decaying: each
 * window (the heap handing out as many bytes as the demand, at least
 * HB_HEAP_DECAY_MIN_WINDOW_BYTES) ends with the demand set to that
 * window's peak, or half the old demand if that is more. A program
 * between two phases that free and rebuild its heap keeps it (the next
 * phase's peak renews the demand before it decays), while one that has
 * really shrunk gives back half of what it no longer uses per heap
 * turnover (docs/SBRK.md, "Giving back"). */
static size_t trim_floor(hb_heap *h) {
  size_t window = h->demand_bytes > HB_HEAP_DECAY_MIN_WINDOW_BYTES ? h->demand_bytes
                                                                    : HB_HEAP_DECAY_MIN_WINDOW_BYTES;
  uint64_t elapsed = h->taken_bytes - h->window_start_bytes;
  if (elapsed >= window) {
    uint64_t windows = elapsed / window;
    size_t decayed = windows >= 64 ? 0 : h->demand_bytes >> windows;
    h->demand_bytes = h->window_peak_bytes > decayed ? h->window_peak_bytes : decayed;
    h->window_peak_bytes = h->in_use_bytes;
    h->window_start_bytes = h->taken_bytes;
  }
  size_t demand = h->demand_bytes > h->window_peak_bytes ? h->demand_bytes : h->window_peak_bytes;
  return demand + (demand >> HB_HEAP_DEMAND_HEADROOM_SHIFT);
}

/* Gives the top of the heap back to the OS when `block` (free, counted, not
 * indexed) is the last block of the top region and large, down to the
 * heap's demand (trim_floor); the block keeps trim_keep_bytes so a program
 * that frees and allocates again at the top does not call sbrk every time.
 * Nothing happens when the break is no longer at our top (someone else's
 * memory lies above). */
static void trim(hb_heap *h, hb_block *block) {
  size_t size = hb_block_size(block);
  size_t keep = h->trim_keep_bytes < HB_BLOCK_MIN_BYTES ? HB_BLOCK_MIN_BYTES : h->trim_keep_bytes;
  if (size <= keep) return;
  size_t give = (size - keep) & ~(size_t)15;
  size_t floor = trim_floor(h);
  if (h->footprint_bytes <= floor) return;
  if (give > h->footprint_bytes - floor) give = (h->footprint_bytes - floor) & ~(size_t)15;
  /* Not worth an sbrk pair (and fresh pages if it comes back). */
  if (give < HB_HEAP_TRIM_MIN_GIVE_BYTES) return;
  if (give == 0 || hb_os_shrink(h->top_end, give) != 0) return;
  int was_highest = (uintptr_t)h->top_end == h->highest;
  h->top_end -= give;
  if (was_highest) h->highest = (uintptr_t)h->top_end;
  h->footprint_bytes -= give;
  h->free_bytes -= give;
  set_top(h, block, size - give, block->header & HB_BLOCK_PREV_ALLOC);
  uintptr_t footer = (uintptr_t)h->top_end - HB_REGION_EPILOGUE_BYTES - 8;
  if (h->zero_hi > footer) h->zero_hi = footer;
  if (h->zero_lo > h->zero_hi) h->zero_lo = h->zero_hi;
}

/* A block of `size` bytes was just handed out: its payload's share of the
 * known-zero memory (for calloc), then the program will write all of it
 * (and the next header follows it). */
static void note_taken(hb_heap *h, hb_block *block, size_t size) {
  uintptr_t payload = (uintptr_t)hb_block_payload(block), end = (uintptr_t)block + size;
  h->taken_zero_lo = payload > h->zero_lo ? payload : h->zero_lo;
  h->taken_zero_hi = end < h->zero_hi ? end : h->zero_hi;
  dirty_to(h, end + HB_BLOCK_HEADER_BYTES);
}

/* Splits the free `block` into a free block of `rest` bytes, where it is,
 * and an allocated one of `bytes` above it, which it returns. Only the
 * headers: counters and the index are the caller's. */
static hb_block *cut_high(hb_heap *h, hb_block *block, size_t rest, size_t bytes) {
  hb_block_set_free(block, rest, block->header & HB_BLOCK_PREV_ALLOC);
  hb_block *taken = (hb_block *)((char *)block + rest);
  hb_block_set_alloc(taken, bytes, 0);
  next_is_alloc(h, taken);
  return taken;
}

/* Allocates `bytes` from the free block `block` (counted, not indexed),
 * splitting off the rest when it can hold a block. Small blocks are cut
 * from the high end, others from the low end, so that small and large
 * blocks tend to gather apart: when one kind is freed, its space is one
 * free run rather than holes between the other kind (the pattern of the
 * CS:APP binary traces, and of programs that free their big buffers while
 * keeping small objects). */
static hb_block *take(hb_heap *h, hb_block *block, size_t bytes) {
  size_t size = hb_block_size(block);
  uint64_t prev_alloc = block->header & HB_BLOCK_PREV_ALLOC;
  size_t rest = size - bytes;
  h->free_blocks--;
  h->free_bytes -= size;
  int top = block == h->top;
  if (top) h->top = NULL;
  /* A small block comes from the top block's high end too: that writes on
   * the heap's last page, but the block itself is used there, and cutting
   * it from the low end mixed small and large blocks again (docs/SBRK.md,
   * "Placement"). */
  if (rest >= HB_BLOCK_MIN_BYTES && bytes < h->small_block_bytes) {
    hb_block *taken = cut_high(h, block, rest, bytes);
    h->blocks++;
    h->free_blocks++;
    h->free_bytes += rest;
    h->fit->insert(h, block); /* never the top: `taken` follows it */
    block = taken;
    size = bytes;
  } else if (rest >= HB_BLOCK_MIN_BYTES) {
    hb_block_set_alloc(block, bytes, prev_alloc);
    hb_block *remainder = (hb_block *)((char *)block + bytes);
    h->blocks++;
    h->free_blocks++;
    h->free_bytes += rest;
    if (top) {
      set_top(h, remainder, rest, HB_BLOCK_PREV_ALLOC);
    } else {
      hb_block_set_free(remainder, rest, HB_BLOCK_PREV_ALLOC);
      h->fit->insert(h, remainder);
    }
    size = bytes;
  } else {
    hb_block_set_alloc(block, size, prev_alloc);
    next_is_alloc(h, block);
  }
  h->in_use_bytes += size;
  note_demand(h, size);
  note_taken(h, block, size);
  return block;
}

/* Allocates `bytes` from `block`, a free block the index holds. A small
 * block is cut from the high end (as take() does), so the rest keeps the
 * block's address: when the policy says the rest may stay where it is in
 * the index, it is only resized, without leaving its list and coming
 * back (most mallocs that no quick list serves, in a growing heap). */
static hb_block *take_indexed(hb_heap *h, hb_block *block, size_t bytes) {
  size_t size = hb_block_size(block), rest = size - bytes;
  if (bytes >= h->small_block_bytes || rest < HB_BLOCK_MIN_BYTES || !h->fit->stays ||
      !h->fit->stays(h, size, rest)) {
    index_remove(h, block);
    return take(h, block, bytes);
  }
  hb_block *taken = cut_high(h, block, rest, bytes);
  h->blocks++;
  h->free_bytes -= bytes;
  h->in_use_bytes += bytes;
  note_demand(h, bytes);
  note_taken(h, taken, bytes);
  return taken;
}

/* Frees the allocated `block`: O(1) coalescing with both neighbours, then
 * trim or index. */
static void release(hb_heap *h, hb_block *block) {
  size_t size = hb_block_size(block);
  /* A program that frees a block this large will likely allocate one
   * again: keep twice that much at the top instead of trimming it and
   * growing back (an sbrk pair and fresh zeroed pages every time), like
   * glibc's dynamic mmap and trim thresholds. */
  if (size > h->trim_threshold_bytes / 2 && h->trim_threshold_bytes < HB_HEAP_TRIM_MAX_BYTES)
    h->trim_threshold_bytes = 2 * size < HB_HEAP_TRIM_MAX_BYTES ? 2 * size : HB_HEAP_TRIM_MAX_BYTES;
  uint64_t prev_alloc = block->header & HB_BLOCK_PREV_ALLOC;
  /* Clear A first: should this header outlive the merge (inside a bigger
   * free block), a second free of the pointer still reads "free". */
  block->header &= ~HB_BLOCK_ALLOC;
  h->in_use_bytes -= size;
  h->free_blocks++;
  h->free_bytes += size;
  hb_block *next = hb_block_next(block);
  if (!hb_block_is_alloc(next)) {
    index_remove(h, next);
    size += hb_block_size(next);
    h->blocks--;
    h->free_blocks--;
  }
  if (!prev_alloc) {
    hb_block *prev = hb_block_prev(block);
    h->fit->remove(h, prev); /* never the top block: `block` follows it */
    size += hb_block_size(prev);
    block = prev;
    prev_alloc = HB_BLOCK_PREV_ALLOC;
    h->blocks--;
    h->free_blocks--;
  }
  if ((char *)block + size == (char *)top_epilogue(h)) {
    set_top(h, block, size, prev_alloc);
    if (size >= h->trim_threshold_bytes) trim(h, block);
    return;
  }
  hb_block_set_free(block, size, prev_alloc);
  hb_block_set_prev_alloc(hb_block_next(block), 0);
  h->fit->insert(h, block);
}

/* Cuts the allocated `block` down to `bytes` when the rest can be a block
 * of its own; the rest is freed (and merges with a free next block). */
static void shrink_in_place(hb_heap *h, hb_block *block, size_t bytes) {
  size_t size = hb_block_size(block);
  if (size - bytes < HB_BLOCK_MIN_BYTES) return;
  hb_block_set_alloc(block, bytes, block->header & HB_BLOCK_PREV_ALLOC);
  hb_block *tail = (hb_block *)((char *)block + bytes);
  hb_block_set_alloc(tail, size - bytes, HB_BLOCK_PREV_ALLOC);
  h->blocks++;
  release(h, tail);
}

/* Merges the free `next` (counted, not indexed) into the allocated block
 * before it. */
static void absorb_next(hb_heap *h, hb_block *block, hb_block *next) {
  size_t next_bytes = hb_block_size(next);
  h->free_blocks--;
  h->free_bytes -= next_bytes;
  h->blocks--;
  h->in_use_bytes += next_bytes;
  note_demand(h, next_bytes);
  hb_block_set_alloc(block, hb_block_size(block) + next_bytes,
                     block->header & HB_BLOCK_PREV_ALLOC);
  next_is_alloc(h, block);
}

/* The next block's header must agree that `block` is allocated; checked
 * whenever the next header is read anyway (merging, realloc), not when a
 * block is parked: that would cost a cache miss per free. */
static void check_next(hb_heap *h, hb_block *block, const char *caller) {
  hb_block *next = hb_block_next(block);
  if ((uintptr_t)next >= h->highest || !hb_block_has_magic(next) || !hb_block_prev_alloc(next))
    hb_sbrk_die(caller, "invalid pointer or corrupted heap (next block's tag disagrees)",
                hb_block_payload(block));
}

/* The block of a pointer the caller hands back; aborts with a clear
 * message when it is not a live block of this heap (outside the heap,
 * misaligned, no magic) or is already free (A clear) or parked (Q set). */
static HOT hb_block *owned_block(hb_heap *h, void *ptr, const char *caller) {
  uintptr_t address = (uintptr_t)ptr;
  if ((address & 15) || address < h->lowest + HB_REGION_PROLOGUE_BYTES + HB_BLOCK_HEADER_BYTES ||
      address >= h->highest)
    hb_sbrk_die(caller, "invalid pointer (not a block of this heap)", ptr);
  hb_block *block = hb_block_of(ptr);
  if (!hb_block_has_magic(block)) hb_sbrk_die(caller, "invalid pointer (bad magic)", ptr);
  if ((block->header & (HB_BLOCK_ALLOC | HB_BLOCK_QUICK)) != HB_BLOCK_ALLOC)
    hb_sbrk_die(caller, "double free (block is already free)", ptr);
  return block;
}

/* ---- Quick lists (heap.h) ---- */

static HOT void park(hb_heap *h, hb_block *block, size_t size) {
  size_t c = hb_quick_class(size);
  block->header |= HB_BLOCK_QUICK;
  block->next = h->quick[c];
  h->quick[c] = block;
  h->quick_count[c]++;
  h->quick_blocks++;
  h->quick_bytes += size;
}

static HOT hb_block *unpark(hb_heap *h, size_t c) {
  hb_block *block = h->quick[c];
  h->quick[c] = block->next;
  h->quick_count[c]--;
  h->quick_blocks--;
  h->quick_bytes -= (c + 2) * 16;
  block->header &= ~HB_BLOCK_QUICK;
  return block;
}

/* The end of the blocks a walk of region `r` visits: its epilogue, or the
 * top block (which has no footer or epilogue written) in the top region. */
static char *region_blocks_end(const hb_heap *h, hb_region r) {
  if (r.start != h->top_region) return r.end - HB_REGION_EPILOGUE_BYTES;
  return h->top ? (char *)h->top : h->top_end - HB_REGION_EPILOGUE_BYTES;
}

/* Frees the blocks parked on the lists of `lists` for real, in address
 * order: walks the heap and releases each block marked Q of those sizes.
 * Merging a block reads and writes its neighbours; in address order they
 * are the ones just touched, where the lists' order (the order of the
 * program's frees, reversed, by size) sends each merge to a cold part of
 * the heap. A program that frees a big structure of small blocks parks
 * them all (the tiny lists have no cap), so this is the common case of a
 * large merge. */
static void sweep_quick(hb_heap *h, const hb_quick_set *lists) {
  for (size_t c = 0; c < HB_QUICK_CLASSES; c++)
    if (hb_quick_set_has(lists, c)) {
      h->quick_blocks -= h->quick_count[c];
      h->quick_bytes -= (size_t)h->quick_count[c] * (c + 2) * 16;
      h->quick[c] = NULL;
      h->quick_count[c] = 0;
    }
  for (hb_region r = hb_region_first(h); r.start; r = hb_region_next(r)) {
    for (char *p = (char *)hb_region_first_block(r); p < region_blocks_end(h, r);) {
      hb_block *block = (hb_block *)p;
      p += hb_block_size(block);
      if (!(block->header & HB_BLOCK_QUICK)) continue;
      if (!hb_quick_set_has(lists, hb_quick_class(hb_block_size(block)))) continue;
      /* release() merges a free next block into this one: skip it too
       * (the top block ends the walk anyway). */
      hb_block *next = (hb_block *)p;
      if (p < region_blocks_end(h, r) && !hb_block_is_alloc(next)) p += hb_block_size(next);
      block->header &= ~HB_BLOCK_QUICK;
      release(h, block);
    }
  }
}

/* Frees the blocks parked on the lists of `lists` for real, so they merge
 * with their neighbours: list by list when they are few, by a walk of the
 * heap when they are a good part of its blocks (the walk costs O(blocks)). */
static void merge_quick(hb_heap *h, const hb_quick_set *lists) {
  size_t parked = 0;
  for (size_t c = 0; c < HB_QUICK_CLASSES; c++)
    if (hb_quick_set_has(lists, c)) parked += h->quick_count[c];
  if (parked >= HB_QUICK_SWEEP_MIN_BLOCKS && parked * 4 >= h->blocks) {
    sweep_quick(h, lists);
    return;
  }
  for (size_t c = 0; c < HB_QUICK_CLASSES; c++)
    if (hb_quick_set_has(lists, c))
      while (h->quick[c]) release(h, unpark(h, c));
}

/* Frees every parked block for real. */
static void flush_quick(hb_heap *h) {
  hb_quick_set all;
  memset(&all, 0xff, sizeof all);
  merge_quick(h, &all);
}

/* Frees for real the blocks of the idle lists (heap.h), when the lists
 * hold more than the idle bound. A list the program still uses keeps its
 * blocks, so its sizes stay O(1); one it stopped using gives its blocks
 * back to merge with their free neighbours. A look costs a pass over the
 * 128 lists; the heap's clock spaces them out, and malloc's hit path only
 * sets a bit. */
static void release_idle_quick(hb_heap *h, size_t live) {
  if (h->quick_bytes <= (live >> HB_QUICK_IDLE_SHIFT) + HB_QUICK_IDLE_FLOOR_BYTES) return;
  if (h->taken_bytes < h->quick_look_at) return;
  size_t step = live >> HB_QUICK_IDLE_STEP_SHIFT;
  if (step < HB_QUICK_IDLE_STEP_MIN_BYTES) step = HB_QUICK_IDLE_STEP_MIN_BYTES;
  h->quick_look_at = h->taken_bytes + step;
  hb_quick_set idle = {{0}};
  for (size_t c = 0; c < HB_QUICK_CLASSES; c++) {
    if (hb_quick_set_has(&h->quick_hit, c))
      h->quick_unused_looks[c] = 0;
    else if (h->quick_unused_looks[c] < HB_QUICK_IDLE_LOOKS)
      h->quick_unused_looks[c]++;
    if (h->quick[c] && h->quick_unused_looks[c] >= HB_QUICK_IDLE_LOOKS) hb_quick_set_add(&idle, c);
  }
  memset(&h->quick_hit, 0, sizeof h->quick_hit);
  merge_quick(h, &idle);
}

/* Checked where a malloc is about to search the free blocks: parked
 * blocks that the program stopped asking for are merged before they split
 * the search's candidates, and free's fast path does not pay for the
 * check. All of them when the lists hold more than their budget (heap.h),
 * else the idle ones. */
static void bound_quick(hb_heap *h) {
  size_t live = h->in_use_bytes - h->quick_bytes;
  if (h->quick_bytes > (live >> HB_QUICK_BUDGET_SHIFT) + HB_QUICK_BUDGET_FLOOR_BYTES) {
    flush_quick(h);
    return;
  }
  release_idle_quick(h, live);
}

/* A malloc that no quick list serves: a function of its own, so that the
 * quick-list hit in hb_heap_malloc needs no stack frame (GCC saves the
 * registers a function uses anywhere at its top). */
static __attribute__((noinline)) void *malloc_searched(hb_heap *h, size_t bytes) {
  if (h->quick_blocks) bound_quick(h);
  hb_block *block = h->fit->find(h, bytes);
  if (block) {
    return hb_block_payload(take_indexed(h, block, bytes));
  }
  hb_block *top = top_block(h);
  if (h->release_held && !(top && hb_block_size(top) >= bytes) && h->release_held(h)) {
    /* The heap would grow: what this thread's cache held came back first
     * (parked or merged, like any free). */
    if ((block = h->fit->find(h, bytes))) return hb_block_payload(take_indexed(h, block, bytes));
    top = top_block(h);
  }
  if (h->quick_blocks && !(top && hb_block_size(top) >= bytes)) {
    /* The heap would grow: first merge what the quick lists hold. */
    flush_quick(h);
    block = h->fit->find(h, bytes);
    if (block) {
      return hb_block_payload(take_indexed(h, block, bytes));
    }
  }
  block = grow(h, bytes);
  return block ? hb_block_payload(take(h, block, bytes)) : NULL;
}

void *hb_heap_malloc(hb_heap *h, size_t size) {
  size_t bytes = hb_block_bytes_for(size);
  if (!bytes) {
    errno = ENOMEM;
    return NULL;
  }
  if (bytes <= h->quick_max_bytes && h->quick[hb_quick_class(bytes)]) {
    size_t c = hb_quick_class(bytes);
    hb_quick_set_add(&h->quick_hit, c);
    return hb_block_payload(unpark(h, c));
  }
  return malloc_searched(h, bytes);
}

/* Frees an allocated block: parked when small and its quick list has room,
 * else merged. */
static HOT void free_block(hb_heap *h, hb_block *block) {
  size_t size = hb_block_size(block);
  if (size <= h->quick_max_bytes && h->quick_count[hb_quick_class(size)] < hb_quick_cap(h, size)) {
    park(h, block, size);
  } else {
    check_next(h, block, "free");
    release(h, block);
  }
}

void hb_heap_free(hb_heap *h, void *ptr) {
  if (ptr) free_block(h, owned_block(h, ptr, "free"));
}

void *hb_heap_realloc(hb_heap *h, void *ptr, size_t size) {
  if (!ptr) return hb_heap_malloc(h, size);
  hb_block *block = owned_block(h, ptr, "realloc");
  check_next(h, block, "realloc");
  size_t bytes = hb_block_bytes_for(size);
  if (!bytes) {
    errno = ENOMEM;
    return NULL;
  }
  size_t have = hb_block_size(block);
  if (bytes <= have) {
    shrink_in_place(h, block, bytes);
    return ptr;
  }
  hb_block *next = hb_block_next(block);
  size_t next_free = hb_block_is_alloc(next) ? 0 : hb_block_size(next);
  /* 1. The next block is free and big enough: grow into it. */
  if (next_free && have + next_free >= bytes) {
    index_remove(h, next);
    absorb_next(h, block, next);
    shrink_in_place(h, block, bytes);
    dirty_to(h, (uintptr_t)block + bytes + HB_BLOCK_HEADER_BYTES);
    return ptr;
  }
  /* 2. The block ends the top region (perhaps followed by a free block):
   * grow the heap by what is missing, right after it. */
  hb_block *after = next_free ? hb_block_next(next) : next;
  if (after == top_epilogue(h)) {
    hb_block *grown = grow(h, bytes - have);
    if (grown && (grown == next || (char *)grown == (char *)block + have)) {
      absorb_next(h, block, grown);
      shrink_in_place(h, block, bytes);
      dirty_to(h, (uintptr_t)block + bytes + HB_BLOCK_HEADER_BYTES);
      return ptr;
    }
    /* Otherwise the break had moved: `grown` is the top block of a new
     * region and stays there, unindexed. */
  }
  /* 3. The free block before (and after) can hold it: slide down. */
  if (!hb_block_prev_alloc(block)) {
    next = hb_block_next(block); /* grow() above may have changed it */
    next_free = hb_block_is_alloc(next) ? 0 : hb_block_size(next);
    hb_block *prev = hb_block_prev(block);
    size_t prev_bytes = hb_block_size(prev);
    if (prev_bytes + have + next_free >= bytes) {
      h->fit->remove(h, prev);
      if (next_free) {
        index_remove(h, next);
        absorb_next(h, block, next);
      }
      size_t total = prev_bytes + hb_block_size(block);
      h->free_blocks--;
      h->free_bytes -= prev_bytes;
      h->blocks--;
      h->in_use_bytes += prev_bytes;
      note_demand(h, prev_bytes);
      memmove(hb_block_payload(prev), ptr, have - HB_BLOCK_HEADER_BYTES);
      hb_block_set_alloc(prev, total, prev->header & HB_BLOCK_PREV_ALLOC);
      shrink_in_place(h, prev, bytes);
      dirty_to(h, (uintptr_t)prev + bytes + HB_BLOCK_HEADER_BYTES);
      return hb_block_payload(prev);
    }
  }
  /* 4. Move. A large block that grows is likely to grow again (a buffer,
   * an array doubling): it moves to the top of the heap, where the next
   * growth happens in place (case 2) and the hole it leaves serves
   * smaller blocks; elsewhere it would leave a hole at every step. */
  void *moved = NULL;
  if (bytes >= HB_HEAP_GROWING_BLOCK_BYTES && bytes > have) {
    hb_block *top = grow(h, bytes);
    if (top) moved = hb_block_payload(take(h, top, bytes));
  }
  if (!moved) moved = hb_heap_malloc(h, size);
  if (!moved) return NULL; /* the old block stays valid */
  memcpy(moved, ptr, have - HB_BLOCK_HEADER_BYTES);
  free_block(h, block);
  return moved;
}

void *hb_heap_calloc(hb_heap *h, size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL;
  h->taken_zero_lo = h->taken_zero_hi = 0; /* a parked block: nothing known */
  char *ptr = hb_heap_malloc(h, bytes);
  if (!ptr) return NULL;
  /* Zero only what is not known to be zero already: fresh pages from the
   * OS, as a big calloc at the top of the heap mostly is. */
  uintptr_t start = (uintptr_t)ptr, end = start + bytes;
  uintptr_t zero_lo = h->taken_zero_lo, zero_hi = h->taken_zero_hi;
  if (zero_lo >= zero_hi || zero_lo >= end || zero_hi <= start) {
    memset(ptr, 0, bytes);
    return ptr;
  }
  if (zero_lo > start) memset(ptr, 0, zero_lo - start);
  if (zero_hi < end) memset((char *)zero_hi, 0, end - zero_hi);
  return ptr;
}

void *hb_heap_aligned_alloc(hb_heap *h, size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= 16) return hb_heap_malloc(h, size);
  size_t bytes = hb_block_bytes_for(size);
  if (!bytes || alignment > HB_BLOCK_MAX_BYTES || bytes > HB_BLOCK_MAX_BYTES - alignment) {
    errno = ENOMEM;
    return NULL;
  }
  /* Room to slide to the alignment and leave a whole free block in front. */
  char *raw = hb_heap_malloc(h, bytes + alignment + HB_BLOCK_MIN_BYTES);
  if (!raw) return NULL;
  hb_block *block = hb_block_of(raw);
  if ((uintptr_t)raw & (alignment - 1)) {
    uintptr_t aligned =
        ((uintptr_t)raw + HB_BLOCK_MIN_BYTES + alignment - 1) & ~(uintptr_t)(alignment - 1);
    size_t lead = aligned - (uintptr_t)raw;
    hb_block *moved = hb_block_of((void *)aligned);
    hb_block_set_alloc(moved, hb_block_size(block) - lead, HB_BLOCK_PREV_ALLOC);
    hb_block_set_alloc(block, lead, block->header & HB_BLOCK_PREV_ALLOC);
    h->blocks++;
    release(h, block); /* the lead becomes free */
    block = moved;
  }
  shrink_in_place(h, block, bytes);
  return hb_block_payload(block);
}

size_t hb_heap_usable_size(hb_heap *h, void *ptr) {
  if (!ptr) return 0;
  hb_block *block = owned_block(h, ptr, "usable_size");
  check_next(h, block, "usable_size");
  return hb_block_size(block) - HB_BLOCK_HEADER_BYTES;
}

size_t hb_heap_largest_free(hb_heap *h) {
  size_t largest = h->fit->largest(h);
  hb_block *top = top_block(h);
  if (top && hb_block_size(top) > largest) largest = hb_block_size(top);
  for (size_t c = HB_QUICK_CLASSES; h->quick_blocks && c-- > 0;)
    if (h->quick[c]) {
      if (hb_block_size(h->quick[c]) > largest) largest = hb_block_size(h->quick[c]);
      break;
    }
  return largest;
}

int hb_heap_stat(hb_heap *h, hb_stat which, uint64_t *value) {
  switch (which) {
    case HB_STAT_FOOTPRINT_BYTES: *value = h->footprint_bytes; return 0;
    /* Parked blocks are free for the program, allocated for the heap. */
    case HB_STAT_IN_USE_BYTES: *value = h->in_use_bytes - h->quick_bytes; return 0;
    case HB_STAT_FREE_BYTES: *value = h->free_bytes + h->quick_bytes; return 0;
    case HB_STAT_BLOCKS: *value = h->blocks; return 0;
    case HB_STAT_FREE_BLOCKS: *value = h->free_blocks + h->quick_blocks; return 0;
    case HB_STAT_LARGEST_FREE_BYTES: *value = hb_heap_largest_free(h); return 0;
    default: return ENOENT;
  }
}
