use super::*;
use testkit::rng::Rng;

/// Feeds `bytes` to a reader in pieces of the given sizes (cycled): (head, bytes taken).
fn read(bytes: &[u8], max: usize, sizes: &[usize]) -> Result<(Vec<u8>, usize), Error> {
    let mut r = HeadReader::new(max);
    let (mut at, mut k) = (0, 0);
    while at < bytes.len() {
        let n = sizes[k % sizes.len()].clamp(1, bytes.len() - at);
        k += 1;
        let (taken, done) = r.push(&bytes[at..at + n])?;
        assert!(taken <= n);
        at += taken;
        if done {
            return Ok((r.head().to_vec(), at));
        }
    }
    Err(Error::Malformed("truncated"))
}

#[test]
fn heads_end_at_the_blank_line_wherever_the_pieces_break() {
    let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    for sizes in [&[1usize][..], &[2, 3], &[1000], &[4, 1, 7]] {
        let (head, taken) = read(bytes, 100, sizes).unwrap();
        assert_eq!(taken, bytes.len() - 2, "{sizes:?}");
        assert_eq!(head, &bytes[..taken]);
    }
    let (head, _) = read(b"GET / HTTP/1.1\n\nbody", 100, &[1]).unwrap();
    assert_eq!(head, b"GET / HTTP/1.1\n\n");
}

#[test]
fn oversize_heads_are_an_error() {
    let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 200]);
    bytes.extend_from_slice(b"\r\n\r\n");
    for sizes in [&[1usize][..], &[1000], &[50, 3]] {
        assert_eq!(
            read(&bytes, 64, sizes),
            Err(Error::TooLong { max: 64 }),
            "{sizes:?}"
        );
    }
    // Exactly at the bound is fine.
    assert!(read(&bytes, bytes.len(), &[7]).is_ok());
    assert!(read(&bytes, bytes.len() - 1, &[7]).is_err());
}

#[test]
fn status_and_header_lines() {
    let head =
        Head::parse(b"HTTP/1.1 410 Gone\r\ncontent-LENGTH:  5 \r\nX: a:b\r\nx: c\r\n\r\n").unwrap();
    assert_eq!(parse_status_line(head.start), Ok(410));
    assert_eq!(head.header("Content-Length"), Some("5"));
    assert_eq!(head.header("x"), Some("c"));
    assert_eq!(head.fields().nth(1), Some(("X", "a:b")));
    assert_eq!(head.framing(), Ok(Framing::Length(5)));
    let head = Head::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
    assert_eq!(head.framing(), Ok(Framing::Chunked));
    let head = Head::parse(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
    assert_eq!(head.framing(), Ok(Framing::UntilClose));
    let head = Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").unwrap();
    assert_eq!(head.framing(), Err(Error::Malformed("content-length")));
    assert!(Head::parse(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
    assert!(Head::parse(b"HTTP/1.1 200 OK\r\n\xff: x\r\n\r\n").is_err());
    assert_eq!(
        parse_status_line("SSH-2.0"),
        Err(Error::Malformed("status line"))
    );
    assert_eq!(
        parse_status_line("SSH-2.0 x"),
        Err(Error::Malformed("not HTTP/1.x"))
    );
    assert_eq!(
        parse_status_line("HTTP/1.1 2x0 OK"),
        Err(Error::Malformed("status code"))
    );
}

#[test]
fn request_lines() {
    assert_eq!(
        parse_request_line("GET /status?format=json HTTP/1.1"),
        Ok(RequestLine {
            method: "GET",
            path: "/status",
            query: "format=json"
        })
    );
    assert_eq!(
        parse_request_line("GET /metrics HTTP/1.0").unwrap().query,
        ""
    );
    for bad in [
        "",
        "GET",
        "GET /",
        "GET / SSH/2",
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 x",
    ] {
        assert!(parse_request_line(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn chunk_sizes() {
    assert_eq!(parse_chunk_size(b"1a;ext=1"), Ok(26));
    assert_eq!(parse_chunk_size(b" 0 "), Ok(0));
    for bad in [&b""[..], b"x", b"-1", b"\xff", b"11111111111111111"] {
        assert!(parse_chunk_size(bad).is_err());
    }
}

#[test]
fn written_heads() {
    assert_eq!(
        request_head(
            "GET",
            "/readyz",
            &[("Host", "localhost"), ("Connection", "close")]
        ),
        "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        request_head(
            "POST",
            "/x",
            &[("Authorization", ""), ("Content-Length", "2")]
        ),
        "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n",
        "empty values are left out"
    );
    assert_eq!(
        response_head(503, &[("Content-Length", "0")]),
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    );
    // What the codec writes, it reads back.
    let written = response_head(404, &[("Content-Type", "text/plain")]);
    let (head, _) = read(written.as_bytes(), 1024, &[3]).unwrap();
    let head = Head::parse(&head).unwrap();
    assert_eq!(parse_status_line(head.start), Ok(404));
    assert_eq!(head.header("content-type"), Some("text/plain"));
}

/// Heads the noise starts from.
const SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 410 Gone\r\ncontent-length: 5\r\n\r\nhello",
    b"GET /status?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /policy/explain?src=a&dst=b HTTP/1.1\n\n",
];

/// Pieces the noise inserts.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b" ",
    b"?",
    b";",
    b"HTTP/1.",
    b"\xff",
    b"\xc3",
    b"0",
    b"ffffffffffffffffff",
    b"-1",
    b"chunked",
    b"Content-Length: ",
];

/// One of [`SEEDS`] cut short, with random bytes, with [`TOKENS`] inserted, or pure noise.
fn noise(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = SEEDS[rng.below(SEEDS.len())].to_vec();
    match rng.below(4) {
        0 => bytes.truncate(rng.below(bytes.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next_u64() as u8;
            }
        }
        2 => {
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(bytes.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(i..i, t.iter().copied());
            }
        }
        _ => bytes = (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect(),
    }
    bytes
}

/// Random heads: valid ones cut short, with bytes flipped, spliced with HTTP-ish tokens, or
/// pure noise. Whatever comes, the codec returns (never panics) and a reader never holds more
/// than its bound.
#[test]
fn random_and_broken_heads_never_panic() {
    let mut rng = Rng::new(0x11c4_e75e_ed12);
    for _ in 0..20_000 {
        let bytes = noise(&mut rng);
        let max = 1 + rng.below(128);
        let sizes = [1 + rng.below(40), 1 + rng.below(5)];
        match read(&bytes, max, &sizes) {
            Ok((head, taken)) => {
                assert!(head.len() <= max && head.len() == taken);
                assert!(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"));
            }
            Err(Error::TooLong { max: m }) => assert!(m == max && bytes.len() >= max),
            Err(Error::Malformed(_)) => {} // Cut short: no blank line.
        }
        // The parsers take any bytes, whole heads or not.
        if let Ok(head) = Head::parse(&bytes) {
            let _ = parse_status_line(head.start);
            let _ = parse_request_line(head.start);
            let _ = head.framing();
            let _ = head.fields().count();
        }
        let _ = parse_chunk_size(&bytes);
    }
}
