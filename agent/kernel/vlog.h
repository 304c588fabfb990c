/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifier statistics and refusals of the programs of a BPF object, read
 * from per-program verifier logs (vlog.c). Never logs.
 */
#ifndef NODEGUARD_VLOG_H
#define NODEGUARD_VLOG_H

#include <stddef.h>
#include <stdint.h>

struct bpf_object;
struct bpf_program;

/* one loaded program and what the verifier spent on it */
struct prog_cost {
	char object[16];          /* process, credential, network, enforce */
	char name[48];
	char section[64];
	uint32_t verified_insns;  /* bpf_prog_info.verified_insns */
	uint64_t verify_us;       /* the verifier's own "verification time" */
};

#define VLOG_PROGS 64
#define VLOG_WHY_MAX 512

struct vlog {
	size_t n;
	struct bpf_program *prog[VLOG_PROGS];
	char *buf[VLOG_PROGS];
};

/* before bpf_object__load: a log buffer at level 4 for every program to load */
int vlog_attach(struct vlog *v, struct bpf_object *obj);
/* after the load (either way): the programs' costs into out[max]; how many */
size_t vlog_record(const struct vlog *v, const char *object, struct prog_cost *out, size_t max);
/* after a refused load: "program: the verifier's last lines" */
void vlog_refusal(const struct vlog *v, char *out, size_t n);
void vlog_free(struct vlog *v);

#endif
