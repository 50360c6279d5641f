//! Target `render`: the nftables ruleset of every node of the compiled cluster.

use netfence_model::Model;
use netfence_nft::{json, render_ruleset, text, NodeView, RenderOptions, Ruleset};
use std::collections::BTreeSet;

/// Nodes rendered per input: the one-node view plus the first few named nodes (each
/// render walks the whole model; more nodes add time, not new code paths).
const MAX_NODES: usize = 4;

/// The views a cluster is enforced through: every pod (`name: None`) and each node
/// its pods name.
pub fn node_views(model: &Model) -> Vec<NodeView> {
    let names: BTreeSet<&String> = model
        .cluster
        .endpoints
        .iter()
        .filter_map(|e| e.node.as_ref())
        .collect();
    std::iter::once(None)
        .chain(names.into_iter().take(MAX_NODES).map(|n| Some(n.clone())))
        .map(|name| NodeView {
            name,
            addrs: vec![],
        })
        .collect()
}

/// Options that switch on every optional rule (counters, drop logging).
pub fn options() -> RenderOptions {
    RenderOptions {
        counters: true,
        log_group: Some(7),
        unprogrammed_guard: vec![],
    }
}

/// Renders `node` and serialises the ruleset both ways nft reads it. Asserts that
/// render succeeds (names are SHA-256 of their content: a collision is a bug), that
/// the JSON document passes `json::to_text` (no NUL or other control character in
/// any string or key) and that the text script holds no NUL. Returns the ruleset
/// and the JSON text.
pub fn render_node(model: &Model, node: &NodeView) -> (Ruleset, String) {
    let rs = render_ruleset(model, node, &options())
        .unwrap_or_else(|e| panic!("render {:?}: {e}", node.name));
    let doc = json::to_text(&json::replace_document(&rs))
        .unwrap_or_else(|e| panic!("render {:?}: JSON for nft: {e}", node.name));
    assert!(
        !doc.chars().any(char::is_control),
        "raw control character in JSON"
    );
    let script = text::replace_script(&rs);
    assert!(!script.contains('\0'), "NUL in the nft script");
    (rs, doc)
}

/// Compiles `data` (with the compile checks) and renders every node view of it.
pub fn check(data: &[u8]) {
    let (model, _) = crate::compile::check(data);
    for node in node_views(&model) {
        render_node(&model, &node);
    }
}
