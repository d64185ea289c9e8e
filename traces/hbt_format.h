/* hbt_format.h — private to traces/: the on-disk layouts of the binary
 * trace (.hbt, specified in FORMAT.md) and of the recorder's raw files
 * (.hbraw), shared by the readers, the writer and the recorder.
 * Everything is little-endian (the only byte order heapbench runs on). */
#ifndef HB_HBT_FORMAT_H
#define HB_HBT_FORMAT_H

#include <stdint.h>

/* ---- .hbt ---------------------------------------------------------------- */
/* PNG-style magic: a high byte and CR LF catch 7-bit and text-mode damage. */
#define HB_HBT_MAGIC "\x89HBT\r\n\x1a\n"
#define HB_HBT_VERSION 1
#define HB_HBT_FLAG_TIMESTAMPS 1u
#define HB_HBT_FLAG_INCOMPLETE 2u
#define HB_HBT_FLAG_RECORDING 4u /* the recorder's cost follows the thread table */

/* The header's fixed fields, as FORMAT.md's table lists them: name, offset,
 * width in bytes. Writer, reader and the reader's messages ("offset 28: id
 * count ...") take every offset from here: HB_HBT_<NAME>_OFFSET and
 * HB_HBT_<NAME>_WIDTH. */
#define HB_HBT_HEADER_FIELDS(X) \
  X(MAGIC, 0, 8)                \
  X(VERSION, 8, 4)              \
  X(HEADER_BYTES, 12, 4)        \
  X(FLAGS, 16, 4)               \
  X(PID, 20, 4)                 \
  X(THREADS, 24, 4)             \
  X(ID_COUNT, 28, 4)            \
  X(OP_COUNT, 32, 8)            \
  X(UNMATCHED_FREES, 40, 8)     \
  X(FAILED_ALLOCS, 48, 8)       \
  X(UNMATCHED_REALLOCS, 56, 8)  \
  X(REUSED_ADDRESSES, 64, 8)    \
  X(PROGRAM_BYTES, 72, 4)
/* Then the program name (PROGRAM_BYTES bytes), the thread table, and the
 * header's CRC-32. */
#define HB_HBT_FIXED_HEADER_BYTES 76 /* up to and including program_bytes */
#define HB_HBT_HEADER_CRC_BYTES 4

/* One thread table entry (then 4 zero bytes). */
#define HB_HBT_THREAD_ENTRY_FIELDS(X) \
  X(ENTRY_OP_COUNT, 0, 8)             \
  X(ENTRY_STREAM_BYTES, 8, 8)         \
  X(ENTRY_STREAM_CRC, 16, 4)
#define HB_HBT_THREAD_ENTRY_BYTES 24

/* With HB_HBT_FLAG_RECORDING: after the thread table, before the header's
 * CRC, the recorder's cost (hb_trace.recorder_records ...). */
#define HB_HBT_RECORDING_FIELDS(X) \
  X(RECORDING_RECORDS, 0, 8)       \
  X(RECORDING_RAW_BYTES, 8, 8)     \
  X(RECORDING_CONVERT_NS, 16, 8)
#define HB_HBT_RECORDING_BYTES 24

#define HB_HBT_FIELD_CONSTANTS(name, offset, width) \
  HB_HBT_##name##_OFFSET = (offset), HB_HBT_##name##_WIDTH = (width),
enum {
  HB_HBT_HEADER_FIELDS(HB_HBT_FIELD_CONSTANTS)
  HB_HBT_THREAD_ENTRY_FIELDS(HB_HBT_FIELD_CONSTANTS)
  HB_HBT_RECORDING_FIELDS(HB_HBT_FIELD_CONSTANTS)
};
#undef HB_HBT_FIELD_CONSTANTS
_Static_assert(HB_HBT_PROGRAM_BYTES_OFFSET + HB_HBT_PROGRAM_BYTES_WIDTH ==
                   HB_HBT_FIXED_HEADER_BYTES,
               "the fixed header ends with program_bytes");
_Static_assert(HB_HBT_ENTRY_STREAM_CRC_OFFSET + HB_HBT_ENTRY_STREAM_CRC_WIDTH + 4 ==
                   HB_HBT_THREAD_ENTRY_BYTES,
               "a thread entry ends with its stream's CRC and 4 zero bytes");
