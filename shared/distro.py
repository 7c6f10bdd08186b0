"""Which distribution a root holds: /etc/os-release with ID_LIKE honoured.

os-release(5): ``/etc/os-release`` wins, ``/usr/lib/os-release`` is the
fallback; values are shell-quoted (single or double quotes, backslash
escapes in double quotes).  ``ID`` names the distribution, ``ID_LIKE`` a
space-separated list of distributions it derives from, closest first --
so Rocky (``ID_LIKE="rhel centos fedora"``), Pop!_OS (``ubuntu debian``)
and openSUSE (``suse opensuse``) land in the family of their parent.

Families: debian, ubuntu, rhel (RHEL and rebuilds, Fedora, Amazon Linux),
suse, arch, or "unknown".  Ubuntu is its own family because its packaging
differs from Debian's where it matters (linux-crashdump, defaults).
"""

import re

# ID (or an ID_LIKE word) -> family.  Order of ID_LIKE decides ties.
FAMILY_OF = {
    "debian": "debian", "raspbian": "debian", "devuan": "debian", "kali": "debian",
    "ubuntu": "ubuntu", "linuxmint": "ubuntu", "pop": "ubuntu", "elementary": "ubuntu",
    "rhel": "rhel", "centos": "rhel", "fedora": "rhel", "almalinux": "rhel", "rocky": "rhel",
    "ol": "rhel", "amzn": "rhel", "circle": "rhel", "eurolinux": "rhel", "cloudlinux": "rhel",
    "suse": "suse", "sles": "suse", "sled": "suse", "opensuse": "suse", "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse", "sle-micro": "suse",
    "arch": "arch", "manjaro": "arch", "endeavouros": "arch", "garuda": "arch",
}

FAMILY_NAMES = {
    "debian": "Debian", "ubuntu": "Ubuntu", "rhel": "Red Hat family", "suse": "SUSE",
    "arch": "Arch", "unknown": "unknown",
}

# EFI vendor directory (/boot/efi/EFI/<vendor>) by ID, where it is not the ID itself.
EFI_VENDOR = {
    "rhel": "redhat", "ol": "redhat", "amzn": "amzn", "sles": "sles", "sled": "sled",
    "opensuse-leap": "opensuse", "opensuse-tumbleweed": "opensuse", "opensuse": "opensuse",
}

_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def unquote(value):
    """One os-release value: strip shell quotes, undo backslash escapes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(r'\\(["\\$`])', r"\1", inner)
        return inner
    # Unquoted: a trailing comment is not part of it.
    return value.split(" #", 1)[0].strip()


def parse_os_release(text):
    """os-release text -> dict (later assignments win, junk lines ignored)."""
    result = {}
    for line in (text or "").splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _ASSIGN.match(line)
        if match:
            result[match.group(1)] = unquote(match.group(2))
    return result


class Distro(object):
    """What a root's os-release says, plus the family it belongs to."""

    def __init__(self, fields, origin=None):
        self.fields = dict(fields)
        self.origin = origin
        self.id = (fields.get("ID") or "").lower()
        self.id_like = [w.lower() for w in (fields.get("ID_LIKE") or "").split()]
        self.name = fields.get("NAME") or ""
        self.pretty = fields.get("PRETTY_NAME") or " ".join(
            p for p in (self.name, fields.get("VERSION") or fields.get("VERSION_ID") or "") if p) or "unknown"
        self.version_id = fields.get("VERSION_ID") or ""
        self.codename = fields.get("VERSION_CODENAME") or ""
        self.family = family_of(self.id, self.id_like)

    @property
    def major(self):
        """VERSION_ID's first number (9 for "9.3", 22 for "22.04"), or None (rolling)."""
        match = re.match(r"(\d+)", self.version_id)
        return int(match.group(1)) if match else None

    @property
    def known(self):
        return self.family != "unknown"

    def is_id(self, *ids):
        return self.id in ids

    def efi_vendor(self):
        """The usual /boot/efi/EFI/<vendor> folder name for this distribution."""
        return EFI_VENDOR.get(self.id, self.id or "unknown")

    def describe(self):
        like = " (like %s)" % " ".join(self.id_like) if self.id_like else ""
        return "%s [ID=%s%s]" % (self.pretty, self.id or "?", like)

    def to_dict(self):
        return {"id": self.id, "id_like": self.id_like, "name": self.name, "pretty_name": self.pretty,
                "version_id": self.version_id, "major": self.major, "codename": self.codename,
                "family": self.family, "origin": self.origin}


def family_of(ident, id_like=()):
    """Family for an ID and its ID_LIKE list: the ID first, then ID_LIKE in order."""
    for word in [ident] + list(id_like):
        if word in FAMILY_OF:
            return FAMILY_OF[word]
    return "unknown"


def detect(source):
    """Distro of a shared.sources Source (live root, mounted root, sosreport...).

    Returns a Distro; one with family "unknown" and empty fields when no
    os-release is found (the caller says what is missing).
    """
    for path in ("etc/os-release", "usr/lib/os-release"):
        text = source.read_text(path)
        if text is not None:
            return Distro(parse_os_release(text), origin=path)
    # Old systems without os-release (RHEL 6 era).
    text = source.read_text("etc/redhat-release")
    if text:
        match = re.search(r"release (\d+(?:\.\d+)?)", text)
        fields = {"ID": "rhel", "NAME": text.strip(), "PRETTY_NAME": text.strip(),
                  "VERSION_ID": match.group(1) if match else ""}
        return Distro(fields, origin="etc/redhat-release")
    return Distro({}, origin=None)
