/* heapmap_result.c — the heap-map pass's lines into an hb_heap_map, and
 * the JSON `heap_map` (hb_heapmap.h). Front end only. */
#define _GNU_SOURCE
#include "hb_heapmap.h"

#include <stdlib.h>
#include <string.h>

static int state_of(char letter) {
  return letter == 'a' ? HB_HEAPMAP_ALLOCATED : letter == 'f' ? HB_HEAPMAP_FREE
                                              : letter == 'p' ? HB_HEAPMAP_PARKED : -1;
}

/* Snapshot `index` of the map, which the worker introduced with its
 * "heapmap" line; NULL for an index it did not. */
static hb_heap_snapshot *at(hb_heap_map *map, unsigned index) {
  return index < map->count ? &map->snapshots[index] : NULL;
}

static int add_block(hb_heap_snapshot *s, size_t *capacity, hb_heap_block block) {
  if (s->block_list_count == *capacity) {
    size_t grown = *capacity ? 2 * *capacity : 256;
    hb_heap_block *bigger = realloc(s->block_list, grown * sizeof *bigger);
    if (!bigger) return -1;
    s->block_list = bigger;
    *capacity = grown;
  }
  s->block_list[s->block_list_count++] = block;
  return 0;
}

hb_heap_map *hb_heapmap_parse(const char *out) {
  hb_heap_map *map = calloc(1, sizeof *map);
  if (!map) return NULL;
  unsigned snapshot_max = 0;
  for (const char *line = out; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
    snapshot_max += strncmp(line, "heapmap ", 8) == 0;
  map->snapshots = calloc(snapshot_max ? snapshot_max : 1, sizeof *map->snapshots);
  size_t *capacity = calloc(snapshot_max ? snapshot_max : 1, sizeof *capacity);
  int failed = !map->snapshots || !capacity;
  for (const char *line = out; !failed && line && *line;) {
    unsigned index, bin;
    unsigned long long n[12];
    char detail[8], letter;
    hb_heap_snapshot *s;
    if (sscanf(line, "heapmap %u %llu %llu %7s %llu %llu %llu %llu %llu %llu %llu %llu", &index,
               &n[0], &n[1], detail, &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &n[9]) == 12) {
      if (index == map->count && index < snapshot_max) { /* in order, each once */
        s = &map->snapshots[map->count++];
        s->op = n[0];
        s->live_bytes = n[1];
        s->heap_detail = strcmp(detail, "heap") == 0;
        s->span_bytes = n[2];
        s->bin_bytes = n[3];
        for (int k = 0; k < HB_HEAPMAP_STATES; k++) {
          s->blocks[k] = n[4 + 2 * k];
          s->bytes[k] = n[5 + 2 * k];
        }
      }
    } else if (sscanf(line, "heapmap_segment %u %llu %llu", &index, &n[0], &n[1]) == 3) {
      if ((s = at(map, index)) && s->segment_count < HB_HEAPMAP_SEGMENTS) {
        s->segment_start[s->segment_count] = n[0];
        s->segment_bytes[s->segment_count++] = n[1];
      }
    } else if (sscanf(line, "heapmap_bin %u %u %llu %llu %llu", &index, &bin, &n[0], &n[1], &n[2]) == 5) {
      if ((s = at(map, index)) && bin < HB_HEAPMAP_BINS)
        for (int k = 0; k < HB_HEAPMAP_STATES; k++) s->bins[bin][k] = n[k];
    } else if (sscanf(line, "heapmap_block %u %llu %llu %c", &index, &n[0], &n[1], &letter) == 4) {
      if ((s = at(map, index)) && state_of(letter) >= 0)
        failed = add_block(s, &capacity[index],
                           (hb_heap_block){n[0], n[1], (unsigned)state_of(letter)}) != 0;
    }
    line = strchr(line, '\n');
    if (line) line++;
  }
  free(capacity);
  if (failed || map->count == 0) {
    hb_heapmap_free(map);
    return NULL;
  }
  return map;
}

void hb_heapmap_free(hb_heap_map *map) {
  if (!map) return;
  for (unsigned k = 0; map->snapshots && k < map->count; k++) free(map->snapshots[k].block_list);
  free(map->snapshots);
  free(map);
}

void hb_heapmap_json(FILE *out, const hb_heap_map *map, uint64_t peak_live_op) {
  static const char *const names[HB_HEAPMAP_STATES] = {"allocated", "free", "parked"};
  static const char letters[HB_HEAPMAP_STATES] = {'a', 'f', 'p'};
  fputs(",\n      \"heap_map\": ", out);
  if (!map) {
    fputs("null", out);
    return;
  }
  int detail = map->snapshots[0].heap_detail;
  fprintf(out, "{\"detail\": \"%s\", \"bins\": %d, \"snapshots\": [", detail ? "heap" : "slots",
          HB_HEAPMAP_BINS);
  for (unsigned k = 0; k < map->count; k++) {
    const hb_heap_snapshot *s = &map->snapshots[k];
    fprintf(out, "%s\n        {\"op\": %llu, \"peak_live\": %s, \"live_bytes\": %llu, "
            "\"span_bytes\": %llu, \"bin_bytes\": %llu", k ? "," : "", (unsigned long long)s->op,
            s->op == peak_live_op ? "true" : "false", (unsigned long long)s->live_bytes,
            (unsigned long long)s->span_bytes, (unsigned long long)s->bin_bytes);
    /* Free and parked blocks exist only where the heap itself was walked. */
    for (int st = 0; st < HB_HEAPMAP_STATES; st++) {
      if (st && !s->heap_detail)
        fprintf(out, ", \"%s\": null", names[st]);
      else
        fprintf(out, ", \"%s\": {\"blocks\": %llu, \"bytes\": %llu}", names[st],
                (unsigned long long)s->blocks[st], (unsigned long long)s->bytes[st]);
    }
    fputs(",\n         \"segments\": [", out);
    for (unsigned g = 0; g < s->segment_count; g++)
      fprintf(out, "%s[%llu, %llu]", g ? ", " : "", (unsigned long long)s->segment_start[g],
              (unsigned long long)s->segment_bytes[g]);
    fputs("],\n         \"bins\": [", out);
    for (unsigned b = 0, n = 0; b < HB_HEAPMAP_BINS; b++) {
      const uint64_t *bin = s->bins[b];
      if (!bin[0] && !bin[1] && !bin[2]) continue;
      fprintf(out, "%s[%u, %llu, %llu, %llu]", n++ ? ", " : "", b, (unsigned long long)bin[0],
              (unsigned long long)bin[1], (unsigned long long)bin[2]);
    }
    fputs("],\n         \"blocks\": ", out);
    uint64_t total = s->blocks[0] + s->blocks[1] + s->blocks[2];
    if (total > HB_HEAPMAP_EXACT_BLOCKS || s->block_list_count != total) {
      fputs("null}", out);
      continue;
    }
    fputc('[', out);
    for (size_t i = 0; i < s->block_list_count; i++)
      fprintf(out, "%s[%llu, %llu, \"%c\"]", i ? ", " : "",
              (unsigned long long)s->block_list[i].start, (unsigned long long)s->block_list[i].bytes,
              letters[s->block_list[i].state]);
    fputs("]}", out);
  }
  fputs("\n      ]}", out);
}
