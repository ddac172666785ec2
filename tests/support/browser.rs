//! A real headless Chromium for page tests, driven over WebDriver by a `chromedriver` child
//! process on a free loopback port.
//!
//! ```ignore
//! let Some(browser) = Browser::start().await else { return }; // SKIPPED banner already printed
//! browser.goto(&server.url("/progress")).await;
//! assert_eq!(browser.text("h1").await.as_deref(), Some("Progress"));
//! browser.close().await;
//! ```
//!
//! Binaries: `RAPPORT_CHROMIUM` / `RAPPORT_CHROMEDRIVER` (a path, or a name looked up on `PATH`)
//! when set, else `chromium`, `chromium-browser` or `google-chrome`, and `chromedriver`, on
//! `PATH`. When either is missing, [`Browser::start`] prints a SKIPPED banner and returns `None`,
//! and the test returns without failing. When both are there, any failure to start is a panic.
//!
//! Everything is bounded in time: starting takes at most [`START_ATTEMPTS`] tries of
//! [`START_TIMEOUT`] each, every other call at most [`CALL_TIMEOUT`], or the test panics. `chromedriver` runs in a process group of its own
//! together with the Chromium it starts; dropping the [`Browser`] (also while unwinding from a
//! panic) kills that whole group and removes the profile directory.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Longest wait for `chromedriver` to listen and a Chromium session to open, per attempt.
pub const START_TIMEOUT: Duration = Duration::from_secs(40);
/// How many times a start is tried before the test fails.
pub const START_ATTEMPTS: u32 = 3;
/// Longest wait for any one browser call (navigation, lookup, script).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Window size of [`Browser::start`].
pub const DEFAULT_WINDOW: (u32, u32) = (1280, 900);

const CHROMIUM_NAMES: &[&str] = &["chromium", "chromium-browser", "google-chrome"];
const CHROMEDRIVER_NAMES: &[&str] = &["chromedriver"];

/// A headless Chromium driven over WebDriver by a chromedriver child process on a free loopback
/// port. Dropping it kills chromedriver and the browser; [`Browser::close`] ends the session
/// politely first.
pub struct Browser {
    client: Client,
    driver: Driver,
    /// Holds the Chromium profile (`--user-data-dir`) and chromedriver's log.
    profile: TempDir,
}

impl Browser {
    /// Starts chromedriver + Chromium with a 1280x900 window, or prints the SKIPPED banner and
    /// returns `None` when either binary is missing.
    pub async fn start() -> Option<Browser> {
        Browser::start_with_window(DEFAULT_WINDOW.0, DEFAULT_WINDOW.1).await
    }

    /// [`Browser::start`] with a viewport of exactly `width` x `height` CSS pixels
    /// (`window.innerWidth` / `innerHeight`), e.g. 390x844 for a phone-sized one. The size is
    /// emulated (device pixel ratio 1, no touch, desktop handling of `<meta name=viewport>`), as
    /// Chromium's windows are at least 500 pixels wide.
    pub async fn start_with_window(width: u32, height: u32) -> Option<Browser> {
        let chromium = locate("RAPPORT_CHROMIUM", CHROMIUM_NAMES);
        let chromedriver = locate("RAPPORT_CHROMEDRIVER", CHROMEDRIVER_NAMES);
        Browser::start_from(chromium, chromedriver, width, height).await
    }

    async fn start_from(
        chromium: Result<PathBuf, String>,
        chromedriver: Result<PathBuf, String>,
        width: u32,
        height: u32,
    ) -> Option<Browser> {
        let (chromium, chromedriver) = match (chromium, chromedriver) {
            (Ok(chromium), Ok(chromedriver)) => (chromium, chromedriver),
            (chromium, chromedriver) => {
                let missing: Vec<String> = [chromium.err(), chromedriver.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                skipped_banner(&missing);
                return None;
            }
        };
        // A loaded CI machine has been seen to leave one start hanging; each attempt is
        // bounded, killed when it overruns, and tried again with a fresh profile.
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let profile = tempfile::Builder::new()
                .prefix("rapport-browser-")
                .tempdir()
                .expect("browser: temp dir for the Chromium profile");
            let log = profile.path().join("chromedriver.log");
            let launch = Browser::launch(&chromium, &chromedriver, profile.path(), width, height);
            let failure = match tokio::time::timeout(START_TIMEOUT, launch).await {
                Ok(Ok((client, driver))) => {
                    return Some(Browser {
                        client,
                        driver,
                        profile,
                    });
                }
                Ok(Err(failure)) => failure,
                Err(_) => format!("no session within {START_TIMEOUT:?}\n{}", read_log(&log)),
            };
            eprintln!("browser: start attempt {attempt} of {START_ATTEMPTS} failed: {failure}");
            failures.push(format!("attempt {attempt}: {failure}"));
        }
        panic!(
            "browser: chromedriver ({}) + Chromium ({}) did not start:\n{}",
            chromedriver.display(),
            chromium.display(),
            failures.join("\n")
        )
    }