_Static_assert(HB_HBT_RECORDING_CONVERT_NS_OFFSET + HB_HBT_RECORDING_CONVERT_NS_WIDTH ==
                   HB_HBT_RECORDING_BYTES,
               "the recording section ends with the conversion time");
_Static_assert(sizeof HB_HBT_MAGIC - 1 == HB_HBT_MAGIC_WIDTH, "the magic fills its field");

/* Record codes: the low 3 bits of each record's first varint. */
enum {
  HB_HBT_MALLOC = 0,
  HB_HBT_CALLOC = 1,
  HB_HBT_ALIGNED = 2,
  HB_HBT_REALLOC = 3,
  HB_HBT_REALLOC_FROM_NULL = 4,
  HB_HBT_FREE = 5,
  HB_HBT_FREE_NULL = 6,
  HB_HBT_FREE_BY_REALLOC_ZERO = 7,
};

/* ---- .hbraw: one file per recorded thread ---------------------------------- */
#define HB_RAW_MAGIC "HBRAW\0\0\3"
#define HB_RAW_VERSION 3
#define HB_RAW_HEADER_BYTES 4096 /* records start at this offset */
#define HB_RAW_PROGRAM_BYTES 256
#define HB_RAW_MAX_RECORD_BYTES 42 /* 4 varints of <= 10 bytes, an alignment byte, slack */

#define HB_RAW_EXITED_EXEC 2 /* hb_raw_header.exited: the recording ended by a successful exec */

typedef struct hb_raw_header {
  char magic[8];
  uint32_t version;
  uint32_t chunk_bytes;       /* records never straddle a multiple of this (past the header) */
  uint32_t thread_index;      /* 0 .. threads_started-1, in order of first event */
  uint32_t pid;
  uint32_t os_tid;
  uint32_t threads_started;   /* thread 0's file only: files this process created */
  uint64_t start_ns;          /* CLOCK_MONOTONIC of the process's first event */
  uint64_t committed_bytes;   /* record bytes complete: stored after each record */
  uint64_t record_count;      /* records complete (informative) */
  uint32_t exited;            /* thread 0's file only: 1 once exit handlers ran,
                                 HB_RAW_EXITED_EXEC when the process exec'd */
  uint32_t time_in_ticks;     /* 1: record times are TSC ticks; 0: CLOCK_MONOTONIC ns */
  char program[HB_RAW_PROGRAM_BYTES]; /* short name, NUL-terminated */
  /* Clock pairs (record time unit, CLOCK_MONOTONIC ns) read together: one
   * at the thread's start, and a later one refreshed every
   * HB_RAW_CLOCK_EVERY records and at exit, written to the slot
   * late_slot does not name, then late_slot flips (a reader never sees a
   * half-written pair). Ticks convert to ns through them. */
  uint64_t base_time, base_ns;
  uint64_t late_time[2], late_ns[2];
  uint32_t late_slot;          /* 0 or 1; late pairs valid once late_ns[late_slot] != 0 */
  uint32_t reserved;
} hb_raw_header;

#define HB_RAW_CLOCK_EVERY 16384

/* Events. A realloc is two records: BEGIN is stored before the real call
 * (the old block may be reused by another thread as soon as it returns),
 * END after it. */
enum {
  HB_RAW_PADDING = 0,       /* a 0 byte: the rest of the chunk is unused */
  HB_RAW_MALLOC = 1,        /* ptr = result, size */
  HB_RAW_CALLOC = 2,        /* ptr = result, size = nmemb * size (saturated) */
  HB_RAW_ALIGNED = 3,       /* ptr = result, size, align */
  HB_RAW_REALLOC_BEGIN = 4, /* ptr = old pointer, size = new size */
  HB_RAW_REALLOC_END = 5,   /* ptr = result */
  HB_RAW_FREE = 6,          /* ptr; stored before the real call */
};

/* A record, all varints (LEB128), deltas against the same thread's
 * previous record (before the first: seq -1, time base_time, ptr 0):
 *   (seq - previous seq - 1) << 3 | event     seq: per process, one per record
 *   align_log2 byte                           HB_RAW_ALIGNED only
 *   zigzag(time - previous time)              TSC ticks or ns (time_in_ticks)
 *   zigzag(ptr - previous ptr)
 *   size                                      events 1-4 */
static inline int hb_raw_event_has_size(unsigned event) {
  return event >= HB_RAW_MALLOC && event <= HB_RAW_REALLOC_BEGIN;
}

#endif
