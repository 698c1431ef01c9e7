//! SIP messages as the trunk core sees them: parsed by `rsip`, reduced to
//! the fields a user-agent server acts on, and responses and requests
//! written back from those fields.
//!
//! Invariants: parsing never panics and never trusts sizes: a datagram over
//! [`MAX_MESSAGE_LEN`], a missing mandatory header (Via, From, To, Call-ID,
//! CSeq) or a CSeq whose method differs from the request line is a typed
//! error; a response copies the request's Via, From, To, Call-ID and CSeq
//! values verbatim (RFC 3261 8.2.6.2), adding our To tag; a message that
//! cannot be parsed at all still gets a 400 when its header lines can be
//! found ([`bad_request`]).

use std::net::SocketAddr;

use crate::transport::Transport;
use rsip::prelude::{HeadersExt, ToTypedHeader, UntypedHeader};

/// Larger datagrams are dropped unread (an INVITE with SDP is ~1 KB; UDP
/// SIP must stay under the path MTU anyway).
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SipError {
    #[error("message larger than {MAX_MESSAGE_LEN} bytes")]
    TooLarge,
    #[error("unparseable SIP: {0}")]
    Unparseable(String),
    #[error("missing or bad {0} header")]
    BadHeader(&'static str),
}

/// The methods the trunk core distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Register,
    Other,
}

impl Method {
    fn from_rsip(m: &rsip::Method) -> Method {
        match m {
            rsip::Method::Invite => Method::Invite,
            rsip::Method::Ack => Method::Ack,
            rsip::Method::Bye => Method::Bye,
            rsip::Method::Cancel => Method::Cancel,
            rsip::Method::Options => Method::Options,
            rsip::Method::Info => Method::Info,
            rsip::Method::Register => Method::Register,
            _ => Method::Other,
        }
    }
}

/// A request, reduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The user part of the Request-URI: the dialled number.
    pub to_user: String,
    /// The user part of the From URI: the caller's number.
    pub from_user: String,
    pub call_id: String,
    /// The top Via's branch: the transaction.
    pub branch: String,
    pub cseq: u32,
    /// Header values, copied into responses.
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub cseq_value: String,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// Where in-dialog requests go (the Contact URI).
    pub contact: Option<String>,
    /// Record-Route values, in order (our route set back to the far end).
    pub record_route: Vec<String>,
    pub content_type: Option<String>,
    /// The Authorization value (digest credentials), if any.
    pub authorization: Option<String>,
    /// The user part of the To URI: the address-of-record a REGISTER binds.
    pub to_uri_user: String,
    /// How long a registration should last: the Contact's `expires`
    /// parameter, else the Expires header.
    pub expires: Option<u32>,
    pub body: Vec<u8>,
}

/// A response to one of our requests, reduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub call_id: String,
    pub branch: String,
    pub cseq: u32,
    pub method: Method,
    /// The To value as the far end sent it (with its tag, once it has one).
    pub to: String,
    pub to_tag: Option<String>,
    /// Where in-dialog requests go (the far end's Contact URI).
    pub contact: Option<String>,
    /// Record-Route values, in order (a user-agent client uses them
    /// reversed as its route set).
    pub record_route: Vec<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Box<Request>),
    Response(Response),
}

