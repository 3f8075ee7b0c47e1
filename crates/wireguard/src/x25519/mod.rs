//! X25519 (RFC 7748), only to derive a public key from a private one: the userspace
//! configuration protocol never returns the device's own public key (wireguard-go's
//! `device/uapi.go`, `IpcGetOperation`, writes `private_key` and the peers' `public_key`s
//! only), while the kernel's GET_DEVICE does (`WGDEVICE_A_PUBLIC_KEY`).
//!
//! Written from RFC 7748 section 5 (the Montgomery ladder, its constant-time conditional swap,
//! `a24 = 121665`, inversion as `z^(p-2)`), over radix-2^51 field elements (five limbs, `u128`
//! products). It runs once per start on the node's own key; the ladder has no secret-dependent
//! branches or indexes anyway. Checked against RFC 7748's vectors (sections 5.2 and 6.1) and,
//! where installed, against wg's own public key of a random private key (tests/userspace.rs).
//!
//! Why not a crate: measured with the workspace's release profile (opt-level z, fat LTO, one
//! codegen unit, abort, strip) on a host program printing `public_key` of its argument, this
//! module adds 4,112 bytes; `x25519_dalek::x25519` (x25519-dalek 2.0.1 without default
//! features, over curve25519-dalek 4.1.3) adds 5,336 bytes and eight crates new to the lock
//! file (x25519-dalek, curve25519-dalek and its derive macro, fiat-crypto, cpufeatures,
//! rand_core, rustc_version, semver).
//! Both gave the same key.

const MASK: u64 = (1 << 51) - 1;

/// A field element mod p = 2^255 - 19, five 51-bit limbs (a limb may run a few bits over
/// between reductions).
#[derive(Clone, Copy)]
struct Fe([u64; 5]);

impl Fe {
    const ZERO: Fe = Fe([0; 5]);
    const ONE: Fe = Fe([1, 0, 0, 0, 0]);

    /// Little-endian bytes; bit 255 is ignored (RFC 7748 section 5).
    fn from_bytes(b: &[u8; 32]) -> Fe {
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (w0, w1, w2, w3) = (w(0), w(1), w(2), w(3));
        Fe([
            w0 & MASK,
            ((w0 >> 51) | (w1 << 13)) & MASK,
            ((w1 >> 38) | (w2 << 26)) & MASK,
            ((w2 >> 25) | (w3 << 39)) & MASK,
            (w3 >> 12) & MASK,
        ])
    }

