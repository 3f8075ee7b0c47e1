//! WATCH streams: the events after the requested version, BOOKMARKs and ERROR 410s when the
//! test asks for them, as chunks of varying sizes (events cut anywhere, several in one); a
//! dropped connection ends without a final chunk.

use std::io::Write;
use std::net::Shutdown;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use super::serve::{status_json, Tls};
use super::{Recorded, Shared, State};

/// Streams watch events as chunks of varying sizes (events cut anywhere, several in one).
pub(super) fn watch(
    mut tls: Tls,
    shared: &Shared,
    rec: &Recorded,
    path: &str,
    gens: (u64, u64, u64),
) {
    let Some((mut from, deadline)) = open_stream(&mut tls, rec) else {
        return;
    };
    let (drop_gen, expire_gen, mut bookmark_gen) = gens;
    let mut sent_gen = bookmark_gen;
    let mut seed = from as u32 ^ 0x9e37_79b9;
    let mut pending = Vec::new();
    loop {
        let end = {
            let s = wait_for_news(shared, path, from, (drop_gen, expire_gen, bookmark_gen));
            if s.drop_gen != drop_gen {
                // Cut the connection: no final chunk, no close_notify.
                let _ = tls.sock.shutdown(Shutdown::Both);
                return;
            }
            news(
                &s,
                path,
                &mut from,
                expire_gen,
                &mut bookmark_gen,
                &mut pending,
            )
        };
        let bookmarked = bookmark_gen;
        if !send_chunks(&mut tls, &mut pending, &mut seed) {
            return;
        }
        if bookmarked != sent_gen {
            sent_gen = bookmarked;
            shared.state.lock().unwrap().bookmarks_sent += 1;
            shared.changed.notify_all();
        }
        if end || Instant::now() >= deadline {
            let _ = tls.write_all(b"0\r\n\r\n").and_then(|()| tls.flush());
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            return;
        }
    }
}

/// Writes the head of the stream; (the version to stream from, when to end it), `None` when the
/// connection failed.
fn open_stream(tls: &mut Tls, rec: &Recorded) -> Option<(u64, Instant)> {
    let from: u64 = rec
        .query("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout: u64 = rec
        .query("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if tls
        .write_all(head.as_bytes())
        .and_then(|()| tls.flush())
        .is_err()
    {
        return None;
    }
    Some((from, deadline))
}

/// Waits (at most 50 ms) for a generation of `gens` (drop, expire, bookmark) to move or an
/// event after `from`; the state, locked.
fn wait_for_news<'a>(
    shared: &'a Shared,
    path: &str,
    from: u64,
    gens: (u64, u64, u64),
) -> MutexGuard<'a, State> {
    let (drop_gen, expire_gen, bookmark_gen) = gens;
    let s = shared.state.lock().unwrap();
    shared
        .changed
        .wait_timeout_while(s, Duration::from_millis(50), |s| {
            s.drop_gen == drop_gen
                && s.expire_gen == expire_gen
                && s.bookmark_gen == bookmark_gen
                && events_after(s, path, from).is_empty()
        })
        .unwrap()
        .0
}

/// Appends to `pending` the events after `from`, a BOOKMARK if one was asked for since
/// `bookmark_gen`, and an ERROR 410 if the watches expired since `expire_gen`: then true, the
/// stream ends. `from` and `bookmark_gen` advance past what was appended.
fn news(
    s: &State,
    path: &str,
    from: &mut u64,
    expire_gen: u64,
    bookmark_gen: &mut u64,
    pending: &mut Vec<u8>,
) -> bool {
    let since = *from;
    for (rv, kind, json) in events_after(s, path, since) {
        pending.extend_from_slice(format!(r#"{{"type":"{kind}","object":{json}}}"#).as_bytes());
        pending.push(b'\n');
        *from = rv;
    }
    if s.bookmark_gen != *bookmark_gen {
        *bookmark_gen = s.bookmark_gen;
        *from = s.rv;
        let b = format!(
            r#"{{"type":"BOOKMARK","object":{{"kind":"Node","apiVersion":"v1","metadata":{{"resourceVersion":"{}","annotations":{{"k8s.io/initial-events-end":"true"}}}}}}}}"#,
            s.rv
        );
        pending.extend_from_slice(b.as_bytes());
        pending.push(b'\n');
    }
    if s.expire_gen != expire_gen {
        let msg = format!("too old resource version: {} ({})", *from, s.rv);
        let e = format!(
            r#"{{"type":"ERROR","object":{}}}"#,
            status_json(410, "Expired", &msg)
        );
        pending.extend_from_slice(e.as_bytes());
        pending.push(b'\n');
        return true;
    }
    false
}

/// Writes `pending` out as chunks of sizes drawn from `seed` (1 byte to 4 KiB); false when the
/// connection failed.
fn send_chunks(tls: &mut Tls, pending: &mut Vec<u8>, seed: &mut u32) -> bool {
    while !pending.is_empty() {
        *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = [1, 2, 7, 13, 97, 1000, 4096][(*seed >> 16) as usize % 7].min(pending.len());
        let chunk: Vec<u8> = pending.drain(..size).collect();
        let mut out = format!("{size:x}\r\n").into_bytes();
        out.extend_from_slice(&chunk);
        out.extend_from_slice(b"\r\n");
        if tls.write_all(&out).and_then(|()| tls.flush()).is_err() {
            return false;
        }
    }
    true
}

/// The collection at `path`'s events after version `from`: (version, type, object).
fn events_after<'s>(s: &'s State, path: &str, from: u64) -> Vec<(u64, &'s str, &'s str)> {
    if path == "/api/v1/nodes" {
        return s
            .log
            .iter()
            .filter(|(rv, _, _)| *rv > from)
            .map(|(rv, kind, json)| (*rv, *kind, json.as_str()))
            .collect();
    }
    s.object_log
        .iter()
        .filter(|(rv, p, _, _)| *rv > from && p == path)
        .map(|(rv, _, kind, json)| (*rv, *kind, json.as_str()))
        .collect()
}
