//! A loopback HTTP/1.1 peer for plugin tests: it records every request (method, target,
//! headers, body) and answers with whatever the test's closure says, optionally after a delay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the loopback server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, e.g. `/customers?cursor=c2&limit=2`.
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

type Respond = dyn Fn(&Received) -> (u16, String) + Send + Sync;
type Delay = dyn Fn() -> Duration + Send + Sync;

/// A loopback HTTP/1.1 server that records every request and answers it with `respond`.
pub struct Server {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub async fn start(
        respond: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static,
    ) -> Server {
        Server::start_with_delay(respond, || Duration::ZERO).await
    }

    /// Like [`Server::start`], but each answer, computed as soon as its request has arrived, is
    /// written only after `delay()` (asked anew for every request, so a test can slow the peer
    /// down mid-run). The wait is a `tokio::time::sleep`: other connections are served meanwhile.
    pub async fn start_with_delay(
        respond: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static,
        delay: impl Fn() -> Duration + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let respond: Arc<Respond> = Arc::new(respond);
        let delay: Arc<Delay> = Arc::new(delay);
        let (log, count) = (received.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(socket, respond.clone(), delay.clone(), log.clone()));
            }
        });
        Server {
            base,
            received,
            connections,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    respond: Arc<Respond>,
    delay: Arc<Delay>,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let (status, body) = respond(&request);
    log.lock().unwrap().push(request);
    let pause = delay();
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    let answer = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
}

async fn read_request(socket: &mut TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0_u8; 4096];
        let read = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (
        request_line.next()?.to_owned(),
        request_line.next()?.to_owned(),
    );
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .map_or(0, |n| n.parse().unwrap());
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0_u8; 4096];
        let read = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Received {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
