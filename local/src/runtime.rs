//! Starting and stopping the local system.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bnb::storage::embedded::EmbeddedStore;
use bnb::storage::Table;
use http::Method;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::Authority;
use crate::functions::{http_functions, Tables};
use crate::gateway::{Gateway, Route};

/// Where the local system keeps its state and listens.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
}

/// The HTTP API's routes, as `template.yaml` declares them.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::POST, "/rooms", register_room::NAME, true),
        Route::new(Method::GET, "/rooms/{roomId}", get_room::NAME, false),
    ]
}

/// The database file inside a data folder.
pub fn database_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("bnb.db")
}

/// A running local system.
pub struct Running {
    pub addr: SocketAddr,
    pub routes: Vec<Route>,
    pub store: EmbeddedStore,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets the ones in flight finish, and returns.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.await.map_err(std::io::Error::other)?
    }

    /// Runs until the server ends (Ctrl-C is wired by the caller through [`Running::stop`]).
    pub async fn wait(self) -> std::io::Result<()> {
        self.server.await.map_err(std::io::Error::other)?
    }
}

/// Opens the store in the data folder, links every function and serves the API on 127.0.0.1.
pub async fn start(config: LocalConfig) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let store = EmbeddedStore::open(database_path(&config.data_dir))?;
    let authority = Authority::load_or_create(&config.data_dir)?;
    let rooms: Arc<dyn Table> = Arc::new(store.table(bnb::tables::rooms()));
    let tables = Tables { rooms };
    let routes = routes();
    let gateway = Arc::new(Gateway { routes: routes.clone(), functions: http_functions(&tables), authority });
    for route in &routes {
        if !gateway.functions.contains_key(route.function.as_str()) {
            return Err(format!("route {} names function {}, which bnb-local does not link", route.key(), route.function).into());
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = gateway.router().into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running { addr, routes, store, shutdown: Some(tx), server })
}
