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
);

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_reapplies_no_migration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    {
        let store = Metastore::open(&url).await.unwrap();
        store.submit(&conformance::job("a", "x")).await.unwrap();
    }
    let store = Metastore::open(&url).await.unwrap();
    assert!(store.job(&conformance::id("a")).await.unwrap().is_some());
}
