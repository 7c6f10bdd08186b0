"""Filesystem health for triage: full, out of inodes, read-only when they should not be.

Mounts come from ``/proc/self/mounts`` under the root; space and inodes
from ``statvfs`` -- which only means something on the live system, so a
captured tree (``--root``) gets a "not evaluated" finding instead of
guesses.  Pseudo filesystems are skipped; tmpfs is kept (a full /run or
/dev/shm breaks services as surely as a full disk).  Read-only is reported
for filesystems that are normally writable (ext2/3/4, xfs, btrfs, ...):
the kernel remounts them read-only after errors.
"""

import os

from .findings import CRITICAL, OK, WARNING, Evidence, Finding

PSEUDO = frozenset((
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "debugfs",
    "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "bpf", "binfmt_misc", "autofs", "rpc_pipefs",
    "nsfs", "efivarfs", "selinuxfs", "ramfs", "squashfs", "iso9660", "overlay_lower", "nfsd", "sockfs",
    "pipefs", "fuse.gvfsd-fuse", "fuse.portal", "fuse.lxcfs",
))
WRITABLE = frozenset(("ext2", "ext3", "ext4", "xfs", "btrfs", "jfs", "reiserfs", "f2fs", "zfs", "vfat",
                      "nfs", "nfs4", "cifs", "overlay", "tmpfs"))

SPACE_CRIT, SPACE_WARN = 95.0, 90.0
INODE_CRIT, INODE_WARN = 95.0, 90.0


def _unescape(text):
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def parse_mounts(text):
    """/proc/mounts -> [{"device", "mountpoint", "fstype", "options": [..]}]."""
    mounts = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 4:
            continue
        mounts.append({"device": _unescape(words[0]), "mountpoint": _unescape(words[1]),
                       "fstype": words[2], "options": words[3].split(",")})
    return mounts


def usage(mountpoint, statvfs=os.statvfs):
    """{"size_kb", "used_pct", "inodes", "inodes_used_pct"} or None if statvfs fails."""
    try:
        st = statvfs(mountpoint)
    except (OSError, ValueError):
        return None
    if not st.f_blocks:
        return None
    size = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    result = {"size_kb": size // 1024, "avail_kb": avail // 1024, "mountpoint": mountpoint}
    # df's Use%: used / (used + available to unprivileged users)
    result["used_pct"] = 100.0 * used / (used + avail) if used + avail else 0.0
    if st.f_files:
        result["inodes"] = st.f_files
        result["inodes_used_pct"] = 100.0 * (st.f_files - st.f_ffree) / st.f_files
    return result


def check(pfs, live=True, statvfs=os.statvfs):
    """Findings about full, inode-exhausted and read-only filesystems."""
    origin = "/proc/self/mounts"
    text = pfs.read("proc/self/mounts") or pfs.read("proc/mounts")
    if text is None:
        return [Finding.not_evaluated("fs", "filesystems", ["/proc/mounts"])]
    mounts = parse_mounts(text)
    findings = []
    seen = set()
    checked = 0
    for mount in mounts:
        fstype = mount["fstype"]
        if fstype in PSEUDO or fstype.startswith("fuse.") and fstype not in WRITABLE:
            continue
        if mount["mountpoint"] in seen:
            continue
        seen.add(mount["mountpoint"])
        where = Evidence(origin, None, "%s on %s type %s (%s)" % (mount["device"], mount["mountpoint"], fstype,
                                                                    ",".join(mount["options"][:4])))
        if "ro" in mount["options"] and fstype in WRITABLE and fstype != "tmpfs":
            findings.append(Finding("fs.readonly", WARNING, "%s is mounted read-only" % mount["mountpoint"],
                                    detail="a %s filesystem is normally writable: the kernel remounts it "
                                           "read-only after I/O or metadata errors" % fstype,
                                    evidence=[where],
                                    fix="check dmesg for the error (oops / kernel log), fsck, then remount"))
        if not live:
            continue
        info = usage(mount["mountpoint"], statvfs)
        if info is None:
            continue
        checked += 1
        used = info["used_pct"]
        if used >= SPACE_WARN:
            findings.append(Finding("fs.full", CRITICAL if used >= SPACE_CRIT else WARNING,
                                    "%s is %.0f%% full" % (mount["mountpoint"], used),
                                    detail="%s KiB free of %s KiB" % (info["avail_kb"], info["size_kb"]),
                                    evidence=[where],
                                    fix="find what grew: du -xh --max-depth=2 %s | sort -h | tail; "
                                        "deleted-but-open files: ls -l /proc/*/fd | grep deleted"
                                        % mount["mountpoint"]))
        inodes = info.get("inodes_used_pct")
        if inodes is not None and inodes >= INODE_WARN:
            findings.append(Finding("fs.inodes", CRITICAL if inodes >= INODE_CRIT else WARNING,
                                    "%s has used %.0f%% of its inodes" % (mount["mountpoint"], inodes),
                                    detail="%d inodes in total; new files cannot be created when none "
                                           "are left, whatever the free space" % info["inodes"],
                                    evidence=[where],
                                    fix="find directories with many small files (session, cache, mail "
                                        "queues): du --inodes -x %s | sort -n | tail" % mount["mountpoint"]))
    if not live:
        findings.append(Finding.not_evaluated("fs.space", "filesystem space and inodes",
                                              ["statvfs of the live system (not available under --root)"]))
    elif not findings:
        findings.append(Finding("fs.ok", OK, "%d filesystem(s) checked: none full, out of inodes or "
                                             "read-only" % checked))
    return findings
