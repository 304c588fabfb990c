// SPDX-License-Identifier: Apache-2.0
/*
 * Incident reports. The escaping rules are described in report.h; the one
 * rule everywhere: no byte of an incident reaches the output without going
 * through put_esc() (text) or json_put() (raw event JSON).
 *
 * This file: escaping, the helpers every writer uses, the terminal text
 * view, list lines, filters and loading the journal; report_int.h names the
 * files of the other writers.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "clock.h"
#include "report_int.h"

#define LOAD_MAX_WARNINGS 20

/* ---------------------------------------------------------------- escaping */

/* Markdown punctuation that can start or end an inline construct (emphasis,
 * code, links, autolinks, HTML, entities, strikethrough, headings' closing
 * #, www. and scheme: autolinks). '/', ',', ';' and '-' have no inline
 * meaning and content never starts a line, so they stay readable. */
static bool md_special(unsigned char c)
{
	return ispunct(c) && c != '/' && c != ',' && c != ';' && c != '-';
}

/* one output unit: an ASCII character to encode for the medium, or a whole
 * (already vetted) UTF-8 sequence */
void put_unit(FILE *out, enum fmt f, const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];

	if (n > 1) {
		fwrite(p, 1, n, out);
		return;
	}
	if (f == F_MD) {
		if (c == '|')
			fputs("&#124;", out);
		else if (md_special(c))
			fprintf(out, "\\%c", c);
		else
			fputc(c, out);
	} else if (f == F_HTML) {
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(c, out); break;
		}
	} else {
		fputc(c, out);
	}
}

static void put_ascii(FILE *out, enum fmt f, const char *s)
{
	for (; *s; s++)
		put_unit(out, f, s, 1);
}

/* text from an incident, made visible and encoded for the medium */
void put_esc(FILE *out, enum fmt f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, l;
	char e[16];

	while (i < n) {
		unsigned char c = p[i];

		if (c == '\\') {
			put_ascii(out, f, "\\\\");
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			put_unit(out, f, (const char *)p + i, 1);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			if (c == '\n')
				snprintf(e, sizeof(e), "\\n");
			else if (c == '\r')
				snprintf(e, sizeof(e), "\\r");
			else if (c == '\t')
				snprintf(e, sizeof(e), "\\t");
			else
				snprintf(e, sizeof(e), "\\x%02x", c);
			put_ascii(out, f, e);
			i++;
		} else if ((l = utf8_seq_len(p + i, n - i)) == 0) {
			snprintf(e, sizeof(e), "\\x%02x", c);
			put_ascii(out, f, e);
			i++;
		} else {
			uint32_t cp = textesc_utf8_cp(p + i, l);

			if (cp < 0xa0) { /* C1 controls: the raw bytes */
				snprintf(e, sizeof(e), "\\x%02x\\x%02x", p[i], p[i + 1]);
				put_ascii(out, f, e);
			} else if (textesc_format_char(cp)) {
				snprintf(e, sizeof(e), "\\u%04" PRIx32, cp);
				put_ascii(out, f, e);
			} else {
				put_unit(out, f, (const char *)p + i, l);
			}
			i += l;
		}
	}
}

void report_term_puts(FILE *out, const char *s)
{
	put_esc(out, F_TEXT, s);
}

/* the escaped text in a new string (for padded columns); NULL on ENOMEM */
static char *esc_dup(enum fmt f, const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	put_esc(m, f, s);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---------------------------------------------------------------- helpers */

const char *report_time(uint64_t wall_ns, char *buf, size_t n)
{
	if (!wall_ns || !clock_rfc3339(wall_ns, 3, buf, n))
		snprintf(buf, n, "unknown");
	return buf;
}

const struct inc_entry *report_top_entry(const struct incident *inc)
{
	const struct inc_entry *top = NULL;
	size_t i;

	for (i = 0; i < inc->nentries; i++)
		if (!top || inc->entries[i].severity > top->severity)
			top = &inc->entries[i];
	return top;
}

uint64_t total_detections(const struct incident *inc)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < inc->nentries; i++)
		n += inc->entries[i].count;
	return n;
}

