//! Byte classes as lookup tables: the hot loops test one byte at a time.

/// A set of bytes, built at compile time.
pub(crate) struct ByteClass([bool; 256]);

impl ByteClass {
    /// ASCII letters and digits plus `extra`.
    const fn alphanumeric_and(extra: &[u8]) -> Self {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = (i as u8).is_ascii_alphanumeric();
            i += 1;
        }
        let mut j = 0;
        while j < extra.len() {
            table[extra[j] as usize] = true;
            j += 1;
        }
        Self(table)
    }

    #[inline]
    pub(crate) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b)]
    }
}

/// RFC 3986 unreserved: the only bytes OAuth leaves unencoded.
pub(crate) static UNRESERVED: ByteClass = ByteClass::alphanumeric_and(b"-._~");

/// RFC 7230 `tchar`: parameter names, the auth scheme, HTTP methods.
pub(crate) static TCHAR: ByteClass = ByteClass::alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// What a URL may carry unescaped: unreserved, reserved (gen-delims and sub-delims) and `%`.
pub(crate) static URL_CHARS: ByteClass = ByteClass::alphanumeric_and(b"-._~:/?#[]@!$&'()*+,;=%");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for b in 0..=255u8 {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            assert_eq!(UNRESERVED.contains(b), unreserved, "{b}");
            assert!(!TCHAR.contains(b) || b.is_ascii_graphic(), "{b}");
            assert!(!URL_CHARS.contains(b) || b.is_ascii_graphic(), "{b}");
        }
        assert!(!TCHAR.contains(b'"') && !TCHAR.contains(b',') && !TCHAR.contains(b'='));
        assert!(
            !URL_CHARS.contains(b' ') && !URL_CHARS.contains(b'"') && !URL_CHARS.contains(b'{')
        );
    }
}
