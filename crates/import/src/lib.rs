//! Latchkey's importers: other systems' exports read as a stream and written through
//! `latchkey-core`'s storage traits, with no SQL of their own.
//!
//! - [`openedx`]: an Open edX LMS's Django `dumpdata` export (users with their ids, Django
//!   password hashes and anonymous ids, OAuth2 applications, live tokens);
//! - [`dumpdata`]: Django's `dumpdata` JSON, one row at a time;
//! - [`summary`]: what an import did, for the operator.

mod datetime;
mod digest;
pub mod dumpdata;
pub mod openedx;
pub mod summary;

pub use openedx::{ImportError, OpenEdxImport, Progress, Settings, SOURCE};
pub use summary::{Summary, Tally};
