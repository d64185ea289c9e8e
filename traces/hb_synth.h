/* hb_synth.h — traces drawn from a recorded one's profile, of any length
 * (`heapbench trace synth`, docs/SYNTH.md).
 *
 * The profile is the recording itself. A synthetic trace is a sequence of
 * runs, windows of consecutive ops of the recording each drawn near where
 * it falls in the recording's run: inside a run every op of a block the run
 * created is copied as it stands (fresh ids), so the joint distribution of
 * request size, lifetime, realloc growth and threads is the recording's,
 * short-lifetime patterns included; events of blocks that outlive their run
 * take the places the recording's older blocks held. Deterministic for a
 * seed.
 */
#ifndef HB_SYNTH_H
#define HB_SYNTH_H

#include "hb_trace.h"

#include <stdint.h>

typedef struct hb_synth_options {
  uint64_t ops;     /* ops to write (the last pending events are left out) */
  uint64_t seed;
  uint32_t threads; /* 0: the recording's; else recorded thread t becomes t % threads */
} hb_synth_options;

/* Fills *out (initialised here) from `like`; -1 with *error set. */
int hb_trace_synth(const hb_trace *like, const hb_synth_options *options, hb_trace *out,
                   hb_error *error);

/* The mixes the synthetic trace must keep (docs/SYNTH.md): request sizes
 * of created blocks by power-of-two class; block lifetimes in ops by
 * power-of-two class, never-freed blocks in the last bucket; ops by kind
 * (realloc of NULL counted as realloc). Each sums to 1. */
#define HB_PROFILE_BUCKETS 66
typedef struct hb_trace_profile {
  double size_mix[HB_PROFILE_BUCKETS];
  double lifetime_mix[HB_PROFILE_BUCKETS];
  double kind_share[HB_OP_KIND_COUNT];
} hb_trace_profile;

int hb_trace_profile_compute(const hb_trace *trace, hb_trace_profile *profile, hb_error *error);
/* L1 distances of the two mixes, and the largest difference of a kind's share. */
void hb_trace_profile_compare(const hb_trace_profile *a, const hb_trace_profile *b,
                              double *size_l1, double *lifetime_l1, double *kind_max);

#endif
