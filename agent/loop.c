// SPDX-License-Identifier: Apache-2.0
/*
 * The main loop: one epoll set over every source the agent reads (the ring
 * buffers, the control socket, the pod and Event watches, the action
 * queue's results, the inotify watch of the pod cgroups) and computed
 * timeouts for the periodic work (the 1 s tick, the 30 s container-cache
 * sweep, --duration). Each source is served when its fd is readable; the
 * ring buffers are also drained at least every LOOP_DRAIN_MS, since the
 * producers batch their wake-ups.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent_int.h"
#include "apiq.h"
#include "container.h"
#include "incident.h"
#include "journal.h"
#include "log.h"
#include "podcache.h"
#include "proctab.h"
#include "respond.h"
#include "sensor.h"

/* producers do not wake us for every record (NO_WAKEUP below a watermark):
 * the ring buffers are drained at least this often */
#define LOOP_DRAIN_MS 20
#define LOOP_TICK_MS 1000
#define LOOP_SWEEP_MS 30000

enum loop_src { SRC_SENSOR, SRC_CTL, SRC_PODS, SRC_KEV, SRC_APIQ, SRC_PROT, SRC_MAX };

struct loop {
	int epfd;
	bool added[SRC_MAX];  /* in the set */
	bool failed[SRC_MAX]; /* could not be added: served every tick instead */
	bool ready[SRC_MAX];  /* readable at this wake-up */
	bool ctl_again;       /* poll the control server at the next wake-up */
	uint64_t start, last_tick, last_sweep, last_drops;
};

/* add a source's fd to the set once it has one (fd < 0: not yet, or never) */
static void loop_add(struct loop *l, enum loop_src src, int fd)
{
	/* the control server stops accepting at CTL_MAX_CONNS with more in the
	 * backlog: edge-triggered, or the loop would spin (loop_serve polls it
	 * again while that backlog may be there) */
	struct epoll_event ev = { .events = EPOLLIN | (src == SRC_CTL ? EPOLLET : 0),
				  .data.u32 = src };

	if (l->added[src] || l->failed[src] || fd < 0)
		return;
	l->failed[src] = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0;
	if (l->failed[src])
		log_warn("Failed to add source %d to the agent's epoll set: %s; it is served "
			 "every tick only", (int)src, strerror(errno));
	else
		l->added[src] = true;
}

static void loop_add_all(struct loop *l, struct agent *a)
{
	loop_add(l, SRC_SENSOR, sensor_fd(a->sensor));
	if (a->ctl)
		loop_add(l, SRC_CTL, ctl_server_fd(a->ctl));
	if (a->pods)
		loop_add(l, SRC_PODS, podcache_fd(a->pods));
	if (a->kev)
		loop_add(l, SRC_KEV, kevents_fd(a->kev));
	if (a->apiq)
		loop_add(l, SRC_APIQ, apiq_fd(a->apiq));
	/* created by prot_watch, at start or at a later tick */
	loop_add(l, SRC_PROT, a->prot_ino);
}

/* ms until the first of: the next drain, tick, sweep, the end of --duration */
static int loop_timeout(const struct loop *l, const struct agent *a, uint64_t now)
{
	uint64_t due[3] = { l->last_tick + LOOP_TICK_MS, l->last_sweep + LOOP_SWEEP_MS, 0 };
	int t = LOOP_DRAIN_MS;
	size_t i;

	if (a->opts.duration_s)
		due[2] = l->start + (uint64_t)a->opts.duration_s * 1000;
	for (i = 0; i < 3; i++)
		if (due[i] && (due[i] <= now ? 0 : due[i] - now) < (uint64_t)t)
			t = due[i] <= now ? 0 : (int)(due[i] - now);
	return t;
}

/* once a second: timers of the journal, incidents and responder, protected
 * pods, the process table's garbage, dropped-event counters */
