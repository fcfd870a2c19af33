//! Backend-independent checks of the metastore contract. Time is passed in, so leases are exact.

use palisade_metastore::{
    BatchRecord, CancelOutcome, HashQuery, JobState, Metastore, NewJob, SessionRecord,
    SubmitOutcome,
};
use palisade_model::{FileHashes, HashKind};

/// A 32-hex data id derived from a short name.
pub fn id(name: &str) -> String {
    format!("{:0>32}", hex(name))
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A job for content `content` (the digests are derived from it, not real hashes).
pub fn job(name: &str, content: &str) -> NewJob {
    NewJob {
        data_id: id(name),
        hashes: FileHashes {
            md5: format!("{:0>32}", hex(content)),
            sha1: format!("{:0>40}", hex(content)),
            sha256: format!("{:0>64}", hex(content)),
            sha512: format!("{:0>128}", hex(content)),
        },
        size: content.len() as u64,
        display_name: format!("{name}.bin"),
        rule: "Default".into(),
        upload_ts: 1_000,
        receive_ts: 999,
        ..NewJob::default()
    }
}

pub async fn claims_follow_submission_order_and_respect_the_limit(store: &Metastore) {
    for name in ["a", "b", "c"] {
        assert_eq!(
            store.submit(&job(name, name)).await.unwrap(),
            SubmitOutcome::Accepted
        );
    }
    assert_eq!(store.queue_depth().await.unwrap(), 3);
    let first = store.claim("w1", 10_000, 1_000, 2).await.unwrap();
    let ids: Vec<_> = first.iter().map(|j| j.job.data_id.clone()).collect();
    assert_eq!(ids, [id("a"), id("b")]);
    assert!(
        first
            .iter()
            .all(|j| j.state == JobState::Running && j.attempts == 1)
    );
    assert_eq!(first[0].start_ts, Some(10_000));
    assert_eq!(first[0].job.display_name, "a.bin");
    let second = store.claim("w2", 10_000, 1_000, 5).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].job.data_id, id("c"));
    assert!(
        store
            .claim("w3", 10_000, 1_000, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.queue_depth().await.unwrap(), 0);
}

