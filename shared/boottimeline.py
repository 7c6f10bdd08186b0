"""The boot timeline: when a machine booted, how each boot ended, and why.

Public API (used by ``bootlog``, ``report`` and ``triage``)::

    timeline(source, journal=True, utc=False, runner_fn=None, files=(),
             log_dir=None, since=None, until=None, last=None, live=None) -> Timeline
        every log the source holds (syslog files with rotations, dmesg
        files, journal exports, the binary journal through journalctl,
        wtmp), plus plain ``files`` (serial console captures, single logs);
        ``log_dir``: a folder of logs relative to the source (default var/log).
    Timeline.boots        [Boot] wall-clock boots in time order, then boots of
                          inputs that carry only monotonic time (``relative``)
    Timeline.to_dict()    the JSON "result" documented in bootlog(8)
    Timeline.findings()   [shared.findings.Finding]
    Boot.to_dict()

How it works.  Each input is cut into *pieces* (one boot as that input saw
it) by a fast first pass that only looks at boot markers (kernel banner,
``Command line:``, journal separators, the first second of kernel time,
system logger starts and stops; textio.MatchScanner with literal anchors).
A second pass reads only the first stretch (2 MiB / 15 minutes) and the
last stretch (1 MiB) of every piece and classifies those lines
(boot_markers.classify).  Pieces of different inputs that are the same boot
(messages and kern.log and the journal and wtmp all saw it) are merged by
boot id or by start time within the inputs' uncertainty -- never merely
because two boots are close: a piece that starts after another one ended
is a different boot.  Only then are ends classified, so a shutdown that
only the journal saw still makes the syslog boot clean.
"""

import collections
import os
import re

from . import boot_journal, boot_markers, boot_wtmp, findings, logs, textio, timeparse
from .sources import Line

HEAD_BYTES = 512 * 1024
HEAD_SECONDS = 900.0
TAIL_BYTES = 256 * 1024
LOOP_GAP = 20 * 60.0         # boots starting this close together, three or more in a row: a loop
LOOP_MIN = 3
OOM_STORM = 3                # OOM kills in the last stretch that make an "OOM storm"
MAX_PROBLEMS = 40            # per boot

_STATUS = re.compile(r"^\[\s*(?:OK|FAILED|DEPEND|TIME|WARN|\*+)\s*\]\s+")


_clean = textio.strip_terminal


def _evidence(record):
    line = record.line
    return findings.Evidence(line.origin, line.lineno, line.text)


def _ev_dict(evidence):
    return {"origin": evidence.origin, "line": evidence.lineno, "excerpt": evidence.excerpt}


# ================================================================ pieces

class Piece(object):
    """One boot as one input saw it."""

    def __init__(self, input_name, kind):
        self.input = input_name
        self.kind = kind               # syslog, dmesg, journal-text, journal-json, journal, wtmp, console
        self.first = None              # Record of the first line (or a synthetic one)
        self.first_pos = None          # (file index, offset, lineno) in a text input
        self.signals = set()
        self.kernel = None
        self.cmdline = None
        self.boot_id = None
        self.head = []
        self.tail = []
        self.events = []               # (kind, detail, Evidence, stamp) not from lines (wtmp)
        self.start = None
        self.unc = 600.0
        self.end = None
        self.last_mono = None
        self.max_mono = None
        self.has_banner = False
        self.cmd_variants = set()
        self.logger_restarts = 0
        self.fresh = True
        self.approx = False            # start estimated from a file's mtime
        self.start_evidence = None
        self.wall = True

    def finish(self, default_stamp=None):
        """Compute start, end, kernel from the windows."""
        best = None
        stamps = []
        for record in self.head:
            if record.stamp is not None:
                stamps.append(record.stamp)
                if record.mono is not None and 0 <= record.mono <= 600:
                    guess = record.stamp - record.mono
                    if best is None or guess < best:
                        best = guess
        if self.start is None:
            if best is not None:
                self.start = best
                self.unc = 15.0
            elif self.first is not None and self.first.stamp is not None:
                self.start = self.first.stamp
                self.unc = 300.0
            elif stamps:
                self.start = stamps[0]
                self.unc = 300.0
            elif default_stamp is not None:
                self.start = default_stamp
                self.unc = 300.0
                self.approx = True
        for record in self.head[:4000]:
            if self.kernel is None:
                match = boot_markers.BANNER.match(record.message or "")
                if match:
                    self.kernel = match.group(1)
            if self.cmdline is None:
                match = boot_markers.CMDLINE.match(record.message or "")
                if match:
                    self.cmdline = match.group(1)
            if self.boot_id is None and record.boot_id:
                self.boot_id = record.boot_id
        ends = [r.stamp for r in self.tail if r.stamp is not None]
        if ends:
            self.end = max(ends)
        elif stamps:
            self.end = max(stamps)
        monos = [r.mono for r in (self.tail or self.head) if r.mono is not None]
        if monos:
            self.last_mono = max(monos)
        if self.start is None and self.end is None and not self.events:
            self.wall = False
        if self.start_evidence is None:
            first = self.first if self.first is not None else (self.head[0] if self.head else None)
            if first is not None:
                self.start_evidence = _evidence(first)


# ================================================================ text inputs (two passes)

class _Segmenter(object):
    """Pass 1: cut a text input into pieces at boot signals."""

    def __init__(self, name, kind):
        self.name = name
        self.kind = kind
        self.pieces = []
        self.current = None
        self.pending = None      # (record, pos) of a logger start not yet explained
        self.last_stop = None
        self.before = None       # the line before the latest logger start (fast first pass)

    def _open(self, record, pos, signal):
        if self.pending is not None:
            prec, ppos = self.pending
            if prec.stamp is None or record.stamp is None or 0 <= record.stamp - prec.stamp <= 300:
                record_first, pos_first = prec, ppos
            else:
                record_first, pos_first = record, pos
            self.pending = None
        else:
            record_first, pos_first = record, pos
        piece = Piece(self.name, self.kind)
        piece.first = record_first
        piece.first_pos = pos_first
        self.pieces.append(piece)
        self.current = piece
        return piece

    def feed(self, record, pos):
        message = record.message or ""
        text = record.line.text
        piece = self.current
        kernelish = record.program in (None, "kernel")
        if self.pending is not None and record.stamp is not None and self.pending[0].stamp is not None \
                and record.stamp - self.pending[0].stamp > 300:
            self._resolve_pending()
            piece = self.current
        signal = None
        if kernelish and boot_markers.BANNER.match(message):
            signal = "banner"
        elif kernelish and boot_markers.CMDLINE.match(message):
            signal = "cmdline-kernel" if message.startswith("Kernel") else "cmdline"
        elif boot_markers.JOURNAL_BOOT.match(text):
            signal = "journal"
        elif kernelish and record.mono is not None:
            if piece is None or (piece.max_mono is not None and record.mono + 5.0 < piece.max_mono and
                                 record.mono < 10.0):
                signal = "reset"      # the monotonic clock went back (or the log starts mid-boot)
            else:
                piece.max_mono = record.mono if piece.max_mono is None else max(piece.max_mono, record.mono)
                return
        if signal is None:
            event = boot_markers.logger_event(message, record.program)
            if event == "start":
                if self.pending is not None:
                    self._resolve_pending()
                self.pending = (record, pos)
                self.pending_before = self.before
                self.before = None
            elif event == "stop":
                if self.pending is not None:
                    self._resolve_pending()
                self.last_stop = record
                if self.current is not None:
                    self.current.fresh = False
            return
        if piece is None or self._new_boot(piece, signal, record, pos):
            piece = self._open(record, pos, signal)
        elif self.pending is not None:
            self._resolve_pending()
            piece = self.current
        piece.signals.add(signal)
        if signal == "banner":
            piece.has_banner = True
            piece.kernel = boot_markers.BANNER.match(message).group(1)
        if signal.startswith("cmdline"):
            piece.cmd_variants.add(signal)
            if signal == "cmdline":
                piece.cmdline = boot_markers.CMDLINE.match(message).group(1)
        if signal == "journal":
            match = boot_markers.JOURNAL_BOOT.match(text)
            if match.group(1):
                piece.boot_id = match.group(1)
        piece.last_signal = pos
        if record.mono is not None:
            piece.max_mono = record.mono if piece.max_mono is None or signal == "reset" else \
                max(piece.max_mono, record.mono)

    def _resolve_pending(self):
        """A logger start with no boot marker after it: a restart, or a boot whose banner was lost.

        A restart stops the logger and starts it again within seconds; a logger
        starting with no stop shortly before means the machine came back up (the
        ring buffer had overflowed before the logger read it, or the kernel
        messages go elsewhere).  Such a boot is marked weak.
        """
        record, pos = self.pending
        self.pending = None
        stop = self.last_stop
        restart = stop is not None and stop.stamp is not None and record.stamp is not None and \
            0 <= record.stamp - stop.stamp <= 120
        before = getattr(self, "pending_before", None)
        if before is not None and before.stamp is not None and record.stamp is not None and \
                0 <= record.stamp - before.stamp <= 120:
            restart = True        # the log went on right up to it: the logger restarted
        current = self.current
        if current is not None and current.first is not None and current.first.stamp is not None and \
                record.stamp is not None and 0 <= record.stamp - current.first.stamp <= 600 and \
                (stop is None or stop.stamp is None or stop.stamp < current.first.stamp):
            return      # the logger coming up in the boot that just started
        if restart or (current is not None and record.stamp is None):
            if current is not None:
                current.logger_restarts += 1
            return
        piece = self._open(record, pos, "logger")
        piece.signals.add("logger")
        piece.weak = True
        piece.last_signal = pos

    FAR = 2000   # lines: boot signals of one boot come in one burst at its start

    def _new_boot(self, piece, signal, record, pos):
        if signal == "reset":
            # The monotonic clock went back: a new boot -- unless it is a banner's
            # burst ([0.000000] lines of secondary CPUs come up seconds later).
            last = getattr(piece, "last_signal", None)
            return last is None or pos[0] != last[0] or pos[2] - last[2] > self.FAR
        if not piece.fresh:
            return True
        first = piece.first
        if record.stamp is not None and first is not None and first.stamp is not None and \
                record.stamp - first.stamp > 300:
            return True
        last = getattr(piece, "last_signal", None)
        far = last is not None and (pos[0] != last[0] or pos[2] - last[2] > self.FAR)
        if signal == "journal":
            return True
        if signal == "banner":
            return piece.has_banner or bool(piece.cmd_variants) or far
        if signal.startswith("cmdline"):
            return signal in piece.cmd_variants or far
        return False

    def close_pending(self):
        if self.pending is not None:
            self._resolve_pending()


