/*
 * The RMR side of an O-RAN SC A1 mediator, on the real librmr (SI95), for
 * xapps/slice-sched/tests/a1_policy.rs. It waits for the xApp's A1_POLICY_QUERY (20012),
 * then does what the mediator does for a query: sends one A1_POLICY_REQ (20010, sub_id =
 * the policy type, routed by an mse entry) per request body given on the command line, and
 * reads one A1_POLICY_RESP (20011) per request.
 *
 * usage: a1_mediator <listen-port> <policy-type-id> <request-json>...
 * env:   RMR_SEED_RT (mse|20010|<policy-type-id>|<xapp>), RMR_RTG_SVC=-1
 *
 * Prints "ready" once librmr has its route table, "query <payload>" for the query, then
 * "resp <payload>" for each response. Any failure prints "a1_mediator: FAIL <what>" and
 * exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmr/rmr.h>
#include <rmr/RIC_message_types.h>

#define WAIT_MS 30000

static void fail(const char* what) {
	printf("a1_mediator: FAIL %s\n", what);
	fflush(stdout);
	exit(1);
}

static void print_payload(const char* tag, rmr_mbuf_t* m) {
	printf("%s %.*s\n", tag, m->len, (const char*) m->payload);
	fflush(stdout);
}

/* Waits up to WAIT_MS for a message of type `want`. */
static rmr_mbuf_t* wait_for(void* ctx, rmr_mbuf_t* m, int want) {
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		m = rmr_torcv_msg(ctx, m, 100);
		if (m != NULL && m->state == RMR_OK && m->mtype == want) {
			return m;
		}
	}
	return NULL;
}

/* Sends one A1_POLICY_REQ, retrying while librmr says to. */
static void send_request(void* ctx, const char* body, int policy_type) {
	int len = (int) strlen(body);
	rmr_mbuf_t* s = rmr_alloc_msg(ctx, len + 1);
	for (int tries = 0; tries < 50; tries++) {
		memcpy(s->payload, body, len);
		s->len = len;
		s->mtype = A1_POLICY_REQ;
		s->sub_id = policy_type;
		s = rmr_send_msg(ctx, s);
		if (s != NULL && s->state == RMR_OK) {
			rmr_free_msg(s);
			return;
		}
		if (s == NULL || (s->state != RMR_ERR_RETRY && errno != EAGAIN)) {
			break;
		}
		usleep(100000);
	}
	fail("rmr_send_msg of A1_POLICY_REQ");
}

int main(int argc, char** argv) {
	if (argc < 4) {
		fail("usage: a1_mediator <listen-port> <policy-type-id> <request-json>...");
	}
	int policy_type = atoi(argv[2]);
	void* ctx = rmr_init(argv[1], 1 << 16, RMRFL_NONE);
	if (ctx == NULL) {
		fail("rmr_init");
	}
	for (int i = 0; i < 300 && !rmr_ready(ctx); i++) {
		usleep(100000);
	}
	if (!rmr_ready(ctx)) {
		fail("route table never loaded");
	}
	printf("ready\n");
	fflush(stdout);
	rmr_mbuf_t* m = rmr_alloc_msg(ctx, 4096);
	m = wait_for(ctx, m, A1_POLICY_QUERY);
	if (m == NULL) {
		fail("no A1_POLICY_QUERY");
	}
	print_payload("query", m);
	for (int i = 3; i < argc; i++) {
		send_request(ctx, argv[i], policy_type);
		m = wait_for(ctx, m, A1_POLICY_RESP);
		if (m == NULL) {
			fail("no A1_POLICY_RESP");
		}
		print_payload("resp", m);
	}
	rmr_close(ctx);
	return 0;
}
