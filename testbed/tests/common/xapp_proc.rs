//! An xApp binary of the workspace run as its own process against a simulator, as an
//! operator runs it: config written to a scratch folder, stdout and stderr captured there,
//! stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use testbed::sim::RunningSim;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `xapps/slice-sched/config/demo.toml` as a test runs it: the repository's model by its
/// absolute path (the process runs from the repository root, not the config's folder) and
/// guard rails fast enough for the 25× simulator (50 controls per cell and second).
pub fn demo_config() -> String {
    let demo = std::fs::read_to_string(repo().join("xapps/slice-sched/config/demo.toml")).unwrap();
    let contract = repo()
        .join("models/slice_forecaster/slice_forecaster.contract.toml")
        .canonicalize()
        .unwrap();
    demo.replace(
        "\"../../../models/slice_forecaster/slice_forecaster.contract.toml\"",
        &format!("{:?}", contract.display().to_string()),
    )
    .replace(
        "max_controls_per_cell_per_sec = 4",
        "max_controls_per_cell_per_sec = 50",
    )
}

/// The workspace binary `name` (built by `cargo test --workspace`).
pub fn bin(name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let bin = target.join("debug").join(name);
    assert!(
        bin.is_file(),
        "{} missing: build it first with `cargo build -p {name} --locked`",
        bin.display()
    );
    bin
}

/// `[[ric.nodes]]` tables of the simulator's nodes and cells: a standard KPM RAN function
/// description names no cells, so an xApp speaking ASN1_PER is told them.
pub fn ric_nodes(sim: &RunningSim) -> String {
    let mut text = String::new();
    for n in &sim.sim.nodes {
        text.push_str(&format!("\n[[ric.nodes]]\nid = \"{}\"\n", n.id));
        for c in &n.cells {
            let slices: Vec<String> = c.info.slices.iter().map(|s| format!("\"{s}\"")).collect();
            let [a, b, p] = c.info.cell.plmn;
            text.push_str(&format!(
                "[[ric.nodes.cells]]\nplmn = \"{a:02x}{b:02x}{p:02x}\"\nnci = {}\nslices = [{}]\nprbs = {}\n",
                c.info.cell.nci,
                slices.join(", "),
                c.info.prb_total_dl
            ));
        }
    }
    text
}

/// A running xApp process, killed when dropped (a failed test leaves none behind).
#[derive(Debug)]
pub struct XappProcess {
    child: Child,
    dir: PathBuf,
}

impl Drop for XappProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl XappProcess {
    /// Starts `binary` with `config_text` as its config, `--e2t` the simulator, no metrics
    /// endpoint, two worker threads; `name` names the scratch folder.
    pub fn start(binary: &str, name: &str, sim: &RunningSim, config_text: &str) -> Self {
        Self::start_listening(binary, name, sim, config_text, "off")
    }

    /// [`XappProcess::start`] with `--metrics-listen listen` (an address, or `off`).
    pub fn start_listening(
        binary: &str,
        name: &str,
        sim: &RunningSim,
        config_text: &str,
        listen: &str,
    ) -> Self {
        Self::launch(
            binary,
            name,
            &format!("http://{}", sim.addr),
            config_text,
            listen,
        )
    }

    /// [`Self::start`] with `--e2t` set to `e2t` (e.g. an `https://` endpoint).
    pub fn start_at(binary: &str, name: &str, e2t: &str, config_text: &str) -> Self {
        Self::launch(binary, name, e2t, config_text, "off")
    }

    fn launch(binary: &str, name: &str, e2t: &str, config_text: &str, listen: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("xapp.toml");
        std::fs::write(&config, config_text).unwrap();
        let child = Command::new(bin(binary))
            .current_dir(repo())
            .args(["--config", config.to_str().unwrap()])
            .args(["--e2t", e2t])
            .args(["--metrics-listen", listen, "--worker-threads", "2"])
            .env("RUST_LOG", "info,ort=warn")
            .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, dir }
    }

    /// SIGKILL: the process ends at once, draining nothing, unsubscribing nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// SIGTERM, then the exit status, stdout (the summary) and stderr.
    pub async fn stop(mut self) -> (ExitStatus, String, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (exit, me) = tokio::task::spawn_blocking(move || (self.child.wait(), self))
            .await
            .unwrap();
        let stdout = std::fs::read_to_string(me.dir.join("stdout")).unwrap_or_default();
        (exit.unwrap(), stdout, me.stderr())
    }
}
