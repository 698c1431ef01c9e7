//! Configuration errors name the key; the example configuration is valid; the
//! binary exits non-zero on a bad file.

use hotline::config::Config;

fn err(toml: &str) -> String {
    Config::from_toml(toml).unwrap_err().to_string()
}

const BASE: &str = r#"
skills = ["billing"]
[auth]
secret = "0123456789abcdef0123"
[queues.billing]
required_skills = [{ skill = "billing", min_proficiency = 3 }]
"#;

#[test]
fn the_documented_example_is_valid_and_is_the_default() {
    let example = Config::from_toml(hotline::config::EXAMPLE_TOML).expect("example valid");
    assert!(example.queues.contains_key("billing"));
    assert!(example.agents.len() >= 10);
    let default = Config::load(None).expect("default loads");
    assert_eq!(default.queues.len(), example.queues.len());
}

#[test]
fn errors_name_the_offending_key() {
    assert!(Config::from_toml(BASE).is_ok());
    let cases = [
        (BASE.replace("0123456789abcdef0123", "short"), "auth.secret"),
        (
            BASE.replace("min_proficiency = 3", "min_proficiency = 11"),
            "queues.billing.required_skills[0]",
        ),
        (
            BASE.replace("skill = \"billing\"", "skill = \"juggling\""),
            "unknown skill juggling",
        ),
        (
            format!("{BASE}overflow_queue = \"nowhere\"\n"),
            "queues.billing.overflow_queue",
        ),
        (
            format!("{BASE}ring_timeout_secs = \"soon\"\n"),
            "queues.billing.ring_timeout_secs",
        ),
        (format!("{BASE}ring_timeout_secs = 0\n"), "ring_timeout_secs"),
        (
            format!("{BASE}callback_deadline_secs = 0\n"),
            "queues.billing.callback_deadline_secs",
        ),
        (format!("{BASE}hours = \"nowhere\"\n"), "queues.billing.hours"),
        (
            format!("{BASE}[[calendars]]\nid = \"office\"\ntime_zone = \"Mars/Base\"\n"),
            "calendars[0].time_zone",
        ),
        (
            format!("{BASE}[[calendars]]\nid = \"office\"\ntime_zone = \"UTC\"\nopen = [{{ days = [\"someday\"], from = \"09:00\", to = \"17:00\" }}]\n"),
            "calendars[0].open[0].days",
        ),
        (
            format!("{BASE}[[calendars]]\nid = \"office\"\ntime_zone = \"UTC\"\nopen = [{{ days = [\"mon\"], from = \"25:00\", to = \"17:00\" }}]\n"),
            "calendars[0].open[0].from",
        ),
        (
            format!("{BASE}[quality.scorecard]\nname = \"x\"\ntotal = 10\ncriteria = [{{ name = \"a\", weight = 4 }}]\n"),
            "quality.scorecard",
        ),
        (
            format!("{BASE}[reports]\nfcr_window_days = 0\n"),
            "reports.fcr_window_days",
        ),
        (
            format!("{BASE}[metrics]\nlisten = \"port 9464\"\n"),
            "metrics.listen",
        ),
        (
            format!("{BASE}[metrics]\nquality_every_secs = 0\n"),
            "metrics.quality_every_secs",
        ),
        (format!("{BASE}[sip]\ncallback_key = \"**\"\n"), "sip.callback_key"),
        (
            format!("{BASE}[[sip.trunks]]\nname = \"c\"\nsources = [\"10.0.0.0/40\"]\n"),
            "sip.trunks[0].sources[0]",
        ),
        (
            format!("{BASE}[[sip.trunks]]\nname = \"c\"\nsources = [\"10.0.0.1\"]\nusername = \"u\"\n"),
            "sip.trunks[0].password",
        ),
        (format!("{BASE}[sip]\nlisten = \"port 5060\"\n"), "sip.listen"),
        (format!("{BASE}[retention]\ncontacts_days = 99999999\n"), "retention.contacts_days"),
        (format!("{BASE}[retention]\nsweep_every_secs = 1\n"), "retention.sweep_every_secs"),
        (
            format!("{BASE}[sip]\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\n"),
            "sip.tls_listen",
        ),
        (
            format!("{BASE}[sip]\nlisten = \"127.0.0.1:0\"\nrequire_srtp = true\n"),
            "sip.require_srtp",
        ),
        (
            format!("{BASE}[sip.menus.\"9\"]\noptions = {{ \"1\" = \"nowhere\" }}\n"),
            "sip.menus.9.options.1",
        ),
        (
            format!("{BASE}[sip.menus.\"9\"]\noptions = {{ \"12\" = \"nowhere\" }}\n"),
            "sip.menus.9.options.12",
        ),
        (
            format!("{BASE}[entry_points]\n\"1\" = \"billing\"\n[sip.menus.\"9\"]\noptions = {{ \"1\" = \"1\" }}\nprompt = \"/etc/passwd\"\n"),
            "sip.menus.9.prompt",
        ),
        (
            format!("{BASE}[entry_points]\n\"1\" = \"billing\"\n[sip.menus.\"9\"]\noptions = {{ \"1\" = \"1\" }}\nprompt = \"missing.wav\"\n"),
            "sip.menus.9.prompt",
        ),
        (
            format!("{BASE}[entry_points]\n\"1\" = \"billing\"\n[sip.menus.\"1\"]\noptions = {{ \"1\" = \"1\" }}\n"),
            "sip.menus.1.options",
        ),
        (format!("{BASE}[tls]\ncert_file = \"cert.pem\"\n"), "tls.key_file"),
        (format!("{BASE}[turn]\nurls = [\"http://turn.example\"]\nsecret = \"0123456789abcdef\"\n"), "turn.urls[0]"),
        (format!("{BASE}[turn]\nurls = [\"turn:turn.example\"]\nsecret = \"short\"\n"), "turn.secret"),
        (format!("{BASE}[turn]\nrelay_only = true\n"), "turn.relay_only"),
        (
            format!("{BASE}[oidc]\nissuer = \"http://idp.example.com\"\naudience = \"a\"\nclient_id = \"c\"\n"),
            "oidc.issuer",
        ),
        (format!("{BASE}[oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"), "oidc.audience"),
        (
            format!(
                "{BASE}[oidc]\nissuer = \"https://idp.example.com\"\naudience = \"a\"\nclient_id = \"c\"\n[oidc.roles]\nnode = \"n\"\n"
            ),
            "oidc.roles.node",
        ),
        (
            BASE.replace("0123456789abcdef0123\"", "0123456789abcdef0123\"\nrevocation_poll_ms = 120000"),
            "auth.revocation_poll_ms",
        ),
        (format!("{BASE}colour = \"red\"\n"), "colour"),
        (
            format!("{BASE}[entry_points]\n\"1\" = \"nowhere\"\n"),
            "entry_points.1",
        ),
        (
            format!("{BASE}[[agents]]\nid = \"a\"\nskills = {{ billing = 0 }}\n"),
            "agents[0].skills.billing",
        ),
        (
            format!("{BASE}[[customers]]\nid = \"c\"\ntier = \"gold\"\n"),
            "customers",
        ),
        (
            format!("{BASE}relaxation = [{{ after_secs = 60 }}, {{ after_secs = 30 }}]\n"),
            "relaxation",
        ),
    ];
    for (toml, key) in cases {
        let e = err(&toml);
        assert!(e.contains(key), "error {e:?} should name {key}");
    }
}

