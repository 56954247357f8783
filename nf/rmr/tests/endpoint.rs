//! The tokio endpoint over real loopback sockets: stalled and dead peers, reconnects,
//! health checks, hostile frames, the routing manager's table request and push.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use nf_rmr::frame::{self, TP_HDR_LEN};
use nf_rmr::{DropReason, Message, RmrConfig, RmrEndpoint, RouteTable, SendError, mtype};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

fn cfg() -> RmrConfig {
    RmrConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        reconnect_backoff: Duration::from_millis(100),
        ..RmrConfig::default()
    }
}

fn routes(lines: &str) -> RouteTable {
    RouteTable::parse(&format!("newrt|start\n{lines}\nnewrt|end\n")).expect("routes")
}

async fn recv(rx: &mut mpsc::Receiver<Message>) -> Message {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a message in time")
        .expect("endpoint open")
}

async fn read_frame(s: &mut TcpStream) -> Message {
    let mut head = [0u8; TP_HDR_LEN];
    s.read_exact(&mut head).await.expect("header");
    let len = frame::frame_len(&head, 1 << 20)
        .expect("length")
        .expect("complete");
    let mut f = vec![0u8; len];
    f[..TP_HDR_LEN].copy_from_slice(&head);
    s.read_exact(&mut f[TP_HDR_LEN..]).await.expect("body");
    frame::decode(&f, 1 << 20).expect("decodes")
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_peer_fills_only_its_own_queue() {
    // A peer that accepts and never reads.
    let stalled = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let stalled_addr = stalled.local_addr().expect("addr");
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = stalled.accept().await {
            held.push(s);
        }
    });
    let (good, mut good_rx) = RmrEndpoint::bind(cfg()).await.expect("bind good");
    let (ep, _rx) = RmrEndpoint::bind(RmrConfig {
        tx_queue: 4,
        ..cfg()
    })
    .await
    .expect("bind");
    ep.set_routes(routes(&format!(
        "rte|1|{stalled_addr}\nrte|2|{}",
        good.local_addr()
    )));
    let mut full = 0;
    for _ in 0..400 {
        match ep.send(Message::new(1, vec![0u8; 256 * 1024])) {
            Ok(()) => {}
            Err(SendError::QueueFull(_)) => full += 1,
            Err(e) => panic!("{e}"),
        }
        tokio::task::yield_now().await;
    }
    assert!(full > 0, "the stalled peer's queue must fill");
    assert_eq!(ep.counters().dropped(DropReason::QueueFull), full);
    ep.send(Message::new(2, &b"still flowing"[..]))
        .expect("other peer queued");
    let m = recv(&mut good_rx).await;
    assert_eq!((m.mtype, &m.payload[..]), (2, &b"still flowing"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_failure_is_counted_then_the_peer_is_reached_when_it_appears() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (ep, _rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    ep.set_routes(routes(&format!("rte|12040|127.0.0.1:{port}")));
    ep.send(Message::new(mtype::RIC_CONTROL_REQ, &b"lost"[..]))
        .expect("queued");
    let c = ep.counters();
    eventually("connect_failed counted", || {
        c.dropped(DropReason::ConnectFailed) >= 1
    })
    .await;

    let (_peer, mut peer_rx) = RmrEndpoint::bind(RmrConfig {
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        ..cfg()
    })
    .await
    .expect("bind the late peer");
    // Retry until the back-off has passed and the lazy connect succeeds.
    let got = tokio::time::timeout(WAIT, async {
        loop {
            ep.send(Message::new(mtype::RIC_CONTROL_REQ, &b"hello"[..]).with_sub_id(3))
                .expect("queued");
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(200), peer_rx.recv()).await
            {
                return m;
            }
        }
    })
    .await
    .expect("reached after the peer appeared");
    assert_eq!(
        (got.mtype, got.sub_id, &got.payload[..]),
        (12040, 3, &b"hello"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reconnected() {
    let (peer, mut peer_rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    let addr = peer.local_addr();
    let (ep, _rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    ep.set_routes(routes(&format!("rte|12040|{addr}")));
    ep.send(Message::new(12040, &b"one"[..])).expect("queued");
    assert_eq!(&recv(&mut peer_rx).await.payload[..], b"one");
    drop(peer);
    drop(peer_rx);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_peer2, mut peer2_rx) = RmrEndpoint::bind(RmrConfig {
        listen: addr,
        ..cfg()
    })
    .await
    .expect("rebind the same port");
    let got = tokio::time::timeout(WAIT, async {
        loop {
            ep.send(Message::new(12040, &b"two"[..])).expect("queued");
            if let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(200), peer2_rx.recv()).await
            {
                return m;
            }
        }
    })
    .await
    .expect("reconnected");
    assert_eq!(&got.payload[..], b"two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_are_answered_and_not_delivered() {
    let (ep, mut rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    let mut s = TcpStream::connect(ep.local_addr()).await.expect("connect");
    let mut hc = Message::new(mtype::RIC_HEALTH_CHECK_REQ, &b"ping"[..]).with_xid(&b"hc-42"[..]);
    hc.src = "probe:9".into();
    s.write_all(&frame::encode(&hc, 1 << 20).expect("encode"))
        .await
        .expect("write");
    let answer = read_frame(&mut s).await;
    assert_eq!(answer.mtype, mtype::RIC_HEALTH_CHECK_RESP);
    assert_eq!(&answer.xid[..], b"hc-42");
    assert_eq!(answer.src, ep.name());
    // A normal message on the same connection is delivered; the health check was not.
    s.write_all(&frame::encode(&Message::new(7, &b"x"[..]), 1 << 20).expect("encode"))
        .await
        .expect("write");
    assert_eq!(recv(&mut rx).await.mtype, 7);
    assert_eq!(ep.counters().health_checks.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rts_answers_on_the_connection_the_request_came_on() {
    let (ep, mut rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    let mut s = TcpStream::connect(ep.local_addr()).await.expect("connect");
    let mut req = Message::new(mtype::RIC_CONTROL_REQ, &b"req"[..])
        .with_sub_id(5)
        .with_xid(&b"call-1"[..]);
    req.src = "no-such-host:1".into();
    req.d1 = Bytes::from_static(&[9, 0, 0, 0]);
    req.flags = frame::HFL_CALL_MSG;
    s.write_all(&frame::encode(&req, 1 << 20).expect("encode"))
        .await
        .expect("write");
    let got = recv(&mut rx).await;
    ep.rts(
        &got,
        Message::new(mtype::RIC_CONTROL_ACK, &b"ack"[..]).with_sub_id(5),
    )
    .expect("rts queued");
    let back = read_frame(&mut s).await;
    assert_eq!(
        (back.mtype, back.sub_id, &back.payload[..]),
        (12041, 5, &b"ack"[..])
    );
    assert_eq!(&back.xid[..], b"call-1", "xid of the request kept");
    assert_eq!(&back.d1[..], &[9, 0, 0, 0], "call id kept for rmr_call");
    assert_eq!(back.flags & frame::HFL_CALL_MSG, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_are_counted_and_isolated() {
    let (ep, mut rx) = RmrEndpoint::bind(RmrConfig {
        max_frame: 4096,
        ..cfg()
    })
    .await
    .expect("bind");
    let c = ep.counters();
    // 1. A frame with a bad version: framing intact, dropped, the connection stays.
    let mut s = TcpStream::connect(ep.local_addr()).await.expect("connect");
    let mut bad = frame::encode(&Message::new(1, &b"v"[..]), 4096)
        .expect("encode")
        .to_vec();
    bad[TP_HDR_LEN + 11] = 9;
    s.write_all(&bad).await.expect("write");
    // 2. An oversize frame: skipped without being stored, the connection stays.
    let big = frame::encode(&Message::new(2, vec![1u8; 10_000]), 1 << 20).expect("encode");
    s.write_all(&big).await.expect("write");
    s.write_all(&frame::encode(&Message::new(3, &b"ok"[..]), 4096).expect("encode"))
        .await
        .expect("write");
    let m = recv(&mut rx).await;
    assert_eq!((m.mtype, &m.payload[..]), (3, &b"ok"[..]));
    assert_eq!(c.dropped(DropReason::BadFrame), 1);
    assert_eq!(c.dropped(DropReason::Oversize), 1);
    // 3. A length claiming 4 GiB on another connection: refused before any allocation,
    //    that connection is closed, the first one still works.
    let mut h = TcpStream::connect(ep.local_addr()).await.expect("connect");
    let mut head = [0u8; TP_HDR_LEN];
    head[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    h.write_all(&head).await.expect("write");
    eventually("oversize counted", || c.dropped(DropReason::Oversize) == 2).await;
    // 4. A length below the headers: framing lost, connection closed.
    let mut t = TcpStream::connect(ep.local_addr()).await.expect("connect");
    head[..4].copy_from_slice(&10u32.to_le_bytes());
    t.write_all(&head).await.expect("write");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(WAIT, t.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0) | Err(_)), "connection closed");
    assert_eq!(c.dropped(DropReason::BadFrame), 2);
    s.write_all(&frame::encode(&Message::new(4, &b"still"[..]), 4096).expect("encode"))
        .await
        .expect("write");
    assert_eq!(recv(&mut rx).await.mtype, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_refused_and_counted() {
    let (ep, _rx) = RmrEndpoint::bind(cfg()).await.expect("bind");
    let e = ep
        .send(Message::new(12040, Bytes::new()))
        .expect_err("no table");
    assert_eq!(e.kind(), "no_route");
    let e = ep
        .send(Message::new(12040, Bytes::new()).with_meid("m".repeat(40)))
        .expect_err("no table first");
    assert_eq!(e.kind(), "no_route");
    ep.set_routes(routes("rte|12040|127.0.0.1:9"));
    let e = ep
        .send(Message::new(12040, Bytes::new()).with_meid("m".repeat(40)))
        .expect_err("meid too long");
    assert_eq!(e.kind(), "bad_message");
    assert_eq!(ep.counters().dropped(DropReason::NoRoute), 2);
    assert_eq!(ep.counters().dropped(DropReason::BadMessage), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_table_from_the_routing_manager_and_applies_the_push() {
    let rtmgr = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (ep, _rx) = RmrEndpoint::bind(RmrConfig {
        rtmgr: Some(rtmgr.local_addr().expect("addr").to_string()),
        rtreq_interval: Duration::from_millis(200),
        ..cfg()
    })
    .await
    .expect("bind");
    let (mut s, _) = tokio::time::timeout(WAIT, rtmgr.accept())
        .await
        .expect("the endpoint connects")
        .expect("accept");
    let req = read_frame(&mut s).await;
    assert_eq!(req.mtype, mtype::RMRRM_REQ_TABLE);
    let text = String::from_utf8_lossy(&req.payload).into_owned();
    assert!(text.starts_with(&format!("{} ts=", ep.name())), "{text:?}");
    // The table comes back on the same connection, split over two messages.
    let parts = [
        "newrt|start|rt-7\nrte|12040|e2t:38000\n",
        "rte|12010|submgr:4560\nnewrt|end|2\n",
    ];
    for p in parts {
        s.write_all(
            &frame::encode(
                &Message::new(mtype::RMRRM_TABLE_DATA, p.as_bytes().to_vec()),
                1 << 20,
            )
            .expect("encode"),
        )
        .await
        .expect("write");
    }
    let state = loop {
        let m = read_frame(&mut s).await;
        if m.mtype == mtype::RMRRM_TABLE_STATE {
            break m;
        }
        assert_eq!(
            m.mtype,
            mtype::RMRRM_REQ_TABLE,
            "only requests before the state"
        );
    };
    assert!(
        state.payload.starts_with(b"OK rt-7\n"),
        "{:?}",
        state.payload
    );
    let t = ep.routes();
    assert_eq!(t.table_id(), Some("rt-7"));
    assert_eq!(
        t.destinations(12010, -1, "").expect("route"),
        vec!["submgr:4560"]
    );
    // Requests stop once a table arrived.
    let requests_after = tokio::time::timeout(Duration::from_millis(700), read_frame(&mut s)).await;
    assert!(requests_after.is_err(), "no further table request");
}
