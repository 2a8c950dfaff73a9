//! The responses written on a connection, framed as `actix-http`'s encoder writes them, to find
//! the heads the dispatcher writes on its own when it refuses a request.
//!
//! Those refusals are a bare head: a status of 400, 408 or 431, `content-length: 0`, at most a
//! `connection` header and the `date`. The application never writes one, since every response
//! it makes carries at least `x-request-id` (the request-context middleware adds it), so a
//! bare head of those statuses, found where a response starts, is the dispatcher's.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::requests::{Requests, Target};

/// The statuses of the dispatcher's own bodiless refusals: a malformed head, a slow head, a
/// head too large.
pub const REFUSALS: [u16; 3] = [400, 408, 431];

/// Where the next byte written falls, and which request the next final response answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Responses {
    state: Out,
    next: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Out {
    /// The next byte starts a response head.
    #[default]
    Head,
    /// Inside a head already read: this many of its bytes remain, then its body.
    HeadRest(usize, Body),
    Sized(u64),
    Chunked(Chunk, u64),
    /// No more heads to look for: the body runs to the end of the connection, or a head was
    /// not where one should be and the framing is lost.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Sized(u64),
    Chunked,
    Stop,
}

/// The encoder's chunks: `{size:X}\r\n`, the data, `\r\n`; the last is `0\r\n\r\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    EndCr,
    EndLf,
}

/// How far a write may go as it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Walk {
    /// Bytes followed; they may be written unchanged.
    pub passed: usize,
    /// The bytes right after them start a refusal to rewrite.
    pub refusal: Option<Refusal>,
}

/// A refusal's head at the start of what is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Length of the head (it has no body).
    pub len: usize,
    pub status: u16,
}

/// What a response head says about itself.
struct Head {
    len: usize,
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    /// Nothing but `content-length: 0`, `connection` and `date` after the status line.
    bare: bool,
}

impl Responses {
    /// Number of the request the next final response answers: those before it are answered.
    pub fn next_request(&self) -> u64 {
        self.next
    }

    /// True when no head will be looked for again on this connection.
    pub fn stopped(&self) -> bool {
        self.state == Out::Stop
    }

    /// Follows `buf[..limit]` (a head that starts before `limit` is read whole from `buf`).
    /// With `stop_at_refusal`, stops where the head of a refusal of an API request starts.
    pub fn walk(
        &mut self,
        buf: &[u8],
        limit: usize,
        requests: &Requests,
        stop_at_refusal: bool,
    ) -> Walk {
        let mut pos = 0;
        while pos < limit {
            let left = limit - pos;
            match self.state {
                Out::Stop => pos = limit,
                Out::Sized(n) => {
                    let step = n.min(left as u64);
                    pos += step as usize;
                    self.state = if step == n {
                        Out::Head
                    } else {
                        Out::Sized(n - step)
                    };
                }
                Out::HeadRest(n, body) => {
                    let step = n.min(left);
                    pos += step;
                    self.state = if step == n {
                        body_start(body)
                    } else {
                        Out::HeadRest(n - step, body)
                    };
                }
                Out::Chunked(Chunk::Data, n) => {
                    let step = n.min(left as u64);
                    pos += step as usize;
                    let chunk = if step == n {
                        Chunk::DataCr
                    } else {
                        Chunk::Data
                    };
                    self.state = Out::Chunked(chunk, n - step);
                }
                Out::Chunked(chunk, size) => {
                    self.state = chunk_step(chunk, size, buf[pos]);
                    pos += 1;
                }
                Out::Head => {
                    let Some(head) = read_head(&buf[pos..]) else {
                        self.state = Out::Stop;
                        continue;
                    };
                    let target = requests.target(self.next);
                    let api = target.is_some_and(|t: Target| t.api && !t.head);
                    if stop_at_refusal && api && head.bare && REFUSALS.contains(&head.status) {
                        let refusal = (pos == 0).then_some(Refusal {
                            len: head.len,
                            status: head.status,
                        });
                        return Walk {
                            passed: pos,
                            refusal,
                        };
                    }
                    let body = self.body_of(&head, target);
                    let step = head.len.min(left);
                    pos += step;
                    self.state = if step == head.len {
                        body_start(body)
                    } else {
                        Out::HeadRest(head.len - step, body)
                    };
                }
            }
        }
        Walk {
            passed: pos,
            refusal: None,
        }
    }

