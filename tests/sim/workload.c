/* The live workload: realistic jobs from a seeded PRNG (see workload.h). */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobsfs/log.h"
#include "sim.h"

uint64_t sim_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static long rand_range(uint64_t *st, long lo, long hi)
{
	return lo + (long)(sim_rand(st) % (uint64_t)(hi - lo + 1));
}

/* Uniform in [0, 1). */
static double rand_unit(uint64_t *st)
{
	return (double)(sim_rand(st) >> 11) / 9007199254740992.0;
}

void sim_uuid(uint64_t *state, char out[37])
{
	uint64_t hi = sim_rand(state), lo = sim_rand(state);
	hi = (hi & ~0xf000ULL) | 0x4000ULL;                          /* version 4 */
	lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;   /* variant 10 */
	snprintf(out, 37, "%08llx-%04llx-%04llx-%04llx-%012llx",
		 (unsigned long long)(hi >> 32), (unsigned long long)((hi >> 16) & 0xffff),
		 (unsigned long long)(hi & 0xffff), (unsigned long long)(lo >> 48),
		 (unsigned long long)(lo & 0xffffffffffffULL));
}

/* How jobs fail. %S svm, %V volume, %N snapshot, %n node. */
enum {
	OC_NOENT, OC_SNAP_LOCKED, OC_DUP_VOLUME, OC_AGGR_FULL, OC_NODE_DOWN, OC_MOVE_ABORTED,
	OC_SECURITY, OC_BACKUP_UPLOAD, OC_CANCELED, /* not drawn: PATCH ?action=cancel */
	N_OUTCOMES
};
static const struct outcome {
	long code;
	const char *message;
	const char *argument; /* error.arguments[0].message, NULL: none */
} outcomes[N_OUTCOMES] = {
	[OC_NOENT] = { 4, "entry doesn't exist", NULL },
	[OC_SNAP_LOCKED] = { 1638555,
	  "Snapshot copy \"%N\" of volume \"%V\" on Vserver \"%S\" has not expired or is locked. "
	  "Use the \"snapshot show -fields owners, expiry-time\" command to view the expiry "
	  "and lock status of the Snapshot copy.",
	  "%N" },
	[OC_DUP_VOLUME] = { 2432836, "Duplicate volume name \"%V\" in Vserver \"%S\".", "%V" },
	[OC_AGGR_FULL] = { 917927,
	  "Volume \u00ab%V\u00bb : l\u2019agr\u00e9gat \u201caggr_donn\u00e9es\u201d est plein "
	  "\u2014 r\u00e9essayez apr\u00e8s avoir lib\u00e9r\u00e9 de l'espace.",
	  "aggr_donn\u00e9es" },
	[OC_NODE_DOWN] = { 460770, "Job manager: the node \"%n\" became unavailable while the job "
				   "was running; the job did not complete.", "%n" },
	[OC_MOVE_ABORTED] = { 13001, "The \"volume move\" operation on \"%V\" was aborted because "
				     "the destination aggregate \"aggr2\" went offline.", NULL },
	[OC_SECURITY] = { 655698, "Failed to apply the security policy \"pol_%S\" to path "
				  "\"/vol/%V/projects\": the path does not exist.", "/vol/%V/projects" },
	[OC_BACKUP_UPLOAD] = { 39387137, "Failed to upload the configuration backup to "
					 "\"https://backup.example.com/ontap/\": connection timed out.",
	  NULL },
	[OC_CANCELED] = { 1, "Operation canceled by user request.", NULL },
};

#define OC(x) (1u << (x))
#define OC_ANY (OC(OC_NOENT) | OC(OC_NODE_DOWN))

