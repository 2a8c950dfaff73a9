//! The requests a connection has sent, framed as the HTTP/1 dispatcher frames them, so that a
//! response the dispatcher writes on its own can be matched with the request it refuses.
//!
//! Only what the rewrite needs is kept per request: whether it was a `HEAD` and whether its
//! path is under `/api/`, read from its request line. To know where the next request starts,
//! each head is followed to its end and its body skipped by the rules of `actix-http`'s decoder
//! (`Transfer-Encoding: chunked` before `Content-Length`, `Transfer-Encoding` only on HTTP/1.1,
//! a zero `Content-Length` is no body). Where a request breaks those rules the dispatcher
//! refuses it and reads no further, so the tracker stops there too.

use std::collections::VecDeque;

/// Bytes of a line kept when it arrives in pieces: enough for a method, a path's start and the
/// framing headers' values. Longer lines keep their start and their last bytes.
const LINE_CAP: usize = 256;
/// Bytes of a line's end kept beyond the cap: the request line's `HTTP/1.1` and its `\r`.
const TAIL: usize = 9;

/// What the rewrite needs to know about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The method is `HEAD`: its answer has no body, whatever the status.
    pub head: bool,
    /// The path is `/api` or under `/api/`.
    pub api: bool,
}

/// The framing of the requests read on one connection.
#[derive(Debug, Default)]
pub struct Requests {
    /// Requests whose request line is complete, the first being request number `first`.
    targets: VecDeque<Target>,
    first: u64,
    state: State,
    /// The current line, when it spans reads.
    line: Line,
    /// The framing headers of the head being read.
    framing: Framing,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a request line; empty lines are skipped (as `httparse` does).
    #[default]
    Start,
    RequestLine,
    Headers,
    /// This many body bytes remain.
    Body(u64),
    Chunked(Chunk, u64),
    /// Nothing after this is read as a request: the body runs to the end of the connection,
    /// or the dispatcher refuses this request and stops reading.
    Done,
}

/// The chunked body states of `actix-http`'s decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    EndCr,
    EndLf,
}

#[derive(Debug, Default)]
struct Line {
    start: Vec<u8>,
    tail: [u8; TAIL],
    len: usize,
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.start.len());
        self.start
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        for &b in bytes.iter().rev().take(TAIL).rev() {
            self.tail.copy_within(1.., 0);
            self.tail[TAIL - 1] = b;
        }
        self.len += bytes.len();
    }

    fn clear(&mut self) {
        self.start.clear();
        self.len = 0;
    }

    fn truncated(&self) -> bool {
        self.len > self.start.len()
    }

    /// The line's last bytes (at most [`TAIL`]).
    fn end(&self) -> &[u8] {
        if self.truncated() {
            &self.tail[TAIL - self.len.min(TAIL)..]
        } else {
            &self.start[self.start.len().saturating_sub(TAIL)..]
        }
    }
}

/// What a head's lines said about its body.
#[derive(Debug, Default, Clone, Copy)]
struct Framing {
    http11: bool,
    post: bool,
    connect: bool,
    content_length: Option<u64>,
    seen_te: bool,
    chunked: bool,
    websocket: bool,
    refused: bool,
}