/*
 * The process tree in display order: depth-first from the roots (processes
 * whose parent is not in the incident), children in the order they joined.
 * Processes only reachable through a ppid cycle (pid reuse) start their own
 * tree. order/depth have room for nprocs; returns how many were filled.
 */
size_t proc_tree(const struct incident *inc, size_t *order, unsigned *depth)
{
	size_t n = inc->nprocs, i, j, k, out = 0, sp;
	ssize_t *parent = calloc(n ? n : 1, sizeof(*parent));
	size_t *stack = calloc(n ? n : 1, sizeof(*stack));
	unsigned *sdepth = calloc(n ? n : 1, sizeof(*sdepth));
	bool *seen = calloc(n ? n : 1, sizeof(*seen));

	if (!parent || !stack || !sdepth || !seen) {
		/* out of memory: a flat list */
		for (i = 0; i < n; i++) {
			order[i] = i;
			depth[i] = 0;
		}
		out = n;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct inc_proc *c = &inc->procs[i];

		parent[i] = -1;
		for (j = 0; j < n; j++) {
			const struct inc_proc *p = &inc->procs[j];

			if (j == i || p->pid != c->ppid || c->ppid == 0)
				continue;
			/* with pid reuse, the parent started before the child */
			if (parent[i] < 0 || (p->start_ns <= c->start_ns &&
					      p->start_ns > inc->procs[parent[i]].start_ns))
				parent[i] = (ssize_t)j;
		}
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < n; i++) {
			if (seen[i] || (k == 0 && parent[i] >= 0))
				continue;
			sp = 0;
			stack[sp] = i;
			sdepth[sp++] = 0;
			seen[i] = true;
			while (sp) {
				size_t cur = stack[--sp];
				unsigned d = sdepth[sp];

				order[out] = cur;
				depth[out++] = d;
				/* push children last-first so they come out in order */
				for (j = n; j-- > 0;) {
					if (parent[j] != (ssize_t)cur || seen[j])
						continue;
					seen[j] = true;
					stack[sp] = j;
					sdepth[sp++] = d + 1;
				}
			}
		}
	}
out:
	free(parent);
	free(stack);
	free(sdepth);
	free(seen);
	return out;
}

static void where_short(const struct incident *inc, char *buf, size_t n)
{
	const struct inc_attr *a = &inc->attr;

	if (a->pod_namespace && a->pod_name)
		snprintf(buf, n, "%s/%s", a->pod_namespace, a->pod_name);
	else if (a->container_id[0])
		snprintf(buf, n, "%.12s", a->container_id);
	else if (a->is_container)
		snprintf(buf, n, "container");
	else
		snprintf(buf, n, "host");
}

/* ---------------------------------------------------------------- text */

static void t(FILE *out, const char *s)
{
	put_esc(out, F_TEXT, s);
}

