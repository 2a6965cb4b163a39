//! The layer check: a crate's `src/lib.rs` draws its modules as a
//! ```` ```text ```` picture, top to bottom, and a module may use only
//! modules on lower lines. [`check`] reads the picture and every `crate::`
//! path in the crate's sources (test modules and comments left out) and
//! names each import that points up or sideways, and each module the
//! picture leaves out or names without a file.
//!
//! The picture's format: one line per layer, module names first, separated
//! by ` · ` (a directory written `name/`), then two or more spaces and a
//! description. Files inside one directory use each other freely; the crate
//! roots (`lib.rs`, `main.rs`) are not checked.
//!
//! A crate's test calls it once:
//!
//! ```no_run
//! let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
//! if let Err(faults) = rcu_testkit::layers::check(src.as_ref()) {
//!     panic!("the module picture in src/lib.rs is broken:\n{faults}");
//! }
//! ```

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The opening and closing lines of the picture in `lib.rs`.
const OPEN: &str = "//! ```text\n";
const CLOSE: &str = "//! ```\n";

/// Checks the crate whose sources are in `src`; `Err` lists every fault,
/// one a line.
///
/// # Panics
///
/// If `src/lib.rs` or a source file cannot be read, or `lib.rs` has no
/// picture.
pub fn check(src: &Path) -> Result<(), String> {
    let mut faults = missing_modules(src);
    faults.extend(upward_imports(src));
    if faults.is_empty() {
        Ok(())
    } else {
        Err(faults.join("\n"))
    }
}

/// The picture's lines, top first: each a list of top-level module names.
///
/// # Panics
///
/// As [`check`].
pub fn layers(src: &Path) -> Vec<Vec<String>> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let start = lib.find(OPEN).expect("lib.rs has a ```text picture") + OPEN.len();
    let end = start + lib[start..].find(CLOSE).expect("the picture ends");
    lib[start..end]
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .map(|l| l.split("  ").next().unwrap_or("").trim())
        .map(|names| names.split(" · ").map(|n| n.trim().trim_end_matches('/').to_string()).collect())
        .collect()
}

/// Faults of modules the picture names that have no file.
pub fn missing_modules(src: &Path) -> Vec<String> {
    layers(src)
        .into_iter()
        .flatten()
        .filter(|name| !src.join(format!("{name}.rs")).exists() && !src.join(name).join("mod.rs").exists())
        .map(|name| format!("lib.rs pictures `{name}`, which has no file"))
        .collect()
}

/// Faults of imports that do not point to a lower layer, and of modules
/// the picture leaves out.
pub fn upward_imports(src: &Path) -> Vec<String> {
    let layers = layers(src);
    let rank: HashMap<String, usize> =
        layers.iter().enumerate().flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i))).collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let roots = [src.join("lib.rs"), src.join("main.rs")];
    let mut faults = Vec::new();
    for file in files.iter().filter(|f| !roots.contains(f)) {
        let me = module_of(src, file);
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
    faults
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
fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The first segments of every `crate::` path in `code` (not `$crate::`),
/// groups (`crate::{a::X, b}`) included.
pub fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let macro_path = i > 0 && rest.as_bytes()[i - 1] == b'$';
        rest = &rest[i + "crate::".len()..];
        if macro_path {
            continue;
        }
        match rest.strip_prefix('{') {
            Some(group) => out.extend(group_heads(group)),
            None => out.push(first_segment(rest)),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The first segment of each item of a `{...}` group (`group` starts after
/// the opening brace).
fn group_heads(group: &str) -> Vec<String> {
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
    let mut heads = Vec::new();
    for c in group[..end].chars().chain(std::iter::once(',')) {
        depth += i32::from(c == '{') - i32::from(c == '}');
        if c == ',' && depth == 0 {
            heads.push(first_segment(item.trim()));
            item.clear();
        } else {
            item.push(c);
        }
    }
    heads
}

fn first_segment(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The file without its test module and without comment lines.
pub fn code_of(source: &str) -> String {
    let body = source.split("#[cfg(test)]\nmod tests").next().unwrap_or(source);
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_groups_are_found_and_comments_and_macro_paths_skipped() {
        let code = "use crate::engine::Engine;\nuse crate::{reader::ReaderSlot, gp::{a, b}};\n// crate::cell in a comment\nlet x = $crate::api;";
        assert_eq!(crate_paths(&code_of(code)), ["engine", "reader", "gp"]);
    }

    /// A crate in a temporary directory: `lib.rs` with `picture`, and
    /// `files` (name, contents).
    fn fixture(name: &str, picture: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rcu-testkit-layers-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the fixture");
        let lib = format!("//! Layers\n//!\n{OPEN}{picture}{CLOSE}\nmod x;\n");
        fs::write(dir.join("lib.rs"), lib).expect("write lib.rs");
        for (file, text) in files {
            fs::write(dir.join(file), text).expect("write a source");
        }
        dir
    }

    #[test]
    fn an_upward_or_sideways_import_and_an_unpictured_module_are_faults() {
        let picture =
            "//! top          uses anything below\n//! mid · side    the middle\n//! low          the bottom\n";
        let files = [
            ("top.rs", "use crate::mid::M;\nuse crate::low::L;\n"),
            ("mid.rs", "use crate::side::S;\nuse crate::top::T;\n"),
            ("side.rs", "use crate::low::L;\n"),
            ("low.rs", "// crate::top in a comment is fine\n"),
            ("stray.rs", ""),
        ];
        let src = fixture("faults", picture, &files);
        let faults = check(&src).expect_err("two bad imports and a stray module");
        assert!(faults.contains("mid.rs: uses `crate::side`"), "{faults}");
        assert!(faults.contains("mid.rs: uses `crate::top`"), "{faults}");
        assert!(faults.contains("module `stray` is not in the lib.rs picture"), "{faults}");
        assert_eq!(faults.lines().count(), 3, "{faults}");
        let _ = fs::remove_dir_all(src);
    }

    #[test]
    fn a_picture_that_names_a_missing_module_is_a_fault_and_a_good_one_passes() {
        let src =
            fixture("missing", "//! a · gone/  two\n//! b          one\n", &[("a.rs", "use crate::b;"), ("b.rs", "")]);
        assert_eq!(check(&src), Err("lib.rs pictures `gone`, which has no file".to_owned()));
        fs::create_dir_all(src.join("gone")).expect("mkdir");
        fs::write(src.join("gone").join("mod.rs"), "use crate::b::X;").expect("write");
        assert_eq!(check(&src), Ok(()));
        let _ = fs::remove_dir_all(src);
    }
}
