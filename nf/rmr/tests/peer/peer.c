/*
 * Test peer for nf-rmr: a small program built against the real librmr (SI95) that plays
 * an E2 termination and a routing manager towards the Rust endpoint under test.
 *
 * usage: peer <listen-port> <rust-ctl-port>
 * env:   RMR_SEED_RT (routes 12050, 100 to the Rust data port, 20 to its control port),
 *        RMR_RTG_SVC=-1 (static routes only)
 *
 * Steps (each failure prints "peer: FAIL ..." and exits 1):
 *   1. send RIC_INDICATION (12050) with sub_id, meid, xid and payloads of several sizes,
 *      plus one payload above the Rust side's maximum frame (it must skip it);
 *   2. receive RIC_CONTROL_REQ (12040) messages, check them, answer each by rts with
 *      RIC_CONTROL_ACK (12041) or RIC_CONTROL_FAILURE (12042) echoing the payload;
 *      answer a health check request (100) by rts with 101;
 *   3. send a health check (100) and expect 101 back;
 *   4. push a route table (20) and expect table state (22) "OK tbl-1";
 *   5. push a table with a bad record and expect "ERR tbl-2 ...";
 *   6. send a RIC_SUB_REQ (12010) with rmr_mt_call (call id 2, an xid) and expect the
 *      Rust side's rts answer, RIC_SUB_RESP (12011), to wake the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rmr/rmr.h>
#include <rmr/RIC_message_types.h>

#define MAX_WAIT_MS 30000

static const int ind_sizes[] = { 0, 1, 100, 4096, 65536, 1048576 };
#define N_IND ((int) (sizeof(ind_sizes) / sizeof(ind_sizes[0])))
#define OVERSIZE_LEN (3 * 1048576)
#define N_CTL 6
static const char* IND_MEID = "gnb_001_001_0000019b";
static const char* CTL_MEID = "gnb-734-733-b01";

static void fail(const char* what) {
	printf("peer: FAIL %s\n", what);
	fflush(stdout);
	exit(1);
}

static unsigned char pattern(int seed, int j) {
	return (unsigned char) ((seed * 31 + j * 7) & 0xff);
}

static long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Sends by route, retrying while librmr is still connecting or the socket is busy. */
static rmr_mbuf_t* send_retry(void* ctx, rmr_mbuf_t* msg) {
	long deadline = now_ms() + 10000;
	int mtype = msg->mtype, sub = msg->sub_id, len = msg->len;
	for (;;) {
		msg = rmr_send_msg(ctx, msg);
		if (msg != NULL && msg->state == RMR_OK) {
			return msg;
		}
		if (msg == NULL || now_ms() > deadline) {
			printf("peer: FAIL send of type %d did not succeed within 10 s (state %d)\n",
				mtype, msg == NULL ? -1 : msg->state);
			exit(1);
		}
		/* a failed send hands the message back unchanged; keep its fields */
		msg->mtype = mtype;
		msg->sub_id = sub;
		msg->len = len;
		usleep(20000);
	}
}

static rmr_mbuf_t* make(void* ctx, int mtype, int sub_id, const char* meid, const char* xid, int size, int seed) {
	rmr_mbuf_t* m = rmr_alloc_msg(ctx, size > 0 ? size : 16);
	if (m == NULL) {
		fail("rmr_alloc_msg");
	}
	m->mtype = mtype;
	m->sub_id = sub_id;
	m->len = size;
	for (int j = 0; j < size; j++) {
		m->payload[j] = pattern(seed, j);
	}
	if (meid != NULL) {
		rmr_str2meid(m, (unsigned char const*) meid);
	}
	if (xid != NULL) {
		rmr_bytes2xact(m, (unsigned char const*) xid, (int) strlen(xid));
	}
	return m;
}

static void check_control(rmr_mbuf_t* m) {
	unsigned char meid[RMR_MAX_MEID + 1] = { 0 };
	char want_xid[RMR_MAX_XID + 1];
	int i = m->sub_id - 100;
	if (i < 0 || i >= N_CTL) {
		fail("control request with an unexpected sub_id");
	}
	rmr_get_meid(m, meid);
	if (strcmp((char*) meid, CTL_MEID) != 0) {
		fail("control request meid not preserved");
	}
	snprintf(want_xid, sizeof(want_xid), "ctl-%d", i);
	if (memcmp(m->xaction, want_xid, strlen(want_xid) + 1) != 0) {
		fail("control request xid not preserved");
	}
	for (int j = 0; j < m->len; j++) {
		if (m->payload[j] != pattern(m->sub_id, j)) {
			fail("control request payload differs");
		}
	}
}

/* Waits for a message of mtype; answers what the Rust side sends meanwhile. */
static rmr_mbuf_t* expect(void* ctx, rmr_mbuf_t* m, int mtype) {
	long deadline = now_ms() + MAX_WAIT_MS;
	while (now_ms() < deadline) {
		m = rmr_torcv_msg(ctx, m, 500);
		if (m != NULL && m->state == RMR_OK && m->mtype == mtype) {
			return m;
		}
	}
	printf("peer: FAIL no message of type %d\n", mtype);
	exit(1);
}

