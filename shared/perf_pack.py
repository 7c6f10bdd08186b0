"""Packing a recording into one tar.gz for a ticket, optionally scrubbed.

``pack(directory, tar_path, scrubber=None)`` writes every file of the
recording under one top folder.  With a ``shared.scrub.Scrubber`` every
string inside the JSON records (command lines, hostnames, addresses) and
every text file goes through it -- records are parsed and re-written, never
regex-edited as text, so they stay valid JSON; sysstat's binary data file
cannot be scrubbed and is left out with a note.  The scrubber's mapping is
for the owner and never goes into the archive.
"""

import gzip
import io
import json
import os
import tarfile
import time

from . import perf_format

SKIP = (perf_format.PIDFILE, perf_format.LOCKFILE)


def scrub_value(value, scrubber):
    if isinstance(value, str):
        return scrubber.scrub(value)
    if isinstance(value, list):
        return [scrub_value(v, scrubber) for v in value]
    if isinstance(value, dict):
        return dict((scrubber.scrub(k) if isinstance(k, str) else k, scrub_value(v, scrubber))
                    for k, v in value.items())
    return value


def _scrubbed_segment(path, scrubber):
    reader = perf_format.SegmentReader(path)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
        for record in reader:
            out.write(perf_format.dumps(scrub_value(record, scrubber)))
    return buffer.getvalue()


def _add_bytes(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def pack(directory, tar_path, scrubber=None):
    """Write the archive; returns (file count, [notes])."""
    top = os.path.basename(os.path.abspath(directory).rstrip("/"))
    notes = []
    count = 0
    now = time.time()
    with tarfile.open(tar_path, "w:gz") as tar:
        for folder, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                if name in SKIP or name.endswith(".tmp"):
                    continue
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, directory)
                arcname = "%s/%s" % (top, relative)
                if scrubber is None:
                    tar.add(path, arcname)
                    count += 1
                    continue
                if perf_format.segment_number(name) is not None:
                    data = _scrubbed_segment(path, scrubber)
                elif name.endswith(".json"):
                    document, problem = perf_format.read_json(path)
                    if document is None:
                        notes.append("%s left out: %s" % (relative, problem))
                        continue
                    data = (json.dumps(scrub_value(document, scrubber), indent=1, sort_keys=True,
                                       ensure_ascii=False) + "\n").encode("utf-8")
                elif name.endswith((".txt", ".log", ".err")):
                    with open(path, "rb") as handle:
                        data = scrubber.scrub(handle.read().decode("utf-8", "replace")).encode("utf-8")
                else:
                    notes.append("%s left out: binary data cannot be scrubbed" % relative)
                    continue
                _add_bytes(tar, arcname, data, now)
                count += 1
        if notes:
            _add_bytes(tar, "%s/SCRUBBED.txt" % top,
                       ("This recording was scrubbed by perfcollect --scrub.\n" +
                        "".join("%s\n" % note for note in notes)).encode("utf-8"), now)
    return count, notes
