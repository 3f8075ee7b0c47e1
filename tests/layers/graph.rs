//! The import graph's cycles (Tarjan's strongly connected components), for `tests/layers.rs`.

use std::collections::{BTreeMap, BTreeSet};

/// Every import found: (from, to) → the files that make it.
pub type Edges = BTreeMap<(String, String), BTreeSet<String>>;

/// The strongly connected components of more than one node (Tarjan).
pub fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    comp.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for (a, b) in edges.keys() {
        t.graph.entry(a.as_str()).or_default().push(b.as_str());
        t.graph.entry(b.as_str()).or_default();
    }
    let nodes: Vec<&str> = t.graph.keys().copied().collect();
    for v in nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
}

/// Each cycle with the imports that close it and the files that make them.
pub fn describe_cycles(edges: &Edges) -> Vec<String> {
    cycles(edges)
        .into_iter()
        .map(|comp| {
            let mut s = format!("cycle between {}:", comp.join(", "));
            for ((a, b), files) in edges {
                if comp.contains(a) && comp.contains(b) {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    s += &format!("\n    {a} -> {b} ({})", files.join(", "));
                }
            }
            s
        })
        .collect()
}
