//! The built `procpulse-broadcaster` binary, run from an EMPTY working directory (issue
//! 19): it serves `/` and everything the page loads — stylesheets and scripts named by
//! index.html, then every relative ES-module import, followed recursively — from the copy
//! of `web/app` embedded at build time, with the right types, `no-cache` + ETag, 304 on
//! revalidation and the bytes of the files in `web/app`. `--web-dir` and
//! `PROCPULSE_WEB_DIR` override it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap};
use serde_json::Value;

/// The dashboard's sources in the repository (what the build embeds).
fn web_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/app")
}

/// How long the binary may take to log that it listens, or to exit.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The real binary on an ephemeral loopback port, logging JSON lines to a channel.
struct Bin {
    child: Child,
    addr: SocketAddr,
    /// The JSON log lines read so far (the startup lines at least).
    logs: Vec<Value>,
    cwd: tempfile::TempDir,
    _db: tempfile::TempDir,
}

/// Starts the binary in a fresh empty directory with `args` and `env`; `Err` carries its
/// stderr when it exits before listening.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<Bin, String> {
    let cwd = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("t.db").display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_procpulse-broadcaster"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PROCPULSE_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .current_dir(cwd.path())
        .args(["--listen", "127.0.0.1:0", "--database-url", &url])
        .args(args)
        .envs(env.iter().copied())
        .env("PROCPULSE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn procpulse-broadcaster");
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + START_LIMIT;
    let mut logs = Vec::new();
    let mut text = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v["fields"]["message"] == "Listening" {
                    let addr = v["fields"]["addr"].as_str().unwrap_or_default();
                    let addr = addr.trim_start_matches("Some(").trim_end_matches(')');
                    let addr = addr.parse().unwrap_or_else(|_| panic!("addr in {line}"));
                    logs.push(v);
                    return Ok(Bin {
                        child,
                        addr,
                        logs,
                        cwd,
                        _db: db,
                    });
                }
                logs.push(v);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = wait_exit(&mut child);
                return Err(format!("exited with {status}:\n{text}"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no \"Listening\" log line within {START_LIMIT:?}:\n{text}");
            }
        }
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the broadcaster did not exit within {START_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bin {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The startup line whose message is `message`.
    fn log(&self, message: &str) -> &Value {
        self.logs
            .iter()
            .find(|v| v["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no log line {message:?} in {:?}", self.logs))
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `(status, headers, body)` of one request.
async fn fetch(
    method: reqwest::Method,
    url: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = client().request(method, url);
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// Every file under `dir` (dotfiles and dot-directories skipped), `/`-separated.
fn files_under(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        if entry.path().is_dir() {
            files_under(&entry.path(), &format!("{rel}/"), out);
        } else {
            out.insert(rel);
        }
    }
}

/// `base` (a file path like `views/charts.js`) joined with the relative reference
/// `reference`, normalised; `None` for absolute URLs and `data:`. Panics when the
/// reference leaves the site's root.
fn resolve(base: &str, reference: &str) -> Option<String> {
    let reference = reference.split(['?', '#']).next().unwrap_or_default();
    if reference.is_empty() || reference.starts_with("//") || reference.contains(':') {
        return None;
    }
    if let Some(abs) = reference.strip_prefix('/') {
        return Some(abs.to_owned());
    }
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for seg in reference.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                assert!(parts.pop().is_some(), "{base}: {reference} leaves the root");
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The quoted value of attribute `attr` in one tag's text.
fn attribute<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {attr}="))? + attr.len() + 2;
    let quote = tag[at..]
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')?;
    let rest = &tag[at + 1..];
    rest.find(quote).map(|end| &rest[..end])
}

/// What an HTML page loads: `<link href>` and `<script src>`.
fn html_references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for (open, attr) in [("<link", "href"), ("<script", "src")] {
        let mut from = 0;
        while let Some(i) = html[from..].find(open) {
            let start = from + i;
            let end = start + html[start..].find('>').expect("unclosed tag");
            if let Some(v) = attribute(&html[start..end], attr) {
                refs.push(v.to_owned());
            }
            from = end;
        }
    }
    refs
}

/// The relative specifiers of a module's static imports: `import … from './x.js'`,
/// `export … from '../y.js'` and `import './z.js'`.
fn module_imports(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = js.as_bytes();
    for keyword in ["from", "import"] {
        let mut from = 0;
        while let Some(i) = js[from..].find(keyword) {
            let start = from + i;
            from = start + keyword.len();
            let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.';
            if start > 0 && ident(b[start - 1]) {
                continue;
            }
            let rest = js[from..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let spec = &rest[1..1 + end];
            if spec.starts_with("./") || spec.starts_with("../") {
                out.push(spec.to_owned());
            }
        }
    }
    out
}

fn media_type(headers: &HeaderMap) -> String {
    let v = headers[CONTENT_TYPE].to_str().unwrap();
    v.split(';').next().unwrap().trim().to_owned()
}

/// Fetches `path` (relative to the root) from `bin` and checks everything the issue asks
/// of an embedded file; returns its bytes.
async fn check_embedded(bin: &Bin, path: &str, file: &str) -> Vec<u8> {
    let url = bin.url(&format!("/{path}"));
    let want = std::fs::read(web_app().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (status, h, body) = fetch(reqwest::Method::GET, &url, None).await;
    assert_eq!(status, 200, "GET /{path}");
    assert!(
        body == want,
        "GET /{path}: bytes differ from web/app/{file}"
    );
    let expected_type = match file.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        other => panic!("the page loads {file} of unexpected kind {other:?}"),
    };
    assert_eq!(media_type(&h), expected_type, "GET /{path}");
    assert_eq!(h[CACHE_CONTROL], "no-cache", "GET /{path}");
    assert_eq!(h["x-content-type-options"], "nosniff", "GET /{path}");
    let etag = h[ETAG].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "GET /{path}: strong ETag, got {etag}"
    );
    if expected_type == "text/html" {
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "GET /{path}: {csp}");
    }

    for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
        let (status, h, body) = fetch(reqwest::Method::GET, &url, Some(&tag)).await;
        assert_eq!(status, 304, "GET /{path} If-None-Match: {tag}");
        assert!(body.is_empty(), "304 with a body");
        assert_eq!(h[ETAG], etag.as_str());
        assert_eq!(h[CACHE_CONTROL], "no-cache");
    }
    let (status, _, body) = fetch(reqwest::Method::GET, &url, Some("\"stale\"")).await;
    assert_eq!(status, 200, "GET /{path} with another ETag");
    assert!(body == want);

    let (status, h, body) = fetch(reqwest::Method::HEAD, &url, None).await;
    assert_eq!(status, 200, "HEAD /{path}");
    assert!(body.is_empty(), "HEAD /{path} has a body");
    assert_eq!(h[CONTENT_LENGTH], want.len().to_string().as_str());
    assert_eq!(h[ETAG], etag.as_str());
    want
}

