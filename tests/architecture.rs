//! The layout rules the compiler cannot check alone: the sans-IO crates
//! depend on no runtime or adapter crate, and no source file grows past
//! what a reader can hold in their head.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates the sans-IO cores must never depend on, directly or through
/// another crate: an async runtime, gRPC, Redis, WAV and WebRTC.
const FORBIDDEN_IN_CORES: &[&str] = &["tokio", "tonic", "redis", "hound", "webrtc"];

/// The longest source file, in lines.
const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The names of every crate `package` depends on at run time.
fn dependency_tree(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_sans_io_crates_depend_on_no_runtime_grpc_redis_wav_or_webrtc_crate() {
    for package in ["hotline-core", "hotline-sip", "hotline-time"] {
        let tree = dependency_tree(package);
        assert!(tree.iter().any(|c| c == package), "{package} is in the workspace");
        let found: Vec<&String> = tree
            .iter()
            .filter(|c| {
                FORBIDDEN_IN_CORES
                    .iter()
                    .any(|f| c == f || c.starts_with(&format!("{f}-")))
            })
            .collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_longer_than_a_reader_can_hold() {
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests", "benches"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 100, "found the sources ({} files)", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}