impl Requests {
    /// Follows the bytes just read from the connection.
    pub fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Done => return,
                State::Body(remaining) => {
                    let n = remaining.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    self.state = if n == remaining {
                        State::Start
                    } else {
                        State::Body(remaining - n)
                    };
                }
                State::Chunked(Chunk::Data, remaining) => {
                    let n = remaining.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    self.state = State::Chunked(
                        if n == remaining {
                            Chunk::DataCr
                        } else {
                            Chunk::Data
                        },
                        remaining - n,
                    );
                }
                State::Chunked(chunk, size) => {
                    self.state = chunk_step(chunk, size, bytes[0]);
                    bytes = &bytes[1..];
                }
                State::Start if bytes[0] == b'\n' || bytes[0] == b'\r' => {
                    // `\r` must be followed by `\n`; anything else is refused and ends here.
                    if bytes[0] == b'\r' && bytes.get(1).is_some_and(|&b| b != b'\n') {
                        self.state = State::Done;
                    }
                    bytes = &bytes[1..];
                }
                State::Start | State::RequestLine | State::Headers => {
                    if self.state == State::Start {
                        self.state = State::RequestLine;
                    }
                    match memchr::memchr(b'\n', bytes) {
                        Some(end) => {
                            let piece = &bytes[..end];
                            bytes = &bytes[end + 1..];
                            if self.line.len == 0 {
                                self.end_of_line(strip_cr(piece), None);
                            } else {
                                let mut line = std::mem::take(&mut self.line);
                                line.push(piece);
                                let (start, end) = (strip_cr(&line.start), strip_cr(line.end()));
                                let truncated = line.truncated();
                                self.end_of_line(start, truncated.then_some(end));
                                line.clear();
                                self.line = line;
                            }
                        }
                        None => {
                            self.line.push(bytes);
                            bytes = &[];
                        }
                    }
                }
            }
        }
    }

    /// Request number `index`: complete, or the one whose request line is still arriving.
    pub fn target(&self, index: u64) -> Option<Target> {
        let known = self.first + self.targets.len() as u64;
        if index < self.first {
            None
        } else if index < known {
            self.targets.get((index - self.first) as usize).copied()
        } else if index == known && self.state == State::RequestLine {
            Some(request_target(&self.line.start, false))
        } else {
            None
        }
    }

    /// Stops following: the responses can no longer be matched with requests.
    pub fn stop(&mut self) {
        self.state = State::Done;
        self.targets = VecDeque::new();
    }

    /// Forgets the requests before number `index`: they have been answered.
    pub fn answered_before(&mut self, index: u64) {
        while self.first < index && self.targets.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// One complete line, without its line ending. `end` is the line's last bytes when `line`
    /// holds only its start.
    fn end_of_line(&mut self, line: &[u8], end: Option<&[u8]>) {
        let truncated = end.is_some();
        let end = end.unwrap_or(line);
        match self.state {
            State::RequestLine => {
                self.targets.push_back(request_target(line, true));
                self.framing = Framing {
                    http11: end.ends_with(b"HTTP/1.1"),
                    post: line.starts_with(b"POST "),
                    connect: line.starts_with(b"CONNECT "),
                    ..Framing::default()
                };
                self.state = State::Headers;
            }
            State::Headers if line.is_empty() => self.state = self.framing.body(),
            State::Headers => self.framing.header(line, truncated),
            _ => {}
        }
    }
}

/// A request line's method and path: `complete` when the whole line was seen.
fn request_target(line: &[u8], complete: bool) -> Target {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next();
    // The path is whole once a space follows it.
    let whole = complete || parts.next().is_some();
    Target {
        head: method == b"HEAD",
        api: target.is_some_and(|t| is_api_path(t, whole)),
    }
}

