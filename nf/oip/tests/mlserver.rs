//! The Open Inference Protocol client against a real server: MLServer (pinned, from PyPI)
//! serving the shipped forecaster through onnxruntime on loopback, started once for this
//! file with four models of the same ONNX file:
//!
//! - `slice-prb-forecaster` 2.0.0: well behaved;
//! - `slow-forecaster`: answers after 400 ms;
//! - `nan-forecaster`: its first output value is NaN;
//! - `short-forecaster`: drops the last row of its output.
//!
//! Without python3 (and its venv module) every test prints `SKIPPED:` and passes, unless
//! `AIRAN_REQUIRE_OIP_TESTS=1`.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{config, contract, local_model, local_outputs, max_abs_diff, remote, rows};
use nf_oip::testserver::{Served, TestServer, python};
use nf_oip::{OipError, RemoteModel};

/// The shared server's endpoint, or `None` to skip. The server stays up for the whole
/// test binary and exits with it (its standard input closes).
fn server(test: &str) -> Option<&'static str> {
    static SERVER: OnceLock<Option<(TestServer, String)>> = OnceLock::new();
    let started = SERVER.get_or_init(|| {
        let python = python("nf-oip mlserver tests").unwrap_or_else(|e| panic!("{e}"))?;
        let models = [
            Served::forecaster("slice-prb-forecaster", &[]),
            Served::forecaster("slow-forecaster", &["delay_ms:400"]),
            Served::forecaster("nan-forecaster", &["corrupt:nan"]),
            Served::forecaster("short-forecaster", &["corrupt:drop_row"]),
        ];
        let mut server =
            TestServer::start(&python, &models, "mlserver-test").expect("start MLServer");
        let took = server
            .wait_ready_blocking(common::START_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        println!("MLServer ready at {} after {took:?}", server.endpoint);
        let endpoint = server.endpoint.clone();
        Some((server, endpoint))
    });
    match started {
        Some((_, endpoint)) => Some(endpoint.as_str()),
        None => {
            println!(
                "SKIPPED: nf-oip mlserver test `{test}`: no python3 with venv for the MLServer test server"
            );
            None
        }
    }
}

fn expect_err(r: Result<impl std::fmt::Debug, OipError>) -> OipError {
    r.expect_err("an error")
}

#[tokio::test]
async fn the_served_model_passes_the_contract_check() {
    let Some(endpoint) = server("contract check") else {
        return;
    };
    let model = remote(endpoint, "");
    let meta = model.check().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(meta.name, "slice-prb-forecaster");
    assert_eq!(meta.versions, ["2.0.0"]);
    assert_eq!(meta.inputs[0].shape, [-1, 8, 6]);
    let server = model
        .client()
        .server_metadata(Duration::from_secs(2))
        .await
        .expect("server metadata");
    assert_eq!(
        (server.name.as_str(), server.version.as_str()),
        ("mlserver", "1.7.1")
    );
}

/// The contract check of `model`, which must fail; its message.
async fn refused(model: RemoteModel, kind: &str) -> String {
    let err = expect_err(model.check().await);
    assert_eq!(err.kind(), kind, "{err}");
    err.to_string()
}

/// A change to the configuration (its contract, the model asked for).
type Edit = dyn Fn(&mut nf_oip::RemoteConfig);

#[tokio::test]
async fn a_contract_that_differs_is_refused_naming_the_field() {
    let Some(endpoint) = server("wrong contract") else {
        return;
    };
    let with = |edit: &Edit| {
        let mut cfg = config(endpoint, "");
        edit(&mut cfg);
        RemoteModel::new(cfg, &nf_oip::TlsMetrics::default()).expect("remote model")
    };
    let cases: [(&str, &Edit); 5] = [
        (
            "input name: contract says window, server has kpm_window",
            &|c| c.contract.input.name = "window".into(),
        ),
        (
            "input `kpm_window` shape: contract says [-1, 12, 6], server has [-1, 8, 6]",
            &|c| c.contract.input.shape = vec![-1, 12, 6],
        ),
        (
            "output `prb_demand` shape: contract says [-1, 3], server has [-1, 2]",
            &|c| c.contract.outputs[0].shape = vec![-1, 3],
        ),
        (
            "output `prb_demand` datatype: contract says FP64 (float64), server has FP32",
            &|c| c.contract.outputs[0].dtype = "float64".into(),
        ),
        (
            "version: contract says 9.9.9, server has [\"2.0.0\"]",
            &|c| c.model_version = "9.9.9".into(),
        ),
    ];
    for (needle, edit) in cases {
        let shown = refused(with(edit), "contract_mismatch").await;
        assert!(shown.contains(needle), "expected {needle:?} in: {shown}");
    }
    // A model the server does not have at all is not ready, and named.
    let shown = refused(
        with(&|c| c.model_name = "no-such-model".into()),
        "not_ready",
    )
    .await;
    assert!(shown.contains("no-such-model"), "{shown}");
}