class TextInput(object):
    """A text log made of one or more files read in order (rotations oldest first)."""

    line_base = 0          # added to line numbers (a section inside a bigger file)

    def __init__(self, source, name, kind, paths, utc=False, plain=None):
        self.source = source
        self.name = name
        self.kind = kind
        self.paths = list(paths)
        self.utc = utc
        self.plain = plain              # host paths of files given on the command line
        self.lengths = []
        self.lines = []
        self.mtimes = []
        self.ok = []

    def _real(self, index):
        """Host path of an uncompressed regular file (for the parallel scan), else None."""
        path = self.paths[index]
        if path.endswith((".gz", ".xz", ".bz2", ".zst", ".lzma")):
            return None
        if self.plain:
            return path
        real = getattr(self.source.tree, "real", None)
        return real(path) if real is not None else None

    def _small(self):
        total = 0
        for index in range(len(self.paths)):
            if self.plain:
                try:
                    size = os.path.getsize(self.paths[index])
                except OSError:
                    size = 0
            else:
                size = self.source.size(self.paths[index]) or 0
            compressed = self.paths[index].endswith((".gz", ".xz", ".bz2", ".zst"))
            total += size * (8 if compressed else 1)
        return total <= boot_markers.FULL_SCAN_LIMIT

    # -- file access for both kinds (inside the source, or plain host files)
    def _open(self, index):
        path = self.paths[index]
        try:
            if self.plain:
                return textio.open_path(path)
            return self.source.open(path)
        except textio.Unreadable as error:
            self.source.warn("%s: %s" % (self._origin(index), error))
            return None

    def _origin(self, index):
        return self.paths[index] if self.plain else self.source.origin(self.paths[index])

    def _mtime(self, index):
        if self.plain:
            return textio.file_mtime(self.paths[index])
        return self.source.mtime(self.paths[index])

    def pieces(self):
        seg = _Segmenter(self.name, self.kind)
        full = self._small()
        if full:
            regex, anchors = boot_markers.scan_regex("full"), None
        elif self.kind == "journal-text":
            regex, anchors = boot_markers.scan_regex("journal"), boot_markers.JOURNAL_ANCHORS
        else:
            regex, anchors = boot_markers.scan_regex("fast"), boot_markers.SCAN_ANCHORS
        for index in range(len(self.paths)):
            origin = self._origin(index)
            mtime = self._mtime(index)
            self.mtimes.append(mtime)
            stream = self._open(index)
            if stream is None:
                self.lengths.append(0)
                self.lines.append(0)
                self.ok.append(False)
                continue
            try:
                head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
                if textio.looks_binary(head):
                    self.source.warn("%s: binary data, not a text log (skipped)" % (origin,))
                    self.lengths.append(0)
                    self.lines.append(0)
                    self.ok.append(False)
                    continue
                parser = logs.LineParser(mtime=mtime, utc=self.utc)
                kind = "full" if full else ("journal" if self.kind == "journal-text" else "fast")
                scanned = _indexed_scan(self._real(index), kind)
                if scanned is None:
                    scanned = _parallel_scan(self._real(index), kind)
                if scanned is None:
                    scanned = _scan(stream, regex, anchors)
                matches, length, count, problem = scanned
                for lineno, offset, text, before in matches:
                    if before is not None and boot_markers.LOGGER_START.search(text):
                        # the line before a logger start tells a restart from a boot
                        seg.before = parser.parse(Line(_clean(before), origin, lineno - 1 + self.line_base))
                    record = parser.parse(Line(_clean(text), origin, lineno + self.line_base))
                    seg.feed(record, (index, offset, lineno))
                if problem:
                    self.source.warn("%s: %s" % (origin, problem))
                self.lengths.append(length)
                self.lines.append(count)
                self.ok.append(True)
            finally:
                stream.close()
        seg.close_pending()
        pieces = seg.pieces
        self._windows(pieces)
        for piece in pieces:
            default = None
            if self.kind == "dmesg" and not self.plain:
                default = self._dmesg_anchor(piece)
            piece.finish(default)
        return pieces

    def _dmesg_anchor(self, piece):
        # /var/log/dmesg* hold one boot each and no wall clock; the file was
        # written a little after the boot, so mtime - last monotonic stamp
        # estimates the start.  Marked approximate.
        index = piece.first_pos[0]
        mtime = self.mtimes[index] if index < len(self.mtimes) else None
        monos = [r.mono for r in piece.head + piece.tail if r.mono is not None]
        if mtime is None or any(r.stamp is not None for r in piece.head):
            return None
        return mtime - (max(monos) if monos else 0.0)

    # -- pass 2
    def _windows(self, pieces):
        """Fill piece.head and piece.tail with the records of their first and last stretch."""
        plans = collections.defaultdict(list)   # file index -> [(start, end, lineno_at_start, lineno_at_end, piece, which, ref)]
        count = len(self.paths)
        for number, piece in enumerate(pieces):
            fi, offset, lineno = piece.first_pos
            if number + 1 < len(pieces):
                nfi, noffset, nlineno = pieces[number + 1].first_pos
                nref = pieces[number + 1].first.stamp if pieces[number + 1].first is not None else None
            else:
                nfi = count - 1
                while nfi > 0 and not self.ok[nfi]:
                    nfi -= 1
                noffset, nlineno, nref = self.lengths[nfi], self.lines[nfi] + 1, None
            # head: forward from the first line, across files if needed
            budget = HEAD_BYTES
            cur, start, line_at = fi, offset, lineno
            while budget > 0 and cur < count and (cur, start) < (nfi, noffset):
                stop = min(self.lengths[cur], start + budget)
                if cur == nfi:
                    stop = min(stop, noffset)
                if stop > start:
                    ref = piece.first.stamp if (piece.first is not None and cur == fi) else None
                    plans[cur].append((start, stop, line_at, None, piece, "head", ref))
                    budget -= stop - start
                cur, start, line_at = cur + 1, 0, 1
            # tail: backward from the next piece's first line
            budget = TAIL_BYTES
            cur, stop, line_end, ref = nfi, noffset, nlineno, nref
            while budget > 0 and cur >= fi:
                low = offset if cur == fi else 0
                begin = max(low, stop - budget)
                if stop > begin:
                    plans[cur].append((begin, stop, None, line_end, piece, "tail",
                                       ref if cur == nfi else None))
                    budget -= stop - begin
                if cur == fi:
                    break
                cur -= 1
                while cur > fi and not self.ok[cur]:
                    cur -= 1
                stop, line_end, ref = self.lengths[cur], self.lines[cur] + 1, None
        for index in sorted(plans):      # file order, so windows come out in log order
            self._read_plan(index, plans[index])

    def _read_plan(self, index, plan):
        stream = self._open(index)
        if stream is None:
            return
        origin = self._origin(index)
        mtime = self._mtimes_or(index)
        plan.sort(key=lambda item: item[0])
        position = 0
        batch = []
        held = 0
        try:
            for start, stop, line_at, line_end, piece, which, ref in plan:
                data = _read_range(stream, start, stop, position)
                position = start + len(data)
                if line_at is None:
                    line_at = line_end - data.count(b"\n")
                    if not data.endswith(b"\n") and stop >= self.lengths[index]:
                        line_at -= 1
                    line_at = max(1, line_at)
                batch.append((data, line_at, piece, which, ref))
                held += len(data)
                if held >= WINDOW_BATCH:
                    self._parse_windows(batch, origin, mtime)
                    batch, held = [], 0
            self._parse_windows(batch, origin, mtime)
        finally:
            stream.close()

    def _parse_windows(self, batch, origin, mtime):
        """Parse the lines worth keeping of a few windows (their marker lines found in one go)."""
        marks = _grep_marks([data for data, _, _, _, _ in batch])
        for number, (data, line_at, piece, which, ref) in enumerate(batch):
            parser = logs.LineParser(mtime=ref if ref is not None else mtime, utc=self.utc)
            records = []
            for offset, raw in _window_lines(data, which, marks[number] if marks is not None else None):
                if len(raw) > textio.MAX_LINE:
                    raw = raw[:textio.MAX_LINE]
                text = _clean(textio.decode(raw))
                records.append(parser.parse(Line(text, origin, line_at + offset + self.line_base)))
            if which == "head":
                limit = None
                for record in records:
                    if record.stamp is not None:
                        limit = record.stamp + HEAD_SECONDS
                        break
                if limit is not None:
                    records = [r for r in records if r.stamp is None or r.stamp <= limit]
                piece.head.extend(records)
            else:
                piece.tail.extend(records)

    def _mtimes_or(self, index):
        return self.mtimes[index] if index < len(self.mtimes) else None


PARALLEL_MIN = 256 * 1024 * 1024     # plain files at least this big are scanned by several processes
GREP_MIN = 32 * 1024 * 1024          # plain files at least this big are indexed by grep
GREP_MEMORY = 256 * 1024 * 1024      # grep's address-space cap (its line buffer)


def _indexed_scan(path, kind, run=None):
    """The first pass over a big plain file through grep (-n -b with the anchors), or None.

    grep finds the anchor lines and counts lines at its own speed (CPython's
    ``bytes.count`` of newlines runs at 0.4-1.2 GB/s, grep's at memory
    speed); each candidate line is then read where grep found it and
    confirmed with the same regex as the in-process scan, so both paths
    yield the same matches.  ``wc -l`` runs beside grep for the line count
    (the last boot's end needs real line numbers).  Any trouble (no grep,
    a cut output, the file changing underneath) returns None and the
    in-process scan runs instead.
    """
    if path is None or kind == "full":
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if size < GREP_MIN:
        return None
    from . import runner
    run = run or runner.run
    anchors = {"fast": boot_markers.SCAN_ANCHORS, "journal": boot_markers.JOURNAL_ANCHORS}[kind]
    argv = ["grep", "-a", "-n", "-b"] + textio.grep_any_of(anchor.decode("ascii") for anchor in anchors)
    # wc runs beside grep (no thread: a child started with preexec_fn under a memory
    # cap must not be forked from a second thread); its output is one short line.
    counter = runner.stream_output(["wc", "-l", path])
    if counter is None:
        return None
    words = []
    try:
        # grep holds a whole line in memory: a hostile multi-gigabyte line makes it
        # fail under the cap (not take the box's memory) and the in-process scan runs
        result = run(argv + ["--", path], timeout=3600, cap=256 * 1024 * 1024, memory_limit=GREP_MEMORY)
        words = counter.stdout.read(4096).split()
    finally:
        trouble = runner.finish_stream(counter, timeout=3600)
    if trouble or not words or not words[0].isdigit():
        return None
    lines = int(words[0])
    if result.status == "failed" and result.rc == 1 and not result.stdout:
        found = []
    elif not result.ok:
        return None
    else:
        found = []
        for line in result.stdout.splitlines():
            lineno, _, rest = line.partition(":")
            offset, _, _ = rest.partition(":")
            if lineno.isdigit() and offset.isdigit():
                found.append((int(lineno), int(offset)))
            elif found or line.startswith("[output cut"):
                return None           # a cut output: do not trust a partial index
    try:
        if os.path.getsize(path) != size:
            return None               # a live log growing under us: the in-process scan reads a snapshot
        regex = boot_markers.scan_regex(kind)
        matches = []
        with open(path, "rb") as handle:
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    lines += 1        # a last line without its newline
            for lineno, offset in found:
                handle.seek(offset)
                raw = handle.readline(textio.MAX_LINE + 1)
                line = raw[:textio.MAX_LINE].rstrip(b"\n").rstrip(b"\r") if len(raw) > textio.MAX_LINE \
                    else raw.rstrip(b"\n")
                if not regex.search(line):
                    continue
                text = textio.decode(line.rstrip(b"\r"))
                before = None
                if lineno > 1 and offset > 0:
                    low = max(0, offset - textio.MAX_LINE)
                    handle.seek(low)
                    chunk = handle.read(offset - low)[:-1]
                    before = textio.decode(chunk[chunk.rfind(b"\n") + 1:].rstrip(b"\r"))
                matches.append((lineno, offset, text, before))
    except OSError:
        return None
    return matches, size, lines, None


