//! The agents of a [`Cluster`]'s nodes: starting and stopping them (their command line also
//! serves `--cleanup`), their logs, and what they answer (`lichen status`, other `lichen`
//! commands, their HTTP endpoint). Agents and `lichen` commands run in the node's private
//! mount namespace when it has one ([`Cluster::isolate_mounts`]).

use std::fs;
use std::path::Path;

use super::*;
use ::testkit::{AgentArgs, Source};

impl Cluster {
    pub fn start_agent(&mut self, k: usize) {
        let log = self.dir.join(format!("{}-agent.log", self.nodes[k].name));
        let mut c = self.agent_command(k, &log);
        c.env("LICHEN_LOG", "debug");
        self.nodes[k].agent = Some(c.spawn().expect("start agent"));
    }

    /// Node `k`'s `lichen agent` command line as [`Cluster::start_agent`] runs it (in the
    /// node's private mount namespace when it has one), stderr into `log`; add `--cleanup` for
    /// the agent's cleanup with the same flags.
    pub fn agent_command(&self, k: usize, log: &Path) -> std::process::Command {
        let net_conf = self.dir.join("net-conf.json");
        let objects = self.objects();
        let args = AgentArgs {
            node_name: &self.nodes[k].name,
            net_conf: &net_conf,
            source: match &self.api {
                Some(a) => Source::Kubeconfig(&a.kubeconfig),
                None => Source::ClusterDir(&objects),
            },
            subnet_file: &self.subnet_file(k),
            ipam_dir: None,
        };
        let mut c = testkit::agent_command(&self.nodes[k].ns, Path::new(BIN), &args, log);
        c.args(&self.nodes[k].args)
            .args(&self.agent_args)
            .envs(self.agent_env.iter().map(|(k, v)| (k, v)));
        if let Some(m) = &self.nodes[k].mounts {
            m.enter(&mut c).expect("the node's mount namespace");
        }
        c
    }

    pub fn start_agents(&mut self) {
        for k in 0..self.nodes.len() {
            self.start_agent(k);
        }
    }

    pub fn kill_agent(&mut self, k: usize) {
        if let Some(mut a) = self.nodes[k].agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }

    pub fn agent_log(&self, k: usize) -> String {
        fs::read_to_string(self.dir.join(format!("{}-agent.log", self.nodes[k].name)))
            .unwrap_or_default()
    }

    /// Runs the lichen binary with `args` in node `k` (stdout + stderr, exit code).
    pub fn lichen(&self, k: usize, args: &[&str]) -> (String, i32) {
        let out = self.lichen_command(k).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (text, out.status.code().unwrap_or(-1))
    }

    /// The lichen binary run on node `k`: in its namespace (and its private mount namespace
    /// when it has one).
    pub fn lichen_command(&self, k: usize) -> std::process::Command {
        let mut c = testkit::binary_command(&self.nodes[k].ns, Path::new(BIN)).unwrap();
        if let Some(m) = &self.nodes[k].mounts {
            m.enter(&mut c).expect("the node's mount namespace");
        }
        c
    }

    /// GET `path` from node `k`'s agent endpoint (its default address, in the node's
    /// namespace): (status code, body), or (0, "") while nothing answers.
    pub fn http(&self, k: usize, path: &str) -> (u16, String) {
        let (ns, path) = (self.nodes[k].ns.path.clone(), path.to_owned());
        std::thread::spawn(move || {
            super::probe::enter(&ns);
            let addr = lichen::agent::http::DEFAULT_LISTEN.parse().unwrap();
            lichen::agent::client::fetch(addr, &path).unwrap_or_default()
        })
        .join()
        .unwrap()
    }

    /// `lichen status` on node `k`.
    pub fn status(&self, k: usize) -> String {
        let out = self.lichen_command(k).arg("status").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}
