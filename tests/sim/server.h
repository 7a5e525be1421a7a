/* The HTTP side of ontap-sim: the libmicrohttpd daemon, request dispatch, the /api
 * endpoints of the cluster, and the reply helpers the control API shares. */
#ifndef ONTAP_SIM_SERVER_H
#define ONTAP_SIM_SERVER_H

#include <stddef.h>

#include <json-c/json.h>
#include <microhttpd.h>

struct sim;

/* Start listening (thread per connection). On success *out is the daemon and url the
 * base URL (http[s]://ADDR:PORT). 0 or -errno. */
int server_start(struct sim *s, struct MHD_Daemon **out, char *url, size_t url_len);
void server_stop(struct MHD_Daemon *d);

/* Queue a reply with the cluster's headers (Content-Type application/hal+json, Date
 * from the sim's clock, Server, Cache-Control). Takes ownership of the malloc'd body. */
enum MHD_Result sim_reply(struct sim *s, struct MHD_Connection *conn, unsigned status,
			  char *body, size_t len);
/* Reply with obj serialized (obj is not consumed); NULL obj: empty body. */
enum MHD_Result sim_reply_json(struct sim *s, struct MHD_Connection *conn, unsigned status,
			       json_object *obj);
/* Reply {"error":{"message","code","target"}} (target NULL: none). */
enum MHD_Result sim_reply_error(struct sim *s, struct MHD_Connection *conn, unsigned status,
				const char *code, const char *message, const char *target);

#endif
