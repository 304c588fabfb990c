/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container attribution: cgroup id -> cgroup path (relative to the cgroup v2
 * mount) -> runtime, container id, pod UID and QoS class.
 *
 * container_parse_path() is pure. The cache resolves ids the kernel reports
 * (bpf_get_current_cgroup_id()) through a kernfs file handle on the mount,
 * falling back to a bounded walk of the tree, and keeps the result until the
 * cgroup goes away (container_cache_sweep) or is forgotten. Not thread-safe: one
 * cache per thread, or lock around it.
 *
 * See docs/attribution.md for the shapes recognized.
 */
#ifndef NODEGUARD_CONTAINER_H
#define NODEGUARD_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ctr_runtime { RT_HOST = 0, RT_CONTAINERD, RT_CRIO, RT_DOCKER, RT_PODMAN, RT_OTHER };
enum ctr_qos { QOS_NONE = 0, QOS_GUARANTEED, QOS_BURSTABLE, QOS_BESTEFFORT };

#define CTR_ID_LEN 64       /* hex digits of a full container id */
#define CTR_ID_MIN_PREFIX 12 /* shortest prefix container_cache_find_container takes */

struct ctr_info {
	uint64_t cgroup_id;
	char path[512];            /* relative to the cgroup2 mount, starts with '/'; truncated paths flagged */
	bool path_truncated;
	/*
	 * false: host process. Also false for a runtime monitor (is_conmon):
	 * conmon runs in the host's namespaces, not in the workload, but its
	 * runtime, container_id and pod_uid are filled so it can be tied to the
	 * container it watches. A pod-level cgroup (no container below the pod)
	 * has pod_uid and qos set and is_container false.
	 */
	bool is_container;
	bool is_conmon;            /* CRI-O's crio-conmon-<id>.scope, podman's libpod-conmon-<id>.scope */
	enum ctr_runtime runtime;
	char container_id[65];     /* lowercase hex, full id as in the path */
	char pod_uid[37];          /* canonical 8-4-4-4-12 with '-' (systemd names use '_': converted) */
	enum ctr_qos qos;
};

/*
 * Parse a cgroup path (leading '/' optional, empty and doubled components
 * ignored). *out is overwritten (cgroup_id set to 0). Returns 0 for host and
 * container paths alike, -EINVAL on NULL.
 */
int container_parse_path(const char *cgpath, struct ctr_info *out);
/* "host","containerd","cri-o","docker","podman","other"; "unknown" if out of range */
const char *container_runtime_name(enum ctr_runtime r);
/* "", "guaranteed","burstable","besteffort"; "" if out of range */
const char *container_qos_name(enum ctr_qos q);

struct container_cache;

/*
 * cgroup2_mount: the cgroup v2 mount point (probe_cgroup2_mount). Any other
 * directory tree is accepted too, but then ids are only resolved by walking
 * it (kernfs handles need a cgroup2 superblock). max_entries: 1 .. 1<<20;
 * the least recently used entry is evicted when full.
 * NULL + errno (EINVAL, ENOMEM, or open(2)'s) on failure.
 */
struct container_cache *container_cache_new(const char *cgroup2_mount, size_t max_entries);
/*
 * Cached (an entry stays until swept or forgotten, so the last events of a
 * removed cgroup still attribute); a miss resolves the id to a path with open_by_handle_at (kernfs
 * file handle: handle_type 0xfe FILEID_KERNFS, 8-byte id) on an fd of the
 * mount, then readlink of /proc/self/fd/N, and falls back to a bounded walk
 * of the mount (readdir, d_ino/st_ino == id) when handles are unavailable
 * (no CAP_DAC_READ_SEARCH, not cgroup2). 0 or -ENOENT (-EINVAL on NULL).
 */
int container_cache_lookup(struct container_cache *c, uint64_t cgroup_id, struct ctr_info *out);
/* drop entries whose cgroup directory no longer exists; returns how many */
int container_cache_sweep(struct container_cache *c);
void container_cache_forget(struct container_cache *c, uint64_t cgroup_id);
/*
 * Find a live container whose id equals, or starts with, id (>= 12 hex
 * digits, case-insensitive; it must name one container). The container's own
 * cgroup is returned (not its conmon, not a sub-cgroup of it). A full 64-digit
 * id found in the cache is answered from the cache; otherwise the cgroup tree
 * is walked (bounded) so that a short prefix is known to be unique.
 * 0, -ENOENT, -EEXIST (ambiguous), -EINVAL (too short/long, not hex, NULL).
 */
int container_cache_find_container(struct container_cache *c, const char *id, struct ctr_info *out);
size_t container_cache_size(const struct container_cache *c);
void container_cache_free(struct container_cache *c);

/* Resolve with handles (default) or only by walking the tree. */
void container_cache_use_handles(struct container_cache *c, bool on);

struct container_cache_stats {
	uint64_t hits, misses;
	uint64_t by_handle;        /* misses resolved through a kernfs handle */
	uint64_t by_walk;          /* misses resolved by walking the tree */
	uint64_t not_found;        /* lookups answered -ENOENT */
	uint64_t walks;            /* tree walks started (lookups and finds) */
	uint64_t walks_truncated;  /* walks that hit a bound before finishing */
	uint64_t evictions;        /* LRU evictions because the cache was full */
	uint64_t swept;            /* entries dropped by container_cache_sweep */
	int handle_err;            /* errno that turned handles off, 0 if none;
	                              EPERM: no CAP_DAC_READ_SEARCH */
	bool handles;              /* handles are being tried */
	bool handles_worked;       /* at least one handle resolved */
};
void container_cache_get_stats(const struct container_cache *c, struct container_cache_stats *out);

#endif