#[tokio::test]
async fn the_binary_serves_the_embedded_dashboard_from_an_empty_directory() {
    let bin = spawn(&[], &[]).unwrap();
    assert!(
        std::fs::read_dir(bin.cwd.path()).unwrap().next().is_none(),
        "the working directory is not empty"
    );
    let mut on_disk = BTreeSet::new();
    files_under(&web_app(), "", &mut on_disk);
    let served = bin.log("Serving the dashboard embedded in the binary");
    assert_eq!(
        served["fields"]["files"].as_u64(),
        Some(on_disk.len() as u64),
        "embedded file count vs web/app: {served}"
    );

    // `/` is index.html; then what it loads, and what those modules import, recursively.
    let index = check_embedded(&bin, "", "index.html").await;
    let mut loaded: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<(String, String)> = html_references(&String::from_utf8(index).unwrap())
        .iter()
        .filter_map(|r| resolve("index.html", r))
        .map(|p| (p, "index.html".to_owned()))
        .collect();
    while let Some((path, by)) = queue.pop() {
        if loaded.contains_key(&path) {
            continue;
        }
        assert!(
            on_disk.contains(&path),
            "{by} loads {path}, which web/app lacks"
        );
        let body = check_embedded(&bin, &path, &path).await;
        if path.ends_with(".js") {
            for spec in module_imports(&String::from_utf8(body).unwrap()) {
                let target = resolve(&path, &spec).unwrap();
                queue.push((target, path.clone()));
            }
        }
        loaded.insert(path, by);
    }
    // The walk must have found the page's parts, or it proves nothing.
    for must in ["main.js", "style.css", "vendor/uplot/uPlot.esm.js"] {
        assert!(loaded.contains_key(must), "{must} not reached: {loaded:?}");
    }
    assert!(
        loaded.keys().filter(|p| p.ends_with(".js")).count() >= 10,
        "few modules reached: {loaded:?}"
    );

    // Every file of web/app is in the binary, byte for byte; nothing else is served.
    for file in &on_disk {
        let (status, _, body) =
            fetch(reqwest::Method::GET, &bin.url(&format!("/{file}")), None).await;
        assert_eq!(status, 200, "/{file}");
        assert!(
            body == std::fs::read(web_app().join(file)).unwrap(),
            "/{file} differs"
        );
    }
    for missing in [
        "/nope.js",
        "/web/app/index.html",
        "/lib/",
        "/vendor/uplot/.hidden",
    ] {
        let (status, _, _) = fetch(reqwest::Method::GET, &bin.url(missing), None).await;
        assert_eq!(status, 404, "{missing}");
    }
    let (status, _, _) = fetch(reqwest::Method::POST, &bin.url("/main.js"), None).await;
    assert_eq!(status, 405, "POST /main.js");
}

