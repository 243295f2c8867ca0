#!/usr/bin/env python3
"""Sign-in timing for a username that exists and one that does not (user enumeration).

    bench/login_timing.py [--binary PATH] [--tries N]

Starts `latchkey serve` on a free 127.0.0.1 port with a fresh SQLite database and the
guessing throttle set out of the way, then submits N wrong-password logins for `alice`
(exists) and N for `nobody` (does not), interleaved, each through a fresh login page (CSRF
token and ticket), and prints the mean, median and 90th percentile of each in milliseconds.
Only the standard library is used. Everything it creates is removed on exit.
"""
import argparse, base64, html, http.cookiejar, os, re, secrets, shutil, socket
import statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/latchkey"))
    ap.add_argument("--tries", type=int, default=100)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="latchkey-timing-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ,
               LATCHKEY_DATABASE_URL=f"sqlite://{tmp}/db.sqlite?mode=rwc",
               LATCHKEY_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
               LATCHKEY_LISTEN=f"127.0.0.1:{port}", LATCHKEY_ISSUER=base,
               LATCHKEY_LOG__FILTER="warn",
               LATCHKEY_LOGIN__MAX_FAILURES="1000000",
               LATCHKEY_LOGIN__DELAY_AFTER="1000000",
               LATCHKEY_LOGIN__MAX_FAILURES_ALL_ADDRESSES="1000000")
    run = lambda *a: subprocess.run([args.binary, *a], env=env, check=True,
                                    stdout=subprocess.DEVNULL)
    server = None
    try:
        run("users", "create", "--username", "alice", "--password", "correct horse battery")
        run("clients", "create", "--id", "web", "--redirect-uri", "http://127.0.0.1:9/cb")
        server = subprocess.Popen([args.binary, "serve"], env=env)
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        authorize = base + "/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": "web", "redirect_uri": "http://127.0.0.1:9/cb",
            "scope": "openid", "code_challenge": "a" * 43, "code_challenge_method": "S256"})
        times = {"alice": [], "nobody": []}
        for i in range(args.tries):
            for name in ("alice", "nobody") if i % 2 else ("nobody", "alice"):
                jar = http.cookiejar.CookieJar()
                opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
                page = opener.open(authorize).read().decode()
                field = lambda n: html.unescape(
                    re.search(rf'name="{n}"[^>]*value="([^"]*)"', page).group(1))
                body = urllib.parse.urlencode({
                    "csrf_token": field("csrf_token"), "req": field("req"),
                    "username": name, "password": "wrong password"}).encode()
                started = time.perf_counter()
                answer = opener.open(base + "/login", body)
                answer.read()
                times[name].append((time.perf_counter() - started) * 1000)
                assert answer.status == 200, answer.status
        for name, t in times.items():
            t.sort()
            print(f"{name:7} n={len(t)} mean={statistics.mean(t):.1f} ms "
                  f"median={statistics.median(t):.1f} ms p90={t[int(len(t) * 0.9)]:.1f} ms")
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
