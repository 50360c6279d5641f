//! A long-lived libnftables context on a thread of its own.
//!
//! Why not run `nft` per transaction: closing an nftables netlink socket after element
//! deletions waits for the kernel's deferred cleanup (an RCU grace period, 10-15 ms on
//! the machines we measured), and starting `nft` costs a few more. One context kept open
//! applies a small delta in well under a millisecond. libnftables is what `nft` itself is
//! built on, so the commands, the JSON and the error texts are the same.
//!
//! The library is loaded at run time with `libloading` (`libnftables.so.1`, installed
//! with nftables), so nothing is needed at build time; when it cannot be loaded,
//! callers run `nft` instead. The unsafe code left is the FFI calls themselves.

#![allow(unsafe_code)] // dlopen/dlsym of libnftables and its calls: confined to this module

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::{mpsc, Mutex};

const NFT_CTX_OUTPUT_JSON: c_uint = 1 << 4;

struct Job {
    commands: String,
    dry_run: bool,
    reply: mpsc::Sender<Result<String, String>>,
}

/// A libnftables context (optionally inside a network namespace), serving one
/// transaction at a time.
pub struct Session {
    jobs: Mutex<mpsc::Sender<Job>>,
    netns: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("netns", &self.netns)
            .finish()
    }
}

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type SetFlags = unsafe extern "C" fn(*mut c_void, c_uint);
type Buffer = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type SetDryRun = unsafe extern "C" fn(*mut c_void, bool);
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The library's entry points this module uses.
struct Library {
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    output_set_flags: SetFlags,
    buffer_output: Buffer,
    buffer_error: Buffer,
    get_output: GetBuffer,
    get_error: GetBuffer,
    set_dry_run: SetDryRun,
    run_cmd: RunCmd,
}

impl Library {
    fn load() -> Result<Library, String> {
        // SAFETY: loading libnftables runs its initialisers, which have no
        // preconditions. The library is kept open for the life of the process (leaked
        // below), so the entry points taken from it stay valid.
        let lib = unsafe { libloading::Library::new("libnftables.so.1") }
            .map_err(|e| format!("cannot load libnftables.so.1: {e}"))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        // SAFETY: each symbol is read as the signature libnftables.h declares for it
        // (nftables 0.9.3 and later); the field types spell those signatures.
        macro_rules! load {
            ($($field:ident: $ty:ty = $sym:literal),* $(,)?) => {
                Library { $($field: *unsafe { lib.get::<$ty>($sym) }
                    .map_err(|e| format!("libnftables has no {}: {e}", String::from_utf8_lossy(&$sym[..$sym.len() - 1])))?),* }
            };
        }
        Ok(load! {
            ctx_new: CtxNew = b"nft_ctx_new\0",
            ctx_free: CtxFree = b"nft_ctx_free\0",
            output_set_flags: SetFlags = b"nft_ctx_output_set_flags\0",
            buffer_output: Buffer = b"nft_ctx_buffer_output\0",
            buffer_error: Buffer = b"nft_ctx_buffer_error\0",
            get_output: GetBuffer = b"nft_ctx_get_output_buffer\0",
            get_error: GetBuffer = b"nft_ctx_get_error_buffer\0",
            set_dry_run: SetDryRun = b"nft_ctx_set_dry_run\0",
            run_cmd: RunCmd = b"nft_run_cmd_from_buffer\0",
        })
    }
}

/// The context, owned by the session's thread.
struct Context {
    lib: Library,
    ctx: *mut c_void,
}

impl Context {
    fn new() -> Result<Context, String> {
        let lib = Library::load()?;
        // SAFETY: the functions come from libnftables with their declared signatures;
        // the context pointer is checked and used only on this thread.
        unsafe {
            let ctx = (lib.ctx_new)(0);
            if ctx.is_null() {
                return Err("nft_ctx_new failed".into());
            }
            (lib.output_set_flags)(ctx, NFT_CTX_OUTPUT_JSON);
            if (lib.buffer_output)(ctx) != 0 || (lib.buffer_error)(ctx) != 0 {
                (lib.ctx_free)(ctx);
                return Err("cannot buffer libnftables output".into());
            }
            Ok(Context { lib, ctx })
        }
    }

    fn run(&mut self, commands: &str, dry_run: bool) -> Result<String, String> {
        let text = CString::new(commands).map_err(|_| "a NUL byte in the commands")?;
        // SAFETY: a live context; the returned buffers are NUL-terminated strings
        // owned by the context and copied before the next call.
        unsafe {
            (self.lib.set_dry_run)(self.ctx, dry_run);
            let rc = (self.lib.run_cmd)(self.ctx, text.as_ptr());
            let read = |p: *const c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            // Reading a buffer also empties it for the next command.
            let output = read((self.lib.get_output)(self.ctx));
            let error = read((self.lib.get_error)(self.ctx));
            if rc == 0 {
                Ok(output)
            } else if error.trim().is_empty() {
                Err(format!("libnftables returned {rc}"))
            } else {
                Err(error.trim().to_string())
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context was created by ctx_new and is freed once.
        unsafe { (self.lib.ctx_free)(self.ctx) }
    }
}

impl Session {
    /// Starts the context's thread, inside `netns` when given.
    pub fn start(netns: Option<&str>) -> Result<Session, String> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel::<Result<(), String>>();
        let ns = netns.map(str::to_string);
        std::thread::Builder::new()
            .name("nftables".into())
            .spawn(move || {
                let started = ns
                    .as_deref()
                    .map_or(Ok(()), |ns| {
                        crate::thread_netns::enter(ns).map_err(|e| e.to_string())
                    })
                    .and_then(|()| Context::new());
                let mut ctx = match started {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in inbox {
                    let _ = job.reply.send(ctx.run(&job.commands, job.dry_run));
                }
            })
            .map_err(|e| format!("starting the nftables thread: {e}"))?;
        ready
            .recv()
            .map_err(|_| "the nftables thread ended".to_string())??;
        Ok(Session {
            jobs: Mutex::new(jobs),
            netns: netns.map(str::to_string),
        })
    }

    /// Runs commands (nft syntax or JSON) as one transaction; returns what nft printed
    /// (JSON), or its error text.
    pub fn run(&self, commands: &str, dry_run: bool) -> Result<String, String> {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .lock()
            .map_err(|_| "the nftables session is poisoned".to_string())?
            .send(Job {
                commands: commands.to_string(),
                dry_run,
                reply,
            })
            .map_err(|_| "the nftables thread ended".to_string())?;
        answer
            .recv()
            .map_err(|_| "the nftables thread ended".to_string())?
    }
}
