//! Messages: a JSON header in a frame, then an optional raw body.
//!
//! ```text
//! message = header [body]
//! header  = frame whose payload is one UTF-8 JSON object      (see `frame`)
//! body    = exactly `size` raw bytes, present when the header carries "size"
//! ```
//!
//! Requests carry `"op"`; replies carry `"ok"`. A failed reply is
//! `{"ok":false,"code":"not_found","error":"no such file: a.bin"}`. The tutorials'
//! `json.loads` of whatever arrived could raise anywhere; here every malformed header
//! becomes [`Error::BadHeader`] and the server answers `bad_request`.
//!
//! The readers are one family: [`read_object`] takes a header off the stream as an
//! untyped object; [`parse_header`] and [`parse_reply`] turn such an object into a
//! type; [`read_header`] and [`read_reply`] do both at once, for a reader that knows
//! what comes next. The writers mirror them: [`write_header`], [`write_ok`],
//! [`write_failure`] and [`write_error`].

use crate::error::{Error, ErrorCode, Result};
use crate::frame::{read_frame, write_frame};
use crate::limits::MAX_HEADER_LEN;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::{Read, Write};

/// Every request a client may send to the shell or file server.
///
/// `serde` does the checking: an unknown `op`, a missing field, a wrong type or an
/// unknown field all fail to parse, and the server answers `bad_request`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Log in. The server answers `{"ok":true}` or `auth_failed`.
    Login {
        /// User name from the users file.
        user: String,
        /// Password in clear; the transport is not encrypted (see docs/security.md).
        password: String,
    },
    /// Run a shell command in the session's directory.
    Exec {
        /// Passed to `/bin/sh -c`.
        cmd: String,
    },
    /// List the served files.
    List,
    /// Size and mtime of one file.
    Stat {
        /// A single path component.
        name: String,
    },
    /// Download a file from `offset` on.
    Get {
        /// A single path component.
        name: String,
        /// Where to start; non-zero when resuming.
        #[serde(default)]
        offset: u64,
    },
    /// Upload a file of `size` bytes.
    Put {
        /// A single path component.
        name: String,
        /// The whole file's size.
        size: u64,
        /// Continue an interrupted upload of the same name and size.
        #[serde(default)]
        resume: bool,
        /// Replace an existing file of that name.
        #[serde(default)]
        overwrite: bool,
    },
}

impl Request {
    /// The request's `op`, as the wire spells it.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Login { .. } => "login",
            Request::Exec { .. } => "exec",
            Request::List => "list",
            Request::Stat { .. } => "stat",
            Request::Get { .. } => "get",
            Request::Put { .. } => "put",
        }
    }
}

impl std::fmt::Debug for Request {
    // Hand-written so that a password never reaches a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Login { user, .. } => f
                .debug_struct("Login")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Request::Exec { cmd } => f.debug_struct("Exec").field("cmd", cmd).finish(),
            Request::List => f.write_str("List"),
            Request::Stat { name } => f.debug_struct("Stat").field("name", name).finish(),
            Request::Get { name, offset } => f
                .debug_struct("Get")
                .field("name", name)
                .field("offset", offset)
                .finish(),
            Request::Put {
                name,
                size,
                resume,
                overwrite,
            } => f
                .debug_struct("Put")
                .field("name", name)
                .field("size", size)
                .field("resume", resume)
                .field("overwrite", overwrite)
                .finish(),
        }
    }
}

/// The body of a failed reply: `{"ok":false,"code":…,"error":…}`.
#[derive(Debug, Serialize, Deserialize)]
struct Failure {
    /// Always false.
    ok: bool,
    /// The stable machine word.
    code: ErrorCode,
    /// A sentence for people.
    error: String,
}

/// Encodes `value` as a JSON header frame.
pub fn write_header<W: Write, T: Serialize + ?Sized>(w: &mut W, value: &T) -> Result<()> {
    let json =
        serde_json::to_vec(value).map_err(|e| Error::Other(format!("encoding a header: {e}")))?;
    write_frame(w, &json, MAX_HEADER_LEN)
}

