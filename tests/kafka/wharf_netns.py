"""Network namespaces for test brokers, so that a network fault can cut one broker off from its
peers as a real network partition would (deploy/local-cluster.sh --netns builds the same
shape): each broker runs in its own namespace with one veth link to a bridge in the test's
namespace, all on one /24 subnet. The test process reaches every broker through the bridge's
address, so isolating a broker from its peers leaves it reachable by the clients (the hard case:
an isolated leader still takes requests it can no longer commit).

isolate(k) adds blackhole routes for the peers' addresses in k's namespace and for k's address
in every peer's namespace: packets between them are dropped in both directions, established
connections stall without a reset, new ones time out. heal(k) removes them. (The issue names
iptables; blackhole routes do the same job between namespaces without netfilter, which the test
machines may lack.)

Needs root (CAP_NET_ADMIN) and iproute2; available() says why not, and callers skip."""

import ipaddress
import os
import random
import subprocess

_checked = None


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def available():
    """None when namespaces, veth links and bridges can be made here, else why not."""
    global _checked
    if _checked is None:
        if os.geteuid() != 0:
            _checked = "network namespaces need root"
        else:
            try:
                with Netns(1):
                    pass
                _checked = ""
            except (OSError, subprocess.SubprocessError) as e:
                detail = getattr(e, "stderr", "") or ""
                _checked = f"cannot make network namespaces: {e} {detail.strip()}"
    return _checked or None


class Netns:
    """`count` namespaces wired to one bridge; close() (or the with block) removes them."""

    def __init__(self, count):
        self.count = count
        tag = f"{os.getpid() % 100000}{random.randrange(100)}"
        self.bridge = f"wfbr{tag}"[:15]
        self.names = [f"wharf-t{tag}-{k}" for k in range(count)]
        self.veths = [f"wfv{tag}{k}"[:15] for k in range(count)]
        self.subnet = self._free_subnet()
        hosts = list(self.subnet.hosts())
        self.bridge_addr = str(hosts[0])
        self.addrs = [str(hosts[k + 1]) for k in range(count)]
        self.isolated = set()
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _free_subnet():
        used = _ip("-o", "-4", "addr", "show").stdout
        rng = random.Random()
        for _ in range(200):
            a, b = rng.randrange(200, 250), rng.randrange(256)
            if f"inet 10.{a}.{b}." not in used:
                return ipaddress.ip_network(f"10.{a}.{b}.0/24")
        raise OSError("no free 10.x subnet for the test namespaces")

    def _create(self):
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.bridge_addr}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for ns, veth, addr in zip(self.names, self.veths, self.addrs):
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def wrap(self, k, cmd):
        """The command line that runs `cmd` in namespace k (ip netns exec execs it: same pid)."""
        return ["ip", "netns", "exec", self.names[k], *cmd]

    def isolate(self, k):
        """Cuts broker k off from every other broker, both ways; clients still reach it."""
        for j in range(self.count):
            if j != k:
                _ip("-n", self.names[k], "route", "add", "blackhole", f"{self.addrs[j]}/32")
                _ip("-n", self.names[j], "route", "add", "blackhole", f"{self.addrs[k]}/32")
        self.isolated.add(k)

    def heal(self, k):
        for j in range(self.count):
            if j != k:
                _ip("-n", self.names[k], "route", "del", "blackhole", f"{self.addrs[j]}/32",
                    check=False)
                _ip("-n", self.names[j], "route", "del", "blackhole", f"{self.addrs[k]}/32",
                    check=False)
        self.isolated.discard(k)

    def close(self):
        for ns in self.names:
            _ip("netns", "delete", ns, check=False)  # takes its veth pair with it
        for veth in self.veths:
            _ip("link", "delete", veth, check=False)
        _ip("link", "delete", self.bridge, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
