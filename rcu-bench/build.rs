//! Builds the liburcu shim (csrc/shim.c) when the `liburcu` feature is on.
//!
//! The shim is compiled twice, once per liburcu flavour, because each flavour
//! keeps its reader state in thread-locals of its own and must live in a
//! translation unit of its own. `_LGPL_SOURCE` inlines liburcu's read-side
//! fast paths into the shim, as liburcu's performance users build it.

use std::path::Path;
use std::process::Command;

const INSTALL_HINT: &str = "the `liburcu` feature of rcu-bench needs liburcu's headers and libraries \
     (liburcu 0.13 or newer, with the flavour-prefixed urcu_memb_*/urcu_qsbr_* API). \
     On Debian or Ubuntu install the package `liburcu-dev`:\n\n    \
     apt-get update && apt-get install -y liburcu-dev\n\n\
     or build without the feature (`cargo bench -p rcu-bench` compares rcu-memb, rcu-qsbr \
     and crossbeam-epoch only).";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/shim.c");
    if std::env::var_os("CARGO_FEATURE_LIBURCU").is_none() {
        return;
    }
    check_headers();
    for flavour in ["memb", "qsbr"] {
        cc::Build::new()
            .file("csrc/shim.c")
            .define("_GNU_SOURCE", None)
            .define(&format!("SHIM_FLAVOUR_{}", flavour.to_uppercase()), None)
            .opt_level(2)
            // -fPIE, not the cc crate's default -fPIC: with -fPIC, liburcu's
            // thread-local reader state (defined in liburcu's shared
            // library) is reached through a __tls_get_addr call on every
            // read_lock and quiescent_state; a C program built the usual way
            // (Debian's gcc defaults to PIE) uses the initial-exec model, one
            // %fs-relative access. Rust binaries are PIE too, so this links.
            .pic(false)
            .flag("-fPIE")
            .warnings(true)
            .extra_warnings(true)
            .flag_if_supported("-Wno-unused-parameter")
            .compile(&format!("rcubench_urcu_{flavour}"));
    }
    // Order matters for static linking: the flavour libraries use
    // liburcu-common (wait-free queues, the call_rcu worker's helpers).
    println!("cargo:rustc-link-lib=urcu-memb");
    println!("cargo:rustc-link-lib=urcu-qsbr");
    println!("cargo:rustc-link-lib=urcu-common");
    println!("cargo:rustc-link-lib=pthread");
}

/// Fails the build with the install command when the headers are missing:
/// the C compiler's own error ("urcu/urcu-memb.h: No such file") does not say
/// which package provides them.
fn check_headers() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let probe = Path::new(&out_dir).join("probe_liburcu.c");
    std::fs::write(&probe, "#include <urcu/urcu-memb.h>\n#include <urcu/urcu-qsbr.h>\nint main(void) { return 0; }\n")
        .expect("write the header probe into OUT_DIR");
    let compiler = cc::Build::new().get_compiler();
    let status = Command::new(compiler.path()).arg("-fsyntax-only").arg(&probe).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(_) => panic!("\n\nliburcu headers not found.\n{INSTALL_HINT}\n"),
        Err(e) => {
            panic!("\n\ncannot run the C compiler {:?} to look for liburcu ({e}).\n{INSTALL_HINT}\n", compiler.path())
        }
    }
}