/* What kinds of jobs a cluster runs. In descriptions %U is a uuid, %V a volume. */
static const struct job_template {
	const char *description;
	bool svm;            /* SVM-scoped: carries svm {name, uuid, _links} */
	bool can_pause, can_cancel;
	long min_s, max_s;   /* running time */
	const char *success; /* message on success */
	unsigned failures;   /* the outcomes this kind of job fails with */
} templates[] = {
	{ "PATCH /api/cluster", false, false, false, 1, 5, "success", OC_ANY },
	{ "Cluster Backup Job", false, false, true, 30, 240, "Complete: Successful [0]",
	  OC_ANY | OC(OC_BACKUP_UPLOAD) },
	{ "DELETE /api/storage/volumes/%U/snapshots/%U", true, false, false, 1, 10, "success",
	  OC_ANY | OC(OC_SNAP_LOCKED) },
	{ "File Directory Security Apply Job", true, false, true, 10, 180,
	  "Complete: Successful [0]", OC_ANY | OC(OC_SECURITY) },
	{ "Create %V", true, false, false, 2, 20, "Complete: Successful [0]",
	  OC_ANY | OC(OC_DUP_VOLUME) | OC(OC_AGGR_FULL) },
	{ "Vol Move", true, true, true, 60, 600, "Complete: Successful [0]",
	  OC_ANY | OC(OC_MOVE_ABORTED) | OC(OC_AGGR_FULL) },
	{ "Snapshot Delete", true, false, false, 1, 15, "Complete: Successful [0]",
	  OC_ANY | OC(OC_SNAP_LOCKED) },
	{ "POST /api/storage/volumes", true, false, false, 2, 30, "success",
	  OC_ANY | OC(OC_DUP_VOLUME) | OC(OC_AGGR_FULL) },
	{ "PATCH /api/storage/volumes/%U", true, false, false, 1, 20, "success", OC_ANY },
	{ "Volume Clone Split", true, true, true, 30, 300, "Complete: Successful [0]",
	  OC_ANY | OC(OC_AGGR_FULL) },
	{ "App Snapshot Job", true, false, false, 1, 30, "Complete: Successful", OC_ANY },
	{ "SnapMirror initialize", true, true, true, 20, 400, "Complete: Successful [0]",
	  OC_ANY | OC(OC_AGGR_FULL) },
};
#define N_TEMPLATES (sizeof(templates) / sizeof(templates[0]))

/* A template drawn from st: the quick jobs (at most a minute) three times as often as
 * the long ones, so that most jobs listed have finished, as on a real cluster. */
static const struct job_template *pick_template(uint64_t *st)
{
	unsigned total = 0;
	for (size_t i = 0; i < N_TEMPLATES; i++)
		total += templates[i].max_s <= 60 ? 3 : 1;
	unsigned pick = (unsigned)(sim_rand(st) % total);
	for (size_t i = 0; i < N_TEMPLATES; i++) {
		unsigned w = templates[i].max_s <= 60 ? 3 : 1;
		if (pick < w)
			return &templates[i];
		pick -= w;
	}
	return &templates[0];
}

/* A failure outcome of template t, drawn from st. */
static int draw_failure(const struct job_template *t, uint64_t *st)
{
	/* The failures typical of this kind of job are drawn three times as often. */
	int allowed[3 * N_OUTCOMES], n = 0;
	for (int i = 0; i < N_OUTCOMES; i++) {
		if (!(t->failures & OC(i)))
			continue;
		for (int w = (OC_ANY & OC(i)) ? 1 : 3; w > 0; w--)
			allowed[n++] = i;
	}
	return allowed[sim_rand(st) % (uint64_t)n];
}

static const char *const nodes[] = { "cluster1-01", "cluster1-02" };

/* The variable parts of one job, all from its own seed. */
struct job_vars {
	char volume[32], snapshot[64];
	const char *node_name, *svm_name;
	unsigned svm, node;
};

static void job_vars(const struct sim_workload *w, uint64_t seed, struct job_vars *v)
{
	uint64_t st = seed;
	unsigned svm = (unsigned)(sim_rand(&st) % 3);
	snprintf(v->volume, sizeof(v->volume), "vol%ld", rand_range(&st, 1, 400));
	snprintf(v->snapshot, sizeof(v->snapshot), "daily.2026-%02ld-%02ld_0010",
		 rand_range(&st, 1, 12), rand_range(&st, 1, 28));
	v->node = (unsigned)(sim_rand(&st) % 2);
	v->node_name = nodes[v->node];
	v->svm = svm;
	v->svm_name = w->svm_name[svm];
}

