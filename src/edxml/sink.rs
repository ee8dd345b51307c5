//! Where decoded attachments go: the parser opens one writer per attachment.

use std::io::{self, Write};

use super::Attachment;

/// Receives attachment bytes as they are decoded. The parser calls [`open`](Self::open) once per
/// attachment (with what is known of it at that point) and writes the decoded bytes to the
/// returned writer chunk by chunk. When decoding fails, [`discard`](Self::discard) is called so
/// a half-written file can be removed.
pub trait AttachmentSink {
    fn open(&mut self, index: usize, meta: &Attachment) -> io::Result<Box<dyn Write + '_>>;

    /// The attachment at `index` failed; throw away what was written for it.
    fn discard(&mut self, _index: usize) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every attachment in memory: for small packets and tests.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// `(index, bytes)` in the order the attachments appear.
    pub files: Vec<(usize, Vec<u8>)>,
}

impl MemorySink {
    /// The bytes of the attachment at `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.files.iter().find(|(i, _)| *i == index).map(|(_, b)| b.as_slice())
    }
}

impl AttachmentSink for MemorySink {
    fn open(&mut self, index: usize, _meta: &Attachment) -> io::Result<Box<dyn Write + '_>> {
        self.files.push((index, Vec::new()));
        let last = self.files.last_mut().expect("an entry was just pushed");
        Ok(Box::new(&mut last.1))
    }

    fn discard(&mut self, index: usize) -> io::Result<()> {
        self.files.retain(|(i, _)| *i != index);
        Ok(())
    }
}

/// Decodes and checks attachments (sizes, zip structure) without keeping their bytes.
#[derive(Debug, Default)]
pub struct DiscardSink;

impl AttachmentSink for DiscardSink {
    fn open(&mut self, _index: usize, _meta: &Attachment) -> io::Result<Box<dyn Write + '_>> {
        Ok(Box::new(io::sink()))
    }
}
