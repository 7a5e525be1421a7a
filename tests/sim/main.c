/* ontap-sim: a simulated ONTAP cluster serving /api/cluster/jobs (see
 * tests/sim/README.md). main parses the command line,
 * builds the cluster, serves until SIGTERM/SIGINT and frees everything. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobsfs/isotime.h"
#include "jobsfs/log.h"
#include "fixture.h"
#include "server.h"
#include "sim.h"

int64_t sim_now(const struct sim *s)
{
	return (int64_t)time(NULL) + atomic_load(&s->skew);
}

bool sim_sleep_ms(const struct sim *s, long ms)
{
	while (ms > 0) {
		if (atomic_load(&s->stopping))
			return false;
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = slice * 1000000L };
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !atomic_load(&s->stopping);
}

static void usage(FILE *out)
{
	fputs("usage: ontap-sim [options]\n"
	      "  --port N               port to listen on (0: a free one; default 0)\n"
	      "  --bind ADDR            address (default 127.0.0.1)\n"
	      "  --jobs N               jobs at start, spread over the last expiry window\n"
	      "  --rate R               new jobs per second (default 0)\n"
	      "  --seed S               PRNG seed (default 1)\n"
	      "  --expiry S             seconds finished jobs stay listed (default 300)\n"
	      "  --utc-offset +HH:MM    offset of the cluster's times (default +00:00)\n"
	      "  --clock-skew S         the cluster's clock = host clock + S\n"
	      "  --user NAME --password-file F   require HTTP Basic auth on /api\n"
	      "  --tls-cert F --tls-key F        serve HTTPS\n"
	      "  --fixture FILE         serve the jobs of FILE ({\"records\":[...]} or [...])\n"
	      "  --fault SPEC           faults from the start (see README)\n"
	      "  --max-records-default N   page size without max_records (default 10000)\n"
	      "  -h, --help\n"
	      "The base URL is printed as the first line on stdout once it accepts.\n",
	      out);
}

/* The whole file, NUL-terminated, or NULL (message logged). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		jfs_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	char *data = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&data, &len);
	char chunk[4096];
	size_t n;
	while (out && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, out);
	bool failed = ferror(f) || !out;
	fclose(f);
	if (out && fclose(out) != 0)
		failed = true;
	if (failed) {
		jfs_err("%s: cannot read", path);
		free(data);
		return NULL;
	}
	return data;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_seed(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return false;
	*out = v;
	return true;
}

enum { OPT_PORT = 256, OPT_BIND, OPT_JOBS, OPT_RATE, OPT_SEED, OPT_EXPIRY, OPT_OFFSET,
       OPT_SKEW, OPT_USER, OPT_PASSFILE, OPT_CERT, OPT_KEY, OPT_FIXTURE, OPT_FAULT,
       OPT_MAXREC };

/* Fill cfg from argv. 0, 1 (help shown) or -1 (error shown). */
static int parse_args(int argc, char **argv, struct sim_config *cfg)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, OPT_PORT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "expiry", required_argument, NULL, OPT_EXPIRY },
		{ "utc-offset", required_argument, NULL, OPT_OFFSET },
		{ "clock-skew", required_argument, NULL, OPT_SKEW },
		{ "user", required_argument, NULL, OPT_USER },
		{ "password-file", required_argument, NULL, OPT_PASSFILE },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY },
		{ "fixture", required_argument, NULL, OPT_FIXTURE },
		{ "fault", required_argument, NULL, OPT_FAULT },
		{ "max-records-default", required_argument, NULL, OPT_MAXREC },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *cert = NULL, *key = NULL;
	double v;
	int c;

	cfg->bind = "127.0.0.1";
	cfg->seed = 1;
	cfg->expiry = 300;
	cfg->max_records_default = 10000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case OPT_PORT: ok = parse_num(optarg, 0, 65535, &v); cfg->port = (unsigned)v; break;
		case OPT_BIND: cfg->bind = optarg; break;
		case OPT_JOBS: ok = parse_num(optarg, 0, 1e7, &v); cfg->jobs = (long)v; break;
		case OPT_RATE: ok = parse_num(optarg, 0, 1e5, &cfg->rate); break;
		case OPT_SEED: ok = parse_seed(optarg, &cfg->seed); break;
		case OPT_EXPIRY: ok = parse_num(optarg, 0, 1e9, &v); cfg->expiry = (int64_t)v; break;
		case OPT_OFFSET: ok = jfs_utc_offset_parse(optarg, &cfg->utc_offset) == 0; break;
		case OPT_SKEW: ok = parse_num(optarg, -1e10, 1e10, &v); cfg->skew = (int64_t)v; break;
		case OPT_USER: cfg->user = optarg; break;
		case OPT_PASSFILE: passfile = optarg; break;
		case OPT_CERT: cert = optarg; break;
		case OPT_KEY: key = optarg; break;
		case OPT_FIXTURE: cfg->fixture = optarg; break;
		case OPT_FAULT: cfg->fault_spec = optarg; break;
		case OPT_MAXREC:
			ok = parse_num(optarg, 1, 1e9, &v);
			cfg->max_records_default = (long)v;
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
		if (!ok) {
			fprintf(stderr, "ontap-sim: bad value \"%s\" for --%s\n", optarg,
				opts[c - OPT_PORT].name);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ontap-sim: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (!!cfg->user != !!passfile || !!cert != !!key) {
		fprintf(stderr, "ontap-sim: --user needs --password-file, --tls-cert needs "
				"--tls-key (and the other way round)\n");
		return -1;
	}
	if (passfile) {
		if (!(cfg->password = slurp(passfile)))
			return -1;
		cfg->password[strcspn(cfg->password, "\r\n")] = '\0'; /* the first line */
	}
	if (cert && (!(cfg->tls_cert = slurp(cert)) || !(cfg->tls_key = slurp(key))))
		return -1;
	return 0;
}

