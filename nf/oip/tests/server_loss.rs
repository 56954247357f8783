//! A remote server that dies is reported as `unavailable`, at once, and never hangs the
//! caller: neither a call in flight when it dies (the model is slow, the deadline long), nor
//! the calls after, nor the start check. A server started again on the same port is used
//! again by the same client, which reconnects by itself.

mod common;

use std::time::{Duration, Instant};

use common::{contract, remote, rows};
use nf_oip::testserver::{Served, TestServer, python};

#[tokio::test]
async fn a_killed_server_is_unavailable_not_a_hang() {
    let Some(python) = python("nf-oip server loss").unwrap_or_else(|e| panic!("{e}")) else {
        return;
    };
    let models = [
        Served::forecaster("slice-prb-forecaster", &[]),
        Served::forecaster("slow-forecaster", &["delay_ms:3000"]),
    ];
    let mut server = TestServer::start(&python, &models, "server-loss-test").expect("start");
    server
        .wait_ready(common::START_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = server.endpoint.clone();
    let good = remote(&endpoint, "deadline_ms = 10000");
    let slow = remote(
        &endpoint,
        "model_name = \"slow-forecaster\"\ndeadline_ms = 10000",
    );
    good.check().await.unwrap_or_else(|e| panic!("{e}"));
    let input = rows(&contract(), 8, 5);
    good.infer(&input, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A call in flight (the slow model answers after 3 s) when the server is killed.
    let in_flight = slow.infer(&input, Duration::from_secs(10));
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.kill();
        Instant::now()
    };
    let (result, killed_at) = tokio::join!(in_flight, killer);
    let err = result.expect_err("the server died");
    println!("in flight when killed: {err}");
    let after_kill = killed_at.elapsed();
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert!(
        after_kill < Duration::from_secs(1),
        "reported {after_kill:?} after the kill"
    );

    // Calls after the death, and the start check, fail fast the same way.
    for _ in 0..3 {
        let started = Instant::now();
        let err = good
            .infer(&input, Duration::from_secs(10))
            .await
            .expect_err("no server");
        assert_eq!(err.kind(), "unavailable", "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let err = good.check().await.expect_err("no server");
    assert_eq!(err.kind(), "unavailable", "{err}");
    assert!(good.stats().failures("unavailable") >= 3);
    assert_eq!(slow.stats().failures("unavailable"), 1);

    // The server comes back on the same port: the same remote model reconnects by itself.
    let mut again =
        TestServer::start_on(&python, &models, "server-loss-test-again", server.grpc_port)
            .expect("start again");
    again
        .wait_ready(common::START_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    good.check().await.unwrap_or_else(|e| panic!("{e}"));
    let back = good
        .infer(&input, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("after the restart: {e}"));
    assert_eq!(back.rows, 8);
}
