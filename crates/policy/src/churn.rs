//! A seeded random walk over NetworkPolicy cluster states, for churn tests and benchmarks:
//! namespaces x/y/z, a fixed set of pods (given by the caller: they exist in a test's network
//! namespaces) whose labels change, and up to [`MAX_POLICIES`] policies created, edited and
//! deleted — several changes per step, deletes and creates of the same step included.
//!
//! The state is a set of cluster-directory files (name → JSON), so a test can write them to an
//! agent's `--cluster-dir` and parse the same files into a [`ClusterState`] for a fresh
//! compile. Same seed, same pods → same walk.

use std::collections::BTreeMap;

use lichen_kube::model::ClusterState;

/// Namespaces of the walk (as the upstream NetworkPolicy e2e suite's).
pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
/// Ports every pod serves over TCP; container port names are `serve-<port>`.
pub const PORTS: [u16; 2] = [80, 81];
pub const MAX_POLICIES: usize = 6;

/// A pod of the walk: where it is and its address; its labels are the walk's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChurnPod {
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub ip: String,
}

/// SplitMix64: small, seedable, good enough to pick test cases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The walk's state.
#[derive(Debug, Clone)]
pub struct Churn {
    rng: Rng,
    pods: Vec<ChurnPod>,
    /// Per pod: (app, role) labels.
    labels: Vec<(char, u8)>,
    /// Per namespace: its `team` label.
    teams: Vec<char>,
    /// Policies by (namespace, name): spec JSON.
    policies: BTreeMap<(String, String), String>,
    /// Node objects (JSON), by file name; they do not change.
    node_files: BTreeMap<String, String>,
}

impl Churn {
    /// A walk over `pods`; `node_files` (file name → Node JSON) are part of every state.
    pub fn new(seed: u64, pods: Vec<ChurnPod>, node_files: BTreeMap<String, String>) -> Churn {
        let mut rng = Rng::new(seed);
        let labels = pods
            .iter()
            .map(|_| (*rng.pick(&['a', 'b', 'c']), rng.below(2) as u8))
            .collect();
        let teams = NAMESPACES.iter().map(|_| *rng.pick(&['a', 'b'])).collect();
        Churn {
            rng,
            pods,
            labels,
            teams,
            policies: BTreeMap::new(),
            node_files,
        }
    }

    pub fn pods(&self) -> &[ChurnPod] {
        &self.pods
    }

    /// Sets pod `i`'s `app` label (and role `r0`).
    pub fn set_app(&mut self, i: usize, app: char) {
        self.labels[i] = (app, 0);
    }

    /// Creates or replaces policy `namespace/name`.
    pub fn put_policy(&mut self, namespace: &str, name: &str, spec: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        self.policies.insert(key, spec.to_owned());
    }

