//! # socklab-auth: who may log in
//!
//! The tutorials' "ssh" ran whatever arrived; their login exercise compared a
//! plaintext password from a dict. socklab's shell and file servers log every client
//! in first:
//!
//! - [`users`]: the users file, one `name:$argon2id$…` line per user, never a password;
//! - `pool`: verifying on a few dedicated threads, so memory stays bounded;
//! - [`login`]: the `{"op":"login"}` exchange on both ends, with its delay, failure
//!   count and total deadline; `guesses`: the turn each address waits for, across
//!   all of its connections;
//! - [`password`]: where a client's password comes from;
//! - [`args`]: the login flags the servers share, and socklab-passwd's; [`limits`]:
//!   the limits of login.
//!
//! Its binary, `socklab-passwd`, adds a user to a users file:
//!
//! ```text
//! terminal 1$ socklab-passwd --users .socklab/users alice    # asks twice, no echo
//! terminal 1$ shell-server --users .socklab/users
//! terminal 2$ shell-client --user alice -- id
//! ```

pub mod args;
mod guesses;
pub mod limits;
pub mod login;
pub mod password;
mod pool;
pub mod users;

pub use guesses::Guesses;
pub use login::{answer_login, client_login, server_login, LoginPolicy};
pub use users::Users;
