//! What operators read: logs written to a file or a pipe are plain text,
//! without a terminal's colour codes.

mod common;

use std::time::{Duration, Instant};

use common::process::Node;

#[test]
fn a_servers_log_to_a_file_carries_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "skills = [\"billing\"]\n[auth]\nsecret = \"logs-secret-0123456789abcdef\"\n[entry_points]\n\"100\" = \"billing\"\n[queues.billing]\nrequired_skills = [{{ skill = \"billing\", min_proficiency = 1 }}]\n[store]\nurl = \"memory\"\ndata_file = \"\"\n[web]\nlisten = \"\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[media]\nrecordings_dir = \"{}\"\n",
            dir.path().join("recordings").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("hotline.log");
    let node = Node::start_with(&config, "logs", &[], Some(&log));
    // Wait for the line that says it serves (info, so the log has lines of
    // every part: levels, targets, fields).
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("hotline serving") {
            break text;
        }
        assert!(
            Instant::now() < deadline && !text.contains("Error:"),
            "the server did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(node);
    assert!(text.contains("INFO"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a log file: {text:?}");
}
