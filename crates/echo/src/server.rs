//! The echo server: accept, then copy every byte back until the client closes.

use crate::busy_poll;
use socklab_proto::deadline::SetReadTimeout;
use socklab_proto::server::{serve, Conn, Listener, ServeOptions};
use socklab_proto::{Error, Result, IO_BUFFER};
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// How the echo server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Uppercase ASCII letters, as the tutorial's server did (`--upper`). Every other
    /// byte, UTF-8 included, is sent back unchanged.
    pub upper: bool,
    /// Close a connection that sends nothing, or does not read, for this long.
    pub idle_timeout: Option<Duration>,
    /// Spin this long for a connection's next message before sleeping in `read`
    /// (see [`crate::busy_poll`]); zero never spins. Zero by default here, so tests
    /// that drive the library do not spin; `echo-server` defaults to
    /// [`socklab_proto::BUSY_POLL`].
    pub busy_poll: Duration,
    /// The accept loop's cap, mode and stop flag.
    pub serve: ServeOptions,
}

/// Serves echo on `listener` (TCP or AF_UNIX) until `config.serve.shutdown` is raised.
pub fn run<L>(listener: L, config: ServerConfig) -> Result<()>
where
    L: Listener,
    L::Stream: SetReadTimeout + AsRawFd,
{
    let upper = config.upper;
    let idle = config.idle_timeout;
    let spin = config.busy_poll;
    serve(
        listener,
        &config.serve,
        move |stream, peer| {
            log::info!("{peer}: connected");
            match echo(stream, upper, idle, spin) {
                Ok((bytes_in, bytes_out)) => {
                    log::info!("{peer}: closed after {bytes_in} bytes in, {bytes_out} bytes out")
                }
                Err((e, bytes_in, bytes_out)) => log::info!(
                    "{peer}: dropped after {bytes_in} bytes in, {bytes_out} bytes out: {e}"
                ),
            }
        },
        // Echo has no way to say "busy": the refused client sees the connection close
        // at once, and the refusal is in the server's log.
        |stream, _peer| drop(stream),
    )
}

/// Copies `stream` back to itself until EOF. Returns the byte counts, with the error
/// that ended the connection if it did not end cleanly.
fn echo<S: Conn + SetReadTimeout + AsRawFd>(
    mut stream: S,
    upper: bool,
    idle: Option<Duration>,
    spin: Duration,
) -> std::result::Result<(u64, u64), (Error, u64, u64)> {
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    // The timeouts bound a client that goes silent (read) and one that stops reading
    // while we send (write): either way the thread is freed instead of held forever.
    if let Err(e) = stream
        .set_read_timeout(idle)
        .and_then(|()| stream.set_write_timeout_conn(idle))
    {
        return Err((Error::io("setting timeouts", e), 0, 0));
    }
    // One fixed buffer per connection, on the heap so 1,000 threads' stacks stay
    // small. Memory per connection is this buffer, whatever the client sends.
    let mut buf = vec![0u8; IO_BUFFER];
    loop {
        let n = match busy_poll::read(&mut stream, &mut buf, spin) {
            Ok(0) => return Ok((bytes_in, bytes_out)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((Error::io("reading", e), bytes_in, bytes_out)),
        };
        bytes_in += n as u64;
        if upper {
            // ASCII only: bytes >= 0x80 (every byte of a multi-byte UTF-8 character)
            // are left alone, so UTF-8 text survives intact.
            buf[..n].make_ascii_uppercase();
        }
        // `write_all`, not `write`: a single `send` may take only part of the buffer.
        if let Err(e) = stream.write_all(&buf[..n]) {
            return Err((Error::io("writing", e), bytes_in, bytes_out));
        }
        bytes_out += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab_proto::net::{tcp_listener, ListenOptions};
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn library_serves_on_port_zero_and_stops() {
        let l = tcp_listener("127.0.0.1:0".parse().unwrap(), ListenOptions::default()).unwrap();
        let addr = l.local_addr().unwrap();
        let config = ServerConfig {
            upper: true,
            ..ServerConfig::default()
        };
        let stop = config.serve.shutdown.clone();
        let server = std::thread::spawn(move || run(l, config));
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all("héllo wörld\n".as_bytes()).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "HéLLO WöRLD\n");
        stop.trigger();
        server.join().unwrap().unwrap();
    }
}