static void loop_tick(struct loop *l, struct agent *a, uint64_t now)
{
	struct ng_counter c[NG_EV_KIND_MAX];
	uint64_t drops = 0;
	unsigned k;

	l->last_tick = now;
	journal_tick(a->jr, now);
	incident_mgr_tick(a->im, clock_wall_ns());
	responder_tick(a->resp);
	prot_watch(a);
	loop_add(l, SRC_PROT, a->prot_ino);
	protect_pods(a);
	proctab_gc(a->pt, (uint64_t)((int64_t)clock_wall_ns() - a->boot_off), 120ull * 1000000000ull);
	if (!sensor_counters(a->sensor, c)) {
		for (k = 1; k < NG_EV_KIND_MAX; k++)
			drops += c[k].dropped;
		if (drops > l->last_drops)
			log_warn("%" PRIu64 " kernel events dropped (ring buffer full); "
				 "detections may be missing", drops - l->last_drops);
		l->last_drops = drops;
	}
}

/*
 * Serve what is readable, in the order the data flows: kernel events, the
 * control socket, the pod cache (and the protected pods it may change),
 * cluster Events (which wait for the pod cache), the action queue's results.
 */
static int loop_serve(struct loop *l, struct agent *a)
{
	bool *r = l->ready, busy;
	int n;

	/* every wake-up: its fd, or LOOP_DRAIN_MS without one */
	n = sensor_poll(a->sensor, 0);
	if (n < 0) {
		log_err("Failed to poll the ring buffer: %s", strerror(-n));
		return n;
	}
	/*
	 * The connections' sockets are the server's own, not in the set: while
	 * it has some, poll it at every wake-up, and once more after (it may
	 * have been full, with a backlog that raises no new edge), and again
	 * after a failed accept.
	 */
	busy = a->ctl && ctl_server_busy(a->ctl);
	if (a->ctl && (r[SRC_CTL] || busy || l->ctl_again))
		l->ctl_again = ctl_server_poll(a->ctl, ctl_dispatch_handler, &a->ctl_ctx) < 0 || busy;
	if (a->pods && r[SRC_PODS])
		podcache_poll(a->pods, 0);
	if (a->pods && (r[SRC_PODS] || r[SRC_PROT]) && prot_news(a))
		protect_pods(a);
	if (a->kev && (r[SRC_KEV] || r[SRC_PODS]))
		kevents_poll(a->kev, 0);
	if (a->apiq && r[SRC_APIQ])
		responder_api_poll(a->resp);
	return 0;
}

int agent_loop(struct agent *a, volatile sig_atomic_t *exiting, volatile sig_atomic_t *reload)
{
	struct epoll_event evs[SRC_MAX];
	struct loop l = { .epfd = epoll_create1(EPOLL_CLOEXEC) };
	bool first = true, tick;
	int rc = 1, n, i;

	if (l.epfd < 0) {
		log_err("Failed to create the agent's epoll set: %s", strerror(errno));
		return 1;
	}
	loop_add_all(&l, a);
	l.start = l.last_tick = l.last_sweep = clock_mono_ms();
	while (!*exiting) {
		uint64_t now = clock_mono_ms();

		/* the first pass serves every source: the watches arm their
		 * timers (in their fds) when first polled */
		n = first ? 0 : epoll_wait(l.epfd, evs, SRC_MAX, loop_timeout(&l, a, now));
		if (n < 0 && errno != EINTR) {
			log_err("Failed to wait on the agent's sources: %s", strerror(errno));
			goto out;
		}
		memset(l.ready, first, sizeof(l.ready));
		for (i = 0; i < n; i++)
			l.ready[evs[i].data.u32] = true;
		first = false;
		/* the pod cache every tick too: podcache_poll purges deleted pods
		 * past their grace, which no fd announces */
		tick = clock_mono_ms() - l.last_tick >= LOOP_TICK_MS;
		l.ready[SRC_PODS] |= tick;
		for (i = 0; i < SRC_MAX; i++)
			l.ready[i] |= tick && l.failed[i];
		if (loop_serve(&l, a))
			goto out;
		fflush(stdout);
		if (*reload) {
			*reload = 0;
			reload_policy(a);
		}
		now = clock_mono_ms();
		if (tick)
			loop_tick(&l, a, now);
		if (now - l.last_sweep >= LOOP_SWEEP_MS) {
			l.last_sweep = now;
			container_cache_sweep(a->ctr);
		}
		if (a->opts.duration_s && now - l.start >= (uint64_t)a->opts.duration_s * 1000)
			break;
	}
	sensor_poll(a->sensor, 0);
	fflush(stdout);
	rc = 0;
out:
	close(l.epfd);
	return rc;
}
