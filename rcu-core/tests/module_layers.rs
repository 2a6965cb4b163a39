//! The module picture at the top of `src/lib.rs` is the rule: a module
//! uses only modules on lower lines of it. `rcu_testkit::layers` reads the
//! picture and every `crate::` path in the sources and names the file and
//! the import that points up or sideways, or the module the picture leaves
//! out.

use rcu_testkit::layers;
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

#[test]
fn every_import_points_to_a_lower_layer_of_the_lib_rs_picture() {
    let faults = layers::upward_imports(Path::new(SRC));
    assert!(faults.is_empty(), "the module picture in src/lib.rs is broken:\n{}", faults.join("\n"));
}

#[test]
fn the_picture_names_modules_that_exist() {
    let faults = layers::missing_modules(Path::new(SRC));
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_picture_has_the_engine_above_the_atomics() {
    // The checker reads this crate's picture, not an empty one.
    let rank = |name: &str| layers::layers(Path::new(SRC)).iter().position(|l| l.iter().any(|n| n == name));
    assert!(rank("engine").zip(rank("sync")).is_some_and(|(e, s)| e < s), "{:?}", layers::layers(Path::new(SRC)));
}
