//! The bed's verdicts: each probe's outcome against the compiled rulesets (and the agents'
//! `/policy/explain`), the early probes counted, and the run's report.

use std::time::{Duration, Instant};

use super::super::agents::*;
use super::super::common::probe::*;
use super::{Bed, Cell, Outcome, EARLY};

use lichen::k8s::Protocol;
use lichen::policy::{Packet, Ruleset};

impl Bed {
    /// The compiled verdict of `cell`: (egress on the source's node, ingress on the
    /// destination's).
    fn verdict(&self, rulesets: &[Ruleset], &(a, b, port, proto): &Cell) -> (bool, bool) {
        let (ka, kb) = (self.netns[a].1, self.netns[b].1);
        let (pa, pb) = (&self.pods[a], &self.pods[b]);
        let packet = Packet {
            src: pa.ip.parse().unwrap(),
            dst: pb.ip.parse().unwrap(),
            port,
            protocol: match proto {
                Proto::Tcp => Protocol::Tcp,
                Proto::Udp => Protocol::Udp,
            },
        };
        (
            rulesets[ka].explain(packet).allowed(),
            rulesets[kb].explain(packet).allowed(),
        )
    }

    /// Counts the cells stale at change + [`EARLY`]: reported, not asserted (a loaded machine
    /// may be late; the benchmark measures how late).
    pub(super) fn report_early(
        &mut self,
        cells: &[Cell],
        early: &[Outcome],
        rulesets: &[Ruleset],
        written: Instant,
        enforced: Instant,
    ) {
        let mut stale = 0;
        let mut probed = 0;
        for (cell, r) in cells.iter().zip(early) {
            let Some((reached, started)) = *r else {
                continue;
            };
            probed += 1;
            self.early_late = self.early_late.max(started - (written + EARLY));
            let (egress, ingress) = self.verdict(rulesets, cell);
            stale += usize::from(reached != (egress && ingress));
        }
        self.early.push((stale, probed));
        if stale > 0 {
            eprintln!(
                "policy churn ({}): {}: {stale} of {probed} cells stale at change + {} ms (enforced after {:.1} ms)",
                self.tag,
                self.history.last().unwrap(),
                EARLY.as_millis(),
                (enforced - written).as_secs_f64() * 1e3
            );
        }
    }

    /// The cells whose probe disagrees with the compiled verdict (or, with `explain`, with an
    /// agent's `/policy/explain`), described.
    pub(super) fn check_cells(
        &mut self,
        cells: &[Cell],
        got: &[Outcome],
        rulesets: &[Ruleset],
        enforced: Instant,
        explain: bool,
    ) -> Vec<String> {
        let mut wrong = Vec::new();
        for (cell, r) in cells.iter().zip(got) {
            let &(a, b, port, proto) = cell;
            let (reached, started) = r.expect("probe ran");
            // how soon after enforcement the probes ran is reported, not asserted: a timing
            // figure belongs to the benchmark (benches/policy.rs), and a loaded machine may start
            // a probe late without the verdict being any less the one enforced
            self.probe_late = self.probe_late.max(started - enforced);
            let (ka, kb) = (self.netns[a].1, self.netns[b].1);
            let (pa, pb) = (&self.pods[a], &self.pods[b]);
            let (egress, ingress) = self.verdict(rulesets, cell);
            let pair = format!(
                "{}/{} -> {}/{}:{port}/{proto:?}",
                pa.namespace, pa.name, pb.namespace, pb.name
            );
            // A probe that should pass and did not is tried again, slowly: once enforced the
            // verdict is fixed, so a pass then means the first try lost its packet or its
            // time to a loaded machine (its SYN is retransmitted only after 1 s), while a
            // drop by policy drops the retry too. A probe that passed where policy denies
            // is never retried: that is a hole.
            let reached = reached
                || (egress && ingress && {
                    self.retried += 1;
                    reach_slowly(&self.netns[a].0.path, &pb.ip, port, proto)
                });
            if reached != (egress && ingress) {
                wrong.push(format!(
                    "{pair}: reached {reached}, compiled egress {egress}, ingress {ingress}"
                ));
            } else if explain {
                let (ea, eb) = (
                    explained(&self.c, ka, &pa.ip, &pb.ip, port),
                    explained(&self.c, kb, &pa.ip, &pb.ip, port),
                );
                if (ea && eb) != reached {
                    wrong.push(format!(
                        "{pair}: reached {reached}, explain says {ea} on node {ka}, {eb} on {kb}"
                    ));
                }
            }
        }
        wrong
    }

    pub fn report(&mut self) {
        let l = &mut self.latencies;
        l.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "policy churn ({}): {} changes, change -> enforced median {:.1} ms, worst {:.1} ms; probes started at most {:.1} ms after enforcement",
            self.tag,
            l.len(),
            ms(l[l.len() / 2]),
            ms(*l.last().unwrap()),
            ms(self.probe_late)
        );
        if self.retried > 0 {
            eprintln!(
                "policy churn ({}): {} allowed probes failed once and were tried again",
                self.tag, self.retried
            );
        }
        let stale: usize = self.early.iter().map(|e| e.0).sum();
        let probed: usize = self.early.iter().map(|e| e.1).sum();
        let steps = self.early.iter().filter(|e| e.0 > 0).count();
        eprintln!(
            "policy churn ({}): at change + {} ms, {stale} of {probed} probed cells stale ({steps} of {} steps); early probes started at most {:.1} ms late",
            self.tag,
            EARLY.as_millis(),
            self.early.len(),
            ms(self.early_late)
        );
    }
}
