//! PostgreSQL's binary `COPY ... FROM STDIN (FORMAT binary)` stream, written by hand: the
//! header, then per row a field count and each field as a length-prefixed value (or -1 for
//! NULL), then the trailer. The format is specified in the PostgreSQL manual ("COPY", binary
//! format); every value is sent in the column type's binary send form (`text`: the UTF-8
//! bytes; `bigint`: 8 bytes big-endian; `integer`: 4; `bytea`: the bytes).
//!
//! One encoder for every COPY the project does: the trace writer's step batches and the
//! benchmark's COPY baselines, so the baseline is the same bytes on the same wire.

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// A binary COPY stream under construction.
pub struct BinaryCopy {
    buf: Vec<u8>,
    fields_per_row: i16,
    rows: usize,
}

impl BinaryCopy {
    /// A stream of rows of `fields_per_row` fields; `capacity` is a hint in bytes.
    pub fn new(fields_per_row: i16, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + SIGNATURE.len() + 10);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        BinaryCopy {
            buf,
            fields_per_row,
            rows: 0,
        }
    }

    /// Starts a row: its fields follow, exactly `fields_per_row` of them.
    pub fn row(&mut self) -> &mut Self {
        self.buf
            .extend_from_slice(&self.fields_per_row.to_be_bytes());
        self.rows += 1;
        self
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        // A field longer than i32::MAX cannot be sent; trace steps are capped at 1 MiB.
        self.buf
            .extend_from_slice(&(i32::try_from(v.len()).unwrap_or(i32::MAX)).to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub fn bigint(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn opt_bigint(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.bigint(v),
            None => self.null(),
        }
    }

    pub fn integer(&mut self, v: i32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Rows started so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The whole stream, trailer included.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_trailer_are_the_documented_bytes() {
        let mut c = BinaryCopy::new(3, 0);
        c.row().text("ab").null().bigint(-2);
        assert_eq!(c.rows(), 1);
        let b = c.finish();
        let mut want = Vec::new();
        want.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 3]);
        want.extend_from_slice(&[0, 0, 0, 2, b'a', b'b']);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0, 0, 0, 8]);
        want.extend_from_slice(&(-2i64).to_be_bytes());
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(b, want);
    }
}
