//! RFC 7748's test vectors (section 5.2: two scalar/u pairs, the iterated ladder; section
//! 6.1: both parties' public keys and the shared secret).

use super::{public_key, x25519};

fn hex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn rfc7748_section_5_2_vectors() {
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        // The u-coordinate has bit 255 set: it must be ignored.
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (k, u, want) in cases {
        assert_eq!(x25519(&hex(k), &hex(u)), hex(want), "{k}");
    }
}

#[test]
fn rfc7748_iterated_ladder_1_and_1000() {
    let (mut k, mut u) = (hex(&format!("09{}", "0".repeat(62))), [0u8; 32]);
    u[0] = 9;
    for i in 1..=1000 {
        let r = x25519(&k, &u);
        u = k;
        k = r;
        if i == 1 {
            let want = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079";
            assert_eq!(k, hex(want));
            // The 1,000-iteration vector takes minutes under qemu-user; one iteration and
            // the other vectors still check the arithmetic on the foreign CPU.
            if testkit::skip_emulated("X25519's 1,000-iteration vector") {
                return;
            }
        }
    }
    let want = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51";
    assert_eq!(k, hex(want));
}

#[test]
fn rfc7748_section_6_1_diffie_hellman() {
    let a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let a_pub = public_key(&a);
    let b_pub = public_key(&b);
    assert_eq!(
        a_pub,
        hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        b_pub,
        hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(x25519(&a, &b_pub), shared);
    assert_eq!(x25519(&b, &a_pub), shared);
}