void report_text(FILE *out, const struct incident *inc0)
{
	struct safe_inc s;
	const struct incident *inc = safe_open(&s, inc0);
	const struct inc_attr *a = &inc->attr;
	size_t *order = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*order));
	unsigned *depth = calloc(inc->nprocs ? inc->nprocs : 1, sizeof(*depth));
	char tb[48], tb2[48];
	size_t i, k, n;

	fputs("Incident ", out);
	t(out, inc->id);
	fprintf(out, "\n  Severity:    %s", severity_name(inc->severity));
	if (inc->severity_reason && *inc->severity_reason) {
		fputs(" (", out);
		t(out, inc->severity_reason);
		fputc(')', out);
	}
	if (inc->severity != inc->max_detection)
		fprintf(out, ", highest single detection %s", severity_name(inc->max_detection));
	fprintf(out, "\n  Status:      %s\n  Node:        ", incident_status_name(inc->status));
	t(out, inc->node);
	fprintf(out, "\n  First seen:  %s\n  Last seen:   %s\n",
		report_time(inc->first_ns, tb, sizeof(tb)), report_time(inc->last_ns, tb2, sizeof(tb2)));
	if (a->is_container || a->container_id[0]) {
		fputs("  Container:   ", out);
		t(out, a->runtime[0] ? a->runtime : "unknown runtime");
		fputc(' ', out);
		t(out, a->container_id[0] ? a->container_id : "(no container id)");
		fputs("\n  Pod:         ", out);
		if (a->pod_namespace && a->pod_name) {
			t(out, a->pod_namespace);
			fputc('/', out);
			t(out, a->pod_name);
		} else {
			fputs("not known", out);
		}
		if (a->pod_uid[0]) {
			fputs(" (uid ", out);
			t(out, a->pod_uid);
			fputc(')', out);
		}
		if (a->qos[0]) {
			fputs(", qos ", out);
			t(out, a->qos);
		}
		fputc('\n', out);
	} else {
		fputs("  Host:        process tree ", out);
		t(out, inc->key);
		fputc('\n', out);
	}
	fputs("  Cgroup:      ", out);
	t(out, a->cgroup_path[0] ? a->cgroup_path : "unknown");
	fprintf(out, " (id %" PRIu64 ")\n", a->cgroup_id);
	fprintf(out, "  Counts:      %zu timeline entries, %" PRIu64 " detections with repeats, "
		"%zu processes, %zu actions\n", inc->nentries, total_detections(inc), inc->nprocs,
		inc->nactions);
	if (inc->entries_dropped || inc->procs_dropped)
		fprintf(out, "  Dropped:     %" PRIu64 " timeline entries, %" PRIu64 " processes\n",
			inc->entries_dropped, inc->procs_dropped);

	fputs("\nTimeline\n", out);
	if (!inc->nentries)
		fputs("  No detections.\n", out);
	for (i = 0; i < inc->nentries; i++) {
		const struct inc_entry *e = &inc->entries[i];

		fprintf(out, "  %s  %-8s  ", report_time(e->first_ns, tb, sizeof(tb)),
			severity_name(e->severity));
		t(out, e->rule);
		fputs("  [", out);
		t(out, e->category);
		for (k = 0; k < e->nmitre; k++) {
			fputs(k ? ", " : "; ", out);
			t(out, e->mitre[k]);
		}
		fputc(']', out);
		if (e->count > 1)
			fprintf(out, "  x%" PRIu32 " (last %s)", e->count,
				report_time(e->last_ns, tb2, sizeof(tb2)));
		fputs("\n      ", out);
		t(out, e->summary);
		fputc('\n', out);
	}

	fputs("\nProcess tree\n", out);
	if (!inc->nprocs)
		fputs("  No processes recorded.\n", out);
	if (inc->nprocs && order && depth) {
		n = proc_tree(inc, order, depth);
		for (i = 0; i < n; i++) {
			const struct inc_proc *p = &inc->procs[order[i]];
			unsigned d = depth[i] > INDENT_MAX ? INDENT_MAX : depth[i];

			fputs("  ", out);
			for (k = 0; k < d; k++)
				fputs("  ", out);
			fprintf(out, "%s%" PRIu32 " (uid %" PRIu32 ", euid %" PRIu32 ") ", d ? "`- " : "",
				p->pid, p->uid, p->euid);
			t(out, p->exe && *p->exe ? p->exe : "(unknown executable)");
			if (p->cmdline && *p->cmdline) {
				fputs(": ", out);
				t(out, p->cmdline);
			}
			fputc('\n', out);
		}
	}

	fputs("\nActions\n", out);
	if (!inc->nactions)
		fputs("  No actions were taken.\n", out);
	for (i = 0; i < inc->nactions; i++) {
		const struct inc_action *ac = &inc->actions[i];

		fprintf(out, "  %s  ", report_time(ac->ts_ns, tb, sizeof(tb)));
		t(out, ac->action);
		fputc(' ', out);
		t(out, ac->phase);
		fputs(" -> ", out);
		t(out, ac->result);
		fputs("  target ", out);
		t(out, ac->target);
		if (ac->detail && *ac->detail) {
			fputs(": ", out);
			t(out, ac->detail);
		}
		if (ac->dry_run)
			fputs(" (dry run)", out);
		fputc('\n', out);
	}
	free(order);
	free(depth);
	safe_close(&s);
}

/* ---------------------------------------------------------------- list */