/* Expand %U %V %N %S %n in fmt. Returns a malloc'd string or NULL. */
static char *expand(const char *fmt, const struct job_vars *v, uint64_t *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	for (const char *p = fmt; *p; p++) {
		char u[37];
		if (*p != '%' || !p[1]) {
			fputc(*p, out);
			continue;
		}
		switch (*++p) {
		case 'U': sim_uuid(st, u); fputs(u, out); break;
		case 'V': fputs(v->volume, out); break;
		case 'N': fputs(v->snapshot, out); break;
		case 'S': fputs(v->svm_name, out); break;
		case 'n': fputs(v->node_name, out); break;
		default: fputc('%', out); fputc(*p, out); break;
		}
	}
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int add(json_object *o, const char *key, json_object *v)
{
	if (!v || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* {"self":{"href":"<prefix><id>"}} */
static json_object *href(const char *prefix, const char *id)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s%s", prefix, id);
	json_object *self = json_object_new_object(), *links = json_object_new_object();
	if (!self || !links || add(self, "href", json_object_new_string(buf)) ||
	    add(links, "self", self)) {
		json_object_put(self);
		json_object_put(links);
		return NULL;
	}
	return links;
}

/* The error block of a failed job: {code, message, arguments:[{code, message}]}. */
static json_object *error_block(const struct outcome *oc, const char *message,
				const struct job_vars *v, uint64_t *st)
{
	char code[24];
	json_object *e = json_object_new_object();
	snprintf(code, sizeof(code), "%ld", oc->code);
	if (!e || add(e, "code", json_object_new_string(code)) ||
	    add(e, "message", json_object_new_string(message)))
		goto fail;
	if (oc->argument) {
		char *arg = expand(oc->argument, v, st);
		json_object *args = json_object_new_array(), *a = json_object_new_object();
		if (!arg || !args || !a || add(a, "code", json_object_new_string(code)) ||
		    add(a, "message", json_object_new_string(arg)) ||
		    json_object_array_add(args, a) != 0 || add(e, "arguments", args)) {
			free(arg);
			json_object_put(a);
			json_object_put(args);
			goto fail;
		}
		free(arg);
	}
	return e;
fail:
	json_object_put(e);
	return NULL;
}

/* Move j to its planned state at now (caller holds the store's write lock). With
 * !publish (a record being built) the cached JSON is left for the caller to refresh. */
static int plan_apply(struct sim *s, struct sim_job *j, int64_t now, bool publish)
{
	int (*set_state)(struct sim_job *, enum job_state, const char *, int64_t, int64_t,
			 int) = publish ? job_set_state : job_put_state;
	struct job_plan *p = &j->plan;
	const int off = s->cfg.utc_offset;
	if (!p->active || p->held)
		return 0;
	if (now >= p->t_end) {
		uint64_t st = p->seed;
		struct job_vars v;
		int rc;
		const struct job_template *t = pick_template(&st);
		job_vars(&s->workload, p->seed, &v);
		p->active = false;
		if (p->outcome < 0)
			return set_state(j, JOB_SUCCESS, t->success, 0, p->t_end, off);
		const struct outcome *oc = &outcomes[p->outcome];
		char *msg = expand(oc->message, &v, &st);
		if (!msg)
			return -ENOMEM;
		/* Newer releases add the error block; some jobs come from older ones. */
		if (p->seed % 4 != 0) {
			json_object *e = error_block(oc, msg, &v, &st);
			if (!e || add(j->rec, "error", e)) {
				free(msg);
				return -ENOMEM;
			}
		}
		rc = set_state(j, JOB_FAILURE, msg, oc->code, p->t_end, off);
		free(msg);
		return rc;
	}
	enum job_state want = now < p->t_run ? JOB_QUEUED : JOB_RUNNING;
	if (p->t_pause && now >= p->t_pause && now < p->t_resume)
		want = JOB_PAUSED;
	if (want == j->state)
		return 0;
	static const char *const msgs[] = { [JOB_QUEUED] = "Queued", [JOB_RUNNING] = "Running",
					    [JOB_PAUSED] = "Paused" };
	return set_state(j, want, msgs[want], 0, 0, off);
}

/* A new workload job that arrived at `start`, moved to its state at now. */
static struct sim_job *make_job(struct sim *s, int64_t start, int64_t now)
{
	struct sim_workload *w = &s->workload;
	uint64_t seed = sim_rand(&w->rng);
	uint64_t st = seed;
	char uuid[37];
	struct job_vars v;

	const struct job_template *t = pick_template(&st);
	job_vars(w, seed, &v);
	sim_uuid(&w->rng, uuid);
	struct sim_job *j = job_new(uuid);
	if (!j)
		return NULL;
	j->start = start;
	j->can_pause = t->can_pause;
	j->can_cancel = t->can_cancel;

	struct job_plan *p = &j->plan;
	uint64_t pst = seed ^ 0x5bd1e995ULL; /* the schedule's own stream */
	p->active = true;
	p->seed = seed;
	p->t_run = start + rand_range(&pst, 0, 4);
	int64_t run = rand_range(&pst, t->min_s, t->max_s);
	p->t_end = p->t_run + run;
	if (t->can_pause && rand_unit(&pst) < 0.3) {
		p->t_pause = p->t_run + run / 2;
		p->t_resume = p->t_pause + rand_range(&pst, 10, 90);
		p->t_end += p->t_resume - p->t_pause;
	}
	p->outcome = rand_unit(&pst) < 0.8 ? -1 : draw_failure(t, &pst);

	char *desc = expand(t->description, &v, &st);
	int rc = desc ? 0 : -ENOMEM;
	if (!rc)
		rc = add(j->rec, "uuid", json_object_new_string(uuid));
	if (!rc)
		rc = add(j->rec, "description", json_object_new_string(desc));
	free(desc);
	if (!rc)
		rc = job_put_state(j, JOB_QUEUED, "Queued", 0, 0, s->cfg.utc_offset);
	if (!rc)
		rc = job_set_time(j, "start_time", start, s->cfg.utc_offset);
	/* svm and node objects are shared between jobs (see store.h). */
	if (!rc && t->svm)
		rc = add(j->rec, "svm", json_object_get(w->svm[v.svm]));
	if (!rc && seed % 3 != 0) /* node: newer releases */
		rc = add(j->rec, "node", json_object_get(w->node[v.node]));
	if (!rc)
		rc = plan_apply(s, j, now, false);
	if (!rc)
		rc = job_canonical_order(j->rec);
	if (!rc)
		rc = job_refresh(j);
	if (rc) {
		job_free(j);
		return NULL;
	}
	return j;
}

int workload_init(struct sim *s)
{
	struct sim_workload *w = &s->workload;
	static const char *const svms[] = { "vs0", "svm_nfs", "vs1" };

	w->rng = s->cfg.seed;
	w->rate = s->cfg.rate;
	for (int i = 0; i < 3; i++) {
		char uuid[37];
		snprintf(w->svm_name[i], sizeof(w->svm_name[i]), "%s", svms[i]);
		sim_uuid(&w->rng, uuid);
		json_object *svm = w->svm[i] = json_object_new_object();
		if (!svm || add(svm, "name", json_object_new_string(svms[i])) ||
		    add(svm, "uuid", json_object_new_string(uuid)) ||
		    add(svm, "_links", href("/api/svm/svms/", uuid)))
			return -ENOMEM;
	}
	for (int i = 0; i < 2; i++) {
		json_object *node = w->node[i] = json_object_new_object();
		if (!node || add(node, "name", json_object_new_string(nodes[i])))
			return -ENOMEM;
	}
	if (pthread_mutex_init(&w->wake_lock, NULL) || pthread_cond_init(&w->wake, NULL))
		return -ENOMEM;

	int64_t now = sim_now(s);
	w->next_arrival = (double)now;
	for (long i = 0; i < s->cfg.jobs; i++) {
		/* Spread over the last expiry window: most have finished by now. */
		int64_t start = now - (int64_t)(rand_unit(&w->rng) * (double)s->cfg.expiry);
		struct sim_job *j = make_job(s, start, now);
		if (!j)
			return -ENOMEM;
		if (store_append(&s->store, j)) {
			job_free(j);
			return -ENOMEM;
		}
	}
	store_sort(&s->store); /* after the fixture's jobs too */
	return 0;
}

/* Arrivals are capped so that a big clock advance at a high rate cannot make more
 * jobs than could still be listed, nor grow the store without bound. */
#define STORE_CAP 1000000
#define MAX_JOB_SECONDS 1200

static void arrivals(struct sim *s, int64_t now)
{
	struct sim_workload *w = &s->workload;
	if (w->rate <= 0) {
		w->next_arrival = (double)now;
		return;
	}
	double oldest = (double)(now - s->cfg.expiry - MAX_JOB_SECONDS);
	if (w->next_arrival < oldest)
		w->next_arrival = oldest;
	while (w->next_arrival <= (double)now && s->store.n < STORE_CAP) {
		struct sim_job *j = make_job(s, (int64_t)w->next_arrival, now);
		if (!j) {
			jfs_err("out of memory creating a job");
			break;
		}
		if (store_insert(&s->store, j) != 0)
			job_free(j);
		/* Poisson arrivals: exponential gaps. */
		w->next_arrival += -log(1.0 - rand_unit(&w->rng)) / w->rate;
	}
	if (w->next_arrival < (double)now)
		w->next_arrival = (double)now;
}

void workload_advance(struct sim *s)
{
	pthread_rwlock_wrlock(&s->store.lock);
	int64_t now = sim_now(s);
	if (!s->workload.paused) {
		arrivals(s, now);
		for (size_t i = 0; i < s->store.n; i++) {
			struct sim_job *j = s->store.jobs[i];
			if (j->plan.active && plan_apply(s, j, now, true) != 0)
				jfs_err("out of memory updating job %s", j->uuid);
		}
	} else {
		s->workload.next_arrival = (double)now;
	}
	store_expire(&s->store, now, s->cfg.expiry);
	pthread_rwlock_unlock(&s->store.lock);
}

static void *ticker_main(void *arg)
{
	struct sim *s = arg;
	struct sim_workload *w = &s->workload;
	pthread_mutex_lock(&w->wake_lock);
	while (!atomic_load(&s->stopping)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->wake, &w->wake_lock, &until);
		if (atomic_load(&s->stopping))
			break;
		pthread_mutex_unlock(&w->wake_lock);
		workload_advance(s);
		pthread_mutex_lock(&w->wake_lock);
	}
	pthread_mutex_unlock(&w->wake_lock);
	return NULL;
}

int workload_start(struct sim *s)
{
	int rc = pthread_create(&s->workload.ticker, NULL, ticker_main, s);
	if (rc)
		return -rc;
	s->workload.ticker_running = true;
	return 0;
}

void workload_stop(struct sim *s)
{
	struct sim_workload *w = &s->workload;
	if (!w->ticker_running)
		return;
	pthread_mutex_lock(&w->wake_lock);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->wake_lock);
	pthread_join(w->ticker, NULL);
	w->ticker_running = false;
}

