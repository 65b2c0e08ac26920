//! The layout keeps its rules (ARCHITECTURE.md, "Invariants"): the
//! top-level modules of the server and of the shared app crate import each
//! other without a circle, and the domain (`server/src/chat`) names no I/O
//! or web framework. Read from the sources, so a change that breaks a rule
//! fails here, before review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file belongs to (`src/hub/apply.rs` -> `hub`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component");
    let first = first.as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// Source without its test modules: tests may reach anywhere.
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// Which top-level modules each top-level module names (`crate::x`).
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let from = module_of(src, &file);
        if from == "lib" || from == "main" || file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let named = graph.entry(from.clone()).or_default();
        for (at, _) in without_tests(&text).match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let to: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                named.insert(to);
            }
        }
    }
    graph
}

/// A circle in `graph`, if it has one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_server_and_app_modules_import_each_other_without_a_circle() {
    for name in ["server", "app"] {
        let graph = imports(&crate_src(name));
        assert!(graph.len() > 3, "{name}: modules found: {graph:?}");
        if let Some(found) = circle(&graph) {
            panic!("{name}: an import circle: {}", found.join(" -> "));
        }
    }
}

#[test]
fn the_circle_check_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]
            .into_iter()
            .map(|(from, to)| (from.into(), to.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(circle(&graph).map(|c| c.len()), Some(4));
}

#[test]
fn the_domain_does_no_io_and_knows_no_framework() {
    let chat = crate_src("server").join("chat");
    let files = rust_files(&chat);
    assert!(files.len() > 5, "the chat module's files");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for word in [
            "axum",
            "tokio",
            "rusqlite",
            "redis",
            "leptos",
            "std::fs",
            "std::net",
            "crate::web",
            "crate::hub",
            "crate::log",
            "crate::blobs",
        ] {
            let used = without_tests(&text)
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .any(|line| {
                    line.contains(&format!("{word}::")) || line.contains(&format!("use {word}"))
                });
            assert!(!used, "{} uses {word}", file.display());
        }
    }
}
