/*
 * A minimal xApp built against the real librmr (SI95), for testbed/tests/osc_ric.rs: it
 * receives the simulator's indications and sends it one control, printing what it got so
 * that the Rust test can decode the APER payloads.
 *
 * usage: xapp <listen-port> <indications> <meid> <control-payload-hex>
 * env:   RMR_SEED_RT (a route for 12040 to the simulator's E2 termination),
 *        RMR_RTG_SVC=-1 (static routes only)
 *
 * Prints "ready" once librmr has its route table, then one line per indication
 * "ind <sub_id> <meid> <payload-hex>", then sends the control (12040, meid from argv) and
 * prints the answer "ans <mtype> <sub_id> <meid> <payload-hex>". Any failure prints
 * "xapp: FAIL <what>" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rmr/rmr.h>
#include <rmr/RIC_message_types.h>

#define WAIT_MS 30000

static void fail(const char* what) {
	printf("xapp: FAIL %s\n", what);
	fflush(stdout);
	exit(1);
}

static void print_msg(const char* tag, rmr_mbuf_t* m) {
	unsigned char meid[RMR_MAX_MEID + 1] = { 0 };
	rmr_get_meid(m, meid);
	printf("%s %d %d %s ", tag, m->mtype, m->sub_id, meid[0] ? (char*) meid : "-");
	for (int i = 0; i < m->len; i++) {
		printf("%02x", m->payload[i]);
	}
	printf("\n");
	fflush(stdout);
}

/* Waits up to WAIT_MS for a message of one of the two types. */
static rmr_mbuf_t* wait_for(void* ctx, rmr_mbuf_t* m, int a, int b) {
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		m = rmr_torcv_msg(ctx, m, 100);
		if (m != NULL && m->state == RMR_OK && (m->mtype == a || m->mtype == b)) {
			return m;
		}
	}
	return NULL;
}

int main(int argc, char** argv) {
	if (argc < 5) {
		fail("usage: xapp <listen-port> <indications> <meid> <control-payload-hex>");
	}
	int want = atoi(argv[2]);
	const char* hex = argv[4];
	int ctl_len = (int) strlen(hex) / 2;
	void* ctx = rmr_init(argv[1], 1 << 20, RMRFL_NONE);
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
	for (int got = 0; got < want; got++) {
		m = wait_for(ctx, m, RIC_INDICATION, RIC_INDICATION);
		if (m == NULL) {
			fail("no indication");
		}
		print_msg("ind", m);
	}
	rmr_mbuf_t* c = rmr_alloc_msg(ctx, ctl_len + 1);
	c->mtype = RIC_CONTROL_REQ;
	c->sub_id = RMR_VOID_SUBID;
	c->len = ctl_len;
	for (int i = 0; i < ctl_len; i++) {
		unsigned int byte;
		sscanf(hex + 2 * i, "%2x", &byte);
		c->payload[i] = (unsigned char) byte;
	}
	rmr_str2meid(c, (unsigned char*) argv[3]);
	c = rmr_send_msg(ctx, c);
	if (c == NULL || c->state != RMR_OK) {
		fail("rmr_send_msg of the control");
	}
	m = wait_for(ctx, m, RIC_CONTROL_ACK, RIC_CONTROL_FAILURE);
	if (m == NULL) {
		fail("no control answer");
	}
	print_msg("ans", m);
	rmr_close(ctx);
	return 0;
}
