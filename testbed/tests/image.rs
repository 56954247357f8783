//! The container images, as an operator gets them: `scripts/build-image.sh` builds each of
//! the three (slice-xapp, interference-xapp, conflict-mgr) FROM scratch out of the binaries
//! this test run built, with podman (Debian's package, installed by `.ci/run`); then each
//! image is inspected (user, entrypoint, environment, size, file list) and run with
//! `--check` inside, with no network and nothing of the build tree mounted: the config it
//! validates, the model it loads through onnxruntime and the library itself all come from
//! the image.
//!
//! Test certificates (rcgen) are mounted at `/etc/airan/tls` as the Secret `airan-xapp-tls`
//! is, since the shipped configs run the conflict-manager link over mTLS.
//! The overlays' configs are checked the same way, mounted over `/etc/airan/config` as
//! their ConfigMaps are.
//!
//! Without podman on the machine the test says so and passes, unless
//! `AIRAN_REQUIRE_CONTAINER_TESTS=1` (set by `.ci/run`) makes that a failure.
//!
//! The podman flags are those a container without systemd or full capabilities needs:
//! a private vfs store under `target/`, cgroupfs, runc, and ulimits no higher than the
//! machine's (crun would try to raise them).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from)
}

/// podman with a store of this test's own (wiped at start) and flags for a sandbox.
struct Podman {
    global: Vec<String>,
    /// podman's run root: podman refuses one longer than 50 characters, which a
    /// checkout's `target/` easily is, so it lives under `/tmp` and goes with the test.
    runroot: PathBuf,
    /// Test certificates in the layout of the Secret `airan-xapp-tls`, mounted at
    /// `/etc/airan/tls` as the manifests do (the shipped configs name them for mTLS).
    tls: PathBuf,
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.runroot);
    }
}