void report_list_line(FILE *out, const struct incident *inc)
{
	const struct inc_entry *top = report_top_entry(inc);
	char tb[48], wb[400];
	char *id = esc_dup(F_TEXT, inc->id), *where;

	where_short(inc, wb, sizeof(wb));
	where = esc_dup(F_TEXT, wb);
	fprintf(out, "%-30s  %-8s  %-9s  %s  %-24s  ", id ? id : "?", severity_name(inc->severity),
		incident_status_name(inc->status), report_time(inc->first_ns, tb, sizeof(tb)),
		where ? where : "?");
	if (top)
		t(out, top->rule);
	else
		fputc('-', out);
	if (inc->nentries > 1)
		fprintf(out, " (+%zu)", inc->nentries - 1);
	fputc('\n', out);
	free(id);
	free(where);
}

void report_list_json(FILE *out, const struct incident *inc)
{
	const struct inc_entry *top = report_top_entry(inc);
	char tb[48], d[24];
	struct jsonw w;
	size_t i;

	jsonw_init(&w);
	jsonw_obj_open(&w);
	jsonw_kv_str(&w, "id", inc->id);
	jsonw_kv_str(&w, "severity", severity_name(inc->severity));
	jsonw_kv_str(&w, "severity_reason", inc->severity_reason ? inc->severity_reason : "");
	jsonw_kv_str(&w, "status", incident_status_name(inc->status));
	jsonw_kv_str(&w, "node", inc->node);
	jsonw_kv_str(&w, "first_seen", report_time(inc->first_ns, tb, sizeof(tb)));
	snprintf(d, sizeof(d), "%" PRIu64, inc->first_ns);
	jsonw_kv_str(&w, "first_seen_ns", d);
	jsonw_kv_str(&w, "last_seen", report_time(inc->last_ns, tb, sizeof(tb)));
	snprintf(d, sizeof(d), "%" PRIu64, inc->last_ns);
	jsonw_kv_str(&w, "last_seen_ns", d);
	jsonw_kv_bool(&w, "container", inc->attr.is_container);
	jsonw_kv_str(&w, "container_id", inc->attr.container_id);
	jsonw_key(&w, "pod_namespace");
	if (inc->attr.pod_namespace)
		jsonw_str_val(&w, inc->attr.pod_namespace);
	else
		jsonw_null_val(&w);
	jsonw_key(&w, "pod_name");
	if (inc->attr.pod_name)
		jsonw_str_val(&w, inc->attr.pod_name);
	else
		jsonw_null_val(&w);
	jsonw_key(&w, "top_rule");
	if (top)
		jsonw_str_val(&w, top->rule);
	else
		jsonw_null_val(&w);
	jsonw_kv_u64(&w, "entries", inc->nentries);
	jsonw_kv_u64(&w, "detections", total_detections(inc));
	jsonw_key(&w, "categories");
	jsonw_arr_open(&w);
	for (i = 0; i < inc->ncats; i++)
		jsonw_str_val(&w, inc->cats[i]);
	jsonw_arr_close(&w);
	jsonw_obj_close(&w);
	if (jsonw_str(&w))
		json_put(out, jsonw_str(&w), -1, 0, false);
	else
		fputs("{\"error\":\"out of memory\"}", out);
	fputc('\n', out);
	jsonw_free(&w);
}

/* ---------------------------------------------------------------- filters */

static bool parse_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int parse_rfc3339(const char *s, uint64_t *ns)
{
	const char *p = s;
	int y, mo, d, hh = 0, mm = 0, ss = 0, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0, scale = 100000000ull;
	struct tm tm = { 0 };
	time_t t;

	if (!parse_digits(&p, 4, &y) || *p++ != '-' || !parse_digits(&p, 2, &mo) || *p++ != '-' ||
	    !parse_digits(&p, 2, &d))
		return -EINVAL;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -EINVAL;
		p++;
		if (!parse_digits(&p, 2, &hh) || *p++ != ':' || !parse_digits(&p, 2, &mm) ||
		    *p++ != ':' || !parse_digits(&p, 2, &ss))
			return -EINVAL;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			for (; isdigit((unsigned char)*p); p++) {
				frac += (uint64_t)(*p - '0') * scale;
				scale /= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (!parse_digits(&p, 2, &oh) || *p++ != ':' || !parse_digits(&p, 2, &om) ||
			    oh > 23 || om > 59)
				return -EINVAL;
		} else {
			return -EINVAL; /* RFC 3339 needs the offset */
		}
		if (*p)
			return -EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (tm.tm_mday != d) /* Feb 30 normalized into March */
		return -EINVAL;
	t -= sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*ns = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

static int parse_duration(const char *s, uint64_t *ns)
{
	const uint64_t max_s = 100ull * 366 * 86400;
	uint64_t total = 0, v, unit;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (v = 0; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > max_s)
				return -EINVAL;
		}
		switch (*p++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -EINVAL;
		}
		total += v * unit;
		if (total > max_s)
			return -EINVAL;
	}
	*ns = total * 1000000000ull;
	return 0;
}

