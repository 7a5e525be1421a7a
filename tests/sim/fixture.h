/* Jobs from fixed data: a --fixture file, and the "hostile" fault's records. */
#ifndef ONTAP_SIM_FIXTURE_H
#define ONTAP_SIM_FIXTURE_H

#include "store.h"

/* Load the jobs of path ({"records":[...]} or [...]) into st, served as written and
 * never expiring. 0, or -errno with a message logged. */
int fixture_load(struct sim_store *st, const char *path);

/* Fill st with records whose uuids and some field names are hostile to a file
 * system: "a/b", "..", ".", "", a 300-byte name, "../../etc". 0 or -ENOMEM. */
int fixture_hostile(struct sim_store *st);

#endif
