"""Scrubbing for sharing: hostnames, addresses, MACs, serials, users, secrets.

One Scrubber per run maps each distinct value to the same token everywhere
(``host001``, ``198.18.0.1``, ``02:00:00:00:00:01``), so a scrubbed report
still reads consistently; the mapping is kept for the owner and written
separately.  Secrets in command lines (``password=``, ``--token X``,
``user:pass@`` in URLs, Authorization headers) become ``********`` with no
mapping at all.

Replacement addresses come from ranges that cannot be real: IPv4 from the
benchmarking range 198.18.0.0/15, IPv6 from the documentation prefix
2001:db8::/32, MACs as locally administered 02:00:00:xx:xx:xx.  Loopback,
unspecified, netmask-shaped and broadcast values stay, since they identify
nobody and scrubbing them would make reports misleading.
"""

import ipaddress
import re

SECRET_MASK = "********"

_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.]*\d)")
_IPV6 = re.compile(r"(?<![\w:])((?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*|::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})(?![\w:])")
_MAC = re.compile(r"(?<![\w:])((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})(?![\w:])")

_SECRETS = (
    # key=value and key: value for password-like keys (command lines, configs, URLs)
    re.compile(r"(?i)(\b(?:password|passwd|passphrase|pwd|pass|secret|token|api[_-]?key|access[_-]?key|"
               r"auth[_-]?token|client[_-]?secret|private[_-]?key)\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;]+)"),
    # --password VALUE / --token VALUE
    re.compile(r"(?i)((?:^|\s)--?(?:password|passwd|passphrase|pass|secret|token|api-key|apikey|"
               r"access-key|client-secret)[ ]+)(\S+)"),
    # scheme://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(?=@)"),
    # HTTP Authorization headers
    re.compile(r"(?i)(\bauthorization:\s*(?:basic|bearer|token)\s+)(\S+)"),
)


def _keep_ipv4(text):
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return True  # not an address at all (a version number like 1.2.3.400)
    if address.is_loopback or address.is_unspecified or str(address) == "255.255.255.255":
        return True
    first = int(text.split(".")[0])
    if first == 255 or first == 0:
        return True  # netmasks and 0.x
    if address.is_link_local:
        return False
    return False


def _keep_ipv6(text):
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return True
    return address.is_loopback or address.is_unspecified


class Scrubber(object):
    """Consistent replacement of identifying values in text."""

    def __init__(self, hostnames=(), domains=(), users=(), serials=(), extra=()):
        self.mapping = {}       # original -> token, for the owner
        self._counters = {}
        self._words = {}        # kind -> set of values
        for kind, values in (("host", hostnames), ("domain", domains), ("user", users),
                             ("serial", serials), ("word", extra)):
            for value in values:
                self.add(kind, value)

    def add(self, kind, value):
        """Register a known value (hostname, domain, user, serial) to replace."""
        if not value:
            return
        value = value.strip()
        if kind == "user" and value in ("root", "nobody"):
            return  # system accounts identify nobody and matter for diagnosis
        if kind == "host" and value in ("localhost", "localhost.localdomain"):
            return
        if len(value) < 3:
            return  # too short to replace without mangling unrelated words
        self._words.setdefault(kind, set()).add(value)
        if kind == "host" and "." in value:
            short, _, domain = value.partition(".")
            self.add("host", short)
            self.add("domain", domain)
        self._compiled = None

    def token(self, kind, value):
        key = value
        if key in self.mapping:
            return self.mapping[key]
        count = self._counters.get(kind, 0) + 1
        self._counters[kind] = count
        if kind == "ipv4":
            token = "198.%d.%d.%d" % (18 + (count >> 16), (count >> 8) & 255, count & 255)
        elif kind == "ipv6":
            token = "2001:db8::%x" % count
        elif kind == "mac":
            token = "02:00:00:%02x:%02x:%02x" % ((count >> 16) & 255, (count >> 8) & 255, count & 255)
        elif kind == "domain":
            token = "domain%03d.example" % count
        else:
            token = "%s%03d" % (kind, count)
        self.mapping[key] = token
        return token

    def _word_pattern(self):
        if getattr(self, "_compiled", None) is None:
            entries = []
            for kind, values in self._words.items():
                for value in values:
                    entries.append((value, kind))
            # Longest first so 'db1.example.com' wins over 'db1'.
            entries.sort(key=lambda item: -len(item[0]))
            self._kinds = dict((value.lower(), kind) for value, kind in entries)
            if entries:
                alternatives = "|".join(re.escape(value) for value, _ in entries)
                self._compiled = re.compile(r"(?<![\w-])(%s)(?![\w-])" % alternatives, re.I)
                # in file names '-', '_' and '.' glue words together: only a letter or
                # digit continues one there (sosreport-web1-2024-..., not web10)
                self._compiled_name = re.compile(r"(?<![A-Za-z0-9])(%s)(?![A-Za-z0-9])" % alternatives, re.I)
            else:
                self._compiled = self._compiled_name = False
        return self._compiled

    def _replace_word(self, match):
        value = match.group(1)
        kind = self._kinds[value.lower()]
        if kind == "host" and "." in value:
            short, _, domain = value.partition(".")
            return self.token("host", short.lower()) + "." + self.token("domain", domain.lower())
        return self.token(kind, value.lower() if kind in ("host", "domain") else value)

    def scrub_name(self, name):
        """A file name: the known words also where a hyphen or underscore glues them
        to the rest (sos names its archives sosreport-HOST-...), then what scrub() replaces."""
        if name and self._word_pattern():
            name = self._compiled_name.sub(self._replace_word, name)
        return self.scrub(name)

    def scrub(self, text):
        """Return text with every identifying value replaced."""
        if not text:
            return text
        for pattern in _SECRETS:
            text = pattern.sub(lambda m: m.group(1) + SECRET_MASK, text)
        words = self._word_pattern()
        if words:
            text = words.sub(self._replace_word, text)
        text = _MAC.sub(lambda m: m.group(1) if m.group(1).lower() in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff")
                        else self.token("mac", m.group(1).lower()), text)
        text = _IPV4.sub(lambda m: m.group(1) if _keep_ipv4(m.group(1)) else self.token("ipv4", m.group(1)), text)
        text = _IPV6.sub(lambda m: m.group(1) if _keep_ipv6(m.group(1)) else self.token("ipv6", m.group(1).lower()),
                         text)
        return text

    def mapping_text(self):
        """The owner's key: one 'token<TAB>original' line per replacement."""
        return "".join("%s\t%s\n" % (token, original) for original, token in
                       sorted(self.mapping.items(), key=lambda item: item[1]))


def hostnames_from_source(source):
    """Hostnames a source names for itself (/etc/hostname, sos 'hostname' output)."""
    found = []
    for path in ("etc/hostname", "hostname", "proc/sys/kernel/hostname"):
        text = source.read_text(path, warn=False) if source.exists(path) else None
        if text and text.strip():
            found.append(text.strip().split()[0])
    output = source.command_output("hostname", "hostname -f", "uname -n")
    if output and output[0].strip():
        found.append(output[0].strip().split()[0])
    return sorted(set(found))