/// Reads one header frame as an untyped JSON object, for a reader that must look at it
/// before it knows its type. `Ok(None)` on a clean close.
pub fn read_object<R: Read>(r: &mut R) -> Result<Option<Map<String, Value>>> {
    let Some(payload) = read_frame(r, MAX_HEADER_LEN)? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Strict>(&payload) {
        Ok(Strict(Value::Object(map))) => Ok(Some(map)),
        Ok(Strict(other)) => Err(Error::BadHeader(format!(
            "expected a JSON object, got {}",
            json_kind(&other)
        ))),
        Err(e) => Err(Error::BadHeader(e.to_string())),
    }
}

/// A JSON value that refuses an object with the same key twice, at any depth.
///
/// serde_json keeps the last of two equal keys, so `{"op":"list","op":"exec",…}`
/// would be an `exec` to this reader and a `list` to a reader that keeps the first
/// (a proxy, a log filter, an older client): two readers of one header must never
/// disagree about what it says. Every reader goes through [`read_object`], which parses
/// through this type; serde_json's own nesting limit still applies.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {key:?}"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads one header and parses it into `T` (a [`Request`], a trailer…). `Ok(None)` on
/// a clean close.
pub fn read_header<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>> {
    match read_object(r)? {
        None => Ok(None),
        Some(map) => parse_header(map).map(Some),
    }
}

/// Converts a header from [`read_object`] into `T`, turning serde's complaint into
/// [`Error::BadHeader`].
pub fn parse_header<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(map)).map_err(|e| Error::BadHeader(e.to_string()))
}

/// Sends a successful reply: `value`'s fields plus `"ok": true`.
pub fn write_ok<W: Write, T: Serialize>(w: &mut W, value: &T) -> Result<()> {
    let mut map = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => Map::new(),
        Ok(other) => {
            return Err(Error::Other(format!(
                "a reply must be a JSON object, not {}",
                json_kind(&other)
            )))
        }
        Err(e) => return Err(Error::Other(format!("encoding a reply: {e}"))),
    };
    map.insert("ok".into(), Value::Bool(true));
    write_header(w, &map)
}

/// Sends `{"ok":false,"code":…,"error":…}`.
pub fn write_failure<W: Write>(w: &mut W, code: ErrorCode, message: &str) -> Result<()> {
    write_header(
        w,
        &Failure {
            ok: false,
            code,
            error: message.to_owned(),
        },
    )
}

/// Sends the failed reply that describes `err`.
pub fn write_error<W: Write>(w: &mut W, err: &Error) -> Result<()> {
    let message = match err {
        // The peer sees its own words back without our "(code)" suffix.
        Error::Remote { message, .. } => message.clone(),
        other => other.to_string(),
    };
    write_failure(w, err.code(), &message)
}

/// Reads one reply. `{"ok":true,…}` is parsed into `T`; `{"ok":false,…}` becomes
/// [`Error::Remote`]; a close before any reply is [`Error::UnexpectedEof`].
pub fn read_reply<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<T> {
    let map = read_object(r)?.ok_or(Error::UnexpectedEof("waiting for a reply"))?;
    parse_reply(map)
}

/// Converts a reply from [`read_object`] as [`read_reply`] does, for a reader that
/// looked at it first.
pub fn parse_reply<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T> {
    match map.get("ok") {
        Some(Value::Bool(true)) => parse_header(map),
        Some(Value::Bool(false)) => {
            let failure: Failure = parse_header(map)?;
            Err(Error::Remote {
                code: failure.code,
                message: failure.error,
            })
        }
        _ => Err(Error::BadHeader(
            "a reply needs \"ok\": true or false".into(),
        )),
    }
}