impl Podman {
    fn new() -> Option<Self> {
        let found = Command::new("podman").arg("--version").output().is_ok();
        if !found {
            let required = std::env::var("AIRAN_REQUIRE_CONTAINER_TESTS").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "podman not found and AIRAN_REQUIRE_CONTAINER_TESTS=1: install Debian's podman and runc"
            );
            eprintln!("SKIPPED: podman not found; the container images are not built here");
            return None;
        }
        let store = target().join("image-test-store");
        let _ = std::fs::remove_dir_all(&store);
        let runroot = PathBuf::from(format!("/tmp/airan-podman-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runroot);
        let global = vec![
            "--root".into(),
            store.join("root").display().to_string(),
            "--runroot".into(),
            runroot.display().to_string(),
            "--storage-driver".into(),
            "vfs".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
        ];
        let tls = store.join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let files = nf_tls::testing::TestCa::new("image test ca").write(&tls, "tls");
        std::fs::rename(&files.ca, tls.join("ca.crt")).unwrap();
        // A Secret volume's files are readable by the pod's user (mode 0644 or fsGroup).
        for f in ["ca.crt", "tls.crt", "tls.key"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tls.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Some(Self {
            global,
            runroot,
            tls,
        })
    }

    fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.args(&self.global);
        c
    }

    /// `podman run` with no network, as the image's user, then removed.
    fn run(&self, image: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.run_with(image, env, None, args)
    }

    /// [`Self::run`] with host folder `config` mounted read-only over `/etc/airan/config`,
    /// as the Kubernetes ConfigMap is.
    fn run_with(
        &self,
        image: &str,
        env: &[(&str, &str)],
        config: Option<&Path>,
        args: &[&str],
    ) -> Output {
        let mut c = self.command();
        c.args(["run", "--rm", "--network", "none"]);
        if Command::new("runc").arg("--version").output().is_ok() {
            c.args(["--runtime", "runc"]);
        }
        c.args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ]);
        for (k, v) in env {
            c.args(["--env", &format!("{k}={v}")]);
        }
        c.args([
            "--volume",
            &format!("{}:/etc/airan/tls:ro", self.tls.display()),
        ]);
        if let Some(dir) = config {
            let dir = std::fs::canonicalize(dir).unwrap();
            c.args([
                "--volume",
                &format!("{}:/etc/airan/config:ro", dir.display()),
            ]);
        }
        c.arg(image).args(args);
        c.output().unwrap()
    }

    fn inspect(&self, image: &str) -> serde_json::Value {
        let out = self
            .command()
            .args(["image", "inspect", image])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0].clone()
    }

    /// Every path in the image with its owner uid and mode (from `podman export`).
    fn files(&self, image: &str) -> Vec<(String, u64, u32)> {
        let out = self.command().args(["create", image]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let tar = target().join("image-test-store").join(format!("{id}.tar"));
        let out = self
            .command()
            .args(["export", "--output"])
            .arg(&tar)
            .arg(&id)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let _ = self.command().args(["rm", &id]).output();
        // GNU tar's numeric listing: "mode uid/gid size date time path".
        let out = Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let _ = std::fs::remove_file(&tar);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                let uid = cols[1].split('/').next().unwrap().parse().unwrap();
                let mode = cols[0];
                let bits = mode
                    .chars()
                    .skip(1)
                    .enumerate()
                    .filter(|(_, c)| *c == 's' || *c == 'S')
                    .map(|(i, _)| if i == 2 { 0o4000 } else { 0o2000 })
                    .sum();
                let path = cols[5..].join(" ");
                (path.trim_start_matches("./").to_owned(), uid, bits)
            })
            .collect()
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds the three images with the script, from `target/debug`'s binaries.
fn build_images(podman: &Podman) -> Vec<String> {
    let out = Command::new(repo().join("scripts/build-image.sh"))
        .args(["--app", "all", "--bin-dir"])
        .arg(target().join("debug"))
        .env("PODMAN", format!("podman {}", podman.global.join(" ")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build-image.sh failed: {}",
        text(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn images_build_and_check_inside() {
    let Some(podman) = Podman::new() else {
        return;
    };
    for app in ["slice-xapp", "interference-xapp", "conflict-mgr"] {
        assert!(
            target().join("debug").join(app).is_file(),
            "{app} not built: run the tests with `cargo test --workspace`"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    let tags = build_images(&podman);
    assert_eq!(
        tags,
        ["slice-xapp", "interference-xapp", "conflict-mgr"]
            .map(|a| format!("localhost/airan/{a}:{version}")),
        "the script prints the tags it built"
    );
    let repo_path = std::fs::canonicalize(repo()).unwrap().display().to_string();

    for (app, tag) in ["slice-xapp", "interference-xapp", "conflict-mgr"]
        .into_iter()
        .zip(&tags)
    {
        // What the image declares.
        let info = podman.inspect(tag);
        let cfg = &info["Config"];
        assert_eq!(cfg["User"], "10001:10001", "{app}: non-root user");
        assert_eq!(
            cfg["Entrypoint"],
            serde_json::json!([format!("/usr/local/bin/{app}")]),
            "{app}: entrypoint"
        );
        assert_eq!(cfg["WorkingDir"], "/var/lib/airan", "{app}");
        let env: Vec<String> = cfg["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        if app != "conflict-mgr" {
            assert!(
                env.contains(&"ORT_DYLIB_PATH=/opt/onnxruntime/lib/libonnxruntime.so".to_owned()),
                "{app}: ORT_DYLIB_PATH in {env:?}"
            );
        }
        assert_eq!(
            cfg["Labels"]["org.opencontainers.image.version"], version,
            "{app}: version label"
        );
        let declared = serde_json::to_string(cfg).unwrap();
        for build_path in [repo_path.as_str(), "target/", ".cache/"] {
            assert!(
                !declared.contains(build_path),
                "{app}: the image config names the build tree ({build_path}): {declared}"
            );
        }
        let size = info["Size"].as_u64().unwrap();
        println!("{app}: {} MiB", size / 1024 / 1024);
        assert!(
            size < 200 * 1024 * 1024,
            "{app}: {size} bytes; a stripped image is ~60 MiB"
        );

        // What it holds: no shell, no setuid file, everything root's but its state folder.
        let files = podman.files(tag);
        let has = |p: &str| files.iter().any(|(f, _, _)| f == p);
        assert!(has(&format!("usr/local/bin/{app}")), "{app}: binary");
        assert!(
            has("etc/passwd") && has(&format!("etc/airan/config/{app}.toml")),
            "{app}"
        );
        assert!(has("usr/share/doc/airan/contents.txt") && has("usr/share/doc/airan/LICENSE"));
        assert!(
            !has("bin/sh") && !has("usr/bin/sh"),
            "{app}: a shell in the image"
        );
        for (path, uid, special) in &files {
            assert_eq!(*special, 0, "{app}: {path} is setuid/setgid");
            let state = path.starts_with("var/lib/airan");
            assert_eq!(
                *uid,
                if state { 10001 } else { 0 },
                "{app}: {path} owned by uid {uid}"
            );
        }

        // Run inside: the config, models and onnxruntime of the image itself.
        let out = podman.run(tag, &[], &["--check"]);
        assert!(
            out.status.success(),
            "{app} --check in the image: {}",
            text(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expect = match app {
            "slice-xapp" => "configuration and model contract are valid",
            "interference-xapp" => "valid",
            _ => "conflict-mgr.toml: valid",
        };
        assert!(stdout.contains(expect), "{app}: {}", text(&out));
        if app != "conflict-mgr" {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("onnxruntime loaded") && stderr.contains("/opt/onnxruntime/lib"),
                "{app} loads the image's onnxruntime: {}",
                text(&out)
            );
        }
    }

    // Each overlay's configs, mounted where the ConfigMap goes, pass the check of the image
    // they are meant for (the Helm chart's copies are byte-identical, see the deploy test).
    for overlay in ["oran-sc", "sd-ran"] {
        let dir = repo()
            .join("xapps/deploy/kubernetes/overlays")
            .join(overlay);
        for (app, tag) in ["slice-xapp", "interference-xapp"].into_iter().zip(&tags) {
            let out = podman.run_with(tag, &[], Some(&dir), &["--check"]);
            assert!(
                out.status.success(),
                "overlays/{overlay}/{app}.toml --check in the image: {}",
                text(&out)
            );
            // The same ConfigMap in pod 2 of a StatefulSet of 3, as the manifests set it:
            // a sharded replica with its own E2 app instance and its peers.
            let pod = format!("{app}-2");
            let replicas = format!("{}_SHARD_REPLICAS", app.replace('-', "_").to_uppercase());
            let out = podman.run_with(
                tag,
                &[("POD_NAME", pod.as_str()), (replicas.as_str(), "3")],
                Some(&dir),
                &["--check"],
            );
            assert!(
                out.status.success(),
                "overlays/{overlay}/{app}.toml as {pod} of 3 --check in the image: {}",
                text(&out)
            );
            let said = format!("E2 app instance {pod}, shard 2 of 3");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(&said),
                "{app} as {pod}: {}",
                text(&out)
            );
        }
    }

    // A config the image lacks is refused with the exit code of a bad config, naming it.
    let out = podman.run(
        &tags[0],
        &[("SLICE_XAPP_CONFIG", "/etc/airan/config/missing.toml")],
        &["--check"],
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.toml"),
        "{}",
        text(&out)
    );
}
