//! The hidden `__complete` command: cobra's completion protocol, which kubectl (1.26 and
//! later) speaks to a plugin's `kubectl_complete-NAME` executable for `kubectl NAME <TAB>`.
//! The arguments are the words typed after the plugin's name, the last one the word being
//! completed (`""` for a new word). The answer is one candidate a line (`value\tdescription`),
//! then `:DIRECTIVE`, a bit set of cobra's ShellCompDirective.
//!
//! Completed: subcommands, flags, the values of flags that have a fixed set, and the
//! kubeconfig's contexts, clusters and users for `--context`, `--cluster`, `--user`
//! (of the `--kubeconfig` typed before, else kubectl's default); `-f` and other path
//! flags leave it to the shell's file completion.

use clap::{Arg, ArgAction, Command};
use netfence_loader::connect::{kubeconfig_names, KubeconfigNames};
use std::path::PathBuf;

/// cobra's ShellCompDirective bits.
mod directive {
    /// Let the shell complete file names when there is no candidate.
    pub const DEFAULT: u32 = 0;
    /// Never complete file names.
    pub const NO_FILE_COMP: u32 = 4;
    /// The candidates are file extensions to filter file names by.
    pub const FILTER_FILE_EXT: u32 = 8;
}

/// The manifest extensions `-f` reads in a directory.
const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

pub struct Completions {
    pub candidates: Vec<String>,
    pub directive: u32,
}

impl Completions {
    /// The protocol's answer.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.candidates {
            out.push_str(c);
            out.push('\n');
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

fn candidate(value: &str, help: Option<String>) -> String {
    // A description is one line: the first of the help text.
    match help.as_deref().and_then(|h| h.lines().next()) {
        Some(h) if !h.is_empty() => format!("{value}\t{h}"),
        _ => value.to_string(),
    }
}

fn takes_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(name))
}

fn find_short(cmd: &Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c))
}

/// The flag a word names if it takes its value from the next word (`--output`, `-o`).
fn flag_wanting_value<'a>(cmd: &'a Command, word: &str) -> Option<&'a Arg> {
    let arg = if let Some(long) = word.strip_prefix("--") {
        if long.contains('=') {
            return None;
        }
        find_long(cmd, long)?
    } else {
        let mut chars = word.strip_prefix('-')?.chars();
        let c = chars.next()?;
        // `-ojson` carries its value.
        if chars.next().is_some() {
            return None;
        }
        find_short(cmd, c)?
    };
    takes_value(arg).then_some(arg)
}

/// The values of `arg`, as candidates prefixed by `prefix` (`--output=`) and filtered
/// by what is typed; `kubeconfig` is the `--kubeconfig` typed before.
fn values(arg: &Arg, prefix: &str, typed: &str, kubeconfig: Option<PathBuf>) -> Completions {
    let possible = arg.get_possible_values();
    if !possible.is_empty() {
        let candidates = possible
            .iter()
            .filter(|v| !v.is_hide_set() && v.get_name().starts_with(typed))
            .map(|v| {
                candidate(
                    &format!("{prefix}{}", v.get_name()),
                    v.get_help().map(|h| h.to_string()),
                )
            })
            .collect();
        return Completions {
            candidates,
            directive: directive::NO_FILE_COMP,
        };
    }
    let named = |pick: fn(KubeconfigNames) -> Vec<String>| Completions {
        candidates: pick(kubeconfig_names(kubeconfig.clone()))
            .into_iter()
            .filter(|n| n.starts_with(typed))
            .map(|n| format!("{prefix}{n}"))
            .collect(),
        directive: directive::NO_FILE_COMP,
    };
    match arg.get_id().as_str() {
        "context" => named(|n| n.contexts),
        "cluster" => named(|n| n.clusters),
        "user" => named(|n| n.users),
        "files" => Completions {
            candidates: MANIFEST_EXTENSIONS.iter().map(|e| e.to_string()).collect(),
            directive: directive::FILTER_FILE_EXT,
        },
        // Paths of any kind: the kubeconfig, the lint config, the git repository.
        "kubeconfig" | "config" | "repo" => Completions {
            candidates: Vec::new(),
            directive: directive::DEFAULT,
        },
        _ => Completions {
            candidates: Vec::new(),
            directive: directive::NO_FILE_COMP,
        },
    }
}

fn flags(cmd: &Command, typed: &str) -> Completions {
    let mut candidates = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let help = arg.get_help().map(|h| h.to_string());
        if let Some(long) = arg.get_long() {
            let word = format!("--{long}");
            if word.starts_with(typed) {
                candidates.push(candidate(&word, help.clone()));
            }
        }
        // Short flags only for a lone `-`, as cobra does: `--` asks for long ones.
        if let Some(short) = arg.get_short() {
            let word = format!("-{short}");
            if typed == "-" {
                candidates.push(candidate(&word, help));
            }
        }
    }
    Completions {
        candidates,
        directive: directive::NO_FILE_COMP,
    }
}

