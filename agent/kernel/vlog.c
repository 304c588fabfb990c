// SPDX-License-Identifier: Apache-2.0
/*
 * Verifier logs for the BPF objects the agent loads: every program is loaded
 * with verifier log level 4 (statistics: the instruction count and the
 * verification time of each program; on a refusal, also the verifier's
 * reason) into a buffer of its own, so a refusal names the program and
 * quotes the verifier, and `nodeguard probe` shows each program's cost.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlog.h"

#define VLOG_BYTES (16u << 10)

int vlog_attach(struct vlog *v, struct bpf_object *obj)
{
	struct bpf_program *prog;

	memset(v, 0, sizeof(*v));
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (v->n == VLOG_PROGS)
			return -E2BIG;
		v->buf[v->n] = calloc(1, VLOG_BYTES);
		if (!v->buf[v->n])
			return -ENOMEM;
		v->prog[v->n] = prog;
		bpf_program__set_log_level(prog, 4);
		bpf_program__set_log_buf(prog, v->buf[v->n], VLOG_BYTES);
		v->n++;
	}
	return 0;
}

void vlog_free(struct vlog *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		bpf_program__set_log_buf(v->prog[i], NULL, 0);
		free(v->buf[i]);
	}
	v->n = 0;
}

/* the last `want` non-empty lines of a log, joined with " | " */
static void last_lines(const char *log, int want, char *out, size_t n)
{
	const char *end = log + strlen(log), *p = end, *from = end;
	size_t o = 0;
	int got = 0;

	while (p > log && got < want) {
		const char *q = p;

		while (q > log && q[-1] != '\n')
			q--;
		if (p - q > 1 || (p - q == 1 && *q != '\n'))
			got++, from = q;
		p = q > log ? q - 1 : q;
	}
	out[0] = '\0';
	for (p = from; p < end && o + 4 < n; p++) {
		if (*p == '\n') {
			if (p + 1 < end && o + 4 < n)
				o += (size_t)snprintf(out + o, n - o, " | ");
			continue;
		}
		out[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		out[o] = '\0';
	}
}

/* libbpf loads programs in order and stops at the first refusal: the last
 * program with a log is the one refused; name it and quote the verifier */
void vlog_refusal(const struct vlog *v, char *out, size_t n)
{
	char lines[VLOG_WHY_MAX];
	size_t i;

	for (i = v->n; i-- > 0;) {
		if (!v->buf[i][0])
			continue;
		last_lines(v->buf[i], 4, lines, sizeof(lines));
		snprintf(out, n, "%s: %s", bpf_program__name(v->prog[i]), lines);
		return;
	}
	snprintf(out, n, "no verifier output (the refusal came before verification)");
}

static uint64_t log_u64_after(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

size_t vlog_record(const struct vlog *v, const char *object, struct prog_cost *out, size_t max)
{
	size_t i;

	for (i = 0; i < v->n && i < max; i++) {
		struct prog_cost *sp = &out[i];
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(v->prog[i]);

		memset(sp, 0, sizeof(*sp));
		snprintf(sp->object, sizeof(sp->object), "%s", object);
		snprintf(sp->name, sizeof(sp->name), "%s", bpf_program__name(v->prog[i]));
		snprintf(sp->section, sizeof(sp->section), "%s", bpf_program__section_name(v->prog[i]));
		sp->verify_us = log_u64_after(v->buf[i], "verification time ");
		sp->verified_insns = (uint32_t)log_u64_after(v->buf[i], "processed ");
		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) && info.verified_insns)
			sp->verified_insns = info.verified_insns;
	}
	return i;
}
