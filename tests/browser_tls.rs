//! A remote agent's browser over HTTPS. Chromium reaches hotline by a host
//! name (mapped to loopback, as a remote host would be reached), so only
//! TLS makes the page a secure context. Served plain, the agent page is
//! not one: the browser offers it no microphone. Served with a certificate
//! `hotline dev-cert` made for that name, it is one: the agent signs in
//! through a real OpenID Connect provider (code flow with PKCE), the
//! softphone gets the fake microphone and connects relay-only through a
//! real coturn, and the agent takes a call: the caller hears the agent,
//! and the recording holds both tones.

mod common;

use common::browser::{
    browser_with, chromedriver, click, select, text, tone_file, type_into, until, web, AGENT_HZ, CALLER_HZ,
    ONE_AT_A_TIME,
};
use common::media::{assert_sides, finished_recording, hears, tail_power, AudioRig};
use common::oidc::Provider;
use common::turn::Turn;
use hotline::client::softphone::tone;

/// The name a remote agent's browser uses for the server.
const HOST: &str = "agents.hotline.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_page_over_https_signs_in_through_the_identity_provider_and_takes_a_relayed_call_and_over_plain_http_gets_no_microphone(
) {
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

    // The same page over HTTPS, signing in through the identity
    // provider, with relay-only ICE through coturn.
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let page_url = format!("https://{HOST}:{web_port}/agent.html");
    let provider = Provider::start(
        std::slice::from_ref(&page_url),
        serde_json::json!({ "alice": { "roles": ["agent"] } }),
        // Short-lived, so the page refreshes silently during the test.
        6,
    );
    let turn = Turn::start(files.path());
    let config = common::CONFIG
        .replacen("ring_timeout_secs = 2", "ring_timeout_secs = 30", 1)
        .replacen(
            "[web]\nlisten = \"127.0.0.1:0\"",
            &format!("[web]\nlisten = \"127.0.0.1:{web_port}\""),
            1,
        );
    let tls = format!(
        "{config}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n\
         [oidc]\nissuer = {:?}\naudience = {:?}\nclient_id = {:?}\n{}",
        made.cert_file.display().to_string(),
        made.key_file.display().to_string(),
        made.ca_file.display().to_string(),
        provider.issuer,
        common::oidc::AUDIENCE,
        common::oidc::CLIENT_ID,
        turn.config(true),
    );
    let rig = AudioRig::on_config(&tls, "").await;
    let page = browser_with(&driver, &mic, &chromium_args).await;
    page.goto(&page_url).await.expect("https page");
    until(
        &page,
        "window.isSecureContext === true",
        "HTTPS makes the page a secure context",
    )
    .await;
    until(
        &page,
        "!document.getElementById('sso').hidden",
        "the page offers single sign-on",
    )
    .await;
    click(&page, "#sso").await;
    // The provider's own sign-in page, then its consent page.
    until(
        &page,
        "document.querySelector('input[name=login]') !== null",
        "the identity provider asks who is signing in",
    )
    .await;
    type_into(&page, "input[name=login]", "alice").await;
    type_into(&page, "input[name=password]", "her password").await;
    click(&page, "button[type=submit]").await;
    until(
        &page,
        "document.querySelector('input[name=prompt][value=consent]') !== null",
        "the identity provider asks for consent",
    )
    .await;
    click(&page, "button[type=submit]").await;
    until(
        &page,
        "document.getElementById('who')?.textContent === 'alice'",
        "back on the agent page, signed in as alice by the provider's token",
    )
    .await;
    until(
        &page,
        "document.getElementById('audio-status').textContent === 'Softphone connected'",
        "the softphone gets the microphone and connects",
    )
    .await;
    until(
        &page,
        "document.getElementById('remote').dataset.path === 'relay'",
        "the agent's audio goes through coturn",
    )
    .await;
    until(
        &page,
        "Number(document.body.dataset.ssoRefreshed ?? 0) >= 1",
        "the page refreshes its token silently before it expires",
    )
    .await;
    // ... and works on with the refreshed token.
    select(&page, "#state-select", "available").await;
    until(
        &page,
        "document.getElementById('state').textContent === 'Available'",
        "alice is available",
    )
    .await;
    let call = rig.server.start_call("+2000", "100").await;
    let caller = rig.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
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
    // Both tones crossed: the caller's on the left, the relayed agent's on
    // the right.
    let rec = finished_recording(&rig, &call.call_id).await;
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the caller", "the agent's browser through coturn"),
    );
    assert!(turn.log_text().contains(":alice"), "coturn relayed for alice");
    let _ = page.close().await;
}
