/* ops_encode.c — a checked trace -> the ops file workers replay (hb_ops.h).
 * Front end only. */
#define _GNU_SOURCE
#include "hb_ops.h"
#include "hb_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes all of buf, retrying short writes. */
static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int hb_ops_encode(const hb_trace *trace, hb_ops_header *header, hb_error *error) {
  if (trace->thread_count > HB_OPS_MAX_THREADS)
    return hb_fail(error, "%s: %u threads; replay handles at most %d", trace->path,
                   trace->thread_count, HB_OPS_MAX_THREADS);
  memset(header, 0, sizeof *header);
  if (error) error->message[0] = 0;
  memcpy(header->magic, HB_OPS_MAGIC, sizeof header->magic);
  header->op_count = trace->op_count;
  header->slot_count = trace->id_count + 1;
  header->thread_count = trace->thread_count;

  /* Requested size of each live block, for free size hints and live bytes. */
  uint64_t *block_bytes = calloc(header->slot_count, sizeof *block_bytes);
  /* Blocks from aligned allocation get no size hint (hb_allocator.h: a
   * sized free would also need the alignment; jemalloc's heap is corrupted
   * by a size alone). */
  uint8_t *aligned_block = calloc(header->slot_count, 1);
  size_t chunk_ops = 1 << 14;
  hb_ops_op *chunk = malloc(chunk_ops * sizeof *chunk);
  int fd = memfd_create("heapbench-ops", 0); /* no CLOEXEC: workers inherit it */
  if (!block_bytes || !aligned_block || !chunk || fd < 0) {
    free(block_bytes);
    free(aligned_block);
    free(chunk);
    if (fd >= 0) close(fd);
    return hb_fail(error, "%s: cannot prepare the replay: %s", trace->path, strerror(errno));
  }
  int rc = write_all(fd, header, sizeof *header);
  uint64_t live_bytes = 0;
  size_t used = 0;
  const uint32_t null_slot = header->slot_count - 1;
  for (size_t i = 0; i < trace->op_count && rc == 0; i++) {
    const hb_op *op = &trace->ops[i];
    hb_ops_op out = {.size = op->size, .slot = op->id, .thread = (uint16_t)op->thread};
    switch ((hb_op_kind)op->kind) {
      case HB_OP_MALLOC: out.kind = HB_OPS_MALLOC; break;
      case HB_OP_CALLOC: out.kind = HB_OPS_CALLOC; break;
      case HB_OP_ALIGNED:
        if (op->align_log2 > HB_OPS_MAX_ALIGN_LOG2) {
          rc = hb_fail(error, "%s: op %zu: alignment 2^%u is beyond what replay supports (2^%d)",
                       trace->path, i, op->align_log2, HB_OPS_MAX_ALIGN_LOG2);
          continue;
        }
        out.kind = HB_OPS_ALIGNED;
        out.align_log2 = op->align_log2;
        break;
      case HB_OP_REALLOC:
        out.kind = (op->flags & HB_FLAG_FROM_NULL) ? HB_OPS_REALLOC_NEW : HB_OPS_REALLOC;
        break;
      case HB_OP_FREE:
      default:
        out.kind = HB_OPS_FREE;
        if (op->id == HB_NULL_ID) {
          out.slot = null_slot;
          out.size = 0;
        } else {
          out.size = aligned_block[op->id] ? 0 : block_bytes[op->id];
        }
        break;
    }
    if (out.kind == HB_OPS_FREE) {
      header->frees++;
      if (out.slot != null_slot) {
        live_bytes -= block_bytes[out.slot];
        block_bytes[out.slot] = 0;
      }
    } else {
      if (out.kind == HB_OPS_REALLOC) {
        header->reallocs++;
        live_bytes -= block_bytes[out.slot];
      } else {
        header->allocations++;
      }
      block_bytes[out.slot] = out.size;
      aligned_block[out.slot] = hb_ops_stays_aligned(out.kind, aligned_block[out.slot]);
      live_bytes += out.size;
      if (live_bytes > header->peak_live_bytes) {
        header->peak_live_bytes = live_bytes;
        header->peak_live_op = i;
      }
    }
    chunk[used++] = out;
    if (used == chunk_ops || i + 1 == trace->op_count) {
      rc = write_all(fd, chunk, used * sizeof *chunk);
      used = 0;
    }
  }
  /* The header's trace figures are known only now. */
  if (rc == 0 && pwrite(fd, header, sizeof *header, 0) != (ssize_t)sizeof *header) rc = -1;
  free(block_bytes);
  free(aligned_block);
  free(chunk);
  if (rc != 0) {
    close(fd);
    if (error && error->message[0]) return -1; /* already says why */
    return hb_fail(error, "%s: cannot write the replay's ops: %s", trace->path, strerror(errno));
  }
  return fd;
}
