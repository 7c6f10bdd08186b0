"""Network load with a built-in endpoint: no public server, only named hosts.

``Server`` answers one test at a time on a TCP port (default
127.0.0.1:5202) and talks only to loopback and the hosts given with
``--allow``.  A client opens a control connection, sends one request line
(``TOASTER 1 {json}``) and gets ``OK {json}`` with a session token; then
it opens one TCP connection per stream and direction, each starting with a
64-byte header ``DATA <token> <stream> up|down``.  UDP streams send
datagrams to the server's UDP port with a 28-byte header (token, stream,
sequence, send time in ns): the receiver counts loss, reordering and
jitter (RFC 3550: J += (|D| - J) / 16).  For ``down`` UDP the client first
sends HELLO datagrams so the server learns where to send.  At the end the
client says ``DONE`` and the server answers ``RESULT {json}`` with what its
side measured (bytes received, UDP statistics, retransmits of its senders).

Every stream is a worker process on both sides.  Retransmits come from
TCP_INFO of each sending socket and, system-wide, from the RetransSegs
counter of /proc/net/snmp.

Also here: the delay proxy (latency and jitter injection between a listen
address and one named target) and the bounded socket-exhaustion test
against our own loopback listener.
"""

import errno
import json
import os
import queue
import random
import resource
import socket
import struct
import threading
import time

from . import load_common

DEFAULT_PORT = 5202
HEADER_SIZE = 64
TCP_BUF = 128 * 1024
UDP_SIZE = 1448
DEFAULT_UDP_RATE = 10 * 1024 * 1024
UDP_HEADER = struct.Struct("<8sIQQ")
TCP_INFO = getattr(socket, "TCP_INFO", 11)
PROTOCOL = "TOASTER 1"


class NetError(Exception):
    """Network setup failed: what, cause, fix."""

    def __init__(self, what, cause=None, fix=None):
        Exception.__init__(self, what)
        self.what, self.cause, self.fix = what, cause, fix


# ------------------------------------------------------------------ small helpers

def parse_hostport(text, default_port=DEFAULT_PORT, default_host="127.0.0.1"):
    """'host', 'host:port', '[v6]:port', ':port' -> (host, port).  Raises ValueError."""
    text = str(text).strip()
    if not text:
        raise ValueError("empty address")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    host = host or default_host
    if port:
        try:
            port = int(port)
        except ValueError:
            raise ValueError("bad port in %r" % text)
        if not 0 <= port <= 65535:
            raise ValueError("port out of range in %r" % text)
    else:
        port = default_port
    return host, port


def resolve(host):
    """All addresses of a host name; raises NetError."""
    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NetError("cannot resolve %s" % host, str(error), "check the name or give an address")
    return sorted(set(info[4][0] for info in infos))


def is_loopback(address):
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1") or \
        address.startswith("::ffff:127.")


def tcp_info(sock):
    """{"retrans", "rtt_us", "cwnd"} of a TCP socket, or {} when unavailable."""
    try:
        data = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 104)
    except OSError:
        return {}
    if len(data) < 104:
        return {}
    rtt, = struct.unpack_from("<I", data, 68)
    cwnd, = struct.unpack_from("<I", data, 80)
    total, = struct.unpack_from("<I", data, 100)
    return {"retrans": total, "rtt_us": rtt, "cwnd": cwnd}


def snmp_retrans(path="/proc/net/snmp"):
    """System-wide TCP RetransSegs (from /proc/net/snmp), or None."""
    try:
        with open(path) as handle:
            lines = [line.split() for line in handle if line.startswith("Tcp:")]
    except OSError:
        return None
    if len(lines) < 2:
        return None
    try:
        return int(lines[1][lines[0].index("RetransSegs")])
    except (ValueError, IndexError):
        return None


def kernel_timeouts(sock, seconds=0.2):
    """Blocking socket with SO_RCVTIMEO/SO_SNDTIMEO: no poll() before every call.

    A call that waits longer than ``seconds`` fails with EAGAIN
    (BlockingIOError), which the stream loops treat like a timeout to look
    at the stop flag.
    """
    sock.settimeout(None)
    value = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except OSError:
        sock.settimeout(seconds)


