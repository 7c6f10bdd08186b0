"""crashkernel= values: parsing, evaluating against RAM, and the distributions' defaults.

Syntax (Documentation/admin-guide/kernel-parameters.txt and kdump.rst)::

    crashkernel=size[KMG][@offset]
    crashkernel=range1:size1[,range2:size2,...][@offset]   range = start-[end]
    crashkernel=size,high   crashkernel=size,low
    crashkernel=auto        (RHEL 7 and 8 kernels only)

A range matches when start <= system RAM < end; no match reserves nothing,
which is how ``crashkernel=1G-4G:192M`` silently reserves 0 on a 900 MiB
box.  The tables below are Python literals on purpose (no data files).
"""

import re

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_UNITS = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": 1024 * GIB, "P": 1024 * 1024 * GIB}
_SIZE = re.compile(r"^(\d+)([KMGTP]?)$", re.I)

# ---------------------------------------------------------------- defaults

# kexec-tools / kdump-utils kdump_get_arch_recommend_crashkernel (RHEL 9,
# CentOS Stream 9 and rebuilds, Fedora up to 40, Amazon Linux 2023).
KDUMP_UTILS_DEFAULT = {
    "x86_64": "1G-4G:192M,4G-64G:256M,64G-:512M",
    "s390x": "1G-4G:192M,4G-64G:256M,64G-:512M",
    "aarch64": "1G-4G:256M,4G-64G:320M,64G-:576M",
    "ppc64le": "2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G",
}
# RHEL 10 / newer kdump-utils on x86_64 (RHEL 10 "Configure kdump memory reservation").
KDUMP_UTILS_DEFAULT_V2 = dict(KDUMP_UTILS_DEFAULT, x86_64="2G-64G:256M,64G-:512M")

# Debian kdump-tools postinst DEF_PRESET and /etc/default/grub.d/kdump-tools.cfg.
DEBIAN_DEFAULT = "384M-:128M"
# Ubuntu kdump-tools /etc/default/grub.d/kdump-tools.cfg.
UBUNTU_DEFAULT = {
    "22": "512M-:192M",
    "24": "2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M",
}
# What crashkernel=auto reserves on RHEL 8 kernels (x86_64; "Memory requirements
# for kdump" in the RHEL 8 kernel guide) -- used to judge, never written.
RHEL8_AUTO = {
    "x86_64": "1G-4G:160M,4G-64G:192M,64G-1T:256M,1T-:512M",
    "aarch64": "2G-:448M",
    "ppc64le": "2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G",
    "s390x": "4G-64G:160M,64G-1T:256M,1T-:512M",
}
RHEL7_AUTO = {"x86_64": "2G-:161M", "ppc64le": "2G-4G:384M,4G-16G:512M,16G-64G:1G,64G-128G:2G,128G-:4G",
              "s390x": "4G-:161M"}


