//! Tables that say which version they are, for tests that replace a table
//! while readers check it: a reader can tell a whole table of one version
//! from a torn or freed one without any side table.

/// A table of `n` elements, each encoding `version` and its index.
pub fn table(version: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| i + version * 1_000_000).collect()
}

/// The version of `t`, after checking that every element belongs to that
/// version at its index (never a mix, never a freed table).
///
/// # Panics
///
/// On a torn or freed table.
pub fn check(t: &[u64]) -> u64 {
    let version = t[0] / 1_000_000;
    assert!(t.iter().enumerate().all(|(i, v)| *v == i as u64 + version * 1_000_000), "a torn or freed table");
    version
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_table_passes_and_a_torn_one_is_caught() {
        let mut t = super::table(3, 8);
        assert_eq!(super::check(&t), 3);
        t[5] = super::table(4, 8)[5];
        assert!(std::panic::catch_unwind(|| super::check(&t)).is_err());
    }
}
