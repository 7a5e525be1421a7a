/* Helpers shared by the Check unit tests (see check_helpers.h). */
#include "check_helpers.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int sim_available(void)
{
	const char *path = getenv("ONTAP_SIM");
	return path && *path && access(path, X_OK) == 0;
}

int sim_start(struct sim *s, const char *const extra_args[])
{
	const char *path = getenv("ONTAP_SIM");
	const char *argv[64];
	size_t n = 0;
	int fds[2];

	memset(s, 0, sizeof(*s));
	if (!sim_available()) {
		fprintf(stderr, "ontap-sim not available (ONTAP_SIM=%s)\n", path ? path : "");
		return -1;
	}
	argv[n++] = path;
	argv[n++] = "--port";
	argv[n++] = "0";
	for (size_t i = 0; extra_args && extra_args[i] && n < 63; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;

	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	s->pid = pid;

	/* The first line on stdout is the base URL, printed once it accepts. */
	FILE *out = fdopen(fds[0], "r");
	if (!out || !fgets(s->url, sizeof(s->url), out)) {
		fprintf(stderr, "ontap-sim printed no URL\n");
		if (out)
			fclose(out);
		sim_stop(s);
		return -1;
	}
	fclose(out);
	s->url[strcspn(s->url, "\r\n")] = '\0';
	return 0;
}

void sim_stop(struct sim *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		int status;
		for (int i = 0; i < 50; i++) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = 0;
				return;
			}
			usleep(100 * 1000);
		}
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		s->pid = 0;
	}
}

struct buf {
	char *data;
	size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->len += n;
	grown[b->len] = '\0';
	b->data = grown;
	return n;
}

long sim_request(const struct sim *s, const char *method, const char *path,
		 const char *body, char **resp)
{
	char url[4096];
	struct buf b = { 0 };
	long status = -1;
	CURL *h = curl_easy_init();

	if (!h)
		return -1;
	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (resp)
		*resp = b.data ? b.data : strdup("");
	else
		free(b.data);
	return status;
}

char *testdata_read(const char *name, size_t *len)
{
	const char *dir = getenv("JOBSFS_TESTDATA");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *grown = realloc(data, cap);
			if (!grown) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = grown;
		}
		size_t got = fread(data + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}
