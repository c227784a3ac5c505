//! Grants missing from the cache are read in groups: one task collects the misses waiting at
//! that moment and reads them in one statement, so a million-token load costs a few database
//! round trips per group instead of one per request.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::ids::{ConsumerKey, TokenId};
use crate::store::{LoginRecord, Store, StoreError};

/// Misses read per statement at most.
const GROUP: usize = 256;
/// Statements in flight at once (the store's readers serve them side by side).
const IN_FLIGHT: usize = 2;

type Reply = oneshot::Sender<Result<Option<LoginRecord>, Arc<StoreError>>>;

#[derive(Debug)]
pub(crate) struct LoaderHandle {
    jobs: mpsc::Sender<(ConsumerKey, TokenId, Reply)>,
}

impl LoaderHandle {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (jobs, queue) = mpsc::channel(super::writer::QUEUE);
        tokio::spawn(run(store, queue));
        Self { jobs }
    }

    /// The record of one pair, read with whatever other misses are waiting.
    pub async fn load(
        &self,
        consumer_key: ConsumerKey,
        token_id: TokenId,
    ) -> Result<Option<LoginRecord>, super::VerifierError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((consumer_key, token_id, reply))
            .await
            .map_err(|_| super::VerifierError::Closed)?;
        answer
            .await
            .map_err(|_| super::VerifierError::Closed)?
            .map_err(super::VerifierError::Lookup)
    }
}

async fn run(store: Arc<dyn Store>, mut queue: mpsc::Receiver<(ConsumerKey, TokenId, Reply)>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = Vec::with_capacity(GROUP);
        if queue.recv_many(&mut jobs, GROUP).await == 0 {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            let pairs: Vec<(ConsumerKey, TokenId)> = jobs
                .iter()
                .map(|(ck, tid, _)| (ck.clone(), tid.clone()))
                .collect();
            match store.login_records(&pairs).await {
                Ok(records) => {
                    for ((_, _, reply), record) in jobs.into_iter().zip(records) {
                        let _ = reply.send(Ok(record));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %crate::Chain(&e), pairs = pairs.len(), "could not read grants");
                    let e = Arc::new(e);
                    for (_, _, reply) in jobs {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            drop(slot);
        });
    }
}
