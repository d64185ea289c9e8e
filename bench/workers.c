/* workers.c — finding the worker executables and asking them, with
 * `hb-worker-<group> --list`, which allocators they hold.
 *
 * Workers are looked for in $HEAPBENCH_WORKER_DIR when set, else in the
 * build tree's bench/ directory (compiled in as HB_WORKER_DIR), so that a
 * build tree runs without installing. */
#define _GNU_SOURCE
#include "hb_workers.h"

#include "child_run.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const groups[] = {HB_WORKER_GROUPS};

static const char *worker_dir(void) {
  const char *dir = getenv("HEAPBENCH_WORKER_DIR");
  return dir && *dir ? dir : HB_WORKER_DIR;
}

/* Copies src into dst, cut to fit. */
static void copy_text(char *dst, size_t size, const char *src) {
  size_t len = strnlen(src, size - 1);
  memcpy(dst, src, len);
  dst[len] = 0;
}

size_t hb_workers_discover(hb_allocator_info **infos) {
  size_t count = 0, capacity = 16;
  hb_allocator_info *list = calloc(capacity, sizeof *list);
  if (!list) return 0;
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
    char path[4096], command[4200];
    snprintf(path, sizeof path, "%s/hb-worker-%s", worker_dir(), groups[g]);
    snprintf(command, sizeof command, "'%s' --list", path);
    FILE *pipe = popen(command, "r");
    if (!pipe) continue;
    char line[512];
    while (fgets(line, sizeof line, pipe)) {
      /* name \t version \t description */
      line[strcspn(line, "\n")] = 0;
      char *version = strchr(line, '\t');
      char *description = version ? strchr(version + 1, '\t') : NULL;
      if (!description) continue;
      *version++ = 0;
      *description++ = 0;
      if (count == capacity) {
        hb_allocator_info *grown = realloc(list, 2 * capacity * sizeof *list);
        if (!grown) break;
        list = grown;
        capacity *= 2;
      }
      hb_allocator_info *info = &list[count++];
      memset(info, 0, sizeof *info);
      copy_text(info->name, sizeof info->name, line);
      copy_text(info->group, sizeof info->group, groups[g]);
      copy_text(info->version, sizeof info->version, version);
      copy_text(info->description, sizeof info->description, description);
      copy_text(info->worker_path, sizeof info->worker_path, path);
    }
    if (pclose(pipe) != 0)
      fprintf(stderr, "heapbench: worker %s did not answer --list\n", path);
  }
  if (count == 0) fprintf(stderr, "heapbench: no allocator worker found in %s\n", worker_dir());
  *infos = list;
  return count;
}

const hb_allocator_info *hb_workers_find(const hb_allocator_info *infos, size_t count,
                                         const char *name) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(infos[i].name, name) == 0) return &infos[i];
  return NULL;
}

/* The first line a worker prints for `--malloc-library`, under `envp`. */
static int ask_malloc_library(const char *worker, char *const envp[], char *path, size_t size) {
  char *argv[] = {(char *)worker, "--malloc-library", NULL};
  hb_child_run run;
  if (hb_child_run_collect_env(argv, envp, hb_monotonic_ns() + 30000000000ull, &run) != 0)
    return -1;
  int ok = !run.timed_out && !run.signal && run.exit_code == 0 && run.out[0] == '/';
  if (ok) snprintf(path, size, "%.*s", (int)strcspn(run.out, "\n"), run.out);
  free(run.out);
  return ok ? 0 : -1;
}

int hb_workers_malloc_library(const hb_allocator_info *info, char *path, size_t size) {
  if (info->preload[0]) {
    snprintf(path, size, "%s", info->preload);
    return 0;
  }
  return ask_malloc_library(info->worker_path, NULL, path, size);
}

/* An ELF file whose type is ET_DYN (a shared object). */
static int is_shared_object(const char *path, char *why, size_t why_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_size, "%s", strerror(errno));
    return 0;
  }
  Elf64_Ehdr header;
  ssize_t n = read(fd, &header, sizeof header);
  close(fd);
  if (n < (ssize_t)sizeof header || memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    snprintf(why, why_size, "not an ELF file");
    return 0;
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_type != ET_DYN) {
    snprintf(why, why_size, "not a shared object of this machine");
    return 0;
  }
  return 1;
}

