//! The module picture at the top of `src/lib.rs` is the rule: a module
//! uses only modules on lower lines of it. This test reads the picture and
//! every `crate::` path in the sources (test modules and comments left
//! out), and fails naming the file and the import that points up or
//! sideways, or the module the picture leaves out.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The picture's lines, top first: each a list of top-level module names.
fn layers() -> Vec<Vec<String>> {
    let lib = fs::read_to_string(Path::new(SRC).join("lib.rs")).expect("read lib.rs");
    let start = lib.find("//! ```text\n").expect("lib.rs has a ```text picture") + "//! ```text\n".len();
    let end = start + lib[start..].find("//! ```\n").expect("the picture ends");
    lib[start..end]
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .map(|l| l.split("  ").next().unwrap_or("").trim())
        .map(|names| names.split(" · ").map(|n| n.trim().trim_end_matches('/').to_string()).collect())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`defer/slot.rs` → `defer`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The first segments of every `crate::` path in `code` (not `$crate::`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let macro_path = i > 0 && rest.as_bytes()[i - 1] == b'$';
        rest = &rest[i + "crate::".len()..];
        if macro_path {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += i32::from(c == '{') - i32::from(c == '}');
                    depth < 0
                })
                .map_or(group.len(), |(j, _)| j);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain(std::iter::once(',')) {
                depth += i32::from(c == '{') - i32::from(c == '}');
                if c == ',' && depth == 0 {
                    out.push(first_segment(item.trim()));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The file without its test module and without comments.
fn code_of(source: &str) -> String {
    let body = source.split("#[cfg(test)]\nmod tests").next().unwrap_or(source);
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_import_points_to_a_lower_layer_of_the_lib_rs_picture() {
    let layers = layers();
    let rank: HashMap<String, usize> =
        layers.iter().enumerate().flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i))).collect();
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let mut faults = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("lib.rs")) {
        let me = module_of(file);
        let Some(&my_rank) = rank.get(&me) else {
            faults.push(format!("{}: module `{me}` is not in the lib.rs picture", file.display()));
            continue;
        };
        let code = code_of(&fs::read_to_string(file).expect("read source"));
        for dep in crate_paths(&code) {
            if dep == me || !rank.contains_key(&dep) {
                continue; // inside the module's own directory, or a crate-root item
            }
            if rank[&dep] <= my_rank {
                faults
                    .push(format!("{}: uses `crate::{dep}`, which is not on a lower line than `{me}`", file.display()));
            }
        }
    }
    assert!(faults.is_empty(), "the module picture in src/lib.rs is broken:\n{}", faults.join("\n"));
}

#[test]
fn the_picture_names_modules_that_exist() {
    for name in layers().into_iter().flatten() {
        let file = Path::new(SRC).join(format!("{name}.rs"));
        let dir = Path::new(SRC).join(&name).join("mod.rs");
        assert!(file.exists() || dir.exists(), "lib.rs pictures `{name}`, which has no file");
    }
}

#[test]
fn an_upward_import_is_caught() {
    // The checker itself: a path to a higher layer is found.
    let code = "use crate::engine::Engine;\nuse crate::{reader::ReaderSlot, gp::sequence::GpState};\n// crate::cell in a comment\nlet x = $crate::api;";
    assert_eq!(crate_paths(&code_of(code)), ["engine", "reader", "gp"]);
}