/// `/api`, `/api/…` or `/api?…`, also in absolute form (`http://host/api/…`).
fn is_api_path(target: &[u8], whole: bool) -> bool {
    let lower = |n: usize| target.get(..n).map(<[u8]>::to_ascii_lowercase);
    let path =
        if lower(7).as_deref() == Some(b"http://") || lower(8).as_deref() == Some(b"https://") {
            let after_scheme = if target[4] == b':' { 7 } else { 8 };
            match memchr::memchr(b'/', &target[after_scheme..]) {
                Some(slash) => &target[after_scheme + slash..],
                None => return false,
            }
        } else {
            target
        };
    path.starts_with(b"/api/") || path.starts_with(b"/api?") || (whole && path == b"/api")
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Framing {
    /// One header line, by `actix-http`'s rules for the headers that frame a body.
    fn header(&mut self, line: &[u8], truncated: bool) {
        let Some(colon) = memchr::memchr(b':', line) else {
            self.refused = true;
            return;
        };
        let name = &line[..colon];
        let is = |wanted: &str| name.eq_ignore_ascii_case(wanted.as_bytes());
        if !(is("content-length") || is("transfer-encoding") || is("upgrade")) {
            return;
        }
        let value = line[colon + 1..].trim_ascii();
        if truncated
            || !value
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            // A value this long or with bytes a header value cannot hold: refused, or at least
            // not followed, so nothing after it is taken for a request.
            self.refused = true;
        } else if is("content-length") {
            let digits = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
            match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                Some(length) if digits && self.content_length.is_none() => {
                    self.content_length = Some(length)
                }
                _ => self.refused = true,
            }
        } else if is("transfer-encoding") {
            if self.seen_te {
                self.refused = true;
            } else if self.http11 {
                self.seen_te = true;
                if value.eq_ignore_ascii_case(b"chunked") {
                    self.chunked = true;
                } else if !value.eq_ignore_ascii_case(b"identity") {
                    self.refused = true;
                }
            }
        } else if value.eq_ignore_ascii_case(b"websocket") {
            self.websocket = true;
        }
    }

    /// Where the head that just ended leaves the connection.
    fn body(&self) -> State {
        let length = if self.chunked {
            Some(State::Chunked(Chunk::Size, 0))
        } else if self.websocket {
            Some(State::Done)
        } else {
            self.content_length.map(State::Body)
        };
        match length {
            _ if self.refused => State::Done,
            // An HTTP/1.0 POST must say how long its body is.
            None if self.post && !self.http11 => State::Done,
            Some(State::Body(0)) | None if !self.connect => State::Start,
            // CONNECT without a length: the rest of the connection is its body.
            Some(State::Body(0)) | None => State::Done,
            Some(state) => state,
        }
    }
}

