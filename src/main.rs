//! The `hotline` command: serve, demo, token.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use hotline::auth::{Role, TokenKeys};
use hotline::config::{Config, LogFormat};
use hotline::console::Connection;
use hotline::demo::{self, DemoOptions};
use hotline::time::Timestamp;

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call-center backend: skill-based ACD over gRPC"
)]
struct Cli {
    /// Configuration file (TOML). Without it the built-in example configuration is used.
    #[arg(long, global = true, env = "HOTLINE_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    /// Store: `memory` or `redis://host:port/db` (overrides store.url).
    #[arg(long, global = true)]
    store: Option<String>,
    #[command(subcommand)]
    command: Command,
}

fn output(out: &Option<PathBuf>) -> hotline::console::Output<'_> {
    match out {
        Some(p) => hotline::console::Output::File(p),
        None => hotline::console::Output::Speakers,
    }
}

#[derive(Subcommand)]
enum Loadgen {
    /// Measure the store: atomic agent claims per second and their latency.
    Claims {
        /// Agents to claim and release in turn.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Concurrent workers (each like a routing decision in flight).
        #[arg(long, default_value_t = 16)]
        workers: usize,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
    },
    /// The admin catalog at a directory's size, on two nodes in this
    /// process over a redis-server it starts: CSV import time and memory,
    /// the look-up by number at that size, and how soon an admin write on
    /// one node is in the other's catalog.
    Catalog {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        /// Admin writes timed from one node to the other.
        #[arg(long, default_value_t = 50)]
        writes: usize,
    },
    /// "Sign out everywhere" across two nodes on one Redis (a
    /// redis-server on a free port): the time from a revocation on one
    /// node to the other refusing the subject's token.
    Revocation {
        #[arg(long, default_value_t = 50)]
        revocations: usize,
    },
    /// Calls per second the routing engine carries through the store (each
    /// call arrives, is claimed, accepted, hung up and wrapped up), as the
    /// routing node of a cluster does.
    Routing {
        /// Agents, each taking call after call in a queue of its own.
        #[arg(long, default_value_t = 64)]
        agents: usize,
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
    },
    /// Concurrent bridged, recorded WebRTC calls through a `hotline serve`
    /// child process: its CPU per call-second, packet loss, recording
    /// bandwidth. One run per value of --calls.
    Calls {
        /// Concurrent calls, e.g. 100,200,500.
        #[arg(long, value_delimiter = ',', default_value = "50")]
        calls: Vec<usize>,
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        warmup: Duration,
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        measure: Duration,
        /// Working folder (config, recordings); a temporary one if unset.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Also run the calls across two nodes on one Redis (every caller
        /// on one, every agent on the other) after the same calls on one
        /// node on Redis, and report what the relay adds (needs
        /// redis-server on PATH).
        #[arg(long)]
        cross_node: bool,
    },
    /// Phone-network calls through the SIP trunk at a rate, answered by
    /// agents' registered SIP phones (sipp callers and phones; needs sipp):
    /// failed calls, concurrent calls, server CPU per call-second, recording
    /// bandwidth.
    Sip {
        /// Calls in all (the peak concurrency when the hold covers the ramp).
        #[arg(long, default_value_t = 600)]
        calls: usize,
        /// New calls per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        warmup: Duration,
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        measure: Duration,
        /// Working folder (config, recordings); a temporary one if unset.
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Listen address for gRPC (overrides server.grpc_listen).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run a simulated call center against an in-process server and print a report.
    Demo {
        /// How long callers keep arriving, e.g. 30s or 2m.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        duration: Duration,
        /// Mean caller arrivals per second.
        #[arg(long, default_value_t = 2.5)]
        rate: f64,
        /// Seed for the simulated agents and callers.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Serve Prometheus metrics here while the demo runs (default: a
        /// free port on 127.0.0.1, printed at start).
        #[arg(long)]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Serve the supervisor console and the other pages here while the
        /// demo runs (default: a free port on 127.0.0.1; the console's URL,
        /// with a supervisor token, is printed at start).
        #[arg(long)]
        web_listen: Option<std::net::SocketAddr>,
    },
    /// Load generators; their figures go in the notes.
    #[command(subcommand)]
    Loadgen(Loadgen),
    /// Listen to a live call (supervisor): play it on the sound device
    /// (`playback` feature) or write it to a stereo WAV file.
    Monitor {
        call_id: String,
        /// Write a WAV file (caller left, agent right) instead of playing.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this long (default: when the call ends).
        #[arg(long, value_parser = parse_duration)]
        seconds: Option<Duration>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Fetch a call's recording (supervisor): play it or save it.
    Play {
        recording_id: String,
        /// Save the WAV file here instead of playing it.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Print a contact-center report from a running server (or write CSV).
    Report {
        /// queues, agents, fcr, cases or staffing.
        #[arg(value_enum)]
        kind: hotline::report::cli::ReportKind,
        /// Start of the range: RFC 3339 ("2026-11-23T00:00:00Z"); default: 24 hours ago.
        #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
        from: Option<std::time::SystemTime>,
        /// End of the range (exclusive); default: now.
        #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
        to: Option<std::time::SystemTime>,
        /// How FCR rows are grouped.
        #[arg(long, value_enum, default_value = "queue")]
        by: hotline::report::cli::FcrBy,
        /// The staffing plan's day, YYYY-MM-DD in the center's zone
        /// (staffing.time_zone); default: today there.
        #[arg(long)]
        date: Option<String>,
        /// Only this queue (staffing).
        #[arg(long, default_value = "")]
        queue: String,
        /// Write CSV to this file ("-" for standard output) instead of a table.
        #[arg(long)]
        csv: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Ask a server's health service (exits non-zero unless SERVING): for
    /// container health checks and scripts.
    Health {
        /// The server's gRPC address (default: server.grpc_listen, on
        /// 127.0.0.1 when it listens on every interface).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// The name to ask about: "" (the whole server, readiness),
        /// "liveness", or a service such as hotline.v1.CallService.
        #[arg(long, default_value = "")]
        service: String,
    },
    /// Check the configuration (file, then HOTLINE_* environment) and print
    /// the result as JSON, the auth secret hidden; exits non-zero naming the
    /// bad key.
    Config,
    /// The admin catalog (as admin): export it to a file, or import one.
    #[command(subcommand)]
    Admin(hotline::console::admin::AdminCommand),
    /// Make a certificate authority and a server certificate it signed,
    /// for TLS on a laptop or in a lab (never for production).
    DevCert {
        /// Write ca.pem, cert.pem and key.pem here.
        #[arg(long, default_value = "dev-cert")]
        out: PathBuf,
        /// Host names or addresses the certificate is for, besides
        /// localhost, 127.0.0.1 and ::1 (repeat for several).
        #[arg(long)]
        host: Vec<String>,
    },
    /// Print a new recording key line for `[media] recording_keys_file`:
    /// `<id> <base64 of 32 random bytes>`. Put it first to seal new
    /// recordings with it; keep the older lines to play older recordings.
    RecordingKey {
        /// The key's id (stored in every recording it seals).
        #[arg(long)]
        id: String,
    },
    /// Mint a bearer token from the configured secret.
    Token {
        /// agent, supervisor, admin or telephony.
        #[arg(long)]
        role: Role,
        /// Subject: the agent id for agent tokens, any name otherwise.
        #[arg(long)]
        sub: String,
        /// Lifetime, e.g. 8h.
        #[arg(long, default_value = "8h", value_parser = parse_duration)]
        ttl: Duration,
    },
}

/// A duration on the command line: plain seconds (`10`) or with units
/// (`10s`, `2m`, `1h 30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| format!("{e}"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{e} (write seconds, e.g. 30, or with a unit: 30s, 2m)"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    if let Some(url) = cli.store {
        config.store.url = url;
        config.validate().context("checking --store")?;
    }
    let format = if cli.log_json {
        LogFormat::Json
    } else {
        config.log.format
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Loadgen(Loadgen::Calls {
            calls,
            warmup,
            measure,
            workdir,
            cross_node,
        }) => {
            use hotline::loadgen::calls::Topology;
            hotline::telemetry::init(format, "warn");
            let exe = std::env::current_exe().context("finding the hotline binary")?;
            let topologies = if cross_node {
                vec![Topology::SingleOnRedis, Topology::CrossNode]
            } else {
                vec![Topology::Single]
            };
            runtime.block_on(async {
                for n in calls {
                    let mut reports = Vec::new();
                    for &topology in &topologies {
                        let temp = tempfile_dir()?;
                        let opts = hotline::loadgen::calls::CallLoadOptions {
                            calls: n,
                            topology,
                            warmup,
                            measure,
                            server_exe: exe.clone(),
                            workdir: workdir.clone().unwrap_or_else(|| temp.clone()),
                        };
                        println!(
                            "loadgen calls: {n} concurrent recorded WebRTC calls ({topology}), measuring {}",
                            humantime::format_duration(measure)
                        );
                        let report = hotline::loadgen::calls::run(&opts).await;
                        let _ = std::fs::remove_dir_all(&temp);
                        let report = report?;
                        println!("{report}");
                        reports.push(report);
                    }
                    if let [single, cross] = reports.as_slice() {
                        println!("{}", hotline::loadgen::calls::relay_cost(single, cross));
                    }
                }
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Loadgen(Loadgen::Sip {
            calls,
            rate,
            warmup,
            measure,
            workdir,
        }) => {
            hotline::telemetry::init(format, "warn");
            let exe = std::env::current_exe().context("finding the hotline binary")?;
            runtime.block_on(async {
                let temp = tempfile_dir()?;
                let opts = hotline::loadgen::sip::SipLoadOptions {
                    calls,
                    rate,
                    warmup,
                    measure,
                    server_exe: exe,
                    workdir: workdir.unwrap_or_else(|| temp.clone()),
                };
                println!(
                    "loadgen sip: {calls} trunk calls at {rate}/s answered by SIP agent phones, recorded"
                );
                let report = hotline::loadgen::sip::run(&opts).await;
                let _ = std::fs::remove_dir_all(&temp);
                println!("{}", report?);
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Loadgen(Loadgen::Claims {
            agents,
            workers,
            duration,
        }) => {
            hotline::telemetry::init(format, "warn");
            let mut config = config;
            // Never measure against the shared namespace of a live cluster.
            config.store.namespace = format!("{}-loadgen", config.store.namespace);
            runtime.block_on(async {
                let store = hotline::server::open_store(&config)?;
                println!(
                    "loadgen claims: store {}, {agents} agents, {workers} workers, {}",
                    config.store.url,
                    humantime::format_duration(duration)
                );
                let report = hotline::loadgen::claims(store, agents, workers, duration).await?;
                println!("{report}");
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Loadgen(Loadgen::Catalog { customers, writes }) => {
            hotline::telemetry::init(format, "warn");
            runtime.block_on(async {
                println!(
                    "loadgen catalog: {customers} customers, {writes} timed writes, two nodes on one Redis"
                );
                let report = hotline::loadgen::catalog::catalog(&config, customers, writes).await?;
                println!("{report}");
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Loadgen(Loadgen::Revocation { revocations }) => {
            hotline::telemetry::init(format, "warn");
            runtime.block_on(async {
                println!("loadgen revocation: {revocations} subjects, two nodes on one Redis");
                let report = hotline::loadgen::revocation::revocation(&config, revocations).await?;
                println!("{report}");
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Loadgen(Loadgen::Routing { agents, duration }) => {
            hotline::telemetry::init(format, "warn");
            let mut config = config;
            // Never measure against the shared namespace of a live cluster.
            config.store.namespace = format!(
                "{}-loadgen-{}",
                config.store.namespace,
                uuid::Uuid::now_v7().simple()
            );
            runtime.block_on(async {
                let store = hotline::server::open_store(&config)?;
                println!(
                    "loadgen routing: store {}, {agents} agents, {}",
                    config.store.url,
                    humantime::format_duration(duration)
                );
                let report = hotline::loadgen::routing::routing(store, agents, duration).await?;
                println!("{report}");
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Health { addr, service } => {
            let addr = addr.unwrap_or_else(|| {
                let mut a = config.server.grpc_listen;
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                a
            });
            let status = runtime.block_on(hotline::client::health_status(addr, &service))?;
            println!("{status}");
            if status != "SERVING" {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Config => {
            let shown = config.redacted();
            println!(
                "{}",
                serde_json::to_string_pretty(&shown).context("printing the configuration")?
            );
            Ok(())
        }
        Command::Monitor {
            call_id,
            out,
            seconds,
            conn,
        } => {
            hotline::telemetry::init(format, "warn");
            runtime.block_on(async {
                let mut c = conn.clients(&config).await?;
                let limit = seconds.map(|d| (d.as_millis() / 20) as u64);
                let frames = hotline::console::monitor(&mut c, &call_id, output(&out), limit).await?;
                eprintln!("monitored {call_id}: {:.1} s of audio", frames as f64 / 50.0);
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Play {
            recording_id,
            out,
            conn,
        } => {
            hotline::telemetry::init(format, "warn");
            runtime.block_on(async {
                let mut c = conn.clients(&config).await?;
                let rec = hotline::console::play(&mut c, &recording_id, output(&out)).await?;
                eprintln!(
                    "recording {}: agent {}, queue {}, caller {}, {:.1} s",
                    rec.recording_id,
                    rec.agent_id,
                    rec.queue,
                    rec.ani,
                    rec.duration_ms as f64 / 1000.0
                );
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::Admin(cmd) => {
            hotline::telemetry::init(format, "warn");
            Ok(runtime.block_on(hotline::console::admin::run(cmd, &config))?)
        }
        Command::Report {
            kind,
            from,
            to,
            by,
            date,
            queue,
            csv,
            conn,
        } => {
            hotline::telemetry::init(format, "warn");
            let ms = |t: std::time::SystemTime| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0)
            };
            let now = std::time::SystemTime::now();
            let to_ms = ms(to.unwrap_or(now));
            let from_ms = from.map(ms).unwrap_or(to_ms - 24 * 3_600_000);
            runtime.block_on(async {
                let mut c = conn.clients(&config).await?;
                let date = date.unwrap_or_else(|| {
                    let zone = jiff::tz::db()
                        .get(&config.staffing.time_zone)
                        .unwrap_or(jiff::tz::TimeZone::UTC);
                    jiff::Timestamp::now().to_zoned(zone).date().to_string()
                });
                let ask = hotline::report::cli::Ask {
                    from_ms,
                    to_ms,
                    by,
                    date,
                    queue,
                };
                let table = hotline::report::cli::fetch(&mut c, kind, &ask).await?;
                match csv {
                    Some(path) if path.as_os_str() == "-" => table.write_csv(std::io::stdout().lock())?,
                    Some(path) => {
                        let file = std::fs::File::create(&path)
                            .with_context(|| format!("creating {}", path.display()))?;
                        table.write_csv(file)?;
                        eprintln!("wrote {} rows to {}", table.rows.len(), path.display());
                    }
                    None => print!("{table}"),
                }
                Ok::<_, anyhow::Error>(())
            })
        }
        Command::RecordingKey { id } => {
            println!("{}", hotline::media::sealed::new_key_line(&id)?);
            Ok(())
        }
        Command::DevCert { out, host } => {
            let made = hotline::tls::dev_cert::write(&out, &host)?;
            println!(
                "wrote {}, {} and {}",
                made.ca_file.display(),
                made.cert_file.display(),
                made.key_file.display()
            );
            println!(
                "\nServe it (configuration):\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}",
                made.cert_file.display().to_string(),
                made.key_file.display().to_string(),
                made.ca_file.display().to_string()
            );
            println!("\nBrowsers: import {} as a trusted authority, or start Chromium with\n--ignore-certificate-errors-spki-list={}", made.ca_file.display(), made.spki_sha256);
            Ok(())
        }
        Command::Token { role, sub, ttl } => {
            let keys = TokenKeys::new(config.auth.secret.as_bytes());
            println!("{}", keys.mint(role, &sub, ttl, Timestamp::now_wall())?);
            Ok(())
        }
        Command::Serve { listen } => {
            hotline::telemetry::init(format, "info");
            if let Some(addr) = listen {
                config.server.grpc_listen = addr;
            }
            runtime.block_on(serve(config))
        }
        Command::Demo {
            duration,
            rate,
            seed,
            metrics_listen,
            web_listen,
        } => {
            // The demo prints its own status; logs stay at warnings unless RUST_LOG asks.
            hotline::telemetry::init(format, "warn");
            let opts = DemoOptions {
                duration,
                calls_per_second: rate,
                seed,
                metrics_listen,
                web_listen,
                ..DemoOptions::default()
            };
            println!(
                "hotline demo: {} agents, {} queues, ~{rate} calls/s for {}",
                config.agents.len(),
                config.queues.len(),
                humantime::format_duration(duration)
            );
            let report = runtime.block_on(demo::run(config, opts))?;
            print!("{report}");
            Ok(())
        }
    }
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hotline-loadgen-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = hotline::server::start(&config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_plain_seconds_and_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3").is_err());
    }

    #[test]
    fn the_demo_takes_its_duration_in_plain_seconds() {
        let cli = Cli::try_parse_from(["hotline", "demo", "--duration", "10"]).expect("plain seconds");
        match cli.command {
            Command::Demo { duration, .. } => assert_eq!(duration, Duration::from_secs(10)),
            _ => panic!("the demo command"),
        }
    }
}
