//! `latchkey-bench-hello PORT`: `GET /` answers "Hello, World!" on 127.0.0.1:PORT (tokio multi-thread,
//! one worker per core, as `latchkey serve` runs). The denominator of every ratio in BENCHMARKS.md.

use axum::{routing::get, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8300);
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("hello-world listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await
}
