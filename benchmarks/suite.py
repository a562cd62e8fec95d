"""Issue 18's side-by-side benchmark, run by ``benchmarks/run`` (see benchmarks/README.md).

Measured, not asserted. One real dovecot on loopback (plain POP3), the same mailbox content for
every contender, reseeded before each run; rounds rotate the order of the contenders and each
figure is the median over the rounds. Whole processes are timed (start-up included):

* ``collect``: raw ``poplib`` (RETR to files + DELE), getmail6 to a Maildir, the bridge with a
  pass-through back-end, with copy-through stand-ins (shell scripts that copy ``-s`` to
  ``-o``), and with the sandbox v1 programs;
* ``latency``: the same through :mod:`latency_proxy` (20 ms each way): raw ``poplib`` vs the
  bridge (POP3 pipelining) vs the bridge over IMAP (batched FETCH);
* ``mailboxes``: 1 mailbox x N vs 4 mailboxes x N/4, collected one after the other
  (``--jobs 1``) or at once (``--jobs 4``), on loopback and through the proxy;
* ``big``: one message with a 50 MB attachment sent by Alice through the sandbox relay to Bob
  and collected into his inbox with the sandbox v1 programs: time and peak memory (VmHWM) of
  every process;
* ``programs``: each sandbox v1 program run alone on a small message (a letter, a 2 KB
  attachment), many times: wall-clock and CPU time of one run, start-up included (the issue's
  "each sandbox program run ≤ 25 ms on a small message");
* ``inbox``: ``benchmarks/inbox_benchmark.py`` (inbox list p50/p95 on SQLite and PostgreSQL).

Writes ``benchmarks/results/suite.json`` (and ``inbox.json``) and regenerates the table between
the ``<!-- suite -->`` markers of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from collect_benchmark import PASSTHROUGH_PLUGIN, build_templates, variant  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402
from support.dovecot import DovecotServer, MailStore  # noqa: E402
from support.tls import make_pki  # noqa: E402

ALICE, BOB = "alice.MARTIN", "bob.DURAND"
DOMAIN = "medical69.apicrypt.org"
PYTHON = sys.executable
CLI = str(Path(PYTHON).parent / "medshake-bridge")
# `medshake-bridge sandbox relay` from a light process (issue 18, third pass): the same options.
# Taken from the code being measured (PYTHONPATH may point at another tree: big_side_by_side.py)
import medshake_bridge  # noqa: E402

CODE = Path(medshake_bridge.__file__).resolve().parent
RELAY_MAIN = CODE / "sandbox" / "relay_main.py"

# Copy-through stand-ins: what the issue's table calls "the Apicrypt programs replaced by shell
# scripts that copy -s to -o" (one spawn per body or attachment, no cryptography at all).
STANDIN = r"""#!/bin/sh
# copy-through stand-in for {name} (benchmark only): copies -s to -o
src=""; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -s) src="$2"; shift 2;;
    -o) out="$2"; shift 2;;
    *) shift;;
  esac
done
[ -n "$out" ] || out="$src.txt"
case "{name}" in
  apiuncryptpj|apicryptpj)
    case "$out" in
      */) base=$(basename "$src" .apz); exec cp "$src" "$out$base";;
      *) if [ -d "$out" ]; then base=$(basename "$src" .apz); exec cp "$src" "$out/$base"; fi;;
    esac;;
