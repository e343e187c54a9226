//! The driver a mixed fleet holds: one enum over every vendor driver, itself a [`Driver`], so
//! the engine is written once against the trait and a new vendor adds a variant here.
//!
//! Owns: picking the driver for an appliance's transport, and timing each call for the
//! observer of [`super::observe`]. Must not add behaviour of its own.

use super::observe::timed;
use super::secret::Env;
use super::vyos::{Timeouts, VyosDriver};
use super::{
    ApplyOptions, ApplyOutcome, ConfirmOutcome, DeviceInfo, Driver, DriverError, OpOutput,
    ProbeReport, Result, Snapshot,
};
use crate::model::{Appliance, Transport};
use crate::vyos::{Command, ConfigTree};

/// Any appliance driver.
pub enum AnyDriver {
    Vyos(Box<VyosDriver>),
}

impl AnyDriver {
    /// The driver for an appliance's transport, credentials resolved now.
    pub fn new(appliance: &Appliance, env: &dyn Env, timeouts: Timeouts) -> Result<AnyDriver> {
        match appliance.endpoint.transport {
            Transport::Ssh | Transport::VyosHttp => Ok(AnyDriver::Vyos(Box::new(VyosDriver::new(
                appliance, env, timeouts,
            )?))),
            Transport::Rest => Err(DriverError::Unsupported {
                appliance: appliance.name.to_string(),
                what: "transport rest".into(),
                why: "no REST driver is built in yet".into(),
            }),
        }
    }
}

impl Driver for AnyDriver {
    async fn fetch(&mut self) -> Result<ConfigTree> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "fetch", d.fetch()).await,
        }
    }
    async fn info(&mut self) -> Result<DeviceInfo> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "info", d.info()).await,
        }
    }
    async fn apply(&mut self, plan: &[Command], options: &ApplyOptions) -> Result<ApplyOutcome> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "apply", d.apply(plan, options)).await,
        }
    }
    async fn confirm(&mut self) -> Result<ConfirmOutcome> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "confirm", d.confirm()).await,
        }
    }
    fn confirm_pending(&self) -> Option<tokio::time::Instant> {
        match self {
            AnyDriver::Vyos(d) => d.confirm_pending(),
        }
    }
    async fn save(&mut self) -> Result<()> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "save", d.save()).await,
        }
    }
    async fn snapshot(&mut self, id: &str) -> Result<Snapshot> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "snapshot", d.snapshot(id)).await,
        }
    }
    async fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "restore", d.restore(snapshot)).await,
        }
    }
    async fn probe(&mut self) -> Result<ProbeReport> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "probe", d.probe()).await,
        }
    }
    async fn op(&mut self, words: &[String]) -> Result<OpOutput> {
        match self {
            AnyDriver::Vyos(d) => timed("vyos", "op", d.op(words)).await,
        }
    }
}
