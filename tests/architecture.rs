//! The layout rules the compiler cannot check alone: the sans-IO crates
//! depend on no runtime or adapter crate, the server's modules import one
//! another without cycles, and no source file grows past what a reader can
//! hold in their head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates the sans-IO cores must never depend on, directly or through
/// another crate: an async runtime, gRPC, Redis, WAV and WebRTC.
const FORBIDDEN_IN_CORES: &[&str] = &["tokio", "tonic", "redis", "hound", "webrtc", "rtc"];

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

/// The crates of `package`'s dependency tree named in `forbidden`.
fn forbidden_in(package: &str, forbidden: &[&str]) -> Vec<String> {
    let tree = dependency_tree(package);
    assert!(tree.iter().any(|c| c == package), "{package} is in the workspace");
    tree.into_iter()
        .filter(|c| {
            forbidden
                .iter()
                .any(|f| c == f || c.starts_with(&format!("{f}-")))
        })
        .collect()
}

#[test]
fn the_sans_io_crates_depend_on_no_runtime_grpc_redis_wav_or_webrtc_crate() {
    for package in ["hotline-core", "hotline-sip", "hotline-time"] {
        let found = forbidden_in(package, FORBIDDEN_IN_CORES);
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn the_webrtc_answerer_is_sans_io_over_rtc_alone() {
    // rtc is its protocol parts (itself sans-IO); nothing may bring in a
    // runtime, or the async webrtc crate with its task per connection.
    let forbidden: Vec<&str> = FORBIDDEN_IN_CORES
        .iter()
        .copied()
        .filter(|c| *c != "rtc")
        .collect();
    let found = forbidden_in("hotline-webrtc-lite", &forbidden);
    assert!(found.is_empty(), "hotline-webrtc-lite depends on {found:?}");
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

/// The server's top-level modules (`src/<name>.rs` or `src/<name>/`) and the
/// files of each.
fn server_modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("src")).expect("src/").flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        } else {
            continue;
        }
        modules.insert(name, files);
    }
    modules
}

/// The top-level modules `source` names through `crate::` (paths and
/// grouped `use crate::{a, b::c}` imports).
fn crate_references(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut done, &mut Vec::new()))
}

/// Which top-level modules each top-level module names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = server_modules();
    assert!(
        modules.contains_key("engine") && modules.contains_key("api"),
        "found the modules"
    );
    let mut graph = BTreeMap::new();
    for (name, files) in &modules {
        let mut uses = BTreeSet::new();
        for f in files {
            let source = std::fs::read_to_string(f).expect("readable source");
            uses.extend(
                crate_references(&source)
                    .into_iter()
                    .filter(|m| m != name && modules.contains_key(m)),
            );
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

#[test]
fn the_server_modules_import_one_another_without_cycles() {
    assert_eq!(
        find_cycle(&module_graph()),
        None,
        "an import cycle among src/ modules"
    );
}

#[test]
fn the_two_edges_share_the_application_layer_and_not_each_other() {
    let graph = module_graph();
    for edge in ["api", "sip"] {
        assert!(graph[edge].contains("app"), "{edge}/ calls the application layer");
    }
    assert!(!graph["sip"].contains("api"), "sip/ uses the gRPC handlers");
    assert!(!graph["app"].contains("api"), "app/ uses the gRPC edge");
    assert!(!graph["app"].contains("sip"), "app/ uses the SIP edge");
}

#[test]
fn the_grpc_handlers_reach_the_store_engine_and_media_only_through_the_application_layer() {
    let modules = server_modules();
    for f in &modules["api"] {
        let source = std::fs::read_to_string(f).expect("readable source");
        // `app.store`, `self.app\n    .engine`, ... however rustfmt wraps it.
        let squeezed: String = source.split_whitespace().collect();
        for part in ["store", "engine", "media"] {
            assert!(
                !squeezed.contains(&format!(".app.{part}")),
                "{} reaches app.{part} itself",
                f.display()
            );
        }
    }
}

/// Where `source` names a public API (`hotline.v1`) type: any
/// `crate::proto` path but the cluster's own wire (`crate::proto::cluster`).
fn public_proto_uses(source: &str) -> Vec<String> {
    source
        .match_indices("crate::proto")
        .map(|(i, _)| &source[i..])
        .filter(|rest| !rest.starts_with("crate::proto::cluster"))
        .map(|rest| rest.chars().take(40).collect())
        .collect()
}

#[test]
fn the_engine_media_and_sip_speak_domain_types_not_the_public_api() {
    let modules = server_modules();
    for name in ["engine", "media", "sip", "app"] {
        for f in &modules[name] {
            let source = std::fs::read_to_string(f).expect("readable source");
            let uses = public_proto_uses(&source);
            assert!(
                uses.is_empty(),
                "{} names hotline.v1 types: {uses:?}",
                f.display()
            );
        }
    }
}

#[test]
fn a_public_proto_use_is_found() {
    assert_eq!(
        public_proto_uses("use crate::proto::cluster::Frame; use crate::proto;"),
        vec!["crate::proto;".to_string()]
    );
}

#[test]
fn a_cycle_is_found_and_named() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let refs = crate_references("use crate::{engine, media::plane};\nlet x = crate::api::status(e);");
    assert_eq!(
        refs,
        ["api", "engine", "media"].into_iter().map(String::from).collect()
    );
}