def _scan(stream, regex, anchors, limit=None):
    """([(lineno, offset, text, line before)], bytes, lines, problem) of the first pass over one stream."""
    if limit is not None:
        stream = _Limited(stream, limit)
    scanner = textio.MatchScanner(stream, regex, previous=True, anchors=anchors)
    matches = []
    for lineno, text in scanner:
        matches.append((lineno, scanner.offset, text, scanner.before if lineno > 1 else None))
    return matches, scanner.length, scanner.lines, scanner.problem


class _Limited(object):
    """Read at most ``limit`` bytes of a stream."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.left = limit

    def read(self, size=-1):
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(size)
        self.left -= len(data)
        return data


def _scan_part(job):
    path, start, stop, kind = job
    anchors = {"fast": boot_markers.SCAN_ANCHORS, "journal": boot_markers.JOURNAL_ANCHORS}.get(kind)
    with open(path, "rb") as handle:
        handle.seek(start)
        return _scan(handle, boot_markers.scan_regex(kind), anchors, limit=stop - start)


def _parallel_scan(path, kind):
    """The first pass over a big plain file split across processes (fork), or None.

    Halves of a file are cut at a newline; each worker scans its part and the
    line numbers and offsets of later parts are shifted by what came before.
    Only worth it for big files on a machine with a spare CPU; any trouble
    falls back to the serial scan.
    """
    if path is None or kind == "full":
        return None
    try:
        size = os.path.getsize(path)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    except OSError:
        return None
    workers = min(4, cpus)
    if size < PARALLEL_MIN or workers < 2:
        return None
    try:
        import multiprocessing
        cuts = [0]
        with open(path, "rb") as handle:
            for part in range(1, workers):
                handle.seek(size * part // workers)
                # Skip to the next line start in bounded pieces: one line may
                # be gigabytes long (a log of NULs or binary junk).
                while True:
                    piece = handle.readline(1 << 20)
                    if not piece or piece.endswith(b"\n"):
                        break
                cuts.append(max(cuts[-1], handle.tell()))
        cuts.append(size)
        jobs = [(path, cuts[i], cuts[i + 1], kind) for i in range(workers) if cuts[i + 1] > cuts[i]]
        context = multiprocessing.get_context("fork")
        pool = context.Pool(len(jobs))
        try:
            parts = pool.map(_scan_part, jobs)
        finally:
            pool.terminate()
            pool.join()
    except (OSError, ImportError, ValueError, RuntimeError, AttributeError):
        return None
    matches = []
    lines = 0
    problem = None
    for (path_, start, stop, kind_), (found, length, count, trouble) in zip(jobs, parts):
        matches.extend((lineno + lines, offset + start, text, before if lineno > 1 else None)
                       for lineno, offset, text, before in found)
        lines += count
        problem = problem or trouble
    return matches, size, lines, problem


EDGE_LINES = 300      # first lines of a boot always read (start time, kernel banner, command line)
TAIL_EDGE = 200       # last lines of a boot always read (end time, how it ended)
TAIL_LINES = 1500     # ... and the kernel's lines among the last ones (reports before the end)


WINDOW_BATCH = 32 * 1024 * 1024   # window bytes held at once (bounded memory with thousands of boots)
WINDOW_GREP_MIN = 2 * 1024 * 1024 # window bytes from which grep finds their marker lines


def _grep_marks(windows, run=None):
    """[set of marked line indexes] per window (lines holding a WINDOW_ANCHORS literal), or None.

    One ``grep -F`` over the windows joined (through the runner, on stdin)
    instead of one ``bytes.find`` pass per literal per window; only worth
    it for megabytes of windows.  None (no grep, any trouble): the caller
    finds them in-process (_marked_lines), with the same result.
    """
    total = sum(len(data) for data in windows)
    if total < WINDOW_GREP_MIN:
        return None
    from . import runner
    run = run or runner.run
    joined = []
    firsts = []            # line number (1-based) in the joined text of each window's first line
    lines = 0
    for data in windows:
        firsts.append(lines + 1)
        if not data:
            continue
        lines += data.count(b"\n")
        if data.endswith(b"\n"):
            joined.append(data)
        else:
            joined.append(data + b"\n")
            lines += 1
    argv = ["grep", "-a", "-n"] + textio.grep_any_of(anchor.decode("ascii") for anchor in boot_markers.WINDOW_ANCHORS)
    result = run(argv, timeout=600, cap=2 * total + (1 << 20), stdin_data=b"".join(joined))
    if result.status == "failed" and result.rc == 1 and not result.stdout:
        return [set() for _ in windows]
    if not result.ok or "\n[output cut at " in result.stdout:
        return None
    import bisect
    marks = [set() for _ in windows]
    for line in result.stdout.split("\n"):
        number, colon, _ = line.partition(":")
        if not colon:
            continue
        if not number.isdigit():
            return None
        number = int(number)
        window = bisect.bisect_right(firsts, number) - 1
        marks[window].add(number - firsts[window])
    return marks


def _window_lines(data, which, marked=None):
    """(index, raw line) of a window worth parsing: its edge, and lines holding a marker.

    ``marked``: the indexes of the lines holding a marker when already known (_grep_marks).
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    count = len(lines)
    if which == "head":
        keep = set(range(min(EDGE_LINES, count)))
    else:
        # the very end in full; before it the kernel's lines (reports before the end)
        keep = set(range(max(0, count - TAIL_EDGE), count))
        for index in range(max(0, count - TAIL_LINES), max(0, count - TAIL_EDGE)):
            raw = lines[index]
            if b"kernel" in raw or raw[:1] == b"[":
                keep.add(index)
    if marked is not None:
        keep.update(marked)
    elif count > len(keep):
        keep.update(_marked_lines(data, lines, keep))
    return [(index, lines[index]) for index in sorted(keep) if index < count]


def _marked_lines(data, lines, skip):
    """Indexes of ``lines`` (``data`` split at newlines) holding a WINDOW_ANCHORS literal.

    One ``bytes.find`` pass per boot_markers.WINDOW_SCREEN literal over the
    lower-cased window (fewer passes than one per anchor), then the exact
    anchors on each candidate line.
    """
    import bisect
    lowered = data.lower()
    offsets = []
    for literal in boot_markers.WINDOW_SCREEN:
        found = lowered.find(literal)
        while found >= 0:
            offsets.append(found)
            end = lowered.find(b"\n", found)
            if end < 0:
                break
            found = lowered.find(literal, end + 1)
    if not offsets:
        return set()
    starts = []
    position = 0
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    confirm = _window_regex().search
    marked = set()
    for offset in offsets:
        index = bisect.bisect_right(starts, offset) - 1
        if index not in skip and index not in marked and confirm(lines[index]):
            marked.add(index)
    return marked


_WINDOW_REGEX = []


def _window_regex():
    if not _WINDOW_REGEX:
        _WINDOW_REGEX.append(boot_markers.window_regex())
    return _WINDOW_REGEX[0]


def _read_range(stream, start, stop, position):
    """Bytes [start, stop) of a forward-only or seekable stream positioned at ``position``."""
    try:
        if start != position:
            try:
                stream.seek(start)
            except (OSError, ValueError, AttributeError, io_unsupported()):
                skip = start - position
                while skip > 0:
                    chunk = stream.read(min(skip, 1 << 20))
                    if not chunk:
                        return b""
                    skip -= len(chunk)
        return stream.read(stop - start) or b""
    except (EOFError, OSError, ValueError):  # truncated compression: what we have
        return b""


def io_unsupported():
    import io
    return io.UnsupportedOperation


# ================================================================ JSON journal exports

def json_export_pieces(source, name, path, utc=False, plain=False, head_lines=20000, tail_lines=3000):
    """Pieces of a ``journalctl -o json`` export file, cut at boot id changes."""
    import json
    pieces = []
    current = None
    current_id = None
    origin = path if plain else source.origin(path)
    try:
        stream = textio.open_path(path) if plain else source.open(path)
    except textio.Unreadable as error:
        source.warn("%s: %s" % (origin, error))
        return []
    reader = textio.LineReader(stream)
    tail = None
    try:
        for lineno, text in reader:
            text = text.strip()
            if not text.startswith("{"):
                continue
            try:
                entry = json.loads(text)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            message = logs._field(entry, "MESSAGE") or ""
            record = logs.journal_record(entry, Line(str(message), origin, lineno))
            boot_id = record.boot_id
            banner = record.program == "kernel" and boot_markers.BANNER.match(record.message or "")
            new = current is None or (boot_id and boot_id != current_id) or \
                (not boot_id and banner and current is not None and current.has_banner)
            if new:
                if current is not None:
                    current.tail = list(tail)
                current = Piece(name, "journal-json")
                current.first = record
                current.boot_id = boot_id
                current_id = boot_id
                tail = collections.deque(maxlen=tail_lines)
                pieces.append(current)
            if banner:
                current.has_banner = True
            if len(current.head) < head_lines and (not current.head or current.head[0].stamp is None or
                                                   record.stamp is None or
                                                   record.stamp <= current.head[0].stamp + HEAD_SECONDS):
                current.head.append(record)
            else:
                tail.append(record)
    finally:
        stream.close()
    if reader.problem:
        source.warn("%s: %s" % (origin, reader.problem))
    if current is not None:
        current.tail = list(tail)
    for piece in pieces:
        piece.finish()
    return pieces


