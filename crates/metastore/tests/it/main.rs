//! The metastore conformance suite. Every backend passes the same checks: SQLite in a temporary
//! directory, and a real PostgreSQL server of its own per test.

mod conformance;

use palisade_metastore::Metastore;

/// A fresh SQLite metastore in a temporary directory.
async fn sqlite() -> (Metastore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    (Metastore::open(&url).await.unwrap(), dir)
}

/// A fresh PostgreSQL server (initdb into a temporary directory) and a metastore on it.
async fn postgres() -> (Metastore, palisade_test_support::Postgres) {
    let server = tokio::task::spawn_blocking(palisade_test_support::Postgres::start)
        .await
        .unwrap();
    (Metastore::open(&server.url()).await.unwrap(), server)
}

macro_rules! suite {
    ($factory:ident: $($name:ident),* $(,)?) => {
        mod $factory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _guard) = super::$factory().await;
                    super::conformance::$name(&store).await;
                }
            )*
        }
    };
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        suite!(sqlite: $($name),*);
        suite!(postgres: $($name),*);
    };
}

both!(
    claims_follow_submission_order_and_respect_the_limit,
    an_expired_lease_is_claimed_again_and_the_stale_owner_cannot_complete,
    heartbeats_keep_a_lease_alive,
    released_jobs_run_again_without_spending_an_attempt,
    cancel_wins_over_a_running_worker,
    hash_lookup_filters_by_digest_rule_time_and_progress,
    closed_batches_refuse_new_files_and_pages_follow_order,
    sessions_expire_when_idle_and_die_when_deleted,
    users_are_created_and_updated_in_place,
    an_archive_waits_for_its_members_and_is_queued_again_when_they_finish,
    cancelling_an_archive_cancels_every_unfinished_member_below_it,
    members_take_at_most_their_share_of_running_jobs,
    extraction_charges_stop_at_the_submission_limits,
    nodes_register_report_their_load_and_leave,
    new_work_wakes_a_watcher,
    concurrent_claimers_never_take_the_same_job,
    each_node_runs_at_most_its_share_of_members,
    admission_holds_the_queue_limit_exactly,
    the_database_has_one_identity_from_its_first_claim,
    archive_passwords_are_forgotten_once_a_job_is_final,
    outputs_are_recorded_with_their_job_and_expire_with_their_blobs,
    the_submission_list_filters_searches_and_pages_newest_first,
    recent_batches_come_newest_first_and_per_user,
);

/// Four processes' metastores on one PostgreSQL database (four gateways) admit exactly the
/// queue limit between them, however their transactions interleave: each submits one file at a
/// time, so every commit races the others' counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_share_one_exact_queue_limit() {
    let (first, server) = postgres().await;
    let mut gateways = vec![first.clone()];
    for _ in 0..3 {
        gateways.push(Metastore::open(&server.url()).await.unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (g, store) in gateways.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut accepted = 0;
            for n in 0..20 {
                let job = conformance::job(&format!("g{g}n{n}"), &format!("{g} {n}"));
                if store.submit_within(&job, 25).await.unwrap()
                    == palisade_metastore::SubmitOutcome::Accepted
                {
                    accepted += 1;
                }
            }
            accepted
        });
    }
    let accepted: usize = tasks.join_all().await.into_iter().sum();
    assert_eq!(accepted, 25);
    assert_eq!(first.queue_depth().await.unwrap(), 25);
}
