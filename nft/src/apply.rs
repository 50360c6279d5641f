//! The backend that runs the `nft` binary for every command (see `backend` for the
//! other one, on a kept libnftables context): its stderr is kept for the error (the
//! `nftables` crate's helper drops it), and only our own table is ever listed, replaced
//! or deleted.
//!
//! JSON goes to nft in a file, never a pipe: `nft -j -f -` that cannot parse the JSON
//! falls back to its text parser on the stdin it has already drained and exits 0
//! having done nothing. A full replace is also read back (`verify`).

use crate::delta::Delta;
use crate::json;
use crate::ruleset::{Ruleset, SEAL_SET, TABLE};
use crate::verify;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("running {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("nft {args} failed ({status}): {stderr}")]
    Failed {
        args: String,
        status: String,
        stderr: String,
    },
    #[error("nft printed JSON we could not read: {0}")]
    Output(String),
    #[error(transparent)]
    Unsafe(#[from] json::UnsafeString),
    #[error("writing the document for nft: {0}")]
    File(#[source] std::io::Error),
    /// nft reported success, but the kernel does not hold what was sent.
    #[error("nft reported success but the kernel does not hold the table sent: {0}")]
    Unverified(String),
}

/// The `nft` binary, run for each command (inside a network namespace when given:
/// tests, the per-node harness).
#[derive(Clone, Debug)]
pub struct Nft {
    pub program: String,
    pub netns: Option<String>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            program: "nft".into(),
            netns: None,
        }
    }
}

