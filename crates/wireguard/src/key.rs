//! WireGuard keys: 32 bytes, written as `wg` prints them (standard base64, padded, 44
//! characters) and as the configuration protocol wants them (64 lowercase hex digits).
//! [`PrivateKey`] keeps its bytes out of `Debug` output; [`PrivateKey::generate`] takes 32
//! bytes from the OS (getrandom(2), /dev/urandom where the syscall is missing) and clamps them
//! as `wg genkey` does (wireguard-tools `src/curve25519.h`, `curve25519_clamp_secret`:
//! `k[0] &= 248; k[31] = (k[31] & 127) | 64`). The key file itself is [`crate::keyfile`].

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use lichen_parse::base64;

/// What is wrong with a key's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyParseError {
    /// Not base64 (or not hex, for the configuration protocol's form).
    Encoding,
    /// Decoded to this many bytes instead of 32.
    Length(usize),
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::Encoding => f.write_str("not a base64 WireGuard key"),
            KeyParseError::Length(n) => write!(f, "a WireGuard key is 32 bytes, this one {n}"),
        }
    }
}

impl std::error::Error for KeyParseError {}

/// A public (or pre-shared) key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// From `wg`'s form (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Key, KeyParseError> {
        let bytes = base64::decode(text.trim()).ok_or(KeyParseError::Encoding)?;
        let n = bytes.len();
        bytes
            .try_into()
            .map(Key)
            .map_err(|_| KeyParseError::Length(n))
    }

    pub fn to_base64(&self) -> String {
        base64::encode(&self.0)
    }

    /// From the configuration protocol's form: 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Key, KeyParseError> {
        if text.len() != 64 {
            return Err(KeyParseError::Length(text.len() / 2));
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or(KeyParseError::Encoding)?;
            *o = u8::from_str_radix(pair, 16).map_err(|_| KeyParseError::Encoding)?;
        }
        Ok(Key(out))
    }

    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        s
    }

    /// All zeros: what the protocols use for "no key".
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

/// A private key: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(pub Key);

impl PrivateKey {
    /// 32 bytes from the OS, clamped as `wg genkey` clamps them.
    pub fn generate() -> io::Result<PrivateKey> {
        let mut k = [0u8; 32];
        os_random(&mut k)?;
        k[0] &= 248;
        k[31] = (k[31] & 127) | 64;
        Ok(PrivateKey(Key(k)))
    }

    /// The public key (X25519 of the base point, see [`crate::x25519`]).
    pub fn public(&self) -> Key {
        Key(crate::x25519::public_key(&self.0 .0))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// Fills `buf` from getrandom(2) (blocking until the pool is ready, as it should for keys);
/// from /dev/urandom when the kernel lacks the syscall.
fn os_random(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is valid for writes of its length.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n >= 0 {
            filled += n as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ENOSYS) => return File::open("/dev/urandom")?.read_exact(rest),
            _ => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_hex_forms_round_trip_and_bad_text_says_why() {
        // RFC 7748 section 6.1, Alice's public key, as `wg pubkey` prints it.
        let k = Key::from_base64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n").unwrap();
        let hex = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
        assert_eq!(k.to_hex(), hex);
        assert_eq!(Key::from_hex(hex), Ok(k));
        assert_eq!(
            k.to_base64(),
            "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
        );
        assert_eq!(Key::from_base64("Zm9v"), Err(KeyParseError::Length(3)));
        assert_eq!(
            Key::from_base64("not base64!"),
            Err(KeyParseError::Encoding)
        );
        assert_eq!(
            Key::from_hex(&hex.replace('8', "g")),
            Err(KeyParseError::Encoding)
        );
        assert_eq!(Key::from_hex("00"), Err(KeyParseError::Length(1)));
    }

    #[test]
    fn generated_keys_are_clamped_distinct_and_never_printed() {
        let a = PrivateKey::generate().unwrap();
        let b = PrivateKey::generate().unwrap();
        assert_ne!(a, b);
        for k in [&a, &b] {
            assert_eq!(k.0 .0[0] & 7, 0);
            assert_eq!(k.0 .0[31] & 0xc0, 0x40);
        }
        assert_eq!(format!("{a:?}"), "PrivateKey(..)");
        assert_ne!(a.public(), b.public());
    }
}
