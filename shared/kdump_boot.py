"""Bootloaders, as far as the kernel command line of the next boot goes.

Reads (never runs) what decides the next boot's command line under a root:

* classic GRUB 2: ``/etc/default/grub`` then ``/etc/default/grub.d/*.cfg``
  (sourced in that order by grub-mkconfig), and the generated ``grub.cfg``
  that the firmware really reads -- on UEFI ``EFI/<vendor>/grub.cfg`` unless
  that file is the small stub (``search ... configfile $prefix/grub.cfg``)
  that Debian, Fedora 34+ and EL9 install, which points at
  ``/boot/grub2/grub.cfg`` (or ``/boot/grub/grub.cfg``);
* GRUB 2 with Boot Loader Specification entries (``blscfg``; RHEL 8+,
  Fedora 30+): ``/boot/loader/entries/*.conf`` with ``$kernelopts`` and
  friends expanded from ``grubenv``, the default from ``saved_entry``;
* systemd-boot: ``loader/loader.conf`` and ``loader/entries/*.conf`` on the
  ESP or XBOOTLDR (``/boot``, ``/efi``, ``/boot/efi``);
* zipl (s390x, ``/etc/zipl.conf`` or BLS) and rpm-ostree (``ostree-*.conf``
  entries), recognised so that the caller can refuse or adapt.

Also the text edits that keep exactly one ``crashkernel=`` in a GRUB
defaults file or a systemd-boot entry, touching nothing else on the line.
"""

import posixpath
import re

from . import kdump_sizing

STUB_LIMIT = 2048  # an EFI stub grub.cfg is a few lines

_ASSIGN = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<var>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")
_VARREF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_CK_TOKEN = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[\"']))crashkernel=[^\s\"']*")


# ------------------------------------------------------------ shell-ish values

def shell_value(raw, env):
    """Evaluate the right-hand side of a simple shell assignment.

    Double quotes and bare words expand $VAR and ${VAR} from env, single
    quotes are literal, backticks and $(...) are left as written (GRUB's
    GRUB_DISTRIBUTOR uses them; no command line variable does).
    """
    out = []
    index = 0
    text = raw.strip()
    # Drop a trailing comment outside quotes.
    while index < len(text):
        char = text[index]
        if char == "'":
            end = text.find("'", index + 1)
            end = len(text) if end < 0 else end
            out.append(text[index + 1:end])
            index = end + 1
        elif char == '"':
            end = index + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            inner = text[index + 1:end]
            inner = re.sub(r'\\(["\\$`])', r"\1", inner)
            out.append(_expand(inner, env))
            index = end + 1
        elif char.isspace():
            rest = text[index:].lstrip()
            if rest.startswith("#") or not rest:
                break
            # "A=b c" runs c with A=b in its environment; c is not part of the value.
            break
        else:
            end = index
            while end < len(text) and not text[end].isspace() and text[end] not in "\"'":
                end += 1
            out.append(_expand(text[index:end], env))
            index = end
    return "".join(out)


def _expand(text, env):
    return _VARREF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


class Assignment(object):
    __slots__ = ("path", "lineno", "var", "raw", "value")

    def __init__(self, path, lineno, var, raw, value):
        self.path = path
        self.lineno = lineno
        self.var = var
        self.raw = raw
        self.value = value


class GrubDefaults(object):
    """/etc/default/grub plus /etc/default/grub.d/*.cfg, evaluated in order."""

    CMDLINE_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")

    def __init__(self, files):
        self.files = files                # [(path, text)]
        self.env = {}
        self.assignments = []
        for path, text in files:
            for lineno, line in enumerate(text.splitlines(), 1):
                if line.lstrip().startswith("#"):
                    continue
                match = _ASSIGN.match(line)
                if not match:
                    continue
                value = shell_value(match.group("value"), self.env)
                self.env[match.group("var")] = value
                self.assignments.append(Assignment(path, lineno, match.group("var"),
                                                   match.group("value"), value))

    @property
    def paths(self):
        return [path for path, _ in self.files]

    def get(self, var, default=""):
        return self.env.get(var, default)

    def cmdline(self):
        """What 10_linux puts on a normal entry: GRUB_CMDLINE_LINUX then _DEFAULT."""
        return " ".join(p for p in (self.get("GRUB_CMDLINE_LINUX"), self.get("GRUB_CMDLINE_LINUX_DEFAULT")) if p)

    def crashkernel_values(self):
        return kdump_sizing.values_in_cmdline(self.cmdline())

    def crashkernel_sites(self):
        """[(path, lineno, var, [values])] of assignment lines that write crashkernel=."""
        sites = []
        for item in self.assignments:
            if item.var in self.CMDLINE_VARS and "crashkernel=" in item.raw:
                values = re.findall(r"crashkernel=([^\s\"']+)", item.raw)
                sites.append((item.path, item.lineno, item.var, values))
        return sites

    def bls_enabled(self):
        return self.get("GRUB_ENABLE_BLSCFG").lower() == "true"


