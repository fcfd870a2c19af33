//! The execution plan: which of a rule's engines run, in which phase, and what the results of
//! the earlier phases change about the later ones. Plain functions over descriptors and runs;
//! the worker runs what the plan says, phase by phase.

use crate::{
    EngineDescriptor, EngineRun, RunOutcome, Stage, VerdictPolicy, assemble::verdict_blocks,
};
use palisade_model::{OutputKind, ScanResult};

/// When the post-processing steps (sanitize, redact) run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PostProcessWhen {
    /// Only on files the verdict engines let through: a blocked file gets no cleaned copy.
    #[default]
    NotBlocked,
    /// On every file, whatever its verdict.
    Always,
}

/// The rule settings the plan depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanRules {
    /// Files on an allow list or known good skip the antivirus engines: the hash lists then
    /// run first, on their own.
    pub skip_antivirus_when_trusted: bool,
    pub post_process: PostProcessWhen,
}

/// The phases of the flow, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Hash lists alone, when trusted files may skip antivirus.
    Lists,
    /// The engines that decide the verdict.
    Verdict,
    /// The engines that make a copy of the file (sanitize, redact).
    PostProcessing,
}

/// A rule's engines and where the flow stands. Engines are named by their index in the list
/// the plan was made from.
#[derive(Clone, Debug)]
pub struct Plan {
    engines: Vec<EngineDescriptor>,
    rules: PlanRules,
    /// The phase that ran last.
    done: Option<Phase>,
    /// Antivirus engines the plan dropped because the file is trusted.
    skipped: Vec<usize>,
}

fn is_list(descriptor: &EngineDescriptor) -> bool {
    matches!(descriptor.stage, Stage::Lists | Stage::Reputation)
}

fn is_post_processing(descriptor: &EngineDescriptor) -> bool {
    descriptor.post_processing()
}

/// Whether a run made a redacted copy: the data it found is then out of the copies.
fn redacted(run: &EngineRun) -> bool {
    matches!(&run.outcome, RunOutcome::Finished(finding)
        if finding.outputs.iter().any(|output| output.kind == OutputKind::Redacted))
}

/// Whether an allow list or known-good list vouches for the file.
fn trusted(runs: &[EngineRun]) -> bool {
    runs.iter().any(|run| {
        matches!(
            run.result(),
            ScanResult::Whitelisted | ScanResult::KnownGood
        )
    })
}

impl Plan {
    pub fn new(engines: Vec<EngineDescriptor>, rules: PlanRules) -> Self {
        Self {
            engines,
            rules,
            done: None,
            skipped: Vec::new(),
        }
    }

    /// Whether the hash lists run in a phase of their own.
    fn lists_first(&self) -> bool {
        self.rules.skip_antivirus_when_trusted && self.engines.iter().any(is_list)
    }

    /// The next phase and its engines, judged from the runs of the phases before (`runs`);
    /// `None` once nothing is left to run. Phases with no engine are passed over.
    pub fn next_phase(
        &mut self,
        runs: &[EngineRun],
        policy: &VerdictPolicy,
    ) -> Option<(Phase, Vec<usize>)> {
        loop {
            let phase = match self.done {
                None if self.lists_first() => Phase::Lists,
                None | Some(Phase::Lists) => Phase::Verdict,
                Some(Phase::Verdict) => Phase::PostProcessing,
                Some(Phase::PostProcessing) => return None,
            };
            self.done = Some(phase);
            let chosen = self.engines_of(phase, runs, policy);
            if !chosen.is_empty() {
                return Some((phase, chosen));
            }
        }
    }

    fn engines_of(
        &mut self,
        phase: Phase,
        runs: &[EngineRun],
        policy: &VerdictPolicy,
    ) -> Vec<usize> {
        let indices = 0..self.engines.len();
        match phase {
            Phase::Lists => indices.filter(|&i| is_list(&self.engines[i])).collect(),
            Phase::Verdict => {
                let lists_ran = self.lists_first();
                let skip_antivirus = lists_ran && trusted(runs);
                let mut chosen = Vec::new();
                for i in indices {
                    let engine = &self.engines[i];
                    if is_post_processing(engine) || (lists_ran && is_list(engine)) {
                        continue;
                    }
                    if skip_antivirus && engine.stage == Stage::Antivirus {
                        self.skipped.push(i);
                        continue;
                    }
                    chosen.push(i);
                }
                chosen
            }
            Phase::PostProcessing => {
                if !self.copies_allowed(runs, policy) {
                    return Vec::new();
                }
                indices
                    .filter(|&i| is_post_processing(&self.engines[i]))
                    .collect()
            }
        }
    }

