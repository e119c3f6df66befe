#!/usr/bin/env bash
# A local Neo4j Community server built from Maven Central jars (no Docker, no tarball).
#
#   tools/neo4j/neo4j.sh fetch    copy the pinned jars into .neo4j/lib (once; stamped)
#   tools/neo4j/neo4j.sh start    fetch if needed, write .neo4j/conf/neo4j.conf, start, wait for Bolt
#   tools/neo4j/neo4j.sh stop     SIGTERM, wait, SIGKILL after NEO4J_STOP_TIMEOUT seconds
#   tools/neo4j/neo4j.sh status   exit 0 if running and answering Bolt, 3 if not running, 1 otherwise
#   tools/neo4j/neo4j.sh logs     tail .neo4j/logs/neo4j.log (logs -f to follow)
#   tools/neo4j/neo4j.sh wipe     stop and delete .neo4j/data (the next start creates a fresh DBMS)
#   tools/neo4j/neo4j.sh admin ARGS...   neo4j-admin on this server's home (e.g. database import full
#                                 with the server stopped); heap NEO4J_ADMIN_HEAP (default 1g)
#
# Environment (all optional):
#   TRAILGRAPH_NEO4J_HOME  this server's home: conf, data, logs (default <repo>/.neo4j; the test
#                       suite uses <repo>/.neo4j-test, so its data never mixes with yours). The jars
#                       and class-data archive stay in <repo>/.neo4j, shared by every home.
#   NEO4J_PASSWORD      password of user neo4j           (default trailgraph-test, >= 8 chars)
#   NEO4J_BOLT_PORT     Bolt port on 127.0.0.1           (default 7687)
#   NEO4J_HTTP_PORT     HTTP port on 127.0.0.1           (default 7474; Browser at /browser/)
#   NEO4J_HEAP          JVM heap, -Xms = -Xmx            (default 1g)
#   NEO4J_PAGECACHE     page cache size                  (default 512m)
#   NEO4J_START_TIMEOUT seconds to wait for Bolt         (default 180)
#   NEO4J_STOP_TIMEOUT  seconds before SIGKILL           (default 60)
#   NEO4J_CDS           1/0: class-data sharing archive  (default 1, but 0 when CI is set)
#   JAVA_HOME           Java 17 or 21 to run with        (default: java on PATH)
#   MVN                 Maven command                    (default mvn)
#
# Works from any current directory: every path is resolved from this script's location.
# The bash -c snippets below are single-quoted on purpose: they get their values as "$1".
# shellcheck disable=SC2016
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

# Layout: the jars (and the class-data archive built from them) live under <repo>/.neo4j, the server's
# own files under its home (default the same folder; both git-ignored).
SHARED_DIR="$REPO_ROOT/.neo4j"
HOME_DIR="${TRAILGRAPH_NEO4J_HOME:-$SHARED_DIR}"
HOME_DIR="$(mkdir -p "$HOME_DIR" && cd "$HOME_DIR" && pwd)"
LIB_DIR="$SHARED_DIR/lib"
CONF_DIR="$HOME_DIR/conf"
DATA_DIR="$HOME_DIR/data"
LOGS_DIR="$HOME_DIR/logs"
RUN_DIR="$HOME_DIR/run"
IMPORT_DIR="$HOME_DIR/import"
PLUGINS_DIR="$HOME_DIR/plugins"
STAMP="$LIB_DIR/.trailgraph-fetch.stamp"
PID_FILE="$RUN_DIR/neo4j.pid"
LOCK_FILE="$HOME_DIR/.lock"
CONSOLE_LOG="$LOGS_DIR/console.log"
PASSWORD_MARK="$DATA_DIR/dbms/.trailgraph-password.sha256"
CDS_DIR="$SHARED_DIR/cds"
# Neo4j Browser with trailgraph's style and guide (browser/ at the repository root) packed in.
BROWSER_SRC="$REPO_ROOT/browser"
WEB_DIR="$HOME_DIR/web"
BROWSER_ZIP="$WEB_DIR/neo4j-browser.zip"
BROWSER_ASSETS=(trailgraph.grass guide.html)

