//! The connection under the HTTP/1 dispatcher, so that the errors `actix-http` answers on its
//! own carry the API's error envelope.
//!
//! The dispatcher refuses a request it cannot read with a bare head and no body: 400 for a
//! malformed request line, header or body framing (`Content-Length: abc`), 431 for a head
//! over 128 KiB, 408 for a first head that takes longer than `head_timeout_seconds`. None of
//! these reach the application, and `actix-http` offers no hook to answer them otherwise.
//! [`Connection`] sits between the dispatcher and the socket: it follows the requests read
//! (`requests.rs`) and the responses written (`responses.rs`) as the dispatcher frames them,
//! and when the next response to write is such a refusal of a request to an `/api/` path (not
//! a `HEAD`), it writes the same status with the error envelope instead (`refusal.rs`). Pages
//! keep the bare refusal: a browser shows its own page for it.
//!
//! Everything else passes through unchanged: the application's own responses carry
//! `x-request-id`, which a refusal never has, so they are never taken for one.

mod refusal;
mod requests;
mod responses;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use requests::Requests;
use responses::Responses;

/// A connection whose refusals of API requests are rewritten with the error envelope.
pub struct Connection<T> {
    io: T,
    requests: Requests,
    responses: Responses,
    rewrite: Option<Rewrite>,
}

/// A rewritten refusal being written, in place of the dispatcher's `stands_for` bytes.
struct Rewrite {
    bytes: Vec<u8>,
    written: usize,
    stands_for: usize,
}

impl<T> Connection<T> {
    pub fn new(io: T) -> Connection<T> {
        Connection {
            io,
            requests: Requests::default(),
            responses: Responses::default(),
            rewrite: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> Connection<T> {
    /// Writes the rewritten refusal; reports the dispatcher's head as written once all of it is.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Some(rewrite) = &mut self.rewrite else {
            return Poll::Ready(Ok(0));
        };
        while rewrite.written < rewrite.bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &rewrite.bytes[rewrite.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                Poll::Ready(Ok(n)) => rewrite.written += n,
                other => return other,
            }
        }
        let done = rewrite.stands_for.min(buf.len());
        self.rewrite = None;
        Poll::Ready(Ok(done))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Connection<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.requests.read(&buf.filled()[before..]);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Connection<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewrite.is_some() {
            return this.poll_rewrite(cx, buf);
        }
        if this.responses.stopped() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        let before = this.responses;
        let mut walk = this.responses.walk(buf, buf.len(), &this.requests, true);
        if let Some(found) = walk.refusal {
            // A refusal starts this buffer: nothing of it has been written yet.
            if let Some(bytes) = refusal::rewrite(&buf[..found.len], found.status) {
                this.responses.walk(buf, found.len, &this.requests, false);
                this.requests.answered_before(this.responses.next_request());
                this.rewrite = Some(Rewrite {
                    bytes,
                    written: 0,
                    stands_for: found.len,
                });
                return this.poll_rewrite(cx, buf);
            }
            this.responses = before;
            walk = this.responses.walk(buf, buf.len(), &this.requests, false);
        }
        let poll = Pin::new(&mut this.io).poll_write(cx, &buf[..walk.passed]);
        match poll {
            Poll::Ready(Ok(written)) => {
                if written < walk.passed {
                    // The socket took less: follow only what it took.
                    this.responses = before;
                    this.responses.walk(buf, written, &this.requests, false);
                }
                if this.responses.stopped() {
                    this.requests.stop();
                } else {
                    this.requests.answered_before(this.responses.next_request());
                }
            }
            _ => this.responses = before,
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `max` bytes per write and is not ready every other time.
    struct Trickle {
        out: Vec<u8>,
        max: usize,
        ready: bool,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.ready = !self.ready;
            if !self.ready {
                return Poll::Pending;
            }
            let n = buf.len().min(self.max);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `buf` as the dispatcher does: what is left of it, again, until all is taken.
    fn write_all(connection: &mut Connection<Trickle>, buf: &[u8]) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut written = 0;
        while written < buf.len() {
            if let Poll::Ready(n) = Pin::new(&mut *connection).poll_write(&mut cx, &buf[written..])
            {
                let n = n.expect("the socket takes it");
                assert!(n > 0 && written + n <= buf.len());
                written += n;
            }
        }
    }

    #[test]
    fn partial_writes_keep_the_application_s_bytes_and_rewrite_the_refusal_after_them() {
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-request-id: r\r\n\r\nok";
        let refusal = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let wire = format!("{answer}{refusal}");
        for max in 1..=wire.len() {
            let mut connection = Connection::new(Trickle {
                out: Vec::new(),
                max,
                ready: false,
            });
            connection.requests.read(
                b"GET /api/a HTTP/1.1\r\n\r\nPOST /api/b HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            );
            write_all(&mut connection, wire.as_bytes());
            let out = String::from_utf8(connection.io.out).expect("text");
            let rewritten = out.strip_prefix(answer).expect("the answer unchanged");
            assert!(
                rewritten
                    .starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"),
                "{max}: {rewritten}"
            );
            assert!(
                rewritten.contains("\"code\":\"malformed_request\""),
                "{rewritten}"
            );
        }
    }
}
