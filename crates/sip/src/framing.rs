//! SIP over a stream (TCP, RFC 3261 18.3): messages are cut from the byte
//! stream by their Content-Length. Pure: bytes in, whole messages out.
//!
//! Invariants: a message is handed out only whole (head, blank line, and
//! exactly Content-Length bytes of body); CRLF keep-alives between messages
//! (RFC 5626) are skipped; a head without a usable Content-Length, or a
//! message larger than [`super::message::MAX_MESSAGE_LEN`], is an error
//! after which the connection must be closed (the stream cannot be resynced).

use super::message::MAX_MESSAGE_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("message larger than {MAX_MESSAGE_LEN} bytes")]
    TooLarge,
    #[error("no usable Content-Length")]
    NoLength,
}

/// Bytes received and not yet a whole message.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
}

impl StreamFramer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let blank = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        self.buf.drain(..blank);
        let Some(head_end) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_MESSAGE_LEN {
                return Err(FramingError::TooLarge);
            }
            return Ok(None);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| FramingError::NoLength)?;
        let length = head
            .split("\r\n")
            .skip(1)
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case("content-length") || name == "l")
                    .then(|| value.trim().parse::<usize>())
            })
            .ok_or(FramingError::NoLength)?
            .map_err(|_| FramingError::NoLength)?;
        let total = head_end + 4 + length;
        if total > MAX_MESSAGE_LEN {
            return Err(FramingError::TooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.drain(..total).collect()))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_by_content_length_whatever_the_reads() {
        let a = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let b = "INFO sip:x SIP/2.0\r\nl: 5\r\n\r\nhello";
        let stream = format!("\r\n\r\n{a}{b}\r\n");
        // Fed a byte at a time, the same two messages come out.
        let mut f = StreamFramer::default();
        let mut out = Vec::new();
        for byte in stream.as_bytes() {
            f.push(&[*byte]);
            while let Some(m) = f.next_message().unwrap() {
                out.push(String::from_utf8(m).unwrap());
            }
        }
        assert_eq!(out, [a, b]);
    }

    #[test]
    fn a_stream_that_cannot_be_framed_is_an_error() {
        let mut f = StreamFramer::default();
        f.push(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::NoLength));
        let mut f = StreamFramer::default();
        f.push(
            format!(
                "INVITE sip:x SIP/2.0\r\nContent-Length: {}\r\n\r\n",
                MAX_MESSAGE_LEN
            )
            .as_bytes(),
        );
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
        let mut f = StreamFramer::default();
        f.push(&vec![b'a'; MAX_MESSAGE_LEN + 1]);
        assert_eq!(f.next_message(), Err(FramingError::TooLarge));
    }
}
