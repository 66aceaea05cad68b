#!/usr/bin/env bash
# Side-by-side: `bianmin lending train` against scorecardpy on scorecardpy's German credit
# data and its standard 70/30 split. Prints a table; never gates CI.
#
#   bench/peers/scorecard/run.sh
#
# PEERS_VENV: the Python virtual environment to use or create (default target/peers-venv).
# CARGO_TARGET_DIR: honoured for the release build of the CLI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${PEERS_VENV:-$root/target/peers-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# scorecardpy 0.1.9.7 predates pandas 3 (woebin_ply writes WOE floats into string columns).
"$venv/bin/pip" install --quiet scorecardpy 'pandas<3' scikit-learn

(cd "$root" && cargo build --release --quiet -p bianmin-server --bin bianmin)

work="$target/peers-scorecard"
mkdir -p "$work"
"$venv/bin/python" "$root/bench/peers/scorecard/compare.py" \
    --bianmin "$target/release/bianmin" --work "$work" "$@"