BOLT_PORT="${NEO4J_BOLT_PORT:-7687}"
HTTP_PORT="${NEO4J_HTTP_PORT:-7474}"
PASSWORD="${NEO4J_PASSWORD:-trailgraph-test}"
HEAP="${NEO4J_HEAP:-1g}"
PAGECACHE="${NEO4J_PAGECACHE:-512m}"
START_TIMEOUT="${NEO4J_START_TIMEOUT:-180}"
STOP_TIMEOUT="${NEO4J_STOP_TIMEOUT:-60}"
MVN="${MVN:-mvn}"
MAIN_CLASS="org.neo4j.server.CommunityEntryPoint"

# The one source of truth for versions is pom.xml.
pom_property() { sed -n "s:.*<$1>\\(.*\\)</$1>.*:\\1:p" "$POM" | head -n 1; }
NEO4J_VERSION="$(pom_property neo4j.version)"
BROWSER_VERSION="$(pom_property neo4j-browser.version)"

log() { printf 'neo4j.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    else
        die "no java found: install Java 17 or 21 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    fi
}

check_java() {
    local java props major
    java="$(java_bin)"
    props="$("$java" -XshowSettings:properties -version 2>&1)"
    major="$(sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' <<<"$props")"
    # The CDS archive is only valid for the JVM build that wrote it.
    JAVA_BUILD="$(sed -n 's/^ *java.vm.version = //p' <<<"$props" | tr -c 'A-Za-z0-9.\n' '_')"
    case "$major" in
        17 | 21) ;;
        *) die "Neo4j $NEO4J_VERSION needs Java 17 or 21, but $java is Java '${major:-unknown}'" ;;
    esac
}

# Serialise start/stop/wipe/fetch between concurrent callers (e.g. pytest-xdist workers).
take_lock() {
    mkdir -p "$HOME_DIR"
    exec 9>"$LOCK_FILE"
    flock 9
}

# --------------------------------------------------------------------------- fetch

stamp_text() {
    printf 'neo4j=%s browser=%s pom-sha256=%s\n' \
        "$NEO4J_VERSION" "$BROWSER_VERSION" "$(sha256sum "$POM" | cut -d' ' -f1)"
}

lib_complete() {
    [[ -f "$STAMP" ]] || return 1
    [[ "$(head -n 1 "$STAMP")" == "$(stamp_text)" ]] || return 1
    [[ -f "$LIB_DIR/neo4j-$NEO4J_VERSION.jar" && -f "$LIB_DIR/neo4j-browser-$BROWSER_VERSION.jar" ]] || return 1
    local want have
    want="$(sed -n 's/^jars=//p' "$STAMP")"
    have="$(find "$LIB_DIR" -maxdepth 1 -name '*.jar' | wc -l)"
    [[ -n "$want" && "$want" == "$have" ]]
}