/// An empty successful reply, `{"ok":true}`, for [`write_ok`] and [`read_reply`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frame(json: &str) -> Cursor<Vec<u8>> {
        let mut wire = Vec::new();
        write_frame(&mut wire, json.as_bytes(), MAX_HEADER_LEN).unwrap();
        Cursor::new(wire)
    }

    fn bad(json: &str) -> String {
        match read_header::<_, Request>(&mut frame(json)) {
            Err(Error::BadHeader(msg)) => msg,
            other => panic!("{json}: expected BadHeader, got {other:?}"),
        }
    }

    #[test]
    fn parses_every_request() {
        let cases = [
            (r#"{"op":"list"}"#, Request::List),
            (
                r#"{"op":"exec","cmd":"ls"}"#,
                Request::Exec { cmd: "ls".into() },
            ),
            (
                r#"{"op":"get","name":"a"}"#,
                Request::Get {
                    name: "a".into(),
                    offset: 0,
                },
            ),
            (
                r#"{"op":"put","name":"a","size":5,"resume":true}"#,
                Request::Put {
                    name: "a".into(),
                    size: 5,
                    resume: true,
                    overwrite: false,
                },
            ),
            (
                r#"{"op":"stat","name":"a"}"#,
                Request::Stat { name: "a".into() },
            ),
        ];
        for (json, want) in cases {
            assert_eq!(
                read_header::<_, Request>(&mut frame(json)).unwrap(),
                Some(want),
                "{json}"
            );
        }
    }

    #[test]
    fn rejects_unknown_op_missing_field_wrong_type() {
        assert!(bad(r#"{"op":"format_disk"}"#).contains("unknown variant"));
        assert!(bad(r#"{"op":"get"}"#).contains("missing field `name`"));
        assert!(bad(r#"{"op":"put","name":"a","size":"big"}"#).contains("invalid type"));
        assert!(bad(r#"{"op":"put","name":"a","size":-1}"#).contains("invalid value"));
        assert!(bad(r#"{"cmd":"ls"}"#).contains("missing field `op`"));
    }

    #[test]
    fn rejects_non_objects_and_invalid_json() {
        assert!(bad("[1,2]").contains("an array"));
        assert!(bad("\"list\"").contains("a string"));
        bad("{not json");
        // Invalid UTF-8 inside a JSON string.
        let mut wire = Vec::new();
        write_frame(&mut wire, b"{\"op\":\"\xff\"}", MAX_HEADER_LEN).unwrap();
        assert!(matches!(
            read_header::<_, Request>(&mut Cursor::new(wire)),
            Err(Error::BadHeader(_))
        ));
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        // serde_json alone keeps the last "op": this would run `id`.
        assert!(bad(r#"{"op":"list","op":"exec","cmd":"id"}"#).contains("duplicate key \"op\""));
        assert!(bad(r#"{"op":"exec","cmd":"ls","cmd":"id"}"#).contains("duplicate key"));
        assert!(bad(r#"{"op":"stat","name":{"a":1,"a":2}}"#).contains("duplicate key"));
        match read_reply::<_, Empty>(&mut frame(r#"{"ok":false,"ok":true}"#)) {
            Err(Error::BadHeader(msg)) => assert!(msg.contains("duplicate key"), "{msg}"),
            other => panic!("a reply with two \"ok\" keys was read as {other:?}"),
        }
        // Equal values in different objects are not duplicates.
        let map = read_object(&mut frame(r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#))
            .unwrap()
            .unwrap();
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
        let json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        bad(&json);
        let json = format!("{{\"op\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        bad(&json);
    }

    #[test]
    fn reply_round_trip_and_failure_becomes_remote_error() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Offset {
            offset: u64,
        }
        let mut wire = Vec::new();
        write_ok(&mut wire, &Offset { offset: 7 }).unwrap();
        write_failure(&mut wire, ErrorCode::NotFound, "no such file: a").unwrap();
        let mut r = Cursor::new(wire);
        assert_eq!(
            read_reply::<_, Offset>(&mut r).unwrap(),
            Offset { offset: 7 }
        );
        match read_reply::<_, Offset>(&mut r) {
            Err(Error::Remote {
                code: ErrorCode::NotFound,
                message,
            }) => {
                assert_eq!(message, "no such file: a")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_error_code_from_newer_peer_is_tolerated() {
        let mut r = frame(r#"{"ok":false,"code":"quota_exceeded","error":"over quota"}"#);
        match read_reply::<_, Empty>(&mut r) {
            Err(Error::Remote {
                code: ErrorCode::Unknown,
                message,
            }) => assert_eq!(message, "over quota"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let req = Request::Login {
            user: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{req:?}").contains("hunter2"));
    }
}