impl Nft {
    pub fn in_netns(netns: &str) -> Nft {
        Nft {
            netns: Some(netns.to_string()),
            ..Nft::default()
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, ApplyError> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, &self.program]);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| ApplyError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            pipe.write_all(text.as_bytes())
                .map_err(|source| ApplyError::Spawn {
                    program: self.program.clone(),
                    source,
                })?;
        }
        let out = child
            .wait_with_output()
            .map_err(|source| ApplyError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(ApplyError::Failed {
                args: args.join(" "),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a JSON document (`nft -j -f FILE`): one atomic transaction.
    pub fn run_json(&self, doc: &Value) -> Result<(), ApplyError> {
        let text = json::to_text(doc)?;
        self.run_json_file(|file| {
            file.write_all(text.as_bytes())
                .map_err(json::WriteError::Io)
        })
    }

    /// Runs the commands as one JSON document, streamed into the file nft reads: the
    /// controller never holds a whole document (at 10,000 policies a `Value` of it
    /// took most of a gigabyte).
    pub fn run_commands<'a>(
        &self,
        commands: impl IntoIterator<Item = json::Command<'a>>,
    ) -> Result<(), ApplyError> {
        self.run_json_file(|file| json::write_document(file, commands, false))
    }

    fn run_json_file(
        &self,
        write: impl FnOnce(&mut std::fs::File) -> Result<(), json::WriteError>,
    ) -> Result<(), ApplyError> {
        let mut file = tempfile::Builder::new()
            .prefix("netfence-")
            .suffix(".json")
            .tempfile()
            .map_err(ApplyError::File)?;
        write(file.as_file_mut()).map_err(|e| match e {
            json::WriteError::Unsafe(u) => ApplyError::Unsafe(u),
            json::WriteError::Io(io) => ApplyError::File(io),
        })?;
        file.as_file_mut().flush().map_err(ApplyError::File)?;
        let path = file.path().to_string_lossy().into_owned();
        self.run(&["-j", "-f", &path], None).map(|_| ())
    }

    /// Runs a JSON document through a pipe (`nft -j -f -`), the way that can report
    /// success for JSON nft could not read. Only for tests showing why nothing else
    /// uses it.
    #[doc(hidden)]
    pub fn run_json_piped(&self, doc: &Value) -> Result<(), ApplyError> {
        self.run(&["-j", "-f", "-"], Some(&doc.to_string()))
            .map(|_| ())
    }

    /// Runs an nft script (`nft -f -`): one atomic transaction.
    pub fn run_script(&self, script: &str) -> Result<(), ApplyError> {
        self.run(&["-f", "-"], Some(script)).map(|_| ())
    }

    /// Checks a script without applying it (`nft -c -f -`).
    pub fn check_script(&self, script: &str) -> Result<(), ApplyError> {
        self.run(&["-c", "-f", "-"], Some(script)).map(|_| ())
    }

    /// Replaces our table with `rs` in one transaction, and checks that the kernel
    /// then holds the table this replace created (see `verify`).
    pub fn replace(&self, rs: &Ruleset) -> Result<(), ApplyError> {
        let seal = json::Seal::fresh();
        self.run_commands(json::replace_commands(rs, Some(seal)))?;
        let list = |args: &[&str]| -> Result<verify::Listing, ApplyError> {
            let out = self
                .run(args, None)
                .map_err(|e| ApplyError::Unverified(format!("listing: {e}")))?;
            verify::Listing::parse(&out).map_err(ApplyError::Output)
        };
        let seen = verify::Readback {
            seal: list(&["-j", "list", "set", "inet", TABLE, SEAL_SET])?,
            sets: list(&["-j", "-t", "list", "sets", "inet"])?,
            maps: list(&["-j", "-t", "list", "maps", "inet"])?,
            chains: list(&["-j", "list", "chains", "inet"])?,
        };
        verify::confirm(&seen, rs, seal).map_err(ApplyError::Unverified)
    }

    /// Applies element and chain changes in one transaction.
    pub fn apply_delta(&self, d: &Delta) -> Result<(), ApplyError> {
        if d.is_empty() {
            return Ok(());
        }
        self.run_commands(json::delta_commands(d))
    }

    /// Our table as nft lists it (JSON), or None when it does not exist.
    pub fn list_table(&self) -> Result<Option<Value>, ApplyError> {
        match self.run(&["-j", "list", "table", "inet", TABLE], None) {
            Ok(out) => serde_json::from_str(&out)
                .map(Some)
                .map_err(|e| ApplyError::Output(e.to_string())),
            Err(ApplyError::Failed { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Our table read back as it streams out of `nft -j list table` (see `reading`),
    /// or None when it does not exist.
    pub fn read_table(&self) -> Result<Option<crate::reading::TableReading>, ApplyError> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, &self.program]);
                c
            }
            None => Command::new(&self.program),
        };
        let args = ["-j", "list", "table", "inet", TABLE];
        let spawn = |source| ApplyError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn)?;
        let stdout = child.stdout.take().expect("piped stdout");
        let read = crate::reading::read(stdout);
        let out = child.wait_with_output().map_err(spawn)?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            if stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(ApplyError::Failed {
                args: args.join(" "),
                status: out.status.to_string(),
                stderr,
            });
        }
        read.map(Some)
            .map_err(|e| ApplyError::Output(e.to_string()))
    }

    /// Deletes our table (and nothing else). Returns whether it existed.
    pub fn delete_table(&self) -> Result<bool, ApplyError> {
        match self.run(&["delete", "table", "inet", TABLE], None) {
            Ok(_) => Ok(true),
            Err(ApplyError::Failed { stderr, .. })
                if stderr.contains("No such file or directory") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// A listing with handles and counter values removed and set elements sorted, so that
/// two kernels holding the same ruleset compare equal however it got there.
pub fn normalize_listing(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "handle" && k.as_str() != "metainfo")
                .map(|(k, v)| match k.as_str() {
                    "counter" => (k.clone(), serde_json::json!({})),
                    "elem" => {
                        let mut items: Vec<Value> = match v {
                            Value::Array(a) => a.iter().map(normalize_listing).collect(),
                            other => vec![normalize_listing(other)],
                        };
                        items.sort_by_key(|x| x.to_string());
                        (k.clone(), Value::Array(items))
                    }
                    _ => (k.clone(), normalize_listing(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| x.get("metainfo").is_none())
                // The seal's mark is new on every replace (see `SEAL_SET`).
                .filter(|x| x["set"]["name"] != SEAL_SET)
                .map(normalize_listing)
                .collect(),
        ),
        other => other.clone(),
    }
}
