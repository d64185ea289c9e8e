/* block.h — the block layout every boundary-tag policy shares (private to
 * allocator/sbrk/). One 8-byte header per block; a footer only in free
 * blocks, so an allocated block costs 8 bytes of overhead.
 *
 *   allocated block                       free block
 *   +------------------------+            +------------------------+
 *   | header: magic|size|A|P |            | header: magic|size|0|P |
 *   +------------------------+ <- 16-aligned payload                |
 *   | payload ...            |            | next free  (index use) |
 *   |                        |            | prev free  (index use) |
 *   |                        |            | ...                    |
 *   |                        |            | footer: size           |
 *   +------------------------+            +------------------------+
 *   next block's header                   next block's header (P = 0)
 *
 *   header bits  63..48 magic (0xB5A1)  47..4 size in bytes
 *                3 Q: parked on a quick list (freed by the program, still
 *                  "allocated" for the heap: not merged; see heap.h)
 *                2 checker mark         1 P: previous block allocated
 *                0 A: this block allocated
 *
 * Block addresses are 8 mod 16 and sizes multiples of 16, so every payload
 * is 16-aligned; the smallest block is 32 bytes (header, two list links,
 * footer). Because no two free blocks are ever adjacent (they are merged
 * at once), P tells whether the previous block is free, and only then is
 * its footer read: coalescing is O(1) in both directions.
 *
 * The magic tells a block header from anything else: free() of a pointer
 * whose header lacks it aborts as "invalid pointer"; a header with the
 * magic but without A, or with Q, is a block already freed: "double free".
 */
#ifndef HB_SBRK_BLOCK_H
#define HB_SBRK_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define HB_BLOCK_MAGIC ((uint64_t)0xB5A1 << 48)
#define HB_BLOCK_MAGIC_MASK ((uint64_t)0xFFFF << 48)
#define HB_BLOCK_ALLOC ((uint64_t)1)
#define HB_BLOCK_PREV_ALLOC ((uint64_t)2)
#define HB_BLOCK_MARK ((uint64_t)4) /* set and cleared by the heap checker only */
#define HB_BLOCK_QUICK ((uint64_t)8)
#define HB_BLOCK_SIZE_MASK (~HB_BLOCK_MAGIC_MASK & ~(uint64_t)15)
#define HB_BLOCK_HEADER_BYTES 8
#define HB_BLOCK_MIN_BYTES 32
/* The largest block: sizes must fit the 44-bit size field. */
#define HB_BLOCK_MAX_BYTES ((size_t)1 << 46)

typedef struct hb_block {
  uint64_t header;
  struct hb_block *next; /* free blocks only: the policy's index links */
  struct hb_block *prev;
} hb_block;

static inline size_t hb_block_size(const hb_block *b) {
  return (size_t)(b->header & HB_BLOCK_SIZE_MASK);
}
static inline int hb_block_is_alloc(const hb_block *b) { return (b->header & HB_BLOCK_ALLOC) != 0; }
static inline int hb_block_prev_alloc(const hb_block *b) {
  return (b->header & HB_BLOCK_PREV_ALLOC) != 0;
}
static inline int hb_block_has_magic(const hb_block *b) {
  return (b->header & HB_BLOCK_MAGIC_MASK) == HB_BLOCK_MAGIC;
}
static inline hb_block *hb_block_next(const hb_block *b) {
  return (hb_block *)((char *)b + hb_block_size(b));
}
static inline uint64_t *hb_block_footer(const hb_block *b) {
  return (uint64_t *)((char *)b + hb_block_size(b) - 8);
}
/* Only when !hb_block_prev_alloc(b): the previous block is free and ends
 * with its footer. */
static inline hb_block *hb_block_prev(const hb_block *b) {
  uint64_t prev_size = ((const uint64_t *)b)[-1] & HB_BLOCK_SIZE_MASK;
  return (hb_block *)((char *)b - prev_size);
}
static inline void *hb_block_payload(hb_block *b) { return (char *)b + HB_BLOCK_HEADER_BYTES; }
static inline hb_block *hb_block_of(void *payload) {
  return (hb_block *)((char *)payload - HB_BLOCK_HEADER_BYTES);
}

/* The bytes of the block that serves a request of `size` bytes, or 0 when
 * no block can be that large. */
static inline size_t hb_block_bytes_for(size_t size) {
  if (size > HB_BLOCK_MAX_BYTES) return 0;
  size_t bytes = (size + HB_BLOCK_HEADER_BYTES + 15) & ~(size_t)15;
  return bytes < HB_BLOCK_MIN_BYTES ? HB_BLOCK_MIN_BYTES : bytes;
}

static inline void hb_block_set_alloc(hb_block *b, size_t size, uint64_t prev_alloc) {
  b->header = HB_BLOCK_MAGIC | size | HB_BLOCK_ALLOC | prev_alloc;
}
/* A free block: header and footer. */
static inline void hb_block_set_free(hb_block *b, size_t size, uint64_t prev_alloc) {
  b->header = HB_BLOCK_MAGIC | size | prev_alloc;
  *hb_block_footer(b) = size;
}
static inline void hb_block_set_prev_alloc(hb_block *b, int prev_alloc) {
  if (prev_alloc)
    b->header |= HB_BLOCK_PREV_ALLOC;
  else
    b->header &= ~HB_BLOCK_PREV_ALLOC;
}

#endif