int report_parse_since(const char *arg, uint64_t now_ns, uint64_t *since_ns)
{
	uint64_t v;

	if (!arg || strlen(arg) > 64)
		return -EINVAL;
	if (parse_duration(arg, &v) == 0) {
		*since_ns = v < now_ns ? now_ns - v : 0;
		return 0;
	}
	if (parse_rfc3339(arg, &v) == 0) {
		*since_ns = v;
		return 0;
	}
	return -EINVAL;
}

int report_parse_pod(const char *arg, char *ns, size_t nsz, char *name, size_t namesz)
{
	const char *slash = arg ? strchr(arg, '/') : NULL;
	size_t nl;

	if (!slash || strchr(slash + 1, '/'))
		return -EINVAL;
	nl = (size_t)(slash - arg);
	if (!nl || !slash[1] || nl >= nsz || strlen(slash + 1) >= namesz)
		return -EINVAL;
	memcpy(ns, arg, nl);
	ns[nl] = '\0';
	snprintf(name, namesz, "%s", slash + 1);
	return 0;
}

bool report_filter_match(const struct report_filter *f, const struct incident *inc)
{
	if (f->since_ns && inc->last_ns < f->since_ns)
		return false;
	if (f->min_severity >= 0 && (int)inc->severity < f->min_severity)
		return false;
	if (f->status >= 0 && (int)inc->status != f->status)
		return false;
	if (f->pod_ns || f->pod_name) {
		if (!inc->attr.pod_namespace || !inc->attr.pod_name)
			return false;
		if (f->pod_ns && fnmatch(f->pod_ns, inc->attr.pod_namespace, 0))
			return false;
		if (f->pod_name && fnmatch(f->pod_name, inc->attr.pod_name, 0))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- loading */

struct load_ctx {
	struct incmgr *m;
	FILE *warn;
	uint64_t problems;
	uint64_t rejected;
};

static void load_warn(struct load_ctx *c, const char *file, uint64_t line, const char *why)
{
	if (c->warn && c->problems < LOAD_MAX_WARNINGS) {
		put_esc(c->warn, F_TEXT, file);
		fprintf(c->warn, ":%" PRIu64 ": %s\n", line, why);
	}
	c->problems++;
}

static int load_record(const cJSON *rec, const char *file, uint64_t line, void *ctx)
{
	struct load_ctx *c = ctx;
	int err = incident_mgr_apply_record(c->m, rec);

	if (err == -ENOMEM)
		return err;
	if (err) {
		c->rejected++;
		load_warn(c, file, line, "record does not apply (unknown incident or missing fields)");
	}
	return 0;
}

static void load_bad(const char *file, uint64_t line, const char *why, void *ctx)
{
	load_warn(ctx, file, line, why);
}

int incidents_load(const char *journal_dir, struct incmgr **out,
		   struct journal_replay_stats *st, FILE *warn)
{
	struct incident_mgr_opts o = { .node = "", .write = NULL };
	struct journal_replay_stats local;
	struct load_ctx c = { .warn = warn };
	int err;

	*out = NULL;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	c.m = incident_mgr_new(&o);
	if (!c.m)
		return -ENOMEM;
	err = journal_replay(journal_dir, load_record, load_bad, &c, st);
	st->malformed += c.rejected;
	if (warn && c.problems > LOAD_MAX_WARNINGS)
		fprintf(warn, "... and %" PRIu64 " more malformed journal lines\n",
			c.problems - LOAD_MAX_WARNINGS);
	if (err) {
		incident_mgr_free(c.m);
		return err < 0 ? err : -EIO;
	}
	*out = c.m;
	return 0;
}
