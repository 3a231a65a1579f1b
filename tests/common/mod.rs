//! What the proxy tests share: a real upstream hyper server on loopback
//! that records what reaches it, a real client, the proxy started from a
//! config text, and a reader for `/metrics`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use zaslon::proxy::{Overrides, Running, Source, start};

pub const SNILS: &str = "112-233-445 95";
pub const SNILS_MASKED: &str = "***-***-*** 95";

/// Clean Russian markup, to pad bodies.
pub fn filler(n: usize) -> String {
    let line = "<li>Отделение химиотерапии: приём с 9:00 до 18:00, кабинет 214.</li>\n";
    let mut s = line.repeat(n / line.len() + 1);
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.extend(std::iter::repeat_n(' ', n - end));
    s
}

pub fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(data).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        other => panic!("no coding {other}"),
    }
}

pub fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .map(|_| ())
            .unwrap(),
        "deflate" => flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .map(|_| ())
            .unwrap(),
        "br" => brotli::Decompressor::new(data, 4096)
            .read_to_end(&mut out)
            .map(|_| ())
            .unwrap(),
        "zstd" => out = zstd::decode_all(data).unwrap(),
        "" => out = data.to_vec(),
        other => panic!("no coding {other}"),
    }
    out
}

/// A request as the upstream got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type Body = BoxBody<Bytes, Infallible>;

fn reply(ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .header("content-type", ctype)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

fn chunked(ctype: &str, chunks: Vec<Bytes>, encoding: Option<&str>) -> Response<Body> {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        chunks.into_iter().map(|c| Ok(Frame::data(c))).collect();
    let mut b = Response::builder().header("content-type", ctype);
    if let Some(e) = encoding {
        b = b.header("content-encoding", e);
    }
    b.body(StreamBody::new(tokio_stream::iter(frames)).boxed())
        .unwrap()
}

/// The pages the upstream serves, by path.
pub async fn page(path: &str, query: &str) -> Response<Body> {
    let coding = query.strip_prefix("enc=").unwrap_or("");
    match path {
        "/clean" => reply("text/html; charset=utf-8", "<p>Часы работы: 9:00–21:00</p>"),
        "/patient" => reply("text/html", format!("<td>СНИЛС {SNILS}</td>")),
        "/stream" => chunked(
            "text/html",
            vec![Bytes::from("<p>СНИЛС 112-23"), Bytes::from("3-445 95</p>")],
            None,
        ),
        "/export" => {
            let mut s = String::from("[");
            for i in 0..30u64 {
                s.push_str(&format!(
                    "{{\"phone\":\"+7 999 {:03} {:02} 07\"}},",
                    i,
                    i % 100
                ));
            }
            s.push(']');
            reply("application/json", s)
        }
        // Compressed, with a length: held and scanned whole.
        "/z/patient" => {
            let body = format!("{}<td>СНИЛС {SNILS}</td>{}", filler(3000), filler(3000));
            let mut r = reply("text/html", encode(coding, body.as_bytes()));
            r.headers_mut()
                .insert("content-encoding", coding.parse().unwrap());
            r.headers_mut().insert("etag", "\"v1\"".parse().unwrap());
            r
        }
        "/z/clean" => {
            let mut r = reply("text/html", encode(coding, filler(20_000).as_bytes()));
            r.headers_mut()
                .insert("content-encoding", coding.parse().unwrap());
            r
        }
        // Compressed and streamed in small pieces, no length, the SNILS
        // deep inside: decoded, masked and encoded again as it flows.
        "/z/stream" => {
            let body = format!(
                "{}<td>СНИЛС {SNILS}</td>{}",
                filler(400_000),
                filler(100_000)
            );
            let enc = encode(coding, body.as_bytes());
            let chunks = enc.chunks(997).map(Bytes::copy_from_slice).collect();
            chunked("text/html", chunks, Some(coding))
        }
        // 64 MiB of zeros in a few KiB.
        "/z/bomb" => {
            let mut r = reply("text/plain", encode(coding, &vec![b'0'; 64 << 20]));
            r.headers_mut()
                .insert("content-encoding", coding.parse().unwrap());
            r
        }
        "/z/bombstream" => {
            let enc = encode(coding, &vec![b'0'; 64 << 20]);
            let chunks = enc.chunks(4096).map(Bytes::copy_from_slice).collect();
            chunked("text/plain", chunks, Some(coding))
        }
        "/z/corrupt" => {
            let mut good = encode(coding, format!("СНИЛС {SNILS} {}", filler(5000)).as_bytes());
            let n = good.len();
            good[n / 2..].iter_mut().for_each(|b| *b ^= 0x5a);
            let mut r = reply("text/html", good);
            r.headers_mut()
                .insert("content-encoding", coding.parse().unwrap());
            r
        }
        "/compress" => {
            let mut r = reply("text/html", format!("СНИЛС {SNILS}"));
            r.headers_mut()
                .insert("content-encoding", "compress".parse().unwrap());
            r
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            reply("text/plain", "late")
        }
        _ => Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
    }
}

/// An upstream that answers by path and records every request.
pub struct Upstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    pub fn last(&self, path: &str) -> Option<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r.path_and_query.starts_with(path))
            .cloned()
    }
}

