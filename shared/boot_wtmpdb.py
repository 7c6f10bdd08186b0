"""wtmpdb: the SQLite login database that replaces /var/log/wtmp.

openSUSE Tumbleweed, Debian 13 and Ubuntu 24.10+ write boots, shutdowns
and logins to ``/var/lib/wtmpdb/wtmp.db`` (``wtmpdb rotate`` moves old rows
to ``wtmp_YYYYMMDD.db`` beside it) instead of the utmp-format wtmp file.
The schema, from wtmpdb's lib/sqlite.c::

    CREATE TABLE wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT NOT NULL,
                      Login INTEGER, Logout INTEGER, TTY TEXT, RemoteHost TEXT,
                      Service TEXT) STRICT;

Times are microseconds since the epoch.  ``wtmpdb boot`` (at every boot)
adds a row Type 1 (BOOT_TIME), User "reboot", TTY "~", RemoteHost the
kernel release, Login the time the kernel started (now - CLOCK_BOOTTIME);
``wtmpdb shutdown`` sets Logout of the newest "~" row without one.  A boot
row whose Logout stayed empty while a later boot exists ended without the
shutdown step (``last`` shows it as "crash").  Type 3 rows are user
sessions (pam_wtmpdb).

Read with the standard library's sqlite3, read-only and immutable (a
``file:...?mode=ro&immutable=1`` URI: no lock, no journal written, works on
a read-only mounted root).  Some minimal Pythons lack ``_sqlite3``: then
``read`` says so in one line and the caller goes on without it.
"""

import collections
import os

BOOT_TIME = 1
RUNLEVEL = 2            # unused with systemd
USER_PROCESS = 3
MAGIC = b"SQLite format 3\x00"
FOLDER = "var/lib/wtmpdb"

Entry = collections.namedtuple("Entry", "row kind user login logout tty host service")
Entry.__doc__ = """One wtmpdb row: kind "boot" / "runlevel" / "user"; login and logout in epoch
seconds (logout None when never set); row is the table's ID."""

_KINDS = {BOOT_TIME: "boot", RUNLEVEL: "runlevel", USER_PROCESS: "user"}


def looks_wtmpdb(head):
    """True for the first bytes of an SQLite database file."""
    return head[:len(MAGIC)] == MAGIC


def is_db_name(name):
    """wtmp.db and its rotations wtmp_YYYYMMDD.db."""
    return name == "wtmp.db" or (name.startswith("wtmp_") and name.endswith(".db"))


def order_files(names):
    """Rotations (by their date) first, the live wtmp.db last."""
    return sorted((n for n in names if is_db_name(n)), key=lambda n: (n == "wtmp.db", n))


def _seconds(value):
    if value is None:
        return None
    try:
        usec = int(value)
    except (TypeError, ValueError):
        return None
    if usec <= 0 or usec >= 1 << 62:
        return None
    return usec / 1000000.0


def read(path=None, data=None):
    """([Entry] ordered by login time, problem or None) of one database.

    ``path``: a file on disk (opened read-only and immutable); ``data``: the
    bytes of one (a member of an archive; needs Python 3.11's deserialize).
    """
    try:
        import sqlite3
    except ImportError:
        return [], ("this Python has no sqlite3 module (_sqlite3 is missing), wtmpdb not read; "
                    "'wtmpdb last -f FILE' or a full Python reads it")
    try:
        if data is not None:
            connection = sqlite3.connect(":memory:")
            if not hasattr(connection, "deserialize"):
                connection.close()
                return [], ("inside an archive and this Python (before 3.11) reads SQLite only from a "
                            "file; extract the archive and point bootlog at the folder")
            connection.deserialize(data)
        else:
            from urllib.parse import quote
            uri = "file:%s?mode=ro&immutable=1" % quote(os.path.abspath(path))
            connection = sqlite3.connect(uri, uri=True)
    except (sqlite3.Error, OSError, ValueError) as error:
        return [], "cannot open the database (%s)" % (error,)
    entries = []
    try:
        cursor = connection.execute(
            "SELECT ID, Type, User, Login, Logout, TTY, RemoteHost, Service FROM wtmp "
            "WHERE Type IN (%d, %d, %d) ORDER BY Login, ID" % (BOOT_TIME, RUNLEVEL, USER_PROCESS))
        for row, kind, user, login, logout, tty, host, service in cursor:
            stamp = _seconds(login)
            if stamp is None:
                continue
            entries.append(Entry(row, _KINDS.get(kind, "user"), user, stamp, _seconds(logout), tty, host,
                                 service))
    except sqlite3.DatabaseError as error:
        text = str(error)
        if "malformed database schema" in text and sqlite3.sqlite_version_info < (3, 37):
            return entries, ("SQLite %s cannot read it (%s); wtmpdb's table is STRICT, which needs "
                             "SQLite 3.37+: read it on a newer box ('wtmpdb last -f FILE')"
                             % (sqlite3.sqlite_version, text))
        if "malformed" in text or "not a database" in text:
            return entries, ("damaged database (%s; the rows before the damage were read; "
                             "'sqlite3 FILE .recover' may save more)" % text)
        if "no such table" in text:
            return entries, "not a wtmpdb database (%s)" % text
        return entries, "cannot read the database (%s)" % text
    finally:
        connection.close()
    return entries, None


def wal_note(path):
    """A warning when a write-ahead log beside the file holds rows an immutable read does not see."""
    try:
        size = os.path.getsize(path + "-wal")
    except OSError:
        return None
    if size > 0:
        return ("%d bytes of write-ahead log (%s-wal) not read: the newest rows may be missing "
                "(read-only open)" % (size, os.path.basename(path)))
    return None


def boots(entries):
    """[(boot Entry, [later Entries until the next boot])] in time order."""
    out = []
    for entry in entries:
        if entry.kind == "boot":
            out.append((entry, []))
        elif out:
            out[-1][1].append(entry)
    return out


def create(path, rows):
    """Write a wtmpdb database with wtmpdb's own schema and statements (tests and fixtures).

    ``rows``: (type, user, login usec, logout usec or None, tty, host, service).
    """
    import sqlite3
    connection = sqlite3.connect(path)
    try:
        version = tuple(int(p) for p in sqlite3.sqlite_version.split(".")[:2])
        strict = " STRICT" if version >= (3, 37) else ""
        connection.execute("CREATE TABLE IF NOT EXISTS wtmp(ID INTEGER PRIMARY KEY, Type INTEGER, "
                           "User TEXT NOT NULL, Login INTEGER, Logout INTEGER, TTY TEXT, "
                           "RemoteHost TEXT, Service TEXT)%s;" % strict)
        for kind, user, login, logout, tty, host, service in rows:
            cursor = connection.execute("INSERT INTO wtmp (Type,User,Login,TTY,RemoteHost,Service) "
                                        "VALUES(?,?,?,?,?,?);", (kind, user, login, tty, host, service))
            if logout is not None:
                connection.execute("UPDATE wtmp SET Logout = ? WHERE ID = ?", (logout, cursor.lastrowid))
        connection.commit()
    finally:
        connection.close()
