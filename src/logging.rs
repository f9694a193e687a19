//! `tracing` setup: level and format from settings, to stderr (stdout stays free for
//! commands that print documents, like `pulse simulate`). The level can change at run time
//! when the persisted `logLevel` is updated.

use crate::settings::{LogFormat, LogLevel};
use std::io::IsTerminal;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

#[derive(Clone)]
pub struct LogHandle(reload::Handle<LevelFilter, Registry>);

impl LogHandle {
    pub fn set_level(&self, level: LogLevel) {
        let _ = self.0.modify(|f| *f = to_filter(level));
    }
}

fn to_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    }
}

/// Installs the global subscriber. Call once, early.
pub fn init(level: LogLevel, format: LogFormat) -> LogHandle {
    let (filter, handle) = reload::Layer::new(to_filter(level));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Console => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr);
        let _ = registry.with(layer).try_init();
    } else {
        let layer = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(std::io::stderr);
        let _ = registry.with(layer).try_init();
    }
    LogHandle(handle)
}
