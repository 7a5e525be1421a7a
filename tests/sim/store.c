/* The job store: a uuid-sorted array of jobs with cached JSON (see store.h). */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobsfs/isotime.h"

static const char *const state_names[] = {
	[JOB_QUEUED] = "queued", [JOB_RUNNING] = "running", [JOB_PAUSED] = "paused",
	[JOB_SUCCESS] = "success", [JOB_FAILURE] = "failure",
};

const char *job_state_name(enum job_state st)
{
	return state_names[st];
}

int job_state_parse(const char *name, enum job_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum job_state)i;
			return 0;
		}
	}
	return -1;
}

int store_init(struct sim_store *st)
{
	memset(st, 0, sizeof(*st));
	return -pthread_rwlock_init(&st->lock, NULL);
}

void store_destroy(struct sim_store *st)
{
	for (size_t i = 0; i < st->n; i++)
		job_free(st->jobs[i]);
	free(st->jobs);
	pthread_rwlock_destroy(&st->lock);
	memset(st, 0, sizeof(*st));
}

struct sim_job *job_new(const char *uuid)
{
	struct sim_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->uuid = strdup(uuid);
	j->rec = json_object_new_object();
	if (!j->uuid || !j->rec) {
		job_free(j);
		return NULL;
	}
	j->expires = true;
	return j;
}

void job_free(struct sim_job *j)
{
	if (!j)
		return;
	free(j->uuid);
	json_object_put(j->rec);
	free(j->json);
	free(j);
}

json_object *job_links(const char *uuid)
{
	char *href = NULL;
	if (asprintf(&href, "/api/cluster/jobs/%s", uuid) < 0)
		return NULL;
	json_object *links = json_object_new_object(), *self = json_object_new_object();
	json_object *h = json_object_new_string(href);
	free(href);
	if (!links || !self || !h || json_object_object_add(self, "href", h) != 0) {
		json_object_put(h);
		goto fail;
	}
	if (json_object_object_add(links, "self", self) != 0)
		goto fail;
	return links;
fail:
	json_object_put(self);
	json_object_put(links);
	return NULL;
}

int job_refresh(struct sim_job *j)
{
	/* Serialize through a throw-away array: json-c keeps a printbuf in the object it
	 * serializes, which would cost every held record another kilobyte. */
	json_object *arr = json_object_new_array();
	if (!arr || json_object_array_add(arr, json_object_get(j->rec)) != 0) {
		json_object_put(arr);
		return -ENOMEM;
	}
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	size_t len;
	const char *s = json_object_to_json_string_length(arr, flags, &len);
	/* s is "[{...}]": keep the object; add the standard _links when rec has none. */
	json_object *links = NULL;
	const char *ltext = "";
	size_t llen = 0;
	if (s && !json_object_object_get_ex(j->rec, "_links", NULL)) {
		links = job_links(j->uuid);
		ltext = links ? json_object_to_json_string_length(links, flags, &llen) : NULL;
	}
	char *copy = s && ltext ? malloc(len + llen + 16) : NULL;
	if (copy) {
		size_t n = len - 2;
		memcpy(copy, s + 1, n);
		if (llen) {
			n--; /* the closing brace */
			if (n > 1) /* not "{" alone: the record had fields */
				copy[n++] = ',';
			memcpy(copy + n, "\"_links\":", 9);
			n += 9;
			memcpy(copy + n, ltext, llen);
			n += llen;
			copy[n++] = '}';
		}
		copy[n] = '\0';
		free(j->json);
		j->json = copy;
		j->json_len = n;
	}
	json_object_put(links);
	json_object_put(arr);
	return copy ? 0 : -ENOMEM;
}

