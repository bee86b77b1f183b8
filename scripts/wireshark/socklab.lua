-- socklab.lua: a Wireshark / tshark dissector for socklab's wire protocols.
--
--   tshark -X lua_script:scripts/wireshark/socklab.lua -r target/capture/ftp.pcapng -Y socklab
--   wireshark -X lua_script:scripts/wireshark/socklab.lua   (or copy it to ~/.local/lib/wireshark/plugins/)
--
-- What it dissects (docs/protocol.md draws every format byte by byte):
--   * the framed protocol of the shell (TCP 7022) and file transfer (TCP 7021): each
--     message is a u32 big-endian length, then that many bytes of a JSON object; some
--     headers announce a raw body of "size" bytes, and a get or put body is followed
--     by a trailer header {"md5":...}. Messages are found however TCP cut or glued
--     them (sticky packets): several in one segment, one over many segments.
--   * UDP chat (UDP 7009): one datagram, one line of text.
--   * TCP echo (TCP 7007): raw bytes; a connection whose first bytes look like a frame
--     (as the sticky-packets demo sends) is dissected as frames.
-- Other ports: the preferences below, or Decode As (TCP/UDP port -> SOCKLAB), or
-- tshark -d tcp.port==N,socklab. Inside TLS it is registered for the ALPN names
-- socklab-shell/1 and socklab-ftp/1 (with SSLKEYLOGFILE given to tls.keylog_file,
-- tshark decrypts the session and this dissector reads the plaintext).
--
-- Which headers a body follows needs state, kept per TCP stream and direction:
--   * {"stream":"stdout|stderr|stdin","size":N}: N bytes follow, same direction;
--   * the reply {"ok":true,"size":S} to a get with "offset" K: S-K bytes follow;
--   * the reply {"ok":true,"offset":K} to a put with "size" S: the client sends S-K
--     bytes, then its trailer.
-- The state at the start of every call is remembered on the first pass, so a packet
-- dissected again (clicked in the GUI, tshark -2) is read exactly as it was the first
-- time. Bodies are never reassembled (a body may be gigabytes): each segment shows
-- the part it carries. Headers are reassembled (at most 64 KiB + 4).

local MAX_HEADER_LEN = 64 * 1024 -- crates/proto/src/limits.rs
local MAX_ECHO_FRAME = 16 * 1024 * 1024 -- frames through echo carry any bytes, not headers
local MAX_DEPTH = 128 -- serde_json's recursion limit: deeper is a bad header

local p = Proto("socklab", "socklab")

local f = {
    -- framing
    len = ProtoField.uint32("socklab.len", "Header length", base.DEC),
    json = ProtoField.string("socklab.json", "JSON header"),
    kind = ProtoField.string("socklab.kind", "Message kind"),
    msg = ProtoField.string("socklab.msg", "Message summary"),
    payload = ProtoField.string("socklab.payload", "Frame payload (not JSON)"),
    -- header fields
    op = ProtoField.string("socklab.op", "Operation"),
    ok = ProtoField.bool("socklab.ok", "OK"),
    code = ProtoField.string("socklab.code", "Error code"),
    error = ProtoField.string("socklab.error", "Error message"),
    user = ProtoField.string("socklab.user", "User"),
    password = ProtoField.string("socklab.password", "Password"),
    name = ProtoField.string("socklab.name", "Name"),
    path = ProtoField.string("socklab.path", "Path"),
    size = ProtoField.uint64("socklab.size", "Size", base.DEC),
    offset = ProtoField.uint64("socklab.offset", "Offset", base.DEC),
    stream = ProtoField.string("socklab.stream", "Stream"),
    exit = ProtoField.int32("socklab.exit", "Exit code", base.DEC),
    signal = ProtoField.int32("socklab.signal", "Signal", base.DEC),
    timed_out = ProtoField.bool("socklab.timed_out", "Timed out"),
    md5 = ProtoField.string("socklab.md5", "MD5"),
    cmd = ProtoField.string("socklab.cmd", "Command"),
    cwd = ProtoField.string("socklab.cwd", "Directory"),
    resume = ProtoField.bool("socklab.resume", "Resume"),
    overwrite = ProtoField.bool("socklab.overwrite", "Overwrite"),
    files = ProtoField.uint32("socklab.files", "Files listed", base.DEC),
    truncated = ProtoField.bool("socklab.truncated", "List truncated"),
    -- bodies
    body = ProtoField.bytes("socklab.body", "Body"),
    body_len = ProtoField.uint32("socklab.body.len", "Body bytes in this segment", base.DEC),
    body_at = ProtoField.uint64("socklab.body.at", "Position of these bytes in the body", base.DEC),
    body_total = ProtoField.uint64("socklab.body.total", "Body size", base.DEC),
    -- chat
    chat_text = ProtoField.string("socklab.chat.text", "Text"),
    chat_nick = ProtoField.string("socklab.chat.nick", "Nick"),
    chat_command = ProtoField.string("socklab.chat.command", "Command"),
    chat_arg = ProtoField.string("socklab.chat.arg", "Command argument"),
    chat_notice = ProtoField.string("socklab.chat.notice", "Server notice"),
    chat_error = ProtoField.string("socklab.chat.error", "Error"),
    -- echo
    echo_text = ProtoField.string("socklab.echo.text", "Echo bytes (as text)"),
    echo_len = ProtoField.uint32("socklab.echo.len", "Echo bytes in this segment", base.DEC),
}
p.fields = f

