//! Streaming base64: a decoder that reads an element's text straight from the packet's buffered
//! reader (stopping at the next `<`), and an encoder that writes without line breaks. Both keep
//! only a small buffer.

use std::io::{self, BufRead, Read, Write};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Standard alphabet; padding optional on decode (some builders drop it), written on encode.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encoded bytes read per step (a multiple of 4).
const CHUNK: usize = 64 * 1024;

fn is_xml_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Reads base64 text from `inner` up to (not including) the next `<` and yields decoded bytes.
/// XML whitespace inside the text is ignored. On bad input the read fails with `InvalidData`
/// and [`error`](Self::error) says why.
pub(crate) struct Base64Decoder<'a, R: BufRead> {
    inner: &'a mut R,
    pending: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    at_end: bool,
    padded: bool,
    error: Option<String>,
}

impl<'a, R: BufRead> Base64Decoder<'a, R> {
    pub(crate) fn new(inner: &'a mut R) -> Self {
        Self {
            inner,
            pending: Vec::with_capacity(CHUNK + 4),
            out: Vec::with_capacity(CHUNK / 4 * 3 + 3),
            out_pos: 0,
            at_end: false,
            padded: false,
            error: None,
        }
    }

    /// Why decoding failed, when it did.
    #[cfg(test)]
    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn fail(&mut self, message: String) -> io::Error {
        let e = io::Error::new(io::ErrorKind::InvalidData, message.clone());
        self.error = Some(message);
        e
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() && !self.at_end {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the packet ends inside an attachment",
                ));
            }
            let slice = &buf[..buf.len().min(CHUNK)];
            let (n, hit) = match slice.iter().position(|&b| b == b'<') {
                Some(p) => (p, true),
                None => (slice.len(), false),
            };
            let text = &slice[..n];
            if text.iter().any(is_xml_space) {
                self.pending.extend(text.iter().filter(|b| !is_xml_space(b)));
            } else {
                self.pending.extend_from_slice(text);
            }
            self.inner.consume(n);
            self.at_end = hit;
            let full = if self.at_end {
                self.pending.len()
            } else {
                self.pending.len() / 4 * 4
            };
            if full == 0 {
                continue;
            }
            if self.padded {
                return Err(self.fail("data after the final padding".into()));
            }
            self.out.resize(full / 4 * 3 + 3, 0);
            match ENGINE.decode_slice(&self.pending[..full], &mut self.out) {
                Ok(len) => self.out.truncate(len),
                Err(e) => {
                    self.out.clear();
                    return Err(self.fail(e.to_string()));
                }
            }
            self.padded = self.pending[full - 1] == b'=';
            self.pending.drain(..full);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Base64Decoder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() {
            if let Some(e) = &self.error {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.clone()));
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Skips the raw text up to the next `<` without decoding it.
pub(crate) fn skip_text<R: BufRead>(inner: &mut R) -> io::Result<()> {
    loop {
        let buf = inner.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'<') {
            Some(p) => {
                inner.consume(p);
                return Ok(());
            }
            None => {
                let n = buf.len();
                inner.consume(n);
            }
        }
    }
}

/// Base64-encodes everything `source` yields into `out`, without line breaks, using one
/// fixed buffer. Returns the number of source bytes.
pub(crate) fn encode_stream<R: Read + ?Sized, W: Write + ?Sized>(source: &mut R, out: &mut W) -> io::Result<u64> {
    const IN: usize = 48 * 1024; // a multiple of 3
    let mut input = vec![0u8; IN];
    let mut encoded = vec![0u8; IN / 3 * 4];
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < IN {
            match source.read(&mut input[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(total);
        }
        total += filled as u64;
        let len = ENGINE
            .encode_slice(&input[..filled], &mut encoded)
            .map_err(|e| io::Error::other(e.to_string()))?;
        out.write_all(&encoded[..len])?;
        if filled < IN {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = io::BufReader::with_capacity(7, text);
        let mut d = Base64Decoder::new(&mut r);
        let mut out = Vec::new();
        match d.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(d.error().map(str::to_string).unwrap_or(e.to_string())),
        }
    }

    #[test]
    fn decodes_across_small_reads_and_whitespace() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_001).collect();
        let mut enc = Vec::new();
        encode_stream(&mut data.as_slice(), &mut enc).expect("encode");
        assert!(!enc.contains(&b'\n'));
        let mut spaced = Vec::new();
        for (i, b) in enc.iter().enumerate() {
            spaced.push(*b);
            if i % 76 == 75 {
                spaced.extend_from_slice(b"\r\n\t ");
            }
        }
        spaced.extend_from_slice(b"</x>");
        assert_eq!(decode(&spaced).expect("decode"), data);
    }

    #[test]
    fn garbage_and_early_padding_fail() {
        assert!(decode(b"${__StringFromFile(test.txt,,,)}</x>").is_err());
        assert!(decode(b"QQ==QUJD</x>").is_err());
        assert_eq!(decode(b"QUI</x>").expect("unpadded"), b"AB");
        assert!(decode(b"Q</x>").is_err());
        assert!(decode(b"QUJD").is_err(), "no closing tag");
    }
}
