//! The real librmr (RMR 4.9.4 from `../shared/interop`) for tests that put a C peer on the
//! other end of an RMR link: [`build_peer`] builds `librmr_si` once per folder and compiles
//! a C program against it. Tests skip (with a printed line) where the kit or a tool is
//! absent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The RMR source kit beside the worktree.
pub fn rmr_kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/interop/rmr-4.9.4")
}

fn run_tool(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Why the real librmr cannot be used here (printed by the caller as its SKIP line).
fn missing() -> Option<String> {
    if !rmr_kit().join("CMakeLists.txt").exists() {
        return Some(format!("the RMR kit is not at {}", rmr_kit().display()));
    }
    ["cmake", "cc", "make"].into_iter().find_map(|tool| {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!ok).then(|| format!("{tool} not installed (needed to build librmr)"))
    })
}

/// Builds `librmr_si` into `tmp/librmr-4.9.4` (once) and `source` against it as
/// `tmp/librmr-4.9.4/<name>-<pid>`; `None`, with the reason printed, when the kit, cmake or
/// cc is absent. Panics on a build failure.
pub fn build_peer(tmp: &Path, source: &Path, name: &str) -> Option<PathBuf> {
    if let Some(why) = missing() {
        println!("SKIP: {why}");
        return None;
    }
    let dir = tmp.join("librmr-4.9.4");
    let built = (|| -> Result<PathBuf, String> {
        if !dir.join("librmr_si.so").exists() {
            let partial = dir.with_extension(format!("tmp{}", std::process::id()));
            run_tool(
                Command::new("cmake")
                    .arg("-S")
                    .arg(rmr_kit())
                    .arg("-B")
                    .arg(&partial)
                    .args(["-DBUILD_DOC=0", "-DDEV_PKG=1", "-DPACK_EXTERNALS=0"]),
            )?;
            run_tool(Command::new("make").arg("-C").arg(&partial).arg("-j2"))?;
            if std::fs::rename(&partial, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&partial);
            }
        }
        let inc = dir.join("include/rmr");
        std::fs::create_dir_all(&inc).map_err(|e| e.to_string())?;
        for h in ["rmr.h", "RIC_message_types.h"] {
            let from = rmr_kit().join("src/rmr/common/include").join(h);
            std::fs::copy(from, inc.join(h)).map_err(|e| e.to_string())?;
        }
        let exe = dir.join(format!("{name}-{}", std::process::id()));
        run_tool(
            Command::new("cc")
                .args(["-O1", "-Wall", "-Wno-comment", "-Werror", "-std=gnu11"])
                .arg(format!("-I{}", dir.join("include").display()))
                .arg(source)
                .arg(format!("-L{}", dir.display()))
                .args(["-lrmr_si", "-lpthread", "-lm"])
                .arg(format!("-Wl,-rpath,{}", dir.display()))
                .arg("-o")
                .arg(&exe),
        )?;
        Ok(exe)
    })();
    Some(built.unwrap_or_else(|e| panic!("{e}")))
}
