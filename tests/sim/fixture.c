/* Fixture files and hostile records (see fixture.h). */
#include "fixture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jobsfs/isotime.h"
#include "jobsfs/log.h"

/* A job for rec (takes a reference on it). */
static int add_record(struct sim_store *st, json_object *rec, bool expires)
{
	json_object *v;
	if (!json_object_is_type(rec, json_type_object) ||
	    !json_object_object_get_ex(rec, "uuid", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -EINVAL;
	struct sim_job *j = job_new(json_object_get_string(v));
	if (!j)
		return -ENOMEM;
	json_object_put(j->rec);
	j->rec = json_object_get(rec);
	j->expires = expires;
	j->can_pause = j->can_cancel = true;
	j->state = JOB_RUNNING;
	if (json_object_object_get_ex(rec, "state", &v) && json_object_is_type(v, json_type_string))
		job_state_parse(json_object_get_string(v), &j->state);
	int64_t t;
	if (json_object_object_get_ex(rec, "start_time", &v) &&
	    jfs_isotime_parse(json_object_get_string(v), &t) == 0)
		j->start = t;
	if (json_object_object_get_ex(rec, "end_time", &v) &&
	    jfs_isotime_parse(json_object_get_string(v), &t) == 0)
		j->end = t;
	int rc = job_refresh(j);
	if (!rc)
		rc = store_insert(st, j);
	if (rc)
		job_free(j);
	return rc;
}

int fixture_load(struct sim_store *st, const char *path)
{
	json_object *root = json_object_from_file(path);
	if (!root) {
		jfs_err("fixture %s: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	json_object *records = root;
	if (json_object_is_type(root, json_type_object) &&
	    !json_object_object_get_ex(root, "records", &records))
		records = NULL;
	if (!records || !json_object_is_type(records, json_type_array)) {
		jfs_err("fixture %s: neither {\"records\":[...]} nor [...]", path);
		json_object_put(root);
		return -EINVAL;
	}
	int rc = 0;
	size_t n = json_object_array_length(records);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = add_record(st, json_object_array_get_idx(records, i), false);
		if (rc == -EINVAL || rc == -EEXIST)
			jfs_err("fixture %s: record %zu: %s", path, i,
				rc == -EINVAL ? "not an object with a string uuid" : "duplicate uuid");
	}
	json_object_put(root);
	return rc;
}

int fixture_hostile(struct sim_store *st)
{
	char longname[301];
	memset(longname, 'x', 300);
	longname[300] = '\0';
	const char *const uuids[] = { "a/b", "..", ".", "", longname, "../../etc" };
	for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
		char json[4096];
		/* Every other one also carries hostile field names. */
		snprintf(json, sizeof(json),
			 "{\"uuid\":\"%s\",\"description\":\"hostile record %zu\","
			 "\"state\":\"failure\",\"message\":\"name \\\"%s\\\"\",\"code\":4,"
			 "\"start_time\":\"2026-01-01T00:00:00+00:00\",%s"
			 "\"_links\":{\"self\":{\"href\":\"/api/cluster/jobs/%s\"}}}",
			 uuids[i], i, uuids[i],
			 i % 2 ? "\"a/b\":\"slash\",\"..\":\"dots\",\"\":\"empty\"," : "", uuids[i]);
		json_object *rec = json_tokener_parse(json);
		if (!rec)
			return -ENOMEM;
		int rc = add_record(st, rec, false);
		json_object_put(rec);
		if (rc)
			return rc;
	}
	return 0;
}
