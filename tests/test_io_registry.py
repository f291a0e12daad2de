"""The format table: files are recognised by content first, then by suffix, through every
entry point (files on disk, bare uploads, zipped uploads), and every record names its
format."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.errors import HeartEyeError, UnsupportedFormatError, UploadRejectedError
from hearteye.io import FORMATS, identify, parse_upload, read_edf, read_record, read_wfdb
from hearteye.io.registry import HEAD_BYTES
from hostile_corpus import FIXTURES, make_zip

EDF = FIXTURES / "edf" / "ludb_119.edf"
HEA = FIXTURES / "ludb" / "1.hea"


def _same(a, b):
    assert a.leads == b.leads and a.fs == b.fs
    np.testing.assert_array_equal(a.signal, b.signal)


def test_table_names_are_unique_and_fit_the_database_column():
    names = [f.name for f in FORMATS]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 16 for n in names)


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("ecg.dat", EDF, "edf"),  # content wins over a misleading suffix
        ("ecg", EDF, "edf"),
        ("1.txt", HEA, "wfdb"),
        ("1.hea", HEA, "wfdb"),
    ],
)
def test_identify_by_content(name, path, expected):
    assert identify(name, path.read_bytes()[:HEAD_BYTES]).name == expected


def test_identify_zip_by_magic_and_unknown_bytes():
    assert identify("upload.bin", make_zip([("1.edf", EDF.read_bytes())])).name == "zip"
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert identify("x.bin", noise) is None
    # No content match: the suffix decides, so the right reader gives its specific error.
    assert identify("x.edf", noise).name == "edf"
    assert identify("1.dat", (FIXTURES / "ludb" / "1.dat").read_bytes()[:HEAD_BYTES]) is None


def test_renamed_edf_reads_on_disk_and_as_upload(tmp_path):
    renamed = tmp_path / "ecg.dat"
    renamed.write_bytes(EDF.read_bytes())
    ref = read_edf(EDF)
    rec = read_record(renamed)
    _same(rec, ref)
    assert rec.meta.format == "edf"
    up = parse_upload([("ecg.dat", EDF.read_bytes())])
    _same(up, ref)
    assert up.meta.format == "edf"
    zipped = parse_upload([("a.zip", make_zip([("inside.bin", EDF.read_bytes())]))])
    _same(zipped, ref)


def test_zip_recognised_by_magic_under_any_name(tmp_path):
    files = [(n, (FIXTURES / "ludb" / n).read_bytes()) for n in ("1.hea", "1.dat")]
    blob = make_zip(files)
    path = tmp_path / "record.upload"
    path.write_bytes(blob)
    ref = read_wfdb(HEA)
    _same(read_record(path), ref)
    rec = parse_upload([("record.upload", blob)])
    _same(rec, ref)
    assert rec.meta.format == "wfdb"


def test_unknown_file_is_a_typed_unsupported_format_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not ECG samples\n")
    with pytest.raises(UnsupportedFormatError) as info:
        read_record(path)
    assert info.value.code == "unsupported_format"
    assert "wfdb" in info.value.message.lower() and "edf" in info.value.message.lower()
    # Over the network the same file is an upload without a record in it.
    with pytest.raises(UploadRejectedError) as info:
        parse_upload([("notes.txt", path.read_bytes())])
    assert info.value.code == "no_record"


def test_zip_inside_a_zip_found_by_content_is_refused():
    inner = make_zip([("1.edf", EDF.read_bytes())])
    with pytest.raises(HeartEyeError) as info:
        parse_upload([("a.zip", make_zip([("payload.bin", inner)]))])
    assert info.value.code == "nested_archive"


def test_every_record_names_its_format_in_meta_and_summary():
    for path, fmt in ((EDF, "edf"), (HEA, "wfdb"), (FIXTURES / "cinc" / "A0001.hea", "wfdb")):
        rec = read_record(path)
        assert rec.meta.format == fmt
        assert rec.summary()["format"] == fmt


def test_a_note_that_starts_like_a_record_line_is_not_a_header():
    files = [(n, (FIXTURES / "ludb" / n).read_bytes()) for n in ("1.hea", "1.dat")]
    note = ("notes.txt", b"Patient 12 years old\nreferred by Dr X\n")
    rec = parse_upload([("a.zip", make_zip(files + [note]))])
    _same(rec, read_wfdb(HEA))
    assert identify("notes.txt", note[1]) is None


def test_xml_suffix_alone_decides_nothing_and_walks_find_every_format():
    from hearteye.io.registry import record_suffixes

    assert identify("ecg.xml", b"not xml at all") is None  # three formats use .xml
    assert identify("ecg.dcm", b"no preamble").name == "dicom_ecg"
    assert set(record_suffixes()) >= {".hea", ".edf", ".zip", ".xml", ".dcm", ".scp"}


def test_record_files_come_from_the_format_table(fixtures_dir):
    """A WFDB record is its header and signal files (by base name too); any other format is
    the one file. Batch identity hashes exactly these."""
    from hearteye.io import record_files

    cinc = fixtures_dir / "cinc"
    assert record_files(cinc / "A0001.hea") == [cinc / "A0001.hea", cinc / "A0001.mat"]
    assert record_files(cinc / "A0001") == [cinc / "A0001.hea", cinc / "A0001.mat"]
    edf = fixtures_dir / "edf" / "ludb_024.edf"
    assert record_files(edf) == [edf]
