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
    job: NewJob,
    reply: oneshot::Sender<StoreResult<SubmitOutcome>>,
}

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
        F: Fn(Vec<NewJob>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<SubmitOutcome>>> + Send,
    {
        let (submissions, mut queue) = mpsc::channel::<PendingSubmit>(4 * GROUP_COMMIT_MAX);
        let committer = tokio::spawn(async move {
            let mut group = Vec::with_capacity(GROUP_COMMIT_MAX);
            while queue.recv_many(&mut group, GROUP_COMMIT_MAX).await > 0 {
                let (jobs, replies): (Vec<NewJob>, Vec<_>) =
                    group.drain(..).map(|p| (p.job, p.reply)).unzip();
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
    pub(crate) async fn submit(&self, job: &NewJob) -> StoreResult<SubmitOutcome> {
        let (reply, outcome) = oneshot::channel();
        let pending = PendingSubmit {
            job: job.clone(),
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

/// Which jobs of a group may be stored: files of missing or closed batches are refused.
/// `batches` maps each batch id the group names to its `closed_ts`.
pub(crate) fn outcomes(
    jobs: &[NewJob],
    batches: &std::collections::HashMap<String, Option<i64>>,
) -> Vec<SubmitOutcome> {
    jobs.iter()
        .map(|job| match &job.batch_id {
            None => SubmitOutcome::Accepted,
            Some(batch_id) => match batches.get(batch_id) {
                None => SubmitOutcome::BatchNotFound,
                Some(Some(_)) => SubmitOutcome::BatchClosed,
                Some(None) => SubmitOutcome::Accepted,
            },
        })
        .collect()
}