    /// The canonical little-endian encoding (fully reduced mod p).
    fn to_bytes(self) -> [u8; 32] {
        let mut h = self.carry().carry().0;
        // h < 2^255 now; subtract p once if h >= p (q = 1 exactly then).
        let mut q = (h[0] + 19) >> 51;
        for limb in &h[1..] {
            q = (limb + q) >> 51;
        }
        h[0] += 19 * q;
        for i in 0..4 {
            h[i + 1] += h[i] >> 51;
            h[i] &= MASK;
        }
        h[4] &= MASK;
        let words = [
            h[0] | (h[1] << 51),
            (h[1] >> 13) | (h[2] << 38),
            (h[2] >> 26) | (h[3] << 25),
            (h[3] >> 39) | (h[4] << 12),
        ];
        let mut out = [0u8; 32];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// One carry pass: every limb below 2^51 but the first, which stays below 2^52.
    fn carry(self) -> Fe {
        let mut h = self.0;
        for i in 0..4 {
            h[i + 1] += h[i] >> 51;
            h[i] &= MASK;
        }
        h[0] += 19 * (h[4] >> 51);
        h[4] &= MASK;
        Fe(h)
    }

    fn add(self, o: Fe) -> Fe {
        let (a, b) = (self.0, o.0);
        Fe([
            a[0] + b[0],
            a[1] + b[1],
            a[2] + b[2],
            a[3] + b[3],
            a[4] + b[4],
        ])
        .carry()
    }

    /// `self - o`, as `self + 2p - o` so no limb goes negative (both carried first).
    fn sub(self, o: Fe) -> Fe {
        const TWO_P: [u64; 5] = [(MASK - 18) * 2, MASK * 2, MASK * 2, MASK * 2, MASK * 2];
        let (a, b) = (self.carry().0, o.carry().0);
        let mut h = [0u64; 5];
        for i in 0..5 {
            h[i] = a[i] + TWO_P[i] - b[i];
        }
        Fe(h).carry()
    }

    fn mul(self, o: Fe) -> Fe {
        let a = self.0.map(u128::from);
        let b = o.0.map(u128::from);
        let b19 = b.map(|x| x * 19);
        let r = [
            a[0] * b[0] + a[1] * b19[4] + a[2] * b19[3] + a[3] * b19[2] + a[4] * b19[1],
            a[0] * b[1] + a[1] * b[0] + a[2] * b19[4] + a[3] * b19[3] + a[4] * b19[2],
            a[0] * b[2] + a[1] * b[1] + a[2] * b[0] + a[3] * b19[4] + a[4] * b19[3],
            a[0] * b[3] + a[1] * b[2] + a[2] * b[1] + a[3] * b[0] + a[4] * b19[4],
            a[0] * b[4] + a[1] * b[3] + a[2] * b[2] + a[3] * b[1] + a[4] * b[0],
        ];
        reduce_wide(r)
    }

    fn square(self) -> Fe {
        self.mul(self)
    }

    fn mul_small(self, k: u64) -> Fe {
        reduce_wide(self.0.map(|x| u128::from(x) * u128::from(k)))
    }

    /// `self^(p-2)` = 1/self (Fermat); 0 for 0. The exponent is public: plain square-and-multiply.
    fn invert(self) -> Fe {
        // p - 2 = 2^255 - 21, little-endian.
        let mut e = [0xffu8; 32];
        e[0] = 0xeb;
        e[31] = 0x7f;
        let mut r = Fe::ONE;
        for i in (0..255).rev() {
            r = r.square();
            if (e[i / 8] >> (i % 8)) & 1 == 1 {
                r = r.mul(self);
            }
        }
        r
    }
}

/// Carries five 128-bit column sums down to a field element.
fn reduce_wide(mut r: [u128; 5]) -> Fe {
    const M: u128 = MASK as u128;
    for i in 0..4 {
        r[i + 1] += r[i] >> 51;
        r[i] &= M;
    }
    r[0] += 19 * (r[4] >> 51);
    r[4] &= M;
    r[1] += r[0] >> 51;
    r[0] &= M;
    Fe(r.map(|x| x as u64))
}

/// Swaps `a` and `b` when `swap` is 1, without branching on it.
fn cswap(swap: u64, a: &mut Fe, b: &mut Fe) {
    let mask = 0u64.wrapping_sub(swap);
    for i in 0..5 {
        let t = mask & (a.0[i] ^ b.0[i]);
        a.0[i] ^= t;
        b.0[i] ^= t;
    }
}

/// X25519(scalar, u): the scalar is clamped here as RFC 7748 section 5 says.
pub fn x25519(scalar: &[u8; 32], u: &[u8; 32]) -> [u8; 32] {
    let mut k = *scalar;
    k[0] &= 248;
    k[31] = (k[31] & 127) | 64;
    let x1 = Fe::from_bytes(u);
    let (mut x2, mut z2, mut x3, mut z3) = (Fe::ONE, Fe::ZERO, x1, Fe::ONE);
    let mut swap = 0u64;
    for t in (0..255).rev() {
        let bit = u64::from((k[t / 8] >> (t % 8)) & 1);
        swap ^= bit;
        cswap(swap, &mut x2, &mut x3);
        cswap(swap, &mut z2, &mut z3);
        swap = bit;
        let a = x2.add(z2);
        let aa = a.square();
        let b = x2.sub(z2);
        let bb = b.square();
        let e = aa.sub(bb);
        let c = x3.add(z3);
        let d = x3.sub(z3);
        let da = d.mul(a);
        let cb = c.mul(b);
        x3 = da.add(cb).square();
        z3 = x1.mul(da.sub(cb).square());
        x2 = aa.mul(bb);
        z2 = e.mul(aa.add(e.mul_small(121665)));
    }
    cswap(swap, &mut x2, &mut x3);
    cswap(swap, &mut z2, &mut z3);
    x2.mul(z2.invert()).to_bytes()
}

/// The public key of a private key: X25519 with the base point u = 9.
pub fn public_key(private: &[u8; 32]) -> [u8; 32] {
    let mut nine = [0u8; 32];
    nine[0] = 9;
    x25519(private, &nine)
}

#[cfg(test)]
mod tests;
