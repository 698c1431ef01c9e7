//! Headless Chromium for the browser tests (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver, with fake microphones playing
//! tone files, and the helpers the tests share to wait on and act on pages.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hotline::media::tone::sine;
use serde_json::json;

use super::media::AudioRig;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CALLER_HZ: f64 = 440.0;
pub const AGENT_HZ: f64 = 1000.0;
/// Generous: a browser start, ICE and DTLS on a busy 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// One browser test at a time: each runs several Chromiums and a server's
/// worth of WebRTC legs, too much to share two cores with another.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver on a free loopback port, killed when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    /// chromedriver and every browser it started (its process group): a
    /// failed test leaves no Chromium behind to load the machine.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn chromedriver() -> Driver {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install chromium chromium-driver (./scripts/test installs them)"
    );
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts (apt-get install chromium-driver; ./scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless Chromium whose microphone plays `audio` (looped), with media
/// permission granted and loopback ICE candidates allowed.
pub async fn browser(driver: &Driver, audio: &Path) -> Client {
    browser_with(driver, audio, &[]).await
}

/// The same, with more Chromium arguments.
pub async fn browser_with(driver: &Driver, audio: &Path, extra: &[String]) -> Client {
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-audio-capture={}", audio.display()),
        "--allow-loopback-in-peer-connection".into(),
        "--autoplay-policy=no-user-gesture-required".into(),
        // The audio service reads the fake capture file: keep it in
        // the browser process, outside its own sandbox.
        "--disable-features=AudioServiceOutOfProcess,AudioServiceSandbox".into(),
        "--window-size=1440,1000".into(),
    ];
    args.extend(extra.iter().cloned());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// A 48 kHz mono WAV of `freq` for a fake microphone.
pub fn tone_file(dir: &Path, name: &str, freq: f64) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
    for s in sine(freq, 48_000, 0, 48_000 * 10, 12_000) {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
    path
}

/// Waits until the page's JavaScript `condition` is true; on timeout fails
/// with what the page says (its error lines and text).
pub async fn until(page: &Client, condition: &str, what: &str) {
    let started = Instant::now();
    let deadline = started + PATIENCE;
    loop {
        let ok = page
            .execute(&format!("return Boolean({condition});"), vec![])
            .await
            .map(|v| v.as_bool() == Some(true))
            .unwrap_or(false);
        if ok {
            println!("{what}: {:.1} s", started.elapsed().as_secs_f64());
            return;
        }
        if Instant::now() > deadline {
            let text = page
                .execute(
                    "const errors = [...document.querySelectorAll('.error')].map(e => e.textContent).filter(t => t).join(' | ');\n\
                     const m = document.getElementById('monitor');\n\
                     const monitor = m ? JSON.stringify(m.dataset) : '';\n\
                     return 'errors: [' + errors + '] monitor: ' + monitor + '\\n' + document.body.innerText.slice(0, 3000);",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!(
                "{what}: not within {PATIENCE:?}; the page shows:\n{}",
                text.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The DOM text of the first element matching `css` (as written, not as
/// styled: the pages upper-case some labels).
pub async fn text(page: &Client, css: &str) -> String {
    let v = page
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![json!(css)],
        )
        .await
        .expect("script runs");
    v.as_str()
        .unwrap_or_else(|| panic!("{css} on the page"))
        .trim()
        .to_string()
}

pub async fn click(page: &Client, css: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

pub async fn select(page: &Client, css: &str, value: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
}

pub async fn screenshot(page: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let png = page.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
    path
}

pub fn web(rig: &AudioRig) -> SocketAddr {
    rig.server
        .server
        .as_ref()
        .and_then(|s| s.web_addr)
        .expect("the test server serves the web app")
}

/// Replaces what the input matching `css` holds with `value`, typed.
pub async fn type_into(page: &Client, css: &str, value: &str) {
    let el = page
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
    el.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    el.send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Opens agent `token`'s softphone page at `web` and waits until its desk
/// shows and its WebRTC audio is up.
pub async fn open_agent_page(page: &Client, web: SocketAddr, token: &str) {
    page.goto(&format!("http://{web}/agent.html#token={token}"))
        .await
        .expect("agent page");
    until(
        page,
        "!document.getElementById('desk').hidden",
        "the agent desk opens",
    )
    .await;
    until(
        page,
        "document.getElementById('audio-status').textContent === 'Softphone connected'",
        "the softphone's WebRTC session connects",
    )
    .await;
}

/// Makes the agent on `page` available from its state menu, and waits
/// until the page says so.
pub async fn go_available(page: &Client) {
    select(page, "#state-select", "available").await;
    until(
        page,
        "document.getElementById('state').textContent === 'Available'",
        "the agent is available",
    )
    .await;
}