/// A directory standing in for a developer's edited copy of web/app.
fn override_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>override</title><script type=module src=main.js></script>",
    )
    .unwrap();
    std::fs::write(dir.path().join("main.js"), "export const edited = 1;\n").unwrap();
    dir
}

#[tokio::test]
async fn web_dir_and_its_environment_variable_override_the_embedded_copy() {
    let dir = override_dir();
    let path = dir.path().to_str().unwrap();
    for bin in [
        spawn(&["--web-dir", path], &[]).unwrap(),
        spawn(&[], &[("PROCPULSE_WEB_DIR", path)]).unwrap(),
    ] {
        let served = bin.log("Serving the dashboard from a directory");
        assert_eq!(served["fields"]["web_dir"], path);
        let (status, h, body) = fetch(reqwest::Method::GET, &bin.url("/"), None).await;
        assert_eq!(status, 200);
        assert_eq!(body, std::fs::read(dir.path().join("index.html")).unwrap());
        assert_eq!(media_type(&h), "text/html");
        assert_eq!(h[CACHE_CONTROL], "no-cache");
        assert!(h.contains_key("content-security-policy"));
        let (status, h, body) = fetch(reqwest::Method::GET, &bin.url("/main.js"), None).await;
        assert_eq!(status, 200);
        assert_eq!(body, b"export const edited = 1;\n");
        assert_eq!(media_type(&h), "text/javascript");
        // Read per request: an edit shows at once.
        std::fs::write(dir.path().join("main.js"), "export const edited = 2;\n").unwrap();
        let (_, _, body) = fetch(reqwest::Method::GET, &bin.url("/main.js"), None).await;
        assert_eq!(body, b"export const edited = 2;\n");
        std::fs::write(dir.path().join("main.js"), "export const edited = 1;\n").unwrap();
        // No fallback to the embedded files.
        let (status, _, _) = fetch(reqwest::Method::GET, &bin.url("/style.css"), None).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn a_web_dir_without_index_html_is_a_startup_error() {
    let empty = tempfile::tempdir().unwrap();
    for dir in [empty.path().to_path_buf(), empty.path().join("missing")] {
        let err = match spawn(&["--web-dir", dir.to_str().unwrap()], &[]) {
            Ok(_) => panic!("started with --web-dir {}", dir.display()),
            Err(e) => e,
        };
        assert!(err.contains("exit status: 1"), "{err}");
        assert!(err.contains("no index.html"), "{err}");
    }
}

#[test]
fn the_reference_scanners_find_what_browsers_load() {
    assert_eq!(
        html_references(
            "<link rel=\"icon\" href=\"data:,\" /><link rel='stylesheet' href='a/b.css'>\
             <script type=\"module\" src=\"main.js\"></script>"
        ),
        vec!["data:,", "a/b.css", "main.js"]
    );
    assert_eq!(resolve("index.html", "data:,"), None);
    assert_eq!(resolve("index.html", "https://x/y.js"), None);
    assert_eq!(resolve("index.html", "./main.js"), Some("main.js".into()));
    assert_eq!(
        resolve("views/charts.js", "../vendor/uplot/uPlot.esm.js?v=1"),
        Some("vendor/uplot/uPlot.esm.js".into())
    );
    assert_eq!(
        module_imports(
            "import { a,\n b } from './lib/a.js';\nimport x from \"../x.js\";\nimport './side.js';\n\
             export { y } from './y.js';\nconst z = Array.from(list);\n\
             /** @type {import('./t.js').T} */\nimport q from 'bare';"
        ),
        vec!["./lib/a.js", "../x.js", "./y.js", "./side.js"]
    );
}
