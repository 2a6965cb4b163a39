//! The routing table: a few hundred paths, each with a response body.
//! Every generation has the same paths and bodies in fresh allocations, so
//! a client can check each body against [`Table::expected`] while the
//! table is replaced under it.

use bytes::Bytes;
use std::collections::HashMap;

/// A routing table: path to route, and the generation it was built as.
#[derive(Debug)]
pub struct Table {
    generation: u64,
    index: HashMap<Box<str>, usize>,
    bodies: Vec<Bytes>,
}

impl Table {
    /// Generation `generation` of a table of `routes` routes.
    pub fn new(generation: u64, routes: usize) -> Self {
        let bodies: Vec<Bytes> = (0..routes).map(|i| Bytes::from(Self::expected(i))).collect();
        let index = (0..routes).map(|i| (Self::path(i).into_boxed_str(), i)).collect();
        Table { generation, index, bodies }
    }

    /// The path of route `i`.
    pub fn path(i: usize) -> String {
        format!("/route/{i}")
    }

    /// The body of route `i` in every generation: its name, then a
    /// pattern of its own, 64 to 1,024 bytes in all.
    pub fn expected(i: usize) -> Vec<u8> {
        let len = 64 + (i * 97) % 961;
        let mut body = format!("route {i}\n").into_bytes();
        body.extend((body.len()..len).map(|k| b'a' + ((i + k) % 26) as u8));
        body
    }

    /// The generation this table was built as.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Whether it has no route.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// The index of the route at `path`.
    pub fn index_of(&self, path: &str) -> Option<usize> {
        self.index.get(path).copied()
    }

    /// The body of route `index`.
    pub fn body(&self, index: usize) -> &[u8] {
        &self.bodies[index]
    }

    /// The body of route `index`, shared (a reference count).
    pub fn body_bytes(&self, index: usize) -> Bytes {
        self.bodies[index].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_finds_its_body() {
        let t = Table::new(3, 300);
        assert_eq!((t.generation(), t.len()), (3, 300));
        for i in 0..300 {
            let at = t.index_of(&Table::path(i)).unwrap();
            assert_eq!(t.body(at), &Table::expected(i)[..]);
            assert!((64..=1024).contains(&t.body(at).len()));
        }
        assert_eq!(t.index_of("/route/300"), None);
    }
}
