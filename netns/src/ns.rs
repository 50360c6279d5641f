//! Named network namespaces (`ip netns`), commands run in them, and worker threads that
//! live inside one namespace to create sockets and write sysctls there.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

use crate::{Error, Result};

/// Where `ip netns add` puts its bind mounts.
pub const NETNS_DIR: &str = "/var/run/netns";

/// Every namespace name this crate creates starts with this, followed by the pid of the
/// process that created it and a `-`.
pub const NAME_ROOT: &str = "nfx";

/// Runs a command, feeding `stdin` to it, and returns its stdout; a non-zero exit becomes
/// [`Error::Command`] with stderr.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let cmd_line = || {
        let mut s = program.to_string();
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("spawning `{}`", cmd_line()), e))?;
    // Feed stdin from a thread: the child may fail (and stop reading) before it has read
    // everything, and it may fill its stdout pipe while we are still writing.
    let feeder = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_string();
            Some(std::thread::spawn(move || {
                // A write error means the child exited early; its status tells why.
                let _ = pipe.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("waiting for `{}`", cmd_line()), e))?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(Error::Command {
            command: cmd_line(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            stdout,
        })
    }
}

/// Names of the existing namespaces that start with `prefix`, sorted.
pub fn list(prefix: &str) -> Result<Vec<String>> {
    let dir = match std::fs::read_dir(NETNS_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {NETNS_DIR}"), e)),
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes the named namespaces in one `ip` call; names that no longer exist are fine.
pub fn delete(names: &[String]) -> Result<()> {
    let existing: Vec<&String> = names
        .iter()
        .filter(|n| Path::new(NETNS_DIR).join(n.as_str()).exists())
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    let batch: String = existing
        .iter()
        .map(|n| format!("netns del {n}\n"))
        .collect();
    // -force: go on after an error, so one busy name does not keep the others.
    match run("ip", &["-force", "-batch", "-"], Some(&batch)) {
        Ok(_) => Ok(()),
        // Another thread or process (cleaning up dead runs too) may have been faster:
        // what counts is that the names are gone.
        Err(e)
            if existing
                .iter()
                .all(|n| !Path::new(NETNS_DIR).join(n.as_str()).exists()) =>
        {
            let _ = e;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A thread that has entered a namespace and runs jobs there. Sockets it creates belong to
/// that namespace for their whole life, whichever thread uses them later.
pub struct Worker {
    tx: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Worker {
    /// Starts a thread and moves it into the namespace `name`.
    pub fn start(name: &str) -> Result<Worker> {
        let path = Path::new(NETNS_DIR).join(name);
        let file =
            File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<nix::Result<()>>(1);
        let handle = std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let entered = setns(&file, CloneFlags::CLONE_NEWNET);
                drop(file);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    for job in rx {
                        job();
                    }
                }
            })
            .map_err(|e| Error::io("spawning a namespace worker thread", e))?;
        let entered = ready_rx.recv().unwrap_or(Err(nix::errno::Errno::ECHILD));
        let worker = Worker {
            tx: Some(tx),
            handle: Some(handle),
        };
        entered.map_err(|e| Error::io(format!("setns into {name}"), e.into()))?;
        Ok(worker)
    }

    /// Runs `f` on the worker thread, inside the namespace, and returns its result.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.tx
            .as_ref()
            .expect("worker is running")
            .send(job)
            .expect("namespace worker thread is gone");
        rx.recv().expect("namespace worker thread dropped a job")
    }

    /// Writes sysctls (`("net/ipv4/ip_forward", "1")`) of the worker's namespace.
    pub fn sysctls(&self, settings: Vec<(String, String)>) -> Result<()> {
        self.run(move || {
            for (key, value) in settings {
                let path = format!("/proc/sys/{key}");
                std::fs::write(&path, &value)
                    .map_err(|e| Error::io(format!("writing {value} to {path}"), e))?;
            }
            Ok(())
        })
    }
}

impl Worker {
    /// Waits until no IPv6 address of the namespace is tentative; an address whose
    /// duplicate address detection failed is an error.
    pub fn wait_ipv6_settled(&self, limit: Duration) -> Result<()> {
        self.run(move || {
            let start = Instant::now();
            loop {
                // `thread-self`, not `self`: /proc/self/net is the namespace of the
                // process's main thread, not of this worker.
                let path = "/proc/thread-self/net/if_inet6";
                let table = std::fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("reading {path}"), e))?;
                let mut pending = Vec::new();
                for line in table.lines() {
                    // address ifindex prefixlen scope flags ifname
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let Some(flags) = f.get(4).and_then(|x| u32::from_str_radix(x, 16).ok()) else {
                        continue;
                    };
                    if flags & IFA_F_DADFAILED != 0 {
                        return Err(Error::Spec(format!(
                            "duplicate address detection failed: {line}"
                        )));
                    }
                    if flags & IFA_F_TENTATIVE != 0 {
                        pending.push(line.to_string());
                    }
                }
                if pending.is_empty() {
                    return Ok(());
                }
                if start.elapsed() > limit {
                    return Err(Error::Spec(format!(
                        "IPv6 addresses still tentative after {limit:?}: {pending:?}"
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    }
}

const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_TENTATIVE: u32 = 0x40;

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
