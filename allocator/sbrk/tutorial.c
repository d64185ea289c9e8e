/* tutorial.c — policy "sbrk-tutorial": the seed's malloc, kept faithful.
 *
 * The teaching reference. Every block, used or free, sits on one singly
 * linked list in the order sbrk handed the memory out (address order).
 *
 *        struct block_meta (32 bytes)          payload (size bytes)
 *   +--------+--------+------+-------+---+---------------------------+
 *   |  size  |  next  | free | magic |pad| what malloc returned ...  |
 *   +--------+--------+------+-------+---+---------------------------+
 *   ^ block                               ^ block + 1 == the pointer
 *        |
 *        +--next--> the following block's header ... --> NULL
 *
 *  - malloc: first fit on the list; nothing fits -> sbrk a new block at
 *    the end. No splitting: a 16-byte request may take a 1 MiB free block.
 *  - free: check the magic, mark the block free. No coalescing, nothing is
 *    given back to the OS.
 *  - realloc: keep the block if it is big enough, else malloc+copy+free.
 *  - calloc: multiply with an overflow check, malloc, zero.
 *
 * Beyond the seed, only what the common interface demands: the header is
 * padded to 32 bytes so payloads are 16-byte aligned; aligned allocation
 * puts an "alias" header just below the aligned pointer that points back to
 * the real block; the magic also tells a freed block, so a double free is
 * caught; counters keep the statistics O(1).
 *
 * Malloc is O(number of blocks): slow on large traces, on purpose.
 */
#include "hb_sbrk.h"
#include "os.h"
#include "policy.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MAGIC_USED 0x77777777
#define MAGIC_FREE 0x55555555
#define MAGIC_ALIAS 0x12345678 /* header of an aligned pointer: next -> the real block */

struct block_meta {
  size_t size; /* payload bytes */
  struct block_meta *next;
  int free;
  int magic;
} __attribute__((aligned(16)));

#define META_SIZE sizeof(struct block_meta)

static struct block_meta *global_base;
static struct block_meta *global_last;
/* footprint_bytes counts this policy's own sbrk growth, so that several
 * policies in one process (the microbenchmarks) each report only theirs. */
static struct {
  size_t footprint_bytes, in_use_bytes, free_bytes, blocks, free_blocks;
} counts;

static struct block_meta *find_free_block(size_t size) {
  struct block_meta *current = global_base;
  while (current && !(current->free && current->size >= size)) current = current->next;
  return current;
}

static struct block_meta *request_space(size_t size) {
  int contiguous; /* unused: the list links blocks, adjacency never matters */
  struct block_meta *block = hb_os_grow(META_SIZE + size, &contiguous);
  if (!block) return NULL;
  counts.footprint_bytes += META_SIZE + size;
  block->size = size;
  block->next = NULL;
  block->free = 0;
  block->magic = MAGIC_USED;
  if (global_last)
    global_last->next = block;
  else
    global_base = block;
  global_last = block;
  counts.blocks++;
  counts.in_use_bytes += size;
  return block;
}

