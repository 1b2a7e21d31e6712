//! The layout of `src/` stays as ARCHITECTURE.md draws it: a folder per stage, imports
//! pointing only down the layers, no cycle between files, and the grammar and the engine
//! free of I/O and of the process environment.
//!
//! It reads the sources as text: every `crate::…` path (in `use` lines, groups
//! `crate::{a::b, c}` included, and in expressions) and every `super::…` path outside a
//! test module names the file it comes from. Comments and `#[cfg(test)]` modules are left
//! out; test code may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers from the bottom up. A file may import from its own layer and those below.
const LAYERS: &[(&str, &str)] = &[
    (
        "format",
        "time, size and encoding formats, fnmatch: pure functions",
    ),
    (
        "site",
        "the file system, URL and path resolution, MIME types, version sources",
    ),
    (
        "engine",
        "the evaluator: elements, expressions, variables, diagnostics",
    ),
    ("bake", "the tree run: plan, render, publish, write"),
    (
        "serve",
        "the preview server: the bake's plan and pages over HTTP, live reload",
    ),
    ("cli", "the command line"),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/engine/eval.rs` → `["engine", "eval"]`; `src/bake/mod.rs` → `["bake"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The source without comments and without its `#[cfg(test)]` module (which, in this
/// crate, is always last in its file).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment (not `//` inside a string such as a URL).
        let code = match line.find(" // ") {
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The module paths a piece of code names after `prefix` (`crate::` or `super::`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        collect_tree(rest, Vec::new(), &mut found);
    }
    found
}

/// Reads `a::b::{c, d::e}` at the start of `s`, pushing each full path.
fn collect_tree(s: &str, base: Vec<String>, found: &mut Vec<Vec<String>>) {
    let mut path = base;
    let mut s = s;
    loop {
        if let Some(inner) = s.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let group = &inner[..end];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        collect_tree(group[start..i].trim(), path.clone(), found);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            collect_tree(group[start..].trim(), path.clone(), found);
            return;
        }
        let name: String = s.chars().take_while(|&c| is_ident(c)).collect();
        if name.is_empty() {
            break;
        }
        s = &s[name.len()..];
        path.push(name);
        match s.strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    if !path.is_empty() {
        found.push(path);
    }
}

/// The longest prefix of `path` that is a module file.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

struct Tree {
    /// Module → the module files it imports from (itself excluded).
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    /// Imports of the crate root's re-exports (`crate::Baker`) from inside the library.
    root_imports: Vec<String>,
    /// Module → its code (comments and tests removed).
    code: BTreeMap<Vec<String>, String>,
}

fn tree() -> Tree {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut edges = BTreeMap::new();
    let mut root_imports = Vec::new();
    let mut code_of_module = BTreeMap::new();
    for file in &files {
        if file.ends_with("main.rs") && file.parent() == Some(&src()) {
            continue;
        }
        let module = module_of(file);
        let code = code_of(&fs::read_to_string(file).unwrap());
        let mut deps = BTreeSet::new();
        let is_mod_rs = file.ends_with("mod.rs");
        let mut named = paths_after(&code, "crate::");
        for p in paths_after(&code, "super::") {
            // `super` of a folder's `mod.rs` is the folder's parent; of any other file, its
            // folder.
            let up = if is_mod_rs { 2 } else { 1 };
            let mut full: Vec<String> = module[..module.len().saturating_sub(up)].to_vec();
            full.extend(p);
            named.push(full);
        }
        // `mod x;` and `use x::…` inside a folder's `mod.rs` name its children.
        if is_mod_rs || module.is_empty() {
            for line in code.lines() {
                let line = line.trim();
                for kw in ["use ", "pub use ", "pub(crate) use "] {
                    if let Some(r) = line.strip_prefix(kw) {
                        if !r.starts_with("crate::")
                            && !r.starts_with("super::")
                            && !r.starts_with("std::")
                        {
                            let mut found = Vec::new();
                            collect_tree(r, Vec::new(), &mut found);
                            for f in found {
                                let mut full = module.clone();
                                full.extend(f);
                                named.push(full);
                            }
                        }
                    }
                }
            }
        }
        for p in named {
            match resolve(&p, &modules) {
                Some(m) if m.is_empty() && !module.is_empty() => {
                    root_imports.push(format!("{}: crate::{}", file.display(), p.join("::")));
                }
                Some(m) if m.is_empty() => {}
                Some(m) if m != module && !module.starts_with(&m) => {
                    deps.insert(m);
                }
                _ => {}
            }
        }
        edges.insert(module.clone(), deps);
        code_of_module.insert(module, code);
    }
    Tree {
        edges,
        root_imports,
        code: code_of_module,
    }
}

fn layer(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|(name, _)| name == top)
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "lib.rs".into()
    } else {
        m.join("::")
    }
}

#[test]
fn every_file_is_in_a_stage_folder() {
    let tree = tree();
    let loose: Vec<String> = tree
        .edges
        .keys()
        .filter(|m| !m.is_empty() && layer(m).is_none())
        .map(|m| show(m))
        .collect();
    assert!(
        loose.is_empty(),
        "files outside the stage folders {:?}: {loose:?} (see ARCHITECTURE.md)",
        LAYERS.iter().map(|l| l.0).collect::<Vec<_>>()
    );
}

#[test]
fn imports_point_down_the_layers_only() {
    let tree = tree();
    let mut upward = Vec::new();
    for (from, deps) in &tree.edges {
        let Some(from_layer) = layer(from) else {
            continue;
        };
        for to in deps {
            match layer(to) {
                Some(to_layer) if to_layer > from_layer => upward.push(format!(
                    "{} ({}) imports {} ({})",
                    show(from),
                    LAYERS[from_layer].0,
                    show(to),
                    LAYERS[to_layer].0
                )),
                None => upward.push(format!("{} imports {}", show(from), show(to))),
                _ => {}
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the flow:\n{}",
        upward.join("\n")
    );
    assert!(
        tree.root_imports.is_empty(),
        "the library imports the crate root's re-exports (name the module instead):\n{}",
        tree.root_imports.join("\n")
    );
}

#[test]
fn no_cycle_between_files() {
    let tree = tree();
    // Depth-first search with colours; report the first cycle found.
    fn visit(
        m: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for d in edges.get(m).into_iter().flatten() {
            match state.get(d).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(d, edges, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let start = stack.iter().position(|s| s == d).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    // The crate root re-exports everything; it is the one node allowed to.
    let edges: BTreeMap<_, _> = tree
        .edges
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, d)| (m.clone(), d.clone()))
        .collect();
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if state.get(m).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new()) {
                let shown: Vec<String> = cycle.iter().map(|m| show(m)).collect();
                panic!("import cycle: {}", shown.join(" -> "));
            }
        }
    }
}

#[test]
fn the_library_never_reads_the_process_environment() {
    let tree = tree();
    let mut found = Vec::new();
    for (m, code) in &tree.code {
        if m.first().is_some_and(|t| t == "cli") || m.is_empty() {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if line.contains("env::var") || line.contains("env::vars") {
                // The one place: TZDIR locates the system's zone files, as libc does.
                if line.contains("\"TZDIR\"") {
                    continue;
                }
                found.push(format!("{}:{}: {}", show(m), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only the command line reads the environment (templates see only what they are given):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_grammar_does_no_io() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("grammar")
        .join("src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(!files.is_empty());
    let mut found = Vec::new();
    for f in files {
        let code = code_of(&fs::read_to_string(&f).unwrap());
        for word in [
            "std::fs",
            "std::process",
            "std::env",
            "std::io::Read",
            "File::",
            "TcpStream",
        ] {
            if code.contains(word) {
                found.push(format!("{}: {word}", f.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the grammar crate is pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_write_stage_and_the_command_line_write_files() {
    let tree = tree();
    let writes = [
        "fs::write(",
        "fs::create_dir",
        "fs::rename(",
        "fs::remove_",
        "fs::hard_link(",
        "fs::copy(",
        "set_permissions(",
        "set_file_mtime(",
        "set_file_times(",
        "File::create(",
        "tempfile::",
    ];
    let mut found = Vec::new();
    for (m, code) in &tree.code {
        let allowed = m == &["bake".to_string(), "write".to_string()]
            || m.first().is_some_and(|t| t == "cli");
        if allowed {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if let Some(w) = writes.iter().find(|w| line.contains(*w)) {
                found.push(format!("{}:{}: {w}", show(m), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only bake::write touches the output:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_site_reads_the_document_root() {
    // Every read of the root goes through `site` (resolution first, then the open);
    // `bake::write` reads only the output it owns, `format::timefmt` the system's zone
    // files, and the command line its own arguments.
    let tree = tree();
    let reads = [
        "fs::read(",
        "fs::read_to_string(",
        "File::open(",
        "read_dir(",
        "fs::metadata(",
    ];
    let allowed = |m: &[String]| {
        let m: Vec<&str> = m.iter().map(String::as_str).collect();
        matches!(
            m.as_slice(),
            ["site", ..] | ["cli", ..] | ["bake", "write"] | ["format", "timefmt"]
        )
    };
    let mut found = Vec::new();
    for (m, code) in &tree.code {
        if allowed(m) {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            if let Some(r) = reads.iter().find(|r| line.contains(*r)) {
                found.push(format!("{}:{}: {r}", show(m), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "files read outside the site model:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    // The parser above must find what it claims to check.
    let mut found = Vec::new();
    collect_tree(
        "engine::{eval::{OnError, Settings}, diag}, site::fs;",
        Vec::new(),
        &mut found,
    );
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "engine::eval::OnError",
            "engine::eval::Settings",
            "engine::diag"
        ]
    );
    let code = code_of(
        "use crate::site::fs::DiskFs; // crate::cli::x\nlet x = crate::engine::eval::hex(b);\n",
    );
    let paths: Vec<String> = paths_after(&code, "crate::")
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(paths, ["site::fs::DiskFs", "engine::eval::hex"]);
    let tree = tree();
    let eval = vec!["engine".to_string(), "eval".to_string()];
    assert!(
        tree.edges[&eval].contains(&vec!["site".to_string(), "fs".to_string()]),
        "engine::eval imports site::fs"
    );
}
