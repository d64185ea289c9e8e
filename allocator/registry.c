/* registry.c — the allocators linked into this executable.
 *
 * Allocators that replace the process's malloc cannot share a process, so
 * meson compiles this file once per allocator group with HB_WITH_<NAME>
 * defined for each member (see allocator/meson.build). The registry then
 * lists exactly what the executable holds, in a fixed order.
 */
#include "hb_allocator.h"
#include "hb_adapters.h"

#include <string.h>

static const hb_allocator *const *registry_table(size_t *count) {
  static const hb_allocator *table[64];
  static size_t used;
  if (used == 0) {
#ifdef HB_WITH_GLIBC
    table[used++] = &hb_allocator_glibc;
#endif
#ifdef HB_WITH_SBRK
    for (size_t i = 0; i < hb_sbrk_policy_count && used < 64; i++)
      table[used++] = hb_sbrk_policies[i];
#endif
#ifdef HB_WITH_JEMALLOC
    table[used++] = &hb_allocator_jemalloc;
#endif
#ifdef HB_WITH_MIMALLOC
    table[used++] = &hb_allocator_mimalloc;
#endif
#ifdef HB_WITH_TCMALLOC
    table[used++] = &hb_allocator_tcmalloc;
#endif
#ifdef HB_WITH_EXTRA /* a test worker's own adapter (bench/tests/spiky.c) */
    extern const hb_allocator HB_WITH_EXTRA;
    table[used++] = &HB_WITH_EXTRA;
#endif
  }
  *count = used;
  return table;
}

size_t hb_allocator_count(void) {
  size_t count;
  registry_table(&count);
  return count;
}

const hb_allocator *hb_allocator_at(size_t index) {
  size_t count;
  const hb_allocator *const *table = registry_table(&count);
  return index < count ? table[index] : NULL;
}

const hb_allocator *hb_allocator_find(const char *name) {
  size_t count;
  const hb_allocator *const *table = registry_table(&count);
  for (size_t i = 0; i < count; i++)
    if (strcmp(table[i]->name, name) == 0) return table[i];
  return NULL;
}

static const char *const stat_names[] = {
#define HB_STAT_NAME(id, name, doc) name,
    HB_STAT_LIST(HB_STAT_NAME)
#undef HB_STAT_NAME
};

const char *hb_stat_name(hb_stat which) {
  return (unsigned)which < HB_STAT_COUNT ? stat_names[which] : NULL;
}

hb_stat hb_stat_from_name(const char *name) {
  for (unsigned i = 0; i < HB_STAT_COUNT; i++)
    if (strcmp(stat_names[i], name) == 0) return (hb_stat)i;
  return HB_STAT_COUNT;
}
