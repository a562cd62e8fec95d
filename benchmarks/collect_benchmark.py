"""Collection benchmark: raw POP3 retrieval vs the bridge (pass-through and sandbox back-ends).

Measured, not asserted (see benchmarks/README.md for the figures and how to read them):

1. throughput on one real dovecot mailbox of N messages (a third with a 100 KB attachment):
   raw ``poplib`` RETR-to-file + DELE, the bridge with a pass-through back-end, the bridge with
   the sandbox v1 back-end (real subprocesses);
2. peak memory over idle while collecting one message with a 50 MB attachment (subprocess,
   VmHWM from /proc);
3. crash at message k of N (SIGKILL of a collecting process): how many messages the next run
   fetches again.

Run: ``.venv/bin/python benchmarks/collect_benchmark.py --messages 2000``
"""

from __future__ import annotations

import argparse
import email.policy
import email.utils
import json
import os
import platform
import poplib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mailbuild import HPRIM_LAB, sandbox_mail  # noqa: E402
from support.dovecot import DovecotServer, MailStore  # noqa: E402
from support.tls import make_pki  # noqa: E402

from medshake_bridge.sandbox import create_network  # noqa: E402

ALICE, BOB = "alice.MARTIN", "bob.DURAND"

PASSTHROUGH_PLUGIN = '''
from pathlib import Path
import shutil
from medshake_bridge import hookimpl
from medshake_bridge.interfaces import BackendSpec

class PassThrough:
    """Returns what it is given: measures the bridge without the cost of decryption."""
    def encrypt_body(self, text, recipients): return text.encode()
    def encrypt_attachment(self, path, recipients, dest_dir): return path
    def decrypt_body(self, armour): return armour
    def decrypt_attachment(self, path, dest_dir):
        target = Path(dest_dir) / Path(path).name.removesuffix(".apz")
        shutil.copyfile(path, target)
        return [target]
    def checks(self): return []

@hookimpl
def medshake_crypto_backends():
    return [BackendSpec(key="1", label="pass-through", factory=lambda s, r: PassThrough())]
'''

COLLECT_SCRIPT = '''
import json, os, sys, time
sys.path.insert(0, sys.argv[3])
from medshake_bridge import bridge_state, create_app, migrate
from medshake_bridge.collect.pipeline import collect_all
config = json.loads(sys.argv[2])
app = create_app({"INSTANCE_PATH": sys.argv[1], **config})
migrate.upgrade(app)
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
with app.app_context():
    bridge_state().settings.values_for_user(1)  # warm up: settings, plugins, imports
    idle = hwm()
    started = time.perf_counter()
    report = collect_all(bridge_state())
    elapsed = time.perf_counter() - started
print(json.dumps({"elapsed": elapsed, "idle_hwm": idle, "peak_hwm": hwm(),
                  "fetched": report.total("fetched"), "adopted": report.total("adopted"),
                  "processed": report.total("processed"),
                  "documents": report.total("documents"), "deleted": report.total("deleted"),
                  "errors": [m.error for m in report.mailboxes if m.error]}))
'''


def build_templates(work: Path) -> tuple[bytes, bytes, Path]:
    net = create_network(work / "sandbox", [ALICE, BOB])
    plain = sandbox_mail(net, work / "mk", sender=ALICE, recipient=BOB, text=HPRIM_LAB)
    with_attachment = sandbox_mail(net, work / "mk", sender=ALICE, recipient=BOB,
                                   text=HPRIM_LAB,
                                   attachments=[("compte-rendu.pdf", os.urandom(100_000))])
    return plain, with_attachment, net.root


def variant(template: bytes, index: int) -> bytes:
    """The same encrypted content under a new Message-ID (duplicates would be skipped)."""
    head, sep, body = template.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"message-id:")]
    lines.append(f"Message-ID: <bench-{index}-{time.time_ns()}@medical69.apicrypt.org>".encode())
    return b"\r\n".join(lines) + sep + body