def _looks_json(source, path, plain):
    try:
        stream = textio.open_path(path) if plain else source.open(path)
    except textio.Unreadable:
        return False
    try:
        head = stream.read(4096)
    except (EOFError, OSError, ValueError):
        return False
    finally:
        stream.close()
    head = head.lstrip()
    return head.startswith(b"{") and b"__REALTIME_TIMESTAMP" in head or b'"MESSAGE"' in head[:4096] \
        and head.startswith(b"{")


# ================================================================ the binary journal

def journal_pieces(source, run=None, since=None, until=None, last=None, base=None):
    """Pieces of the binary journal through journalctl (--list-boots, then windows)."""
    base = base or boot_journal.base_command(source)
    if not base:
        return None
    listings, problem = boot_journal.list_boots(base, run)
    if problem:
        source.warn("journal: %s (the syslog files and wtmp are still read)" % (problem,))
        return []
    selected = []
    for listing in listings:
        if since is not None and listing.last is not None and listing.last < since:
            continue
        if until is not None and listing.first is not None and listing.first > until:
            continue
        selected.append(listing)
    if last:
        selected = selected[-(last + 1):]
    pieces = []
    for listing in selected:
        head, tail, trouble = boot_journal.boot_window(base, listing.boot_id, listing.first, run)
        if trouble:
            source.warn("journal: %s" % (trouble,))
        piece = Piece("journal", "journal")
        piece.boot_id = listing.boot_id
        piece.head = head
        piece.tail = [r for r in tail if not head or r.line.lineno > 0]
        if head:
            piece.first = head[0]
        seen = set((r.stamp, r.message) for r in head)
        piece.tail = [r for r in tail if (r.stamp, r.message) not in seen]
        piece.finish()
        if listing.first is not None and (piece.start is None or piece.unc > 15):
            piece.start = listing.first
            piece.unc = 5.0
        if listing.last is not None:
            piece.end = max(piece.end or listing.last, listing.last)
        if piece.start_evidence is None:
            piece.start_evidence = findings.Evidence("journal", None, "boot %s" % listing.boot_id)
        pieces.append(piece)
    return pieces


# ================================================================ wtmp

def wtmp_pieces(source, paths, plain=False):
    """Pieces from wtmp files: one per boot record; shutdown / runlevel records as end events."""
    pieces = []
    for path in paths:
        origin = path if plain else source.origin(path)
        try:
            stream = textio.open_path(path) if plain else source.open(path)
        except textio.Unreadable as error:
            source.warn("%s: %s" % (origin, error))
            continue
        try:
            current = None
            for entry in boot_wtmp.parse(stream, warn=source.warn, origin=origin):
                evidence = findings.Evidence(origin, entry.index, _wtmp_text(entry))
                if entry.kind == "boot":
                    current = Piece("wtmp", "wtmp")
                    current.start = entry.stamp
                    current.unc = 120.0
                    current.kernel = entry.kernel
                    current.start_evidence = evidence
                    current.end = entry.stamp
                    pieces.append(current)
                elif current is not None:
                    _end_record(current, entry.kind, entry.runlevel, evidence, entry.stamp)
        except (EOFError, OSError, ValueError) as error:
            source.warn("%s: %s" % (origin, textio.describe_read_error(error)))
        finally:
            stream.close()
    return pieces


def _end_record(piece, kind, runlevel, evidence, stamp):
    """A wtmp-style record after a boot record (wtmp itself, ``last -x``): it
    extends the boot, and a shutdown or runlevel 0 / 6 record is its end."""
    piece.end = max(piece.end or stamp, stamp)
    if kind == "shutdown":
        piece.events.append(("end", "shutdown", evidence, stamp))
    elif kind == "runlevel" and runlevel in ("0", "6"):
        piece.events.append(("end", "reboot" if runlevel == "6" else "poweroff", evidence, stamp))


# ================================================================ last output (bundles without wtmp)

def last_outputs(source):
    """[(origin, [Line], reference epoch)] of the ``last`` outputs a bundle holds.

    sos (plugin login): ``sos_commands/login/last``, ``last_reboot``,
    ``last_shutdown`` (the root ``last`` link when there is no
    sos_commands); supportconfig: ``last`` Command sections (boot.txt
    ``last -wxF | egrep ...``), lines numbered as in the .txt file.
    """
    out = []
    if source.kind == "sos":
        paths = [p for p in source.glob("sos_commands/login/last*")
                 if not p.rsplit("/", 1)[-1].startswith("lastlog") and not source.isdir(p)]
        if not paths and source.exists("last") and not source.isdir("last"):
            paths = ["last"]
        for path in paths:
            out.append((source.origin(path), list(source.lines(path)), source.mtime(path)))
    elif source.kind == "supportconfig":
        for words, txt, first, body in getattr(source, "commands", []):
            if words[:1] != ["last"] or not body or body[0].startswith("ERROR: Command not found"):
                continue
            lines = [Line(text, txt, first + offset) for offset, text in enumerate(body)]
            out.append(("%s:%d" % (txt, first), lines, source.mtime(txt)))
    return out


def last_pieces(source, utc=False, reference=None, outputs=None):
    """Pieces from ``last`` outputs of a bundle (what wtmp_pieces gives from the binary file).

    The outputs overlap (``last`` and ``last reboot`` list the same boots):
    entries of the same kind within the coarser resolution are one.  A
    shutdown or runlevel 0/6 line is the end event of the boot before it;
    without ``-x`` a boot line's end column (the newest shutdown ``last``
    met after it) not later than the next boot's start is.  Times are the
    box's wall clock without a zone: ``_align_zones`` treats the pieces like
    zone-less syslog ones (``zoneless``).
    """
    from . import boot_last
    entries = []
    outputs = last_outputs(source) if outputs is None else outputs
    for number, (origin, lines, mtime) in enumerate(outputs):
        found = boot_last.parse(lines, reference=reference if reference is not None else mtime, utc=utc,
                                warn=source.warn, origin=origin, sessions=True)
        for position, entry in enumerate(found):
            entries.append((entry, -position, number))
    entries.sort(key=lambda item: item[0].resolution)       # -F / iso outputs first: they win ties
    kept = []
    for entry, order, output in entries:
        if not any(output != other_output and boot_last.same_line(entry, other)
                   for other, _, other_output in kept):
            kept.append((entry, order, output))
    kept.sort(key=lambda item: (item[0].stamp, item[1]))
    pieces = []
    current = None
    for entry, _, _ in kept:
        if entry.kind == "session":
            if current is not None:       # a user logged in: the boot was up then
                current.end = max(current.end, entry.stamp)
                current.logouts.append(entry.end)
            continue
        evidence = findings.Evidence(entry.origin, entry.lineno, entry.text.strip())
        if entry.kind == "boot":
            current = Piece("last", "wtmp")
            current.start = entry.stamp
            current.unc = 120.0 + (entry.resolution if entry.resolution > 1 else 0)
            current.kernel = entry.kernel
            current.start_evidence = evidence
            current.end = entry.stamp
            current.zoneless = not entry.zone_known
            current.last_end = (entry.end, evidence, entry.resolution)
            current.logouts = []
            pieces.append(current)
        elif current is not None:
            _end_record(current, entry.kind, entry.runlevel, evidence, entry.stamp)
    for number, piece in enumerate(pieces):
        following = pieces[number + 1].start if number + 1 < len(pieces) else None
        for logout in piece.logouts:      # a logout after the next boot began is clock trouble
            if logout is not None and piece.start <= logout and (following is None or logout < following):
                piece.end = max(piece.end, logout)
    if any(entry.kind in ("shutdown", "runlevel") for entry, _, _ in kept):
        return pieces         # -x output: the shutdown and runlevel lines themselves were read
    for number, piece in enumerate(pieces):
        end, evidence, resolution = piece.last_end
        following = pieces[number + 1].start if number + 1 < len(pieces) else None
        if end is None or end < piece.start:
            continue
        # minutes: a shutdown in the minute the next boot began prints the same HH:MM
        if following is None or (end <= following if resolution > 1 else end < following):
            piece.end = max(piece.end, end)
            piece.events.append(("end", "shutdown", evidence, end))
    return pieces


# ================================================================ wtmpdb

def wtmpdb_pieces(source, paths, plain=False):
    """Pieces from wtmpdb databases: one per boot row; its Logout (set by ``wtmpdb shutdown``) is
    the clean end, user sessions until the next boot extend how long it was seen up."""
    from . import boot_wtmpdb
    entries = []
    for path in paths:
        origin = path if plain else source.origin(path)
        real = path if plain else (source.tree.real(path) if hasattr(source.tree, "real") else None)
        if real is not None:
            found, problem = boot_wtmpdb.read(real)
            note = boot_wtmpdb.wal_note(real)
            if note:
                source.warn("%s: %s" % (origin, note))
        else:
            try:
                stream = source.open(path)
                try:
                    data = stream.read(256 * 1024 * 1024)
                finally:
                    stream.close()
            except (textio.Unreadable, EOFError, OSError, ValueError) as error:
                source.warn("%s: %s" % (origin, error))
                continue
            found, problem = boot_wtmpdb.read(data=data)
        if problem:
            source.warn("%s: %s" % (origin, problem))
        # rows in the order they were written (ID), rotations first: a clock
        # stepped back after a boot must not move a session into the boot before
        entries.extend((entry, origin) for entry in sorted(found, key=lambda entry: entry.row))
    pieces = []
    current = None
    for entry, origin in entries:
        if entry.kind == "boot":
            current = Piece("wtmpdb", "wtmp")
            current.start = entry.login
            current.unc = 60.0
            current.kernel = entry.host or None
            current.start_evidence = findings.Evidence(origin, entry.row, _wtmpdb_text(entry))
            current.end = entry.login
            if entry.logout is not None and entry.logout >= entry.login:
                current.end = entry.logout
                current.events.append(("end", "shutdown", findings.Evidence(
                    origin, entry.row, _wtmpdb_text(entry, logout=True)), entry.logout))
            pieces.append(current)
        elif current is not None:
            for stamp in (entry.login, entry.logout):
                if stamp is not None and stamp >= current.start and not current.events:
                    current.end = max(current.end, stamp)
    for number, piece in enumerate(pieces[:-1]):
        following = pieces[number + 1].start
        if piece.end is not None and piece.end > following:
            piece.end = max(piece.start, following)   # a session closed after the next boot began: clock trouble
    return pieces


def _wtmpdb_text(entry, logout=False):
    if logout:
        return "wtmpdb boot entry %s: logout (shutdown) at %s" % (entry.row, timeparse.iso_utc(entry.logout))
    return "wtmpdb boot entry %s (%s) at %s" % (entry.row, entry.host or "-", timeparse.iso_utc(entry.login))