def read_grub_defaults(source):
    """GrubDefaults of a source, or None when no /etc/default/grub exists."""
    files = []
    text = source.read_text("etc/default/grub")
    if text is not None:
        files.append(("etc/default/grub", text))
    for path in source.glob("etc/default/grub.d/*.cfg"):
        snippet = source.read_text(path)
        if snippet is not None:
            files.append((path, snippet))
    return GrubDefaults(files) if files else None


# ------------------------------------------------------------ text edits

def strip_crashkernel(line):
    """A line with every crashkernel=... token removed, spacing tidied inside quotes."""
    new = _CK_TOKEN.sub("", line)
    if new == line:
        return line
    new = re.sub(r'(["\']) +', r"\1", new)
    new = re.sub(r' +(["\'])', r"\1", new)
    new = re.sub(r"(?<=\S)  +(?=\S)", " ", new)
    return new


def set_assignment_crashkernel(text, var, words, snippet=False):
    """Set ``var``'s crashkernel words in a defaults file's text.

    Removes crashkernel= from every assignment line of every variable, then
    appends the words inside the quotes of the last assignment of ``var``
    (or adds one: ``var="$var crashkernel=..."`` in a grub.d snippet,
    ``var="crashkernel=..."`` in /etc/default/grub).  Returns new text.
    """
    lines = text.splitlines(True)
    addition = " ".join("crashkernel=" + w for w in words)
    last = None
    for index, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        match = _ASSIGN.match(line.rstrip("\n"))
        if not match:
            continue
        if "crashkernel=" in match.group("value"):
            lines[index] = strip_crashkernel(line.rstrip("\n")) + ("\n" if line.endswith("\n") else "")
        if match.group("var") == var:
            last = index
    if not words:
        return "".join(lines)
    if last is not None:
        line = lines[last]
        ending = "\n" if line.endswith("\n") else ""
        body = line.rstrip("\n")
        match = _ASSIGN.match(body)
        value = match.group("value")
        stripped = value.rstrip()
        trailer = value[len(stripped):]
        if len(stripped) >= 2 and stripped[0] in "\"'" and stripped[-1] == stripped[0]:
            inner = stripped[1:-1]
            quote = stripped[0]
            inner = (inner + " " + addition) if inner.strip() else addition
            new_value = quote + inner + quote + trailer
        else:
            inner = stripped
            new_value = '"' + ((inner + " " + addition) if inner else addition) + '"' + trailer
        lines[last] = match.group("lead") + var + "=" + new_value + ending
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if snippet:
        lines.append('%s="$%s %s"\n' % (var, var, addition))
    else:
        lines.append('%s="%s"\n' % (var, addition))
    return "".join(lines)


def set_options_crashkernel(text, words):
    """A BLS / systemd-boot entry with exactly the given crashkernel words.

    Every ``options`` line loses its crashkernel= tokens; the words go at the
    end of the last ``options`` line (one is added when there is none).
    """
    lines = text.splitlines(True)
    last = None
    for index, line in enumerate(lines):
        key = line.split(None, 1)[0] if line.strip() else ""
        if key == "options":
            body = line.rstrip("\n")
            ending = line[len(body):]
            kept = [w for w in body.split()[1:] if not w.startswith("crashkernel=")]
            if kept != body.split()[1:]:
                lines[index] = "options " + " ".join(kept) + ending
            last = index
    addition = " ".join("crashkernel=" + w for w in words)
    if not words:
        return "".join(lines)
    if last is not None:
        body = lines[last].rstrip("\n")
        ending = lines[last][len(body):]
        lines[last] = (body + " " + addition if body.split()[1:] else "options " + addition) + ending
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append("options %s\n" % addition)
    return "".join(lines)


