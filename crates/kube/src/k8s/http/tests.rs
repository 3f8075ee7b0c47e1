use super::*;

fn response(bytes: &[u8]) -> Result<Response<&[u8]>, HttpError> {
    smol::block_on(read_head(BufReader::new(bytes)))
}

fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let mut rest = body;
    let mut k = 0;
    while !rest.is_empty() {
        let n = sizes[k % sizes.len()].min(rest.len());
        k += 1;
        out.extend_from_slice(format!("{n:x};ext=1\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\nX-Trailer: y\r\n\r\n");
    out
}

#[test]
fn lines_ignore_chunk_boundaries() {
    let body = b"{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\",\"x\":\"\xc3\xa9\"}\n\n{\"last\":1}";
    for sizes in [&[1usize][..], &[3, 7], &[1000], &[5, 1, 30]] {
        let bytes = chunked(body, sizes);
        let mut r = response(&bytes).unwrap();
        assert_eq!(r.status, 200);
        let mut lines = Vec::new();
        while let Some(l) = smol::block_on(r.body.read_line(100)).unwrap() {
            lines.push(String::from_utf8(l).unwrap());
        }
        assert_eq!(
            lines,
            [
                "{\"type\":\"ADDED\"}",
                "{\"type\":\"MODIFIED\",\"x\":\"é\"}",
                "",
                "{\"last\":1}"
            ],
            "{sizes:?}"
        );
    }
}

#[test]
fn content_length_and_until_close() {
    let mut r = response(b"HTTP/1.1 410 Gone\r\ncontent-length: 5\r\n\r\nhelloEXTRA").unwrap();
    assert_eq!(r.status, 410);
    assert_eq!(smol::block_on(r.body.read_to_end(10)).unwrap(), b"hello");
    let mut r = response(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
    assert_eq!(
        smol::block_on(r.body.read_to_end(100)).unwrap(),
        b"all of it"
    );
}

#[test]
fn truncated_bodies_and_long_lines_are_errors() {
    let mut bytes = chunked(b"{\"a\":1}\n{\"b\":2}\n", &[4]);
    bytes.truncate(bytes.len() - 20);
    let mut r = response(&bytes).unwrap();
    assert!(smol::block_on(r.body.read_line(100)).unwrap().is_some());
    let err = loop {
        match smol::block_on(r.body.read_line(100)) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a truncated body must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, HttpError::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof));
    let mut r = response(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab").unwrap();
    assert!(smol::block_on(r.body.read_to_end(100)).is_err());
    let bytes = chunked(&[b'x'; 300], &[64]);
    let mut r = response(&bytes).unwrap();
    assert!(matches!(
        smol::block_on(r.body.read_line(100)),
        Err(HttpError::TooLong { max: 100 })
    ));
    assert!(matches!(
        response(b"SSH-2.0\r\n\r\n"),
        Err(HttpError::Malformed(_))
    ));
}

/// Whole responses, cut short or with bytes changed, through the head reader and both body
/// readers: an answer or an error, never a panic or an unbounded buffer.
#[test]
fn broken_responses_are_errors_not_panics() {
    let mut rng = testkit::rng::Rng::new(0x5eed_0f4b_1dc0_de01);
    let seeds = [
        chunked(b"{\"a\":1}\n{\"b\":2}\n", &[3, 5]),
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"items\":[]}".to_vec(),
        b"HTTP/1.0 200 OK\r\n\r\nuntil close\n".to_vec(),
    ];
    for _ in 0..5_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        if rng.below(2) == 0 {
            bytes.truncate(rng.below(bytes.len() + 1));
        }
        for _ in 0..rng.below(4) {
            let i = rng.below(bytes.len().max(1));
            if let Some(b) = bytes.get_mut(i) {
                *b = rng.next_u64() as u8;
            }
        }
        let Ok(mut r) = response(&bytes) else {
            continue;
        };
        if rng.below(2) == 0 {
            if let Ok(body) = smol::block_on(r.body.read_to_end(64)) {
                assert!(body.len() <= 64);
            }
        } else {
            while let Ok(Some(_)) = smol::block_on(r.body.read_line(16)) {}
        }
    }
}
