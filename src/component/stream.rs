//! The component's XML stream to Prosody (XEP-0114): connect, handshake, read, write.
//!
//! tokio-xmpp's `Component` reports a stanza it cannot parse the same way as a closed
//! stream, so a guest who sends two odd stanzas in a row would cut raumwart off. This
//! link reads the stream itself and tells the three apart: a stanza, a stanza that is
//! well-formed XML but not valid for the parser (skipped, with its header kept so an
//! IQ can still be answered), and the end of the stream.

use std::io;
use std::str::FromStr;

use futures::{SinkExt, StreamExt};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::error::AuthError;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::component::Handshake;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stream_error::DefinedCondition;
use tokio_xmpp::xmlstream::{
    initiate_stream, FallibleStreamElement, ReadError, StreamElementError, StreamHeader, Timeouts,
    XmppStream, XmppStreamElement,
};
use tokio_xmpp::Stanza;

use crate::config::Xmpp;

/// A stanza the parser refused: what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// "iq", "message" or "presence".
    pub name: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub type_: Option<String>,
    pub id: Option<String>,
    pub error: String,
}

#[derive(Debug)]
pub enum Received {
    Stanza(Box<Stanza>),
    Invalid(Invalid),
    /// The stream is over; the text says why.
    Closed(String),
}

/// What a refused standby's connect error says.
pub const NAME_IN_USE: &str = "another connection holds the component name";

/// True when Prosody refused the connection because another one holds the name.
pub fn name_in_use(e: &tokio_xmpp::Error) -> bool {
    matches!(e, tokio_xmpp::Error::Io(io) if io.kind() == io::ErrorKind::AddrInUse)
}

pub struct Link {
    stream: XmppStream<BufStream<TcpStream>>,
}

/// Connects to Prosody's component port (Nagle off: events and requests are small and
/// latency matters more than packet count) and authenticates.
pub async fn connect(config: &Xmpp) -> Result<Link, tokio_xmpp::Error> {
    let jid = BareJid::from_str(&config.component)?;
    let tcp = TcpStream::connect(&config.server).await?;
    tcp.set_nodelay(true)?;
    let header = StreamHeader {
        to: Some(jid.domain().as_str().to_owned().into()),
        from: None,
        id: None,
    };
    let timeouts = Timeouts::tight();
    let mut pending = initiate_stream(BufStream::new(tcp), ns::COMPONENT, header, timeouts).await?;
    let Some(stream_id) = pending.take_header().id else {
        let e = io::Error::new(io::ErrorKind::InvalidData, "no stream id from Prosody");
        return Err(e.into());
    };
    let mut stream: XmppStream<_> = pending.skip_features();
    let handshake =
        Handshake::from_stream_id_and_password(stream_id.into_owned(), config.secret.expose());
    stream
        .send(&XmppStreamElement::ComponentHandshake(handshake))
        .await?;
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::ComponentHandshake(_)))) => {
                return Ok(Link { stream })
            }
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::HardError(e))) => return Err(e.into()),
            // Another connection holds the name (Prosody's default kick_new): a standby.
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e))))
                if e.0.condition == DefinedCondition::Conflict =>
            {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, NAME_IN_USE).into())
            }
            // Prosody answers a wrong secret, an unknown name or a duplicate with a
            // stream error; its reason is only in Prosody's log.
            Some(_) => return Err(AuthError::ComponentFail.into()),
            None => return Err(tokio_xmpp::Error::Disconnected),
        }
    }
}

impl Link {
    /// The next thing Prosody sends. Idle soft timeouts are swallowed: liveness is the
    /// ping's business.
    pub async fn next(&mut self) -> Received {
        loop {
            let item = match self.stream.next().await {
                None => return Received::Closed("Prosody closed the connection".into()),
                Some(item) => item,
            };
            match item {
                Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(s))) => {
                    return Received::Stanza(Box::new(s))
                }
                Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e))) => {
                    return Received::Closed(format!("stream error from Prosody: {e:?}"))
                }
                // Nonzas have no business on an established component stream.
                Ok(FallibleStreamElement::Ok(_)) => {}
                Ok(FallibleStreamElement::Err(e)) => return Received::Invalid(invalid(e)),
                Err(ReadError::SoftTimeout | ReadError::ParseError(_)) => {}
                Err(ReadError::HardError(e)) => {
                    return Received::Closed(format!("connection to Prosody failed: {e}"))
                }
                Err(ReadError::StreamFooterReceived) => {
                    return Received::Closed("Prosody closed the stream".into())
                }
            }
        }
    }

    pub async fn send(&mut self, stanza: Stanza) -> Result<(), String> {
        self.stream
            .send(&XmppStreamElement::Stanza(stanza))
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    pub async fn close(&mut self) {
        let _ = SinkExt::<&XmppStreamElement>::close(&mut self.stream).await;
    }
}

fn invalid(e: StreamElementError) -> Invalid {
    match e {
        StreamElementError::InvalidStanza {
            name,
            header,
            error,
            ..
        } => Invalid {
            name: match format!("{name:?}").as_str() {
                "Iq" => "iq",
                "Message" => "message",
                _ => "presence",
            },
            from: header.from,
            to: header.to,
            type_: header.type_,
            id: header.id,
            error: error.to_string(),
        },
        other => Invalid {
            name: "nonza",
            from: None,
            to: None,
            type_: None,
            id: None,
            error: other.to_string(),
        },
    }
}