def seed(dovecot: DovecotServer, login: str, plain: bytes, attached: bytes, count: int) -> int:
    total = 0
    maildir = dovecot.maildir(login)
    for index in range(count):
        raw = variant(attached if index % 3 == 0 else plain, index)
        name = f"{time.time_ns()}.M{index}P{os.getpid()}.bench"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw)
        tmp.rename(maildir / "new" / name)
        total += len(raw)
    return total


def raw_pop3(dovecot: DovecotServer, login: str, password: str, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    client = poplib.POP3(dovecot.ip, dovecot.pop3, timeout=30)
    client.user(login)
    client.pass_(password)
    _, listing, _ = client.uidl()
    for entry in listing:
        number, uid = entry.decode().split()
        _, lines, _ = client.retr(int(number))
        (out / uid).write_bytes(b"\r\n".join(lines) + b"\r\n")
        client.dele(int(number))
    client.quit()
    return time.perf_counter() - started


def bridge_run(instance: Path, config: dict, plugin_dir: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", COLLECT_SCRIPT, str(instance), json.dumps(config),
         str(plugin_dir)], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def configure(instance: Path, sandbox: Path, dovecot: DovecotServer, login: str,
              password: str) -> None:
    """Bob's settings at the default level (one user, id 1)."""
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(instance)}
    cli = [str(Path(sys.executable).parent / "medshake-bridge")]
    subprocess.run([*cli, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "create-user", "bob", "--password-stdin"], env=env, check=True,
                   input="benchmark password\n", text=True, capture_output=True)
    for name, value in {
        "apicryptAdresse": f"{BOB}@medical69.apicrypt.org", "apicryptUtilisateur": BOB,
        "apicryptCollector": "pop3", "apicryptPopHost": "127.0.0.1",
        "apicryptPopPort": str(dovecot.pop3), "apicryptPopTls": "none",
        "apicryptPopUser": login, "apicryptPopPassword": password,
        "apicryptCheminVersBinaires": str(sandbox / "bin"),
        "apicryptCheminVersClefs": str(sandbox / "network" / BOB),
    }.items():
        secret = name.endswith("Password")  # secrets go through stdin, never argv
        subprocess.run([*cli, "config", "set", name, *(["--value-stdin"] if secret else [value])],
                       env=env, check=True, capture_output=True, text=True,
                       input=f"{value}\n" if secret else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sandbox-messages", type=int, default=None)
    parser.add_argument("--big-mb", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/collect.json")
    args = parser.parse_args()
    sandbox_count = args.sandbox_messages or args.messages
    work = Path(tempfile.mkdtemp(prefix="msb-bench-"))
    os.chmod(work, 0o755)
    pki = make_pki()
    store = MailStore(Path(tempfile.mkdtemp(prefix="msb-bench-mail-")))
    os.chmod(store.root, 0o755)
    dovecot_dir = Path(tempfile.mkdtemp(prefix="msb-bench-dovecot-"))
    os.chmod(dovecot_dir, 0o755)
    dovecot = DovecotServer(dovecot_dir, store, pki.server, trusted_ca_file=pki.ca_file,
                            name="bench")
    dovecot.start()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()},
                     "messages": args.messages, "sandbox_messages": sandbox_count}
    try:
        plain, attached, sandbox = build_templates(work)
        plugin_dir = work / "plugin"
        plugin_dir.mkdir()
        (plugin_dir / "bench_passthrough.py").write_text(PASSTHROUGH_PLUGIN)
        user = dovecot.add_user()

        size = seed(dovecot, user.login, plain, attached, args.messages)
        raw_seconds = raw_pop3(dovecot, user.login, user.password, work / "raw")
        results["raw_pop3"] = {"seconds": raw_seconds, "bytes": size,
                               "messages_per_s": args.messages / raw_seconds}

        passthrough = {"MEDSHAKE_BRIDGE_PLUGINS": ["bench_passthrough"],
                       "MEDSHAKE_BRIDGE_DISABLED_PLUGINS": ["apicrypt_v1"]}
        instance = work / "inst-pass"
        configure(instance, sandbox, dovecot, user.login, user.password)
        seed(dovecot, user.login, plain, attached, args.messages)
        run = bridge_run(instance, passthrough, plugin_dir)
        run["messages_per_s"] = args.messages / run["elapsed"]
        run["ratio_to_raw"] = raw_seconds / run["elapsed"]
        results["bridge_passthrough"] = run

        instance = work / "inst-sandbox"
        configure(instance, sandbox, dovecot, user.login, user.password)
        seed(dovecot, user.login, plain, attached, sandbox_count)
        run = bridge_run(instance, {}, plugin_dir)
        run["messages_per_s"] = sandbox_count / run["elapsed"]
        results["bridge_sandbox"] = run

        big = EmailMessage(policy=email.policy.SMTP)
        big["From"], big["To"], big["Subject"] = "labo@x.org", "bob@x.org", "gros"
        big["Message-ID"] = email.utils.make_msgid()
        big.set_content("corps")
        big.add_attachment(os.urandom(args.big_mb * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="gros.bin")
        raw_big = big.as_bytes()
        del big
        instance = work / "inst-memory"
        configure(instance, sandbox, dovecot, user.login, user.password)
        dovecot.seed(user.login, raw_big)
        run = bridge_run(instance, passthrough, plugin_dir)
        growth = run["peak_hwm"] - run["idle_hwm"]
        results["memory_50mb"] = {"message_bytes": len(raw_big), "growth_bytes": growth,
                                  "growth_over_message": growth / len(raw_big),
                                  "fetched": run["fetched"]}

        results["crash"] = crash_trial(work, sandbox, dovecot, user, plain, attached,
                                       passthrough, plugin_dir, min(args.messages, 300))
    finally:
        dovecot.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(store.root, ignore_errors=True)
        shutil.rmtree(dovecot_dir, ignore_errors=True)
        shutil.rmtree(pki.directory, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def crash_trial(work: Path, sandbox: Path, dovecot: DovecotServer, user, plain: bytes,
                attached: bytes, config: dict, plugin_dir: Path, count: int) -> dict:
    """SIGKILL a collecting process part-way, then collect again and count re-fetches."""
    import sqlite3

    instance = work / "inst-crash"
    configure(instance, sandbox, dovecot, user.login, user.password)
    seed(dovecot, user.login, plain, attached, count)
    process = subprocess.Popen(
        [sys.executable, "-c", COLLECT_SCRIPT, str(instance), json.dumps(config),
         str(plugin_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = instance / "medshake_bridge.db"
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline:
        time.sleep(0.05)
        try:
            with sqlite3.connect(database, timeout=1) as connection:
                committed = connection.execute(
                    "select count(*) from bridge_received_messages").fetchone()[0]
        except sqlite3.Error:
            continue
        if committed >= count // 2:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    with sqlite3.connect(database) as connection:
        stored_before = connection.execute(
            "select count(*) from bridge_received_messages").fetchone()[0]
    with sqlite3.connect(database) as connection:
        known = {row[0] for row in connection.execute(
            "select raw_path from bridge_received_messages")}
    raw_files = [p for p in (instance / "data" / "inbox" / "raw").rglob("*") if p.is_file()]
    partial = [p for p in raw_files if p.name.endswith(".part")]
    complete_without_row = [p for p in raw_files
                            if p.suffix == ".eml" and str(p) not in known]
    run = bridge_run(instance, config, plugin_dir)
    with sqlite3.connect(database) as connection:
        rows, distinct = connection.execute(
            "select count(*), count(distinct message_id_header) from bridge_received_messages"
        ).fetchone()
    return {"messages": count, "committed_before_kill": stored_before,
            "complete_files_without_row_after_kill": len(complete_without_row),
            "partial_files_after_kill": len(partial),
            "stored_by_next_run": run["fetched"],
            "adopted_by_next_run": run["adopted"],
            "downloaded_by_next_run": run["fetched"] - run["adopted"],
            # messages whose bytes came over the network in both runs: the partial one(s)
            "downloaded_twice": (run["fetched"] - run["adopted"])
            - (count - stored_before - len(complete_without_row)) + len(partial),
            "rows_after": rows, "distinct_message_ids_after": distinct,
            "left_on_server_after": len(list((dovecot.maildir(user.login) / "new").iterdir()))
            + len(list((dovecot.maildir(user.login) / "cur").iterdir()))}


if __name__ == "__main__":
    raise SystemExit(main())