# ------------------------------------------------------------ grubenv, BLS

def parse_grubenv(text):
    """grubenv (``# GRUB Environment Block``, key=value, '#' padding) -> dict."""
    env = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            env[key] = value
    return env


class BootEntry(object):
    """One bootable entry with its fully expanded kernel arguments."""

    def __init__(self, title, ident, kernel, version, args, origin, raw_options=None):
        self.title = title
        self.id = ident
        self.kernel = kernel
        self.version = version
        self.args = args
        self.origin = origin
        self.raw_options = raw_options
        self.default = False

    @property
    def crashkernel(self):
        return kdump_sizing.values_in_cmdline(self.args)

    @property
    def rescue(self):
        return "rescue" in (self.version or "") or "rescue" in (self.kernel or "") or \
            "fallback" in (self.id or "") or "recovery mode" in (self.title or "")

    def to_dict(self):
        return {"title": self.title, "id": self.id, "kernel": self.kernel, "version": self.version,
                "args": self.args, "origin": self.origin, "default": self.default,
                "crashkernel": self.crashkernel}


def parse_bls(text):
    """BLS entry text -> dict key -> value (``options`` lines joined)."""
    fields = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "options" and "options" in fields:
            fields["options"] += " " + value
        else:
            fields.setdefault(key, value)
    return fields


def _version_key(text):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text or "")]


def read_bls_entries(source, folder, grubenv):
    entries = []
    for path in source.glob(folder + "/*.conf"):
        text = source.read_text(path)
        if text is None:
            continue
        fields = parse_bls(text)
        raw = fields.get("options", "")
        args = " ".join(_VARREF.sub(lambda m: grubenv.get(m.group(1) or m.group(2), ""), raw).split())
        ident = posixpath.basename(path)[:-len(".conf")]
        entries.append(BootEntry(fields.get("title", ident), ident, fields.get("linux") or fields.get("efi"),
                                 fields.get("version"), args, path, raw_options=raw))
    # BLS sorts newest version first.
    entries.sort(key=lambda e: _version_key(e.version or e.id), reverse=True)
    return entries


# ------------------------------------------------------------ grub.cfg

_MENUENTRY = re.compile(r"^\s*menuentry\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))(.*)\{\s*$")
_LINUX = re.compile(r"^\s*(?:linux|linuxefi|linux16)\s+(\S+)\s*(.*)$")
_ENTRY_ID = re.compile(r"\$menuentry_id_option\s+'([^']*)'")


def is_stub_cfg(text):
    """True for the EFI wrapper grub.cfg that only chains to the real one."""
    if text is None or len(text) > STUB_LIMIT:
        return False
    chains = "configfile" in text or re.search(r"^\s*source\s+\S*grub\.cfg", text, re.M) is not None
    return chains and "menuentry" not in text and "blscfg" not in text


def parse_grub_cfg(text, origin):
    """Top-level and submenu menu entries of a generated grub.cfg, in order."""
    entries = []
    current = None
    depth = 0
    for line in (text or "").splitlines():
        match = _MENUENTRY.match(line)
        if match:
            title = match.group(1) or match.group(2) or match.group(3)
            ident = _ENTRY_ID.search(match.group(4) or "")
            current = BootEntry(title, ident.group(1) if ident else None, None, None, "", origin)
            entries.append(current)
            depth = 1
            continue
        if current is not None:
            linux = _LINUX.match(line)
            if linux and current.kernel is None:
                current.kernel = linux.group(1)
                current.args = " ".join(linux.group(2).split())
                version = re.search(r"vmlinuz-(\S+)", linux.group(1))
                current.version = version.group(1) if version else None
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                current = None
    return [e for e in entries if e.kernel]


# ------------------------------------------------------------ detection