int hb_workers_library_info(const char *name, const char *path, hb_allocator_info *info,
                            char *why, size_t why_size) {
  memset(info, 0, sizeof *info);
  char resolved[4096], problem[256];
  if (!*name || !*path) {
    snprintf(why, why_size, "'%s=%s': NAME=PATH wants a name and a library", name, path);
    return -1;
  }
  if (!realpath(path, resolved)) {
    snprintf(why, why_size, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (!is_shared_object(resolved, problem, sizeof problem)) {
    snprintf(why, why_size, "%s: %s", path, problem);
    return -1;
  }
  char worker[4096], interposer[4096];
  snprintf(worker, sizeof worker, "%s/hb-worker-preload", worker_dir());
  if (access(worker, X_OK) != 0) {
    snprintf(why, why_size, "%s: the generic worker %s is missing", path, worker);
    return -1;
  }
  char **envp = hb_env_with("LD_PRELOAD", resolved);
  if (!envp) {
    snprintf(why, why_size, "out of memory");
    return -1;
  }
  int asked = ask_malloc_library(worker, envp, interposer, sizeof interposer);
  hb_env_free(envp);
  if (asked != 0) {
    snprintf(why, why_size, "%s: a program cannot start with it preloaded", path);
    return -1;
  }
  if (strcmp(interposer, resolved) != 0) {
    snprintf(why, why_size, "%s does not interpose malloc (under LD_PRELOAD, malloc is %s's)",
             path, interposer);
    return -1;
  }
  copy_text(info->name, sizeof info->name, name);
  copy_text(info->group, sizeof info->group, "preload");
  copy_text(info->version, sizeof info->version, resolved);
  snprintf(info->description, sizeof info->description, "preloaded: %.140s", resolved);
  copy_text(info->worker_path, sizeof info->worker_path, worker);
  copy_text(info->preload, sizeof info->preload, resolved);
  return 0;
}

int hb_workers_choose(const char *command, const char *list, hb_allocator_info **infos,
                      size_t *count, size_t **chosen_out, size_t *chosen_count) {
  *chosen_count = 0;
  *chosen_out = NULL;
  char *copy = strdup(list ? list : "all"), *save = NULL;
  size_t tokens = 1;
  for (const char *p = copy ? copy : ""; *p; p++) tokens += *p == ',';
  size_t *chosen = calloc(*count + tokens + 1, sizeof *chosen);
  if (!copy || !chosen) {
    free(copy);
    free(chosen);
    fprintf(stderr, "heapbench %s: out of memory\n", command);
    return -1;
  }
  size_t built = *count; /* "all" means these */
  int first = 1;
  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    char *path = strchr(name, '=');
    if (path) { /* NAME=PATH */
      *path++ = 0;
      char why[8400];
      hb_allocator_info info;
      if (hb_workers_find(*infos, *count, name)) {
        fprintf(stderr, "heapbench %s: %s=%s: '%s' is already an allocator's name\n", command,
                name, path, name);
        goto fail;
      }
      if (hb_workers_library_info(name, path, &info, why, sizeof why) != 0) {
        fprintf(stderr, "heapbench %s: %s\n", command, why);
        goto fail;
      }
      hb_allocator_info *grown = realloc(*infos, (*count + 1) * sizeof *grown);
      if (!grown) goto fail;
      *infos = grown;
      grown[*count] = info;
      chosen[(*chosen_count)++] = (*count)++;
      first = 0;
      continue;
    }
    int drop = name[0] == '-';
    if (drop) name++;
    if (strcmp(name, "all") == 0 || (drop && first)) {
      for (size_t i = 0; i < built; i++) {
        int duplicate = 0;
        for (size_t k = 0; k < *chosen_count; k++) duplicate |= chosen[k] == i;
        if (!duplicate) chosen[(*chosen_count)++] = i;
      }
      first = 0;
      if (!drop) continue;
    }
    first = 0;
    const hb_allocator_info *info = hb_workers_find(*infos, *count, name);
    if (!info) {
      fprintf(stderr, "heapbench %s: unknown allocator '%s' (built:", command, name);
      for (size_t i = 0; i < built; i++) fprintf(stderr, "%s%s", i ? ", " : " ", (*infos)[i].name);
      fprintf(stderr, "; or NAME=PATH for any malloc library)\n");
      goto fail;
    }
    size_t index = (size_t)(info - *infos), at = SIZE_MAX;
    for (size_t k = 0; k < *chosen_count; k++)
      if (chosen[k] == index) at = k;
    if (drop && at != SIZE_MAX) {
      memmove(&chosen[at], &chosen[at + 1], (*chosen_count - at - 1) * sizeof *chosen);
      (*chosen_count)--;
    } else if (!drop && at == SIZE_MAX) {
      chosen[(*chosen_count)++] = index;
    }
  }
  free(copy);
  if (*chosen_count == 0) {
    fprintf(stderr, "heapbench %s: --allocators names no allocator\n", command);
    free(chosen);
    return -1;
  }
  *chosen_out = chosen;
  return 0;
fail:
  free(copy);
  free(chosen);
  *chosen_count = 0;
  return -1;
}
