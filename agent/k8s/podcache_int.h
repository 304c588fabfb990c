/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the pod cache (podcache.c: the cache, its indexes and the watch
 * glue; podcache_pod.c: pod decoding): what the cache needs of the decoder.
 */
#ifndef NODEGUARD_PODCACHE_INT_H
#define NODEGUARD_PODCACHE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "podcache.h"

/* free what a pod_info holds and zero it */
void pod_info_clear(struct pod_info *p);
/* decode a Pod object into *p (overwritten), at most o->max_labels labels and
 * o->max_containers containers; 0, -EBADMSG, -ENOMEM (p: pod_info_clear it) */
int pod_info_parse(const struct podcache_opts *o, const cJSON *pod, struct pod_info *p);
/* copy s into dst[n]; false if it does not fit (or s is NULL) */
bool pod_cp_exact(char *dst, size_t n, const char *s);
/* 64 hex digits into id (lowercase); false if s is not exactly that */
bool pod_hex64(const char *s, char id[65]);

#endif