    /// The body after `head`, by the encoder's rules; counts the request it answers.
    fn body_of(&mut self, head: &Head, target: Option<Target>) -> Body {
        match head.status {
            101 => return Body::Stop,
            100..=199 => return Body::None,
            _ => self.next += 1,
        }
        let sized = head.content_length.unwrap_or(0) > 0 || head.chunked;
        match target {
            _ if matches!(head.status, 204 | 304) => Body::None,
            Some(t) if t.head => Body::None,
            // Whether it answers a HEAD is unknown, so its body's length is too.
            None if sized => Body::Stop,
            _ => match head.content_length {
                Some(n) => Body::Sized(n),
                None if head.chunked => Body::Chunked,
                // No length and not chunked: the body runs to the end of the connection.
                None => Body::Stop,
            },
        }
    }
}

fn body_start(body: Body) -> Out {
    match body {
        Body::None | Body::Sized(0) => Out::Head,
        Body::Sized(n) => Out::Sized(n),
        Body::Chunked => Out::Chunked(Chunk::Size, 0),
        Body::Stop => Out::Stop,
    }
}

fn chunk_step(chunk: Chunk, size: u64, b: u8) -> Out {
    match (chunk, b) {
        (Chunk::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
            let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
            match size.checked_mul(16) {
                Some(n) => Out::Chunked(Chunk::Size, n + digit),
                None => Out::Stop,
            }
        }
        (Chunk::Size, b'\r') => Out::Chunked(Chunk::SizeLf, size),
        (Chunk::SizeLf, b'\n') if size > 0 => Out::Chunked(Chunk::Data, size),
        (Chunk::SizeLf, b'\n') => Out::Chunked(Chunk::EndCr, 0),
        (Chunk::DataCr, b'\r') => Out::Chunked(Chunk::DataLf, 0),
        (Chunk::DataLf, b'\n') => Out::Chunked(Chunk::Size, 0),
        (Chunk::EndCr, b'\r') => Out::Chunked(Chunk::EndLf, 0),
        (Chunk::EndLf, b'\n') => Out::Head,
        _ => Out::Stop,
    }
}

