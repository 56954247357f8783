//! Interoperability with the real librmr 4.9.4 (SI95): our endpoint against a C peer
//! (`tests/peer/peer.c`) linked with `librmr_si`, built once per test run from
//! `../shared/interop/rmr-4.9.4` under `target/tmp/`.
//!
//! Both directions: indications from the peer (several sizes up to 1 MiB, and one above
//! our maximum frame that must be skipped), control requests from us answered by the
//! peer's `rmr_rts_msg` with ack / failure, health checks both ways, and route tables
//! pushed by the peer acting as the routing manager, answered with table state, and a
//! blocking `rmr_mt_call` from the peer answered by our rts.
//!
//! Skips with a printed line when `../shared`, `cmake` or `cc` is absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use nf_rmr::frame::UNSET_SUBID;
use nf_rmr::{DropReason, Message, RmrConfig, RmrEndpoint, RouteTable, mtype};
use tokio::sync::mpsc;

const IND_SIZES: [usize; 6] = [0, 1, 100, 4096, 65536, 1_048_576];
const CTL_SIZES: [usize; 6] = [0, 10, 1000, 70_000, 1_000_000, 5];
const IND_MEID: &str = "gnb_001_001_0000019b";
const CTL_MEID: &str = "gnb-734-733-b01";

