//! Talking to Prosody: the XEP-0114 stream, one session over it, and the wire protocol
//! of the Prosody module. The only code that speaks XMPP.

pub mod protocol;
pub(crate) mod session;
pub mod stream;
