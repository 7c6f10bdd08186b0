"""The findings model and the scrubber."""

from shared import findings
from shared.findings import Evidence, Finding
from shared.scrub import Scrubber, hostnames_from_source
from shared.sources import Line


def test_missing_input_is_never_ok():
    finding = Finding.not_evaluated("fs.space", "Filesystem space", ["df output"])
    assert finding.severity == findings.NOT_EVALUATED
    assert finding.detail == "not evaluated (missing: df output)"
    assert not findings.reaches([finding], findings.WARNING)
    assert findings.worst([finding]) == findings.NOT_EVALUATED


def test_ranking_worst_and_fail_on():
    items = [Finding("a", findings.INFO, "i"), Finding("b", findings.CRITICAL, "c"),
             Finding("c", findings.OK, "o"), Finding("d", findings.WARNING, "w")]
    assert [f.check for f in findings.ranked(items)] == ["b", "d", "a", "c"]
    assert findings.worst(items) == findings.CRITICAL
    assert findings.reaches(items, findings.WARNING)
    assert not findings.reaches(items[2:3], findings.INFO)


def test_evidence_from_a_line_and_rendering():
    evidence = Evidence.from_line(Line("EXT4-fs error (device sda1): x" + "y" * 600, "var/log/messages", 42))
    assert evidence.where() == "var/log/messages:42" and len(evidence.excerpt) == 400
    text = findings.render_text([Finding("fs.errors", findings.CRITICAL, "Filesystem errors on sda1",
                                         "ext4 reported errors", [evidence], "fsck the filesystem")])
    assert text.splitlines()[0] == "[CRIT] Filesystem errors on sda1"
    assert "at var/log/messages:42: EXT4-fs error" in text and "fix: fsck the filesystem" in text
    assert Finding("x", findings.WARNING, "t", evidence=[evidence]).to_dict()["evidence"][0]["line"] == 42


def test_scrubber_is_consistent_across_texts_and_keeps_harmless_values():
    scrubber = Scrubber(hostnames=["db01.prod.example.org"], users=["alice", "root"])
    first = scrubber.scrub("db01 alice 10.20.30.40 52:54:00:ab:cd:ef 2a01:4f8::1 db01.prod.example.org")
    second = scrubber.scrub("ssh alice@DB01 from 10.20.30.40")
    assert "db01" not in first.lower() and "alice" not in first and "10.20.30.40" not in first
    assert "52:54:00:ab:cd:ef" not in first and "2a01:4f8::1" not in first
    host_token = scrubber.mapping["db01"]
    assert host_token in second and scrubber.mapping["10.20.30.40"] in second
    kept = scrubber.scrub("root 127.0.0.1 255.255.255.0 ::1 0.0.0.0 ff:ff:ff:ff:ff:ff kernel 5.14.0.284")
    assert kept == "root 127.0.0.1 255.255.255.0 ::1 0.0.0.0 ff:ff:ff:ff:ff:ff kernel 5.14.0.284"
    assert "10.20.30.40" in scrubber.mapping_text()


def test_secrets_in_command_lines_are_masked_without_mapping():
    scrubber = Scrubber()
    text = scrubber.scrub("mysql -uapp --password=hunter2 && curl https://bob:s3cr3t@repo/x "
                          "-H 'Authorization: Bearer abc.def' && tool --token XYZ api_key=\"k 1\"")
    for secret in ("hunter2", "s3cr3t", "abc.def", "XYZ", "k 1"):
        assert secret not in text
    assert text.count("********") == 5
    assert "hunter2" not in scrubber.mapping_text()


def test_hostnames_from_a_source(tmp_path):
    from shared import sources
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("web7.example.net\n")
    assert hostnames_from_source(sources.open_source(str(tmp_path))) == ["web7.example.net"]
