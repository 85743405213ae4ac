//! latchkey-server
