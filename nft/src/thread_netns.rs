//! Moving the calling thread into a named network namespace (`ip netns add` names it
//! under /run/netns): the one helper the kept libnftables context, the NFLOG reader and
//! the conntrack socket use, each on a thread of its own, so the rest of the process
//! stays where it was.

/// Moves the calling thread into `/run/netns/<name>`.
pub fn enter(name: &str) -> std::io::Result<()> {
    let path = format!("/run/netns/{name}");
    let file = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("opening {path}: {e}")))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        let e = std::io::Error::from(e);
        std::io::Error::new(e.kind(), format!("entering {path}: {e}"))
    })
}