#[test]
fn the_binary_exits_non_zero_with_the_key_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, BASE.replace("min_proficiency = 3", "min_proficiency = 0")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "token",
            "--role",
            "admin",
            "--sub",
            "x",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("queues.billing.required_skills[0]"), "{stderr}");
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "--config",
            "/nonexistent.toml",
            "token",
            "--role",
            "admin",
            "--sub",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

#[test]
fn token_command_mints_a_verifiable_token() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["token", "--role", "supervisor", "--sub", "sup-1", "--ttl", "1h"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let default = Config::load(None).unwrap();
    let p = hotline::auth::TokenKeys::new(default.auth.secret.as_bytes())
        .verify(token.trim())
        .unwrap();
    assert_eq!(p.sub, "sup-1");
    assert_eq!(p.role, hotline::auth::Role::Supervisor);
}

#[test]
fn media_settings_are_checked_and_errors_name_the_key() {
    let with = |media: &str| format!("{BASE}\n[media]\n{media}\n");
    let ok = Config::from_toml(&with(
        "udp_ports = \"20000-29999\"\nips = [\"127.0.0.1\", \"::1\"]\nannounce_every_secs = 0",
    ))
    .expect("valid media settings");
    assert_eq!(ok.media.port_range().unwrap(), Some((20000, 29999)));
    for (media, needle) in [
        ("udp_ports = \"30000-20000\"", "media.udp_ports"),
        ("udp_ports = \"lots\"", "media.udp_ports"),
        ("udp_ports = \"0-10\"", "media.udp_ports"),
        ("ips = [\"not-an-ip\"]", "media.ips[0]"),
        ("flush_ms = 5", "media.flush_ms"),
        ("jitter_frames = 0", "media.jitter_frames"),
        ("hold_music = \"/no/such/file.ogg\"", "media.hold_music"),
        ("retention_days = -1", "media.retention_days"),
        ("sample_rate = 44100", "media"),
    ] {
        let e = err(&with(media));
        assert!(e.contains(needle), "{media}: {e:?} should name {needle}");
    }
}