esac
exec cp "$src" "$out"
"""

SETUP_SCRIPT = r'''
import json, sys
sys.path.insert(0, sys.argv[2])
from medshake_bridge import bridge_state, create_app, migrate
from medshake_bridge.users import create_user
spec = json.loads(sys.argv[1])
app = create_app({"INSTANCE_PATH": spec["instance"], **spec["config"]})
migrate.upgrade(app)
with app.app_context():
    store = bridge_state().settings
    for user in spec["users"]:
        created = create_user(user["login"], "benchmark password", role="practitioner")
        for name, value in user["settings"].items():
            store.set(name, value, level="user", user_id=created.id)
'''

# The big attachment's collection: built in the script so that its memory growth is measured
# from the app built (VmHWM) to the end of the collection.
COLLECT_SCRIPT = r'''
import json, sys, time
started_process = float(sys.argv[3])
sys.path.insert(0, sys.argv[2])
spec = json.loads(sys.argv[1])
from medshake_bridge import bridge_state, create_app
from medshake_bridge.collect.pipeline import collect_all
# what `medshake-bridge fetch` builds: an app without pages
app = create_app({"INSTANCE_PATH": spec["instance"], **spec["config"]}, web=False)
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
with app.app_context():
    bridge_state().settings.values_for_user(1)
    idle = hwm()
    started, cpu_started = time.perf_counter(), time.process_time()
    report = collect_all(bridge_state(), workers=spec.get("workers"))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"elapsed": elapsed, "cpu": cpu, "idle_hwm": idle, "peak_hwm": hwm(),
                  "fetched": report.total("fetched"), "documents": report.total("documents"),
                  "deleted": report.total("deleted"),
                  "errors": [m.error for m in report.mailboxes if m.error]
                            + [str(p) for p in report.problems]}))
'''

# `medshake-bridge fetch` itself, as its console script runs it (`main()` reads sys.argv): the
# whole program is measured, its start-up included (issue 18, sixth pass; was a script that
# built the app and called collect_all, which skipped what `fetch` does as a program).
FETCH_PROGRAM = r'''
import sys
from medshake_bridge.cli import main
sys.argv = ["medshake-bridge", "fetch", *sys.argv[1:]]
main()
'''

SEND_SCRIPT = r'''
import datetime as dt, json, sys, time
spec = json.loads(sys.argv[1])
from pathlib import Path
from medshake_bridge import create_app
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.patients import Patient
from medshake_bridge.send.service import AttachmentFile, Draft, send_message
from medshake_bridge.send.sources import identity_from_patient
# what `medshake-bridge send` builds: an app without pages (a page's send runs in a web
# process that has started long before)
app = create_app({"INSTANCE_PATH": spec["instance"], **spec["config"]}, web=False)
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
with app.app_context():
    patient = Patient(last_name="DUPONT", first_name="Hélène", birth_date=dt.date(1961, 3, 12),
                      nir="2610369123456", postcode="69003", city="LYON")
    db.session.add(patient)
    db.session.commit()
    user = db.session.scalars(db.select(User).where(User.login == "alice")).one()
    draft = Draft(recipients=[spec["to"]], subject="Imagerie", body="Chère consœur, ci-joint.",
                  identity=identity_from_patient(patient), patient_id=str(patient.id),
                  patient_label=patient.display_name,
                  attachments=[AttachmentFile(Path(spec["file"]).name, Path(spec["file"]))])
    idle = hwm()
    import cProfile, os
    profile = cProfile.Profile() if os.environ.get("MSB_PROFILE_SEND") else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    outcome = send_message(user, draft, token="bench")
    if profile:
        profile.disable()
        profile.dump_stats(os.environ["MSB_PROFILE_SEND"])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    state = outcome.record.state
print(json.dumps({"elapsed": elapsed, "cpu": cpu, "idle_hwm": idle, "peak_hwm": hwm(),
                  "state": state}))
'''


def timed(argv: list[str], *, timeout: float, **options) -> tuple[subprocess.CompletedProcess,
                                                                    float]:
    """Run one measured process; returns it and its wall time from start to exit."""
    started = time.perf_counter()
    done = subprocess.run(argv, timeout=timeout, **options)
    return done, time.perf_counter() - started


def setup(spec: dict, plugin_dir: Path) -> None:
    """Create a bridge instance: database, users, their settings, and its ``config.py``
    (what ``fetch`` reads at start: the secret keys, the benchmark's plugins)."""
    done = subprocess.run([PYTHON, "-c", SETUP_SCRIPT, json.dumps(spec), str(plugin_dir)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    config = Path(spec["instance"]) / "config.py"
    config.write_text("".join(f"{key} = {value!r}\n" for key, value in spec["config"].items()))
    config.chmod(0o600)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Bench:
    """Everything the contenders share: dovecot, the PKI, the sandbox network, templates."""

    def __init__(self, work: Path, messages: int) -> None:
        self.work = work
        self.messages = messages
        self.pki = make_pki()
        self.store = MailStore(Path(tempfile.mkdtemp(prefix="msb-suite-mail-")))
        os.chmod(self.store.root, 0o755)
        self.dovecot_dir = Path(tempfile.mkdtemp(prefix="msb-suite-dovecot-"))
        os.chmod(self.dovecot_dir, 0o755)
        self.dovecot = DovecotServer(self.dovecot_dir, self.store, self.pki.server,
                                     trusted_ca_file=self.pki.ca_file, name="suite")
        self.dovecot.start()
        self.plain, self.attached, self.sandbox = build_templates(work)
        self.plugin_dir = work / "plugin"
        self.plugin_dir.mkdir()
        (self.plugin_dir / "bench_passthrough.py").write_text(PASSTHROUGH_PLUGIN)
        self.standins = work / "standins"
        self.standins.mkdir()
        for name in ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj"):
            path = self.standins / name
            path.write_text(STANDIN.replace("{name}", name))
            path.chmod(0o755)
        self.users = [self.dovecot.add_user() for _ in range(4)]
        self.proxies: dict[int, LatencyProxy] = {}
        self.instances = 0
        from cryptography.fernet import Fernet

        # Secrets at rest (the mailbox passwords) need a key; one per benchmark run.
        self.secret_config = {"MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()]}

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.dovecot.stop()
        for folder in (self.work, self.store.root, self.dovecot_dir, self.pki.directory):
            shutil.rmtree(folder, ignore_errors=True)

    # --- mailboxes --------------------------------------------------------------------------

    def proxy(self, port: int, delay: float) -> int:
        if port not in self.proxies:
            self.proxies[port] = LatencyProxy(self.dovecot.ip, port, delay).start()
        return self.proxies[port].port

    def empty(self, user) -> None:  # noqa: ANN001
        for sub in ("new", "cur"):
            for path in (self.dovecot.maildir(user.login) / sub).iterdir():
                path.unlink()

    def seed(self, user, count: int) -> int:  # noqa: ANN001
        """``count`` messages (every third with a 100 KB attachment) in ``user``'s mailbox."""
        self.empty(user)
        maildir = self.dovecot.maildir(user.login)
        owner = maildir.stat()
        total = 0
        for index in range(count):
            raw = variant(self.attached if index % 3 == 0 else self.plain, index)
            name = f"{time.time_ns()}.M{index}P{os.getpid()}.suite"
            tmp = maildir / "tmp" / name
            tmp.write_bytes(raw)
            os.chown(tmp, owner.st_uid, owner.st_gid)
            tmp.rename(maildir / "new" / name)
            total += len(raw)
        return total

    def left(self, user) -> int:  # noqa: ANN001
        return sum(len(list((self.dovecot.maildir(user.login) / sub).iterdir()))
                   for sub in ("new", "cur"))

    def seeded(self, run: Callable[[], float], users: list, per: int) -> Callable[[], float]:
        """``run`` as one measured round: ``per`` fresh messages seeded into each mailbox of
        ``users`` first (not timed), every one of them collected after."""
        def go() -> float:
            for user in users:
                self.seed(user, per)
            seconds = run()
            if any(self.left(user) for user in users):
                raise RuntimeError("messages left on the server")
            return seconds
        return go

    # --- contenders -------------------------------------------------------------------------

    def raw_pop3(self, user, port: int) -> float:  # noqa: ANN001
        out = self.work / f"raw-{time.time_ns()}"
        out.mkdir()
        _done, elapsed = timed([PYTHON, "-c", RAW_SCRIPT, self.dovecot.ip, str(port),
                                user.login, user.password, str(out)], check=True, timeout=3600)
        shutil.rmtree(out)
        return elapsed

    def getmail(self, user, port: int) -> float:  # noqa: ANN001
        folder = self.work / f"getmail-{time.time_ns()}"
        maildir = folder / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        as_user = ""
        if os.geteuid() == 0:  # getmail refuses to deliver as root: deliver as nobody
            import pwd

            nobody = pwd.getpwnam("nobody")
            for path in (maildir, *maildir.iterdir()):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            as_user = "user = nobody\n"
        rc = folder / "getmailrc"
        rc.write_text(
            "[retriever]\ntype = SimplePOP3Retriever\n"
            f"server = {self.dovecot.ip}\nport = {port}\nusername = {user.login}\n"
            f"password = {user.password}\n\n"
            f"[destination]\ntype = Maildir\npath = {maildir}/\n{as_user}\n"
            "[options]\ndelete = true\nread_all = true\nverbose = 0\nmessage_log_syslog = false\n")
        getmail = shutil.which("getmail", path=str(Path(PYTHON).parent)) or "getmail"
        done, elapsed = timed([getmail, f"--getmaildir={folder}", f"--rcfile={rc}"],
                              timeout=3600, capture_output=True, text=True)
        got = len(list((maildir / "new").iterdir()))
        shutil.rmtree(folder)
        if done.returncode != 0 or got == 0:
            raise RuntimeError(f"getmail failed ({done.returncode}, {got} retrieved): "
                               f"{done.stdout[-1500:]} {done.stderr[-1500:]}")
        return elapsed

    def instance(self, backend: str, users: list, *, port: int | None = None,  # noqa: ANN001
                 protocol: str = "pop3") -> dict:
        """A fresh bridge instance (SQLite) with one bridge user per mailbox user."""
        self.instances += 1
        path = self.work / f"inst-{self.instances}"
        config: dict = dict(self.secret_config)
        if backend == "passthrough":
            config |= {"MEDSHAKE_BRIDGE_PLUGINS": ["bench_passthrough"],
                      "MEDSHAKE_BRIDGE_DISABLED_PLUGINS": ["apicrypt_v1"]}
        bin_dir = self.standins if backend == "copy" else self.sandbox / "bin"
        specs = []
        for index, user in enumerate(users):
            settings = {
                "apicryptAdresse": f"{BOB}@{DOMAIN}", "apicryptUtilisateur": BOB,
                "apicryptCollector": protocol, "apicryptPopUser": user.login,
                "apicryptPopPassword": user.password,
                "apicryptCheminVersBinaires": str(bin_dir),
                "apicryptCheminVersClefs": str(self.sandbox / "network" / BOB),
            }
            if protocol == "pop3":
                settings |= {"apicryptPopHost": self.dovecot.ip,
                             "apicryptPopPort": str(port or self.dovecot.pop3),
                             "apicryptPopTls": "none"}
            else:
                settings |= {"apicryptImapHost": self.dovecot.ip,
                             "apicryptImapPort": str(port or self.dovecot.imap),
                             "apicryptImapTls": "none"}
            specs.append({"login": f"user{index}", "settings": settings})
        spec = {"instance": str(path), "config": config, "users": specs}
        setup(spec, self.plugin_dir)
        return spec

    def bridge(self, spec: dict, workers: int | None = None) -> float:
        """Collect with ``medshake-bridge fetch`` in a fresh process (``--jobs workers``);
        returns the whole process's time. A run that leaves a message uncollected or failed
        (exit status other than 0) stops the benchmark with the command's output."""
        env = dict(os.environ, MEDSHAKE_BRIDGE_INSTANCE=spec["instance"])
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.plugin_dir), *filter(None, [os.environ.get("PYTHONPATH")])])
        jobs = ["--jobs", str(workers)] if workers else []
        done, elapsed = timed([PYTHON, "-c", FETCH_PROGRAM, *jobs], capture_output=True,
                              text=True, timeout=7200, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"fetch exited {done.returncode}: {done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")
        return elapsed


RAW_SCRIPT = r'''
import poplib, sys
host, port, login, password, out = sys.argv[1:]
client = poplib.POP3(host, int(port), timeout=60)
client.user(login)
client.pass_(password)
for entry in client.uidl()[1]:
    number, uid = entry.decode().split()
    lines = client.retr(int(number))[1]
    with open(f"{out}/{uid}", "wb") as handle:
        handle.write(b"\r\n".join(lines) + b"\r\n")
    client.dele(int(number))
client.quit()
'''


def rounds_of(contenders: dict[str, Callable[[], float]], rounds: int,
              log: Callable[[str], None]) -> dict[str, dict]:
    """Run each contender ``rounds`` times, rotating the order; medians and all times."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            seconds = contenders[name]()
            times[name].append(seconds)
            log(f"  round {index + 1}: {name}: {seconds:.2f} s")
    return {name: {"median_s": median(values), "times_s": values}
            for name, values in times.items()}


def collect_part(bench: Bench, args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    user = bench.users[0]
    count = args.messages
    size = bench.seed(user, count)
    specs = {name: bench.instance(name, [user]) for name in ("passthrough", "copy", "sandbox")}

    def seeded(run: Callable[[], float]) -> Callable[[], float]:
        return bench.seeded(run, [user], count)

    contenders = {
        "raw poplib": seeded(lambda: bench.raw_pop3(user, bench.dovecot.pop3)),
        "getmail6 to a Maildir": seeded(lambda: bench.getmail(user, bench.dovecot.pop3)),
        "bridge, pass-through": seeded(lambda: bench.bridge(specs["passthrough"], 1)),
        "bridge, copy-through stand-ins": seeded(lambda: bench.bridge(specs["copy"], 1)),
        "bridge, sandbox v1 programs": seeded(lambda: bench.bridge(specs["sandbox"], 1)),
    }
    # A fresh instance per run would re-create its database; the same instance sees new
    # Message-IDs at each seeding (variant), so nothing is taken for a duplicate.
    results = rounds_of(contenders, args.rounds, log)
    return {"messages": count, "bytes": size, "runs": results}


def latency_part(bench: Bench, args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    user = bench.users[0]
    count = args.latency_messages
    delay = args.latency_ms / 1000
    pop3 = bench.proxy(bench.dovecot.pop3, delay)
    imap = bench.proxy(bench.dovecot.imap, delay)
    specs = {"pop3": bench.instance("passthrough", [user], port=pop3),
             "imap": bench.instance("passthrough", [user], port=imap, protocol="imap"),
             "pop3-copy": bench.instance("copy", [user], port=pop3)}

    def seeded(run: Callable[[], float]) -> Callable[[], float]:
        return bench.seeded(run, [user], count)

    contenders = {
        "raw poplib (proxy)": seeded(lambda: bench.raw_pop3(user, pop3)),
        "bridge POP3, pass-through (proxy)": seeded(lambda: bench.bridge(specs["pop3"], 1)),
        "bridge IMAP, pass-through (proxy)": seeded(lambda: bench.bridge(specs["imap"], 1)),
        "bridge POP3, copy-through (proxy)": seeded(
            lambda: bench.bridge(specs["pop3-copy"], 1)),
    }
    return {"messages": count, "delay_ms_each_way": args.latency_ms,
            "runs": rounds_of(contenders, args.rounds, log)}


def mailboxes_part(bench: Bench, args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    delay = args.latency_ms / 1000
    out: dict = {}
    for where, port in (("loopback", bench.dovecot.pop3),
                        ("proxy", bench.proxy(bench.dovecot.pop3, delay))):
        count = args.messages if where == "loopback" else args.latency_messages
        one = bench.instance("copy", bench.users[:1], port=port)
        four = bench.instance("copy", bench.users, port=port)

        seeded = bench.seeded
        contenders = {
            f"1 mailbox x {count}": seeded(lambda one=one: bench.bridge(one, 1),
                                           bench.users[:1], count),
            f"4 mailboxes x {count // 4}, one after the other": seeded(
                lambda four=four: bench.bridge(four, 1), bench.users, count // 4),
            f"4 mailboxes x {count // 4}, 4 at once": seeded(
                lambda four=four: bench.bridge(four, 4), bench.users, count // 4),
        }
        log(f" mailboxes on {where}")
        out[where] = {"messages": count, "runs": rounds_of(contenders, args.rounds, log)}
    return out


def _status_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def big_part(bench: Bench, args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    """Alice sends one attachment of ``--big-mb`` MB through the relay; Bob collects it."""
    work = bench.work / "big"
    work.mkdir()
    # The sandbox programs, each run under /usr/bin/time to record its time and peak memory.
    measured = work / "bin"
    measured.mkdir()
    program_log = work / "programs.log"
    for name in ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj"):
        wrapper = measured / name
        wrapper.write_text(
            "#!/bin/sh\n"
            f"exec /usr/bin/time -a -o {program_log} -f '{name} %e s %M KiB %U %S' "
            f"{bench.sandbox / 'bin' / name} \"$@\"\n")
        wrapper.chmod(0o755)
    maildirs = work / "maildirs"
    users_file = work / "relay-users"
    users_file.write_text(f"{ALICE}:relay-password\n")
    relay = subprocess.Popen(  # the relay's light entry point (its own process, no Flask app)
        [PYTHON, str(RELAY_MAIN), "--port", "0", "--network", str(bench.sandbox / "network"),
         "--maildirs", str(maildirs), "--users", str(users_file),
         "--tls-cert", str(bench.pki.server.cert_file), "--tls-key",
         str(bench.pki.server.key_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = relay.stdout.readline()
        port = int(line.split(" on ", 1)[1].split(",", 1)[0].rsplit(":", 1)[1])
        for sub in ("cur", "new", "tmp"):
            (maildirs / BOB / sub).mkdir(parents=True, exist_ok=True)
            (maildirs / ALICE / sub).mkdir(parents=True, exist_ok=True)
        instance = work / "instance"
        common = {"apicryptCheminVersBinaires": str(measured),
                  "apicryptSendMaxAttachmentMo": str(args.big_mb + 10)}
        spec = {"instance": str(instance), "config": dict(bench.secret_config), "users": [
            {"login": "alice", "settings": common | {
                "apicryptAdresse": f"{ALICE}@{DOMAIN}", "apicryptUtilisateur": ALICE,
                "apicryptCollector": "maildir", "apicryptMaildir": str(maildirs / ALICE),
                "apicryptCheminVersClefs": str(bench.sandbox / "network" / ALICE),
                "apicryptSmtpHost": "localhost", "apicryptSmtpPort": str(port),
                "apicryptSmtpTls": "starttls", "apicryptTlsCaFile": str(bench.pki.ca_file),
                "apicryptPopPassword": "relay-password"}},
            {"login": "bob", "settings": common | {
                "apicryptAdresse": f"{BOB}@{DOMAIN}", "apicryptUtilisateur": BOB,
                "apicryptCollector": "maildir", "apicryptMaildir": str(maildirs / BOB),
                "apicryptCheminVersClefs": str(bench.sandbox / "network" / BOB)}}]}
        setup(spec, bench.plugin_dir)
        payload = work / "IRM.dcm"
        with payload.open("wb") as handle:
            for _ in range(args.big_mb):
                handle.write(os.urandom(1024 * 1024))
        size = payload.stat().st_size
        relay_idle = _status_hwm(relay.pid)
        relay_cpu = _cpu_seconds(relay.pid)
        children_cpu = _children_cpu()
        sent, send_seconds = timed([PYTHON, "-c", SEND_SCRIPT, json.dumps(
            {**spec, "to": f"{BOB}@{DOMAIN}", "file": str(payload)})],
            capture_output=True, text=True, timeout=3600)
        send_cpu = _children_cpu() - children_cpu
        relay_cpu = _cpu_seconds(relay.pid) - relay_cpu
        if sent.returncode != 0:
            raise RuntimeError(sent.stderr[-3000:])
        send = json.loads(sent.stdout.strip().splitlines()[-1])
        delivered = list((maildirs / BOB / "new").iterdir())
        message_bytes = sum(path.stat().st_size for path in delivered)
        relay_peak = _status_hwm(relay.pid)
        children_cpu = _children_cpu()
        collected, collect_seconds = timed([PYTHON, "-c", COLLECT_SCRIPT, json.dumps(
            {**spec, "workers": 1}), str(bench.plugin_dir), "0"],
            capture_output=True, text=True, timeout=3600)
        collect_cpu = _children_cpu() - children_cpu
        if collected.returncode != 0:
            raise RuntimeError(collected.stderr[-3000:])
        collect = json.loads(collected.stdout.strip().splitlines()[-1])
    finally:
        relay.terminate()
        relay.wait(30)
    programs = []
    for entry in program_log.read_text().splitlines():
        name, seconds, _, kib, _, *cpu = entry.split()
        programs.append({"program": name, "seconds": float(seconds),
                         "cpu_s": sum(float(value) for value in cpu),  # user + system
                         "peak_bytes": int(kib) * 1024,
                         "peak_over_file": int(kib) * 1024 / size})
    result = {
        "code": str(CODE),
        "attachment_bytes": size, "message_bytes_delivered": message_bytes,
        "end_to_end_s": send_seconds + collect_seconds,
        "load_average": [round(v, 1) for v in os.getloadavg()],
        "cpu_s": {"send_with_programs": send_cpu, "relay": relay_cpu,
                  "collect_with_programs": collect_cpu},
        "send": {"process_s": send_seconds, "send_s": send["elapsed"], "state": send["state"],
                 "send_cpu_s": send.get("cpu"),  # this process's CPU in send_message
                 "peak_growth_bytes": send["peak_hwm"] - send["idle_hwm"]},
        "relay": {"peak_bytes": relay_peak, "growth_bytes": relay_peak - relay_idle,
                  "peak_over_file": relay_peak / size},
        "collect": {"process_s": collect_seconds, "collect_s": collect["elapsed"],
                    "collect_cpu_s": collect.get("cpu"),  # this process's CPU in collect_all
                    "documents": collect["documents"], "errors": collect["errors"],
                    "peak_growth_bytes": collect["peak_hwm"] - collect["idle_hwm"],
                    "growth_over_message": (collect["peak_hwm"] - collect["idle_hwm"])
                    / max(message_bytes, 1)},
        "programs": programs,
    }
    log(f"  big: {json.dumps(result)}")
    return result


def programs_part(bench: Bench, args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    """Each sandbox program on a small input, ``--program-runs`` times, alternated."""
    from medshake_bridge.sandbox import reencrypt

    work = bench.work / "programs"
    work.mkdir()
    bin_dir, network = bench.sandbox / "bin", bench.sandbox / "network"
    letter, attachment = work / "letter.txt", work / "result.pdf"
    letter.write_bytes("Cher confrère,\nle bilan est normal.\n".encode("latin-1"))
    attachment.write_bytes(os.urandom(2048))
    sender = ["-u", ALICE, "-k", str(network / ALICE), "-d", BOB]
    calls = {
        "apicrypt": [str(bin_dir / "apicrypt"), "-s", str(letter), "-o",
                     str(work / "letter.enc"), *sender],
        "apicryptpj": [str(bin_dir / "apicryptpj"), "-s", str(attachment), "-o",
                       str(work / "result.apz"), *sender],
    }
    for call in calls.values():
        subprocess.run(call, check=True, timeout=60, capture_output=True)
    for name in ("letter.enc", "result.apz"):  # what the relay hands Bob
        (work / f"bob-{name}").write_bytes(
            reencrypt(network, (work / name).read_bytes())[BOB])
    calls["apiuncrypt"] = [str(bin_dir / "apiuncrypt"), "-s", str(work / "bob-letter.enc"),
                           "-o", str(work / "letter.out"), "-k", str(network / BOB)]
    calls["apiuncryptpj"] = [str(bin_dir / "apiuncryptpj"), "-s", str(work / "bob-result.apz"),
                             "-o", f"{work / 'pj'}/", "-k", str(network / BOB)]
    walls: dict[str, list[float]] = {name: [] for name in calls}
    cpus: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.program_runs):
        for name, call in calls.items():
            shutil.rmtree(work / "pj", ignore_errors=True)
            before = _children_cpu()
            done, seconds = timed(call, timeout=60, capture_output=True)
            if done.returncode != 0:
                raise RuntimeError(f"{name}: {done.stderr[-2000:]!r}")
            walls[name].append(seconds)
            cpus[name].append(_children_cpu() - before)
    result = {"runs": args.program_runs, "programs": {
        name: {"median_ms": median(walls[name]) * 1000,
               "p95_ms": sorted(walls[name])[int(0.95 * (len(walls[name]) - 1))] * 1000,
               "cpu_median_ms": median(cpus[name]) * 1000} for name in calls}}
    log(f"  programs: {json.dumps(result)}")
    return result


def inbox_part(args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    out = HERE / "results" / "inbox.json"
    subprocess.run([PYTHON, str(HERE / "inbox_benchmark.py"), "--documents",
                    str(args.documents), "--rounds", str(args.inbox_rounds), "--out", str(out)],
                   check=True, timeout=7200, capture_output=True)
    result = json.loads(out.read_text())
    log(f"  inbox: {json.dumps(result)}")
    return result


PARTS = ("collect", "latency", "mailboxes", "big", "programs", "inbox")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one round: proves the benchmark runs")
    parser.add_argument("--messages", type=int, default=None, help="per run (default 1500)")
    parser.add_argument("--latency-messages", type=int, default=None,
                        help="per run through the proxy (default 400)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=None, help="default 3")
    parser.add_argument("--big-mb", type=int, default=None, help="default 50")
    parser.add_argument("--documents", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--inbox-rounds", type=int, default=200)
    parser.add_argument("--program-runs", type=int, default=None,
                        help="runs of each sandbox program (default 100)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts among {', '.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "suite.json")
    parser.add_argument("--render-only", action="store_true",
                        help="only regenerate the README table from --out")
    args = parser.parse_args(argv)
    readme = HERE / "README.md"
    if args.render_only:
        readme.write_text(render_into(readme.read_text(), json.loads(args.out.read_text())))
        return 0
    quick = args.quick
    args.messages = args.messages or (120 if quick else 1500)
    args.latency_messages = args.latency_messages or (40 if quick else 400)
    args.rounds = args.rounds or (1 if quick else 3)
    args.big_mb = args.big_mb or (8 if quick else 50)
    args.documents = args.documents or (20_000 if quick else 1_000_000)
    args.program_runs = args.program_runs or (5 if quick else 100)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    def log(text: str) -> None:
        print(text, flush=True)

    load = os.getloadavg()
    results: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_at_start": load},
        "settings": {key: getattr(args, key) for key in (
            "messages", "latency_messages", "latency_ms", "rounds", "big_mb", "documents")},
    }
    work = Path(tempfile.mkdtemp(prefix="msb-suite-"))
    os.chmod(work, 0o755)
    bench = Bench(work, args.messages) if set(parts) - {"inbox"} else None
    try:
        for part in parts:
            log(f"== {part}")
            if part == "collect":
                results["collect"] = collect_part(bench, args, log)
            elif part == "latency":
                results["latency"] = latency_part(bench, args, log)
            elif part == "mailboxes":
                results["mailboxes"] = mailboxes_part(bench, args, log)
            elif part == "big":
                results["big"] = big_part(bench, args, log)
            elif part == "programs":
                results["programs"] = programs_part(bench, args, log)
            elif part == "inbox":
                results["inbox"] = inbox_part(args, log)
            results[part]["measured"] = {
                "command": results["command"], "when": results["when"],
                "load_average": [round(x, 1) for x in os.getloadavg()]}
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    merged = {**previous, **results}  # a partial run (--only) keeps the other parts' figures
    args.out.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    if args.out == HERE / "results" / "suite.json":
        readme.write_text(render_into(readme.read_text(), merged))
        log(f"wrote {args.out} and the table in {readme}")
    else:
        log(f"wrote {args.out} (the README's table comes from results/suite.json: "
            f"--render-only --out {args.out} puts these figures there)")
    return 0


# --- the README table ---------------------------------------------------------------------------

START, END = "<!-- suite -->", "<!-- /suite -->"


def _rows(runs: dict, reference: str, count: int) -> list[str]:
    base = runs[reference]["median_s"]
    rows = []
    for name, run in runs.items():
        seconds = run["median_s"]
        rows.append(f"| {name} | {seconds:.2f} s | {count / seconds:.0f} | "
                    f"{base / seconds:.2f} × |")
    return rows


def _measured(part: dict, results: dict) -> str:
    info = part.get("measured") or {"command": results.get("command"),
                                     "when": results.get("when"), "load_average": []}
    load = ", ".join(f"{x:.1f}" for x in info.get("load_average", []))
    return (f"_`{info['command']}`, {info['when']}"
            + (f", load average {load}_" if load else "_"))


def render(results: dict) -> str:
    machine = results.get("machine", {})
    lines = [
        f"Machine: {machine.get('cpus')} cores, Python {machine.get('python')}. Each table "
        "says the command that measured it, when, and the load average then: figures taken "
        "on a loaded machine (load above the number of cores) are not representative. "
        "Medians of the rotated rounds; whole processes timed (start-up included).",
        "",
    ]
    if "collect" in results:
        part = results["collect"]
        lines += [f"**Collection, one mailbox, {part['messages']} messages, loopback** "
                  "(ratio: throughput over raw poplib's)", "",
                  _measured(part, results), "",
                  "| run | median | messages/s | vs raw |", "|---|---|---|---|"]
        lines += _rows(part["runs"], "raw poplib", part["messages"])
        lines.append("")
    if "latency" in results:
        part = results["latency"]
        lines += [f"**Through the proxy, {part['delay_ms_each_way']:.0f} ms each way, "
                  f"{part['messages']} messages**", "", _measured(part, results), "",
                  "| run | median | messages/s | vs raw |", "|---|---|---|---|"]
        lines += _rows(part["runs"], "raw poplib (proxy)", part["messages"])
        lines.append("")
    if "mailboxes" in results:
        for where, part in results["mailboxes"].items():
            if where == "measured":
                continue
            runs = part["runs"]
            lines += [f"**Mailboxes, {where}, copy-through stand-ins** (ratio: time over one "
                      "after the other)", "", _measured(results["mailboxes"], results), "",
                      "| run | median | messages/s | time ratio |",
                      "|---|---|---|---|"]
            sequential = next(name for name in runs if "one after the other" in name)
            for name, run in runs.items():
                lines.append(f"| {name} | {run['median_s']:.2f} s | "
                             f"{part['messages'] / run['median_s']:.0f} | "
                             f"{run['median_s'] / runs[sequential]['median_s']:.2f} |")
            lines.append("")
    if "big" in results:
        big = results["big"]
        mb = big["attachment_bytes"] / 1024 / 1024
        lines += [f"**One {mb:.0f} MB attachment, send → relay → collect → inbox, sandbox v1 "
                  f"programs**: {big['end_to_end_s']:.1f} s end to end "
                  f"(send {big['send']['process_s']:.1f} s, collect "
                  f"{big['collect']['process_s']:.1f} s, whole processes).", "",
                  _measured(big, results), "",
                  "| process | time | peak memory | vs file size |", "|---|---|---|---|",
                  f"| bridge, send (growth) | {big['send']['send_s']:.1f} s | "
                  f"{big['send']['peak_growth_bytes'] / 2**20:.1f} MiB | "
                  f"{big['send']['peak_growth_bytes'] / big['attachment_bytes']:.2f} × |",
                  f"| sandbox relay (whole process) | — | "
                  f"{big['relay']['peak_bytes'] / 2**20:.1f} MiB | "
                  f"{big['relay']['peak_over_file']:.2f} × |",
                  f"| bridge, collect (growth) | {big['collect']['collect_s']:.1f} s | "
                  f"{big['collect']['peak_growth_bytes'] / 2**20:.1f} MiB | "
                  f"{big['collect']['peak_growth_bytes'] / big['attachment_bytes']:.2f} × |"]
        for program in big["programs"]:
            lines.append(f"| {program['program']} (whole process) | {program['seconds']:.2f} s"
                         f" | {program['peak_bytes'] / 2**20:.1f} MiB | "
                         f"{program['peak_over_file']:.2f} × |")
        lines.append("")
        if "cpu_s" in big:  # CPU seconds do not depend on the load as wall-clock time does
            cpu = big["cpu_s"]
            lines += [f"CPU seconds (user + system): send process with its programs "
                      f"{cpu['send_with_programs']:.2f} s, relay {cpu['relay']:.2f} s, collect "
                      f"process with its programs {cpu['collect_with_programs']:.2f} s; "
                      f"relay growth {big['relay']['growth_bytes'] / 2**20:.1f} MiB "
                      f"({big['relay']['growth_bytes'] / big['attachment_bytes']:.2f} × the "
                      "file).", ""]
    if "programs" in results:
        part = results["programs"]
        lines += ["**Each sandbox program on a small message** (a letter; a 2 KB attachment), "
                  f"{part['runs']} runs each, alternated; whole process, start-up included",
                  "", _measured(part, results), "",
                  "| program | median | p95 | CPU median |", "|---|---|---|---|"]
        for name, row in part["programs"].items():
            lines.append(f"| {name} | {row['median_ms']:.1f} ms | {row['p95_ms']:.1f} ms | "
                         f"{row['cpu_median_ms']:.1f} ms |")
        lines.append("")
    if "inbox" in results:
        inbox = results["inbox"]
        lines += [f"**Inbox list, {inbox['documents']:,} documents** (server time of "
                  "`GET /inbox/`)", "", _measured(inbox, results), "",
                  "| database | p50 | p95 | max |", "|---|---|---|---|"]
        for name in ("sqlite", "postgresql"):
            if name in inbox:
                row = inbox[name]
                lines.append(f"| {name} | {row['p50_ms']:.1f} ms | **{row['p95_ms']:.1f} ms** |"
                             f" {row['max_ms']:.0f} ms |")
        lines.append("")
    return "\n".join(lines)


def render_into(readme: str, results: dict) -> str:
    block = f"{START}\n{render(results)}\n{END}"
    if START in readme and END in readme:
        head, _, rest = readme.partition(START)
        _, _, tail = rest.partition(END)
        return head + block + tail
    title = "## Side by side (issue 18, `benchmarks/run`)"
    return readme.rstrip("\n") + f"\n\n{title}\n\n{block}\n"


if __name__ == "__main__":
    raise SystemExit(main())
