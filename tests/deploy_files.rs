//! The deployment files under `deploy/` are what ops teams run: the compose
//! stack, the Kubernetes manifests, the Dockerfile and the Grafana
//! dashboards parse, point at files that exist, probe the health names the
//! server reports, and hand the server configuration it accepts (checked by
//! the real binary's `hotline config`). Whether every metric the dashboards
//! read is in a live scrape is checked against a running demo in
//! `prometheus_rules.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

const DEPLOY: &str = "deploy";
const DATASOURCE_UID: &str = "hotline-prometheus";

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Every document of a multi-document YAML file.
fn yaml_documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v:?}"))
}

/// `hotline config` with exactly `env` (plus PATH) and optionally a file:
/// the server's own verdict on a configuration.
fn hotline_config(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Some(f) = file {
        cmd.arg("--config").arg(f);
    }
    cmd.arg("config").envs(env);
    let out = cmd.output().expect("runs hotline");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn dashboards() -> Vec<(PathBuf, serde_json::Value)> {
    let dir = Path::new(DEPLOY).join("grafana/dashboards");
    let mut out: Vec<(PathBuf, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", p.display()));
            (p, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every PromQL expression in a dashboard.
fn expressions(dashboard: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push(e.to_string());
            }
        }
    }
    out
}

#[test]
fn the_dashboards_read_the_provisioned_datasource_and_the_shipped_rules() {
    let ds = yaml(&Path::new(DEPLOY).join("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(str_of(&ds["datasources"][0], "uid"), DATASOURCE_UID);
    let provider = yaml(&Path::new(DEPLOY).join("grafana/provisioning/dashboards/hotline.yml"));
    assert_eq!(str_of(&provider["providers"][0], "type"), "file");

    let rules = yaml(&Path::new(DEPLOY).join("prometheus/rules.yml"));
    let recorded: Vec<&str> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().iter())
        .filter_map(|r| r["record"].as_str())
        .collect();
    let rule_name = regex::Regex::new(r"[a-z_]+:hotline_[a-z0-9_]+:[a-z0-9_]+").unwrap();

    let boards = dashboards();
    let uids: Vec<&str> = boards.iter().map(|(_, d)| d["uid"].as_str().unwrap()).collect();
    assert_eq!(
        uids,
        [
            "hotline-callbacks",
            "hotline-cases",
            "hotline-quality",
            "hotline-queues",
            "hotline-system"
        ]
    );
    for (path, d) in &boards {
        let name = path.display();
        for panel in d["panels"].as_array().unwrap() {
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(
                panel["datasource"]["uid"], DATASOURCE_UID,
                "{name}: panel {}",
                panel["title"]
            );
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(
                x + w <= 24,
                "{name}: panel {} is wider than the grid",
                panel["title"]
            );
            let targets = panel["targets"].as_array().unwrap();
            assert!(
                !targets.is_empty(),
                "{name}: panel {} has no query",
                panel["title"]
            );
            for t in targets {
                assert_eq!(t["datasource"]["uid"], DATASOURCE_UID, "{name}");
            }
        }
        for expr in expressions(d) {
            for used in rule_name.find_iter(&expr) {
                assert!(
                    recorded.contains(&used.as_str()),
                    "{name}: {} is not a recording rule in rules.yml",
                    used.as_str()
                );
            }
        }
    }
    // What each board is for.
    let wants = [
        (
            "hotline-queues",
            &[
                "hotline_calls_waiting",
                "hotline_oldest_wait_seconds",
                "queue:hotline_service_level:ratio_rate5m",
                "queue:hotline_abandon_rate:ratio_rate5m",
                "hotline_agents",
            ][..],
        ),
        (
            "hotline-callbacks",
            &[
                "hotline_callbacks_pending",
                "hotline_callbacks_due_soon",
                "hotline_callbacks_overdue",
                "hotline_callbacks_closed_total{outcome=\"met\"}",
            ][..],
        ),
        (
            "hotline-quality",
            &[
                "hotline_fcr_declared_ratio",
                "hotline_fcr_observed_ratio",
                "hotline_call_handle_seconds",
                "hotline_satisfaction_mean",
            ][..],
        ),
        (
            "hotline-system",
            &[
                "hotline_grpc_requests_total",
                "hotline_grpc_request_seconds_bucket",
                "hotline_engine_job_seconds_bucket",
                "hotline_media_packets_lost_total",
                "hotline_media_frames_recovered_total",
                "hotline_media_jitter_seconds_bucket",
                "hotline_store_operation_seconds_bucket",
                "hotline_store_reconnects_total",
            ][..],
        ),
    ];
    for (uid, series) in wants {
        let d = &boards.iter().find(|(_, d)| d["uid"] == uid).unwrap().1;
        let all = expressions(d).join("\n");
        for s in series {
            assert!(all.contains(s), "{uid} does not show {s}");
        }
    }
}

/// Compose's `${VAR:?message}` and `${VAR:-default}`, with `vars` set.
fn interpolate(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let re = regex::Regex::new(r"\$\{([A-Z_]+)(?::([?-])([^}]*))?\}").unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        match (vars.get(&c[1]), c.get(2).map(|m| m.as_str())) {
            (Some(v), _) => v.to_string(),
            (None, Some("-")) => c[3].to_string(),
            _ => panic!("compose needs {} set", &c[1]),
        }
    })
    .into_owned()
}