static void config_free(struct sim_config *cfg)
{
	free(cfg->password);
	free(cfg->tls_cert);
	free(cfg->tls_key);
}

int main(int argc, char **argv)
{
	static struct sim sim; /* large; shared by every thread through pointers */
	struct sim *s = &sim;
	struct MHD_Daemon *daemon = NULL;
	char url[256], err[256];
	int rc, status = 1;
	bool store_ok = false, hostile_ok = false, faults_ok = false, counters_ok = false,
	     workload_ok = false;

	jfs_log_init("ontap-sim", JFS_LOG_WARN, JFS_LOG_STDERR);
	rc = parse_args(argc, argv, &s->cfg);
	if (rc) {
		config_free(&s->cfg);
		return rc > 0 ? 0 : 2;
	}
	atomic_store(&s->skew, s->cfg.skew);

	/* Signals go to main's sigwait only: every thread inherits this mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = store_init(&s->store)) || !(store_ok = true) ||
	    (rc = store_init(&s->hostile)) || !(hostile_ok = true) ||
	    (rc = faults_init(&s->faults)) || !(faults_ok = true) ||
	    (rc = counters_init(&s->counters)) || !(counters_ok = true)) {
		jfs_err("initialization failed: %s", strerror(-rc));
		goto out;
	}
	if ((rc = fixture_hostile(&s->hostile))) {
		jfs_err("hostile records: %s", strerror(-rc));
		goto out;
	}
	if (s->cfg.fixture && fixture_load(&s->store, s->cfg.fixture))
		goto out;
	rc = workload_init(s);
	workload_ok = true;
	if (rc) {
		jfs_err("workload: %s", strerror(-rc));
		goto out;
	}
	if (s->cfg.fault_spec && faults_set(&s->faults, s->cfg.fault_spec, err, sizeof(err))) {
		fprintf(stderr, "ontap-sim: --fault: %s\n", err);
		goto out;
	}
	if ((rc = server_start(s, &daemon, url, sizeof(url)))) {
		jfs_err("cannot listen on %s:%u", s->cfg.bind, s->cfg.port);
		goto out;
	}
	if ((rc = workload_start(s))) {
		jfs_err("ticker: %s", strerror(-rc));
		goto out;
	}
	printf("%s\n", url);
	fflush(stdout);

	int sig;
	while (sigwait(&sigs, &sig) != 0)
		;
	jfs_info("signal %d: shutting down", sig);
	status = 0;
out:
	atomic_store(&s->stopping, true);
	if (workload_ok)
		workload_stop(s); /* also ends stalls and sleeps in connection threads */
	server_stop(daemon);
	if (workload_ok)
		workload_destroy(s);
	if (counters_ok)
		counters_destroy(&s->counters);
	if (faults_ok)
		faults_destroy(&s->faults);
	if (hostile_ok)
		store_destroy(&s->hostile);
	if (store_ok)
		store_destroy(&s->store);
	config_free(&s->cfg);
	return status;
}