pub async fn an_expired_lease_is_claimed_again_and_the_stale_owner_cannot_complete(
    store: &Metastore,
) {
    store.submit(&job("a", "a")).await.unwrap();
    assert_eq!(store.claim("slow", 0, 1_000, 1).await.unwrap().len(), 1);
    assert!(store.claim("fast", 999, 1_000, 1).await.unwrap().is_empty());
    let retaken = store.claim("fast", 1_001, 1_000, 1).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].attempts, 2);
    assert_eq!(retaken[0].start_ts, Some(0), "the first start time is kept");

    let stale = store
        .complete("slow", &[(id("a"), 0, "{\"by\":\"slow\"}".into())], 1_500)
        .await
        .unwrap();
    assert!(stale.is_empty(), "a lost lease cannot store a result");
    let fresh = store
        .complete("fast", &[(id("a"), 1, "{\"by\":\"fast\"}".into())], 1_600)
        .await
        .unwrap();
    assert_eq!(fresh, [id("a")]);
    let late = store
        .complete("slow", &[(id("a"), 0, "{\"by\":\"slow\"}".into())], 1_700)
        .await
        .unwrap();
    assert!(late.is_empty(), "exactly one final result");
    let record = store.job(&id("a")).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Done);
    assert_eq!(record.result_i, Some(1));
    assert_eq!(record.report.as_deref(), Some("{\"by\":\"fast\"}"));
    assert_eq!(record.finish_ts, Some(1_600));
    assert!(
        store
            .claim("any", 100_000, 1_000, 1)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn heartbeats_keep_a_lease_alive(store: &Metastore) {
    store.submit(&job("a", "a")).await.unwrap();
    store.claim("w", 0, 1_000, 1).await.unwrap();
    assert_eq!(
        store.heartbeat("w", &[id("a")], 900, 1_000).await.unwrap(),
        1
    );
    assert!(
        store
            .claim("other", 1_500, 1_000, 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .heartbeat("other", &[id("a")], 1_600, 1_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.claim("other", 1_901, 1_000, 1).await.unwrap().len(),
        1
    );
    assert_eq!(
        store
            .heartbeat("w", &[id("a")], 1_950, 1_000)
            .await
            .unwrap(),
        0
    );
}

pub async fn released_jobs_run_again_without_spending_an_attempt(store: &Metastore) {
    store.submit(&job("a", "a")).await.unwrap();
    store.claim("w", 0, 1_000, 1).await.unwrap();
    store.release("w", &[id("a")]).await.unwrap();
    let again = store.claim("v", 10, 1_000, 1).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
}

pub async fn cancel_wins_over_a_running_worker(store: &Metastore) {
    store.submit(&job("a", "a")).await.unwrap();
    store.submit(&job("b", "b")).await.unwrap();
    store.claim("w", 0, 1_000, 1).await.unwrap();
    assert_eq!(
        store.cancel(&id("a"), 19, "{\"c\":1}", 50).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store.cancel(&id("b"), 19, "{\"c\":2}", 60).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert!(
        store
            .complete("w", &[(id("a"), 0, "{}".into())], 70)
            .await
            .unwrap()
            .is_empty()
    );
    let record = store.job(&id("a")).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Cancelled);
    assert_eq!(record.result_i, Some(19));
    assert_eq!(
        store.cancel(&id("a"), 19, "{}", 80).await.unwrap(),
        CancelOutcome::AlreadyFinal
    );
    assert_eq!(
        store.cancel(&id("zz"), 19, "{}", 80).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(store.claim("w", 5_000, 1_000, 5).await.unwrap().is_empty());
}

pub async fn hash_lookup_filters_by_digest_rule_time_and_progress(store: &Metastore) {
    let mut first = job("a", "same");
    first.rule = "Default".into();
    let mut second = job("b", "same");
    second.rule = "Other".into();
    store.submit(&first).await.unwrap();
    store.submit(&second).await.unwrap();
    let hashes = first.hashes.clone();
    let any = HashQuery::default();

    assert!(
        store
            .latest_by_hash(HashKind::Md5, &hashes.md5, &any)
            .await
            .unwrap()
            .is_none()
    );
    let pending = HashQuery {
        include_in_progress: true,
        ..HashQuery::default()
    };
    let found = store
        .latest_by_hash(HashKind::Md5, &hashes.md5, &pending)
        .await
        .unwrap();
    assert_eq!(found.unwrap().job.data_id, id("b"));

    store.claim("w", 2_000, 1_000, 2).await.unwrap();
    store
        .complete("w", &[(id("a"), 0, "{}".into())], 3_000)
        .await
        .unwrap();
    store
        .complete("w", &[(id("b"), 1, "{}".into())], 4_000)
        .await
        .unwrap();
    for (kind, hash) in [
        (HashKind::Md5, &hashes.md5),
        (HashKind::Sha1, &hashes.sha1),
        (HashKind::Sha256, &hashes.sha256),
        (HashKind::Sha512, &hashes.sha512),
    ] {
        let latest = store
            .latest_by_hash(kind, hash, &any)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.job.data_id, id("b"), "{kind:?}");
    }
    let scoped = HashQuery {
        rule: Some("Default".into()),
        ..HashQuery::default()
    };
    let by_rule = store
        .latest_by_hash(HashKind::Sha1, &hashes.sha1, &scoped)
        .await
        .unwrap();
    assert_eq!(by_rule.unwrap().job.data_id, id("a"));
    let recent = HashQuery {
        since: Some(5_000),
        ..HashQuery::default()
    };
    assert!(
        store
            .latest_by_hash(HashKind::Sha1, &hashes.sha1, &recent)
            .await
            .unwrap()
            .is_none()
    );
    let other = job("c", "different").hashes;
    assert!(
        store
            .latest_by_hash(HashKind::Md5, &other.md5, &pending)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn closed_batches_refuse_new_files_and_pages_follow_order(store: &Metastore) {
    let batch = BatchRecord {
        batch_id: id("batch"),
        rule: "Default".into(),
        user_agent: String::new(),
        username: "admin".into(),
        user_data: "nightly".into(),
        created_ts: 1,
        closed_ts: None,
        cancelled: false,
    };
    store.create_batch(&batch).await.unwrap();
    for name in ["a", "b", "c", "d"] {
        let mut member = job(name, name);
        member.batch_id = Some(batch.batch_id.clone());
        assert_eq!(
            store.submit(&member).await.unwrap(),
            SubmitOutcome::Accepted
        );
    }
    let mut stray = job("e", "e");
    stray.batch_id = Some(id("nobatch"));
    assert_eq!(
        store.submit(&stray).await.unwrap(),
        SubmitOutcome::BatchNotFound
    );

    let (count, page) = store.batch_members(&batch.batch_id, 1, 2).await.unwrap();
    assert_eq!(count, 4);
    let ids: Vec<_> = page.iter().map(|j| j.job.data_id.clone()).collect();
    assert_eq!(ids, [id("b"), id("c")]);
    assert_eq!(
        store
            .unfinished_batch_members(&batch.batch_id)
            .await
            .unwrap()
            .len(),
        4
    );

    assert!(store.close_batch(&batch.batch_id, 10, false).await.unwrap());
    assert!(store.close_batch(&batch.batch_id, 20, true).await.unwrap());
    let closed = store.batch(&batch.batch_id).await.unwrap().unwrap();
    assert_eq!(
        closed.closed_ts,
        Some(10),
        "closing twice keeps the first time"
    );
    assert!(closed.cancelled);
    let mut late = job("f", "f");
    late.batch_id = Some(batch.batch_id.clone());
    assert_eq!(
        store.submit(&late).await.unwrap(),
        SubmitOutcome::BatchClosed
    );
    assert!(store.job(&id("f")).await.unwrap().is_none());
    assert!(!store.close_batch(&id("nobatch"), 10, false).await.unwrap());
}

pub async fn sessions_expire_when_idle_and_die_when_deleted(store: &Metastore) {
    let session = SessionRecord {
        session_id: "s1".into(),
        username: "admin".into(),
        role: "admin".into(),
        csrf_token: "t".into(),
        last_seen: 1_000,
    };
    store.create_session(&session).await.unwrap();
    assert!(store.session("s1", 5_000, 10_000).await.unwrap().is_some());
    // Use refreshed last_seen: still alive 10 s after the last use.
    assert!(store.session("s1", 14_000, 10_000).await.unwrap().is_some());
    assert!(store.session("s1", 30_000, 10_000).await.unwrap().is_none());
    assert!(
        store
            .session("s1", 30_001, 1_000_000)
            .await
            .unwrap()
            .is_none(),
        "expired sessions are gone"
    );

    store
        .create_session(&SessionRecord {
            session_id: "s2".into(),
            ..session
        })
        .await
        .unwrap();
    assert!(store.delete_session("s2").await.unwrap());
    assert!(store.session("s2", 1_000, 10_000).await.unwrap().is_none());
    assert!(!store.delete_session("s2").await.unwrap());
}

pub async fn users_are_created_and_updated_in_place(store: &Metastore) {
    assert_eq!(store.user_count().await.unwrap(), 0);
    store
        .put_user(&palisade_metastore::UserRecord {
            username: "u".into(),
            password_hash: "h1".into(),
            role: "user".into(),
        })
        .await
        .unwrap();
    store
        .put_user(&palisade_metastore::UserRecord {
            username: "u".into(),
            password_hash: "h2".into(),
            role: "admin".into(),
        })
        .await
        .unwrap();
    let user = store.user("u").await.unwrap().unwrap();
    assert_eq!(
        (user.password_hash.as_str(), user.role.as_str()),
        ("h2", "admin")
    );
    assert_eq!(store.user_count().await.unwrap(), 1);
}
