//! Group commit of submissions, shared by the backends: whatever queued up while the previous
//! transaction ran goes into the next one, so a burst of uploads costs a few transactions (and,
//! with durable storage, a few log flushes) instead of one each.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::{NewJob, StoreError, StoreResult, SubmitOutcome};

/// Most submissions committed in one transaction.
const GROUP_COMMIT_MAX: usize = 128;

/// A submission waiting for the next group commit.
struct PendingSubmit {
    submission: Submission,
    reply: oneshot::Sender<StoreResult<SubmitOutcome>>,
}

/// A job to record, and the queue limit it is admitted under.
#[derive(Clone, Debug)]
pub(crate) struct Submission {
    pub(crate) job: NewJob,
    /// Admitted only while fewer than this many submitted files are queued (`None`: always).
    pub(crate) max_queued: Option<u64>,
}

/// The SQL both backends count admission with: submitted files (not archive members) waiting.
pub(crate) const QUEUED_SUBMISSIONS: &str =
    "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND parent_id IS NULL";

/// The committer task and the queue into it; the task stops when this is dropped.
pub(crate) struct GroupCommit {
    submissions: mpsc::Sender<PendingSubmit>,
    committer: tokio::task::JoinHandle<()>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.committer.abort();
    }
}

impl GroupCommit {
    /// Starts the committer. `insert` stores a group in one transaction and answers one outcome
    /// per job, in order; its error is reported to every job of the group.
    pub(crate) fn start<F, Fut>(insert: F) -> Self
    where
        F: Fn(Vec<Submission>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<SubmitOutcome>>> + Send,
    {
        let (submissions, mut queue) = mpsc::channel::<PendingSubmit>(4 * GROUP_COMMIT_MAX);
        let committer = tokio::spawn(async move {
            let mut group = Vec::with_capacity(GROUP_COMMIT_MAX);
            while queue.recv_many(&mut group, GROUP_COMMIT_MAX).await > 0 {
                let (jobs, replies): (Vec<Submission>, Vec<_>) =
                    group.drain(..).map(|p| (p.submission, p.reply)).unzip();
                match insert(jobs).await {
                    Ok(outcomes) => {
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    Err(error) => {
                        let message = error.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Shared(message.clone())));
                        }
                    }
                }
            }
        });
        Self {
            submissions,
            committer,
        }
    }

    /// Queues `job` for the next group and waits for its outcome.
    pub(crate) async fn submit(
        &self,
        job: &NewJob,
        max_queued: Option<u64>,
    ) -> StoreResult<SubmitOutcome> {
        let (reply, outcome) = oneshot::channel();
        let pending = PendingSubmit {
            submission: Submission {
                job: job.clone(),
                max_queued,
            },
            reply,
        };
        if self.submissions.send(pending).await.is_err() {
            return Err(StoreError::Shared("the metastore is shutting down".into()));
        }
        outcome.await.unwrap_or_else(|_| {
            Err(StoreError::Shared(
                "the submission committer stopped".into(),
            ))
        })
    }
}

/// Which jobs of a group may be stored: files of missing or closed batches are refused, and so
/// are files beyond their queue limit. `batches` maps each batch id the group names to its
/// `closed_ts`; `queued` is how many submitted files are queued now (read in the transaction
/// that stores the group, under the backend's admission lock, so the limit is exact).
pub(crate) fn outcomes(
    submissions: &[Submission],
    batches: &std::collections::HashMap<String, Option<i64>>,
    mut queued: u64,
) -> Vec<SubmitOutcome> {
    let mut outcomes = Vec::with_capacity(submissions.len());
    for submission in submissions {
        let outcome = match &submission.job.batch_id {
            None => SubmitOutcome::Accepted,
            Some(batch_id) => match batches.get(batch_id) {
                None => SubmitOutcome::BatchNotFound,
                Some(Some(_)) => SubmitOutcome::BatchClosed,
                Some(None) => SubmitOutcome::Accepted,
            },
        };
        let outcome = match (outcome, submission.max_queued) {
            (SubmitOutcome::Accepted, Some(limit)) if queued >= limit => SubmitOutcome::QueueFull,
            (outcome, _) => outcome,
        };
        if outcome == SubmitOutcome::Accepted {
            queued += 1;
        }
        outcomes.push(outcome);
    }
    outcomes
}

/// Whether any submission of the group has a queue limit (only then is the queue counted).
pub(crate) fn any_limited(submissions: &[Submission]) -> bool {
    submissions.iter().any(|s| s.max_queued.is_some())
}