fn pattern(seed: i32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| ((seed as i64 * 31 + j as i64 * 7) & 0xff) as u8)
        .collect()
}

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop/rmr-4.9.4")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Builds librmr_si once per test run and compiles the peer against it; `None` (with
/// the reason printed) when the kit or the tools are absent.
fn peer_binary() -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if !kit().join("CMakeLists.txt").exists() {
            return Err(format!(
                "SKIP: {} absent (the interop kit in ../shared is needed)",
                kit().display()
            ));
        }
        for tool in ["cmake", "cc", "make"] {
            if !have(tool) {
                return Err(format!(
                    "SKIP: {tool} not installed (needed to build librmr)"
                ));
            }
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("librmr-4.9.4");
        if !dir.join("librmr_si.so").exists() {
            let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
            run(Command::new("cmake")
                .arg("-S")
                .arg(kit())
                .arg("-B")
                .arg(&tmp)
                .args(["-DBUILD_DOC=0", "-DDEV_PKG=1", "-DPACK_EXTERNALS=0"]))?;
            run(Command::new("make").arg("-C").arg(&tmp).arg("-j2"))?;
            // Another test process may have finished first: keep whichever is there.
            if std::fs::rename(&tmp, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        let inc = dir.join("include/rmr");
        std::fs::create_dir_all(&inc).map_err(|e| e.to_string())?;
        for h in ["rmr.h", "RIC_message_types.h"] {
            std::fs::copy(kit().join("src/rmr/common/include").join(h), inc.join(h))
                .map_err(|e| e.to_string())?;
        }
        let peer = dir.join(format!("peer-{}", std::process::id()));
        run(Command::new("cc")
            .args(["-O1", "-Wall", "-Wno-comment", "-Werror", "-std=gnu11"])
            .arg(format!("-I{}", dir.join("include").display()))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/peer.c"))
            .arg(format!("-L{}", dir.display()))
            .args(["-lrmr_si", "-lpthread", "-lm"])
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-o")
            .arg(&peer))?;
        Ok(peer)
    });
    match built {
        Ok(p) => Some(p.clone()),
        Err(e) if e.starts_with("SKIP") => {
            println!("{e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn next(rx: &mut mpsc::Receiver<Message>, what: &str) -> Message {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("endpoint closed waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_with_real_librmr_both_ways() {
    let Some(peer) = peer_binary() else { return };
    let cfg = RmrConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ctl_listen: Some("127.0.0.1:0".parse().expect("addr")),
        max_frame: 2 << 20,
        ..RmrConfig::default()
    };
    let (ep, mut rx) = RmrEndpoint::bind(cfg).await.expect("bind");
    let port = ep.local_addr().port();
    let ctl = ep.ctl_addr().expect("ctl port").port();
    let pport = free_port();
    ep.set_routes(
        RouteTable::parse(&format!(
            "newrt|start\nrte|12040|127.0.0.1:{pport}\nrte|100|127.0.0.1:{pport}\nnewrt|end\n"
        ))
        .expect("our routes"),
    );
    let dir = tempdir();
    let seed = dir.join("peer.rt");
    std::fs::write(
        &seed,
        format!(
            "newrt|start\nrte|12050|127.0.0.1:{port}\nrte|12010|127.0.0.1:{port}\nrte|100|127.0.0.1:{port}\nrte|20|127.0.0.1:{ctl}\nnewrt|end\n"
        ),
    )
    .expect("write peer routes");
    let child = Command::new(&peer)
        .arg(pport.to_string())
        .arg(ctl.to_string())
        .env("RMR_SEED_RT", &seed)
        .env("RMR_RTG_SVC", "-1")
        .env("RMR_LOG_VLEVEL", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the peer");
    let done = tokio::task::spawn_blocking(move || child.wait_with_output());

    // 1. Indications from librmr, in order, fields and payload intact.
    for (i, size) in IND_SIZES.iter().enumerate() {
        let m = next(&mut rx, "an indication").await;
        let sub = i as i32 + 1;
        assert_eq!(m.mtype, mtype::RIC_INDICATION);
        assert_eq!(
            m.sub_id, sub,
            "indication {i}: the oversize one (999) must be skipped"
        );
        assert_eq!(m.meid, IND_MEID);
        assert_eq!(&m.xid[..], format!("ind-{i}").as_bytes());
        assert_eq!(m.payload.len(), *size);
        assert!(
            m.payload[..] == pattern(sub, *size)[..],
            "indication {i} payload"
        );
        assert!(m.src.ends_with(&format!(":{pport}")), "src {:?}", m.src);
    }
    assert_eq!(ep.counters().dropped(DropReason::Oversize), 1);

    // 2. Control requests to librmr, answered by its rts; a health check to it.
    for (i, size) in CTL_SIZES.iter().enumerate() {
        let sub = 100 + i as i32;
        let msg = Message::new(mtype::RIC_CONTROL_REQ, pattern(sub, *size))
            .with_sub_id(sub)
            .with_meid(CTL_MEID)
            .with_xid(Bytes::from(format!("ctl-{i}")));
        ep.send(msg).expect("control request queued");
    }
    ep.send(Message::new(mtype::RIC_HEALTH_CHECK_REQ, &b"ping"[..]).with_xid(&b"hc-r"[..]))
        .expect("health check queued");
    let (mut answers, mut health) = (0, 0);
    while answers < CTL_SIZES.len() || health < 1 {
        let m = next(&mut rx, "a control answer").await;
        match m.mtype {
            mtype::RIC_HEALTH_CHECK_RESP => {
                assert_eq!(&m.xid[..], b"hc-r");
                health += 1;
            }
            mtype::RIC_CONTROL_ACK | mtype::RIC_CONTROL_FAILURE => {
                let i = (m.sub_id - 100) as usize;
                let want = if m.sub_id % 2 == 0 {
                    mtype::RIC_CONTROL_ACK
                } else {
                    mtype::RIC_CONTROL_FAILURE
                };
                assert_eq!(m.mtype, want, "answer {i}");
                assert_eq!(m.meid, CTL_MEID);
                assert_eq!(&m.xid[..], format!("ctl-{i}").as_bytes());
                assert!(
                    m.payload[..] == pattern(m.sub_id, CTL_SIZES[i])[..],
                    "answer {i} payload"
                );
                answers += 1;
            }
            other => panic!("unexpected message type {other}"),
        }
    }

    // 3-5. The peer checks our health-check answer and the table states itself.
    // 6. Its rmr_mt_call (a subscription request) is answered by our rts.
    let call = next(&mut rx, "the peer's rmr_mt_call").await;
    assert_eq!((call.mtype, call.sub_id), (mtype::RIC_SUB_REQ, 31));
    assert_eq!(
        call.flags & nf_rmr::frame::HFL_CALL_MSG,
        nf_rmr::frame::HFL_CALL_MSG
    );
    assert_eq!(call.d1.first(), Some(&2), "call id 2 in d1");
    assert!(call.payload[..] == pattern(31, 64)[..]);
    ep.rts(
        &call,
        Message::new(mtype::RIC_SUB_RESP, &b"sub-resp"[..]).with_sub_id(31),
    )
    .expect("rts queued");
    let out = tokio::time::timeout(Duration::from_secs(90), done)
        .await
        .expect("peer finished in time")
        .expect("join")
        .expect("peer output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "peer failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("peer: all steps passed"));
    assert!(stdout.contains("table state OK tbl-1"));
    assert!(stdout.contains("table state ERR tbl-2"));
    assert!(stdout.contains("call answered with 12011"));

    let routes = ep.routes();
    assert_eq!(
        routes.table_id(),
        Some("tbl-1"),
        "the refused table left tbl-1 active"
    );
    let me = format!("127.0.0.1:{pport}");
    assert_eq!(
        routes.destinations(999, 7, "").expect("mse entry"),
        vec![me.clone()]
    );
    assert!(
        routes.destinations(999, UNSET_SUBID, "").is_err(),
        "mse 999 only for sub_id 7"
    );
    assert_eq!(
        routes
            .destinations(mtype::RIC_CONTROL_REQ, 42, "")
            .expect("rte"),
        vec![me]
    );
    assert!(
        routes
            .entry(mtype::RIC_HEALTH_CHECK_REQ, UNSET_SUBID)
            .is_none(),
        "new table replaced the old"
    );
    let c = ep.counters();
    assert!(c.health_checks.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert_eq!(
        c.tables_refused.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(c.dropped(DropReason::BadFrame), 0);
    assert_eq!(c.dropped(DropReason::QueueFull), 0);
}

fn tempdir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rmr-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
