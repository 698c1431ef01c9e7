//! Agents' SIP phones (RFC 3261 10): an off-the-shelf softphone registers
//! as its agent with digest credentials from the agent directory; while the
//! registration lives, offers to that agent ring it.
//!
//! Invariants:
//! - only an agent of the directory with a SIP password can bind, and only
//!   with a digest response made with that password; an unknown user and a
//!   wrong password get the same 403, a missing or stale nonce a 401 with a
//!   fresh challenge (nothing is kept per challenge);
//! - one binding per agent (the latest REGISTER wins), so bindings are
//!   bounded by the directory;
//! - a binding lasts what the phone asked, within [`MIN_EXPIRES`] and
//!   [`MAX_EXPIRES`], and is removed when it lapses or the phone
//!   unregisters (Expires: 0); `PhoneRegistered` is emitted for a new or
//!   moved binding, `PhoneUnregistered` once when it goes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::{Timer, TrunkCore, TrunkEvent};
use crate::message::{Request, ResponseParts};
use hotline_time::Monotonic;

/// Registrations shorter than this are lengthened to it.
pub const MIN_EXPIRES: u32 = 10;
/// Longer ones are shortened to it (and asked without Expires: this).
pub const MAX_EXPIRES: u32 = 3600;

/// A phone's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Where to send the INVITE (the phone's Contact URI).
    pub contact: String,
    /// Where its REGISTER came from: our requests go there (the phone may
    /// be behind NAT and its Contact unreachable as written).
    pub source: SocketAddr,
    pub expires_at: Monotonic,
}

/// The directory's SIP accounts and their bindings.
#[derive(Clone, Debug, Default)]
pub struct Registrar {
    /// Agent id -> SIP password.
    accounts: HashMap<String, String>,
    bindings: HashMap<String, Binding>,
}

impl Registrar {
    pub fn new(accounts: HashMap<String, String>) -> Self {
        Registrar {
            accounts,
            bindings: HashMap::new(),
        }
    }

    /// Takes the accounts as they are now (an admin added, changed or
    /// removed a phone): a phone whose account is gone loses its binding
    /// at once; others keep theirs until they expire or register again.
    pub fn set_accounts(&mut self, accounts: HashMap<String, String>) {
        self.bindings.retain(|user, _| accounts.contains_key(user));
        self.accounts = accounts;
    }

    pub fn binding(&self, user: &str) -> Option<&Binding> {
        self.bindings.get(user)
    }

    /// Whether a registered phone sends from `ip` (its traffic is let
    /// through the trunks' allow-list).
    pub fn knows_source(&self, ip: IpAddr) -> bool {
        self.bindings.values().any(|b| b.source.ip() == ip)
    }
}

impl TrunkCore {
    /// The phone an agent registered, if its registration lives.
    pub fn phone_of(&self, user: &str) -> Option<&Binding> {
        self.registrar.as_ref()?.binding(user)
    }

    pub(super) fn handle_register(&mut self, now: Monotonic, from: SocketAddr, req: Request) {
        // Only called with a registrar (REGISTER is 405 without one).
        let Some(registrar) = self.registrar.as_ref() else {
            return;
        };
        let user = req.to_uri_user.clone();
        // An unknown user is checked against a password nobody has, so it
        // is refused exactly like a wrong password.
        let password = registrar.accounts.get(&user).cloned();
        let checked = self.challenger.verify(
            now,
            "REGISTER",
            req.authorization.as_deref(),
            &user,
            password.as_deref().unwrap_or("\u{0}no account"),
        );
        match checked {
            Ok(()) if password.is_some() => {}
            Err(crate::digest::DigestError::Missing | crate::digest::DigestError::Stale) => {
                let challenge = self.challenger.challenge(now);
                self.stats.unauthenticated += 1;
                self.reply(
                    from,
                    &req,
                    401,
                    ResponseParts {
                        www_authenticate: Some(&challenge),
                        ..Default::default()
                    },
                );
                return;
            }
            _ => {
                self.stats.unauthenticated += 1;
                self.reply(from, &req, 403, ResponseParts::default());
                return;
            }
        }
        let asked = req.expires.unwrap_or(MAX_EXPIRES);
        if asked == 0 {
            self.reply(from, &req, 200, ResponseParts::default());
            self.unbind(&user);
            return;
        }
        let expires = asked.clamp(MIN_EXPIRES, MAX_EXPIRES);
        let contact = req
            .contact
            .clone()
            .unwrap_or_else(|| format!("sip:{user}@{from}"));
        let binding = Binding {
            contact: contact.clone(),
            source: from,
            expires_at: now.plus(std::time::Duration::from_secs(u64::from(expires))),
        };
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        let old = registrar.bindings.insert(user.clone(), binding.clone());
        self.timers
            .arm(binding.expires_at, Timer::Registration(user.clone()));
        self.reply(
            from,
            &req,
            200,
            ResponseParts {
                contact: Some(&contact),
                expires: Some(expires),
                ..Default::default()
            },
        );
        let moved = old.is_none_or(|o| o.contact != binding.contact || o.source != binding.source);
        if moved {
            self.events.push_back(TrunkEvent::PhoneRegistered {
                user,
                contact,
                source: from,
            });
        }
    }

    fn unbind(&mut self, user: &str) {
        let removed = self.registrar.as_mut().and_then(|r| r.bindings.remove(user));
        if removed.is_some() {
            self.events.push_back(TrunkEvent::PhoneUnregistered {
                user: user.to_string(),
            });
        }
    }

    /// A registration's expiry came: gone unless it was refreshed.
    pub(super) fn registration_due(&mut self, now: Monotonic, user: &str) {
        let lapsed = self
            .registrar
            .as_ref()
            .and_then(|r| r.binding(user))
            .is_some_and(|b| b.expires_at <= now);
        if lapsed {
            self.unbind(user);
        }
    }
}