def parse_size(text):
    """'192M' -> bytes; raises ValueError."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError("not a size: %r" % (text,))
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def format_size(count):
    """Bytes -> '192M' / '1G' (exact binary units), for messages."""
    for unit in ("T", "G", "M", "K"):
        if count and count % _UNITS[unit] == 0:
            return "%d%s" % (count // _UNITS[unit], unit)
    return "%d" % count


class CrashkernelValue(object):
    """One crashkernel= value.

    kind: "size", "ranges", "auto", "invalid"; suffix: None, "high", "low";
    ranges: [(start, end or None, size)]; size: bytes for kind "size".
    """

    def __init__(self, text):
        self.text = text
        self.kind = "invalid"
        self.suffix = None
        self.size = None
        self.ranges = []
        self.offset = None
        self.error = None
        self._parse()

    def _parse(self):
        text = self.text.strip()
        if text == "auto":
            self.kind = "auto"
            return
        for suffix in (",high", ",low"):
            if text.endswith(suffix):
                self.suffix = suffix[1:]
                text = text[:-len(suffix)]
        if "@" in text:
            text, _, offset = text.rpartition("@")
            try:
                self.offset = parse_size(offset)
            except ValueError as error:
                self.error = str(error)
                return
        try:
            if ":" in text:
                for part in text.split(","):
                    span, _, size = part.partition(":")
                    start, dash, end = span.partition("-")
                    if not dash:
                        raise ValueError("range without '-': %r" % (part,))
                    self.ranges.append((parse_size(start), parse_size(end) if end else None,
                                        parse_size(size)))
                self.kind = "ranges"
            else:
                self.size = parse_size(text)
                self.kind = "size"
        except ValueError as error:
            self.error = str(error)
            self.ranges = []
            self.kind = "invalid"

    def reserve_for(self, ram, arch="x86_64", distro_major=None, family=None):
        """Bytes this value reserves on a box with ``ram`` bytes, or None if unknown.

        ``auto`` is judged with the RHEL 7/8 tables and reserves nothing on
        other kernels (RHEL 9 and upstream dropped it).
        """
        if self.kind == "size":
            return self.size
        if self.kind == "invalid":
            return 0
        if self.kind == "auto":
            if family == "rhel" and distro_major in (7, 8):
                table = RHEL7_AUTO if distro_major == 7 else RHEL8_AUTO
                value = table.get(arch)
                if value is None or ram is None:
                    return None
                return CrashkernelValue(value).reserve_for(ram)
            return 0
        if ram is None:
            return None
        for start, end, size in self.ranges:
            if ram >= start and (end is None or ram < end):
                return size
        return 0

    def __repr__(self):
        return "CrashkernelValue(%r)" % (self.text,)


def values_in_cmdline(cmdline):
    """Every crashkernel= value in a kernel command line, in order."""
    found = []
    for word in (cmdline or "").split():
        if word.startswith("crashkernel="):
            found.append(word[len("crashkernel="):])
    return found


def conflicting(values):
    """True when a list of crashkernel values is more than one reservation.

    ``X,high`` with ``Y,low`` is one reservation (SUSE and arm64 write both);
    two plain values, or two of the same suffix, are a conflict.
    """
    plain = [v for v in values if not v.endswith((",high", ",low"))]
    high = [v for v in values if v.endswith(",high")]
    low = [v for v in values if v.endswith(",low")]
    return len(plain) > 1 or len(high) > 1 or len(low) > 1 or (plain and (high or low))


def total_reserved(values, ram, arch="x86_64", distro_major=None, family=None):
    """Bytes reserved by a whole set of values (high + low pairs add up)."""
    total = 0
    for text in values:
        amount = CrashkernelValue(text).reserve_for(ram, arch, distro_major, family)
        if amount is None:
            return None
        total += amount
    return total


def distribution_default(distro, arch):
    """(value, where-it-comes-from) of the distribution's own default, or (None, reason)."""
    family = distro.family
    major = distro.major
    if family == "debian":
        return DEBIAN_DEFAULT, "Debian kdump-tools default"
    if family == "ubuntu":
        if major is not None and major >= 24:
            return UBUNTU_DEFAULT["24"], "Ubuntu %s kdump-tools default" % distro.version_id
        return UBUNTU_DEFAULT["22"], "Ubuntu %s kdump-tools default" % (distro.version_id or "")
    if family == "rhel":
        if distro.is_id("rhel", "centos", "almalinux", "rocky", "ol") and major is not None and major <= 8:
            return "auto", "RHEL %d crashkernel=auto" % major
        if distro.is_id("amzn") and major is not None and major < 2023:
            return None, "Amazon Linux 2 has no distribution default"
        newer = (distro.is_id("fedora") and major is not None and major >= 41) or \
                (not distro.is_id("fedora") and major is not None and major >= 10)
        table = KDUMP_UTILS_DEFAULT_V2 if newer else KDUMP_UTILS_DEFAULT
        value = table.get(arch)
        if value:
            return value, "kdumpctl get-default-crashkernel (%s)" % arch
        return None, "no kexec-tools default for %s" % arch
    if family == "suse":
        return None, "SUSE sizes with kdumptool calibrate"
    return None, "no distribution default"


def fallback_by_ram(arch):
    """A ranges value chosen by the kernel from RAM at boot, per architecture."""
    return KDUMP_UTILS_DEFAULT.get(arch, KDUMP_UTILS_DEFAULT["x86_64"])


def parse_calibrate(text):
    """``kdumptool calibrate`` output (``Low: 72`` lines, MiB) -> dict of ints."""
    result = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            try:
                result[key.strip()] = int(value.strip())
            except ValueError:
                continue
    return result


def suse_value(calibrate, arch):
    """crashkernel words from kdumptool calibrate the way YaST writes them."""
    low = calibrate.get("Low")
    high = calibrate.get("High")
    if high is None:
        return None
    if arch == "x86_64" and low:
        return ["%dM,high" % high, "%dM,low" % low]
    return ["%dM" % (high + (low or 0))]
