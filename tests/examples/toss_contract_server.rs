//! Toss Payments' contract server (tests/support/toss.rs) on its own, for the browser story of
//! paying with Toss (tests/browser/pay_with_toss.py): prints its URL, then serves until killed.
//! Built by `cargo test` (as every example is) and by scripts/test.sh.

#[allow(dead_code)] // the story uses the server, not its test helpers
#[path = "../support/toss.rs"]
mod toss;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = toss::TossServer::start().await;
    println!("{}", server.url);
    // Until the story stops it (SIGTERM).
    std::future::pending::<()>().await;
}
