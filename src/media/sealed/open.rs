//! Playing a sealed recording: its bytes, as they arrive (from this disk,
//! a peer node or object storage), become a WAV stream, one segment
//! decrypted at a time. A stream that does not start with the sealed
//! magic (a recording made before sealing was turned on) passes through
//! unchanged.

use std::sync::Arc;

use futures::StreamExt;
use ring::aead::{Aad, LessSafeKey, Nonce};

use super::{aead_key, nonce, RecordingKeys, SealError, KEY_LEN, MAGIC, MAX_SEGMENT, PREFIX_LEN, TAG_LEN};
use crate::error::Error;
use crate::media::archive::ByteStream;

/// What the reader has taken from the header.
struct Opened {
    key: LessSafeKey,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    /// Audio bytes still to emit (the header's `pcm_len`, counting down).
    remaining: u64,
    counter: u32,
}

enum State {
    /// Not yet known whether the stream is sealed.
    Start,
    Plain,
    Sealed(Box<Opened>),
    Done,
}

fn damaged(why: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("the sealed recording cannot be opened: {why}"))
}

impl From<SealError> for Error {
    fn from(e: SealError) -> Self {
        Error::Unavailable(e.to_string())
    }
}

/// The 44-byte header of a canonical PCM WAV file of `len` audio bytes.
/// (Written here rather than by hound, whose writer needs the audio in
/// hand to size its header, while this stream has the length first.)
fn wav_header(rate: u32, channels: u16, len: u64) -> Vec<u8> {
    let len = u32::try_from(len).unwrap_or(u32::MAX - 36);
    let block = channels * 2;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&len.to_le_bytes());
    h
}

/// The header, once `buf` holds it all: what it says, the WAV header to
/// emit, and how many bytes it took.
fn header(buf: &[u8], keys: &RecordingKeys) -> Result<Option<(Opened, Vec<u8>, usize)>, Error> {
    const FIXED: usize = 8 + 8 + 4 + 2 + 1;
    if buf.len() < FIXED {
        return Ok(None);
    }
    let kid_len = usize::from(buf[FIXED - 1]);
    let total = FIXED + kid_len + 12 + KEY_LEN + TAG_LEN + PREFIX_LEN;
    if buf.len() < total {
        return Ok(None);
    }
    let pcm_len = u64::from_be_bytes(buf[8..16].try_into().map_err(damaged)?);
    let rate = u32::from_be_bytes(buf[16..20].try_into().map_err(damaged)?);
    let channels = u16::from_be_bytes(buf[20..22].try_into().map_err(damaged)?);
    let kid =
        std::str::from_utf8(&buf[FIXED..FIXED + kid_len]).map_err(|_| damaged("the key id is not text"))?;
    let at = FIXED + kid_len;
    let wrap_nonce: [u8; 12] = buf[at..at + 12].try_into().map_err(damaged)?;
    let mut data_key = buf[at + 12..at + 12 + KEY_LEN + TAG_LEN].to_vec();
    let prefix: [u8; PREFIX_LEN] = buf[total - PREFIX_LEN..total].try_into().map_err(damaged)?;
    let kek = keys.opening(kid)?;
    let opened = kek
        .open_in_place(
            Nonce::assume_unique_for_key(wrap_nonce),
            Aad::from(kid.as_bytes()),
            &mut data_key,
        )
        .map_err(|_| damaged(format!("key {kid:?} does not open its data key")))?;
    Ok(Some((
        Opened {
            key: aead_key(opened)?,
            prefix,
            aad: buf[16..total].to_vec(),
            remaining: pcm_len,
            counter: 0,
        },
        wav_header(rate, channels, pcm_len),
        total,
    )))
}