def _recv_line(sock, limit=65536, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise NetError("peer sent an over-long line", "not a toaster peer", "check host and port")
    return data.decode("utf-8", "replace").strip()


def _send_line(sock, text):
    sock.sendall((text + "\n").encode("utf-8"))


def _header(token, stream, direction):
    text = ("DATA %s %d %s" % (token, stream, direction)).encode("ascii")
    return text.ljust(HEADER_SIZE, b" ")


def _read_exact(sock, count, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


# ------------------------------------------------------------------ stream workers (both sides)

def tcp_sender(ctx):
    p = ctx.params
    sock = p["sock"]
    kernel_timeouts(sock)
    buf = memoryview(bytearray(random.Random(p.get("seed", 1)).getrandbits(8 * TCP_BUF).to_bytes(TCP_BUF,
                                                                                              "little")))
    limiter = load_common.RateLimiter(p.get("rate"))
    budget = p.get("bytes")
    sent = 0
    error = None
    ctx.ready()
    while not ctx.stopping():
        if budget is not None and sent >= budget:
            break
        chunk = buf if budget is None else buf[:min(TCP_BUF, budget - sent)]
        if limiter.rate:
            limiter.take(len(chunk), ctx.stopping)
        try:
            count = sock.send(chunk)
        except (socket.timeout, BlockingIOError):
            continue
        except OSError as exc:
            error = exc.strerror or str(exc)
            break
        sent += count
        ctx.add(ops=1, nbytes=count)
    info = tcp_info(sock)
    elapsed = time.monotonic() - ctx.started
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    # wait (briefly) for the peer to close so its receiver counted everything
    sock.settimeout(0.5)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()
    return {"role": "send", "stream": p["stream"], "bytes": sent, "elapsed": elapsed, "tcp": info,
            "error": error}


def tcp_receiver(ctx):
    p = ctx.params
    sock = p["sock"]
    kernel_timeouts(sock)
    buf = bytearray(256 * 1024)
    received = 0
    error = None
    ctx.ready()
    first = last = None
    while not ctx.stopping_hard():
        try:
            count = sock.recv_into(buf)
        except (socket.timeout, BlockingIOError):
            continue
        except OSError as exc:
            error = exc.strerror or str(exc)
            break
        if not count:
            break
        now = time.monotonic()
        if first is None:
            first = now
        last = now
        received += count
        ctx.add(ops=1, nbytes=count)
    try:
        sock.shutdown(socket.SHUT_RDWR)   # other processes may hold copies of this socket
    except OSError:
        pass
    sock.close()
    elapsed = (last - ctx.started) if last else time.monotonic() - ctx.started
    return {"role": "recv", "stream": p["stream"], "bytes": received, "elapsed": elapsed, "error": error}


def udp_sender(ctx):
    p = ctx.params
    sock = p["sock"]
    size = max(UDP_HEADER.size, p.get("size") or UDP_SIZE)
    token = bytes.fromhex(p["token"])
    payload = bytearray(size)
    limiter = load_common.RateLimiter(p.get("rate") or DEFAULT_UDP_RATE)
    budget = p.get("bytes")
    dest = p.get("dest")
    sent = packets = errors = 0
    ctx.ready()
    seq = 0
    while not ctx.stopping():
        if budget is not None and sent >= budget:
            break
        limiter.take(size, ctx.stopping)
        UDP_HEADER.pack_into(payload, 0, token, p["stream"], seq, int(time.time() * 1e9))
        try:
            if dest:
                sock.sendto(payload, dest)
            else:
                sock.send(payload)
        except OSError as exc:
            if exc.errno in (errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED):
                errors += 1
                continue
            break
        seq += 1
        packets += 1
        sent += size
        ctx.add(ops=1, nbytes=size)
    return {"role": "send", "stream": p["stream"], "bytes": sent, "packets": packets,
            "elapsed": time.monotonic() - ctx.started, "send_errors": errors}


class UdpStats(object):
    def __init__(self):
        self.packets = 0
        self.bytes = 0
        self.max_seq = -1
        self.out_of_order = 0
        self.jitter = 0.0
        self._transit = None

    def add(self, seq, sent_ns, size, now_ns):
        self.packets += 1
        self.bytes += size
        if seq < self.max_seq:
            self.out_of_order += 1
        else:
            self.max_seq = seq
        transit = now_ns - sent_ns
        if self._transit is not None:
            delta = abs(transit - self._transit)
            self.jitter += (delta - self.jitter) / 16.0
        self._transit = transit

    def to_dict(self):
        expected = self.max_seq + 1
        lost = max(0, expected - self.packets)
        return {"packets": self.packets, "bytes": self.bytes, "expected": expected, "lost": lost,
                "loss_pct": round(100.0 * lost / expected, 3) if expected > 0 else 0.0,
                "out_of_order": self.out_of_order, "jitter_ms": round(self.jitter / 1e6, 3)}


def udp_receiver(ctx):
    """Receive datagrams of one or more streams on one socket until stopped."""
    p = ctx.params
    sock = p["sock"]
    sock.settimeout(0.1)
    token = bytes.fromhex(p["token"])
    streams = {}
    buf = bytearray(65536)
    ctx.ready()
    first = last = None
    idle_end = p.get("idle_end")
    while not ctx.stopping_hard():
        try:
            count, _addr = sock.recvfrom_into(buf)
        except socket.timeout:
            if idle_end and last is not None and time.monotonic() - last > idle_end:
                break       # the sender is done (UDP has no end-of-stream)
            continue
        except OSError:
            continue
        if count < UDP_HEADER.size:
            continue
        tok, stream, seq, sent_ns = UDP_HEADER.unpack_from(buf, 0)
        if tok != token:
            continue
        now = time.monotonic()
        if first is None:
            first = now
        last = now
        stats = streams.get(stream)
        if stats is None:
            stats = streams[stream] = UdpStats()
        stats.add(seq, sent_ns, count, int(time.time() * 1e9))
        ctx.add(ops=1, nbytes=count)
    elapsed = (last - ctx.started) if last else time.monotonic() - ctx.started
    return {"role": "recv", "udp": {str(k): v.to_dict() for k, v in streams.items()},
            "bytes": sum(s.bytes for s in streams.values()), "elapsed": elapsed,
            "stream": p.get("stream")}


# ------------------------------------------------------------------ server

class Server(object):
    """The endpoint: one test at a time, only loopback and allowed peers."""

    def __init__(self, bind=("127.0.0.1", DEFAULT_PORT), allow=(), log=None, max_duration=3600.0):
        self.bind = bind
        self.allowed = set()
        for host in allow:
            self.allowed.update(resolve(host))
        host = bind[0]
        if host in ("", "0.0.0.0", "::") or not is_loopback(resolve(host)[0]):
            if not self.allowed:
                raise NetError("a server on %s:%d needs --allow HOST" % bind,
                               "toaster only talks to hosts named on the command line",
                               "name the client with --allow HOST (repeatable)")
        self.log = log or (lambda message: None)
        self.max_duration = max_duration
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(bind)
        except OSError as error:
            self.sock.close()
            raise NetError("cannot listen on %s:%d" % bind, error.strerror or str(error),
                           "choose another --bind ADDR:PORT")
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.family = family
        self.sessions = []
        self.refused = 0
        self.stop = False
        self.pool = None

    def allowed_peer(self, address):
        return is_loopback(address) or address in self.allowed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request_stop(self, reason=None):
        self.stop = True
        if self.pool is not None:
            self.pool.request_stop(reason or "stopped")

    def serve(self, once=False, deadline=None):
        """Answer tests until stopped (or after one test with ``once``)."""
        self.sock.settimeout(0.2)
        while not self.stop:
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.stop:
                    break
                continue
            if not self.allowed_peer(peer[0]):
                self.refused += 1
                self.log("refused a connection from %s (not named with --allow)" % peer[0])
                conn.close()
                continue
            try:
                summary = self._session(conn, peer)
            except (NetError, OSError, ValueError) as error:
                summary = {"peer": peer[0], "error": getattr(error, "what", None) or str(error)}
                try:
                    _send_line(conn, "NO " + json.dumps({"error": summary["error"]}))
                except OSError:
                    pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass
            self.sessions.append(summary)
            self.log("test from %s: %s" % (peer[0], _session_line(summary)))
            if once:
                break
        return self.sessions

    def _session(self, control, peer):
        line = _recv_line(control)
        if not line.startswith(PROTOCOL + " "):
            if line.startswith("DATA "):
                raise NetError("data connection without a session")
            raise NetError("not a toaster client (%r)" % line[:40])
        request = json.loads(line[len(PROTOCOL) + 1:])
        streams = int(request.get("streams", 1))
        if not 1 <= streams <= 128:
            raise NetError("bad stream count %d" % streams)
        proto = request.get("proto", "tcp")
        directions = _directions(request)
        duration = request.get("duration")
        if duration is not None:
            duration = min(float(duration), self.max_duration)
        token = os.urandom(8).hex()
        udp_sock = None
        reply = {"token": token}
        if proto == "udp":
            udp_sock = socket.socket(self.family, socket.SOCK_DGRAM)
            udp_sock.bind((self.sock.getsockname()[0], 0))
            udp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            reply["udp_port"] = udp_sock.getsockname()[1]
        _send_line(control, "OK " + json.dumps(reply))
        groups = []
        socks = []
        try:
            if proto == "tcp":
                conns = self._accept_data(token, streams * len(directions), peer[0])
                socks = [c for c, _, _ in conns]
                up = [{"sock": c, "stream": s, "duration": duration} for c, s, d in conns if d == "up"]
                down = [{"sock": c, "stream": s, "duration": duration, "bytes": request.get("bytes"),
                         "rate": _per(request.get("rate"), streams), "seed": request.get("seed", 1)}
                        for c, s, d in conns if d == "down"]
                if up:
                    groups.append(load_common.Group("recv", tcp_receiver, up))
                if down:
                    groups.append(load_common.Group("send", tcp_sender, down))
            else:
                if "up" in directions:
                    groups.append(load_common.Group("recv", udp_receiver, [
                        {"sock": udp_sock, "token": token, "duration": duration}]))
                if "down" in directions:
                    hellos = self._udp_hellos(udp_sock, token, streams, peer[0])
                    groups.append(load_common.Group("send", udp_sender, [
                        {"sock": udp_sock, "dest": addr, "stream": stream, "token": token,
                         "duration": duration, "bytes": request.get("bytes"), "size": request.get("size"),
                         "rate": _per(request.get("rate") or DEFAULT_UDP_RATE, streams)}
                        for stream, addr in sorted(hellos.items())]))
            control.settimeout(0)
            state = {"done": None}

            def tick(pool, preparing=False):
                try:
                    data = control.recv(64)
                except (BlockingIOError, socket.timeout):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    pool.request_stop("client went away")
                elif data and b"DONE" in data and state["done"] is None:
                    state["done"] = time.monotonic()
                if state["done"] is not None and time.monotonic() - state["done"] > 0.3:
                    pool.request_stop("client done")
                if self.stop:
                    pool.request_stop("server stopping")

            pool = load_common.Pool(groups, tick=tick, tick_interval=0.05, grace=2.0)
            self.pool = pool
            pool.start()
            for sock in socks:
                sock.close()       # the workers own them now
            pool.wait_ready(timeout=10)
            pool.run()
            self.pool = None
            result = {"streams": [], "udp": {}}
            for group in groups:
                for index in sorted(group.results):
                    item = dict(group.results[index])
                    if "udp" in item:
                        result["udp"].update(item.pop("udp"))
                    result["streams"].append(item)
            control.settimeout(5)
            if state["done"] is None:
                # the client has not said DONE yet (reverse: our senders finished first)
                try:
                    while b"DONE" not in control.recv(64):
                        pass
                except OSError:
                    pass
            _send_line(control, "RESULT " + json.dumps(result))
            return {"peer": peer[0], "proto": proto, "streams": streams, "directions": directions,
                    "result": result}
        finally:
            for sock in socks:
                try:
                    sock.close()
                except OSError:
                    pass
            if udp_sock is not None:
                udp_sock.close()

    def _accept_data(self, token, count, peer_host, timeout=10.0):
        conns = []
        end = time.monotonic() + timeout
        while len(conns) < count:
            left = end - time.monotonic()
            if left <= 0:
                for conn, _, _ in conns:
                    conn.close()
                raise NetError("only %d of %d data connections arrived" % (len(conns), count))
            self.sock.settimeout(min(left, 0.5))
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            if not self.allowed_peer(peer[0]):
                self.refused += 1
                conn.close()
                continue
            header = _read_exact(conn, HEADER_SIZE, timeout=5).decode("ascii", "replace").split()
            if len(header) != 4 or header[0] != "DATA" or header[1] != token or header[3] not in ("up", "down"):
                try:
                    _send_line(conn, "NO " + json.dumps({"error": "busy with another test"}))
                except OSError:
                    pass
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append((conn, int(header[2]), header[3]))
        self.sock.settimeout(0.2)
        return conns

    def _udp_hellos(self, sock, token, streams, peer_host, timeout=5.0):
        found = {}
        end = time.monotonic() + timeout
        sock.settimeout(0.2)
        while len(found) < streams and time.monotonic() < end:
            try:
                data, addr = sock.recvfrom(256)
            except socket.timeout:
                continue
            if not self.allowed_peer(addr[0]):
                continue
            parts = data.decode("ascii", "replace").split()
            if len(parts) == 3 and parts[0] == "HELLO" and parts[1] == token:
                found[int(parts[2])] = addr
        if len(found) < streams:
            raise NetError("only %d of %d UDP streams said hello" % (len(found), streams))
        return found


def _per(rate, streams):
    return rate / float(streams) if rate else None


def _directions(request):
    if request.get("bidir"):
        return ["up", "down"]
    return ["down"] if request.get("reverse") else ["up"]


def _session_line(summary):
    if summary.get("error"):
        return "failed: %s" % summary["error"]
    total = sum(s.get("bytes", 0) for s in summary["result"]["streams"])
    return "%s, %d stream(s) %s, %s moved" % (summary["proto"], summary["streams"], "+".join(summary["directions"]),
                                             load_common.timeparse.format_size(total))


# ------------------------------------------------------------------ client

class ClientSession(object):
    """Connect to a server, open the streams, build the worker groups.

    After the pool ran, ``finish(groups)`` says DONE and merges the server's
    measurements into the result.
    """

    def __init__(self, host, port, streams=1, proto="tcp", reverse=False, bidir=False, duration=None,
                 nbytes=None, rate=None, size=None, seed=1, timeout=10.0):
        self.host, self.port = host, port
        self.request = {"streams": streams, "proto": proto, "reverse": reverse, "bidir": bidir,
                        "duration": duration, "bytes": nbytes, "rate": rate, "size": size, "seed": seed}
        self.timeout = timeout
        self.control = None
        self.token = None
        self.udp_port = None
        self.retrans_before = None
        self._socks = []

    def _connect(self):
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as error:
            raise NetError("cannot connect to %s port %d" % (self.host, self.port),
                           error.strerror or str(error),
                           "start 'toaster net --server' there (and --allow this host)")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open(self):
        """Handshake and streams; returns the list of load_common.Group for the pool."""
        self.control = self._connect()
        _send_line(self.control, PROTOCOL + " " + json.dumps(self.request))
        try:
            line = _recv_line(self.control, timeout=self.timeout)
        except OSError as error:
            raise NetError("no answer from %s port %d" % (self.host, self.port), str(error),
                           "is a toaster server listening there?")
        if line.startswith("NO "):
            raise NetError("the server refused the test", json.loads(line[3:]).get("error"), None)
        if not line.startswith("OK "):
            raise NetError("%s port %d is not a toaster server" % (self.host, self.port),
                           "it answered %r" % line[:40], "check the port")
        reply = json.loads(line[3:])
        self.token = reply["token"]
        self.udp_port = reply.get("udp_port")
        req = self.request
        streams = req["streams"]
        directions = _directions(req)
        self.retrans_before = snmp_retrans()
        groups = []
        send, recv = [], []
        duration = req["duration"]
        rate = _per(req["rate"], streams)
        budget = req["bytes"]
        if req["proto"] == "tcp":
            for direction in directions:
                for stream in range(streams):
                    sock = self._connect()
                    sock.sendall(_header(self.token, stream, direction))
                    self._socks.append(sock)
                    params = {"sock": sock, "stream": stream, "duration": duration, "seed": req["seed"]}
                    if direction == "up":
                        params.update({"bytes": budget, "rate": rate})
                        send.append(params)
                    else:
                        recv.append(params)
            if send:
                groups.append(load_common.Group("send", tcp_sender, send))
            if recv:
                groups.append(load_common.Group("recv", tcp_receiver, recv))
        else:
            family = self.control.family
            for direction in directions:
                for stream in range(streams):
                    sock = socket.socket(family, socket.SOCK_DGRAM)
                    sock.connect((self.host, self.udp_port))
                    self._socks.append(sock)
                    if direction == "up":
                        send.append({"sock": sock, "stream": stream, "duration": duration, "token": self.token,
                                     "bytes": budget, "size": req["size"],
                                     "rate": _per(req["rate"] or DEFAULT_UDP_RATE, streams)})
                    else:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
                        for _ in range(3):
                            sock.send(("HELLO %s %d" % (self.token, stream)).encode("ascii"))
                        recv.append({"sock": sock, "stream": stream, "duration": duration, "token": self.token,
                                     "recv_grace": 1.0, "idle_end": 1.0})
            if send:
                groups.append(load_common.Group("send", udp_sender, send))
            if recv:
                groups.append(load_common.Group("recv", udp_receiver, recv))
        return groups

    def release_sockets(self):
        """After the workers started: the parent's copies are not needed."""
        for sock in self._socks:
            try:
                sock.close()
            except OSError:
                pass
        self._socks = []

    def finish(self, groups, elapsed):
        """Say DONE, read the server's RESULT, and build the summary dict."""
        server = {}
        warnings = []
        try:
            _send_line(self.control, "DONE")
            line = _recv_line(self.control, limit=16 * 1024 * 1024, timeout=8.0)
            if line.startswith("RESULT "):
                server = json.loads(line[7:])
            elif line:
                warnings.append("server answered %r instead of a result" % line[:60])
            else:
                warnings.append("the server closed the control connection without a result")
        except (OSError, ValueError) as error:
            warnings.append("no result from the server (%s)" % error)
        finally:
            try:
                self.control.close()
            except OSError:
                pass
        retrans_after = snmp_retrans()
        return summarize(self.request, groups, server, elapsed, self.retrans_before, retrans_after, warnings)


def summarize(request, groups, server, elapsed, retrans_before, retrans_after, warnings):
    streams = {}
    for group in groups:
        for index in sorted(group.results):
            item = group.results[index]
            key = ("up" if group.name == "send" else "down", item.get("stream", index))
            entry = streams.setdefault(key, {"direction": key[0], "stream": key[1]})
            if item.get("error"):
                entry["error"] = item["error"]
            if group.name == "send":
                entry["sent"] = item.get("bytes", 0)
                entry["send_seconds"] = item.get("elapsed")
                if item.get("tcp"):
                    entry["retrans"] = item["tcp"].get("retrans")
                    entry["rtt_us"] = item["tcp"].get("rtt_us")
                if "packets" in item:
                    entry["packets_sent"] = item["packets"]
            else:
                entry["received"] = item.get("bytes", 0)
                entry["recv_seconds"] = item.get("elapsed")
                for stream, stats in (item.get("udp") or {}).items():
                    sub = streams.setdefault(("down", int(stream)), {"direction": "down", "stream": int(stream)})
                    sub["udp"] = stats
    for item in server.get("streams", []):
        direction = "up" if item.get("role") == "recv" else "down"
        if "stream" not in item or item.get("stream") is None:
            continue
        entry = streams.setdefault((direction, item["stream"]), {"direction": direction, "stream": item["stream"]})
        if item.get("role") == "recv":
            entry["received"] = item.get("bytes", 0)
            entry["recv_seconds"] = item.get("elapsed")
        else:
            entry["sent"] = item.get("bytes", 0)
            entry["send_seconds"] = item.get("elapsed")
            if item.get("tcp"):
                entry["retrans"] = item["tcp"].get("retrans")
                entry["rtt_us"] = item["tcp"].get("rtt_us")
        if item.get("error"):
            entry.setdefault("error", item["error"])
    for stream, stats in server.get("udp", {}).items():
        entry = streams.setdefault(("up", int(stream)), {"direction": "up", "stream": int(stream)})
        entry["udp"] = stats
        entry["received"] = stats.get("bytes", 0)
    rows = []
    totals = {}
    for key in sorted(streams):
        entry = streams[key]
        seconds = entry.get("recv_seconds") or entry.get("send_seconds") or elapsed or 0
        moved = entry.get("received", entry.get("sent", 0))
        entry["bytes_per_s"] = moved / seconds if seconds else 0.0
        rows.append(entry)
        total = totals.setdefault(entry["direction"], {"sent": 0, "received": 0, "bytes_per_s": 0.0,
                                                       "retrans": None})
        total["sent"] += entry.get("sent", 0) or 0
        total["received"] += entry.get("received", 0) or 0
        total["bytes_per_s"] += entry["bytes_per_s"]
        if entry.get("retrans") is not None:
            total["retrans"] = (total["retrans"] or 0) + entry["retrans"]
        if entry.get("udp"):
            udp = total.setdefault("udp", {"packets": 0, "lost": 0, "expected": 0, "jitter_ms": 0.0})
            udp["packets"] += entry["udp"]["packets"]
            udp["lost"] += entry["udp"]["lost"]
            udp["expected"] += entry["udp"]["expected"]
            udp["jitter_ms"] = max(udp["jitter_ms"], entry["udp"]["jitter_ms"])
    for total in totals.values():
        if "udp" in total and total["udp"]["expected"]:
            total["udp"]["loss_pct"] = round(100.0 * total["udp"]["lost"] / total["udp"]["expected"], 3)
    system = None
    if retrans_before is not None and retrans_after is not None:
        system = retrans_after - retrans_before
    return {"streams": rows, "totals": totals, "retrans_system": system, "warnings": warnings}


# ------------------------------------------------------------------ loopback self-test

def start_loopback_server(ctx=None):
    """Fork a server on 127.0.0.1 (ephemeral port) for one test; returns (process, port)."""
    ctx = ctx or load_common.fork_context()
    reader, writer = ctx.Pipe(duplex=False)
    parent = os.getpid()

    def serve():
        import signal
        load_common.set_pdeathsig()
        if os.getppid() != parent:
            os._exit(1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            server = Server(("127.0.0.1", 0))
        except NetError as error:
            writer.send(("error", error.what))
            return
        writer.send(("port", server.port))
        try:
            server.serve(once=True, deadline=None)
        except Exception as error:  # reported by the client as "no result"; never a traceback
            os.write(2, ("toaster: loopback server failed: %s: %s\n" % (type(error).__name__, error)).encode())
        finally:
            server.close()

    proc = ctx.Process(target=serve, name="toaster-net-server")
    proc.daemon = False       # it forks stream workers; PR_SET_PDEATHSIG ties it to us
    proc.start()
    writer.close()
    if not reader.poll(10):
        proc.kill() if hasattr(proc, "kill") else os.kill(proc.pid, 9)
        raise NetError("the loopback server did not start", None, None)
    kind, value = reader.recv()
    reader.close()
    if kind != "port":
        raise NetError("the loopback server did not start", value, None)
    return proc, value


# ------------------------------------------------------------------ delay proxy

class DelayProxy(object):
    """Forward TCP from LISTEN to TARGET, delaying every chunk by delay ± jitter.

    Order is kept (a chunk is never sent before the one read before it), so
    jitter shows up as bursts, as it does on a real path.
    """

    def __init__(self, listen, target, delay, jitter=0.0, allow=(), seed=1, log=None):
        self.listen = listen
        self.target = target
        self.delay = delay
        self.jitter = jitter
        self.allowed = set()
        for host in allow:
            self.allowed.update(resolve(host))
        if not is_loopback(resolve(listen[0] or "0.0.0.0")[0]) and not self.allowed:
            raise NetError("a delay proxy on %s:%d needs --allow HOST" % listen,
                           "toaster only talks to hosts named on the command line",
                           "name the clients with --allow HOST")
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.log = log or (lambda message: None)
        self.stats = {"connections": 0, "refused": 0, "bytes_up": 0, "bytes_down": 0, "chunks": 0,
                      "delay_total": 0.0, "delay_max": 0.0, "failed_connects": 0}
        self.sock = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(listen)
        except OSError as error:
            self.sock.close()
            raise NetError("cannot listen on %s:%d" % listen, error.strerror or str(error),
                           "choose another listen address")
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.threads = []

    def _delay(self):
        with self.lock:
            value = self.delay + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        return max(0.0, value)

    def serve(self, deadline=None):
        self.sock.settimeout(0.2)
        while not self.stop:
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if not (is_loopback(peer[0]) or peer[0] in self.allowed):
                self.stats["refused"] += 1
                conn.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError as error:
                self.stats["failed_connects"] += 1
                self.log("cannot reach %s:%d (%s)" % (self.target[0], self.target[1], error.strerror or error))
                conn.close()
                continue
            self.stats["connections"] += 1
            for src, dst, key in ((conn, upstream, "bytes_up"), (upstream, conn, "bytes_down")):
                pipe = queue.Queue()
                reader = threading.Thread(target=self._reader, args=(src, pipe, key))
                writer = threading.Thread(target=self._writer, args=(dst, pipe))
                reader.daemon = writer.daemon = True
                reader.start()
                writer.start()
                self.threads.extend([reader, writer])
        self.close()

    def _reader(self, sock, pipe, key):
        last_due = 0.0
        sock.settimeout(0.2)
        while not self.stop:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            delay = self._delay()
            due = max(last_due, time.monotonic() + delay)
            last_due = due
            with self.lock:
                self.stats[key] += len(data)
                self.stats["chunks"] += 1
                self.stats["delay_total"] += delay
                self.stats["delay_max"] = max(self.stats["delay_max"], delay)
            pipe.put((due, data))
        pipe.put((last_due, None))

    def _writer(self, sock, pipe):
        while True:
            try:
                due, data = pipe.get(timeout=0.2)
            except queue.Empty:
                if self.stop:
                    break
                continue
            wait = due - time.monotonic()
            while wait > 0 and not self.stop:
                time.sleep(min(wait, 0.1))
                wait = due - time.monotonic()
            if data is None or self.stop:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                break
            try:
                sock.sendall(data)
            except OSError:
                break

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        for thread in self.threads:
            thread.join(1.0)

    def summary(self):
        stats = dict(self.stats)
        chunks = stats.pop("chunks")
        total = stats.pop("delay_total")
        stats["delay_mean_ms"] = round(1000.0 * total / chunks, 1) if chunks else None
        stats["delay_max_ms"] = round(1000.0 * stats.pop("delay_max"), 1)
        stats["chunks"] = chunks
        return stats


# ------------------------------------------------------------------ socket exhaustion

def port_range(path="/proc/sys/net/ipv4/ip_local_port_range"):
    try:
        with open(path) as handle:
            low, high = (int(x) for x in handle.read().split()[:2])
        return low, high
    except (OSError, ValueError):
        return None


def socket_exhaustion(count, hold=None, stopping=None, progress=None):
    """Open up to ``count`` loopback TCP connections to our own listener; hold; close.

    Bounded by ``count`` and by our own descriptor limit (each connection
    costs two descriptors here).  Returns what happened, including the first
    error (EMFILE, EADDRNOTAVAIL, ...) that ended the opening early.
    """
    stopping = stopping or (lambda: False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * count + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.setblocking(False)
    address = listener.getsockname()
    clients, accepted = [], []
    error = None
    started = time.monotonic()
    try:
        while len(clients) < count and not stopping():
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as exc:
                error = load_common.errno_name(exc) + ": " + (exc.strerror or str(exc))
                break
            try:
                sock.settimeout(2)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = load_common.errno_name(exc) + ": " + (exc.strerror or str(exc))
                break
            clients.append(sock)
            while True:
                try:
                    conn, _ = listener.accept()
                    accepted.append(conn)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    error = load_common.errno_name(exc) + ": " + (exc.strerror or str(exc))
                    break
            if error:
                break
            if progress is not None:
                progress(len(clients))
        open_seconds = time.monotonic() - started
        opened = len(clients)
        if hold:
            end = time.monotonic() + hold
            while time.monotonic() < end and not stopping():
                time.sleep(0.05)
    finally:
        for sock in clients + accepted:
            sock.close()
        listener.close()
    return {"requested": count, "opened": opened, "accepted": len(accepted), "open_seconds": round(open_seconds, 3),
            "per_second": round(opened / open_seconds, 1) if open_seconds > 0 else None, "error": error,
            "fd_limit": soft, "port_range": port_range()}
