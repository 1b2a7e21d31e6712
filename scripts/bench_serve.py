#!/usr/bin/env python3
"""Requests per second: `ssibake serve` beside Apache httpd's mod_include, same page.

    cargo build --release
    python3 scripts/bench_serve.py [--duration 10] [--runs 3] [--connections 8] [--threads 2]

The page is the one of scripts/bench.py: 20 `flastmod` stamps of 20 stylesheets and
10 KB of text, on tmpfs (/dev/shm). Apache 2.4 (Debian's /usr/sbin/apache2, mpm_event,
KeepAlive On, no access log, `Options +IncludesNOEXEC`) parses it on every request, as
mod_include does; `ssibake serve` answers it from its cache (rendered once, invalidated
by the watcher). Both listen on 127.0.0.1 and are driven by the same client with the same
concurrency over keep-alive connections: `wrk` (Debian's, `apt-get install -y wrk`) for
a fixed duration, alternating server by server so that drift hits both alike; without
wrk, a small client of this script's own (a fixed number of requests per connection).
The bodies are checked first: the same bytes but ssibake's reload script. A static file
(one of the stylesheets) is measured the same way. Prints a Markdown table.
"""

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "target/release/ssibake"
APACHE = Path("/usr/sbin/apache2")
MODULES = "/usr/lib/apache2/modules"
BASE = Path("/dev/shm/ssibake-bench-serve")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    end = time.time() + 30
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def make_site():
    shutil.rmtree(BASE, ignore_errors=True)
    site = BASE / "site"
    (site / "a").mkdir(parents=True)
    page = ['<!--#config timefmt="%s" -->']
    for i in range(20):
        (site / f"a/f{i}.css").write_text("x" * (i + 1))
        page.append(f'<link href="/a/f{i}.css?<!--#flastmod virtual="/a/f{i}.css" -->">')
    page.append("<p>" + "text " * 2000 + "</p>")
    (site / "index.shtml").write_text("\n".join(page))
    os.chmod(BASE, 0o755)
    return site


def start_apache(site, port):
    run = BASE / "apache"
    run.mkdir()
    conf = run / "httpd.conf"
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    conf.write_text(f"""ServerRoot "/usr/lib/apache2"
DefaultRuntimeDir "{run}"
PidFile "{run}/httpd.pid"
ErrorLog "{run}/error.log"
LogLevel warn
Listen 127.0.0.1:{port}
ServerName localhost
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule include_module {MODULES}/mod_include.so
LoadModule dir_module {MODULES}/mod_dir.so
{user}TypesConfig /etc/mime.types
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 150
<Directory />
    AllowOverride None
    Require all denied
</Directory>
DocumentRoot "{site}"
<Directory "{site}">
    Options +IncludesNOEXEC
    AllowOverride None
    Require all granted
</Directory>
""")
    subprocess.run([str(APACHE), "-f", str(conf), "-k", "start"], check=True)
    wait_port(port, None, "apache2")
    return conf


def stop_apache(conf):
    subprocess.run([str(APACHE), "-f", str(conf), "-k", "stop"], check=False)


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def wrk(url, duration, connections, threads):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", url],
        check=True, capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        sys.exit(f"errors while measuring {url}:\n{out}")
    return rps


def own_client(url, requests, connections):
    """A fixed number of keep-alive requests per connection; requests per second."""
    m = re.match(r"http://127.0.0.1:(\d+)(/.*)", url)
    port, path = int(m.group(1)), m.group(2)
    failures = []

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(requests):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                failures.append(r.status)
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"{len(failures)} failed requests on {url}")
    return requests * connections / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requests", type=int, default=2000, help="per connection, without wrk")
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: cargo build --release")
    if not APACHE.exists():
        sys.exit("no /usr/sbin/apache2: apt-get install -y apache2")
    use_wrk = shutil.which("wrk") is not None
    site = make_site()
    sport, aport = free_port(), free_port()
    serve = subprocess.Popen(
        [str(BIN), "serve", "--root", str(site), "--port", str(sport), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": os.environ["PATH"]},
    )
    conf = None
    try:
        wait_port(sport, serve, "ssibake serve")
        conf = start_apache(site, aport)
        # The same bytes, but the reload script.
        s_status, s_body = get(sport, "/index.html")
        a_status, a_body = get(aport, "/index.shtml")
        stripped = re.sub(rb'<script id="ssibake-live-reload">.*?</script>', b"", s_body, flags=re.S)
        if (s_status, a_status) != (200, 200) or stripped != a_body:
            sys.exit(f"the servers answer differently ({s_status}, {a_status})")
        targets = [
            ("page with 20 stamps", f"http://127.0.0.1:{sport}/index.html", f"http://127.0.0.1:{aport}/index.shtml"),
            ("static file (a stylesheet)", f"http://127.0.0.1:{sport}/a/f3.css", f"http://127.0.0.1:{aport}/a/f3.css"),
        ]
        rows = []
        for name, surl, aurl in targets:
            s_rates, a_rates = [], []
            for _ in range(args.runs):
                for url, rates in ((surl, s_rates), (aurl, a_rates)):
                    if use_wrk:
                        rates.append(wrk(url, args.duration, args.connections, args.threads))
                    else:
                        rates.append(own_client(url, args.requests, args.connections))
            s, a = statistics.median(s_rates), statistics.median(a_rates)
            rows.append((name, s, a))
        client = (f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s" if use_wrk
                  else f"{args.connections} connections x {args.requests} requests (Python client)")
        print(f"\nrequests per second, median of {args.runs} runs, {client}, {os.cpu_count()} cores "
              "shared by client and server\n")
        print("| request | ssibake serve | Apache mod_include | ratio |")
        print("|---|---|---|---|")
        for name, s, a in rows:
            print(f"| {name} | {s:,.0f} req/s | {a:,.0f} req/s | {s / a:.2f}x |")
    finally:
        serve.terminate()
        serve.wait()
        if conf:
            stop_apache(conf)
        time.sleep(0.5)
        shutil.rmtree(BASE, ignore_errors=True)


if __name__ == "__main__":
    main()
