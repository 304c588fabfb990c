/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node-local incident journal: an append-only JSON-lines file,
 * <dir>/journal.jsonl, one record per incident change.
 *
 * Every record reaches the file with exactly one write() on an O_APPEND fd,
 * so a crash leaves at most one unterminated line at the end. journal_open()
 * moves such a torn tail aside to <dir>/journal.torn-<unix ts> (nothing is
 * silently dropped) and truncates the journal back to its last newline.
 * Complete lines are never removed: a malformed complete line is left in
 * place and journal_replay() reports it.
 *
 * Rotation is size based: journal.jsonl -> journal.jsonl.1 -> ... ->
 * journal.jsonl.<keep>; older files are deleted. A rotate callback lets the
 * owner write snapshots of still-open state into the fresh file.
 *
 * Library-like: nothing here logs or exits. Functions return 0 (or another
 * non-negative value where documented) or -errno; journal_open() returns
 * NULL and sets errno. A struct journal is not thread-safe.
 */
#ifndef NODEGUARD_JOURNAL_H
#define NODEGUARD_JOURNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h" /* enum journal_fsync */

/* a record (without its newline) may not be longer than this: -E2BIG */
#define JOURNAL_MAX_RECORD (1u << 20)
/* the journal directory path may not be longer than this: -ENAMETOOLONG */
#define JOURNAL_MAX_DIR 400
/* rotated files kept at most (larger keep values are clamped) */
#define JOURNAL_MAX_KEEP 1000

#define JOURNAL_FILE "journal.jsonl"
#define JOURNAL_LOCK_FILE "journal.lock"

struct journal;

struct journal_opts {
	const char *dir;           /* created 0700 if missing (parents too) */
	enum journal_fsync fsync;  /* FSYNC_ALWAYS: fdatasync after every append before
				    * returning; FSYNC_INTERVAL: journal_tick() syncs at
				    * most every fsync_interval_ms; FSYNC_NEVER */
	uint32_t fsync_interval_ms;
	uint64_t max_bytes;        /* rotate when the current file would exceed it; 0 = never */
	uint32_t keep;             /* rotated files kept: journal.jsonl.1 .. .N (1 newest);
				    * 0 = a rotation discards the full file */
};

struct journal_recovery {
	bool torn_tail;            /* last line of journal.jsonl was incomplete */
	uint64_t torn_bytes;       /* bytes moved aside */
	char torn_saved_to[512];   /* where the torn bytes were preserved ("" if none) */
	uint64_t records;          /* complete lines in the current file */
};

struct journal_stats {
	uint64_t appends;          /* records written */
	uint64_t bytes;            /* size of the current file */
	uint64_t syncs;            /* successful fdatasync() of the journal file */
	uint64_t unsynced;         /* records written since the last successful sync */
	uint64_t rotations;        /* completed rotations */
	uint64_t rotate_errors;    /* failed rotations (the record still went to the old file) */
	int last_rotate_error;     /* -errno of the latest failed rotation, 0 if none */
};

/*
 * Called after a rotation, with journal.jsonl fresh and empty, so the owner
 * can append snapshots of still-open state. Appends made from the callback
 * never trigger another rotation, and a file is rotated only once it holds
 * at least one record besides those snapshots. The callback must not close
 * the journal.
 */
typedef void (*journal_rotate_fn)(struct journal *j, void *ctx);

/*
 * Create the directory if needed, take an exclusive lock on
 * <dir>/journal.lock (errno EBUSY: another process or another open journal
 * holds it), recover a torn tail (described in *rec, which may be NULL) and
 * open journal.jsonl for appending.
 */
struct journal *journal_open(const struct journal_opts *o, struct journal_recovery *rec);

/*
 * Append one record: `line` is one JSON object, without a trailing newline,
 * len > 0 bytes, no '\n' or NUL in it (-EINVAL), at most JOURNAL_MAX_RECORD
 * (-E2BIG). Rotates first if the record would push the file over max_bytes.
 * The record and its newline go out in one write(); a failed or short write
 * is undone (the file is truncated back) so no partial line remains.
 * Returns 0 once the record is written and, under FSYNC_ALWAYS, durable.
 * If the fdatasync() fails the record may or may not survive a crash and the
 * error is returned: treat the record as not written (it may later replay
 * once more, so records should be idempotent snapshots).
 */
int journal_append(struct journal *j, const char *line, size_t len);
/* fdatasync() now */
int journal_sync(struct journal *j);
/*
 * Periodic work; call with a monotonic clock in ms. Under FSYNC_INTERVAL,
 * syncs when there are unsynced records and fsync_interval_ms have passed
 * since the previous tick-driven sync (the first one syncs at once).
 * Returns 1 if it synced, 0 if there was nothing to do, or -errno.
 */
int journal_tick(struct journal *j, uint64_t now_ms);
void journal_set_rotate_cb(struct journal *j, journal_rotate_fn fn, void *ctx);
/* <dir>/journal.jsonl */
const char *journal_path(const struct journal *j);
void journal_get_stats(const struct journal *j, struct journal_stats *st);
/* syncs (errors are lost: call journal_sync() first to see them), closes, unlocks; accepts NULL */
void journal_close(struct journal *j);

struct journal_replay_stats {
	uint64_t records;   /* lines handed to the record callback */
	uint64_t malformed; /* lines reported to the bad callback */
	uint64_t files;     /* files read */
};

/* return non-zero to stop the replay; journal_replay() then returns that value */
typedef int (*journal_record_fn)(const cJSON *rec, const char *file, uint64_t line, void *ctx);
/* `why` is a short static description */
typedef void (*journal_bad_fn)(const char *file, uint64_t line, const char *why, void *ctx);

/*
 * Read every kept file oldest -> newest (journal.jsonl.N .. .1, then
 * journal.jsonl). Each complete line that parses as a JSON object goes to
 * cb; anything else (bad JSON, not an object, empty, NUL byte, longer than
 * JOURNAL_MAX_RECORD, an unterminated last line) is counted and reported to
 * bad_cb (may be NULL) with the file's path and 1-based line number, and the
 * replay goes on. It takes no lock: meant for startup (after journal_open()
 * recovered the tail) or for a quiet journal; a rotation running meanwhile
 * can make it skip or repeat a file (a file that vanishes is skipped).
 * Returns 0, the callback's non-zero value, or -errno (a directory or file
 * that cannot be read).
 * *st (may be NULL) is filled in either case.
 */
int journal_replay(const char *dir, journal_record_fn cb, journal_bad_fn bad_cb, void *ctx,
		   struct journal_replay_stats *st);

#endif
