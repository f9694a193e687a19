//! Typed calls to the Proxmox Mail Gateway API (spec §7).

use super::Product;
use super::client::{ApiClient, CallOptions, seg};
use super::error::ProxmoxError;
use super::types::pmg::*;
use serde::de::DeserializeOwned;

/// Client for one PMG endpoint.
#[derive(Debug)]
pub struct PmgClient {
    api: ApiClient,
}

impl PmgClient {
    pub fn new(api: ApiClient) -> Result<Self, ProxmoxError> {
        Ok(PmgClient {
            api: api.expect_product(Product::Pmg)?,
        })
    }

    /// Builds the client and logs in: see [`ApiClient::connect`].
    pub fn connect(opts: super::ClientOptions) -> Result<Self, ProxmoxError> {
        Ok(PmgClient {
            api: ApiClient::connect(opts, Product::Pmg)?,
        })
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ProxmoxError> {
        self.api.get_list(path, query, CallOptions::default())
    }

    fn one<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ProxmoxError> {
        self.api.get(path, query)
    }

    /// `GET /version`
    pub fn version(&self) -> Result<PmgVersion, ProxmoxError> {
        self.one("/version", &[])
    }

    /// `GET /config/cluster/status?list_single_node=1`
    pub fn cluster_status(&self) -> Result<Vec<PmgClusterNode>, ProxmoxError> {
        self.list("/config/cluster/status", &[("list_single_node", "1")])
    }

    /// `GET /nodes/{node}/postfix/queue`
    pub fn postfix_queue(&self, node: &str) -> Result<PostfixQueue, ProxmoxError> {
        let path = format!("/nodes/{}/postfix/queue", seg(node));
        Ok(self
            .one::<Option<PostfixQueue>>(&path, &[])?
            .unwrap_or(PostfixQueue::List(Vec::new())))
    }

    /// `GET /nodes/{node}/postfix/qshape[?queue=..]` (per-domain age buckets; row `TOTAL`)
    pub fn postfix_qshape(
        &self,
        node: &str,
        queue: Option<&str>,
    ) -> Result<Vec<QshapeRow>, ProxmoxError> {
        let q: Vec<(&str, &str)> = queue.map(|q| vec![("queue", q)]).unwrap_or_default();
        self.list(&format!("/nodes/{}/postfix/qshape", seg(node)), &q)
    }

    /// `GET /nodes/{node}/backup`
    pub fn backups(&self, node: &str) -> Result<Vec<PmgBackup>, ProxmoxError> {
        self.list(&format!("/nodes/{}/backup", seg(node)), &[])
    }

    /// `GET /statistics/mail` (today so far)
    pub fn mail_stats(&self) -> Result<MailStats, ProxmoxError> {
        Ok(self
            .one::<Option<MailStats>>("/statistics/mail", &[])?
            .unwrap_or_default())
    }

    /// `GET /statistics/mailcount?timespan=..` (bucket length in seconds, e.g. 3600)
    pub fn mail_count(&self, timespan_secs: u32) -> Result<Vec<MailCountPoint>, ProxmoxError> {
        let ts = timespan_secs.to_string();
        self.list("/statistics/mailcount", &[("timespan", &ts)])
    }

    /// `GET /statistics/spamscores`
    pub fn spam_scores(&self) -> Result<Vec<SpamScore>, ProxmoxError> {
        self.list("/statistics/spamscores", &[])
    }

    /// `GET /quarantine/spamstatus`
    pub fn spam_quarantine(&self) -> Result<QuarantineStatus, ProxmoxError> {
        Ok(self
            .one::<Option<QuarantineStatus>>("/quarantine/spamstatus", &[])?
            .unwrap_or_default())
    }

    /// `GET /quarantine/virusstatus`
    pub fn virus_quarantine(&self) -> Result<QuarantineStatus, ProxmoxError> {
        Ok(self
            .one::<Option<QuarantineStatus>>("/quarantine/virusstatus", &[])?
            .unwrap_or_default())
    }
}
