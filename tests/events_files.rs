//! Every file in `events/` is a real event (valid for `sam local invoke`) and is fed to its
//! function's handler here, which must answer as the file's name says.

mod support;

use std::path::PathBuf;

use bnb::domain::room::{Room, RoomDetails, RoomInput};
use bnb::domain::{RoomId, UserId};
use bnb::rooms::RoomStore;
use bnb::storage::WriteOp;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Every events/ file, the status its handler must answer with.
const EXPECTED: &[(&str, u16)] = &[
    ("register-room-created.json", 201),
    ("register-room-invalid.json", 400),
    ("register-room-not-a-host.json", 403),
    ("get-room-found.json", 200),
    ("get-room-not-found.json", 404),
];

#[test]
fn every_events_file_is_exercised() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every events/ file has an expected answer here, and every listed one exists");
}

#[tokio::test]
async fn events_files_get_the_answers_their_names_promise() {
    let (table, _dir) = support::embedded_table(bnb::tables::rooms());
    let store = RoomStore::new(table.clone());
    for (file, expected) in EXPECTED {
        let text = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file} is not an API Gateway v2 event: {e}"));
        if file.starts_with("get-room-found") {
            // The room the event asks for exists.
            let id = bnb::http::path_param(&request, "roomId").unwrap();
            let mut room = Room::register(UserId::new("host-hana"), RoomDetails::validate(RoomInput {
                title: "Hanok".into(), city: "Seoul".into(), address: "1 Bukchon-ro".into(), capacity: 2,
                price_amount: 120_000, price_currency: "KRW".into(), ..Default::default()
            }).unwrap(), time::OffsetDateTime::now_utc());
            room.id = RoomId::parse(&id).unwrap();
            table.write(vec![WriteOp::put(RoomStore::to_item(&room).unwrap())]).await.unwrap();
        }
        let response = match file.split('-').take(2).collect::<Vec<_>>().join("-").as_str() {
            "register-room" => register_room::handle(&store, request).await.unwrap(),
            "get-room" => get_room::handle(&store, request).await.unwrap(),
            other => panic!("no handler for {other} ({file})"),
        };
        let (status, content_type, body) = support::answer(response);
        assert_eq!(status, *expected, "{file}: {body}");
        let want_type = if status < 400 { "application/json" } else { "application/problem+json" };
        assert_eq!(content_type, want_type, "{file}");
    }
}