#[test]
fn the_compose_stack_parses_mounts_files_that_exist_and_configures_a_valid_server() {
    let path = Path::new(DEPLOY).join("docker-compose.yml");
    let compose = yaml(&path);
    let services = compose["services"].as_mapping().unwrap();
    for name in ["hotline", "hotline-2", "redis", "prometheus", "grafana"] {
        assert!(services.contains_key(name), "compose has no {name}");
    }
    let redis_cmd = compose["services"]["redis"]["command"].as_sequence().unwrap();
    let redis_cmd: Vec<&str> = redis_cmd.iter().filter_map(|v| v.as_str()).collect();
    assert!(
        redis_cmd.windows(2).any(|w| w == ["--appendonly", "yes"]),
        "Redis keeps an append-only file: {redis_cmd:?}"
    );
    // Bind mounts are relative to the compose file.
    for (name, service) in services {
        for v in service["volumes"].as_sequence().into_iter().flatten() {
            let v = v.as_str().unwrap();
            if let Some(host) = v.strip_prefix("./") {
                let host = host.split(':').next().unwrap();
                assert!(
                    Path::new(DEPLOY).join(host).exists(),
                    "{name:?} mounts {host}, which is not in deploy/"
                );
            }
        }
    }
    let build = &compose["services"]["hotline"]["build"];
    let context = Path::new(DEPLOY).join(str_of(build, "context"));
    assert!(context.join(str_of(build, "dockerfile")).exists());
    // Each node accepts the environment compose gives it: one Redis, its
    // own id, address its peers reach, media ports and recordings.
    let vars = BTreeMap::from([("HOTLINE_AUTH__SECRET", "compose-test-secret-0123456789")]);
    let mut seen = Vec::new();
    for (node, udp) in [("hotline", "40000-40199"), ("hotline-2", "40200-40399")] {
        let env: BTreeMap<String, String> = compose["services"][node]["environment"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other).unwrap().trim().to_string(),
                };
                (k.as_str().unwrap().to_string(), interpolate(&v, &vars))
            })
            .collect();
        let shown = hotline_config(None, &env)
            .unwrap_or_else(|e| panic!("compose's environment of {node} is refused: {e}"));
        let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(shown["store"]["url"], "redis://redis:6379/0");
        assert_eq!(shown["media"]["udp_ports"], udp);
        assert_eq!(shown["auth"]["secret"], "<hidden>");
        assert_eq!(
            shown["cluster"]["advertise"].as_str(),
            Some(format!("{node}:50051").as_str()),
            "{node}'s peers reach it by its service name"
        );
        seen.push((
            shown["cluster"]["node_id"].as_str().unwrap().to_string(),
            compose["services"][node]["volumes"][0]
                .as_str()
                .unwrap()
                .to_string(),
        ));
        // The image's health check is a command the binary has.
        let check = compose["services"][node]["healthcheck"]["test"]
            .as_sequence()
            .unwrap();
        assert_eq!(check[1].as_str(), Some("/usr/local/bin/hotline"));
        assert_eq!(check[2].as_str(), Some("health"));
    }
    assert_ne!(seen[0], seen[1], "the nodes have their own ids and recordings");
}

