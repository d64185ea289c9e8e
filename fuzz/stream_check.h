/* stream_check.h — the streaming reader against the whole-trace loader on
 * one input, for the fuzz target fuzz-reader and the regressions test.
 *
 * hb_stream_check reads path twice: whole (hb_trace_load) and through
 * hb_reader with recycled slots, `capacity` ops per call. Both must refuse
 * it (each with a one-line message), or both accept it with the same ops
 * (ids aside), the same figures, and slots that stay below the most blocks
 * live at once and follow each block from its creation to its free. 0 when
 * they agree, else -1 with the disagreement in why. */
#ifndef HB_STREAM_CHECK_H
#define HB_STREAM_CHECK_H

#include "hb_reader.h"
#include "hb_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hb_stream_check(const char *path, size_t capacity, char *why, size_t why_size) {
  hb_trace whole;
  hb_error error = {{0}}, stream_error = {{0}};
  int loaded = hb_trace_load(path, &whole, &error) == 0;
  hb_trace_stats stats;
  if (loaded && hb_trace_stats_compute(&whole, &stats, &error) != 0) {
    hb_trace_release(&whole);
    snprintf(why, why_size, "stats of an accepted trace failed: %s", error.message);
    return -1;
  }
  hb_reader *reader = NULL;
  int streamed = hb_reader_open(path, HB_READER_SLOTS, &reader, &stream_error) == 0;
  hb_op *ops = malloc((capacity ? capacity : 1) * sizeof *ops);
  /* Per slot: the whole trace's id of its live block + 1, or 0 when free. */
  size_t slot_capacity = 0;
  uint32_t *slot_block = NULL;
  uint64_t at = 0;
  const char *problem = NULL;
  long got = 0;
  while (streamed && !problem && (got = hb_reader_next(reader, ops, NULL, capacity, &stream_error)) > 0) {
    if ((size_t)got > capacity) problem = "more ops than asked for";
    for (long k = 0; !problem && k < got; k++, at++) {
      if (!loaded) continue;
      if (at >= whole.op_count) {
        problem = "more ops streamed than loaded";
        break;
      }
      const hb_op *op = &ops[k], *original = &whole.ops[at];
      if (op->kind != original->kind || op->flags != original->flags ||
          op->thread != original->thread || op->size != original->size ||
          op->align_log2 != original->align_log2) {
        problem = "an op differs";
        break;
      }
      if (original->id == HB_NULL_ID) {
        if (op->id != HB_NULL_ID) problem = "free(NULL) got a slot";
        continue;
      }
      if (op->id >= hb_reader_slot_count(reader)) {
        problem = "a slot beyond the slot count";
        break;
      }
      if (op->id >= slot_capacity) {
        size_t grown_capacity = (op->id + 1) * 2;
        uint32_t *grown = realloc(slot_block, grown_capacity * sizeof *grown);
        if (!grown) abort();
        memset(grown + slot_capacity, 0, (grown_capacity - slot_capacity) * sizeof *grown);
        slot_block = grown;
        slot_capacity = grown_capacity;
      }
      int creates = op->kind != HB_OP_FREE &&
                    (op->kind != HB_OP_REALLOC || (op->flags & HB_FLAG_FROM_NULL));
      if (creates) {
        if (slot_block[op->id]) problem = "a live block's slot handed out";
        slot_block[op->id] = original->id + 1;
      } else {
        if (slot_block[op->id] != original->id + 1) problem = "a block changed slot";
        if (op->kind == HB_OP_FREE) slot_block[op->id] = 0;
      }
    }
  }
  if (streamed && !problem && got < 0) streamed = 0;
  if (!problem) {
    if (loaded != streamed)
      problem = loaded ? "the stream refused what the loader accepted"
                       : "the stream accepted what the loader refused";
    else if (!loaded && (!error.message[0] || strchr(error.message, '\n') ||
                         !stream_error.message[0] || strchr(stream_error.message, '\n')))
      problem = "a refusal without a one-line message";
    else if (loaded && at != whole.op_count)
      problem = "fewer ops streamed than loaded";
    else if (loaded && hb_reader_slot_count(reader) != stats.peak_live_blocks)
      problem = "slot count is not the most blocks live at once";
  }
  if (problem)
    snprintf(why, why_size, "%s (op %llu; load: %.300s; stream: %.300s)", problem,
             (unsigned long long)at, loaded ? "ok" : error.message,
             streamed ? "ok" : stream_error.message);
  free(ops);
  free(slot_block);
  if (reader) hb_reader_close(reader);
  if (loaded) hb_trace_release(&whole);
  return problem ? -1 : 0;
}

#endif
