//! G.711 (PCMU / PCMA), the phone network's codec and WebRTC's mandatory
//! narrowband one. It lives with the SIP core (`hotline-sip`), whose SDP
//! negotiates it; WebRTC legs use the same codec from here.

pub use hotline_sip::codec::G711;
