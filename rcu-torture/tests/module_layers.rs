//! The module picture at the top of `src/lib.rs` is the rule: a module
//! uses only modules on lower lines of it (`rcu_testkit::layers`).

use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

#[test]
fn every_import_points_to_a_lower_layer_of_the_lib_rs_picture() {
    if let Err(faults) = rcu_testkit::layers::check(Path::new(SRC)) {
        panic!("the module picture in src/lib.rs is broken:\n{faults}");
    }
}
