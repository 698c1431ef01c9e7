//! A remote agent's browser over HTTPS. Chromium reaches hotline by a host
//! name (mapped to loopback, as a remote host would be reached), so only
//! TLS makes the page a secure context. Served plain, the agent page is
//! not one: the browser offers it no microphone. Served with a certificate
//! `hotline dev-cert` made for that name, it is one: the softphone gets the
//! fake microphone, connects, and the agent takes a call the caller hears.

mod common;

use common::browser::{
    browser_with, chromedriver, click, text, tone_file, until, web, AGENT_HZ, ONE_AT_A_TIME,
};
use common::media::{hears, tail_power, AudioRig};
use hotline::auth::Role;
use hotline::client::softphone::tone;

/// The name a remote agent's browser uses for the server.
const HOST: &str = "agents.hotline.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_page_served_over_https_gets_a_microphone_and_takes_a_call_and_over_plain_http_does_not() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let certs = tempfile::tempdir().expect("tempdir");
    let made = hotline::tls::dev_cert::write(certs.path(), &[HOST.to_string()]).expect("dev cert");
    let files = tempfile::tempdir().expect("tempdir");
    let mic = tone_file(files.path(), "agent.wav", AGENT_HZ);
    let driver = chromedriver();
    let chromium_args = [
        format!("--host-resolver-rules=MAP {HOST} 127.0.0.1"),
        // Trust this one server key, as a browser that imported the
        // dev authority would.
        format!("--ignore-certificate-errors-spki-list={}", made.spki_sha256),
    ];

    // Plain HTTP by name: not a secure context, so no microphone.
    let plain = AudioRig::start().await;
    let page = browser_with(&driver, &mic, &chromium_args).await;
    page.goto(&format!("http://{HOST}:{}/agent.html", web(&plain).port()))
        .await
        .expect("plain page");
    until(
        &page,
        "document.readyState === 'complete'",
        "the plain page loads",
    )
    .await;
    let secure = page
        .execute(
            "return [window.isSecureContext, Boolean(navigator.mediaDevices)];",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        secure,
        serde_json::json!([false, false]),
        "plain HTTP gets no microphone"
    );
    let _ = page.close().await;

    // The same page over HTTPS.
    let config = common::CONFIG.replacen("ring_timeout_secs = 2", "ring_timeout_secs = 30", 1);
    let tls = format!(
        "{config}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
        made.cert_file.display().to_string(),
        made.key_file.display().to_string(),
        made.ca_file.display().to_string(),
    );
    let rig = AudioRig::on_config(&tls, "").await;
    let page = browser_with(&driver, &mic, &chromium_args).await;
    let token = rig.server.token(Role::Agent, "alice");
    page.goto(&format!(
        "https://{HOST}:{}/agent.html#token={token}",
        web(&rig).port()
    ))
    .await
    .expect("https page");
    until(
        &page,
        "window.isSecureContext === true",
        "HTTPS makes the page a secure context",
    )
    .await;
    until(
        &page,
        "document.getElementById('audio-status').textContent === 'Softphone connected'",
        "the softphone gets the microphone and connects",
    )
    .await;
    common::browser::select(&page, "#state-select", "available").await;
    until(
        &page,
        "document.getElementById('state').textContent === 'Available'",
        "alice is available",
    )
    .await;
    let call = rig.server.start_call("+2000", "100").await;
    let caller = rig.caller(&call.call_id, tone(440.0, 8000)).await;
    until(
        &page,
        "!document.getElementById('offer').hidden",
        "the offer shows",
    )
    .await;
    assert_eq!(text(&page, "#offer-queue").await, "billing");
    click(&page, "#accept").await;
    until(
        &page,
        "!document.getElementById('live').hidden",
        "the call is live",
    )
    .await;
    let from = caller.heard_len();
    let heard = hears(&caller, from, AGENT_HZ, 1.0, 0.3).await;
    assert!(
        tail_power(&heard, AGENT_HZ, 1.0) > 0.3,
        "the caller hears the agent's microphone ({:.2})",
        tail_power(&heard, AGENT_HZ, 1.0)
    );
    click(&page, "#hangup").await;
    until(&page, "!document.getElementById('wrapup').hidden", "wrap-up").await;
    let _ = page.close().await;
}