#[tokio::test]
async fn remote_outputs_equal_local_onnxruntime_outputs() {
    let Some(endpoint) = server("remote vs local") else {
        return;
    };
    let contract = contract();
    let mut local = local_model();
    for encoding in ["raw", "typed"] {
        let model = remote(
            endpoint,
            &format!("max_batch_rows = 64\ninput_encoding = \"{encoding}\"\ndeadline_ms = 5000"),
        );
        model.check().await.unwrap_or_else(|e| panic!("{e}"));
        // 200 rows go out as four calls of at most 64.
        for (n, calls) in [(1, 1), (16, 1), (64, 1), (200, 4)] {
            let input = rows(&contract, n, n as u64);
            let got = model
                .infer(&input, Duration::from_secs(5))
                .await
                .unwrap_or_else(|e| panic!("{encoding} {n} rows: {e}"));
            assert_eq!((got.rows, got.calls), (n, calls));
            let want = local_outputs(&mut local, &input);
            let diff = max_abs_diff(&got.values, &want);
            println!("{encoding:>5} {n:>3} rows: max |remote - local| = {diff:e}");
            assert!(diff <= 1e-5, "{encoding} {n} rows differ by {diff}");
        }
    }
}

#[tokio::test]
async fn a_late_answer_is_a_deadline() {
    let Some(endpoint) = server("deadline") else {
        return;
    };
    let model = remote(
        endpoint,
        "model_name = \"slow-forecaster\"\ndeadline_ms = 100",
    );
    model.check().await.unwrap_or_else(|e| panic!("{e}"));
    let input = rows(&contract(), 4, 1);
    let started = Instant::now();
    let err = expect_err(model.infer(&input, Duration::from_secs(10)).await);
    let took = started.elapsed();
    assert_eq!(err.kind(), "deadline", "{err}");
    assert!(err.to_string().contains("100ms"), "{err}");
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(300),
        "the 100 ms deadline took {took:?}"
    );
    // A tick with less budget left than deadline_ms waits only that long.
    let started = Instant::now();
    let err = expect_err(model.infer(&input, Duration::from_millis(30)).await);
    assert_eq!(err.kind(), "deadline");
    assert!(started.elapsed() < Duration::from_millis(200));
    let stats = model.stats();
    assert_eq!(stats.failures("deadline"), 2);
    assert!(
        stats
            .latency_quantile(1.0)
            .is_some_and(|p| p >= Duration::from_millis(100))
    );
    // No budget left: nothing is sent.
    let sent = stats.calls();
    expect_err(model.infer(&input, Duration::ZERO).await);
    assert_eq!(stats.calls(), sent);
}

#[tokio::test]
async fn unusable_answers_are_refused_with_the_reason() {
    let Some(endpoint) = server("bad output") else {
        return;
    };
    let input = rows(&contract(), 3, 9);
    for encoding in ["raw", "typed"] {
        let extra = |name: &str| {
            format!("model_name = \"{name}\"\ninput_encoding = \"{encoding}\"\ndeadline_ms = 5000")
        };
        let nan = remote(endpoint, &extra("nan-forecaster"));
        let err = expect_err(nan.infer(&input, Duration::from_secs(5)).await);
        assert_eq!(err.kind(), "bad_output", "{err}");
        assert!(err.to_string().contains("row 0 column 0 is NaN"), "{err}");
        let short = remote(endpoint, &extra("short-forecaster"));
        let err = expect_err(short.infer(&input, Duration::from_secs(5)).await);
        assert_eq!(err.kind(), "bad_output", "{err}");
        assert!(
            err.to_string().contains("shape [2, 2], expected [3, 2]"),
            "{err}"
        );
        assert_eq!(short.stats().failures("bad_output"), 1);
    }
}

#[tokio::test]
async fn requests_the_server_cannot_serve_are_refused() {
    let Some(endpoint) = server("refused") else {
        return;
    };
    let model = remote(
        endpoint,
        "model_name = \"no-such-model\"\ndeadline_ms = 5000",
    );
    let input = rows(&contract(), 2, 3);
    let err = expect_err(model.infer(&input, Duration::from_secs(5)).await);
    assert_eq!(err.kind(), "refused", "{err}");
    // Rows that are not whole rows never leave.
    let good = remote(endpoint, "");
    let err = expect_err(good.infer(&input[..47], Duration::from_secs(5)).await);
    assert_eq!(err.kind(), "bad_input", "{err}");
    assert_eq!(
        good.stats()
            .calls
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