class Bootloader(object):
    """What boots this root next.

    kind: "grub-bls", "grub", "systemd-boot", "zipl", "rpm-ostree",
    "unknown".  entries: BootEntry list; default_entry: the one booted next.
    grub_cfg: the grub.cfg the firmware reads (root-relative); stubs: EFI
    wrapper files found; mkconfig_target: where a regenerated config must go.
    """

    def __init__(self):
        self.kind = "unknown"
        self.entries = []
        self.default_entry = None
        self.grub_cfg = None
        self.mkconfig_target = None
        self.stubs = []
        self.efi_dirs = []
        self.uefi = None
        self.defaults = None
        self.grubenv = {}
        self.grubenv_path = None
        self.bls_dir = None
        self.esp_entries_dir = None
        self.notes = []

    @property
    def label(self):
        return {"grub-bls": "GRUB 2 with BLS entries", "grub": "GRUB 2 (classic grub.cfg)",
                "systemd-boot": "systemd-boot", "zipl": "zipl (s390x)", "rpm-ostree": "rpm-ostree (OSTree)",
                "unknown": "not recognised"}[self.kind]

    def next_boot_crashkernel(self):
        return self.default_entry.crashkernel if self.default_entry else None

    def to_dict(self):
        return {"kind": self.kind, "label": self.label, "grub_cfg": self.grub_cfg,
                "mkconfig_target": self.mkconfig_target, "stubs": self.stubs, "uefi": self.uefi,
                "efi_dirs": self.efi_dirs, "defaults_files": self.defaults.paths if self.defaults else [],
                "defaults_crashkernel": self.defaults.crashkernel_values() if self.defaults else None,
                "entries": [e.to_dict() for e in self.entries],
                "default_entry": self.default_entry.id if self.default_entry else None,
                "notes": self.notes}


ESP_CANDIDATES = ("boot/efi", "efi", "boot")


def detect_bootloader(source, distro=None):
    boot = Bootloader()
    boot.defaults = read_grub_defaults(source)
    if source.exists("sys/firmware/efi"):
        boot.uefi = True
    elif source.exists("sys/firmware"):
        boot.uefi = False
    for esp in ESP_CANDIDATES:
        folder = esp + "/EFI"
        for name in source.listdir(folder):
            if name.upper() != "BOOT" and source.isdir(folder + "/" + name):
                boot.efi_dirs.append(folder + "/" + name)
    if boot.uefi is None and any(source.exists(d + "/grub.cfg") for d in boot.efi_dirs):
        boot.uefi = True

    # The grub environment block (saved_entry, kernelopts).
    for path in ("boot/grub2/grubenv", "boot/grub/grubenv"):
        text = source.read_text(path)
        if text is not None:
            boot.grubenv = parse_grubenv(text)
            boot.grubenv_path = path
            break
    for efi in boot.efi_dirs:
        if not boot.grubenv_path and source.exists(efi + "/grubenv"):
            boot.grubenv = parse_grubenv(source.read_text(efi + "/grubenv"))
            boot.grubenv_path = efi + "/grubenv"

    # The grub.cfg the firmware reads.
    real_efi = None
    for efi in boot.efi_dirs:
        path = efi + "/grub.cfg"
        text = source.read_text(path)
        if text is None:
            continue
        if is_stub_cfg(text):
            boot.stubs.append(path)
        elif real_efi is None:
            real_efi = path
    candidates = []
    if real_efi and boot.uefi is not False:
        candidates.append(real_efi)
    candidates += ["boot/grub2/grub.cfg", "boot/grub/grub.cfg"]
    if real_efi and boot.uefi is False:
        candidates.append(real_efi)
    for path in candidates:
        if source.exists(path):
            boot.grub_cfg = path
            break
    grub_text = source.read_text(boot.grub_cfg) if boot.grub_cfg else None
    boot.mkconfig_target = boot.grub_cfg or ("boot/grub2/grub.cfg" if source.isdir("boot/grub2")
                                              else "boot/grub/grub.cfg" if source.isdir("boot/grub") else None)
    bls_entries_dir = "boot/loader/entries" if source.isdir("boot/loader/entries") else None

    # rpm-ostree first: it also has BLS entries.
    if source.exists("run/ostree-booted") or source.isdir("ostree/deploy") or \
            source.glob("boot/loader/entries/ostree-*.conf"):
        boot.kind = "rpm-ostree"
        boot.bls_dir = bls_entries_dir
        boot.entries = read_bls_entries(source, "boot/loader/entries", boot.grubenv) if bls_entries_dir else []
        _pick_default_bls(boot)
        return boot
    if source.exists("etc/zipl.conf") and not grub_text:
        boot.kind = "zipl"
        if bls_entries_dir:
            boot.bls_dir = bls_entries_dir
            boot.entries = read_bls_entries(source, bls_entries_dir, boot.grubenv)
            _pick_default_bls(boot)
        else:
            boot.entries = _zipl_entries(source)
            boot.default_entry = boot.entries[0] if boot.entries else None
            if boot.default_entry:
                boot.default_entry.default = True
        return boot
    if grub_text is not None and ("blscfg" in grub_text or (boot.defaults and boot.defaults.bls_enabled()
                                                            and bls_entries_dir)):
        boot.kind = "grub-bls"
        boot.bls_dir = bls_entries_dir
        boot.entries = read_bls_entries(source, bls_entries_dir, boot.grubenv) if bls_entries_dir else []
        _pick_default_bls(boot)
        if not boot.entries:
            boot.notes.append("grub.cfg uses blscfg but %s has no entries" % "boot/loader/entries")
        return boot
    if grub_text is not None:
        boot.kind = "grub"
        boot.entries = parse_grub_cfg(grub_text, boot.grub_cfg)
        _pick_default_grub(boot)
        return boot
    for esp in ESP_CANDIDATES:
        if source.exists(esp + "/loader/loader.conf") or source.glob(esp + "/loader/entries/*.conf"):
            boot.kind = "systemd-boot"
            boot.esp_entries_dir = esp + "/loader/entries"
            boot.entries = read_bls_entries(source, boot.esp_entries_dir, {})
            loader = source.read_text(esp + "/loader/loader.conf") or ""
            _pick_default_sdboot(boot, loader)
            return boot
    if boot.defaults is not None:
        boot.notes.append("/etc/default/grub exists but no grub.cfg was found")
    return boot


