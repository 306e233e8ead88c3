//! The stanzas around the payloads: what Prosody forwards to a component, with garbage in it.

use super::*;

const COMPONENT_NS: &str = "jabber:component:accept";

/// An iq, message or presence from anyone, with module elements or snapshots inside.
fn stanza_element() -> impl Strategy<Value = Element> {
    let kind = prop::sample::select(vec!["iq", "message", "presence"]);
    let type_ = prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            "get",
            "set",
            "result",
            "error",
            "chat",
            "groupchat",
            "normal",
            "headline",
            "unavailable",
            "bogus",
        ]),
    );
    let jid = prop_oneof![
        4 => prop::sample::select(vec![
            "conference.meet.jitsi",
            "mathe-5a@conference.meet.jitsi",
            "anna@meet.jitsi/a1",
            "raumwart.meet.jitsi",
        ])
        .prop_map(String::from),
        1 => odd_text(),
    ];
    let payload = prop_oneof![
        3 => module_element(),
        2 => snapshot_element(),
        1 => Just(protocol::grant_owner("anna@meet.jitsi")),
        1 => Just(protocol::destroy(Some("bye"))),
        1 => Just(
            Element::builder("error", COMPONENT_NS)
                .attr(NcName::try_from("type").unwrap(), "cancel")
                .append(Element::bare("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"))
                .build()
        ),
    ];
    (
        kind,
        type_,
        prop::option::weighted(0.9, jid.clone()),
        prop::option::weighted(0.9, jid),
        prop::option::weighted(0.9, value()),
        prop::collection::vec(payload, 0..3),
    )
        .prop_map(|(kind, type_, from, to, id, payloads)| {
            let mut b = Element::builder(kind, COMPONENT_NS);
            for (n, v) in [
                ("type", type_.map(String::from)),
                ("from", from),
                ("to", to),
                ("id", id),
            ] {
                if let Some(v) = v {
                    b = b.attr(NcName::try_from(n).unwrap(), v);
                }
            }
            b.append_all(payloads).build()
        })
}

proptest! {
    #![proptest_config(config(500))]

    /// What the session does with a stanza: an IQ result's payload is read as a
    /// snapshot, a message's payloads as events; addresses are parsed as JIDs.
    #[test]
    fn stanzas_and_their_payloads_never_panic(el in stanza_element()) {
        for attr in ["from", "to"] {
            if let Some(text) = el.attr(attr) {
                let _ = Jid::from_str(text);
            }
        }
        match Stanza::try_from(el.clone()) {
            Ok(Stanza::Iq(Iq::Result { payload: Some(payload), .. })) => wire(&payload)?,
            Ok(Stanza::Message(msg)) => {
                for payload in &msg.payloads {
                    wire(payload)?;
                }
            }
            Ok(_) | Err(_) => {}
        }
        if let Ok(Iq::Result { payload: Some(payload), .. }) = Iq::try_from(el) {
            wire(&payload)?;
        }
    }
}
