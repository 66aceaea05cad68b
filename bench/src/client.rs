//! One keep-alive HTTP/1.1 client connection, driven by the task that uses it.
//!
//! hyper's usual pattern spawns a task that drives the connection and hands requests to it
//! over a channel, which costs two task wake-ups per request. Here the caller's task polls the
//! connection itself while it waits for the answer, so a load generator with N connections is
//! N tasks and spends as little as possible of the CPU it shares with the server under test.

use std::net::SocketAddr;
use std::pin::Pin;

use anyhow::{Context, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The request body type of every connection: requests are small and fully buffered.
pub type RequestBody = Full<Bytes>;

type Driver = http1::Connection<TokioIo<TcpStream>, RequestBody>;

/// A complete response: status and the whole body.
#[derive(Debug)]
pub struct Answer {
    /// Response status.
    pub status: StatusCode,
    /// Response body, read to the end (which is what lets the connection be reused).
    pub body: Bytes,
}

/// An open keep-alive connection to one server.
pub struct Connection {
    sender: http1::SendRequest<RequestBody>,
    driver: Pin<Box<Driver>>,
    host: HeaderValue,
}

impl Connection {
    /// Connects to `address` and completes the HTTP/1.1 handshake.
    pub async fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        // Load generators (wrk, oha) disable Nagle's algorithm so a request is never held back
        // waiting for an earlier segment's acknowledgement.
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream)).await?;
        let host = HeaderValue::from_str(&address.to_string())?;
        Ok(Connection {
            sender,
            driver: Box::pin(driver),
            host,
        })
    }

    /// A `GET` of `path` (origin form, e.g. `/healthz`) with the `Host` header of this
    /// connection; further headers can be added before sending.
    pub fn get(&self, path: &str) -> anyhow::Result<Request<RequestBody>> {
        Ok(Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.host.clone())
            .body(Full::new(Bytes::new()))?)
    }

    /// A `POST` of `json` to `path`.
    pub fn post_json(
        &self,
        path: &str,
        json: &serde_json::Value,
    ) -> anyhow::Result<Request<RequestBody>> {
        Ok(Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(json)?)))?)
    }

    /// Sends `request` and reads the whole response. An error means the connection is no
    /// longer usable; open a new one.
    pub async fn send(&mut self, request: Request<RequestBody>) -> anyhow::Result<Answer> {
        let Connection { sender, driver, .. } = self;
        let exchange = async {
            // After a response the connection must be polled once more before it takes the
            // next request; `ready` waits for that while the select below polls it.
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer { status, body })
        };
        tokio::select! {
            answer = exchange => answer,
            ended = driver.as_mut() => match ended {
                Ok(()) => Err(anyhow!("the server closed the connection")),
                Err(e) => Err(anyhow!(e).context("the connection failed")),
            },
        }
    }
}