def _pick_default_bls(boot):
    saved = boot.grubenv.get("saved_entry")
    chosen = None
    if saved:
        for entry in boot.entries:
            if entry.id == saved or entry.title == saved:
                chosen = entry
                break
        if chosen is None:
            boot.notes.append("saved_entry=%s matches no BLS entry; the newest entry boots" % saved)
    if chosen is None:
        normal = [e for e in boot.entries if not e.rescue]
        chosen = normal[0] if normal else (boot.entries[0] if boot.entries else None)
    if chosen:
        chosen.default = True
    boot.default_entry = chosen


def _pick_default_grub(boot):
    wanted = boot.defaults.get("GRUB_DEFAULT", "0") if boot.defaults else "0"
    if wanted == "saved":
        wanted = boot.grubenv.get("saved_entry", "0")
    chosen = None
    if wanted.isdigit():
        index = int(wanted)
        chosen = boot.entries[index] if index < len(boot.entries) else None
    else:
        for entry in boot.entries:
            if wanted in (entry.id, entry.title) or wanted.split(">")[-1] in (entry.id, entry.title):
                chosen = entry
                break
    if chosen is None and boot.entries:
        chosen = boot.entries[0]
    if chosen:
        chosen.default = True
    boot.default_entry = chosen


def _pick_default_sdboot(boot, loader_text):
    pattern = None
    for line in loader_text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == "default":
            pattern = parts[1].strip()
    chosen = None
    if pattern:
        import fnmatch
        for entry in boot.entries:
            if fnmatch.fnmatchcase(entry.id + ".conf", pattern) or fnmatch.fnmatchcase(entry.id, pattern):
                chosen = entry
                break
    if chosen is None:
        normal = [e for e in boot.entries if not e.rescue]
        chosen = normal[0] if normal else (boot.entries[0] if boot.entries else None)
    if chosen:
        chosen.default = True
    boot.default_entry = chosen


def _zipl_entries(source):
    text = source.read_text("etc/zipl.conf") or ""
    entries = []
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep and key.strip() == "parameters" and section and section != "defaultboot":
            entries.append(BootEntry(section, section, None, None, value.strip().strip('"'), "etc/zipl.conf"))
    return entries