/// One byte of a chunked body outside a chunk's data, as `actix-http`'s `ChunkedState` reads
/// it; a byte it refuses ends the connection (the dispatcher answers nothing then).
fn chunk_step(chunk: Chunk, size: u64, b: u8) -> State {
    let next = |chunk| State::Chunked(chunk, size);
    match (chunk, b) {
        (Chunk::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
            let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
            match size.checked_mul(16) {
                Some(n) => State::Chunked(Chunk::Size, n + digit),
                None => State::Done,
            }
        }
        (Chunk::Size | Chunk::SizeLws, b'\t' | b' ') => next(Chunk::SizeLws),
        (Chunk::Size | Chunk::SizeLws, b';') => next(Chunk::Extension),
        (Chunk::Size | Chunk::SizeLws | Chunk::Extension, b'\r') => next(Chunk::SizeLf),
        (Chunk::Extension, 0x00..=0x08 | 0x0a..=0x1f | 0x7f) => State::Done,
        (Chunk::Extension, _) => next(Chunk::Extension),
        (Chunk::SizeLf, b'\n') if size > 0 => next(Chunk::Data),
        (Chunk::SizeLf, b'\n') => next(Chunk::EndCr),
        (Chunk::DataCr, b'\r') => State::Chunked(Chunk::DataLf, 0),
        (Chunk::DataLf, b'\n') => State::Chunked(Chunk::Size, 0),
        (Chunk::EndCr, b'\r') => next(Chunk::EndLf),
        (Chunk::EndLf, b'\n') => State::Start,
        _ => State::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: Target = Target {
        head: false,
        api: true,
    };
    const PAGE: Target = Target {
        head: false,
        api: false,
    };

    /// Reads `wire` in pieces of every size from 1 to its length, and checks that the same
    /// requests are seen each way.
    fn targets_in_pieces(wire: &[u8]) -> Vec<Option<Target>> {
        let whole = targets(wire, wire.len());
        for piece in 1..wire.len() {
            assert_eq!(targets(wire, piece), whole, "read {piece} bytes at a time");
        }
        whole
    }

    fn targets(wire: &[u8], piece: usize) -> Vec<Option<Target>> {
        let mut requests = Requests::default();
        for chunk in wire.chunks(piece) {
            requests.read(chunk);
        }
        (0..6).map(|i| requests.target(i)).collect()
    }

    #[test]
    fn requests_are_found_after_bodies_of_every_framing() {
        let wire = b"POST /api/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /\
            GET /checkout/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nGET\r\n0\r\n\r\n\
            \r\nHEAD /api/b HTTP/1.1\r\nHost: h\r\n\r\n\
            PUT /api?x HTTP/1.1\r\ncontent-length: 0\r\n\r\n\
            GET /apiary HTTP/1.1\r\n\r\n";
        let head = Target {
            head: true,
            api: true,
        };
        assert_eq!(
            targets_in_pieces(wire),
            [
                Some(API),
                Some(PAGE),
                Some(head),
                Some(API),
                Some(PAGE),
                None
            ]
        );
    }

    #[test]
    fn chunked_wins_over_content_length_and_http_1_0_ignores_transfer_encoding() {
        let wire = b"POST /a HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
            POST /api/b HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\
            GET /api/c HTTP/1.1\r\n\r\n";
        assert_eq!(
            targets_in_pieces(wire),
            [Some(PAGE), Some(API), Some(API), None, None, None]
        );
    }

    #[test]
    fn nothing_is_read_as_a_request_after_a_head_the_dispatcher_refuses() {
        for refused in [
            &b"POST /a HTTP/1.1\r\nContent-Length: abc\r\n\r\n"[..],
            b"POST /a HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST /a HTTP/1.0\r\n\r\n",
            b"GET /a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"CONNECT a:1 HTTP/1.1\r\n\r\n",
        ] {
            let mut wire = refused.to_vec();
            wire.extend_from_slice(b"GET /api/next HTTP/1.1\r\n\r\n");
            let found = targets_in_pieces(&wire);
            assert_eq!(found[1], None, "{}", String::from_utf8_lossy(refused));
        }
    }

    #[test]
    fn a_request_line_still_arriving_is_known_by_its_start() {
        let mut requests = Requests::default();
        requests.read(b"\r\nPOST /api/gateway/sess");
        assert_eq!(requests.target(0), Some(API));
        let mut requests = Requests::default();
        requests.read(b"GET /api");
        assert_eq!(requests.target(0), Some(PAGE), "may still become /apiary");
        requests.read(b" HTTP/1.1\r\nX-Long: ");
        assert_eq!(requests.target(0), Some(API));
        requests.read(&[b'a'; 200_000]);
        assert_eq!(requests.target(0), Some(API));
        assert_eq!(requests.target(1), None);
    }

    #[test]
    fn a_long_request_line_keeps_its_version_and_absolute_form_is_understood() {
        let mut line = b"POST /api/x?q=".to_vec();
        line.extend_from_slice(&[b'q'; 1000]);
        line.extend_from_slice(b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        line.extend_from_slice(b"GET http://example.test/api/y HTTP/1.1\r\n\r\n");
        line.extend_from_slice(b"GET HTTPS://example.test HTTP/1.1\r\n\r\n");
        assert_eq!(
            targets_in_pieces(&line),
            [Some(API), Some(API), Some(PAGE), None, None, None]
        );
    }

    #[test]
    fn answered_requests_are_forgotten() {
        let mut requests = Requests::default();
        requests.read(b"GET /a HTTP/1.1\r\n\r\nGET /api/b HTTP/1.1\r\n\r\n");
        requests.answered_before(1);
        assert_eq!(requests.target(0), None);
        assert_eq!(requests.target(1), Some(API));
        requests.answered_before(5);
        assert_eq!(requests.target(1), None);
        requests.read(b"GET /api/c HTTP/1.1\r\n\r\n");
        assert_eq!(requests.target(2), Some(API));
    }
}
