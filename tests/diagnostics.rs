//! What a user sees when they get the flavours wrong: `cargo check` of a
//! small crate that makes every mistake once, and the compiler's messages
//! checked for the words a user needs (both flavours, the fix) and for the
//! words they must not see (an internal crate, `AtomicBool`).
//!
//! The crate is built in `target/diagnostics` (its own target directory:
//! the first run checks the `rcu` crates once, later runs only the crate).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every mistake, one function each.
const MISTAKES: &str = r#"
#![allow(dead_code, unused_must_use)]
fn require_send<T: Send>(_: T) {}
async fn later() {}

fn memb_guard_on_qsbr_cell() {
    let cell = rcu::qsbr::RcuCell::new(1u8);
    let guard = rcu::memb::read_lock();
    cell.load(&guard);
}
fn memb_guard_on_srcu_cell() {
    let cell = rcu::srcu::RcuCell::new(1u8);
    let guard = rcu::memb::read_lock();
    cell.load(&guard);
}
fn qsbr_guard_on_memb_cell() {
    let cell = rcu::memb::RcuCell::new(1u8);
    let me = rcu::qsbr::register_thread();
    let guard = me.read_lock();
    cell.load(&guard);
}
fn qsbr_guard_on_srcu_cell() {
    let cell = rcu::srcu::RcuCell::new(1u8);
    let me = rcu::qsbr::register_thread();
    let guard = me.read_lock();
    cell.load(&guard);
}
fn srcu_guard_on_memb_cell() {
    let cell = rcu::memb::RcuCell::new(1u8);
    let guard = rcu::srcu::read_lock();
    cell.load(&guard);
}
fn srcu_guard_on_qsbr_cell() {
    let cell = rcu::qsbr::RcuCell::new(1u8);
    let guard = rcu::srcu::read_lock();
    cell.load(&guard);
}
fn domain_guard_on_srcu_cell() {
    static DOMAIN: rcu::srcu::Domain = rcu::srcu::Domain::new();
    let cell = rcu::srcu::RcuCell::new(1u8);
    let guard = DOMAIN.read_lock();
    cell.load(&guard);
}
fn memb_guard_across_await() {
    require_send(async {
        let guard = rcu::memb::read_lock();
        later().await;
        drop(guard);
    });
}
fn qsbr_guard_across_await() {
    require_send(async {
        let me = rcu::qsbr::register_thread();
        let guard = me.read_lock();
        later().await;
        drop(guard);
    });
}
fn main() {}
"#;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes the crate under `dir` and returns `cargo check`'s stderr.
fn check(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("src")).expect("create the crate's directory");
    let manifest = format!(
        "[package]\nname = \"mistakes\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nrcu = {{ path = {:?} }}\n\n[workspace]\n",
        workspace()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), MISTAKES).expect("write main.rs");
    // The workspace's lock file: the same dependency versions, no index.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--offline", "--quiet", "--color", "never"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", workspace().join("target/diagnostics"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo check");
    assert!(!out.status.success(), "every function in the crate is a mistake: it must not compile");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn mistakes_are_explained_in_the_users_words() {
    let dir = workspace().join("target/diagnostics/mistakes");
    let stderr = check(&dir);
    let headlines: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("error") && !l.starts_with("error: could not compile")).collect();

    // Mixing flavours: each pair names the guard (by its public path) and
    // the cell's flavour, and the fix.
    for (guard, cell) in [
        ("rcu::memb::ReadGuard", "Qsbr"),
        ("rcu::memb::ReadGuard", "Srcu"),
        ("rcu::qsbr::ReadGuard<'_>", "Memb"),
        ("rcu::qsbr::ReadGuard<'_>", "Srcu"),
        ("rcu::srcu::ReadGuard", "Memb"),
        ("rcu::srcu::ReadGuard", "Qsbr"),
        ("DomainGuard", "Srcu"),
    ] {
        let want = format!("`{guard}` is not a read-side section of the `{cell}` flavour");
        assert!(headlines.iter().any(|l| l.contains(&want)), "no error says {want:?}:\n{stderr}");
    }
    assert_eq!(
        stderr.matches("take the guard from the cell's flavour").count(),
        7,
        "each mix names the fix:\n{stderr}"
    );

    // A memb or QSBR guard across `.await` in a future that must be Send.
    let not_send = headlines.iter().filter(|l| l.contains("cannot be sent between threads safely")).count();
    // The QSBR case is reported twice: its guard is not `Send` and the
    // thread handle it borrows is not `Sync`.
    assert!(not_send >= 2, "both guards are reported as not Send:\n{stderr}");

    // Words the user must not see.
    assert!(!stderr.contains("AtomicBool"), "no suggestion of AtomicBool:\n{stderr}");
    for line in &headlines {
        assert!(!line.contains("rcu_core") && !line.contains("rcu_memb::"), "internal crate in {line:?}");
    }
    assert!(stderr.contains("or of an srcu `Domain`"), "the Domain case is named:\n{stderr}");
    assert_eq!(headlines.len(), 7 + not_send, "no other error:\n{stderr}");
}
