//! The `bnb-local` command line, run as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn bnb_local(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_bnb-local"))
        .args(["--data-dir", dir.to_str().unwrap(), "--template", template.to_str().unwrap()])
        .args(args)
        .output()
        .expect("run bnb-local");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_subcommand_answers_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["up", "--help"],
        &["token", "--help"],
        &["demo", "--help"],
        &["status", "--help"],
        &["dlq", "--help"],
        &["dlq", "redrive", "--help"],
    ] {
        let (ok, out, _) = bnb_local(dir.path(), args);
        assert!(ok && out.contains("Usage"), "{args:?}");
    }
}

#[test]
fn token_status_and_dlq_tools_work_on_a_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, token, _) = bnb_local(dir.path(), &["token", "--sub", "alice", "--groups", "guest,host"]);
    assert!(ok && token.trim().split('.').count() == 3, "a JWT: {token}");
    let (ok, list, err) = bnb_local(dir.path(), &["dlq", "list"]);
    assert!(ok, "{err}");
    for dlq in ["view-projector-dlq", "payment-handler-dlq", "publish-events-dlq"] {
        assert!(list.contains(dlq), "{list}");
    }
    let (ok, shown, err) = bnb_local(dir.path(), &["dlq", "show", "view-projector-dlq"]);
    assert!(ok && shown.is_empty() && err.contains("0 message(s)"), "{shown} {err}");
    let (ok, moved, err) = bnb_local(dir.path(), &["dlq", "redrive", "view-projector-dlq"]);
    assert!(ok && moved.contains("moved 0 message(s)"), "{moved} {err}");
    let (ok, _, err) = bnb_local(dir.path(), &["dlq", "redrive", "view-projector-queue"]);
    assert!(!ok && err.contains("not a dead-letter queue"), "{err}");
    let (ok, status, err) = bnb_local(dir.path(), &["status"]);
    assert!(ok, "{err}");
    assert!(status.contains("view-projector-queue") && status.contains("rooms -> publish-events") && status.contains("payment breaker: Closed"), "{status}");
}
