//! The upstream for `benches/load.sh`: a plain hyper server on loopback
//! with the pages the load benchmark asks for. `cargo bench` runs it with
//! no arguments, and then it does nothing.
//!
//! `cargo bench --bench load_upstream -- --serve 127.0.0.1:18080`
//!
//! - `/page.html`: a 60 KB clinic page with no personal data;
//! - `/api.json`: a 1 KB JSON answer with no personal data;
//! - `/big.html`: 10 MB of the page, streamed in 64 KB chunks.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

mod data;

fn main() {
    let mut args = std::env::args().skip_while(|a| a != "--serve").skip(1);
    let Some(addr) = args.next() else { return };
    let addr: SocketAddr = addr.parse().expect("an address");
    assert!(addr.ip().is_loopback(), "loopback only");
    let page = Bytes::from(data::clean_html(60 * 1024));
    let json = Bytes::from(data::clean_json(1024));
    let chunk = Bytes::from(data::clean_html(64 * 1024));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(addr).await.unwrap();
        eprintln!("load_upstream: serving on http://{addr}");
        loop {
            let Ok((s, _)) = l.accept().await else {
                continue;
            };
            let _ = s.set_nodelay(true);
            let (page, json, chunk) = (page.clone(), json.clone(), chunk.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (page, json, chunk) = (page.clone(), json.clone(), chunk.clone());
                    async move {
                        let r: Response<BoxBody<Bytes, Infallible>> = match req.uri().path() {
                            "/page.html" => Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(Full::new(page).boxed())
                                .unwrap(),
                            "/api.json" => Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(json).boxed())
                                .unwrap(),
                            "/big.html" => {
                                let n = (10 << 20) / chunk.len();
                                let frames = (0..n)
                                    .map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone())));
                                Response::builder()
                                    .header("content-type", "text/html; charset=utf-8")
                                    .body(StreamBody::new(tokio_stream::iter(frames)).boxed())
                                    .unwrap()
                            }
                            _ => Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new()).boxed())
                                .unwrap(),
                        };
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
}
