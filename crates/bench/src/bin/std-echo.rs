//! `std-echo`: the simplest correct echo server, the bench's reference for every echo
//! row. A thread per connection, `read` into a 64 KiB buffer and `write_all` it back
//! (the buffer echo-server uses), nothing else: no limits, no timeouts, no logging.
//! Not for use outside the bench.
//!
//! ```text
//! terminal 1$ std-echo --port 7008        # listening on 127.0.0.1:7008
//! terminal 2$ printf 'hello\n' | nc -N 127.0.0.1 7008
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return stream.shutdown(Shutdown::Write),
            Ok(n) => stream.write_all(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() -> ExitCode {
    // `--port N` (what testkit passes); anything else is refused.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match args.as_slice() {
        [] => 0,
        [flag, n] if flag == "--port" => match n.parse::<u16>() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: --port {n}: {e}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: std-echo [--port N]");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: binding 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        println!("listening on {addr}");
        let _ = std::io::stdout().flush();
    }
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream));
    }
    ExitCode::SUCCESS
}