/// The next whole segment in `buf`, decrypted: its plaintext and the bytes
/// it took; none until it has all arrived.
fn segment(buf: &[u8], o: &mut Opened) -> Result<Option<(Vec<u8>, usize)>, Error> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes(buf[..4].try_into().map_err(damaged)?) as usize;
    if !(TAG_LEN..=MAX_SEGMENT).contains(&len) {
        return Err(damaged(format!("segment {} has length {len}", o.counter)));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let sealed = &buf[4..4 + len];
    let open = |last: bool| {
        let mut data = sealed.to_vec();
        o.key
            .open_in_place(nonce(&o.prefix, o.counter, last), Aad::from(&o.aad), &mut data)
            .map(|plain| plain.to_vec())
            .ok()
    };
    let plain = open(false)
        .or_else(|| open(true))
        .ok_or_else(|| damaged(format!("segment {} does not authenticate", o.counter)))?;
    o.counter = o.counter.wrapping_add(1);
    Ok(Some((plain, 4 + len)))
}

/// `stream` as WAV: unsealed when it is a sealed recording.
pub fn unseal(stream: ByteStream, keys: Option<Arc<RecordingKeys>>) -> ByteStream {
    let init = (stream, Vec::<u8>::new(), State::Start, keys);
    Box::pin(futures::stream::unfold(
        init,
        |(mut stream, mut buf, mut state, keys)| async move {
            loop {
                match &mut state {
                    State::Done => return None,
                    State::Plain => {
                        if !buf.is_empty() {
                            let out = std::mem::take(&mut buf);
                            return Some((Ok(out), (stream, buf, state, keys)));
                        }
                        let next = stream.next().await?;
                        return Some((next, (stream, buf, state, keys)));
                    }
                    State::Start if buf.len() >= MAGIC.len() => {
                        if &buf[..MAGIC.len()] != MAGIC {
                            state = State::Plain;
                            continue;
                        }
                        let Some(k) = keys.as_deref() else {
                            state = State::Done;
                            let e = damaged("this node has no [media] recording_keys_file");
                            return Some((Err(e), (stream, buf, state, keys)));
                        };
                        match header(&buf, k) {
                            Ok(Some((opened, wav, used))) => {
                                buf.drain(..used);
                                state = State::Sealed(Box::new(opened));
                                return Some((Ok(wav), (stream, buf, state, keys)));
                            }
                            Ok(None) => {}
                            Err(e) => {
                                state = State::Done;
                                return Some((Err(e), (stream, buf, state, keys)));
                            }
                        }
                    }
                    State::Sealed(o) if o.remaining == 0 => {
                        state = State::Done;
                        continue;
                    }
                    State::Sealed(o) => match segment(&buf, o) {
                        Ok(Some((mut plain, used))) => {
                            buf.drain(..used);
                            plain.truncate(usize::try_from(o.remaining).unwrap_or(usize::MAX));
                            o.remaining -= plain.len() as u64;
                            return Some((Ok(plain), (stream, buf, state, keys)));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            state = State::Done;
                            return Some((Err(e), (stream, buf, state, keys)));
                        }
                    },
                    State::Start => {}
                }
                // More bytes are needed.
                match stream.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        state = State::Done;
                        return Some((Err(e), (stream, buf, state, keys)));
                    }
                    None => {
                        let short = match &state {
                            State::Start => {
                                // Shorter than the magic: not sealed.
                                state = State::Plain;
                                continue;
                            }
                            State::Sealed(o) => format!("it ends {} audio bytes short", o.remaining),
                            _ => "it ends early".into(),
                        };
                        state = State::Done;
                        return Some((Err(damaged(short)), (stream, buf, state, keys)));
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn keys_file(dir: &std::path::Path, lines: &[String]) -> std::path::PathBuf {
        let path = dir.join("keys");
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    }

    fn seal(keys: &RecordingKeys, pcm: &[u8], segment: usize, finish: bool) -> Vec<u8> {
        let mut w = SealedWriter::create(std::io::Cursor::new(Vec::new()), keys, 8000, 2).unwrap();
        for chunk in pcm.chunks(segment) {
            w.write_pcm(chunk);
            w.flush().unwrap();
        }
        if finish {
            w.finish().unwrap().into_inner()
        } else {
            w.out.into_inner()
        }
    }

    async fn play(file: Vec<u8>, keys: Arc<RecordingKeys>, chunk: usize) -> Result<Vec<u8>, Error> {
        let parts: Vec<Result<Vec<u8>, Error>> = file.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
        let mut out = Vec::new();
        let mut s = unseal(Box::pin(futures::stream::iter(parts)), Some(keys));
        while let Some(c) = s.next().await {
            out.extend(c?);
        }
        Ok(out)
    }

    fn audio(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn a_sealed_recording_plays_back_as_the_wav_it_was_and_holds_no_riff_header() {
        let dir = tempfile::tempdir().unwrap();
        let keys = RecordingKeys::load(&keys_file(dir.path(), &[new_key_line("k1").unwrap()])).unwrap();
        let pcm = audio(40_000);
        let file = seal(&keys, &pcm, 3_200, true);
        assert!(!file.windows(4).any(|w| w == b"RIFF"), "no RIFF header on disk");
        assert!(!file.windows(64).any(|w| w == &pcm[1_000..1_064]), "no plaintext");
        // Any arrival pattern: one byte at a time, or whole.
        for chunk in [1, 100, 1 << 20] {
            let wav = play(file.clone(), keys.clone(), chunk).await.unwrap();
            let mut reader = hound::WavReader::new(std::io::Cursor::new(&wav)).unwrap();
            assert_eq!(reader.spec().channels, 2);
            assert_eq!(reader.spec().sample_rate, 8000);
            let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
            assert_eq!(samples.len() * 2, pcm.len());
            assert_eq!(&wav[44..], &pcm[..]);
        }
    }

    #[tokio::test]
    async fn a_file_cut_short_by_a_crash_plays_its_whole_segments_and_after_rotation_old_files_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = keys_file(dir.path(), &[new_key_line("old").unwrap()]);
        let keys = RecordingKeys::load(&path).unwrap();
        let pcm = audio(9_600);
        // A crash: no final segment, and half of a segment's bytes.
        let mut crashed = seal(&keys, &pcm, 3_200, false);
        let whole = crashed.len();
        crashed.extend_from_slice(&[0, 0, 1, 0, 9, 9, 9]);
        let wav = play(crashed.clone(), keys.clone(), 500).await.unwrap();
        assert_eq!(&wav[44..], &pcm[..], "every flushed segment plays");
        let finished = seal(&keys, &pcm, 3_200, true);

        // Rotation: a new first key seals; the old one still opens.
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{}\n{old}", new_key_line("new").unwrap())).unwrap();
        let rotated = RecordingKeys::load(&path).unwrap();
        assert_eq!(rotated.sealing().unwrap().0, "new");
        let wav = play(finished.clone(), rotated.clone(), 4096).await.unwrap();
        assert_eq!(&wav[44..], &pcm[..]);
        // Without the old key it is refused, saying which key it needs.
        std::fs::write(&path, new_key_line("new").unwrap()).unwrap();
        let dropped = RecordingKeys::load(&path).unwrap();
        let err = play(finished, dropped, 4096).await.unwrap_err();
        assert!(err.to_string().contains("\"old\""), "{err}");
        // A tampered byte is refused, not played.
        let mut tampered = crashed[..whole].to_vec();
        let last = tampered.len() - 20;
        tampered[last] ^= 1;
        let err = play(tampered, keys, 4096).await.unwrap_err();
        assert!(err.to_string().contains("authenticate"), "{err}");
    }

    #[tokio::test]
    async fn a_plain_wav_passes_through() {
        let dir = tempfile::tempdir().unwrap();
        let keys = RecordingKeys::load(&keys_file(dir.path(), &[new_key_line("k").unwrap()])).unwrap();
        let bytes = b"RIFF....WAVEfmt plain recording bytes".to_vec();
        assert_eq!(play(bytes.clone(), keys, 5).await.unwrap(), bytes);
    }
}
