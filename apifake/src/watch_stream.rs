//! The body of a watch response: one chunk per event line, flushed as it comes, as
//! kube-apiserver streams; BOOKMARKs on the interval; a graceful end (the terminating
//! chunk) after the watch's timeout or an expiry, and an abrupt one (no terminating
//! chunk: hyper closes the connection on a body error) when the watch is dropped.

use crate::event::{bookmark_line, event_line};
use crate::state::Shared;
use crate::status::status;
use crate::watch::{WatchEnd, WatchPlan};
use bytes::Bytes;
use hyper::body::Frame;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::time::Instant;

/// The body error that makes hyper cut the connection mid-stream.
#[derive(Debug)]
pub(crate) struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("watch connection dropped")
    }
}

impl std::error::Error for Cut {}

/// What to do once the outbox is sent.
#[derive(Clone, Copy)]
enum Then {
    /// Take what is queued on the watch.
    Look,
    /// Sleep until a change, the next bookmark or the deadline.
    Wait,
    /// End the stream gracefully.
    End,
    /// Close the connection abruptly.
    Cut,
}

/// A registered watch being streamed; it leaves the registry when dropped, which hyper
/// does when the stream ends or the connection goes (the client closing it included).
pub(crate) struct WatchStream {
    shared: Arc<Shared>,
    id: u64,
    api_version: String,
    kind: String,
    bookmarks: bool,
    deadline: Instant,
    outbox: VecDeque<Bytes>,
    then: Then,
    changed: tokio::sync::watch::Receiver<u64>,
    last_bookmark: Instant,
    next_bookmark: Option<Instant>,
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.shared.lock().watches.remove(self.id);
    }
}

impl WatchStream {
    pub(crate) fn new(shared: Arc<Shared>, plan: WatchPlan) -> WatchStream {
        let changed = shared.subscribe();
        WatchStream {
            shared,
            id: plan.id,
            api_version: plan.api_version,
            kind: plan.kind,
            bookmarks: plan.bookmarks,
            deadline: plan.deadline,
            outbox: plan.initial.into(),
            then: if plan.end_after_initial {
                Then::End
            } else {
                Then::Look
            },
            changed,
            last_bookmark: Instant::now(),
            next_bookmark: None,
        }
    }

    /// The response body: each line a data frame, which hyper sends as one chunk.
    pub(crate) fn into_body(
        self,
    ) -> http_body_util::StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Cut>>>
    {
        let frames = futures_util::stream::unfold(self, |mut watch| async move {
            let line = watch.next_line().await?;
            Some((line.map(Frame::data), watch))
        });
        http_body_util::StreamBody::new(frames)
    }

    /// The next line to send; `None` at a graceful end.
    async fn next_line(&mut self) -> Option<Result<Bytes, Cut>> {
        loop {
            if let Some(line) = self.outbox.pop_front() {
                return Some(Ok(line));
            }
            match self.then {
                Then::Look => self.look(),
                Then::Wait => {
                    if Instant::now() >= self.deadline {
                        return None;
                    }
                    self.wait().await;
                }
                Then::End => return None,
                Then::Cut => {
                    // Pending once, so that hyper flushes the lines already handed over
                    // (they were sent, as far as the test thread knows) before the cut.
                    tokio::task::yield_now().await;
                    return Some(Err(Cut));
                }
            }
        }
    }

    /// Moves what is queued on the watch (and a due bookmark) to the outbox, or takes
    /// the end injected into it.
    fn look(&mut self) {
        self.changed.borrow_and_update();
        let now = Instant::now();
        let mut s = self.shared.lock();
        let down = s.faults.down;
        let interval = s.watches.bookmark_interval.filter(|_| self.bookmarks);
        let Some((lines, end)) = s.watches.take(self.id) else {
            self.then = Then::Cut;
            return;
        };
        // A watch registered just as the server went down is dropped too.
        let end = if down { Some(WatchEnd::Drop) } else { end };
        match end {
            Some(WatchEnd::Drop) => {
                self.then = Then::Cut;
                return;
            }
            Some(WatchEnd::Expire) => {
                let st = status(
                    410,
                    "Expired",
                    "The resourceVersion for the provided watch is too old.",
                );
                self.outbox.push_back(event_line("ERROR", &st));
                self.then = Then::End;
                return;
            }
            Some(WatchEnd::Close) => {
                self.outbox.extend(lines);
                self.then = Then::End;
                return;
            }
            None => {}
        }
        self.outbox.extend(lines);
        if let Some(every) = interval {
            if now >= self.last_bookmark + every {
                // Every event up to the current version is in the outbox: the bookmark
                // follows them.
                let rv = s.store.resource_version();
                let line = bookmark_line(&self.api_version, &self.kind, rv, false);
                self.outbox.push_back(line);
                self.last_bookmark = now;
            }
        }
        self.next_bookmark = interval.map(|every| self.last_bookmark + every);
        self.then = Then::Wait;
    }

    /// Sleeps until the state changes, a bookmark is due or the deadline passes.
    async fn wait(&mut self) {
        let wake = self
            .next_bookmark
            .map_or(self.deadline, |b| b.min(self.deadline));
        tokio::select! {
            r = self.changed.changed() => {
                self.then = if r.is_err() { Then::Cut } else { Then::Look };
            }
            _ = tokio::time::sleep_until(wake) => self.then = Then::Look,
        }
    }
}
