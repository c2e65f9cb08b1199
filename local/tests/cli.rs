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
        &["messages", "--help"],
        &["seed", "--help"],
        &["env-json", "--help"],
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

/// `bnb-local messages` lists what each phone received from the local dealer: the AlimTalk to a
/// KakaoTalk user, the SMS fallback to anyone else, oldest first.
#[tokio::test]
async fn messages_lists_what_each_phone_received() {
    use bnb_contexts::domain::notification::Locale;
    use bnb_contexts::notifications::templates::{render, Facts};
    use bnb_contexts::notifications::{AlimTalk, Dealer, Fallback};
    let dir = tempfile::tempdir().unwrap();
    let store = bnb_embedded::EmbeddedStore::open(bnb_local::runtime::database_path(dir.path())).unwrap();
    let mailbox = bnb_embedded::EmbeddedMailbox::open(store).await.unwrap();
    let m = render("payment-refunded", Locale::Korean, &Facts { amount: Some(bnb_contexts::domain::Money::new(240000, "KRW").unwrap()), ..Facts::default() });
    for (reference, phone) in [("n1:minho", "+821012345678"), ("n1:jane", "+14155550100")] {
        let message = AlimTalk {
            reference: reference.into(),
            template_code: m.code.clone(),
            phone_number: phone.into(),
            parameters: m.parameters.clone(),
            fallback: Fallback::for_text(&m.text),
            text: m.text.clone(),
            maybe_sent_before: false,
        };
        mailbox.send(&message).await.unwrap();
    }
    drop(mailbox);
    let (ok, out, err) = bnb_local(dir.path(), &["messages"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("ALIMTALK") && lines[0].contains("+821012345678") && lines[0].contains("BNB_REFUNDED_KO") && lines[0].contains("환불되었습니다"),
        "{out}"
    );
    assert!(lines[1].contains("SMS") && lines[1].contains("+14155550100"), "{out}");
    assert!(err.contains("2 message(s)"), "{err}");
}