def wtmpdb_paths(source):
    from . import boot_wtmpdb
    folder = boot_wtmpdb.FOLDER
    if not source.isdir(folder):
        return []
    return [posix_join(folder, name) for name in boot_wtmpdb.order_files(source.listdir(folder))
            if not source.isdir(posix_join(folder, name))]


def _wtmp_text(entry):
    stamp = timeparse.iso_utc(entry.stamp)
    if entry.kind == "runlevel":
        return "wtmp %s record: runlevel %s (was %s) at %s" % (entry.kind, entry.runlevel, entry.previous,
                                                               stamp)
    return "wtmp %s record (%s) at %s" % (entry.kind, entry.kernel or "-", stamp)


# ================================================================ merged boots

class Boot(object):
    """One boot of the machine, merged over every input that saw it."""

    def __init__(self, piece):
        self.pieces = [piece]
        self.number = None
        self.relative = not piece.wall
        self.ending = None            # clean / unclean / running / unknown
        self.action = None            # reboot / poweroff / halt / kexec / shutdown
        self.end_how = ""             # a short human phrase
        self.cause = None             # {"kind", "title", "evidence"}
        self.initiators = []
        self.recovery = []            # Evidence of the NEXT boot's filesystem recovery
        self.problems = []            # {"kind", "title", "evidence"}
        self.target_seconds = None
        self.loop = False
        self.end_evidence = []
        self.kdump = False
        self.dump = None              # kdump capture kernel: "saved" / "failed" / None (not seen)
        self.dump_evidence = []

    # -- merged fields
    @property
    def inputs(self):
        names = []
        for piece in self.pieces:
            if piece.input not in names:
                names.append(piece.input)
        return names

    @property
    def start(self):
        best = None
        for piece in self.pieces:
            if piece.start is None:
                continue
            if best is None or piece.unc < best.unc or (piece.unc == best.unc and piece.start < best.start):
                best = piece
        return best.start if best is not None else None

    @property
    def approx(self):
        return all(p.approx for p in self.pieces if p.start is not None) and self.start is not None

    @property
    def unc(self):
        values = [p.unc for p in self.pieces if p.start is not None]
        return min(values) if values else None

    @property
    def end(self):
        if getattr(self, "end_clipped", None) is not None:
            return self.end_clipped
        values = [p.end for p in self.pieces if p.end is not None]
        return max(values) if values else None

    def clip_end(self, limit):
        """Lines stamped after the next boot began belong to it (a logger starting late
        writes the new boot's first lines before its start marker): end before ``limit``."""
        end = self.end
        if end is None or limit is None or end <= limit:
            return
        stamps = [r.stamp for r in self.records("tail") if r.stamp is not None and r.stamp <= limit]
        stamps += [stamp for piece in self.pieces for _, _, _, stamp in piece.events
                   if stamp is not None and stamp <= limit]
        if stamps:
            self.end_clipped = max(stamps)

    @property
    def end_floor(self):
        values = [p.end for p in self.pieces if p.end is not None and p.kind != "wtmp"]
        return min(values) if values else None

    @property
    def last_mono(self):
        values = [p.last_mono for p in self.pieces if p.last_mono is not None]
        return max(values) if values else None

    @property
    def kernel(self):
        for piece in self.pieces:
            if piece.kernel:
                return piece.kernel
        return None

    @property
    def cmdline(self):
        for piece in self.pieces:
            if piece.cmdline:
                return piece.cmdline
        return None

    @property
    def boot_ids(self):
        return set(p.boot_id for p in self.pieces if p.boot_id)

    @property
    def logger_restarts(self):
        return max([p.logger_restarts for p in self.pieces] or [0])

    @property
    def uptime(self):
        if self.relative:
            return self.last_mono
        if self.start is None or self.end is None:
            return None
        if self.end == self.start and all(p.kind == "wtmp" for p in self.pieces):
            return None       # a wtmp/wtmpdb boot record and nothing after it: how long is unknown
        return max(0.0, self.end - self.start)

    @property
    def start_evidence(self):
        ranked = sorted((p for p in self.pieces if p.start_evidence is not None),
                        key=lambda p: (p.kind == "wtmp", p.unc))
        return ranked[0].start_evidence if ranked else None

    def records(self, which):
        out = []
        for piece in self.pieces:
            out.extend(getattr(piece, which))
        return out

    def add(self, piece):
        self.pieces.append(piece)

    def to_dict(self, utc=False):
        start = self.start
        end = self.end
        return {
            "number": self.number,
            "clock": "monotonic" if self.relative else "wall",
            "start": timeparse.iso_utc(start) if start is not None and not self.relative else None,
            "start_epoch": start if not self.relative else None,
            "start_approximate": bool(self.approx),
            "start_uncertainty_s": self.unc if not self.relative else None,
            "end": timeparse.iso_utc(end) if end is not None and not self.relative else None,
            "end_epoch": end if not self.relative else None,
            "uptime_s": round(self.uptime, 3) if self.uptime is not None else None,
            "kernel": self.kernel,
            "cmdline": self.cmdline,
            "boot_ids": sorted(self.boot_ids),
            "ending": self.ending,
            "action": self.action,
            "how": self.end_how,
            "cause": None if self.cause is None else {
                "kind": self.cause["kind"], "title": self.cause["title"],
                "evidence": [_ev_dict(e) for e in self.cause["evidence"]]},
            "initiators": [{"kind": i["kind"], "evidence": [_ev_dict(e) for e in i["evidence"]]}
                           for i in self.initiators],
            "recovery_next_boot": [_ev_dict(e) for e in self.recovery],
            "target_s": self.target_seconds,
            "problems": [{"kind": p["kind"], "title": p["title"], "evidence": [_ev_dict(e) for e in p["evidence"]]}
                         for p in self.problems],
            "loop": self.loop,
            "inferred_from_logger": all(getattr(p, "weak", False) for p in self.pieces),
            "kdump_kernel": self.kdump,
            "kdump_dump": self.dump if self.kdump else None,
            "logger_restarts": self.logger_restarts,
            "inputs": self.inputs,
            "evidence": {
                "start": _ev_dict(self.start_evidence) if self.start_evidence is not None else None,
                "end": [_ev_dict(e) for e in self.end_evidence],
            },
        }


def merge(pieces):
    """Merge wall-clock pieces of different inputs into boots (time order)."""
    ordered = sorted((p for p in pieces if p.start is not None), key=lambda p: p.start)
    boots = []
    for piece in ordered:
        best = None
        best_distance = None
        for boot in boots[-12:]:
            if piece.input in boot.inputs:
                continue
            ids = boot.boot_ids
            if piece.boot_id and ids:
                if piece.boot_id in ids:
                    best, best_distance = boot, -1.0
                    break
                continue
            tolerance = max(piece.unc, boot.unc or 0.0) + 30.0
            distance = abs(piece.start - boot.start)
            if distance > tolerance:
                continue
            floor = boot.end_floor
            if floor is not None and piece.start > floor + 30.0:
                continue      # that boot had ended before this one started
            if piece.end is not None and piece.kind != "wtmp" and boot.start > piece.end + 30.0:
                continue
            if best_distance is None or distance < best_distance:
                best, best_distance = boot, distance
        if best is not None:
            best.add(piece)
        else:
            boots.append(Boot(piece))
    boots.sort(key=lambda b: b.start)
    return boots


# ================================================================ judging the boots

def _events(records):
    """(kind, detail, match, record) for the lines of a window that mean something."""
    out = []
    for record in records:
        message = record.message or ""
        if message.startswith("["):
            message = _STATUS.sub("", message)
        found = boot_markers.classify(message, record.program)
        if found is not None:
            out.append((found[0], found[1], found[2], record))
    return out


def kernel_causes(records, end_stamp=None, end_mono=None):
    """Kernel reports near the end of a boot, most telling first: [(kind, title, [Evidence])].

    Uses the kernel-report engine (shared.kernelreport) when it is there and
    works; otherwise a minimal line-based detection.  One function so the
    engine can be swapped without touching the rest.
    """
    if not _report_candidate(records):
        return [], "kernelreport"       # no report header in the window: nothing for either detector
    try:
        from . import kernelreport
        reports = kernelreport.scan(records)
        near = kernelreport.reports_near(reports, stamp=end_stamp, mono=end_mono if end_stamp is None else None,
                                         before=900.0, after=120.0)
        if end_stamp is None and end_mono is None:
            near = kernelreport.primaries(reports)
        out = []
        for report in near:
            if getattr(report, "noise", False) or report.kind in ("io-error", "segfault", "warning", "edac",
                                                                  "page-alloc-failure"):
                continue
            title = report.title
            if report.panicked and "panic" not in title.lower():
                title += " (kernel panic)"
            evidence = [findings.Evidence(report.origin, report.lineno, report.header)]
            kind = report.kind
            if kind in ("oom", "memcg-oom"):
                kind = "out of memory"
            out.append((kind, title, evidence, report.panicked, report.count))
        return out, "kernelreport"
    except Exception:  # the engine is optional: fall back to the minimal detection
        _ENGINE_FAILED.append(True)
    out = []
    for kind, detail, match, record in _events(records):
        if kind == "cause" and detail not in ("watchdog", "sysrq"):
            title = detail if detail != "kernel panic" else "Kernel panic - not syncing: %s" % match.group(1)
            out.append((detail, title, [_evidence(record)], detail == "kernel panic", 1))
    out.reverse()
    return out, "minimal"


_ENGINE_FAILED = []
_REPORT_SCREEN = []


def _report_candidate(records):
    """True when a line of ``records`` holds a kernel report marker (boot_markers.KERNEL_REPORT_MARKERS)."""
    if not _REPORT_SCREEN:
        _REPORT_SCREEN.append(re.compile("|".join(re.escape(m) for m in boot_markers.KERNEL_REPORT_MARKERS)))
    return bool(_REPORT_SCREEN[0].search("\n".join(record.line.text for record in records)))


def judge(boots, live=False):
    """Classify each boot's end, cause, recovery, problems and loops (in place)."""
    wall = [b for b in boots if not b.relative]
    rel = [b for b in boots if b.relative]
    for index, boot in enumerate(wall[:-1]):
        boot.clip_end(wall[index + 1].start)
    for series in (wall,) + tuple(_group_relative(rel)):
        for index, boot in enumerate(series):
            following = series[index + 1] if index + 1 < len(series) else None
            _judge_one(boot, following, live and not boot.relative)
    _loops(wall)
    for series in _group_relative(rel):
        _loops(series, relative=True)