void workload_destroy(struct sim *s)
{
	for (int i = 0; i < 3; i++)
		json_object_put(s->workload.svm[i]);
	for (int i = 0; i < 2; i++)
		json_object_put(s->workload.node[i]);
	pthread_cond_destroy(&s->workload.wake);
	pthread_mutex_destroy(&s->workload.wake_lock);
}

void workload_job_support(const char *description, bool *can_pause, bool *can_cancel)
{
	*can_pause = *can_cancel = true;
	for (size_t i = 0; i < N_TEMPLATES; i++) {
		if (strcmp(templates[i].description, description) == 0) {
			*can_pause = templates[i].can_pause;
			*can_cancel = templates[i].can_cancel;
		}
	}
}

long workload_action(struct sim *s, struct sim_job *j, const char *action,
		     const char **message)
{
	struct job_plan *p = &j->plan;
	const int off = s->cfg.utc_offset;
	int64_t now = sim_now(s);
	int rc = 0;

	if (job_state_terminal(j->state)) {
		*message = "The job has already completed and cannot be changed.";
		return 458762;
	}
	if (strcmp(action, "cancel") == 0) {
		if (!j->can_cancel) {
			*message = "This job does not support being canceled.";
			return 458784;
		}
		p->active = false;
		const struct outcome *oc = &outcomes[OC_CANCELED];
		rc = job_set_state(j, JOB_FAILURE, oc->message, oc->code, now, off);
	} else if (strcmp(action, "pause") == 0) {
		if (!j->can_pause) {
			*message = "This job does not support being paused.";
			return 458783;
		}
		if (j->state != JOB_RUNNING) {
			*message = "The job cannot be paused because it is not running.";
			return 458776;
		}
		p->held = true;
		p->held_since = now;
		rc = job_set_state(j, JOB_PAUSED, "Paused by user", 0, 0, off);
	} else { /* resume */
		if (!j->can_pause) {
			*message = "This job does not support being paused or resumed.";
			return 458783;
		}
		if (j->state != JOB_PAUSED) {
			*message = "The job cannot be resumed because it is already running.";
			return 458771;
		}
		if (p->held) {
			int64_t delta = now - p->held_since;
			p->held = false;
			if (p->t_run > p->held_since)
				p->t_run += delta;
			if (p->t_pause > p->held_since) {
				p->t_pause += delta;
				p->t_resume += delta;
			}
			p->t_end += delta;
		} else if (p->active && p->t_pause && now < p->t_resume) {
			p->t_end -= p->t_resume - now; /* the workload's own pause, cut short */
			p->t_resume = now;
		}
		rc = job_set_state(j, JOB_RUNNING, "Running", 0, 0, off);
	}
	if (rc) {
		*message = "Out of memory.";
		return 1;
	}
	return 0;
}