do_fetch() {
    if lib_complete; then
        log "jars for Neo4j $NEO4J_VERSION + Browser $BROWSER_VERSION already in ${LIB_DIR#"$REPO_ROOT"/} ($(sed -n 's/^jars=//p' "$STAMP") jars)"
        return 0
    fi
    if running_pid >/dev/null; then
        die "the jars in ${LIB_DIR#"$REPO_ROOT"/} need fetching again, but Neo4j runs from them: 'neo4j.sh stop' first"
    fi
    command -v "$MVN" >/dev/null 2>&1 || die "Maven ('$MVN') not found: install it (Debian: apt-get install maven)"
    local tmp="$SHARED_DIR/lib.partial" t0
    t0="$(now)"
    log "fetching Neo4j $NEO4J_VERSION + Browser $BROWSER_VERSION from Maven Central into ${LIB_DIR#"$REPO_ROOT"/} ..."
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local mvn_log="$SHARED_DIR/fetch.log"
    if ! "$MVN" -B -Dstyle.color=never -f "$POM" -Dneo4j.lib.dir="$tmp" dependency:copy-dependencies \
        >"$mvn_log" 2>&1; then
        grep -E '^\[(ERROR|WARNING)\]' "$mvn_log" | head -n 40 >&2 || tail -n 40 "$mvn_log" >&2
        rm -rf "$tmp"
        die "maven could not fetch the jars (full output: ${mvn_log#"$REPO_ROOT"/})"
    fi
    [[ -f "$tmp/neo4j-$NEO4J_VERSION.jar" ]] || die "maven finished but neo4j-$NEO4J_VERSION.jar is missing"
    [[ -f "$tmp/neo4j-browser-$BROWSER_VERSION.jar" ]] || die "maven finished but neo4j-browser-$BROWSER_VERSION.jar is missing"
    {
        stamp_text
        printf 'jars=%s\n' "$(find "$tmp" -maxdepth 1 -name '*.jar' | wc -l)"
        printf 'fetched=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$tmp/.trailgraph-fetch.stamp"
    # Swap in atomically enough: an interrupted fetch leaves lib.partial, never a half lib/.
    rm -rf "$LIB_DIR" "$CDS_DIR"
    mv "$tmp" "$LIB_DIR"
    log "fetched $(sed -n 's/^jars=//p' "$STAMP") jars ($(du -sh "$LIB_DIR" | cut -f1)) in $(elapsed_since "$t0") s"
}

# --------------------------------------------------------------------------- config

# THE place where neo4j.conf is generated. It is rewritten on every start, so edit
# it here (not in .neo4j/conf). Strict validation is on: a misspelt key fails the start.
write_conf() {
    mkdir -p "$CONF_DIR"
    cat >"$CONF_DIR/neo4j.conf.tmp" <<EOF
# Generated by tools/neo4j/neo4j.sh on every start: edit write_conf() there, not this file.
# Neo4j Community $NEO4J_VERSION, jars from Maven Central in .neo4j/lib.

# Directories (all under the git-ignored .neo4j/).
server.directories.data=$DATA_DIR
server.directories.logs=$LOGS_DIR
server.directories.run=$RUN_DIR
server.directories.lib=$LIB_DIR
server.directories.plugins=$PLUGINS_DIR
server.directories.import=$IMPORT_DIR

# Network: loopback only.
server.default_listen_address=127.0.0.1
server.default_advertised_address=127.0.0.1
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:$BOLT_PORT
server.bolt.advertised_address=127.0.0.1:$BOLT_PORT
server.http.enabled=true
server.http.listen_address=127.0.0.1:$HTTP_PORT
server.http.advertised_address=127.0.0.1:$HTTP_PORT
server.https.enabled=false

# Memory: small, for a 2-core machine shared with the test suite. neo4j.sh passes the
# heap as -Xms/-Xmx itself (the entry point does not read these two); they are here so
# the file tells the truth.
server.memory.heap.initial_size=$HEAP
server.memory.heap.max_size=$HEAP
server.memory.pagecache.size=$PAGECACHE

# Security: authentication on; the password of user neo4j is set by
# 'neo4j-admin dbms set-initial-password' (org.neo4j.cli.AdminTool) before the first start.
dbms.security.auth_enabled=true

# Housekeeping.
dbms.usage_report.enabled=false
db.tx_log.rotation.retention_policy=1 days
# Internal setting: Netty's default 5 s quiet period, paid twice, made every stop take 10 s.
internal.dbms.bolt.netty_server_shutdown_quiet_period=0

# Neo4j Browser at http://127.0.0.1:$HTTP_PORT/browser/. No telemetry: it would call out on connect.
client.allow_telemetry=false
EOF
    if [[ "${BROWSER_PACKED:-0}" == 1 ]]; then
        local assets="http://127.0.0.1:$HTTP_PORT/browser/trailgraph" sheet
        # The style inline and on one line, then :clear: Browser shows a frame with the whole sheet for
        # every :style, and only an inline one can be cleared (trailgraph.workbench.post_connect_cmd).
        sheet="$(tr -s '[:space:]' ' ' <"$BROWSER_SRC/${BROWSER_ASSETS[0]}" | sed 's/^ //; s/ $//')"
        cat >>"$CONF_DIR/neo4j.conf.tmp" <<EOF
# Browser comes from ${BROWSER_ZIP#"$REPO_ROOT"/} (see pack_browser in neo4j.sh: the
# jar's Browser plus browser/* at /browser/trailgraph/). On every connect it applies trailgraph's style
# (inline, then clears the frame that shows it) and opens its guide, served by this server (hence
# 127.0.0.1 in the allow-list).
internal.dbms.web_dir_path=$WEB_DIR
browser.post_connect_cmd=style \`trailgraph-style{} $sheet\`; clear; guide $assets/${BROWSER_ASSETS[1]}
browser.remote_content_hostname_whitelist=127.0.0.1,localhost,guides.neo4j.com
EOF
    else
        printf '%s\n' "# Browser from the neo4j-browser jar, without trailgraph's style and guide (see pack_browser)." \
            >>"$CONF_DIR/neo4j.conf.tmp"
    fi
    mv "$CONF_DIR/neo4j.conf.tmp" "$CONF_DIR/neo4j.conf"
}

# Neo4j Browser with trailgraph's style sheet and guide inside it, so both are served on Browser's
# own origin (http://127.0.0.1:$HTTP_PORT/browser/trailgraph/...): no extra process or port. When
# internal.dbms.web_dir_path holds a neo4j-browser*.zip, the server extracts it to a temporary folder
# at start and serves the folder of the zip's first entry at /browser, instead of the jar's class-path
# copy (a class-path overlay cannot add files: the server serves the first "browser" resource only).
# It creates each folder with createDirectory, so "browser/" comes first and parents before children.
# Rebuilt only when the jar or a file in browser/ changed (the stamp holds their hash): after editing
# browser/, restart. Without python3 or browser/, Browser runs as shipped, without the style and guide.
pack_browser() {
    BROWSER_PACKED=0
    # The web folder is also the server's default (<home>/web): no zip may stay there unpacked.
    rm -f "$BROWSER_ZIP.partial"
    local jar="$LIB_DIR/neo4j-browser-$BROWSER_VERSION.jar" name
    for name in "${BROWSER_ASSETS[@]}"; do
        if [[ ! -f "$BROWSER_SRC/$name" ]]; then
            rm -f "$BROWSER_ZIP" "$BROWSER_ZIP.sha256"
            log "warning: ${BROWSER_SRC#"$REPO_ROOT"/}/$name is missing: Browser runs without trailgraph's style and guide"
            return 0
        fi
    done
    if ! command -v python3 >/dev/null 2>&1; then
        rm -f "$BROWSER_ZIP" "$BROWSER_ZIP.sha256"
        log "warning: python3 not found: Browser runs without trailgraph's style and guide"
        return 0
    fi
    mkdir -p "$WEB_DIR"
    if ! python3 - "$jar" "$BROWSER_SRC" "$BROWSER_ZIP" "${BROWSER_ASSETS[@]}" <<'PY'; then
import hashlib, os, sys, zipfile

jar, src, out, assets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
digest = hashlib.sha256()
st = os.stat(jar)
digest.update(f"{os.path.basename(jar)}|{st.st_size}|{st.st_mtime_ns}".encode())
for name in assets:
    with open(os.path.join(src, name), "rb") as f:
        digest.update(name.encode() + b"\0" + f.read() + b"\0")
stamp = out + ".sha256"
if os.path.exists(out) and os.path.exists(stamp):
    with open(stamp) as f:
        if f.read().strip() == digest.hexdigest():
            sys.exit(0)
tmp = out + ".partial"
with zipfile.ZipFile(jar) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as packed:
    files = [i for i in source.infolist() if i.filename.startswith("browser/") and not i.is_dir()]
    names = [i.filename for i in files] + [f"browser/trailgraph/{a}" for a in assets]
    folders = {n[: i + 1] for n in names for i, c in enumerate(n) if c == "/"}
    for folder in sorted(folders):  # "browser/" first; a parent sorts before its children
        packed.writestr(zipfile.ZipInfo(folder), b"")
    for info in files:
        packed.writestr(info.filename, source.read(info))
    for name in assets:
        packed.write(os.path.join(src, name), f"browser/trailgraph/{name}")
os.replace(tmp, out)
with open(stamp, "w") as f:
    f.write(digest.hexdigest() + "\n")
PY
        rm -f "$BROWSER_ZIP" "$BROWSER_ZIP.sha256" "$BROWSER_ZIP.partial"
        log "warning: could not pack Browser with trailgraph's style and guide; Browser runs without them"
        return 0
    fi
    BROWSER_PACKED=1
}

# JVM flags: those the official neo4j.conf (5.26) passes through server.jvm.additional,
# less -XX:+AlwaysPreTouch (it would touch the whole heap at start-up), plus what the
# launcher itself adds (-Xms/-Xmx from the heap settings, -Dfile.encoding=UTF-8).
jvm_flags() {
    JVM_FLAGS=(
        "-Xms$HEAP" "-Xmx$HEAP"
        -XX:+UseG1GC
        -XX:-OmitStackTraceInFastThrow
        -XX:+UnlockExperimentalVMOptions
        -XX:+TrustFinalNonStaticFields
        -XX:+DisableExplicitGC
        -Djdk.nio.maxCachedBufferSize=1024
        -Dio.netty.tryReflectionSetAccessible=true
        -Djdk.tls.ephemeralDHKeySize=2048
        -Djdk.tls.rejectClientInitiatedRenegotiation=true
        -XX:FlightRecorderOptions=stackdepth=256
        -XX:+UnlockDiagnosticVMOptions
        -XX:+DebugNonSafepoints
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        --enable-native-access=ALL-UNNAMED
        -Dlog4j2.disable.jmx=true
        -Dlog4j.layout.jsonTemplate.maxStringLength=32768
        -Dfile.encoding=UTF-8
        -XX:+ExitOnOutOfMemoryError
    )
}

# Application class-data sharing (AppCDS) halves the start-up on 2 cores (~13 s -> ~6 s
# under load). The first start with it records the classes Neo4j loads; the JVM writes
# them (~130 MB, ~15 s) when that server stops, and later starts map them. Off under CI
# (a fresh clone never reuses the archive) and with NEO4J_CDS=0. The JVM checks the
# archive against the class path itself and ignores a stale one (-Xshare:auto).
cds_enabled() {
    case "${NEO4J_CDS:-}" in
        0 | false | no) return 1 ;;
        1 | true | yes) return 0 ;;
    esac
    [[ -z "${CI:-}" ]]
}

cds_flags() {
    CDS_FLAGS=()
    cds_enabled || return 0
    mkdir -p "$CDS_DIR"
    local archive="$CDS_DIR/neo4j-$NEO4J_VERSION-java-${JAVA_BUILD:-unknown}.jsa"
    if [[ -s "$archive" ]]; then
        CDS_FLAGS=("-XX:SharedArchiveFile=$archive")
    else
        rm -f "$archive.partial"
        CDS_FLAGS=("-XX:ArchiveClassesAtExit=$archive.partial")
    fi
}

# --------------------------------------------------------------------------- probes

# PID of our server if the pid file names a live Neo4j process started from this home.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$MAIN_CLASS --home-dir=$HOME_DIR --config-dir" || return 1
    printf '%s\n' "$pid"
}

# Port the running server was configured with (the conf is only rewritten while it is
# stopped), so status/start talk to the server that runs, whatever the environment says.
conf_port() {
    sed -n "s/^server\.$1\.listen_address=.*:\([0-9]*\)$/\1/p" "$CONF_DIR/neo4j.conf" 2>/dev/null | tail -n 1
}

# True if a Bolt server on 127.0.0.1:$1 completes the handshake (magic + four proposed
# versions 5.0-5.4 and 4.4; any non-zero agreed version counts). Pure bash, no driver.
bolt_answers() {
    local port="$1" reply
    reply="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "\x60\x60\xb0\x17\x00\x04\x04\x05\x00\x00\x04\x04\x00\x00\x00\x00\x00\x00\x00\x00" >&3
        head -c 4 <&3 | od -An -tx1 | tr -d " \n"
    ' _ "$port" 2>/dev/null)" || return 1
    [[ ${#reply} -eq 8 && "$reply" != "00000000" ]]
}

http_answers() {
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
        head -n 1 <&3 | grep -q " 200 "
    ' _ "$1" 2>/dev/null
}

port_taken() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# --------------------------------------------------------------------------- start/stop

set_initial_password() {
    # Only possible before the system database exists; afterwards the password lives
    # in it and this file would be ignored.
    [[ -d "$DATA_DIR/databases/system" ]] && return 0
    (( ${#PASSWORD} >= 8 )) || die "NEO4J_PASSWORD must have at least 8 characters"
    mkdir -p "$DATA_DIR/dbms"
    local java
    java="$(java_bin)"
    NEO4J_HOME="$HOME_DIR" NEO4J_CONF="$CONF_DIR" \
        "$java" -Xmx256m -cp "$LIB_DIR/*" org.neo4j.cli.AdminTool \
        dbms set-initial-password "$PASSWORD" >"$LOGS_DIR/set-initial-password.log" 2>&1 ||
        { cat "$LOGS_DIR/set-initial-password.log" >&2; die "set-initial-password failed"; }
    printf '%s\n' "$PASSWORD" | sha256sum | cut -d' ' -f1 >"$PASSWORD_MARK"
}

warn_if_password_differs() {
    [[ -f "$PASSWORD_MARK" ]] || return 0
    if [[ "$(printf '%s\n' "$PASSWORD" | sha256sum | cut -d' ' -f1)" != "$(cat "$PASSWORD_MARK")" ]]; then
        log "warning: .neo4j/data was initialised with a different NEO4J_PASSWORD;"
        log "         log-ins with the current one will fail unless it was changed since ('neo4j.sh wipe' starts afresh)"
    fi
}

show_failure() {
    log "last lines of ${CONSOLE_LOG#"$REPO_ROOT"/}:"
    tail -n 30 "$CONSOLE_LOG" >&2 2>/dev/null || true
    log "last lines of .neo4j/logs/neo4j.log:"
    tail -n 30 "$LOGS_DIR/neo4j.log" >&2 2>/dev/null || true
}

do_start() {
    local pid t0
    if pid="$(running_pid)"; then
        local running_bolt
        running_bolt="$(conf_port bolt)"
        if [[ -n "$running_bolt" && "$running_bolt" != "$BOLT_PORT" ]]; then
            die "already running (pid $pid) on Bolt port $running_bolt, not $BOLT_PORT: 'neo4j.sh stop' first"
        fi
        if bolt_answers "$BOLT_PORT"; then
            log "already running (pid $pid), Bolt answering on bolt://127.0.0.1:$BOLT_PORT"
            return 0
        fi
        log "running (pid $pid) but Bolt not answering on port $BOLT_PORT yet; waiting"
    else
        rm -f "$PID_FILE"
        if port_taken "$BOLT_PORT"; then
            die "port $BOLT_PORT on 127.0.0.1 is taken by another process (not this .neo4j); stop it or set NEO4J_BOLT_PORT"
        fi
        if port_taken "$HTTP_PORT"; then
            die "port $HTTP_PORT on 127.0.0.1 is taken by another process; stop it or set NEO4J_HTTP_PORT"
        fi
        check_java
        do_fetch
        mkdir -p "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$IMPORT_DIR" "$PLUGINS_DIR"
        pack_browser
        write_conf
        t0="$(now)"
        set_initial_password
        warn_if_password_differs
        jvm_flags
        cds_flags
        local java
        java="$(java_bin)"
        # setsid: the server outlives the shell (and a pytest run) that started it.
        # 9>&-: the child must not inherit the lock. Output goes to console.log; the
        # real log is neo4j.log.
        setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
            "$java" "${JVM_FLAGS[@]}" ${CDS_FLAGS[@]+"${CDS_FLAGS[@]}"} -cp "$LIB_DIR/*" "$MAIN_CLASS" \
            --home-dir="$HOME_DIR" --config-dir="$CONF_DIR" \
            </dev/null >"$CONSOLE_LOG" 2>&1 9>&- &
        local tries=50
        until [[ -s "$PID_FILE" ]] || ((--tries == 0)); do sleep 0.1; done
        [[ -s "$PID_FILE" ]] || { show_failure; die "could not launch java"; }
        pid="$(tr -dc '0-9' <"$PID_FILE")"
        log "started Neo4j $NEO4J_VERSION (pid $pid, heap $HEAP, page cache $PAGECACHE); waiting for Bolt on 127.0.0.1:$BOLT_PORT"
    fi

    t0="${t0:-$(now)}"
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            show_failure
            die "Neo4j exited during start-up"
        fi
        # Bolt is the requirement; HTTP comes up last, right before 'Started.'.
        if bolt_answers "$BOLT_PORT" && http_answers "$HTTP_PORT"; then
            log "Bolt answering on bolt://127.0.0.1:$BOLT_PORT after $(elapsed_since "$t0") s" \
                "(Browser: http://127.0.0.1:$HTTP_PORT/browser/, user neo4j)"
            return 0
        fi
        sleep 0.25
    done
    show_failure
    die "Bolt did not answer within $START_TIMEOUT s (server left running as pid $pid; 'neo4j.sh stop' to end it)"
}

do_stop() {
    local pid t0
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    t0="$(now)"
    local partial timeout="$STOP_TIMEOUT"
    partial="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/^-XX:ArchiveClassesAtExit=//p')"
    if [[ -n "$partial" ]]; then
        log "stopping; the JVM writes its class-data archive on the way out (once; 15-40 s)"
        timeout=$((STOP_TIMEOUT + 60))
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after $timeout s: sending SIGKILL to $pid"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        [[ -n "$partial" ]] && rm -f "$partial"
        partial=""
    fi
    rm -f "$PID_FILE"
    if [[ -n "$partial" && -s "$partial" ]]; then
        mv -f "$partial" "${partial%.partial}"
        log "class-data archive saved: ${partial%.partial} ($(du -sh "${partial%.partial}" | cut -f1))"
    fi
    log "stopped (pid $pid) in $(elapsed_since "$t0") s"
}

do_status() {
    local pid
    if ! pid="$(running_pid)"; then
        echo "Neo4j $NEO4J_VERSION: not running"
        return 3
    fi
    local bolt http
    bolt="$(conf_port bolt)"
    http="$(conf_port http)"
    bolt="${bolt:-$BOLT_PORT}"
    http="${http:-$HTTP_PORT}"
    if bolt_answers "$bolt"; then
        echo "Neo4j $NEO4J_VERSION: running (pid $pid), bolt://127.0.0.1:$bolt, http://127.0.0.1:$http/browser/"
        return 0
    fi
    echo "Neo4j $NEO4J_VERSION: running (pid $pid) but Bolt is not answering on port $bolt"
    return 1
}

do_logs() {
    local f="$LOGS_DIR/neo4j.log"
    [[ -f "$f" ]] || die "no log yet at ${f#"$REPO_ROOT"/}"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 50 -F "$f"
    fi
    tail -n "${1:-50}" "$f"
}

do_wipe() {
    do_stop
    rm -rf "$DATA_DIR"
    log "deleted ${DATA_DIR#"$REPO_ROOT"/}"
}

do_admin() {
    running_pid >/dev/null && die "stop the server first: neo4j-admin needs it stopped ('neo4j.sh stop')"
    check_java
    do_fetch
    mkdir -p "$DATA_DIR" "$LOGS_DIR" "$RUN_DIR" "$IMPORT_DIR" "$PLUGINS_DIR"
    write_conf
    local java
    java="$(java_bin)"
    # neo4j-admin import writes import.report into the working directory: keep it with the logs.
    (cd "$LOGS_DIR" && NEO4J_HOME="$HOME_DIR" NEO4J_CONF="$CONF_DIR" \
        "$java" "-Xmx${NEO4J_ADMIN_HEAP:-1g}" -cp "$LIB_DIR/*" org.neo4j.cli.AdminTool "$@")
}

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        fetch) take_lock; do_fetch ;;
        start) take_lock; do_start ;;
        stop) take_lock; do_stop ;;
        status) do_status ;;
        logs) do_logs "$@" ;;
        wipe) take_lock; do_wipe ;;
        admin) take_lock; do_admin "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
