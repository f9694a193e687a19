//! Raw Proxmox API types, as the servers send them (field names mirror the JSON; `type` is
//! `kind`). Decoding is lenient: see `super::de`. Mapping to the Pulse state model happens
//! elsewhere; these types do no interpretation beyond parsing.
//!
//! The plain field lists were bulk-written from the endpoint field tables of the spec and the
//! fixtures; maintain them by hand. Types with custom decoding are at the bottom of each module.

pub mod pbs;
pub mod pmg;
pub mod pve;

use serde::{Deserialize, Deserializer};

/// Backup verification state: PVE/PBS send `{"state":"ok","upid":"..."}`, some PBS versions
/// a bare string (`"ok"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verification {
    pub state: String,
    pub upid: String,
}

impl<'de> Deserialize<'de> for Verification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Obj {
            #[serde(deserialize_with = "super::de::string")]
            state: String,
            #[serde(deserialize_with = "super::de::string")]
            upid: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Obj(Obj),
        }
        Ok(match Option::<Form>::deserialize(d)? {
            None => Verification::default(),
            Some(Form::Text(state)) => Verification {
                state,
                upid: String::new(),
            },
            Some(Form::Obj(o)) => Verification {
                state: o.state,
                upid: o.upid,
            },
        })
    }
}