/// Parses one datagram (or one framed TCP message).
pub fn parse(bytes: &[u8]) -> Result<Message, SipError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(SipError::TooLarge);
    }
    let msg =
        rsip::SipMessage::try_from(bytes).map_err(|e| SipError::Unparseable(truncate(&e.to_string())))?;
    match msg {
        rsip::SipMessage::Request(r) => request(r).map(|r| Message::Request(Box::new(r))),
        rsip::SipMessage::Response(r) => response(r).map(Message::Response),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

fn request(r: rsip::Request) -> Result<Request, SipError> {
    let via = r.via_header().map_err(|_| SipError::BadHeader("Via"))?;
    let branch = via
        .typed()
        .ok()
        .and_then(|v| v.branch().map(|b| b.to_string()))
        .ok_or(SipError::BadHeader("Via"))?;
    let from = r.from_header().map_err(|_| SipError::BadHeader("From"))?;
    let to = r.to_header().map_err(|_| SipError::BadHeader("To"))?;
    let call_id = r.call_id_header().map_err(|_| SipError::BadHeader("Call-ID"))?;
    let cseq = r.cseq_header().map_err(|_| SipError::BadHeader("CSeq"))?;
    let typed_cseq = cseq.typed().map_err(|_| SipError::BadHeader("CSeq"))?;
    let method = Method::from_rsip(&r.method);
    if Method::from_rsip(&typed_cseq.method) != method {
        return Err(SipError::BadHeader("CSeq"));
    }
    let from_typed = from.typed().map_err(|_| SipError::BadHeader("From"))?;
    let to_typed = to.typed().map_err(|_| SipError::BadHeader("To"))?;
    let vias = r
        .headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::Via(v) => Some(v.value().to_string()),
            _ => None,
        })
        .collect();
    let record_route = record_routes(&r.headers);
    let contact = contact_uri(&r);
    let content_type = content_type(&r.headers);
    let authorization = r.headers.iter().find_map(|h| match h {
        rsip::Header::Authorization(v) => Some(v.value().to_string()),
        _ => None,
    });
    let contact_expires = r
        .contact_header()
        .ok()
        .and_then(|c| c.typed().ok())
        .and_then(|c| c.expires().and_then(|e| e.seconds().ok()));
    let header_expires = r.headers.iter().find_map(|h| match h {
        rsip::Header::Expires(v) => v.value().trim().parse::<u32>().ok(),
        _ => None,
    });
    Ok(Request {
        authorization,
        to_uri_user: to_typed.uri.user().unwrap_or_default().to_string(),
        expires: contact_expires.or(header_expires),
        method,
        to_user: r.uri.user().unwrap_or_default().to_string(),
        from_user: from_typed.uri.user().unwrap_or_default().to_string(),
        call_id: call_id.value().to_string(),
        branch,
        cseq: typed_cseq.seq,
        vias,
        from: from.value().to_string(),
        to: to.value().to_string(),
        cseq_value: cseq.value().to_string(),
        from_tag: from_typed.tag().map(|t| t.to_string()),
        to_tag: to_typed.tag().map(|t| t.to_string()),
        contact,
        record_route,
        content_type,
        body: r.body,
    })
}

fn response(r: rsip::Response) -> Result<Response, SipError> {
    let branch = r
        .via_header()
        .ok()
        .and_then(|v| v.typed().ok())
        .and_then(|v| v.branch().map(|b| b.to_string()))
        .ok_or(SipError::BadHeader("Via"))?;
    let call_id = r.call_id_header().map_err(|_| SipError::BadHeader("Call-ID"))?;
    let cseq = r
        .cseq_header()
        .ok()
        .and_then(|c| c.typed().ok())
        .ok_or(SipError::BadHeader("CSeq"))?;
    let to = r.to_header().map_err(|_| SipError::BadHeader("To"))?;
    let to_tag = to
        .typed()
        .map_err(|_| SipError::BadHeader("To"))?
        .tag()
        .map(|t| t.to_string());
    let contact = contact_uri(&r);
    let record_route = record_routes(&r.headers);
    let content_type = content_type(&r.headers);
    Ok(Response {
        code: r.status_code.code(),
        call_id: call_id.value().to_string(),
        branch,
        cseq: cseq.seq,
        method: Method::from_rsip(&cseq.method),
        to: to.value().to_string(),
        to_tag,
        contact,
        record_route,
        content_type,
        body: r.body,
    })
}

/// Record-Route values, in order.
fn record_routes(headers: &rsip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| match h {
            rsip::Header::RecordRoute(v) => Some(v.value().to_string()),
            _ => None,
        })
        .collect()
}

/// The Content-Type, lower case.
fn content_type(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        rsip::Header::ContentType(v) => Some(v.value().to_ascii_lowercase()),
        _ => None,
    })
}

/// The Contact URI of a request or response.
fn contact_uri(m: &impl HeadersExt) -> Option<String> {
    m.contact_header()
        .ok()
        .and_then(|c| c.typed().ok())
        .map(|c| c.uri.to_string())
}

/// The key a SIP INFO carries (`application/dtmf-relay` "Signal=5" or
/// `application/dtmf` "5"), the keypad fallback for trunks without RFC 4733.
pub fn info_key(req: &Request) -> Option<char> {
    let kind = req.content_type.as_deref()?;
    let body = std::str::from_utf8(&req.body).ok()?;
    let value = if kind.starts_with("application/dtmf-relay") {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?
    } else if kind.starts_with("application/dtmf") {
        body.trim()
    } else {
        return None;
    };
    let mut chars = value.chars();
    let key = chars.next()?.to_ascii_uppercase();
    let valid = key.is_ascii_digit() || matches!(key, '*' | '#' | 'A'..='D');
    (valid && chars.next().is_none()).then_some(key)
}