    /// One start: chromedriver on a free port, then a session, with the profile and log in
    /// `profile`. Dropping the future (on a time-out) kills what it started.
    async fn launch(
        chromium: &Path,
        chromedriver: &Path,
        profile: &Path,
        width: u32,
        height: u32,
    ) -> Result<(Client, Driver), String> {
        let log = profile.join("chromedriver.log");
        // The free port is found by binding and releasing it, so another process may take it in
        // between; chromedriver then exits at once and the next attempt gets another port.
        let mut attempts = 0;
        let (driver, port) = loop {
            attempts += 1;
            let port = free_port();
            let child = Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, shared with the Chromium it starts: see `Drop`.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|error| {
                    panic!("browser: cannot run {}: {error}", chromedriver.display())
                });
            // Killed when dropped: on a panic, or when the start times out, from here on.
            let mut driver = Driver(child);
            match wait_for_port(&mut driver, port).await {
                Ok(()) => break (driver, port),
                Err(exit) if attempts < 3 => {
                    eprintln!("browser: chromedriver exited early ({exit}), retrying");
                }
                Err(exit) => {
                    return Err(format!(
                        "chromedriver {} did not listen on 127.0.0.1:{port}: {exit}\n{}",
                        chromedriver.display(),
                        read_log(&log)
                    ));
                }
            }
        };
        let user_data_dir = profile.join("chromium");
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 20_000, "script": 20_000},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // Containers often have a tiny /dev/shm, on which Chromium crashes.
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", user_data_dir.display()),
                    format!("--window-size={width},{height}"),
                ],
                // Windows are at least 500 pixels wide; a viewport override is not bound by that.
                "mobileEmulation": {"deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 1.0,
                    "mobile": false, "touch": false,
                }},
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        // fantoccini 0.22 only builds clients around a hyper-util connector, which it does not
        // re-export; its `rustls-tls` feature provides one (plain `http://` works through it).
        let mut builder = ClientBuilder::rustls().unwrap_or_else(|error| {
            panic!("browser: fantoccini's rustls connector (needs the system CA roots): {error}")
        });
        let connected = builder
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let client = match connected {
            Ok(client) => client,
            Err(error) => {
                let log = read_log(&log);
                drop(driver);
                return Err(format!(
                    "no session from chromedriver with Chromium {}: {error}\n{log}",
                    chromium.display()
                ));
            }
        };
        Ok((client, driver))
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        let result = bounded(&format!("goto {url}"), self.client.goto(url)).await;
        result.unwrap_or_else(|error| panic!("browser: goto {url}: {error}"));
    }

    /// The current page's `<title>`.
    pub async fn title(&self) -> String {
        let result = bounded("title", self.client.title()).await;
        result.unwrap_or_else(|error| panic!("browser: title: {error}"))
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        let result = bounded("current url", self.client.current_url()).await;
        result
            .unwrap_or_else(|error| panic!("browser: current url: {error}"))
            .to_string()
    }

    /// Visible text of the first element matching a CSS selector, `None` when absent. (Hidden
    /// elements match, with empty text.)
    pub async fn text(&self, css: &str) -> Option<String> {
        let what = format!("text of {css:?}");
        bounded(&what, async {
            let element = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element,
                Err(error) if error.is_no_such_element() => return None,
                Err(error) => panic!("browser: find {css:?}: {error}"),
            };
            let text = element.text().await;
            Some(text.unwrap_or_else(|error| panic!("browser: {what}: {error}")))
        })
        .await
    }

    /// Visible texts of all elements matching a CSS selector, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let what = format!("texts of {css:?}");
        bounded(&what, async {
            let elements = self.client.find_all(Locator::Css(css)).await;
            let elements = elements.unwrap_or_else(|error| panic!("browser: {what}: {error}"));
            let mut texts = Vec::with_capacity(elements.len());
            for element in elements {
                let text = element.text().await;
                texts.push(text.unwrap_or_else(|error| panic!("browser: {what}: {error}")));
            }
            texts
        })
        .await
    }

    /// The whole rendered DOM as HTML (`document.documentElement.outerHTML`), scripts' changes
    /// included.
    pub async fn html(&self) -> String {
        match self.eval("return document.documentElement.outerHTML").await {
            Value::String(html) => html,
            other => panic!("browser: outerHTML is not a string: {other}"),
        }
    }

    /// Runs JavaScript in the page and returns its result as JSON (DOM elements come back as
    /// WebDriver element references).
    ///
    /// `script` is the body of a function, as in WebDriver: `return window.innerWidth`. As a
    /// shorthand, a script without the word `return` anywhere is taken as one expression and
    /// returned: `eval("getComputedStyle(document.body).fontSize")`. A script that throws fails
    /// the test.
    pub async fn eval(&self, script: &str) -> Value {
        let body = if script.contains("return") {
            script.to_owned()
        } else {
            format!("return ({script}\n);")
        };
        let result = bounded("script", self.client.execute(&body, Vec::new())).await;
        result.unwrap_or_else(|error| panic!("browser: script failed: {error}\n{script}"))
    }

    /// The underlying WebDriver client, for what this wrapper does not offer (clicks, forms,
    /// screenshots). Calls through it are not time-bounded by this harness.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the WebDriver session (chromedriver closes Chromium), then kills chromedriver.
    pub async fn close(self) {
        let closing = self.client.clone().close();
        if let Ok(Err(error)) = tokio::time::timeout(CALL_TIMEOUT, closing).await {
            eprintln!("browser: closing the session: {error}");
        }
        // `Drop` kills chromedriver and whatever is left of its process group.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.kill();
        // Chromium may still be writing into the profile for a moment after SIGKILL.
        for _ in 0..20 {
            if std::fs::remove_dir_all(self.profile.path()).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The chromedriver child process, leader of a process group of its own that also holds the
/// Chromium processes it starts. Dropping it kills the group.
struct Driver(Child);

impl Driver {
    /// Kills the process group, then reaps chromedriver. Best effort and idempotent.
    fn kill(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // No safe std API signals a process group; `kill(1)` does. The group id is
            // chromedriver's pid (spawned with `process_group(0)`), which stays reserved until
            // chromedriver is reaped below, so no unrelated group can be hit.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.0.id())])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs one browser call, failing the test when it takes longer than [`CALL_TIMEOUT`].
async fn bounded<T>(what: &str, call: impl Future<Output = T>) -> T {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => panic!("browser: {what} took longer than {CALL_TIMEOUT:?}"),
    }
}

/// The binary named by `variable` (a path, or a name looked up on `PATH`) when it is set, else
/// the first of `names` on `PATH`. `Err` says what was looked for.
fn locate(variable: &str, names: &[&str]) -> Result<PathBuf, String> {
    match std::env::var_os(variable).filter(|value| !value.is_empty()) {
        Some(value) => {
            let wanted = PathBuf::from(&value);
            let found = if wanted.components().count() > 1 {
                Some(wanted.clone()).filter(|path| is_executable(path))
            } else {
                on_path(&wanted)
            };
            found.ok_or_else(|| format!("{variable}={} (not an executable)", wanted.display()))
        }
        None => names
            .iter()
            .find_map(|name| on_path(Path::new(name)))
            .ok_or_else(|| format!("{} (not on PATH; or set {variable})", names.join(" / "))),
    }
}

fn on_path(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// Says loudly that the calling test did not run. Written to stderr directly rather than with
/// `eprintln!`, which libtest captures, so the banner shows without `--nocapture`.
fn skipped_banner(missing: &[String]) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("browser test");
    let rule = "=".repeat(78);
    let mut banner = format!(
        "\n{rule}\nSKIPPED: {test}\n(needs a real Chromium and ChromeDriver; not found:)\n"
    );
    for binary in missing {
        banner.push_str(&format!("  - {binary}\n"));
    }
    banner.push_str(
        "Install chromium and chromium-driver (.ci/run does as root), or point\n\
         RAPPORT_CHROMIUM / RAPPORT_CHROMEDRIVER at them.\n",
    );
    banner.push_str(&rule);
    banner.push('\n');
    let _ = std::io::stderr().lock().write_all(banner.as_bytes());
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("browser: bind a free port");
    listener.local_addr().expect("browser: local addr").port()
}

/// Polls until chromedriver accepts connections on `port` (up to ~10 s); `Err` when it exits or
/// never listens.
async fn wait_for_port(driver: &mut Driver, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = driver.0.try_wait() {
            return Err(format!("exited with {status}"));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            driver.kill();
            return Err("not listening after 10 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn read_log(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- chromedriver log (last lines) ---\n{}", tail.join("\n"))
        }
        Err(error) => format!("(no chromedriver log at {}: {error})", log.display()),
    }
}

#[cfg(test)]
mod tests {
    //! Checks of the harness itself against a hand-written page.

    use super::*;
    use tokio::net::TcpListener;

    const PAGE: &str = "<!doctype html>\n<html><head><title>Rapport browser check</title>\
        <style>h1 { color: rgb(1, 2, 3); }</style></head><body>\
        <h1>Hello from Rapport</h1><ul><li>one</li><li> two </li></ul>\
        <p id=\"hidden\" style=\"display:none\">secret</p>\
        <script>document.body.insertAdjacentHTML('beforeend', '<p id=\"late\">added by script</p>');</script>\
        </body></html>";

    /// Serves `PAGE` for every request until the runtime ends.
    async fn serve_page() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        if stream.readable().await.is_err() {
                            return;
                        }
                        match stream.try_read(&mut buf) {
                            Ok(0) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => return,
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                        PAGE.len()
                    );
                    let mut rest = response.as_bytes();
                    while !rest.is_empty() {
                        if stream.writable().await.is_err() {
                            return;
                        }
                        match stream.try_write(rest) {
                            Ok(n) => rest = &rest[n..],
                            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => return,
                        }
                    }
                });
            }
        });
        format!("http://{addr}/")
    }

    /// Processes whose command line mentions `needle`.
    fn processes_mentioning(needle: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|entry| {
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                cmdline
                    .contains(needle)
                    .then(|| format!("{}: {cmdline}", entry.file_name().to_string_lossy()))
            })
            .collect()
    }

    /// No process mentions the profile directory any more (killed processes may take a moment
    /// to disappear), and the directory is gone.
    async fn assert_nothing_left(profile: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = processes_mentioning(profile);
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "processes outlived the Browser: {left:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !Path::new(profile).exists(),
            "the profile {profile} is removed"
        );
    }

    #[tokio::test]
    async fn browser_reads_a_real_page_and_leaves_nothing_behind() {
        let Some(browser) = Browser::start().await else {
            return;
        };
        let profile = browser.profile.path().display().to_string();
        let driver_pid = browser.driver.0.id();
        assert!(
            !processes_mentioning(&profile).is_empty(),
            "Chromium runs with the profile {profile}"
        );

        let url = serve_page().await;
        browser.goto(&url).await;
        assert_eq!(browser.url().await, url);
        assert_eq!(browser.title().await, "Rapport browser check");
        assert_eq!(
            browser.text("h1").await.as_deref(),
            Some("Hello from Rapport")
        );
        assert_eq!(browser.texts("li").await, ["one", "two"]);
        assert_eq!(browser.text("#hidden").await.as_deref(), Some(""));
        assert_eq!(browser.text("#absent").await, None);
        assert!(browser.texts(".absent").await.is_empty());
        assert_eq!(
            browser.text("#late").await.as_deref(),
            Some("added by script")
        );
        assert!(
            browser
                .html()
                .await
                .contains("<p id=\"late\">added by script</p>")
        );
        assert_eq!(browser.eval("window.innerWidth").await, json!(1280));
        assert_eq!(browser.eval("window.innerHeight").await, json!(900));
        assert_eq!(
            browser
                .eval("getComputedStyle(document.querySelector('h1')).color")
                .await,
            json!("rgb(1, 2, 3)")
        );
        assert_eq!(
            browser
                .eval("const items = document.querySelectorAll('li'); return items.length;")
                .await,
            json!(2)
        );

        drop(browser);
        assert!(
            !Path::new(&format!("/proc/{driver_pid}")).exists(),
            "chromedriver ({driver_pid}) is gone"
        );
        assert_nothing_left(&profile).await;
    }

    #[tokio::test]
    async fn browser_takes_a_window_size_and_closes_politely() {
        let Some(browser) = Browser::start_with_window(390, 844).await else {
            return;
        };
        browser.goto(&serve_page().await).await;
        assert_eq!(browser.eval("window.innerWidth").await, json!(390));
        assert_eq!(browser.eval("window.innerHeight").await, json!(844));
        let profile = browser.profile.path().display().to_string();
        browser.close().await;
        assert_nothing_left(&profile).await;
    }

    #[tokio::test]
    async fn browser_is_killed_when_a_test_panics() {
        let Some(browser) = Browser::start().await else {
            return;
        };
        let profile = browser.profile.path().display().to_string();
        let test = tokio::spawn(async move {
            browser.goto("about:blank").await;
            panic!("a deliberate panic while the browser runs");
        });
        assert!(test.await.expect_err("the task panics").is_panic());
        assert_nothing_left(&profile).await;
    }

    #[tokio::test]
    async fn browser_is_skipped_without_chromium() {
        let missing = Err("RAPPORT_CHROMIUM=/nonexistent (not an executable)".to_owned());
        let driver = Ok(PathBuf::from("/nonexistent/chromedriver"));
        assert!(
            Browser::start_from(missing, driver, 800, 600)
                .await
                .is_none()
        );
    }

    #[test]
    fn binaries_are_located_on_path_only_when_executable() {
        assert!(is_executable(Path::new("/bin/sh")));
        assert!(!is_executable(Path::new("/nonexistent")));
        let dir = tempfile::tempdir().expect("temp dir");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!is_executable(&plain));
        assert!(!is_executable(dir.path()));
        assert!(on_path(Path::new("sh")).is_some());
        assert!(on_path(Path::new("surely-not-a-binary-rapport")).is_none());
    }
}