local ex = {
    bad_len = ProtoExpert.new("socklab.bad_len", "Header length over the 64 KiB limit",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_json = ProtoExpert.new("socklab.bad_json", "Header is not a JSON object",
        expert.group.MALFORMED, expert.severity.ERROR),
    lost = ProtoExpert.new("socklab.lost", "Out of step: earlier bytes of this stream were not captured or not understood",
        expert.group.SEQUENCE, expert.severity.WARN),
    failure = ProtoExpert.new("socklab.failure", "Refusal",
        expert.group.RESPONSE_CODE, expert.severity.NOTE),
}
p.experts = ex

p.prefs.framed_ports = Pref.range("Framed TCP ports", "7021-7022",
    "TCP ports of the framed protocol (ftp-server, shell-server)", 65535)
p.prefs.chat_ports = Pref.range("Chat UDP ports", "7009", "UDP ports of chat-server", 65535)
p.prefs.echo_ports = Pref.range("Echo TCP ports", "7007", "TCP ports of echo-server", 65535)
p.prefs.show_password = Pref.bool("Show login passwords", false,
    "Show the password of a login request instead of <hidden>")

---------------------------------------------------------------------------------
-- A small JSON reader: values and the byte span of each top-level value.

local function json_error(msg) error({ json = msg }, 0) end

local parse_value
local printable

local function skip_ws(s, i)
    local _, e = s:find("^[ \t\r\n]*", i)
    return e + 1
end

local function parse_string(s, i)
    -- s:sub(i, i) == '"'
    local out, j = {}, i + 1
    while true do
        local c = s:sub(j, j)
        if c == "" then json_error("unterminated string") end
        if c == '"' then return table.concat(out), j + 1 end
        if c == "\\" then
            local e = s:sub(j + 1, j + 1)
            local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
            if simple[e] then
                out[#out + 1] = simple[e]
                j = j + 2
            elseif e == "u" then
                local hex = s:sub(j + 2, j + 5)
                if not hex:match("^%x%x%x%x$") then json_error("bad \\u escape") end
                local cp = tonumber(hex, 16)
                j = j + 6
                if cp >= 0xD800 and cp <= 0xDBFF and s:sub(j, j + 1) == "\\u" then
                    local lo = tonumber(s:sub(j + 2, j + 5), 16)
                    if lo and lo >= 0xDC00 and lo <= 0xDFFF then
                        cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
                        j = j + 6
                    end
                end
                if cp < 0x80 then
                    out[#out + 1] = string.char(cp)
                elseif cp < 0x800 then
                    out[#out + 1] = string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
                elseif cp < 0x10000 then
                    out[#out + 1] = string.char(0xE0 + math.floor(cp / 0x1000),
                        0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
                else
                    out[#out + 1] = string.char(0xF0 + math.floor(cp / 0x40000),
                        0x80 + math.floor(cp / 0x1000) % 0x40, 0x80 + math.floor(cp / 0x40) % 0x40,
                        0x80 + cp % 0x40)
                end
            else
                json_error("bad escape")
            end
        else
            local k = s:find('["\\]', j)
            if not k then json_error("unterminated string") end
            out[#out + 1] = s:sub(j, k - 1)
            j = k
        end
    end
end

parse_value = function(s, i, depth)
    if depth > MAX_DEPTH then json_error("nested too deeply") end
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "{" then
        local obj = {}
        i = skip_ws(s, i + 1)
        if s:sub(i, i) == "}" then return obj, i + 1 end
        while true do
            i = skip_ws(s, i)
            if s:sub(i, i) ~= '"' then json_error("expected a key") end
            local k
            k, i = parse_string(s, i)
            i = skip_ws(s, i)
            if s:sub(i, i) ~= ":" then json_error("expected ':'") end
            obj[k], i = parse_value(s, i + 1, depth + 1)
            i = skip_ws(s, i)
            c = s:sub(i, i)
            if c == "}" then return obj, i + 1 end
            if c ~= "," then json_error("expected ',' or '}'") end
            i = i + 1
        end
    elseif c == "[" then
        local arr = { n = 0 }
        i = skip_ws(s, i + 1)
        if s:sub(i, i) == "]" then return arr, i + 1 end
        while true do
            arr.n = arr.n + 1
            arr[arr.n], i = parse_value(s, i, depth + 1)
            i = skip_ws(s, i)
            c = s:sub(i, i)
            if c == "]" then return arr, i + 1 end
            if c ~= "," then json_error("expected ',' or ']'") end
            i = i + 1
        end
    elseif c == '"' then
        return parse_string(s, i)
    elseif s:sub(i, i + 3) == "true" then
        return true, i + 4
    elseif s:sub(i, i + 4) == "false" then
        return false, i + 5
    elseif s:sub(i, i + 3) == "null" then
        return nil, i + 4
    else
        local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
        if not num or num == "" then json_error("unexpected character") end
        -- Keep the text too: sizes are u64, exact beyond 2^53 only as text.
        return { number = tonumber(num), text = num }, i + #num
    end
end

-- Parses a JSON object; returns (obj, spans) where spans[key] = {start, length} of
-- each top-level value (0-based within s), or (nil, message).
local function parse_object(s)
    local ok, res = pcall(function()
        local i = skip_ws(s, 1)
        if s:sub(i, i) ~= "{" then json_error("not an object") end
        local obj, spans = {}, {}
        i = skip_ws(s, i + 1)
        if s:sub(i, i) == "}" then
            i = i + 1
        else
            while true do
                i = skip_ws(s, i)
                if s:sub(i, i) ~= '"' then json_error("expected a key") end
                local k
                k, i = parse_string(s, i)
                i = skip_ws(s, i)
                if s:sub(i, i) ~= ":" then json_error("expected ':'") end
                local vstart = skip_ws(s, i + 1)
                local v
                v, i = parse_value(s, vstart, 1)
                obj[k] = v
                spans[k] = { vstart - 1, i - vstart }
                i = skip_ws(s, i)
                local c = s:sub(i, i)
                i = i + 1
                if c == "}" then break end
                if c ~= "," then json_error("expected ',' or '}'") end
            end
        end
        if skip_ws(s, i) <= #s then json_error("bytes after the object") end
        return { obj, spans }
    end)
    if ok then return res[1], res[2] end
    if type(res) == "table" and res.json then return nil, res.json end
    error(res, 0)
end

local function num(v) if type(v) == "table" then return v.number end end
local function numtext(v) if type(v) == "table" then return v.text end end
local function str(v) if type(v) == "string" then return v end end

---------------------------------------------------------------------------------
-- Per-stream state.

local streams = {}  -- tcp stream id -> { dirs = { [dirkey] = dir }, client = dirkey, pending = req }
local snapshots = {} -- call key -> deep copy of the stream's state at the start of the call

local function copy(t)
    if type(t) ~= "table" then return t end
    local c = {}
    for k, v in pairs(t) do c[k] = copy(v) end
    return c
end

function p.init()
    streams = {}
    snapshots = {}
end

local tcp_stream = Field.new("tcp.stream")

local function dirkey(pinfo) return tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port) end

local function dir_of(st, key)
    local d = st.dirs[key]
    if not d then
        d = { body_left = 0, body_total = 0, body_at = 0, lost = false }
        st.dirs[key] = d
    end
    return d
end

-- The state this call starts from: live on the first pass (remembered), a copy of
-- what was remembered on any later pass.
local function state_for(pinfo, tvb)
    local id = tcp_stream()
    id = id and id.value or -1
    local key = pinfo.number .. ":" .. tvb:offset() .. ":" .. tvb:reported_len()
    if not pinfo.visited then
        streams[id] = streams[id] or { dirs = {} }
        snapshots[key] = copy(streams[id])
        return streams[id]
    end
    return copy(snapshots[key]) or { dirs = {} }
end

---------------------------------------------------------------------------------
-- One header message.

-- At most 40 characters of raw bytes, non-printable ones escaped.
printable = function(raw)
    local s = raw:sub(1, 40):gsub("[^\32-\126]", function(c)
        if c == "\n" then return "\\n" end
        return string.format("\\x%02x", c:byte())
    end)
    if #raw > 40 then s = s .. string.format("... (%d bytes)", #raw) end
    return s
end

-- Text bodies (shell output) are shown; binary ones (files) only counted.
local function preview(raw)
    if raw:find("[^\t\n\r\32-\126]") then return "(binary)" end
    return printable(raw)
end

local function shown_json(raw, obj, spans)
    if p.prefs.show_password or not spans.password or obj.op ~= "login" then return raw end
    local s, n = spans.password[1], spans.password[2]
    return raw:sub(1, s) .. '"<hidden>"' .. raw:sub(s + n + 1)
end

local function add_value(tree, field, range, spans, key, v, kind)
    if v == nil then return end
    local sp = spans[key]
    local r = range(sp[1], sp[2])
    if kind == "str" and type(v) == "string" then
        tree:add(field, r, v)
    elseif kind == "bool" and type(v) == "boolean" then
        tree:add(field, r, v)
    elseif kind == "u64" and numtext(v) and numtext(v):match("^%d+$") then
        tree:add(field, r, UInt64.new(numtext(v)))
    elseif kind == "int" and num(v) then
        tree:add(field, r, num(v))
    end
end

-- Dissects the header whose JSON (LEN bytes) starts at `at` in tvb; updates the state
-- (bodies that follow); returns the summary for the Info column.
local function header(tvb, pinfo, tree, at, hlen, st, key, echo)
    local d = dir_of(st, key)
    local t = tree:add(p, tvb(at, 4 + hlen), "socklab message")
    t:add(f.len, tvb(at, 4))
    if hlen == 0 then
        t:add_proto_expert_info(ex.bad_json, "Header is empty")
        return "empty frame"
    end
    local raw = tvb:raw(at + 4, hlen)
    local jr = tvb(at + 4, hlen)
    local obj, spans
    if echo and raw:sub(1, 1) ~= "{" then
        obj, spans = nil, "not JSON"
    else
        obj, spans = parse_object(raw)
    end
    if not obj then
        t:add(f.payload, jr, raw)
        if echo then
            local shown = string.format("frame of %d bytes: %s", hlen, printable(raw))
            t:add(f.kind, jr, "frame"):set_generated()
            t:add(f.msg, jr, shown):set_generated()
            t:set_text("socklab " .. shown)
            return shown
        end
        t:add_proto_expert_info(ex.bad_json, "Header is not a JSON object (" .. spans .. ")")
        t:set_text("socklab message: bad header")
        return "bad header"
    end
    local shown = shown_json(raw, obj, spans)
    t:add(f.json, jr, shown)
    local function r(o, n) return jr(o, n) end
    local kind
    if obj.op ~= nil then
        kind = "request"
        st.client = key
        st.pending = { op = str(obj.op), offset = num(obj.offset), size = num(obj.size) }
    elseif obj.stream ~= nil then
        kind = "chunk"
    elseif obj.ok ~= nil then
        kind = "reply"
    elseif obj.md5 ~= nil then
        kind = "trailer"
    else
        kind = "header"
    end
    t:add(f.kind, jr, kind):set_generated()
    t:add(f.msg, jr, shown):set_generated()
    add_value(t, f.op, r, spans, "op", obj.op, "str")
    add_value(t, f.ok, r, spans, "ok", obj.ok, "bool")
    add_value(t, f.code, r, spans, "code", obj.code, "str")
    add_value(t, f.error, r, spans, "error", obj.error, "str")
    add_value(t, f.user, r, spans, "user", obj.user, "str")
    if obj.password ~= nil then
        local sp = spans.password
        t:add(f.password, jr(sp[1], sp[2]),
            (p.prefs.show_password and str(obj.password)) or "<hidden>")
    end
    add_value(t, f.name, r, spans, "name", obj.name, "str")
    add_value(t, f.path, r, spans, "path", obj.path, "str")
    add_value(t, f.size, r, spans, "size", obj.size, "u64")
    add_value(t, f.offset, r, spans, "offset", obj.offset, "u64")
    add_value(t, f.stream, r, spans, "stream", obj.stream, "str")
    add_value(t, f.exit, r, spans, "exit", obj.exit, "int")
    add_value(t, f.signal, r, spans, "signal", obj.signal, "int")
    add_value(t, f.timed_out, r, spans, "timed_out", obj.timed_out, "bool")
    add_value(t, f.md5, r, spans, "md5", obj.md5, "str")
    add_value(t, f.cmd, r, spans, "cmd", obj.cmd, "str")
    add_value(t, f.cwd, r, spans, "cwd", obj.cwd, "str")
    add_value(t, f.resume, r, spans, "resume", obj.resume, "bool")
    add_value(t, f.overwrite, r, spans, "overwrite", obj.overwrite, "bool")
    add_value(t, f.truncated, r, spans, "truncated", obj.truncated, "bool")
    if type(obj.files) == "table" and obj.files.n then
        local sp = spans.files
        t:add(f.files, jr(sp[1], sp[2]), obj.files.n)
    end
    if obj.ok == false then
        t:add_proto_expert_info(ex.failure, "Refused: " .. (str(obj.code) or "?"))
    end

    -- What follows this header.
    local body = 0
    if kind == "chunk" and num(obj.size) then
        body = num(obj.size)
    elseif kind == "reply" and obj.ok == true and st.pending and key ~= st.client then
        local req = st.pending
        if req.op == "get" and num(obj.size) then
            body = num(obj.size) - (req.offset or 0)
        elseif req.op == "put" and req.size then
            -- The client's body follows in the other direction.
            local c = dir_of(st, st.client)
            c.body_total = req.size - (num(obj.offset) or 0)
            c.body_left = c.body_total
            c.body_at = 0
        end
        st.pending = nil
    elseif kind == "reply" and key ~= st.client then
        st.pending = nil
    end
    if body > 0 then
        d.body_total, d.body_left, d.body_at = body, body, 0
    end
    t:set_text("socklab " .. kind .. ": " .. shown)
    return shown
end

---------------------------------------------------------------------------------
-- The framed stream: headers and bodies, cut anywhere by TCP.

local function framed(tvb, pinfo, tree, echo)
    local st = state_for(pinfo, tvb)
    local key = dirkey(pinfo)
    local d = dir_of(st, key)
    local len = tvb:len()
    local offset = 0
    local info = {}
    pinfo.cols.protocol = "socklab"
    while offset < len do
        if d.lost then
            local t = tree:add(p, tvb(offset), "socklab: bytes out of step")
            t:add_proto_expert_info(ex.lost)
            offset = len
        elseif d.body_left > 0 then
            local n = math.min(d.body_left, len - offset)
            local t = tree:add(p, tvb(offset, n), string.format("socklab body: bytes %d-%d of %d",
                d.body_at, d.body_at + n - 1, d.body_total))
            t:add(f.kind, tvb(offset, n), "body"):set_generated()
            t:add(f.msg, tvb(offset, n), string.format("body %d bytes (%d-%d of %d): %s", n,
                d.body_at, d.body_at + n - 1, d.body_total,
                preview(tvb:raw(offset, math.min(n, 40))) .. (n > 40 and "..." or "")))
                :set_generated()
            t:add(f.body, tvb(offset, n))
            t:add(f.body_len, tvb(offset, n), n):set_generated()
            t:add(f.body_at, tvb(offset, n), UInt64.new(string.format("%d", d.body_at))):set_generated()
            t:add(f.body_total, tvb(offset, n), UInt64.new(string.format("%d", d.body_total))):set_generated()
            info[#info + 1] = string.format("[body %d bytes]", n)
            d.body_left = d.body_left - n
            d.body_at = d.body_at + n
            offset = offset + n
        else
            if len - offset < 4 then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                break
            end
            local hlen = tvb(offset, 4):uint()
            if hlen > (echo and MAX_ECHO_FRAME or MAX_HEADER_LEN) then
                local t = tree:add(p, tvb(offset), "socklab: bad length")
                t:add(f.len, tvb(offset, 4))
                t:add_proto_expert_info(ex.bad_len)
                d.lost = true
                info[#info + 1] = "bad length " .. hlen
                offset = len
            elseif len - offset < 4 + hlen then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = 4 + hlen - (len - offset)
                break
            else
                info[#info + 1] = header(tvb, pinfo, tree, offset, hlen, st, key, echo)
                offset = offset + 4 + hlen
            end
        end
    end
    if #info > 0 then pinfo.cols.info = table.concat(info, " ") end
    return len
end

---------------------------------------------------------------------------------
-- UDP chat and TCP echo.

local function chat(tvb, pinfo, tree)
    pinfo.cols.protocol = "socklab chat"
    local raw = tvb:raw()
    local text = raw:gsub("[\r\n ]+$", "")
    local t = tree:add(p, tvb(), "socklab chat")
    local to_server = pinfo.dst_port == pinfo.match_uint
    if pinfo.match_uint == 0 then to_server = pinfo.dst_port < pinfo.src_port end
    local r = tvb(0, #text > 0 and #text or tvb:len())
    t:add(f.msg, r, (to_server and "-> " or "<- ") .. text):set_generated()
    if to_server then
        if text:sub(1, 2) == "//" then
            t:add(f.chat_text, r, text:sub(2))
        elseif text:sub(1, 1) == "/" then
            local cmd, arg = text:match("^(/%S*)%s*(.*)$")
            t:add(f.chat_command, r, cmd)
            if arg ~= "" then t:add(f.chat_arg, r, arg) end
        else
            t:add(f.chat_text, r, text)
        end
    else
        local nick, said = text:match("^<([^>]*)> (.*)$")
        if nick then
            t:add(f.chat_nick, r, nick)
            t:add(f.chat_text, r, said)
        elseif text:sub(1, 4) == "*** " then
            t:add(f.chat_notice, r, text:sub(5))
        elseif text:match("^%* ") then
            local n, action = text:match("^%* (%S+) (.*)$")
            if n then
                t:add(f.chat_nick, r, n)
                t:add(f.chat_text, r, action)
            end
        elseif text:sub(1, 7) == "error: " then
            t:add(f.chat_error, r, text:sub(8))
        elseif text:sub(1, 9) == "[server] " then
            t:add(f.chat_nick, r, "[server]")
            t:add(f.chat_text, r, text:sub(10))
        elseif text:sub(1, 1) == "/" then
            t:add(f.chat_command, r, text)
        else
            t:add(f.chat_text, r, text)
        end
    end
    pinfo.cols.info = (to_server and "-> " or "<- ") .. text
    return tvb:len()
end

-- Echo has no framing, but a connection whose first bytes are a plausible frame
-- (LEN <= 64 KiB, then LEN bytes) is read as frames, to show sticky packets.
local function echo(tvb, pinfo, tree)
    local st = state_for(pinfo, tvb)
    if st.echo_framed == nil and tvb:len() >= 4 then
        local n = tvb(0, 4):uint()
        st.echo_framed = n > 0 and n <= MAX_ECHO_FRAME
    end
    if st.echo_framed then return framed(tvb, pinfo, tree, true) end
    pinfo.cols.protocol = "socklab echo"
    local raw = tvb:raw()
    local t = tree:add(p, tvb(), "socklab echo")
    t:add(f.echo_text, tvb(), raw)
    t:add(f.echo_len, tvb(), tvb:len()):set_generated()
    t:add(f.kind, tvb(), "echo"):set_generated()
    t:add(f.msg, tvb(), string.format("%d bytes: %s", tvb:len(), printable(raw))):set_generated()
    pinfo.cols.info = string.format("%d bytes: %s", tvb:len(), printable(raw))
    return tvb:len()
end

local function in_range(range_string, port)
    for part in tostring(range_string):gmatch("[^,]+") do
        local a, b = part:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
        if a then
            if port >= tonumber(a) and port <= tonumber(b) then return true end
        elseif tonumber(part) == port then
            return true
        end
    end
    return false
end

function p.dissector(tvb, pinfo, tree)
    if tvb:len() == 0 then return 0 end
    if pinfo.port_type == 3 then return chat(tvb, pinfo, tree) end -- PT_UDP
    local ep = p.prefs.echo_ports
    if in_range(ep, pinfo.src_port) or in_range(ep, pinfo.dst_port) then
        return echo(tvb, pinfo, tree)
    end
    return framed(tvb, pinfo, tree, false)
end

---------------------------------------------------------------------------------
-- Registration: ports (and Decode As), preferences, TLS ALPN, a TCP heuristic.

local tcp_table = DissectorTable.get("tcp.port")
local udp_table = DissectorTable.get("udp.port")
local registered = { tcp = "", udp = "" }

local function register_ports()
    if registered.tcp ~= "" then tcp_table:remove(registered.tcp, p) end
    if registered.udp ~= "" then udp_table:remove(registered.udp, p) end
    local tcp = tostring(p.prefs.framed_ports)
    local echo_ports = tostring(p.prefs.echo_ports)
    if echo_ports ~= "" then tcp = (tcp ~= "" and tcp .. "," or "") .. echo_ports end
    registered.tcp = tcp
    registered.udp = tostring(p.prefs.chat_ports)
    if registered.tcp ~= "" then tcp_table:add(registered.tcp, p) end
    if registered.udp ~= "" then udp_table:add(registered.udp, p) end
end

register_ports()
tcp_table:add_for_decode_as(p)
udp_table:add_for_decode_as(p)
p.prefs_changed = register_ports

local alpn = DissectorTable.get("tls.alpn")
if alpn then
    alpn:add("socklab-shell/1", p)
    alpn:add("socklab-ftp/1", p)
end

-- A TCP connection on another port whose first bytes are a login or another request.
local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 12 then return false end
    local n = tvb(0, 4):uint()
    if n < 8 or n > MAX_HEADER_LEN then return false end
    local head = tvb:raw(4, math.min(n, tvb:len() - 4))
    if not head:match('^{%s*"op"%s*:%s*"%l+"') then return false end
    pinfo.conversation = p
    framed(tvb, pinfo, tree, false)
    return true
end
p:register_heuristic("tcp", heuristic)
p:register_heuristic("tls", heuristic)