/* First index whose uuid compares >= key (inclusive) or > key (!inclusive). */
static size_t lower_bound(const struct sim_store *st, const char *key, bool inclusive)
{
	size_t lo = 0, hi = st->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(st->jobs[mid]->uuid, key);
		if (c < 0 || (!inclusive && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long store_find(const struct sim_store *st, const char *uuid)
{
	size_t i = lower_bound(st, uuid, true);
	if (i < st->n && strcmp(st->jobs[i]->uuid, uuid) == 0)
		return (long)i;
	return -1;
}

size_t store_after(const struct sim_store *st, const char *cursor)
{
	return lower_bound(st, cursor, false);
}

int store_insert(struct sim_store *st, struct sim_job *j)
{
	size_t i = lower_bound(st, j->uuid, true);
	if (i < st->n && strcmp(st->jobs[i]->uuid, j->uuid) == 0)
		return -EEXIST;
	if (!j->json) {
		int rc = job_refresh(j);
		if (rc)
			return rc;
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct sim_job **grown = realloc(st->jobs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		st->jobs = grown;
		st->cap = cap;
	}
	memmove(&st->jobs[i + 1], &st->jobs[i], (st->n - i) * sizeof(st->jobs[0]));
	st->jobs[i] = j;
	st->n++;
	return 0;
}

int store_append(struct sim_store *st, struct sim_job *j)
{
	if (!j->json) {
		int rc = job_refresh(j);
		if (rc)
			return rc;
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct sim_job **grown = realloc(st->jobs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		st->jobs = grown;
		st->cap = cap;
	}
	st->jobs[st->n++] = j;
	return 0;
}

static int uuid_order(const void *a, const void *b)
{
	return strcmp((*(struct sim_job *const *)a)->uuid, (*(struct sim_job *const *)b)->uuid);
}

void store_sort(struct sim_store *st)
{
	if (st->n == 0)
		return;
	qsort(st->jobs, st->n, sizeof(st->jobs[0]), uuid_order);
	size_t kept = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (kept && strcmp(st->jobs[kept - 1]->uuid, st->jobs[i]->uuid) == 0)
			job_free(st->jobs[i]); /* a duplicate uuid: the first one stays */
		else
			st->jobs[kept++] = st->jobs[i];
	}
	st->n = kept;
}

void store_remove_at(struct sim_store *st, size_t idx)
{
	job_free(st->jobs[idx]);
	memmove(&st->jobs[idx], &st->jobs[idx + 1], (st->n - idx - 1) * sizeof(st->jobs[0]));
	st->n--;
}

size_t store_expire(struct sim_store *st, int64_t now, int64_t expiry)
{
	size_t kept = 0, removed = 0;
	/* One compaction pass: O(n) however many go. */
	for (size_t i = 0; i < st->n; i++) {
		struct sim_job *j = st->jobs[i];
		if (j->expires && job_state_terminal(j->state) && j->end + expiry <= now) {
			job_free(j);
			removed++;
		} else {
			st->jobs[kept++] = j;
		}
	}
	st->n = kept;
	return removed;
}

int job_set_time(struct sim_job *j, const char *key, int64_t epoch, int utc_offset)
{
	char buf[64];
	int rc = jfs_isotime_format(epoch, utc_offset, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	json_object *v = json_object_new_string(buf);
	if (!v || json_object_object_add(j->rec, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int set_field(json_object *rec, const char *key, json_object *v)
{
	if (!v || json_object_object_add(rec, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* Remove key from rec and add it back at the end (json-c keeps insertion order). */
static int move_last(json_object *rec, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(rec, key, &v))
		return 0;
	json_object_get(v);
	json_object_object_del(rec, key);
	return set_field(rec, key, v);
}

int job_canonical_order(json_object *rec)
{
	static const char *const order[] = { "uuid", "description", "state", "message",
					     "code", "start_time", "end_time", "svm",
					     "node", "error" };
	json_object *tmp = json_object_new_object();
	if (!tmp)
		return -ENOMEM;
	/* Move the known fields out in order, then the unknown ones stay first: put them
	 * after by moving everything known back in, then _links. */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		json_object *v;
		if (json_object_object_get_ex(rec, order[i], &v)) {
			if (json_object_object_add(tmp, order[i], json_object_get(v)) != 0) {
				json_object_put(v);
				json_object_put(tmp);
				return -ENOMEM;
			}
			json_object_object_del(rec, order[i]);
		}
	}
	/* rec now holds the unknown fields (and _links); rebuild: known, unknown, _links. */
	json_object_object_foreach(rec, key, val)
	{
		if (strcmp(key, "_links") == 0)
			continue;
		if (json_object_object_add(tmp, key, json_object_get(val)) != 0) {
			json_object_put(val);
			json_object_put(tmp);
			return -ENOMEM;
		}
	}
	int rc = 0;
	json_object_object_foreach(tmp, k2, v2)
	{
		json_object_object_del(rec, k2);
		if (!rc)
			rc = set_field(rec, k2, json_object_get(v2));
	}
	json_object_put(tmp);
	if (!rc)
		rc = move_last(rec, "_links");
	return rc;
}

int job_put_state(struct sim_job *j, enum job_state st, const char *message, int64_t code,
		  int64_t end, int utc_offset)
{
	int rc;
	j->state = st;
	j->end = job_state_terminal(st) ? end : 0;
	rc = set_field(j->rec, "state", json_object_new_string(job_state_name(st)));
	if (!rc && message)
		rc = set_field(j->rec, "message", json_object_new_string(message));
	if (!rc)
		rc = set_field(j->rec, "code", json_object_new_int64(code));
	if (!rc && j->end)
		rc = job_set_time(j, "end_time", j->end, utc_offset);
	else if (!rc)
		json_object_object_del(j->rec, "end_time");
	return rc;
}

int job_set_state(struct sim_job *j, enum job_state st, const char *message, int64_t code,
		  int64_t end, int utc_offset)
{
	int rc = job_put_state(j, st, message, code, end, utc_offset);
	if (!rc)
		rc = job_canonical_order(j->rec);
	if (!rc)
		rc = job_refresh(j);
	return rc;
}