fn subcommands(cmd: &Command, typed: &str) -> Completions {
    let candidates = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name().starts_with(typed))
        .map(|s| candidate(s.get_name(), s.get_about().map(|a| a.to_string())))
        .collect();
    Completions {
        candidates,
        directive: directive::NO_FILE_COMP,
    }
}

/// Completes the last of `words` (the words after the program's name) for `root`.
pub fn complete(mut root: Command, words: &[String]) -> Completions {
    // Building propagates the global flags and adds --help/--version to every subcommand.
    root.build();
    let (typed, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", words),
    };
    let mut cmd = &root;
    let mut pending: Option<&Arg> = None;
    let mut positionals_only = false;
    let mut kubeconfig = None;
    for word in before {
        if let Some(arg) = pending.take() {
            if arg.get_id() == "kubeconfig" {
                kubeconfig = Some(PathBuf::from(word));
            }
            continue;
        }
        if let Some(path) = word.strip_prefix("--kubeconfig=") {
            kubeconfig = Some(PathBuf::from(path));
        }
        if positionals_only {
            continue;
        }
        if word == "--" {
            positionals_only = true;
        } else if word.starts_with('-') {
            pending = flag_wanting_value(cmd, word);
        } else if let Some(sub) = cmd.find_subcommand(word) {
            cmd = sub;
        }
    }
    if let Some(arg) = pending {
        return values(arg, "", typed, kubeconfig);
    }
    if !positionals_only {
        if let Some((flag, value)) = typed.strip_prefix("--").and_then(|t| t.split_once('=')) {
            return match find_long(cmd, flag) {
                Some(arg) => values(arg, &format!("--{flag}="), value, kubeconfig),
                None => Completions {
                    candidates: Vec::new(),
                    directive: directive::NO_FILE_COMP,
                },
            };
        }
        if typed.starts_with('-') {
            return flags(cmd, typed);
        }
    }
    if cmd.has_subcommands() {
        return subcommands(cmd, typed);
    }
    // Positionals are pod, workload and Service names: not completed.
    Completions {
        candidates: Vec::new(),
        directive: directive::NO_FILE_COMP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    fn run(words: &[&str]) -> (Vec<String>, u32) {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let c = complete(Cli::command(), &words);
        let values = c
            .candidates
            .iter()
            .map(|c| c.split('\t').next().unwrap().to_string())
            .collect();
        (values, c.directive)
    }

    #[test]
    fn subcommands_at_the_top() {
        let (values, d) = run(&[""]);
        for s in [
            "can-reach",
            "explain",
            "matrix",
            "lint",
            "version",
            "completion",
        ] {
            assert!(values.contains(&s.to_string()), "{values:?}");
        }
        assert_eq!(d, 4);
        assert_eq!(run(&["ma"]).0, ["matrix"]);
    }

    #[test]
    fn flags_of_the_subcommand_and_the_global_ones() {
        let (values, _) = run(&["can-reach", "--o"]);
        assert_eq!(values, ["--output"]);
        let (values, _) = run(&["matrix", "--"]);
        for f in [
            "--by",
            "--port",
            "--kubeconfig",
            "--context",
            "--request-timeout",
        ] {
            assert!(values.contains(&f.to_string()), "{values:?}");
        }
    }

    #[test]
    fn enum_values_after_the_flag_or_its_equals_sign() {
        assert_eq!(
            run(&["can-reach", "-o", ""]),
            (vec!["text".into(), "json".into()], 4)
        );
        assert_eq!(run(&["matrix", "--by", "w"]).0, ["workload"]);
        assert_eq!(run(&["matrix", "--output=c"]).0, ["--output=csv"]);
    }

    #[test]
    fn kubeconfig_names_of_the_kubeconfig_typed_before() {
        let path = std::env::temp_dir().join(format!("netfence-complete-{}", std::process::id()));
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: east\n  cluster: {server: 'https://e'}\n\
             users:\n- name: admin\n  user: {}\ncontexts:\n- name: prod\n  context: {cluster: east, user: admin}\n\
             - name: staging\n  context: {cluster: east, user: admin}\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(
            run(&["matrix", "--kubeconfig", p, "--context", ""]).0,
            ["prod", "staging"]
        );
        assert_eq!(
            run(&["--kubeconfig", p, "lint", "--context", "s"]).0,
            ["staging"]
        );
        assert_eq!(
            run(&["lint", &format!("--kubeconfig={p}"), "--cluster="]).0,
            ["--cluster=east"]
        );
        assert_eq!(
            run(&["lint", "--kubeconfig", p, "--user", ""]),
            (vec!["admin".into()], 4)
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn manifests_by_extension_and_paths_by_the_shell() {
        assert_eq!(
            run(&["lint", "-f", ""]),
            (vec!["yaml".into(), "yml".into(), "json".into()], 8)
        );
        assert_eq!(run(&["lint", "--kubeconfig", ""]), (vec![], 0));
        // A value taken by a flag is not a subcommand: `-n lint` stays in `matrix`.
        assert_eq!(run(&["matrix", "-n", "lint", "--b"]).0, ["--by"]);
    }
}
