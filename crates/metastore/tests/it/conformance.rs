//! Backend-independent checks of the metastore contract. Time is passed in, so leases are exact.

use palisade_metastore::{
    BatchRecord, CancelOutcome, ExpiredOutputs, FinishedJob, HashQuery, JobState, Metastore,
    NewJob, QueueState, SessionRecord, SubmissionQuery, SubmissionRow, SubmitOutcome,
};
use palisade_model::{FileHashes, HashKind, OutputKind, OutputRecord};

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
    assert_eq!(store.queue_state().await.unwrap(), QueueState::default());
    for (name, uploaded) in [("a", 1_000), ("b", 2_000), ("c", 3_000)] {
        let job = NewJob {
            upload_ts: uploaded,
            ..job(name, name)
        };
        assert_eq!(store.submit(&job).await.unwrap(), SubmitOutcome::Accepted);
    }
    assert_eq!(store.queue_depth().await.unwrap(), 3);
    let head = |depth, oldest_upload| QueueState {
        depth,
        oldest_upload,
    };
    assert_eq!(store.queue_state().await.unwrap(), head(3, Some(1_000)));
    let first = store.claim("w1", 10_000, 1_000, 2, u32::MAX).await.unwrap();
    assert_eq!(store.queue_state().await.unwrap(), head(1, Some(3_000)));
    let ids: Vec<_> = first.iter().map(|j| j.job.data_id.clone()).collect();
    assert_eq!(ids, [id("a"), id("b")]);
    assert!(
        first
            .iter()
            .all(|j| j.state == JobState::Running && j.attempts == 1)
    );
    assert_eq!(first[0].start_ts, Some(10_000));
    assert_eq!(first[0].job.display_name, "a.bin");
    let second = store.claim("w2", 10_000, 1_000, 5, u32::MAX).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].job.data_id, id("c"));
    assert!(
        store
            .claim("w3", 10_000, 1_000, 5, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    assert_eq!(store.queue_state().await.unwrap(), head(0, None));
}

pub async fn an_expired_lease_is_claimed_again_and_the_stale_owner_cannot_complete(
    store: &Metastore,
) {
    store.submit(&job("a", "a")).await.unwrap();
    assert_eq!(
        store
            .claim("slow", 0, 1_000, 1, u32::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .claim("fast", 999, 1_000, 1, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    let retaken = store
        .claim("fast", 1_001, 1_000, 1, u32::MAX)
        .await
        .unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].attempts, 2);
    assert_eq!(retaken[0].start_ts, Some(0), "the first start time is kept");

    let stale = store
        .complete(
            "slow",
            &[finished(id("a"), 0, "{\"by\":\"slow\"}")],
            &[],
            1_500,
        )
        .await
        .unwrap();
    assert!(stale.is_empty(), "a lost lease cannot store a result");
    let fresh = store
        .complete(
            "fast",
            &[finished(id("a"), 1, "{\"by\":\"fast\"}")],
            &[],
            1_600,
        )
        .await
        .unwrap();
    assert_eq!(fresh, [id("a")]);
    let late = store
        .complete(
            "slow",
            &[finished(id("a"), 0, "{\"by\":\"slow\"}")],
            &[],
            1_700,
        )
        .await
        .unwrap();
    assert!(late.is_empty(), "exactly one final result");
    let record = store.job(&id("a")).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Done);
    assert_eq!(record.result_i, Some(1));
    assert_eq!(record.report.as_deref(), Some("{\"by\":\"fast\"}"));
    assert_eq!(record.finish_ts, Some(1_600));
    assert_eq!(record.finished_by.as_deref(), Some("fast"));
    assert!(
        store
            .claim("any", 100_000, 1_000, 1, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn heartbeats_keep_a_lease_alive(store: &Metastore) {
    store.submit(&job("a", "a")).await.unwrap();
    store.claim("w", 0, 1_000, 1, u32::MAX).await.unwrap();
    assert_eq!(
        store.heartbeat("w", &[id("a")], 900, 1_000).await.unwrap(),
        1
    );
    assert!(
        store
            .claim("other", 1_500, 1_000, 1, u32::MAX)
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
        store
            .claim("other", 1_901, 1_000, 1, u32::MAX)
            .await
            .unwrap()
            .len(),
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
    store.claim("w", 0, 1_000, 1, u32::MAX).await.unwrap();
    store.release("w", &[id("a")]).await.unwrap();
    let again = store.claim("v", 10, 1_000, 1, u32::MAX).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
}

pub async fn cancel_wins_over_a_running_worker(store: &Metastore) {
    store.submit(&job("a", "a")).await.unwrap();
    store.submit(&job("b", "b")).await.unwrap();
    store.claim("w", 0, 1_000, 1, u32::MAX).await.unwrap();
    assert_eq!(
        store
            .cancel(&finished(id("a"), 19, "{\"c\":1}"), 50)
            .await
            .unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        store
            .cancel(&finished(id("b"), 19, "{\"c\":2}"), 60)
            .await
            .unwrap(),
        CancelOutcome::Cancelled
    );
    assert!(
        store
            .complete("w", &[finished(id("a"), 0, "{}")], &[], 70)
            .await
            .unwrap()
            .is_empty()
    );
    let record = store.job(&id("a")).await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Cancelled);
    assert_eq!(record.result_i, Some(19));
    assert_eq!(
        store
            .cancel(&finished(id("a"), 19, "{}"), 80)
            .await
            .unwrap(),
        CancelOutcome::AlreadyFinal
    );
    assert_eq!(
        store
            .cancel(&finished(id("zz"), 19, "{}"), 80)
            .await
            .unwrap(),
        CancelOutcome::NotFound
    );
    assert!(
        store
            .claim("w", 5_000, 1_000, 5, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
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

    store.claim("w", 2_000, 1_000, 2, u32::MAX).await.unwrap();
    store
        .complete("w", &[finished(id("a"), 0, "{}")], &[], 3_000)
        .await
        .unwrap();
    store
        .complete("w", &[finished(id("b"), 1, "{}")], &[], 4_000)
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
    store.ping().await.unwrap();
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

/// A member of `parent` (at `index`), belonging to submission `root`.
fn member(name: &str, content: &str, parent: &str, root: &str, index: u32) -> NewJob {
    NewJob {
        parent_id: Some(id(parent)),
        root_id: Some(id(root)),
        depth: 1,
        archive_index: Some(index),
        ..job(name, content)
    }
}

fn report(name: &str, result: i32) -> FinishedJob {
    finished(id(name), result, format!("{{\"of\":\"{name}\"}}"))
}

/// A final report of `data_id`; blocked when its result is not 0 (no threat).
fn finished(data_id: String, result_i: i32, report: impl Into<String>) -> FinishedJob {
    FinishedJob {
        data_id,
        result_i,
        blocked: result_i != 0,
        report: report.into(),
    }
}

pub async fn an_archive_waits_for_its_members_and_is_queued_again_when_they_finish(
    store: &Metastore,
) {
    store.submit(&job("zip", "archive bytes")).await.unwrap();
    assert_eq!(store.claim("w", 0, 10_000, 5, 10).await.unwrap().len(), 1);
    let members = [
        member("m0", "first", "zip", "zip", 0),
        member("m1", "second", "zip", "zip", 1),
        member("m2", "third", "zip", "zip", 2),
    ];
    // Only the lease owner may expand.
    assert!(
        !store
            .expand("other", &id("zip"), "{}", &members, 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .expand("w", &id("zip"), "{\"own\":1}", &members, 10)
            .await
            .unwrap()
    );
    let parent = store.job(&id("zip")).await.unwrap().unwrap();
    assert_eq!(parent.state, JobState::Waiting);
    assert_eq!(parent.pending_children, 3);
    assert_eq!(parent.partial.as_deref(), Some("{\"own\":1}"));
    assert_eq!(parent.lease_owner, None);

    // Members are ordinary jobs; the waiting parent is not claimable.
    let claimed = store.claim("w", 20, 10_000, 10, 10).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|r| r.job.data_id.as_str()).collect();
    assert_eq!(ids, [id("m0"), id("m1"), id("m2")]);
    assert_eq!(claimed[1].job.parent_id, Some(id("zip")));
    assert_eq!(claimed[1].job.root_id, Some(id("zip")));
    assert_eq!(claimed[1].job.archive_index, Some(1));
    assert_eq!(claimed[1].job.depth, 1);

    let (total, page) = store.children(&id("zip"), 1, 5).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].job.data_id, id("m1"));

    store
        .complete("w", &[report("m0", 0), report("m2", 1)], &[], 30)
        .await
        .unwrap();
    let parent = store.job(&id("zip")).await.unwrap().unwrap();
    assert_eq!(parent.state, JobState::Waiting);
    assert_eq!(parent.pending_children, 1);
    store
        .complete("w", &[report("m1", 0)], &[], 40)
        .await
        .unwrap();
    let parent = store.job(&id("zip")).await.unwrap().unwrap();
    assert_eq!(parent.state, JobState::Queued);
    assert_eq!(parent.pending_children, 0);
    // Claimed again with its own analysis, to be finished from its members' results.
    let again = store.claim("v", 50, 10_000, 5, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].partial.as_deref(), Some("{\"own\":1}"));
    assert_eq!(
        store
            .complete("v", &[report("zip", 1)], &[], 60)
            .await
            .unwrap(),
        vec![id("zip")]
    );

    // Hash lookup finds members, unless only submitted files are asked for.
    let member_sha256 = member("x", "third", "zip", "zip", 0).hashes.sha256;
    let any = store
        .latest_by_hash(HashKind::Sha256, &member_sha256, &HashQuery::default())
        .await
        .unwrap();
    assert_eq!(any.unwrap().job.data_id, id("m2"));
    let self_only = HashQuery {
        self_only: true,
        ..HashQuery::default()
    };
    assert!(
        store
            .latest_by_hash(HashKind::Sha256, &member_sha256, &self_only)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn cancelling_an_archive_cancels_every_unfinished_member_below_it(store: &Metastore) {
    store.submit(&job("top", "outer")).await.unwrap();
    store.claim("w", 0, 10_000, 5, 10).await.unwrap();
    let level1 = [
        member("inner", "inner zip", "top", "top", 0),
        member("done", "done file", "top", "top", 1),
    ];
    assert!(
        store
            .expand("w", &id("top"), "{}", &level1, 1)
            .await
            .unwrap()
    );
    store.claim("w", 2, 10_000, 5, 10).await.unwrap();
    store
        .complete("w", &[report("done", 0)], &[], 3)
        .await
        .unwrap();
    let level2 = [NewJob {
        depth: 2,
        ..member("deep", "deep file", "inner", "top", 0)
    }];
    assert!(
        store
            .expand("w", &id("inner"), "{}", &level2, 4)
            .await
            .unwrap()
    );

    assert_eq!(
        store
            .cancel(&finished(id("top"), 19, "{}"), 5)
            .await
            .unwrap(),
        CancelOutcome::Cancelled
    );
    for (name, state) in [
        ("top", JobState::Cancelled),
        ("inner", JobState::Cancelled),
        ("deep", JobState::Cancelled),
        ("done", JobState::Done),
    ] {
        assert_eq!(
            store.job(&id(name)).await.unwrap().unwrap().state,
            state,
            "{name}"
        );
    }
    assert!(store.claim("w", 6, 10_000, 5, 10).await.unwrap().is_empty());

    // Cancelling one member lets its waiting parent finish without it.
    store.submit(&job("p", "parent two")).await.unwrap();
    store.claim("w", 10, 10_000, 5, 10).await.unwrap();
    let only = [member("c", "child two", "p", "p", 0)];
    assert!(store.expand("w", &id("p"), "{}", &only, 11).await.unwrap());
    store
        .cancel(&finished(id("c"), 19, "{}"), 12)
        .await
        .unwrap();
    assert_eq!(
        store.job(&id("p")).await.unwrap().unwrap().state,
        JobState::Queued
    );
}

pub async fn members_take_at_most_their_share_of_running_jobs(store: &Metastore) {
    store.submit(&job("arc", "big archive")).await.unwrap();
    store.claim("w", 0, 10_000, 5, 2).await.unwrap();
    let members: Vec<NewJob> = (0..6)
        .map(|i| member(&format!("k{i}"), &format!("member {i}"), "arc", "arc", i))
        .collect();
    assert!(
        store
            .expand("w", &id("arc"), "{}", &members, 1)
            .await
            .unwrap()
    );
    for name in ["f1", "f2", "f3"] {
        store.submit(&job(name, name)).await.unwrap();
    }
    // Members were queued first, yet only 2 of them run at once; plain files are not held up.
    let first = store.claim("w", 10, 10_000, 10, 2).await.unwrap();
    let names: Vec<&str> = first.iter().map(|r| r.job.data_id.as_str()).collect();
    assert_eq!(names, [id("k0"), id("k1"), id("f1"), id("f2"), id("f3")]);
    assert!(
        store
            .claim("w", 11, 10_000, 10, 2)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .complete("w", &[report("k0", 0)], &[], 12)
        .await
        .unwrap();
    let next = store.claim("w", 13, 10_000, 10, 2).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].job.data_id, id("k2"));
}

pub async fn extraction_charges_stop_at_the_submission_limits(store: &Metastore) {
    store.submit(&job("root", "root archive")).await.unwrap();
    let root = id("root");
    assert!(
        store
            .charge_extraction(&root, 600, 2, 1_000, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .charge_extraction(&root, 500, 1, 1_000, 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .charge_extraction(&root, 400, 1, 1_000, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .charge_extraction(&root, 0, 1, 1_000, 3)
            .await
            .unwrap()
    );
    // Bytes charged ahead and not used are given back (never below zero).
    store.refund_extraction(&root, 300).await.unwrap();
    assert!(
        store
            .charge_extraction(&root, 300, 0, 1_000, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .charge_extraction(&root, 1, 0, 1_000, 3)
            .await
            .unwrap()
    );
    store.refund_extraction(&root, 5_000).await.unwrap();
    assert!(
        store
            .charge_extraction(&root, 1_000, 0, 1_000, 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .charge_extraction(&id("nobody"), 1, 1, 1_000, 3)
            .await
            .unwrap()
    );
}

pub async fn nodes_register_report_their_load_and_leave(store: &Metastore) {
    use palisade_metastore::NodeRecord;
    let node = |id: &str, seen: i64| NodeRecord {
        node_id: id.into(),
        role: "node".into(),
        hostname: "host-a".into(),
        version: "0.1.0".into(),
        started_ts: 100,
        last_seen: seen,
        workers: 2,
        running: 0,
        engines: "[]".into(),
    };
    store.submit(&job("busy1", "b1")).await.unwrap();
    store.submit(&job("busy2", "b2")).await.unwrap();
    store.claim("n1/3f2/w0", 0, 10_000, 2, 10).await.unwrap();
    store.node_heartbeat(&node("n1", 1_000)).await.unwrap();
    store
        .node_heartbeat(&NodeRecord {
            role: "gateway".into(),
            workers: 0,
            started_ts: 200,
            ..node("g1", 1_000)
        })
        .await
        .unwrap();
    // Restarted under the same id: one entry, with the new start time.
    store
        .node_heartbeat(&NodeRecord {
            started_ts: 150,
            ..node("n1", 2_000)
        })
        .await
        .unwrap();
    let nodes = store.nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].node_id, "n1");
    assert_eq!(nodes[0].started_ts, 150);
    assert_eq!(nodes[0].last_seen, 2_000);
    assert_eq!(nodes[0].running, 2, "leases held by n1's workers");
    assert_eq!(nodes[1].role, "gateway");
    assert_eq!(nodes[1].running, 0);
    store.remove_node("n1").await.unwrap();
    let nodes = store.nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].node_id, "g1");
    // A node that died and never came back is forgotten once it is old enough.
    assert_eq!(store.forget_nodes(1_000).await.unwrap(), 0);
    assert_eq!(store.forget_nodes(1_001).await.unwrap(), 1);
    assert!(store.nodes().await.unwrap().is_empty());
}

/// A watcher hears of submissions, of queued archive members and of a parent ready to finish.
pub async fn new_work_wakes_a_watcher(store: &Metastore) {
    use std::sync::Arc;
    use std::time::Duration;
    let wake = Arc::new(tokio::sync::Notify::new());
    store.watch_for_work(wake.clone()).await.unwrap();
    let heard = || async {
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .is_ok()
    };
    store.submit(&job("parent", "zip")).await.unwrap();
    assert!(heard().await, "a submission wakes the watcher");
    let parent = store.claim("w1", 10_000, 60_000, 1, 10).await.unwrap();
    assert_eq!(parent.len(), 1);
    let mut member = job("member", "m");
    member.parent_id = Some(id("parent"));
    member.root_id = Some(id("parent"));
    member.depth = 1;
    assert!(
        store
            .expand("w1", &id("parent"), "{}", &[member], 10_000)
            .await
            .unwrap()
    );
    assert!(heard().await, "queued members wake the watcher");
    let member = store.claim("w2", 10_000, 60_000, 1, 10).await.unwrap();
    assert_eq!(member.len(), 1);
    store
        .complete("w2", &[finished(id("member"), 0, "{}")], &[], 10_100)
        .await
        .unwrap();
    assert!(heard().await, "a parent ready to finish wakes the watcher");
    assert_eq!(
        store.job(&id("parent")).await.unwrap().unwrap().state,
        JobState::Queued
    );
}

/// Eight workers claiming at once split 200 jobs between them: none is taken twice, none is left.
pub async fn concurrent_claimers_never_take_the_same_job(store: &Metastore) {
    for n in 0..200 {
        let name = format!("job{n}");
        store.submit(&job(&name, &name)).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("node/w{w}");
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim(&owner, 10_000, 60_000, 4, 0).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                let reports: Vec<FinishedJob> = claimed
                    .iter()
                    .map(|j| finished(j.job.data_id.clone(), 0, format!("{{\"by\":\"{owner}\"}}")))
                    .collect();
                let done = store.complete(&owner, &reports, &[], 10_001).await.unwrap();
                assert_eq!(done.len(), claimed.len(), "a claimed job was lost");
                mine.extend(done);
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 200, "every job completed once");
    assert_eq!(distinct.len(), 200, "no job completed twice");
    assert_eq!(store.queue_depth().await.unwrap(), 0);
}

/// The member cap is per process (owners `node/start/w<n>` share it), so one archive's members
/// spread over every node instead of the first node taking every member slot.
pub async fn each_node_runs_at_most_its_share_of_members(store: &Metastore) {
    store.submit(&job("arc", "big archive")).await.unwrap();
    store.claim("a/1/w0", 0, 10_000, 1, 2).await.unwrap();
    let members: Vec<NewJob> = (0..8)
        .map(|i| member(&format!("k{i}"), &format!("member {i}"), "arc", "arc", i))
        .collect();
    assert!(
        store
            .expand("a/1/w0", &id("arc"), "{}", &members, 1)
            .await
            .unwrap()
    );
    let claimed = |owner: &'static str| async move {
        store
            .claim(owner, 10, 10_000, 10, 2)
            .await
            .unwrap()
            .iter()
            .map(|r| r.job.data_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(claimed("a/1/w0").await, [id("k0"), id("k1")]);
    assert!(
        claimed("a/1/w1").await.is_empty(),
        "a's other worker shares a's cap"
    );
    assert_eq!(
        claimed("b/1/w0").await,
        [id("k2"), id("k3")],
        "node b has its own"
    );
    assert!(claimed("b/1/w1").await.is_empty());
}

/// Submits `count` jobs at once under `limit` and returns how many were accepted.
pub async fn burst(store: &Metastore, prefix: &str, count: usize, limit: u64) -> usize {
    let mut submissions = tokio::task::JoinSet::new();
    for n in 0..count {
        let store = store.clone();
        let job = job(&format!("{prefix}{n}"), &format!("{prefix} content {n}"));
        submissions.spawn(async move { store.submit_within(&job, limit).await.unwrap() });
    }
    let outcomes = submissions.join_all().await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, SubmitOutcome::Accepted | SubmitOutcome::QueueFull))
    );
    outcomes
        .iter()
        .filter(|o| **o == SubmitOutcome::Accepted)
        .count()
}

pub async fn admission_holds_the_queue_limit_exactly(store: &Metastore) {
    assert_eq!(burst(store, "a", 40, 10).await, 10);
    assert_eq!(store.queue_depth().await.unwrap(), 10);
    // Jobs that workers took make room for exactly as many.
    let claimed = store.claim("w", 0, 60_000, 4, 10).await.unwrap();
    assert_eq!(claimed.len(), 4);
    assert_eq!(burst(store, "b", 10, 10).await, 4);
    // Archive members are not submissions: they neither count nor are refused.
    let parent = &claimed[0].job.data_id;
    let members: Vec<NewJob> = (0..5)
        .map(|n| NewJob {
            parent_id: Some(parent.clone()),
            root_id: Some(parent.clone()),
            depth: 1,
            archive_index: Some(n),
            ..job(&format!("m{n}"), &format!("member {n}"))
        })
        .collect();
    assert!(store.expand("w", parent, "{}", &members, 10).await.unwrap());
    assert_eq!(store.queue_depth().await.unwrap(), 10);
    assert_eq!(burst(store, "c", 3, 10).await, 0);
    // Submissions without a limit are never refused.
    assert_eq!(
        store.submit(&job("free", "free")).await.unwrap(),
        SubmitOutcome::Accepted
    );
}

pub async fn the_database_has_one_identity_from_its_first_claim(store: &Metastore) {
    assert_eq!(store.instance_id().await.unwrap(), None, "a new database");
    assert_eq!(store.claim_instance("first", 5).await.unwrap(), "first");
    assert_eq!(
        store.claim_instance("second", 6).await.unwrap(),
        "first",
        "a later claim keeps the identity"
    );
    assert_eq!(store.instance_id().await.unwrap().as_deref(), Some("first"));
    store.probe_write(7).await.unwrap();
    assert!(store.integrity_problems().await.unwrap().is_empty());
}

pub async fn archive_passwords_are_forgotten_once_a_job_is_final(store: &Metastore) {
    for name in ["done", "cancelled", "running"] {
        let mut locked = job(name, name);
        locked.archive_passwords = vec!["s3cret".into(), "other".into()];
        store.submit(&locked).await.unwrap();
    }
    let claimed = store.claim("w", 0, 1_000, 3, u32::MAX).await.unwrap();
    assert!(
        claimed
            .iter()
            .all(|record| record.job.archive_passwords == ["s3cret", "other"]),
        "a worker gets the passwords while the job runs"
    );
    store
        .complete("w", &[finished(id("done"), 0, "{}")], &[], 10)
        .await
        .unwrap();
    store
        .cancel(&finished(id("cancelled"), 19, "{}"), 20)
        .await
        .unwrap();
    let passwords = |name: &'static str| async move {
        store
            .job(&id(name))
            .await
            .unwrap()
            .unwrap()
            .job
            .archive_passwords
    };
    assert!(passwords("done").await.is_empty());
    assert!(passwords("cancelled").await.is_empty());
    assert_eq!(passwords("running").await, ["s3cret", "other"]);
}

fn output(name: &str, kind: OutputKind, content: &str, created_ts: i64) -> OutputRecord {
    OutputRecord {
        data_id: id(name),
        kind,
        sha256: format!("{:0>64}", hex(content)),
        size: content.len() as u64,
        name: format!("{name}.pdf"),
        created_ts,
    }
}

pub async fn outputs_are_recorded_with_their_job_and_expire_with_their_blobs(store: &Metastore) {
    for name in ["a", "b", "lost"] {
        store.submit(&job(name, name)).await.unwrap();
    }
    store.claim("w", 0, 1_000, 3, u32::MAX).await.unwrap();
    let a_sanitized = output("a", OutputKind::Sanitized, "copy-of-a", 100);
    let a_redacted = output("a", OutputKind::Redacted, "shared", 100);
    let b_redacted = output("b", OutputKind::Redacted, "shared", 200);
    // "b" itself: an output identical to a submitted file.
    let b_sanitized = output("b", OutputKind::Sanitized, "b", 100);
    let lost = output("lost", OutputKind::Sanitized, "copy-of-lost", 100);
    let done = store
        .complete(
            "w",
            &[finished(id("a"), 0, "{}"), finished(id("b"), 0, "{}")],
            &[
                a_redacted.clone(),
                a_sanitized.clone(),
                b_redacted.clone(),
                b_sanitized.clone(),
                lost.clone(),
            ],
            100,
        )
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(
        store.outputs(&id("a")).await.unwrap(),
        [a_sanitized.clone(), a_redacted.clone()],
        "the sanitized copy comes first"
    );
    assert!(
        store.outputs(&id("lost")).await.unwrap().is_empty(),
        "an output of a job not completed is not recorded"
    );

    let nothing = store.expire_outputs(100, 100).await.unwrap();
    assert_eq!(
        nothing,
        ExpiredOutputs::default(),
        "created at 100 is not before 100"
    );

    let first = store.expire_outputs(150, 100).await.unwrap();
    assert_eq!(first.rows, 3);
    assert_eq!(
        first.unreferenced_blobs,
        std::slice::from_ref(&a_sanitized.sha256),
        "a blob another output or a submitted file uses is kept"
    );
    assert!(store.outputs(&id("a")).await.unwrap().is_empty());
    assert_eq!(
        store.outputs(&id("b")).await.unwrap(),
        std::slice::from_ref(&b_redacted)
    );

    // Batches of `limit`, oldest first.
    let second = store.expire_outputs(1_000, 1).await.unwrap();
    assert_eq!(second.rows, 1);
    assert_eq!(second.unreferenced_blobs, [b_redacted.sha256]);
    assert_eq!(
        store.expire_outputs(1_000, 1).await.unwrap(),
        ExpiredOutputs::default()
    );
}

/// The console's list: submitted files only (no archive members), newest first, a keyset page
/// either way, each filter alone and together, and the search by digest, data id or name.
pub async fn the_submission_list_filters_searches_and_pages_newest_first(store: &Metastore) {
    let files = [
        // name, content, rule, user, upload time, result (None: still queued)
        ("alpha", "one", "Default", "ann", 1_000, Some(0)),
        ("beta", "two", "Strict", "bob", 2_000, Some(1)),
        ("gamma", "three", "Default", "ann", 3_000, Some(0)),
        ("Delta_100%", "four", "Strict", "ann", 4_000, None),
    ];
    for (name, content, rule, user, uploaded, _) in files {
        let job = NewJob {
            rule: rule.into(),
            username: user.into(),
            upload_ts: uploaded,
            file_type: if name == "beta" { "exe" } else { "txt" }.into(),
            ..job(name, content)
        };
        store.submit(&job).await.unwrap();
    }
    // An archive member is not a submission of its own (and no member slot is claimed below).
    store
        .submit(&member("inner", "inner", "beta", "beta", 0))
        .await
        .unwrap();
    store.claim("w", 5_000, 60_000, 3, 0).await.unwrap();
    let reports: Vec<FinishedJob> = files
        .iter()
        .filter_map(|(name, _, _, _, _, result)| result.map(|r| report(name, r)))
        .collect();
    store.complete("w", &reports, &[], 6_000).await.unwrap();

    let names = |rows: Vec<SubmissionRow>| -> Vec<String> {
        rows.into_iter().map(|row| row.display_name).collect()
    };
    let list = |query: SubmissionQuery| async move {
        names(
            store
                .submissions(&SubmissionQuery { limit: 10, ..query })
                .await
                .unwrap(),
        )
    };
    let all = store
        .submissions(&SubmissionQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        names(all.clone()),
        ["Delta_100%.bin", "gamma.bin", "beta.bin", "alpha.bin"]
    );
    let alpha = &all[3];
    assert_eq!(alpha.data_id, id("alpha"));
    assert_eq!((alpha.result_i, alpha.blocked), (Some(0), Some(false)));
    assert_eq!(
        (alpha.size, alpha.upload_ts, alpha.finish_ts),
        (3, 1_000, Some(6_000))
    );
    assert_eq!(alpha.state, JobState::Done);
    assert_eq!((all[0].result_i, all[0].blocked), (None, None));
    assert_eq!(all[0].state, JobState::Queued);

    assert_eq!(
        list(SubmissionQuery {
            blocked: Some(true),
            ..Default::default()
        })
        .await,
        ["beta.bin"]
    );
    assert_eq!(
        list(SubmissionQuery {
            result_i: Some(0),
            ..Default::default()
        })
        .await,
        ["gamma.bin", "alpha.bin"]
    );
    assert_eq!(
        list(SubmissionQuery {
            rule: Some("Strict".into()),
            ..Default::default()
        })
        .await,
        ["Delta_100%.bin", "beta.bin"]
    );
    assert_eq!(
        list(SubmissionQuery {
            file_type: Some("exe".into()),
            ..Default::default()
        })
        .await,
        ["beta.bin"]
    );
    assert_eq!(
        list(SubmissionQuery {
            username: Some("ann".into()),
            since: Some(2_000),
            until: Some(4_000),
            ..Default::default()
        })
        .await,
        ["gamma.bin"]
    );
    // Search: a part of the name in any ASCII case, LIKE's own characters taken literally.
    let search = |text: &str| SubmissionQuery {
        text: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(list(search("AMM")).await, ["gamma.bin"]);
    assert_eq!(list(search("a_1")).await, ["Delta_100%.bin"]);
    assert_eq!(list(search("0%")).await, ["Delta_100%.bin"]);
    assert!(list(search("a%1")).await.is_empty());
    // By each digest of the content, and by data id.
    let content = job("any", "two").hashes;
    for digest in [
        &content.md5,
        &content.sha1,
        &content.sha256,
        &content.sha512,
    ] {
        assert_eq!(list(search(&digest.to_uppercase())).await, ["beta.bin"]);
    }
    assert_eq!(list(search(&id("gamma"))).await, ["gamma.bin"]);

    // Pages of two, by upload time: older after the last row, newer before the first.
    let page = |before, after| SubmissionQuery {
        before,
        after,
        limit: 2,
        ..Default::default()
    };
    let first = store.submissions(&page(None, None)).await.unwrap();
    let second = store
        .submissions(&page(Some((first[1].upload_ts, first[1].seq)), None))
        .await
        .unwrap();
    assert_eq!(names(second.clone()), ["beta.bin", "alpha.bin"]);
    let back = store
        .submissions(&page(None, Some((second[0].upload_ts, second[0].seq))))
        .await
        .unwrap();
    assert_eq!(names(back), ["Delta_100%.bin", "gamma.bin"]);
}

pub async fn recent_batches_come_newest_first_and_per_user(store: &Metastore) {
    for (name, user, created) in [("b1", "ann", 10), ("b2", "bob", 20), ("b3", "ann", 30)] {
        store
            .create_batch(&BatchRecord {
                batch_id: id(name),
                rule: "Default".into(),
                user_agent: String::new(),
                username: user.into(),
                user_data: String::new(),
                created_ts: created,
                closed_ts: None,
                cancelled: false,
            })
            .await
            .unwrap();
    }
    let ids = |batches: Vec<BatchRecord>| -> Vec<String> {
        batches.into_iter().map(|b| b.batch_id).collect()
    };
    assert_eq!(
        ids(store.recent_batches(None, 2).await.unwrap()),
        [id("b3"), id("b2")]
    );
    assert_eq!(
        ids(store.recent_batches(Some("ann"), 10).await.unwrap()),
        [id("b3"), id("b1")]
    );
}