/// The reason phrase for the codes we send.
fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        404 => "Not Found",
        405 => "Method Not Allowed",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The methods we answer, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER";

/// Extra parts of a response.
#[derive(Clone, Debug, Default)]
pub struct ResponseParts<'a> {
    /// Our To tag (dialog-creating responses and final responses to INVITE).
    pub to_tag: Option<&'a str>,
    /// Our Contact URI (responses to INVITE).
    pub contact: Option<&'a str>,
    /// An SDP body.
    pub sdp: Option<&'a str>,
    /// Add `Allow` (OPTIONS, 405).
    pub allow: bool,
    /// A digest challenge (401).
    pub www_authenticate: Option<&'a str>,
    /// A registration's lifetime in seconds (200 to REGISTER), on the
    /// Contact and as Expires.
    pub expires: Option<u32>,
}

/// Writes a response to `req`.
pub fn write_response(req: &Request, code: u16, parts: &ResponseParts<'_>) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {code} {}\r\n", reason(code));
    for via in &req.vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    // Record-Route is echoed on dialog-creating responses (RFC 3261 12.1.1).
    if req.method == Method::Invite && (100..300).contains(&code) && code != 100 {
        for rr in &req.record_route {
            out.push_str(&format!("Record-Route: {rr}\r\n"));
        }
    }
    out.push_str(&format!("From: {}\r\n", req.from));
    match (&req.to_tag, parts.to_tag) {
        (None, Some(tag)) if code != 100 => out.push_str(&format!("To: {};tag={tag}\r\n", req.to)),
        _ => out.push_str(&format!("To: {}\r\n", req.to)),
    }
    out.push_str(&format!("Call-ID: {}\r\n", req.call_id));
    out.push_str(&format!("CSeq: {}\r\n", req.cseq_value));
    match (parts.contact, parts.expires) {
        (Some(contact), Some(secs)) => out.push_str(&format!(
            "Contact: <{contact}>;expires={secs}\r\nExpires: {secs}\r\n"
        )),
        (Some(contact), None) => out.push_str(&format!("Contact: <{contact}>\r\n")),
        _ => {}
    }
    if let Some(challenge) = parts.www_authenticate {
        out.push_str(&format!("WWW-Authenticate: {challenge}\r\n"));
    }
    if parts.allow {
        out.push_str(&format!("Allow: {ALLOW}\r\nAccept: application/sdp\r\n"));
    }
    out.push_str("Server: hotline\r\n");
    let body = parts.sdp.unwrap_or("");
    if !body.is_empty() {
        out.push_str("Content-Type: application/sdp\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// What an in-dialog request we send needs.
#[derive(Clone, Debug)]
pub struct DialogRequest<'a> {
    pub method: &'static str,
    /// The far end's Contact URI.
    pub target: &'a str,
    pub local: SocketAddr,
    /// What the Via names (the transport the request goes on).
    pub transport: Transport,
    pub branch: &'a str,
    /// Our side of the dialog: the INVITE's To value and our tag.
    pub from: &'a str,
    pub from_tag: &'a str,
    /// Their side: the INVITE's From value (with their tag).
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// Route set: the INVITE's Record-Route values (used in order by a UAS,
    /// reversed by a UAC).
    pub route: &'a [String],
    /// Our Contact URI (an INVITE of ours).
    pub contact: Option<&'a str>,
    /// An SDP body (an INVITE of ours).
    pub sdp: Option<&'a str>,
}

/// Writes a request of ours: an INVITE, or one in (or about) a dialog
/// (ACK, BYE, CANCEL).
pub fn write_request(r: &DialogRequest<'_>) -> Vec<u8> {
    let mut out = format!("{} {} SIP/2.0\r\n", r.method, r.target);
    out.push_str(&format!(
        "Via: SIP/2.0/{} {};branch={};rport\r\n",
        r.transport.via(),
        r.local,
        r.branch
    ));
    for route in r.route {
        out.push_str(&format!("Route: {route}\r\n"));
    }
    out.push_str("Max-Forwards: 70\r\n");
    out.push_str(&format!("From: {};tag={}\r\n", r.from, r.from_tag));
    out.push_str(&format!("To: {}\r\n", r.to));
    out.push_str(&format!("Call-ID: {}\r\n", r.call_id));
    out.push_str(&format!("CSeq: {} {}\r\n", r.cseq, r.method));
    if let Some(contact) = r.contact {
        out.push_str(&format!("Contact: <{contact}>\r\n"));
    }
    out.push_str("User-Agent: hotline\r\n");
    let body = r.sdp.unwrap_or("");
    if !body.is_empty() {
        out.push_str("Content-Type: application/sdp\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// A 400 for a request rsip could not parse, from its header lines as
/// they are; none when they are missing or it is not a request.
pub fn bad_request(bytes: &[u8], why: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(MAX_MESSAGE_LEN))?).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    if first.starts_with("SIP/") || !first.ends_with("SIP/2.0") || first.starts_with("ACK ") {
        return None;
    }
    let mut kept = Vec::new();
    for line in lines {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"].contains(&name.as_str()) {
            kept.push(line.trim_end());
        }
    }
    let has = |n: &[&str]| {
        kept.iter().any(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| n.contains(&k.trim().to_ascii_lowercase().as_str()))
        })
    };
    if !(has(&["via", "v"]) && has(&["call-id", "i"]) && has(&["cseq"])) {
        return None;
    }
    let why: String = why
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(80)
        .collect();
    let mut out = "SIP/2.0 400 Bad Request\r\n".to_string();
    for l in kept {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Warning: 399 hotline \"{}\"\r\nServer: hotline\r\nContent-Length: 0\r\n\r\n",
        why.replace('"', "'")
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const INVITE: &str = "INVITE sip:800100@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5061;branch=z9hG4bK-1;rport\r\nMax-Forwards: 70\r\nFrom: \"Ann\" <sip:+8613800000001@192.0.2.9>;tag=abc\r\nTo: <sip:800100@192.0.2.1>\r\nCall-ID: call-1@192.0.2.9\r\nCSeq: 1 INVITE\r\nContact: <sip:ann@192.0.2.9:5061>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn an_invite_is_reduced_and_answered_with_its_headers() {
        let Message::Request(r) = parse(INVITE.as_bytes()).unwrap() else {
            panic!("a request")
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.to_user, "800100");
        assert_eq!(r.from_user, "+8613800000001");
        assert_eq!(r.branch, "z9hG4bK-1");
        assert_eq!(r.from_tag.as_deref(), Some("abc"));
        assert_eq!(r.to_tag, None);
        assert_eq!(r.contact.as_deref(), Some("sip:ann@192.0.2.9:5061"));
        let ok = String::from_utf8(write_response(
            &r,
            200,
            &ResponseParts {
                to_tag: Some("xyz"),
                contact: Some("sip:hotline@192.0.2.1:5060"),
                ..Default::default()
            },
        ))
        .unwrap();
        assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
        assert!(ok.contains("To: <sip:800100@192.0.2.1>;tag=xyz\r\n"), "{ok}");
        assert!(ok.contains("CSeq: 1 INVITE\r\n"), "{ok}");
        // Our response parses back.
        let Message::Response(back) = parse(ok.as_bytes()).unwrap() else {
            panic!("a response")
        };
        assert_eq!((back.code, back.cseq, back.method), (200, 1, Method::Invite));
    }

    #[test]
    fn broken_requests_get_a_400_when_they_can_be_answered() {
        let broken = INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE");
        assert!(parse(broken.as_bytes()).is_err());
        let reply = String::from_utf8(bad_request(broken.as_bytes(), "bad CSeq").unwrap()).unwrap();
        assert!(reply.starts_with("SIP/2.0 400 Bad Request\r\n"), "{reply}");
        assert!(reply.contains("Call-ID: call-1@192.0.2.9\r\n"));
        assert_eq!(bad_request(b"\xff\xfe garbage", "x"), None);
        assert_eq!(
            bad_request(b"SIP/2.0 200 OK\r\n\r\n", "x"),
            None,
            "responses are never answered"
        );
        let mismatched = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        assert_eq!(parse(mismatched.as_bytes()), Err(SipError::BadHeader("CSeq")));
        assert_eq!(parse(&vec![b'a'; MAX_MESSAGE_LEN + 1]), Err(SipError::TooLarge));
    }
}
