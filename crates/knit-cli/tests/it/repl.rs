// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The interactive shell, driven through a pseudo-terminal as a user's terminal drives
//! it: pasted statements, type-ahead, Ctrl-C and Ctrl-D, and input that is not UTF-8.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};

use crate::knit;

/// How long a test waits for the shell to answer (debug builds, busy CI machines).
const PATIENCE: Duration = Duration::from_secs(120);

/// A `knit` REPL on the slave side of a pseudo-terminal; the test holds the master.
pub(crate) struct Terminal {
    child: Child,
    master: File,
    /// Everything the shell wrote, echo included.
    screen: Arc<Mutex<Vec<u8>>>,
    /// The history file's folder, removed at the end.
    home: PathBuf,
}

impl Terminal {
    fn start(name: &str) -> Terminal {
        Terminal::start_with(name, &[])
    }

    /// A shell with the environment variables `env` set besides the terminal's.
    pub(crate) fn start_with(name: &str, env: &[(&str, &str)]) -> Terminal {
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).unwrap();
        let home = std::env::temp_dir().join(format!("knit-repl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let slave = File::from(pty.slave);
        let child = knit()
            .env("HOME", &home)
            .env("XDG_DATA_HOME", &home)
            .env("TERM", "xterm")
            .envs(env.iter().copied())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        let master = File::from(pty.master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        // Reads until the shell is gone (the read fails with EIO once no process holds
        // the slave side).
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let terminal = Terminal {
            child,
            master,
            screen,
            home,
        };
        terminal.wait_for("knit> ");
        terminal
    }

    /// Types `bytes` as fast as the terminal takes them, as a paste does.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(4096) {
            self.master.write_all(chunk).unwrap();
        }
    }

    /// The screen so far, as text.
    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until `text` is on the screen, and returns the screen.
    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait_for_nth(text, 1)
    }

    /// Waits until `text` is on the screen `n` times, and returns the screen.
    fn wait_for_nth(&self, text: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= n {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the shell did not print {text:?}; it printed:\n{}",
                tail(&screen)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the shell to leave, and returns its exit code.
    pub(crate) fn wait_for_exit(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < PATIENCE,
                "the shell did not leave; it printed:\n{}",
                tail(&self.screen())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The end of a long screen, for failure messages.
fn tail(screen: &str) -> &str {
    let start = screen.len().saturating_sub(3000);
    let start = (start..screen.len())
        .find(|&i| screen.is_char_boundary(i))
        .unwrap_or(screen.len());
    &screen[start..]
}

#[test]
fn a_pasted_script_runs_every_statement_in_it() {
    let mut terminal = Terminal::start("paste");
    // 5,000 lines of one statement, then a second statement, in one burst: the lines
    // after the first must not be lost, and the paste must not be re-read per key.
    let rows = 5000;
    let mut paste = String::from("SELECT count(*) AS n, sum(v) AS total FROM (VALUES\r");
    for i in 0..rows {
        paste.push_str(&format!("  ({i}),\r"));
    }
    paste.push_str("  (0)) AS t(v);\rSELECT 'second' || 'statement' AS s;\r");
    let started = Instant::now();
    terminal.send(paste.as_bytes());
    let screen = terminal.wait_for("secondstatement");
    let total: u64 = (0..rows).sum();
    assert!(screen.contains(&total.to_string()), "{}", tail(&screen));
    assert!(
        screen.contains(&(rows + 1).to_string()),
        "{}",
        tail(&screen)
    );
    // Quadratic reading took minutes for this size; linear takes about a second.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    terminal.send(b"\\q\r");
    assert_eq!(terminal.wait_for_exit(), 0);
}

#[test]
fn ctrl_c_drops_the_pending_lines_and_the_session_goes_on() {
    let mut terminal = Terminal::start("ctrl-c");
    terminal.send(b"SELECT 'dropped'\r");
    terminal.wait_for(" ...> ");
    terminal.send(b"\x03");
    // Like a shell, an interrupt discards what was typed ahead: wait for the prompt.
    terminal.wait_for_nth("knit> ", 2);
    terminal.send(b"SELECT 40 + 2 AS answer;\r");
    let screen = terminal.wait_for("| 42 ");
    assert!(!screen.contains("error"), "{}", tail(&screen));
    terminal.send(b"\\q\r");
    assert_eq!(terminal.wait_for_exit(), 0);
}

#[test]
fn ctrl_d_on_a_continuation_line_leaves() {
    let mut terminal = Terminal::start("ctrl-d");
    terminal.send(b"SELECT 1\r");
    terminal.wait_for(" ...> ");
    terminal.send(b"FROM\x04");
    assert_eq!(terminal.wait_for_exit(), 0);
}

#[test]
fn bad_input_is_refused_and_the_session_goes_on() {
    let mut terminal = Terminal::start("utf8");
    terminal.send(b"SELECT '\xff\xfe';\r");
    terminal.wait_for("not UTF-8");
    terminal.send(b"SELECT 6 * 7 AS answer;\r");
    terminal.wait_for("| 42 ");
    // An endless file is refused at the bound, and the session goes on.
    terminal.send(b"\\i /dev/zero\r");
    terminal.wait_for("larger than 256 MiB");
    terminal.send(b"SELECT 5 * 5 AS square;\r");
    terminal.wait_for("| 25 ");
    terminal.send(b"\\q\r");
    assert_eq!(terminal.wait_for_exit(), 0);
}

#[test]
fn a_statement_is_one_history_entry() {
    let mut terminal = Terminal::start("history");
    terminal.send(b"SELECT 1\r  AS one;\r");
    terminal.wait_for("| 1 ");
    terminal.send(b"\\q\r");
    assert_eq!(terminal.wait_for_exit(), 0);
    let history = std::fs::read_to_string(terminal.home.join("knit/history")).unwrap();
    assert!(history.contains("SELECT 1"), "{history}");
    assert!(
        !history.lines().any(|line| line.trim() == "AS one;"),
        "{history}"
    );
}

#[test]
fn describing_a_delta_table_names_its_version() {
    let dir = std::env::temp_dir().join(format!("knit-repl-delta-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let table = dir.join("t").display().to_string();
    let mut terminal = Terminal::start("delta");
    let script = format!(
        "COPY (SELECT 1 AS id) TO '{table}' STORED AS DELTA;\r\
         COPY (SELECT 2 AS id) TO '{table}' STORED AS DELTA OPTIONS ('mode' 'append');\r\
         CREATE EXTERNAL TABLE first STORED AS DELTA LOCATION '{table}' OPTIONS ('version' '0');\r\
         \\d first\r"
    );
    terminal.send(script.as_bytes());
    let screen = terminal.wait_for("delta_version");
    assert!(
        screen.contains("| id          | Int64     | YES         | 0             |"),
        "{}",
        tail(&screen)
    );
    terminal.send(format!("\\d '{table}'\r").as_bytes());
    terminal.wait_for("| YES         | 1             |");
    terminal.send(b"\\q\r");
    assert_eq!(terminal.wait_for_exit(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