static void push_table(void* ctx, const char* text, const char* want_prefix) {
	int len = (int) strlen(text) + 1;
	rmr_mbuf_t* m = make(ctx, RMRRM_TABLE_DATA, -1, NULL, NULL, len, 0);
	memcpy(m->payload, text, len);
	m->len = len;
	m = send_retry(ctx, m);
	m = expect(ctx, m, RMRRM_TABLE_STATE);
	if (strncmp((char*) m->payload, want_prefix, strlen(want_prefix)) != 0) {
		printf("peer: FAIL table state %.*s, expected %s\n", m->len, m->payload, want_prefix);
		exit(1);
	}
	printf("peer: table state %.*s", m->len, m->payload);
	rmr_free_msg(m);
}

int main(int argc, char** argv) {
	char table[512];
	if (argc < 3) {
		fail("usage: peer <listen-port> <rust-ctl-port>");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	void* ctx = rmr_init(argv[1], 4096, RMRFL_MTCALL);
	if (ctx == NULL) {
		fail("rmr_init");
	}
	for (int w = 0; !rmr_ready(ctx); w++) {
		if (w > 200) {
			fail("route table never ready");
		}
		usleep(50000);
	}

	/* 1. indications, one of them too large for the Rust side */
	for (int i = 0; i < N_IND; i++) {
		char xid[32];
		snprintf(xid, sizeof(xid), "ind-%d", i);
		rmr_mbuf_t* m = make(ctx, RIC_INDICATION, i + 1, IND_MEID, xid, ind_sizes[i], i + 1);
		rmr_free_msg(send_retry(ctx, m));
		if (i == 2) {
			rmr_mbuf_t* big = make(ctx, RIC_INDICATION, 999, IND_MEID, "oversize", OVERSIZE_LEN, 999);
			rmr_free_msg(send_retry(ctx, big));
		}
	}
	printf("peer: sent %d indications and one oversize\n", N_IND);

	/* 2. control requests answered by rts, and the Rust side's health check */
	int controls = 0, health = 0;
	long deadline = now_ms() + MAX_WAIT_MS;
	rmr_mbuf_t* m = NULL;
	while ((controls < N_CTL || health < 1) && now_ms() < deadline) {
		m = rmr_torcv_msg(ctx, m, 500);
		if (m == NULL || m->state != RMR_OK) {
			continue;
		}
		if (m->mtype == RIC_CONTROL_REQ) {
			check_control(m);
			m->mtype = (m->sub_id % 2 == 0) ? RIC_CONTROL_ACK : RIC_CONTROL_FAILURE;
			m = rmr_rts_msg(ctx, m);
			if (m == NULL || m->state != RMR_OK) {
				fail("rts of a control answer");
			}
			controls++;
		} else if (m->mtype == RIC_HEALTH_CHECK_REQ) {
			m->mtype = RIC_HEALTH_CHECK_RESP;
			rmr_str2payload(m, (unsigned char const*) "OK\n");
			m = rmr_rts_msg(ctx, m);
			if (m == NULL || m->state != RMR_OK) {
				fail("rts of a health check answer");
			}
			health++;
		}
	}
	if (controls < N_CTL || health < 1) {
		printf("peer: FAIL got %d control requests and %d health checks\n", controls, health);
		return 1;
	}
	printf("peer: answered %d control requests and %d health check\n", controls, health);

	/* 3. our health check, answered automatically by the Rust endpoint */
	rmr_mbuf_t* hc = make(ctx, RIC_HEALTH_CHECK_REQ, -1, NULL, "hc-1", 3, 0);
	hc = send_retry(ctx, hc);
	hc = expect(ctx, hc, RIC_HEALTH_CHECK_RESP);
	if (memcmp(hc->xaction, "hc-1", 5) != 0) {
		fail("health check answer lost the xid");
	}
	printf("peer: health check answered\n");
	rmr_free_msg(hc);

	/* 4. a route table pushed as the routing manager does */
	snprintf(table, sizeof(table),
		"newrt|start|tbl-1\n"
		"rte|12040|127.0.0.1:%s\n"
		"mse|999|7|127.0.0.1:%s\n"
		"newrt|end|2\n", argv[1], argv[1]);
	push_table(ctx, table, "OK tbl-1");

	/* 5. a table with a bad record is refused and the previous one stays */
	push_table(ctx, "newrt|start|tbl-2\nrte|12040|no-port-here\nnewrt|end|1\n", "ERR tbl-2");

	/* 6. a blocking call answered by rts: the call id in d1 and the xid must come back */
	rmr_mbuf_t* call = make(ctx, RIC_SUB_REQ, 31, CTL_MEID, "call-xid-1", 64, 31);
	rmr_mbuf_t* resp = rmr_mt_call(ctx, call, 2, 10000);
	if (resp == NULL || resp->state != RMR_OK) {
		fail("rmr_mt_call got no answer");
	}
	if (resp->mtype != RIC_SUB_RESP || resp->sub_id != 31) {
		printf("peer: FAIL call answer mtype %d sub_id %d\n", resp->mtype, resp->sub_id);
		return 1;
	}
	printf("peer: call answered with %d\n", resp->mtype);
	rmr_free_msg(resp);

	printf("peer: all steps passed\n");
	rmr_close(ctx);
	return 0;
}
