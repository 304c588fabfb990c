// SPDX-License-Identifier: Apache-2.0
/*
 * The set of container cgroups the compiled deny rules were considered
 * for (struct cgset in respond_int.h): cgroup id -> path and whether
 * entries were installed; open addressing, grown by doubling, rebuilt by
 * cgset_filter when gone cgroups are swept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "respond_int.h"

static size_t cgset_slot(const struct cgset *s, uint64_t id)
{
	size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->cap - 1);

	while (s->id[i] && s->id[i] != id)
		i = (i + 1) & (s->cap - 1);
	return i;
}

long cgset_find(const struct cgset *s, uint64_t id)
{
	size_t i;

	if (!s->cap || !id)
		return -1;
	i = cgset_slot(s, id);
	return s->id[i] ? (long)i : -1;
}

void cgset_free(struct cgset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->path ? s->path[i] : NULL);
	free(s->id);
	free(s->path);
	free(s->compiled);
	memset(s, 0, sizeof(*s));
}

static int cgset_grow(struct cgset *s, size_t cap)
{
	struct cgset n = { 0 };
	size_t i;

	n.cap = cap;
	n.id = calloc(cap, sizeof(*n.id));
	n.path = calloc(cap, sizeof(*n.path));
	n.compiled = calloc(cap, sizeof(*n.compiled));
	if (!n.id || !n.path || !n.compiled) {
		cgset_free(&n);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap; i++)
		if (s->id[i]) {
			size_t k = cgset_slot(&n, s->id[i]);

			n.id[k] = s->id[i];
			n.path[k] = s->path[i];
			n.compiled[k] = s->compiled[i];
			s->path[i] = NULL;
			n.n++;
		}
	cgset_free(s);
	*s = n;
	return 0;
}

int cgset_add(struct cgset *s, uint64_t id, const char *path, bool compiled)
{
	size_t i;

	if (!id)
		return -EINVAL;
	if ((s->n + 1) * 2 > s->cap && cgset_grow(s, s->cap ? s->cap * 2 : 256))
		return -ENOMEM;
	i = cgset_slot(s, id);
	if (!s->id[i]) {
		s->id[i] = id;
		s->n++;
	}
	free(s->path[i]);
	s->path[i] = strdup(path ? path : "");
	s->compiled[i] = compiled;
	return 0;
}

/* keep the entries for which keep() holds (a rebuild: linear probing) */
void cgset_filter(struct cgset *s, bool (*keep)(struct responder *, uint64_t, const char *, bool),
		  struct responder *r)
{
	struct cgset n = { 0 };
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->id[i] && keep(r, s->id[i], s->path[i], s->compiled[i]))
			cgset_add(&n, s->id[i], s->path[i], s->compiled[i]);
	cgset_free(s);
	*s = n;
}