/// The head at the start of `buf`, if all of it is there (the encoder writes a head whole, and
/// the dispatcher hands over everything it has not written yet, so it always is).
fn read_head(buf: &[u8]) -> Option<Head> {
    static HEAD_END: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\r\n\r\n"));
    let status_end = memchr::memchr(b'\n', buf)?;
    let status = match &buf[..status_end] {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            _,
            _,
            _,
            b' ',
            a,
            b,
            c,
            ..,
            b'\r',
        ] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return None,
    };
    let len = status_end - 1 + HEAD_END.find(&buf[status_end - 1..])? + 4;
    let mut head = Head {
        len,
        status,
        content_length: None,
        chunked: false,
        bare: false,
    };
    // The encoder writes the body's framing first, and no framing header after it; only a
    // refusal's status, or a head that does not start so, needs all of its lines read.
    let first = &buf[status_end + 1..len];
    if !REFUSALS.contains(&status) {
        if let Some(length) = first.strip_prefix(b"content-length: ") {
            let digits = &length[..memchr::memchr(b'\r', length)?];
            head.content_length = Some(std::str::from_utf8(digits).ok()?.parse().ok()?);
            return Some(head);
        }
        if first.starts_with(b"transfer-encoding: chunked\r\n") {
            head.chunked = true;
            return Some(head);
        }
    }
    head.bare = true;
    // Each header line ends with `\r\n`, and an empty line ends the head.
    for line in buf[status_end + 1..len - 2].split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = std::str::from_utf8(value).ok()?.parse().ok()?;
            head.bare &= length == 0;
            head.content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.bare = false;
            head.chunked = value.eq_ignore_ascii_case(b"chunked");
        } else if !name.eq_ignore_ascii_case(b"connection") && !name.eq_ignore_ascii_case(b"date") {
            head.bare = false;
        }
    }
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Tue, 24 Nov 2026 08:08:44 GMT\r\n";

    fn requests(wire: &[u8]) -> Requests {
        let mut requests = Requests::default();
        requests.read(wire);
        requests
    }

    fn refusal(status: &str) -> String {
        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n")
    }

    /// Writes `out` `piece` bytes at a time, as a socket taking that much per write would;
    /// returns the offset of the refusal found, if any.
    fn find_refusal(requests: &Requests, out: &[u8], piece: usize) -> Option<usize> {
        let mut responses = Responses::default();
        let mut pos = 0;
        while pos < out.len() {
            let buf = &out[pos..];
            let mut trial = responses;
            let walk = trial.walk(buf, buf.len(), requests, true);
            if walk.refusal.is_some() {
                return Some(pos);
            }
            let written = walk.passed.min(piece);
            responses.walk(buf, written, requests, false);
            pos += written;
        }
        None
    }

    fn every_piece(requests: &Requests, out: &[u8]) -> Option<usize> {
        let whole = find_refusal(requests, out, out.len());
        for piece in 1..out.len() {
            assert_eq!(
                find_refusal(requests, out, piece),
                whole,
                "{piece} at a time"
            );
        }
        whole
    }

    #[test]
    fn a_refusal_after_sized_chunked_head_and_interim_answers_is_found_where_it_starts() {
        let wire = b"GET /api/a HTTP/1.1\r\n\r\nHEAD /api/b HTTP/1.1\r\n\r\n\
            POST /api/c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx\
            GET /static/a HTTP/1.1\r\n\r\nGET /api/d HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        let mut out = String::new();
        out +=
            &format!("HTTP/1.1 200 OK\r\ncontent-length: 4\r\nx-request-id: r\r\n{DATE}\r\nbody");
        out += &format!("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n{DATE}\r\n");
        out += "HTTP/1.1 100 Continue\r\n\r\n";
        out += &format!("HTTP/1.1 201 Created\r\ncontent-length: 2\r\n{DATE}\r\n{{}}");
        out += &format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n{DATE}\r\n");
        out += "5\r\nHTTP/\r\n10\r\n1.1 400 Bad Requ\r\n0\r\n\r\n";
        let start = out.len();
        out += &refusal("400 Bad Request");
        assert_eq!(every_piece(&requests(wire), out.as_bytes()), Some(start));
    }

    #[test]
    fn the_application_s_answers_and_page_refusals_are_never_taken_for_a_refusal() {
        let wire = b"GET /api/a HTTP/1.1\r\n\r\nHEAD /api/b HTTP/1.1\r\n\r\nGET /checkout/x HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        let mut out = String::new();
        out += &format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: r\r\n{DATE}\r\n"
        );
        out += &refusal("400 Bad Request").replace("0\r\nconnection", "12\r\nconnection");
        out += &refusal("400 Bad Request");
        assert_eq!(every_piece(&requests(wire), out.as_bytes()), None);
    }

    #[test]
    fn a_refusal_of_a_head_request_or_of_no_known_request_is_left_alone() {
        let out = refusal("408 Request Timeout");
        assert_eq!(every_piece(&requests(b""), out.as_bytes()), None);
        let head = requests(b"HEAD /api/x HTTP/1.1\r\nX: ");
        assert_eq!(every_piece(&head, out.as_bytes()), None);
        let slow = requests(b"GET /api/x HTTP/1.1\r\nX: ");
        assert_eq!(every_piece(&slow, out.as_bytes()), Some(0));
    }

    #[test]
    fn an_answer_of_unknown_length_stops_the_search() {
        let wire = b"GET /api/a HTTP/1.0\r\n\r\nGET /api/b HTTP/1.1\r\nX";
        let mut out = format!("HTTP/1.0 200 OK\r\n{DATE}\r\nstreamed until the end");
        out += &refusal("431 Request Header Fields Too Large");
        assert_eq!(every_piece(&requests(wire), out.as_bytes()), None);
    }
}