static void *tutorial_malloc(size_t size) {
  /* Round to 16 so the next header stays aligned; refuse sizes whose
   * rounding would wrap. */
  if (size > SIZE_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  size = hb_round16(size ? size : 1);
  struct block_meta *block = find_free_block(size);
  if (block) {
    block->free = 0;
    block->magic = MAGIC_USED;
    counts.free_blocks--;
    counts.free_bytes -= block->size;
    counts.in_use_bytes += block->size;
  } else {
    block = request_space(size);
    if (!block) {
      errno = ENOMEM;
      return NULL;
    }
  }
  return block + 1;
}

/* The block that owns `ptr`, following an alias header; aborts on a pointer
 * this policy did not hand out or has already taken back. */
static struct block_meta *get_block_ptr(void *ptr, const char *caller) {
  struct block_meta *block = (struct block_meta *)ptr - 1;
  if (block->magic == MAGIC_ALIAS) block = block->next;
  if (block->magic == MAGIC_FREE) hb_sbrk_die(caller, "double free or use after free", ptr);
  if (block->magic != MAGIC_USED) hb_sbrk_die(caller, "invalid pointer (bad magic)", ptr);
  return block;
}

static void tutorial_free(void *ptr, size_t size_hint) {
  (void)size_hint;
  if (!ptr) return;
  struct block_meta *block = get_block_ptr(ptr, "free");
  block->free = 1;
  block->magic = MAGIC_FREE;
  counts.free_blocks++;
  counts.free_bytes += block->size;
  counts.in_use_bytes -= block->size;
}

static size_t tutorial_usable_size(void *ptr) {
  if (!ptr) return 0;
  struct block_meta *block = get_block_ptr(ptr, "usable_size");
  return block->size - (size_t)((char *)ptr - (char *)(block + 1));
}

static void *tutorial_realloc(void *ptr, size_t size) {
  if (!ptr) return tutorial_malloc(size);
  struct block_meta *block = get_block_ptr(ptr, "realloc");
  size_t usable = block->size - (size_t)((char *)ptr - (char *)(block + 1));
  if (usable >= size) return ptr; /* the block is big enough: keep it */
  void *new_ptr = tutorial_malloc(size);
  if (!new_ptr) return NULL; /* the old block stays valid */
  memcpy(new_ptr, ptr, usable);
  tutorial_free(ptr, 0);
  return new_ptr;
}

static void *tutorial_calloc(size_t count, size_t size) {
  size_t bytes;
  if (hb_calloc_bytes(count, size, &bytes)) return NULL;
  void *ptr = tutorial_malloc(bytes);
  if (ptr) memset(ptr, 0, bytes);
  return ptr;
}

static void *tutorial_aligned_alloc(size_t alignment, size_t size) {
  if (!hb_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment <= 16) return tutorial_malloc(size);
  if (size > SIZE_MAX / 4 || alignment > SIZE_MAX / 4) {
    errno = ENOMEM;
    return NULL;
  }
  /* Room for the alignment slack and an alias header inside the payload. */
  char *raw = tutorial_malloc(size + alignment + META_SIZE);
  if (!raw) return NULL;
  uintptr_t aligned = ((uintptr_t)raw + META_SIZE + alignment - 1) & ~(uintptr_t)(alignment - 1);
  struct block_meta *alias = (struct block_meta *)aligned - 1;
  alias->size = 0;
  alias->next = (struct block_meta *)raw - 1;
  alias->free = 0;
  alias->magic = MAGIC_ALIAS;
  return (void *)aligned;
}

static int tutorial_stat(hb_stat which, uint64_t *value) {
  switch (which) {
    case HB_STAT_FOOTPRINT_BYTES: *value = counts.footprint_bytes; return 0;
    case HB_STAT_IN_USE_BYTES: *value = counts.in_use_bytes; return 0;
    case HB_STAT_FREE_BYTES: *value = counts.free_bytes; return 0;
    case HB_STAT_BLOCKS: *value = counts.blocks; return 0;
    case HB_STAT_FREE_BLOCKS: *value = counts.free_blocks; return 0;
    case HB_STAT_LARGEST_FREE_BYTES: {
      size_t largest = 0;
      for (struct block_meta *b = global_base; b; b = b->next)
        if (b->free && b->size > largest) largest = b->size;
      *value = largest;
      return 0;
    }
    default: return ENOENT;
  }
}

/* Every invariant: magics, list order, counters agree with the list. */
static int tutorial_check(char *why, size_t why_len) {
  size_t blocks = 0, free_blocks = 0, free_bytes = 0, in_use = 0;
  struct block_meta *prev = NULL;
  for (struct block_meta *b = global_base; b; prev = b, b = b->next) {
    if (b->magic != (b->free ? MAGIC_FREE : MAGIC_USED))
      return hb_sbrk_fail(why, why_len, "block %p: magic %#x does not match free=%d", (void *)b,
                          b->magic, b->free);
    if ((uintptr_t)(b + 1) % 16 || b->size % 16)
      return hb_sbrk_fail(why, why_len, "block %p: misaligned", (void *)b);
    if (prev && (char *)b < (char *)(prev + 1) + prev->size)
      return hb_sbrk_fail(why, why_len, "block %p overlaps the block before it", (void *)b);
    blocks++;
    if (b->free) {
      free_blocks++;
      free_bytes += b->size;
    } else {
      in_use += b->size;
    }
  }
  if (prev != global_last) return hb_sbrk_fail(why, why_len, "last-block pointer is stale");
  if (counts.footprint_bytes != blocks * META_SIZE + in_use + free_bytes)
    return hb_sbrk_fail(why, why_len, "footprint %zu is not the blocks' total", counts.footprint_bytes);
  if (blocks != counts.blocks || free_blocks != counts.free_blocks ||
      free_bytes != counts.free_bytes || in_use != counts.in_use_bytes)
    return hb_sbrk_fail(why, why_len, "counters disagree with the heap walk");
  return 0;
}

/* Every block on the list, header included (hb_sbrk_walk): the list is
 * the heap, in address order. */
static void tutorial_walk(hb_sbrk_visit *visit, void *context) {
  for (struct block_meta *b = global_base; b; b = b->next)
    visit(context, (uintptr_t)b, META_SIZE + b->size,
          b->free ? HB_SBRK_BLOCK_FREE : HB_SBRK_BLOCK_ALLOCATED);
}

static const char *tutorial_version(void) { return HB_SBRK_VERSION; }

const hb_sbrk_policy hb_sbrk_tutorial = {
    .table =
        {
            .name = "sbrk-tutorial",
            .description = "the seed's malloc: one list, first fit, no split, no coalescing",
            .flags = 0,
            .version = tutorial_version,
            .malloc = tutorial_malloc,
            .free = tutorial_free,
            .realloc = tutorial_realloc,
            .calloc = tutorial_calloc,
            .aligned_alloc = tutorial_aligned_alloc,
            .usable_size = tutorial_usable_size,
            .stat = tutorial_stat,
        },
    .check = tutorial_check,
    .walk = tutorial_walk,
};