pub async fn upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let rec = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let rec = rec.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let rec = rec.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let pq = parts
                            .uri
                            .path_and_query()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default();
                        rec.lock().unwrap().push(Received {
                            path_and_query: pq,
                            headers: parts.headers.clone(),
                            body,
                        });
                        let query = parts.uri.query().unwrap_or("");
                        // `/open/x` serves what `/x` does, for routes by prefix.
                        let path = parts.uri.path();
                        let path = path.strip_prefix("/open").unwrap_or(path);
                        Ok::<_, Infallible>(page(path, query).await)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Upstream { addr, received }
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "zaslon-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The proxy, started from a config text whose `{up}` and `{audit}` are
/// filled in.
pub async fn proxy(scratch: &Scratch, up: SocketAddr, extra: &str) -> Running {
    let audit = scratch.path("audit.jsonl");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstreams:\n  site: {{ url: \"http://{up}\" }}\naudit: {{ path: \"{}\" }}\n{extra}",
        audit.display()
    );
    let text = if text.contains("routes:") {
        text
    } else {
        format!("{text}routes:\n  - {{ upstream: site }}\n")
    };
    let config = scratch.write("zaslon.yaml", &text);
    start(Source {
        config: Some(config),
        overrides: Overrides::default(),
    })
    .await
    .unwrap()
}

/// An answer as the client got it.
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Whether the body ended with an error (an aborted stream).
    pub cut: bool,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Got {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let (mut parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or("/".into());
    parts.uri = format!("http://{addr}{pq}").parse().unwrap();
    let resp = tokio::time::timeout(
        Duration::from_secs(20),
        client.request(Request::from_parts(parts, body)),
    )
    .await
    .expect("answer in time");
    let resp = match resp {
        Ok(r) => r,
        // The connection closed before a whole head came: a cut stream.
        Err(_) => {
            return Got {
                status: 0,
                headers: HeaderMap::new(),
                body: Bytes::new(),
                cut: true,
            };
        }
    };
    let status = resp.status().as_u16();
    let (parts, mut body) = resp.into_parts();
    let mut out = Vec::new();
    let mut cut = false;
    while let Some(f) = tokio::time::timeout(Duration::from_secs(20), body.frame())
        .await
        .expect("body in time")
    {
        match f {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    out.extend_from_slice(&d);
                }
            }
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    Got {
        status,
        headers: parts.headers,
        body: out.into(),
        cut,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Got {
    send(
        addr,
        Request::get(path).body(Full::new(Bytes::new())).unwrap(),
    )
    .await
}

/// The sum of a metric's samples whose labels contain all of `labels`.
pub fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| {
            l.split(['{', ' ']).next() == Some(name) && labels.iter().all(|x| l.contains(x))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub async fn metrics(running: &Running) -> String {
    get(running.admin.unwrap(), "/metrics").await.text()
}

/// A `zaslon` process, killed when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Asks for a clean stop (SIGTERM) and returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        sent && self.0.wait().is_ok_and(|s| s.success())
    }
}

/// Starts `zaslon demo` on ephemeral ports with its files in `dir`;
/// returns the process and the addresses it printed: the site through
/// Zaslon and the admin listener.
pub fn spawn_demo(dir: &std::path::Path) -> (Process, SocketAddr, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zaslon"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut site, mut admin) = (None, None);
    while admin.is_none() {
        let line = lines
            .next()
            .expect("the demo prints its addresses")
            .unwrap();
        if let Some(rest) =
            line.strip_prefix("zaslon demo: the clinic site through Zaslon: http://")
        {
            site = Some(rest.trim_end_matches('/').parse().unwrap());
        }
        if let Some(rest) = line.strip_prefix("metrics:   http://") {
            admin = Some(rest.trim_end_matches("/metrics").parse().unwrap());
        }
    }
    // Keep reading, so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Process(child), site.unwrap(), admin.unwrap())
}
