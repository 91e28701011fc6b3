"""Run a test body inside a private simulated LAN (../shared/tools/testnet.sh).

Multicast (mDNS) and multi-host tests may only send traffic inside such a network, so
their bodies do not run in pytest's process: `run(body, hosts=N, **kwargs)` starts
testnet.sh, which makes a fresh network + mount namespace holding hosts h1..hN
(10.77.0.1..N on one bridge), and calls `body(net, **kwargs)` in a Python process
inside it. `body` must be a module-level function of a test module; its return value
(anything JSON can carry) comes back to the caller, and a failed assert inside it
fails the test with the traceback.

Inside, `net` (a Net) starts processes on hosts, runs Avahi on one, and when the
body ends, stops everything it started; testnet.sh then kills whatever is left and
the namespaces vanish.

    def body(net):
        sup = net.spawn(1, [liquid, "mdns", "advertise", ...])
        out = net.run(2, ["avahi-browse", "-rpt", "_webthing._tcp"])
        return out.stdout

    def test_something():
        testnet.require()
        result = testnet.run(body, hosts=2)
"""
import functools
import importlib.util
import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
TESTNET_SH = pathlib.Path(os.environ.get("LIQUID_TESTNET_SH",
                                         REPO.parent / "shared" / "tools" / "testnet.sh"))
RESULT_MARK = "TESTNET-RESULT "


# ----------------------------------------------------------------- outside: pytest side

@functools.lru_cache(maxsize=None)
def unavailable_reason():
    """Why no private network can be made here, or None if one can."""
    if not TESTNET_SH.is_file():
        return f"{TESTNET_SH} not found"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "iproute2 (ip) and util-linux (unshare) are needed for testnet.sh"
    try:
        probe = subprocess.run([str(TESTNET_SH), "1", "true"], capture_output=True, text=True,
                               timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"testnet.sh did not run: {e}"
    if probe.returncode != 0:
        return f"testnet.sh cannot make a private network here (needs root): {probe.stderr.strip()}"
    return None


def require(*programs):
    """Skips the calling test when no private network can be made or a program is missing."""
    import pytest
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    for program in programs:
        if not shutil.which(program):
            pytest.skip(f"{program} is not installed (scripts/bootstrap.sh installs it)")


def run(body, hosts=2, timeout=180, **kwargs):
    """Runs body(net, **kwargs) inside testnet.sh with `hosts` hosts; returns its result."""
    module_file = sys.modules[body.__module__].__file__
    command = [str(TESTNET_SH), str(hosts), sys.executable, str(pathlib.Path(__file__).resolve()),
               "--inside", module_file, body.__name__, json.dumps(kwargs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    result_lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not result_lines:
        raise AssertionError(f"{body.__name__} failed inside the test network "
                             f"(exit {done.returncode}):\n--- stdout\n{done.stdout}\n"
                             f"--- stderr\n{done.stderr}")
    return json.loads(result_lines[-1][len(RESULT_MARK):])


# ------------------------------------------------------------------ inside: the network

class Net:
    """The hosts of the private network, seen from inside it."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.subnet = os.environ.get("TESTNET_SUBNET", "10.77.0")
        self.processes = []
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="testnet-"))
        self.avahi_host = None

    def address(self, host):
        return f"{self.subnet}.{host}"

    def _command(self, host, args):
        return ["ip", "netns", "exec", f"h{host}", *map(str, args)]

    def spawn(self, host, args, **popen_kwargs):
        """Starts args on a host (stdout and stderr piped, text) and returns the Popen;
        it is stopped when the body ends."""
        popen_kwargs.setdefault("stdout", subprocess.PIPE)
        popen_kwargs.setdefault("stderr", subprocess.PIPE)
        popen_kwargs.setdefault("text", True)
        process = subprocess.Popen(self._command(host, args), **popen_kwargs)
        self.processes.append(process)
        return process

    def run(self, host, args, timeout=60, check=False):
        """Runs args on a host to the end; returns the CompletedProcess (text)."""
        return subprocess.run(self._command(host, args), capture_output=True, text=True,
                              timeout=timeout, check=check)

    @staticmethod
    def stop(process, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits; returns (stdout, stderr) of a piped process."""
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate()

    def start_avahi(self, host):
        """Runs a D-Bus system bus and avahi-daemon (serving host `host` only) so that
        avahi-browse and avahi-publish work from that host. The bus and the daemon's
        sockets live on tmpfs mounts of this network's private mount namespace."""
        if self.avahi_host is not None:
            raise RuntimeError("one Avahi per test network: they would share /run/avahi-daemon")
        for path in ("/run/dbus", "/run/avahi-daemon"):
            os.makedirs(path, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", path], check=True)
        config = self.scratch / "avahi-daemon.conf"
        config.write_text(
            "[server]\n"
            f"host-name=h{host}\n"          # the hosts share the machine's hostname
            "use-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=yes\n"
            "[wide-area]\nenable-wide-area=no\n"
            "[publish]\npublish-hinfo=no\npublish-workstation=no\n"
            "[reflector]\nenable-reflector=no\n")
        subprocess.run(["dbus-daemon", "--system", "--fork"], check=True)
        self.run(host, ["avahi-daemon", "-f", config, "--no-drop-root", "--no-chroot",
                        "--no-rlimits", "-D"], check=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.run(host, ["avahi-daemon", "--check"]).returncode == 0:
                # Running is not ready: wait until it has claimed its host name.
                if self.run(host, ["avahi-resolve", "-4", "-n", f"h{host}.local"],
                            timeout=10).returncode == 0:
                    self.avahi_host = host
                    return
            time.sleep(0.2)
        raise AssertionError("avahi-daemon did not become ready within 20 s")

    def close(self):
        for process in self.processes:
            self.stop(process, timeout=5)
        if self.avahi_host is not None:
            self.run(self.avahi_host, ["avahi-daemon", "--kill"])
        shutil.rmtree(self.scratch, ignore_errors=True)


class Lines:
    """Reads a process's output line by line in a thread, so a test can wait for the
    next line with a timeout instead of blocking forever."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def next(self, timeout):
        """The next line, or None at end of output; AssertionError after timeout s."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout} s") from None


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Polls predicate() until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _inside(module_file, function_name, kwargs_json):
    spec = importlib.util.spec_from_file_location("testnet_body", module_file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(pathlib.Path(module_file).parent))
    spec.loader.exec_module(module)
    net = Net(int(os.environ["TESTNET_HOSTS"]))
    try:
        result = getattr(module, function_name)(net, **json.loads(kwargs_json))
    finally:
        net.close()
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        _inside(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("testnet.py is a pytest helper; see its docstring")