def _group_relative(boots):
    groups = collections.OrderedDict()
    for boot in boots:
        groups.setdefault(boot.pieces[0].input, []).append(boot)
    return list(groups.values())


def _head_events(boot):
    if getattr(boot, "_head_events", None) is None:
        boot._head_events = _events(boot.records("head"))
    return boot._head_events


def _tail_events(boot):
    if getattr(boot, "_tail_events", None) is None:
        tail = boot.records("tail")
        boot._tail_events = _events(tail) if tail else _head_events(boot)
    return boot._tail_events


def _judge_one(boot, following, live):
    tail = boot.records("tail")
    head = boot.records("head")
    end_events = []
    intents = []
    initiators = collections.OrderedDict()
    logger = None
    oom = []
    seen_oom = set()
    for kind, detail, match, record in _tail_events(boot):
        if kind == "end":
            end_events.append((detail, _evidence(record)))
        elif kind == "intent":
            intents.append((detail, _evidence(record)))
        elif kind == "initiator":
            initiators.setdefault(detail, []).append(_evidence(record))
        elif kind == "cause" and detail == "out of memory":
            if (record.stamp, record.message) not in seen_oom:     # the same kill in two logs
                seen_oom.add((record.stamp, record.message))
                oom.append(_evidence(record))
    for record in (tail if tail else head):
        event = boot_markers.logger_event(record.message or "", record.program)
        if event is not None:
            logger = (event, record)
    for piece in boot.pieces:
        for kind, detail, evidence, stamp in piece.events:
            if kind == "end":
                end_events.append((detail, evidence))
    boot.initiators = [{"kind": k, "evidence": v[:3]} for k, v in initiators.items()]
    # kdump: this boot is the capture kernel
    cmdline = boot.cmdline or ""
    boot.kdump = "elfcorehdr=" in cmdline
    if end_events:
        boot.ending = "clean"
        actions = [d for d, _ in end_events if d != "shutdown"]
        if not actions:   # a wtmp/wtmpdb shutdown record says it ended, the journal or syslog says how
            actions = [d for d, _ in intents if d != "shutdown"]
        boot.action = actions[-1] if actions else "shutdown"
        boot.end_how = {"reboot": "reboot", "poweroff": "power off", "halt": "halt",
                        "kexec": "kexec reboot", "shutdown": "shutdown"}[boot.action]
        boot.end_evidence = [e for _, e in end_events[-3:]]
    elif logger is not None and logger[0] == "stop":
        boot.ending = "clean"
        named = [d for d, _ in intents if d != "shutdown"]
        boot.action = named[-1] if named else "shutdown"
        boot.end_how = "%s (system logger stopped)" % {"reboot": "reboot", "poweroff": "power off",
                                                         "halt": "halt", "kexec": "kexec reboot"}.get(
            boot.action, "shutdown")
        boot.end_evidence = [e for _, e in intents[-1:]] + [_evidence(logger[1])]
    elif following is None:
        boot.ending = "running" if live else "unknown"
        boot.end_how = "still running" if live else "logs end"
    else:
        boot.ending = "unclean"
        boot.end_how = "unclean"
    if boot.kdump:
        boot.end_how = "kdump capture kernel, " + boot.end_how
        for kind, detail, match, record in _tail_events(boot):
            if kind == "dump":
                boot.dump = detail
                boot.dump_evidence = (boot.dump_evidence + [_evidence(record)])[-3:]
    if intents and boot.ending == "unclean":
        boot.end_how = "shutdown began, did not finish"
        boot.end_evidence = [e for _, e in intents[-2:]]
    # cause (for unclean ends, and for clean ones a named initiator)
    if boot.ending == "unclean":
        reports = []
        for piece in boot.pieces:
            window = piece.tail or piece.head
            if window:
                found, _ = kernel_causes(window, boot.end, boot.last_mono if boot.end is None else None)
                if found:
                    reports = found
                    break
        if following is not None and following.cmdline and "elfcorehdr=" in following.cmdline:
            ev = following.start_evidence
            boot.cause = {"kind": "kdump", "title": "crashed; kexec into the kdump capture kernel",
                          "evidence": ([reports[0][2][0]] if reports else []) + ([ev] if ev else [])}
            if reports:
                boot.cause["title"] = "%s; kexec into the kdump capture kernel" % reports[0][1]
        elif reports:
            kind, title, evidence, panicked, count = reports[0]
            if kind == "out of memory" and len(oom) >= OOM_STORM:
                title = "OOM storm: %d OOM kills in the last stretch" % len(oom)
                evidence = oom[-3:]
            boot.cause = {"kind": kind, "title": title, "evidence": evidence}
        elif len(oom) >= OOM_STORM:
            boot.cause = {"kind": "out of memory", "title": "OOM storm: %d OOM kills in the last stretch"
                          % len(oom), "evidence": oom[-3:]}
        else:
            watchdog = [_evidence(r) for k, d, m, r in _tail_events(boot) if k == "cause" and
                        d in ("watchdog", "sysrq")]
            if watchdog:
                text = watchdog[-1].excerpt or ""
                kind = "sysrq" if "sysrq" in text else "watchdog"
                boot.cause = {"kind": kind, "title": "reset by %s" % ("magic SysRq" if kind == "sysrq"
                                                                      else "watchdog"),
                              "evidence": watchdog[-2:]}
            elif initiators:
                kind, evidence = list(initiators.items())[-1]
                boot.cause = {"kind": kind, "title": "%s, then no clean shutdown" % kind,
                              "evidence": evidence[-2:]}
            else:
                boot.cause = {"kind": "none", "title": "no evidence - power loss or hard reset",
                              "evidence": []}
    # the next boot's recovery corroborates an unclean end
    if following is not None:
        for kind, detail, match, record in _head_events(following):
            if kind == "recovery" and len(boot.recovery) < 6:
                boot.recovery.append(_evidence(record))
    # problems and startup time of this boot
    seen = set()
    lines_seen = set()
    for kind, detail, match, record in _head_events(boot) + _tail_events(boot):
        where = (record.line.origin, record.line.lineno)
        if where in lines_seen:
            continue
        lines_seen.add(where)
        if kind == "startup" and boot.target_seconds is None:
            total = match.group(2)
            boot.target_seconds = boot_markers.parse_systemd_duration(total or match.group(1))
        elif kind == "target" and boot.target_seconds is None and not boot.relative:
            if record.stamp is not None and boot.start is not None and record in head:
                boot.target_pending = record.stamp - boot.start
        elif kind == "problem":
            problem_kind = detail
            title = _problem_title(detail, match, record)
            if detail == "failed-unit" and boot_markers.SECURITY_AGENTS.search(record.message or ""):
                problem_kind = "security-agent"
            key = (problem_kind, title) if detail == "failed-unit" else (problem_kind,)
            if key in seen:
                for item in boot.problems:
                    if item["key"] == key and len(item["evidence"]) < 3:
                        item["evidence"].append(_evidence(record))
                continue
            seen.add(key)
            if len(boot.problems) < MAX_PROBLEMS:
                boot.problems.append({"kind": problem_kind, "title": title, "evidence": [_evidence(record)],
                                      "stamp": record.stamp, "key": key})
    if boot.target_seconds is None and getattr(boot, "target_pending", None) is not None:
        boot.target_seconds = round(boot.target_pending, 3)
    _dedupe_unit_problems(boot)


def _problem_title(detail, match, record):
    message = record.message or ""
    if detail == "failed-unit":
        unit = match.group(1)
        if match.lastindex and match.lastindex >= 2 and match.group(2):
            return "failed: %s (%s)" % (unit, match.group(2))
        return "failed to start: %s" % unit
    labels = {"emergency": "emergency or rescue mode", "read-only-root": "file system read-only",
              "fsck-repair": "fsck found or repaired errors", "security-policy": "security policy failed to load"}
    return "%s (%s)" % (labels.get(detail, detail), message.strip()[:80])


def _dedupe_unit_problems(boot):
    """'Failed to start X.' and 'x.service: Failed with result ...' a moment later are one problem."""
    starts = [p.get("stamp") for p in boot.problems if p["title"].startswith("failed to start: ")]
    keep = []
    for problem in boot.problems:
        stamp = problem.get("stamp")
        if problem["title"].startswith("failed: ") and stamp is not None and \
                any(s is not None and abs(s - stamp) <= 5 for s in starts):
            continue
        keep.append(problem)
    boot.problems = keep


def _loops(series, relative=False):
    """Mark runs of LOOP_MIN or more short-lived boots: each followed by the next within LOOP_GAP.

    A boot that lasted is not part of the loop it ended, and boots are never
    merged for being close: each keeps its own row.
    """
    run = []
    for index, boot in enumerate(series + [None]):
        following = series[index + 1] if boot is not None and index + 1 < len(series) else None
        short = False
        if boot is not None and following is not None:
            if relative:
                short = boot.uptime is not None and boot.uptime <= LOOP_GAP
            elif boot.start is not None and following.start is not None:
                short = following.start - boot.start <= LOOP_GAP
        if short:
            run.append(boot)
            continue
        if len(run) >= LOOP_MIN:
            for member in run:
                member.loop = True
        run = []


# ================================================================ gathering inputs

SYSLOG_NAMES = ("messages", "syslog", "kern.log", "localmessages", "boot.log")


