//! Compiles the C half of the ABI (the thread-local reader records, the
//! global records and the function-mode read side): stable Rust cannot
//! define a thread-local symbol for C code to use.
fn main() {
    println!("cargo:rerun-if-changed=csrc/urcu_abi.c");
    cc::Build::new()
        .file("csrc/urcu_abi.c")
        .pic(true)
        .opt_level(2)
        .flag("-fno-strict-aliasing")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("rcu_capi_abi");
}