#[test]
fn the_kubernetes_manifests_parse_probe_the_health_service_and_configure_a_valid_server() {
    let dir = Path::new(DEPLOY).join("kubernetes");
    let kustomization = yaml(&dir.join("kustomization.yaml"));
    let mut docs = Vec::new();
    for r in kustomization["resources"].as_sequence().unwrap() {
        docs.extend(yaml_documents(&dir.join(r.as_str().unwrap())));
    }
    let of_kind = |kind: &str, name: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let deployment = of_kind("Deployment", "hotline");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true));
    let container = &pod["containers"][0];
    let port_of = |name: &str| -> u64 {
        container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port {name}"))
    };
    let grpc = port_of("grpc");
    let ready = &container["readinessProbe"]["grpc"];
    assert_eq!(ready["port"].as_u64(), Some(grpc));
    assert_eq!(
        ready["service"].as_str(),
        Some(""),
        "readiness asks the whole server"
    );
    let live = &container["livenessProbe"]["grpc"];
    assert_eq!(live["port"].as_u64(), Some(grpc));
    assert_eq!(live["service"].as_str(), Some(hotline::server::LIVENESS));
    // The Service sends traffic to ports the container has.
    let service = of_kind("Service", "hotline");
    for p in service["spec"]["ports"].as_sequence().unwrap() {
        port_of(p["targetPort"].as_str().unwrap());
    }
    // Pods reach each other (forwarding, media relay) at their pod IPs; a
    // headless Service names them, draining ones included.
    let nodes = of_kind("Service", "hotline-nodes");
    assert_eq!(nodes["spec"]["clusterIP"].as_str(), Some("None"));
    assert_eq!(nodes["spec"]["publishNotReadyAddresses"].as_bool(), Some(true));
    for p in nodes["spec"]["ports"].as_sequence().unwrap() {
        port_of(p["targetPort"].as_str().unwrap());
    }
    of_kind("StatefulSet", "redis");
    of_kind("Service", "redis");

    // The ConfigMap's configuration, with the Deployment's environment, is
    // one the server accepts, listening where the probes and Service look.
    let config_map = of_kind("ConfigMap", "hotline-config");
    let toml = config_map["data"]["hotline.toml"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("hotline.toml");
    std::fs::write(&file, toml).unwrap();
    let mut env = BTreeMap::new();
    for e in container["env"].as_sequence().unwrap() {
        let name = str_of(e, "name").to_string();
        let value = match e["value"].as_str() {
            Some(v) => v
                .replace("$(POD_NAME)", "hotline-0")
                .replace("$(POD_IP)", "10.0.0.7"),
            // From the cluster: the pod's fields and the auth Secret.
            None if name == "HOTLINE_AUTH__SECRET" => "k8s-test-secret-0123456789".into(),
            None => continue,
        };
        env.insert(name, value);
    }
    let shown = hotline_config(Some(&file), &env).unwrap_or_else(|e| panic!("the ConfigMap is refused: {e}"));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["server"]["grpc_listen"], format!("0.0.0.0:{grpc}"));
    assert_eq!(
        shown["metrics"]["listen"],
        format!("0.0.0.0:{}", port_of("metrics"))
    );
    assert_eq!(shown["cluster"]["advertise"], format!("10.0.0.7:{grpc}"));
    assert!(shown["store"]["url"]
        .as_str()
        .unwrap()
        .starts_with("redis://redis:"));
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_unprivileged_with_a_valid_configuration() {
    let text = std::fs::read_to_string(Path::new(DEPLOY).join("Dockerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(lines.iter().filter(|l| l.starts_with("FROM ")).count() >= 3);
    let user = lines
        .iter()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.ends_with(" 0"), "{user}");
    // Files copied from the build context exist (paths from the repository root).
    for l in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = l.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(Path::new(src).exists(), "Dockerfile copies missing {src}");
        }
    }
    let expose = lines.iter().find(|l| l.starts_with("EXPOSE ")).expect("EXPOSE");
    assert!(expose.contains("50051") && expose.contains("9464"), "{expose}");
    // The image's environment on the shipped example configuration.
    let mut env = BTreeMap::new();
    let joined = text.replace("\\\n", " ");
    for l in joined.lines().filter(|l| l.trim_start().starts_with("ENV ")) {
        for pair in l.trim_start()[4..].split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                env.insert(k.to_string(), v.to_string());
            }
        }
    }
    assert!(env.contains_key("HOTLINE_METRICS__LISTEN"), "{env:?}");
    env.insert(
        "HOTLINE_AUTH__SECRET".into(),
        "docker-test-secret-0123456789".into(),
    );
    let shown = hotline_config(Some(Path::new("deploy/hotline.example.toml")), &env)
        .unwrap_or_else(|e| panic!("the image's environment is refused: {e}"));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["metrics"]["listen"], "0.0.0.0:9464");
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key() {
    let env = BTreeMap::from([(
        "HOTLINE_METRICS__QUALITY_WINDOW_SECS".to_string(),
        "0".to_string(),
    )]);
    let err = hotline_config(None, &env).expect_err("refused");
    assert!(err.contains("metrics.quality_window_secs"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_answers_for_readiness_and_liveness() {
    let s = common::TestServer::start().await;
    let addr = s.server.as_ref().unwrap().addr.to_string();
    let run = |service: &str| {
        let addr = addr.clone();
        let service = service.to_string();
        std::thread::spawn(move || {
            Command::new(env!("CARGO_BIN_EXE_hotline"))
                .args(["health", "--addr", &addr, "--service", &service])
                .output()
                .expect("runs hotline")
        })
        .join()
        .unwrap()
    };
    for service in ["", hotline::server::LIVENESS] {
        let out = run(service);
        assert!(out.status.success(), "{service:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "SERVING");
    }
    let unknown = run("no.such.Service");
    assert!(!unknown.status.success(), "{unknown:?}");
}

/// The `hotline token ...` commands the web pages tell people to run.
fn sign_in_hints() -> Vec<Vec<String>> {
    let mut hints = Vec::new();
    for page in ["web/static/agent.html", "web/static/supervisor.html"] {
        let text = std::fs::read_to_string(page).unwrap();
        for part in text.split("<code>hotline token").skip(1) {
            let code = part.split("</code>").next().unwrap_or("");
            let code = code
                .replace("&lt;your id&gt;", "alice")
                .replace("&lt;your name&gt;", "sam");
            hints.push(
                std::iter::once("token".to_string())
                    .chain(code.split_whitespace().map(str::to_string))
                    .collect(),
            );
        }
    }
    hints
}

#[test]
fn the_web_pages_sign_in_hints_are_commands_that_work() {
    let hints = sign_in_hints();
    assert_eq!(hints.len(), 2, "{hints:?}");
    for args in hints {
        let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(&args)
            .output()
            .unwrap();
        let token = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && token.trim().split('.').count() == 3,
            "hotline {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_docs_point_only_at_files_in_the_repository() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        !readme.contains("../"),
        "the README names a path outside the repository"
    );
    // Scripts the fuzz crate's notes name exist.
    let fuzz = std::fs::read_to_string("fuzz/Cargo.toml").unwrap();
    for word in fuzz.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';') {
        if let Some(script) = word.trim_start_matches("./").strip_prefix("scripts/") {
            let path = Path::new("scripts").join(script.trim_end_matches(|c: char| !c.is_alphanumeric()));
            assert!(
                path.exists(),
                "fuzz/Cargo.toml names {}, which does not exist",
                path.display()
            );
        }
    }
}