    /// Whether the file may have copies (the post-processing steps run, a redacted copy is
    /// kept): always under [`PostProcessWhen::Always`]; else when the verdict engines do not
    /// block it, leaving out the Sensitive Data Found of a DLP run that redacted that data.
    pub fn copies_allowed(&self, runs: &[EngineRun], policy: &VerdictPolicy) -> bool {
        match self.rules.post_process {
            PostProcessWhen::Always => true,
            PostProcessWhen::NotBlocked => {
                let judged: Vec<EngineRun> =
                    runs.iter().filter(|run| !redacted(run)).cloned().collect();
                !verdict_blocks(&judged, policy)
            }
        }
    }

    /// `total_avs`: the engines listed in `scan_details` that run (or will), leaving out the
    /// antivirus engines a trusted file skipped.
    pub fn total_avs(&self) -> u32 {
        let count = (0..self.engines.len())
            .filter(|i| self.engines[*i].in_scan_details && !self.skipped.contains(i))
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use palisade_model::{EngineKind, OutputKind};

    use super::*;
    use crate::{Finding, RunOutcome};

    fn engine(id: &str, stage: Stage, produces: Option<OutputKind>) -> EngineDescriptor {
        EngineDescriptor {
            id: id.into(),
            name: id.into(),
            stage,
            in_scan_details: stage == Stage::Antivirus,
            kind: EngineKind::Command,
            produces,
        }
    }

    fn ran(descriptor: &EngineDescriptor, result: ScanResult) -> EngineRun {
        EngineRun {
            descriptor: descriptor.clone(),
            def_time: String::new(),
            scan_time_ms: 1,
            outcome: RunOutcome::Finished(Finding::of(result, "")),
        }
    }

    fn roster() -> Vec<EngineDescriptor> {
        vec![
            engine("av", Stage::Antivirus, None),
            engine("list", Stage::Lists, None),
            engine("cdr", Stage::Cdr, Some(OutputKind::Sanitized)),
            engine("yara", Stage::Yara, None),
        ]
    }

    fn rules(skip: bool, post_process: PostProcessWhen) -> PlanRules {
        PlanRules {
            skip_antivirus_when_trusted: skip,
            post_process,
        }
    }

    /// Runs a plan to its end, answering each engine with `answer`; returns the phases.
    fn walk(
        plan: &mut Plan,
        answer: impl Fn(&EngineDescriptor) -> ScanResult,
    ) -> Vec<(Phase, Vec<String>)> {
        let mut runs = Vec::new();
        let mut phases = Vec::new();
        while let Some((phase, chosen)) = plan.next_phase(&runs, &VerdictPolicy::default()) {
            let names = chosen.iter().map(|&i| plan.engines[i].id.clone()).collect();
            for i in chosen {
                let descriptor = plan.engines[i].clone();
                runs.push(ran(&descriptor, answer(&descriptor)));
            }
            phases.push((phase, names));
        }
        phases
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn verdict_engines_run_together_and_post_processing_after_them() {
        let mut plan = Plan::new(roster(), rules(false, PostProcessWhen::NotBlocked));
        let phases = walk(&mut plan, |_| ScanResult::NoThreatDetected);
        assert_eq!(
            phases,
            vec![
                (Phase::Verdict, ids(&["av", "list", "yara"])),
                (Phase::PostProcessing, ids(&["cdr"])),
            ]
        );
        assert_eq!(plan.total_avs(), 1);
    }

    #[test]
    fn trusted_files_skip_antivirus_when_the_rule_says_so() {
        let mut plan = Plan::new(roster(), rules(true, PostProcessWhen::NotBlocked));
        let phases = walk(&mut plan, |e| {
            if e.stage == Stage::Lists {
                ScanResult::Whitelisted
            } else {
                ScanResult::NoThreatDetected
            }
        });
        assert_eq!(
            phases,
            vec![
                (Phase::Lists, ids(&["list"])),
                (Phase::Verdict, ids(&["yara"])),
                (Phase::PostProcessing, ids(&["cdr"])),
            ]
        );
        assert_eq!(plan.total_avs(), 0, "the skipped antivirus is not counted");

        // An untrusted file still goes through antivirus.
        let mut plan = Plan::new(roster(), rules(true, PostProcessWhen::NotBlocked));
        let phases = walk(&mut plan, |_| ScanResult::NoThreatDetected);
        assert_eq!(phases[1], (Phase::Verdict, ids(&["av", "yara"])));
        assert_eq!(plan.total_avs(), 1);
    }

    #[test]
    fn blocked_files_are_not_post_processed_unless_the_rule_says_always() {
        let infected = |e: &EngineDescriptor| {
            if e.stage == Stage::Antivirus {
                ScanResult::Infected
            } else {
                ScanResult::NoThreatDetected
            }
        };
        let mut plan = Plan::new(roster(), rules(false, PostProcessWhen::NotBlocked));
        let phases = walk(&mut plan, infected);
        assert_eq!(phases, vec![(Phase::Verdict, ids(&["av", "list", "yara"]))]);

        let mut plan = Plan::new(roster(), rules(false, PostProcessWhen::Always));
        let phases = walk(&mut plan, infected);
        assert_eq!(phases[1], (Phase::PostProcessing, ids(&["cdr"])));
    }

    #[test]
    fn a_rule_without_engines_of_a_phase_passes_it_over() {
        let mut plan = Plan::new(
            vec![engine("cdr", Stage::Cdr, Some(OutputKind::Sanitized))],
            rules(true, PostProcessWhen::NotBlocked),
        );
        let phases = walk(&mut plan, |_| ScanResult::NoThreatDetected);
        assert_eq!(phases, vec![(Phase::PostProcessing, ids(&["cdr"]))]);
        let mut empty = Plan::new(Vec::new(), PlanRules::default());
        assert_eq!(walk(&mut empty, |_| ScanResult::NoThreatDetected), vec![]);
    }

    #[test]
    fn dlp_decides_the_verdict_and_its_redacted_copy_lets_the_file_be_sanitized() {
        let dlp = EngineDescriptor {
            kind: EngineKind::Dlp,
            ..engine("dlp", Stage::Dlp, Some(OutputKind::Redacted))
        };
        let cdr = engine("cdr", Stage::Cdr, Some(OutputKind::Sanitized));
        let policy = VerdictPolicy::default();
        let sensitive = |outputs: Vec<crate::OutputFile>| EngineRun {
            outcome: RunOutcome::Finished(Finding {
                outputs,
                ..Finding::of(ScanResult::SensitiveDataFound, "")
            }),
            ..ran(&dlp, ScanResult::SensitiveDataFound)
        };
        let mut plan = Plan::new(
            vec![dlp.clone(), cdr.clone()],
            rules(false, PostProcessWhen::NotBlocked),
        );
        assert_eq!(
            plan.next_phase(&[], &policy),
            Some((Phase::Verdict, vec![0])),
            "DLP is one of the engines that decide the verdict"
        );
        // Found and not redacted: the file is blocked, and no copy may hold its data.
        let unredacted = [sensitive(Vec::new())];
        assert!(!plan.copies_allowed(&unredacted, &policy));
        assert_eq!(plan.clone().next_phase(&unredacted, &policy), None);
        // Found and redacted: the redacted copy goes on to be sanitized.
        let copy = crate::OutputFile {
            kind: OutputKind::Redacted,
            name: "a.txt".into(),
            path: "/nowhere/a.txt".into(),
        };
        let redacted = [sensitive(vec![copy])];
        assert!(plan.copies_allowed(&redacted, &policy));
        assert_eq!(
            plan.next_phase(&redacted, &policy),
            Some((Phase::PostProcessing, vec![1]))
        );
        // Another engine's block still stands.
        let av = engine("av", Stage::Antivirus, None);
        let infected = [redacted[0].clone(), ran(&av, ScanResult::Infected)];
        assert!(
            !Plan::new(
                vec![dlp, cdr, av],
                rules(false, PostProcessWhen::NotBlocked)
            )
            .copies_allowed(&infected, &policy)
        );
    }
}
