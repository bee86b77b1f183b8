#!/usr/bin/env bash
# Used by `make shell-server` and `make ftp-server`: on first use, creates a local
# users file .socklab/users with the user `demo` and a generated password kept in
# .socklab/password (mode 0600), then says how to log in. There is no fixed default
# password anywhere in socklab.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=debug # `make users` builds the debug socklab-passwd
source scripts/lib.sh
dir=.socklab
mkdir -p "$dir"
chmod 700 "$dir"
if [[ ! -s $dir/users || ! -s $dir/password ]]; then
    umask 077
    make_users "$dir/users" demo >"$dir/password"
    echo "created $dir/users with user 'demo'; its password is in $dir/password" >&2
    # Said once, when the password is new, not on every `make shell-*` / `ftp-*`.
    echo "log in as 'demo' with that password (make shell-client / make ftp-client use it)" >&2
fi
