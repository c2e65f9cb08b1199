# What the scripts share (sourced, never run): the test tools (a pinned moto server, cfn-lint,
# sam) installed once into .tools/, and a moto server on a free loopback port, stopped on exit.
root=$(pwd)
tools="$root/.tools"
venv="$tools/venv"
requirements="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements.sha256"

# Each step says how long the run has taken so far (bash's SECONDS), so a slow CI run shows where.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

install_tools() {
    local want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -x "$venv/bin/moto_server" && -x "$venv/bin/cfn-lint" && -x "$venv/bin/sam" && -x "$venv/bin/actionlint" && -x "$venv/bin/st" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "test tools are installed ($venv)"
        return
    fi
    step "installing test tools into $venv"
    rm -rf "$venv"
    mkdir -p "$tools"
    python3 -m venv "$venv"
    # No pip cache: the wheels are installed once into the venv, and a cached copy of each would
    # double the ~600 MB on disks that can be small (a CI run once failed here on a full disk).
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$requirements"; then
        echo "could not install the test tools; free space where they go:" >&2
        df -h "$tools" "${TMPDIR:-/tmp}" >&2 || true
        rm -rf "$venv"
        exit 1
    fi
    echo "$want" > "$stamp"
}

# Debian's chromium, for the browser tests, and a Korean font (Nanum), without which every Korean
# screen's screenshot is boxes: installed once with apt-get (as root, or through sudo); Playwright
# is pointed at this chromium, never at a browser it would download.
chromium_bin=/usr/bin/chromium
browser_packages=(chromium fonts-nanum)
has_korean_font() { fc-list :lang=ko 2>/dev/null | grep -q .; }
install_chromium() {
    if [[ -x "$chromium_bin" ]] && has_korean_font; then
        echo "chromium is installed ($("$chromium_bin" --version 2>/dev/null || echo "$chromium_bin")), with a Korean font"
        return
    fi
    step "installing Debian's ${browser_packages[*]} (apt-get)"
    local sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        sudo="sudo"
    fi
    $sudo apt-get install -y "${browser_packages[@]}" >"$tools/apt.log" 2>&1 \
        || { $sudo apt-get update >>"$tools/apt.log" 2>&1 && $sudo apt-get install -y "${browser_packages[@]}" >>"$tools/apt.log" 2>&1; } \
        || { echo "could not install ${browser_packages[*]}; the log:" >&2; tail -20 "$tools/apt.log" >&2; exit 1; }
    has_korean_font || { echo "fonts-nanum is installed, but fontconfig finds no Korean font" >&2; exit 1; }
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

moto_pid=""
stop_moto() {
    if [[ -n "$moto_pid" ]] && kill -0 "$moto_pid" 2>/dev/null; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
}
trap stop_moto EXIT

start_moto() {
    local port
    port=$(free_port)
    step "starting moto on 127.0.0.1:$port"
    "$venv/bin/python" scripts/moto_server.py 127.0.0.1 "$port" > "$tools/moto.log" 2>&1 &
    moto_pid=$!
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
            export BNB_TEST_MOTO_URL="http://127.0.0.1:$port"
            return
        fi
        if ! kill -0 "$moto_pid" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "moto did not start; its log:" >&2
    cat "$tools/moto.log" >&2
    exit 1
}