    /// Deletes every policy.
    pub fn clear_policies(&mut self) {
        self.policies.clear();
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// One step: 1 to 3 changes; returns what they were (for failure messages).
    pub fn step(&mut self) -> Vec<String> {
        let n = 1 + self.rng.below(3);
        (0..n).map(|_| self.change()).collect()
    }

    fn change(&mut self) -> String {
        let r = self.rng.below(10);
        if r < 2 || self.policies.is_empty() {
            return self.create();
        }
        match r {
            2 | 3 => self.delete(),
            4 => {
                // Delete one and create another in the same step (the e2e suite's case change).
                let d = self.delete();
                format!("{d}; {}", self.create())
            }
            5 | 6 => {
                let key = self.some_policy();
                let spec = self.spec();
                self.policies.insert(key.clone(), spec);
                format!("edit policy {}/{}", key.0, key.1)
            }
            7 | 8 => {
                let i = self.rng.below(self.pods.len());
                self.labels[i] = (*self.rng.pick(&['a', 'b', 'c']), self.rng.below(2) as u8);
                let p = &self.pods[i];
                format!("relabel pod {}/{}", p.namespace, p.name)
            }
            _ => {
                let i = self.rng.below(NAMESPACES.len());
                self.teams[i] = if self.teams[i] == 'a' { 'b' } else { 'a' };
                format!("relabel namespace {}", NAMESPACES[i])
            }
        }
    }

    fn some_policy(&mut self) -> (String, String) {
        let keys: Vec<_> = self.policies.keys().cloned().collect();
        self.rng.pick(&keys).clone()
    }

    fn create(&mut self) -> String {
        if self.policies.len() >= MAX_POLICIES {
            return self.delete();
        }
        let ns = self.rng.pick(&NAMESPACES).to_string();
        let name = format!("p{}", self.rng.below(MAX_POLICIES));
        let spec = self.spec();
        let what = match self.policies.insert((ns.clone(), name.clone()), spec) {
            Some(_) => "replace",
            None => "create",
        };
        format!("{what} policy {ns}/{name}")
    }

    fn delete(&mut self) -> String {
        let key = self.some_policy();
        self.policies.remove(&key);
        format!("delete policy {}/{}", key.0, key.1)
    }

    /// A random policy spec.
    fn spec(&mut self) -> String {
        let selector = self.selector();
        let (ingress, egress) = match self.rng.below(4) {
            0 | 1 => (true, false),
            2 => (false, true),
            _ => (true, true),
        };
        let mut types = Vec::new();
        let mut parts = vec![format!(r#""podSelector":{selector}"#)];
        for (on, key, peer_key, name) in [
            (ingress, "ingress", "from", "Ingress"),
            (egress, "egress", "to", "Egress"),
        ] {
            if on {
                types.push(format!(r#""{name}""#));
                parts.push(format!(r#""{key}":{}"#, self.rules(peer_key)));
            }
        }
        parts.push(format!(r#""policyTypes":[{}]"#, types.join(",")));
        format!("{{{}}}", parts.join(","))
    }

    fn selector(&mut self) -> String {
        match self.rng.below(4) {
            0 => "{}".into(),
            1 => format!(r#"{{"matchLabels":{{"role":"r{}"}}}}"#, self.rng.below(2)),
            _ => format!(
                r#"{{"matchLabels":{{"app":"{}"}}}}"#,
                self.rng.pick(&['a', 'b', 'c'])
            ),
        }
    }

    /// A rule list: deny all, allow all, or up to two rules with peers and ports.
    fn rules(&mut self, peer_key: &str) -> String {
        match self.rng.below(6) {
            0 => "[]".into(),
            1 => "[{}]".into(),
            _ => {
                let n = 1 + self.rng.below(2);
                let rules: Vec<String> = (0..n).map(|_| self.rule(peer_key)).collect();
                format!("[{}]", rules.join(","))
            }
        }
    }

    fn rule(&mut self, peer_key: &str) -> String {
        let mut parts = Vec::new();
        if self.rng.below(4) > 0 {
            let peers: Vec<String> = (0..1 + self.rng.below(2)).map(|_| self.peer()).collect();
            parts.push(format!(r#""{peer_key}":[{}]"#, peers.join(",")));
        }
        let ports = match self.rng.below(5) {
            0 => Some(r#"{"port":80}"#.to_owned()),
            1 => Some(r#"{"port":81,"protocol":"TCP"}"#.to_owned()),
            2 => Some(format!(r#"{{"port":"serve-{}"}}"#, self.rng.pick(&PORTS))),
            3 => Some(r#"{"port":80,"endPort":81}"#.to_owned()),
            _ => None,
        };
        if let Some(p) = ports {
            parts.push(format!(r#""ports":[{p}]"#));
        }
        format!("{{{}}}", parts.join(","))
    }

    fn peer(&mut self) -> String {
        let pods = format!(
            r#""podSelector":{{"matchLabels":{{"app":"{}"}}}}"#,
            self.rng.pick(&['a', 'b', 'c'])
        );
        let nss = format!(
            r#""namespaceSelector":{{"matchLabels":{{"team":"{}"}}}}"#,
            self.rng.pick(&['a', 'b'])
        );
        match self.rng.below(5) {
            0 => format!("{{{pods}}}"),
            1 => format!("{{{nss}}}"),
            2 => format!("{{{nss},{pods}}}"),
            3 => {
                // One pod's address as an ipBlock.
                let ip = self.rng.pick(&self.pods).ip.clone();
                format!(r#"{{"ipBlock":{{"cidr":"{ip}/32"}}}}"#)
            }
            _ => format!(
                r#"{{"namespaceSelector":{{}},"podSelector":{{"matchLabels":{{"role":"r{}"}}}}}}"#,
                self.rng.below(2)
            ),
        }
    }

    /// The state as cluster-directory files: name → JSON.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut out = self.node_files.clone();
        for (i, ns) in NAMESPACES.iter().enumerate() {
            out.insert(
                format!("ns-{ns}.json"),
                format!(
                    r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}","labels":{{"team":"{}","kubernetes.io/metadata.name":"{ns}"}}}}}}"#,
                    self.teams[i]
                ),
            );
        }
        for (p, (app, role)) in self.pods.iter().zip(&self.labels) {
            let ports: Vec<String> = PORTS
                .iter()
                .map(|n| format!(r#"{{"name":"serve-{n}","containerPort":{n}}}"#))
                .collect();
            out.insert(
                format!("pod-{}-{}.json", p.namespace, p.name),
                format!(
                    r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}","namespace":"{}","labels":{{"app":"{app}","role":"r{role}"}}}},"spec":{{"nodeName":"{}","containers":[{{"name":"c","ports":[{}]}}]}},"status":{{"phase":"Running","podIP":"{}","podIPs":[{{"ip":"{}"}}]}}}}"#,
                    p.name,
                    p.namespace,
                    p.node,
                    ports.join(","),
                    p.ip,
                    p.ip
                ),
            );
        }
        for ((ns, name), spec) in &self.policies {
            out.insert(
                format!("netpol-{ns}-{name}.json"),
                format!(
                    r#"{{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"{name}","namespace":"{ns}"}},"spec":{spec}}}"#
                ),
            );
        }
        out
    }
}

/// Parses cluster-directory files into the state the agent would build from them.
pub fn state_of(files: &BTreeMap<String, String>) -> ClusterState {
    let mut s = ClusterState::default();
    for (name, json) in files {
        let objects = lichen_kube::k8s::parse_document(json.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for o in objects {
            s.upsert(o);
        }
    }
    s
}