class Timeline(object):
    """The result: boots (merged, judged), inputs read, warnings live in the source."""

    def __init__(self, boots, inputs, engine, utc=False, since=None, until=None, last=None):
        self.all_boots = boots
        self.inputs = inputs
        self.engine = engine
        self.utc = utc
        self.since = since
        self.until = until
        self.last = last
        self.boots = self._select()

    def _select(self):
        chosen = []
        for boot in self.all_boots:
            if not boot.relative:
                end = boot.end if boot.end is not None else boot.start
                if self.since is not None and end is not None and end < self.since:
                    continue
                if self.until is not None and boot.start is not None and boot.start > self.until:
                    continue
            chosen.append(boot)
        if self.last:
            chosen = chosen[-self.last:]
        return chosen

    @property
    def wall(self):
        return [b for b in self.boots if not b.relative]

    @property
    def relative(self):
        return [b for b in self.boots if b.relative]

    def loops(self):
        """[(first boot, last boot, count)] of marked loops among the selected boots."""
        found = []
        run = []
        for boot in self.boots + [None]:
            if boot is not None and boot.loop and (not run or run[-1].relative == boot.relative and
                                                   run[-1].number + 1 == boot.number):
                run.append(boot)
                continue
            if len(run) >= LOOP_MIN:
                found.append(run)
            run = [boot] if boot is not None and boot.loop else []
        return found

    def summary(self):
        counts = collections.Counter(b.ending for b in self.boots)
        return {
            "boots": len(self.boots),
            "boots_total": len(self.all_boots),
            "clean": counts.get("clean", 0),
            "unclean": counts.get("unclean", 0),
            "running": counts.get("running", 0),
            "unknown": counts.get("unknown", 0),
            "kdump_captures": sum(1 for b in self.boots if b.kdump),
            "loops": [{"first": run[0].number, "last": run[-1].number, "boots": len(run),
                       "start": timeparse.iso_utc(run[0].start) if run[0].start is not None and
                       not run[0].relative else None,
                       "end": timeparse.iso_utc(run[-1].start) if run[-1].start is not None and
                       not run[-1].relative else None} for run in self.loops()],
            "monotonic_only": bool(self.relative) and not self.wall,
        }

    def findings(self):
        out = []
        if not self.all_boots:
            out.append(findings.Finding.not_evaluated(
                "bootlog.timeline", "boot timeline", ["boot markers in any log (no kernel banner, journal "
                                                      "boot or wtmp boot record found)"]))
            return out
        unclean = [b for b in self.boots if b.ending == "unclean"]
        for boot in unclean:
            cause = boot.cause or {"kind": "none", "title": "no evidence", "evidence": []}
            severe = cause["kind"] not in ("none", "power button", "hypervisor request")
            when = self._when(boot.end if boot.end is not None else boot.start, boot)
            detail = "boot %d (%s) ended %s; likely cause: %s" % (
                boot.number, self._when(boot.start, boot), "without a clean shutdown", cause["title"])
            if boot.recovery:
                detail += "; the next boot recovered filesystems (corroborates the unclean end)"
            fix = _cause_fix(cause["kind"])
            out.append(findings.Finding(
                "bootlog.unclean", findings.CRITICAL if severe else findings.WARNING,
                "unclean end of boot %d at %s: %s" % (boot.number, when, cause["title"]),
                detail, evidence=(cause["evidence"] + boot.recovery[:1] + boot.end_evidence)[:6], fix=fix))
        for run in self.loops():
            out.append(findings.Finding(
                "bootlog.loop", findings.CRITICAL,
                "boot loop: %d boots in a row (#%d-#%d), each within %d minutes of the last"
                % (len(run), run[0].number, run[-1].number, int(LOOP_GAP // 60)),
                "from %s to %s" % (self._when(run[0].start, run[0]), self._when(run[-1].start, run[-1])),
                evidence=[b.start_evidence for b in run if b.start_evidence is not None][:6],
                fix="read the end of the first boots of the loop (bootlog -v) and the console; "
                    "boot once with 'systemd.unit=rescue.target' or an older kernel to break the loop"))
        for boot in self.boots:
            if boot.kdump:
                saved = boot.dump == "saved"
                out.append(findings.Finding(
                    "bootlog.kdump", findings.INFO if saved else findings.WARNING,
                    "boot %d is the kdump capture kernel: %s" % (
                        boot.number, {"saved": "the vmcore was saved", "failed": "saving the vmcore FAILED"}.get(
                            boot.dump, "no sign it saved the vmcore")),
                    "the boot before it crashed into kdump (elfcorehdr= on this boot's command line)",
                    evidence=(boot.dump_evidence or ([boot.start_evidence] if boot.start_evidence else []))[-3:],
                    fix="" if saved else "check the dump target and its free space (kdumpsetup check); the "
                                        "next crash will be lost the same way"))
            for problem in boot.problems:
                severity = findings.CRITICAL if problem["kind"] in ("emergency", "read-only-root") \
                    else findings.WARNING if problem["kind"] != "fsck-repair" else findings.INFO
                out.append(findings.Finding(
                    "bootlog.problem.%s" % problem["kind"], severity,
                    "boot %d: %s" % (boot.number, problem["title"]), "",
                    evidence=problem["evidence"], fix=_problem_fix(problem["kind"])))
        if not unclean:
            out.append(findings.Finding("bootlog.unclean", findings.OK,
                                        "no unclean ends among %d boot(s)" % len(self.boots)))
        return out

    def _when(self, stamp, boot):
        if boot.relative:
            return "boot %d of %s" % (boot.number, boot.pieces[0].input)
        return timeparse.format_time(stamp, self.utc)

    def to_dict(self):
        return {
            "boots": [b.to_dict(self.utc) for b in self.boots],
            "summary": self.summary(),
            "inputs": [dict(item) for item in self.inputs],
            "cause_engine": self.engine,
            "window": {"since": timeparse.iso_utc(self.since) if self.since is not None else None,
                       "until": timeparse.iso_utc(self.until) if self.until is not None else None,
                       "last": self.last},
            "findings": [f.to_dict() for f in findings.ranked(self.findings())],
        }


def _cause_fix(kind):
    if kind in ("panic", "kernel panic", "oops", "null-deref", "page-fault", "bug", "gpf", "kernel oops",
                "invalid-opcode", "divide-error", "double-fault", "kdump"):
        return ("read the kernel report (oops --since ...); make sure kdump is ready for the next one "
                "(kdumpsetup check)")
    if kind in ("soft-lockup", "hard-lockup", "soft lockup", "hard lockup", "hung-task", "hung task",
                "rcu-stall", "RCU stall"):
        return ("read the lockup/hung-task report (oops); set kernel.softlockup_panic / hung_task_panic "
                "and kdump to capture the next one")
    if kind in ("out of memory",):
        return "find what grew (oops shows the OOM victims and the task table); add memory or limits"
    if kind == "watchdog":
        return "a watchdog reset the machine: look for a hang before it (console, BMC/iLO/iDRAC event log)"
    if kind in ("power button", "hypervisor request"):
        return "ask who pressed/requested it (hypervisor or cloud activity log); the guest did not finish shutting down"
    if kind == "machine-check":
        return "hardware error: check the BMC/SEL event log and EDAC counters; involve the hardware vendor"
    return ("nothing in the logs explains it: check the BMC/iLO/iDRAC or hypervisor event log for a power "
            "loss or reset, and the serial console for what the logs could not write")


def _problem_fix(kind):
    return {
        "emergency": "see why the boot stopped (journalctl -xb in the emergency shell; usually a bad "
                     "/etc/fstab entry or a missing disk)",
        "read-only-root": "check the filesystem (fsck from a rescue system) and the disk for I/O errors",
        "fsck-repair": "look for the disk or shutdown problem that left the filesystem dirty",
        "failed-unit": "systemctl status UNIT and journalctl -u UNIT -b for the reason",
        "security-agent": "the security agent did not start: check its service status and vendor logs; "
                          "the host may be out of policy",
        "security-policy": "the MAC policy did not load: check the policy packages and 'restorecon'/"
                           "'aa-status'",
    }.get(kind, "")


def _input_record(name, kind, pieces, paths=()):
    return collections.OrderedDict([("name", name), ("kind", kind), ("boots", len(pieces)),
                                    ("files", list(paths)[:50])])


def looks_like_log_dir(path):
    """True when a folder looks like /var/log (what linuxrebootcheck assumed the cwd was)."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    for name in names:
        base = name.split(".", 1)[0].split("-", 1)[0]
        if base in ("messages", "syslog", "kern", "wtmp", "dmesg", "journal", "localmessages"):
            return True
    return False


def timeline(source, journal=True, utc=False, runner_fn=None, files=(), log_dir=None, since=None,
             until=None, last=None, live=None):
    """Read every boot marker a source (and plain ``files``) holds; merge; judge. -> Timeline."""
    folder = "var/log" if log_dir is None else log_dir
    pieces_all = []
    inputs = []
    if files:
        for path in files:
            name = path
            if _looks_json(source, path, True):
                pieces = json_export_pieces(source, name, path, utc=utc, plain=True)
                kind = "journal-json"
            elif _looks_wtmpdb(path):
                pieces = wtmpdb_pieces(source, [path], plain=True)
                kind = "wtmpdb"
            elif _looks_wtmp(path):
                pieces = wtmp_pieces(source, [path], plain=True)
                kind = "wtmp"
            elif _looks_last(path):
                pieces = last_pieces(source, utc=utc, outputs=[_plain_last(source, path)])
                kind = "last"
            else:
                text = TextInput(source, name, "console", [path], utc=utc, plain=True)
                pieces = text.pieces()
                kind = "text"
            inputs.append(_input_record(name, kind, pieces, [path]))
            pieces_all.extend(pieces)
    else:
        for base in SYSLOG_NAMES:
            paths = source.log_files(base, folder)
            if not paths:
                continue
            name = "%s*" % (posix_join(folder, base),)
            text = TextInput(source, name, "syslog", paths, utc=utc)
            pieces = [p for p in text.pieces() if p.wall]
            inputs.append(_input_record(name, "syslog", pieces, paths))
            pieces_all.extend(pieces)
        dmesg_paths = source.log_files("dmesg", folder)
        for path in dmesg_paths:
            text = TextInput(source, path, "dmesg", [path], utc=utc)
            pieces = text.pieces()
            inputs.append(_input_record(path, "dmesg", pieces, [path]))
            pieces_all.extend(pieces)
        for name in source.listdir(folder):
            if name.endswith((".json", ".json.gz", ".json.xz")):
                path = posix_join(folder, name)
                if _looks_json(source, path, False):
                    pieces = json_export_pieces(source, path, path, utc=utc)
                    inputs.append(_input_record(path, "journal-json", pieces, [path]))
                    pieces_all.extend(pieces)
        if log_dir is None and source.kind == "supportconfig":
            for name, kind, text in supportconfig_inputs(source, utc):
                pieces = [p for p in text.pieces() if p.wall]
                inputs.append(_input_record(name, kind, pieces))
                pieces_all.extend(pieces)
        if log_dir is None:
            for log in logs.discover(source, journal=False, names=()):
                if log.kind == "journal-text" and source.kind != "supportconfig":
                    if log.paths:
                        text = TextInput(source, log.name, "journal-text", log.paths, utc=utc)
                    else:
                        text = _BlobInput(source, log.name, log.command[1], utc=utc)
                    pieces = [p for p in text.pieces() if p.wall]
                    inputs.append(_input_record(log.name, "journal-text", pieces, log.paths))
                    pieces_all.extend(pieces)
        wtmp_paths = source.log_files("wtmp", folder)
        if wtmp_paths:
            pieces = wtmp_pieces(source, wtmp_paths)
            inputs.append(_input_record(posix_join(folder, "wtmp*"), "wtmp", pieces, wtmp_paths))
            pieces_all.extend(pieces)
        db_paths = wtmpdb_paths(source) if log_dir is None else []
        if db_paths:
            pieces = wtmpdb_pieces(source, db_paths)
            inputs.append(_input_record("wtmpdb", "wtmpdb", pieces, db_paths))
            pieces_all.extend(pieces)
        if log_dir is None and not wtmp_paths and not db_paths and source.kind in ("sos", "supportconfig"):
            outputs = last_outputs(source)
            if outputs:       # what `last` printed from the wtmp the bundle did not copy
                pieces = last_pieces(source, utc=utc, outputs=outputs)
                inputs.append(_input_record("last", "last", pieces, [o[0] for o in outputs]))
                pieces_all.extend(pieces)
        if journal:
            pieces = _binary_journal(source, folder, log_dir, runner_fn, since, until, last)
            if pieces is not None:
                inputs.append(_input_record("journal", "journal", pieces))
                pieces_all.extend(pieces)
    if not source.live:
        _align_zones(pieces_all, utc)
    wall = merge([p for p in pieces_all if p.wall])
    relative = [Boot(p) for p in pieces_all if not p.wall]
    boots = wall + relative
    for number, boot in enumerate(wall, 1):
        boot.number = number
    counters = collections.Counter()
    for boot in relative:
        counters[boot.pieces[0].input] += 1
        boot.number = len(wall) + sum(counters.values())
    live = source.live if live is None else live
    judge(boots, live=live and not files)
    engine = "kernelreport" if _engine_available() else "minimal"
    return Timeline(boots, inputs, engine, utc=utc, since=since, until=until, last=last)


def _engine_available():
    """Whether the kernel-report engine is there (found, not imported: it loads only when a
    window holds a report), and did not fail when it was used."""
    if _ENGINE_FAILED:
        return False
    try:
        import importlib.util
        return importlib.util.find_spec(__package__ + ".kernelreport") is not None
    except (ImportError, ValueError, AttributeError):
        return False


def posix_join(folder, name):
    return "%s/%s" % (folder.rstrip("/"), name) if folder else name


def _looks_wtmp(path):
    try:
        with open(path, "rb") as handle:
            head = handle.read(boot_wtmp.RECORD_SIZE * 8)
    except OSError:
        return False
    if len(head) < boot_wtmp.RECORD_SIZE or len(head) % boot_wtmp.RECORD_SIZE and \
            os.path.getsize(path) % boot_wtmp.RECORD_SIZE:
        return False
    return boot_wtmp.pick_layout(head[:len(head) - len(head) % boot_wtmp.RECORD_SIZE]) is not None and \
        textio.looks_binary(head)


# ================================================================ supportconfig sections

# journalctl options of a plain export (the whole log, one boot, or its last lines);
# anything else (a unit, a priority, a grep, --list-boots) is a filtered view or no log.
_JOURNAL_FLAGS = ("--no-pager", "-a", "--all", "--show-all", "-q", "--quiet", "--utc", "-x", "--catalog",
                  "--no-hostname", "-k", "--dmesg", "-m", "--merge", "-l", "--full")
_JOURNAL_VALUED = ("-n", "--lines", "-o", "--output", "--since", "--until", "-S", "-U", "-b", "--boot")
_TEXT_OUTPUTS = ("short", "short-iso", "short-precise", "short-iso-precise", "short-full")


def journal_export_words(words):
    """True for the words of a journalctl command that prints the journal as text (or its tail)."""
    if not words or words[0] != "journalctl":
        return False
    index = 1
    while index < len(words):
        word = words[index]
        if word == "|":
            return words[index + 1:index + 2] in (["tail"], ["head"])
        name, equals, value = word.partition("=")
        if name in _JOURNAL_VALUED:
            if not equals:
                following = words[index + 1] if index + 1 < len(words) else None
                takes = following is not None and following != "|" and \
                    (not following.startswith("-") or following.lstrip("-").isdigit())
                value = following if takes else ""
                index += 1 if takes else 0
            if name in ("-o", "--output") and value not in _TEXT_OUTPUTS:
                return False
        elif name not in _JOURNAL_FLAGS:
            return False
        index += 1
    return True


def supportconfig_inputs(source, utc=False):
    """[(name, kind, text input)] of the journal exports and ``dmesg -T`` a supportconfig holds.

    supportconfig (supportutils' bin/supportconfig) writes the journal as
    Command sections: messages.txt ``journalctl --no-pager --output=short-iso``
    (``--lines N`` unless -A) when there is no /var/log/messages; boot.txt
    ``journalctl --no-pager --boot 0`` (``| tail -n N`` when limited), with -A
    ``--list-boot`` and ``--boot 0`` .. ``--boot N`` (positive offsets count
    from the oldest boot), and ``dmesg -T``.  Each becomes its own input, so
    the same boot seen in two sections merges instead of counting twice.
    """
    out = []
    for words, txt, first, body in getattr(source, "commands", []):
        if not body:
            continue
        if journal_export_words(words):
            kind = "journal-text"
        elif words[:1] == ["dmesg"] and ("-T" in words or "--ctime" in words):
            kind = "dmesg"
        else:
            continue
        name = "%s:%d %s" % (txt, first, " ".join(w for w in words if w != "--no-pager"))
        text = _BlobInput(source, name, "\n".join(body) + "\n", utc=utc, kind=kind, origin=txt,
                          line_base=first - 1, mtime=source.mtime(txt))
        out.append((name, kind, text))
    return out


_ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?([+-]\d\d):?(\d\d)\b")


def _align_zones(pieces, utc):
    """Put zone-less stamps of a bundle into the box's own zone when other inputs show it.

    Syslog and ``journalctl`` short stamps carry no zone and are read in the
    zone of the machine running bootlog; ISO stamps of the same bundle
    (``2024-03-13T08:30:45+0100``) tell the box's offset at that time.  Each
    zone-less piece is shifted by the difference, taken at the nearest ISO
    stamp, so one boot seen in both merges instead of counting twice.
    """
    import bisect
    import time as time_module
    samples = []
    for piece in pieces:
        for record in piece.head[:20] + piece.tail[-20:]:
            if record.zone_known and record.stamp is not None:
                match = _ISO_OFFSET.match(record.line.text)
                if match:
                    sign = -1 if match.group(1).startswith("-") else 1
                    hours = abs(int(match.group(1)))
                    samples.append((record.stamp, sign * (hours * 3600 + int(match.group(2)) * 60)))
    if not samples:
        return
    samples.sort()
    stamps = [stamp for stamp, _ in samples]
    for piece in pieces:
        zoneless = getattr(piece, "zoneless", False)      # `last` output: wall time, no records
        if not piece.wall or piece.kind in ("wtmp", "journal", "journal-json") and not zoneless or \
                piece.start is None:
            continue
        records = [r for r in piece.head + piece.tail if r.stamp is not None]
        if not zoneless and (not records or any(r.zone_known for r in records)):
            continue
        at = bisect.bisect_left(stamps, piece.start)
        near = [i for i in (at - 1, at) if 0 <= i < len(samples)]
        box = min((abs(samples[i][0] - piece.start), samples[i][1]) for i in near)[1]
        here = 0 if utc else time_module.localtime(piece.start).tm_gmtoff
        if here != box:
            _shift(piece, here - box)


def _shift(piece, delta):
    def moved(record):
        if record is None or record.stamp is None or record.zone_known:
            return record
        return record._replace(stamp=record.stamp + delta)
    piece.first = moved(piece.first)
    piece.head = [moved(r) for r in piece.head]
    piece.tail = [moved(r) for r in piece.tail]
    if piece.start is not None:
        piece.start += delta
    if piece.end is not None:
        piece.end += delta
    piece.events = [(kind, detail, evidence, None if stamp is None else stamp + delta)
                    for kind, detail, evidence, stamp in piece.events]


def _looks_last(path):
    """A saved ``last`` output (``last -xF > last.txt``) given as a file."""
    from . import boot_last
    try:
        stream = textio.open_path(path)
        try:
            head = stream.read(64 * 1024)
        finally:
            stream.close()
    except (textio.Unreadable, EOFError, OSError, ValueError):
        return False
    if textio.looks_binary(head[:4096]):
        return False
    if len(head) == 64 * 1024:          # the trailer is at the end of a long output
        head = head[:head.rfind(b"\n") + 1]
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(path) - 4096))
                head += b"\n" + handle.read(4096)
        except OSError:
            pass
    return boot_last.looks_like_last(textio.decode(head))


def _plain_last(source, path):
    """(origin, [Line], mtime) of a plain ``last`` output file, for last_pieces."""
    lines = []
    try:
        stream = textio.open_path(path)
        try:
            reader = textio.LineReader(stream)
            lines = [Line(text, path, number) for number, text in reader]
            if reader.problem:
                source.warn("%s: %s" % (path, reader.problem))
        finally:
            stream.close()
    except (textio.Unreadable, EOFError, OSError, ValueError) as error:
        source.warn("%s: %s" % (path, error))
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        mtime = None
    return path, lines, mtime


def _looks_wtmpdb(path):
    from . import boot_wtmpdb
    try:
        with open(path, "rb") as handle:
            return boot_wtmpdb.looks_wtmpdb(handle.read(16))
    except OSError:
        return False


def _binary_journal(source, folder, log_dir, runner_fn, since, until, last):
    if log_dir is None:
        if source.kind not in ("live", "root") or not hasattr(source.tree, "real"):
            return None
        return journal_pieces(source, runner_fn, since, until, last)
    journal_dir = posix_join(log_dir, "journal")
    if not source.isdir(journal_dir) or not source.listdir(journal_dir) or not hasattr(source.tree, "real"):
        return None
    from . import runner
    journalctl = runner.which("journalctl")
    if not journalctl:
        source.warn("%s: binary journal present but journalctl is not available (read it on a box with "
                    "systemd: journalctl -D DIR -o json > journal.json, then bootlog journal.json)"
                    % journal_dir)
        return None
    base = [journalctl, "--no-pager", "-D", source.tree.real(journal_dir)]
    return journal_pieces(source, runner_fn, since, until, last, base=base)


class _BlobInput(TextInput):
    """A text input held in memory (a supportconfig command section).

    ``origin`` / ``line_base``: the file the section is in and the line before
    its first line, so evidence points at ``boot.txt:LINE``; ``mtime``: that
    file's time (the year of year-less stamps).
    """

    def __init__(self, source, name, text, utc=False, kind="journal-text", origin=None, line_base=0,
                 mtime=None):
        TextInput.__init__(self, source, name, kind, [name], utc=utc, plain=None)
        self.blob = text.encode("utf-8", "replace")
        self.blob_origin = origin or name
        self.line_base = line_base
        self.blob_mtime = mtime

    def _open(self, index):
        import io
        return io.BufferedReader(io.BytesIO(self.blob))

    def _origin(self, index):
        return self.blob_origin

    def _mtime(self, index):
        return self.blob_mtime

    def _small(self):
        return len(self.blob) <= boot_markers.FULL_SCAN_LIMIT
