"""Hostile ECG-cart exports (XML, DICOM, SCP-ECG), built in memory so a fresh clone needs no
staged file: XML attacks (XXE, billion laughs, quadratic blow-up), documents larger than any
ECG, broken base64, an XLI (LZW) decompression bomb, sample and lead counts that disagree
with the data, DICOM objects without or with lying waveforms, and files that only claim to
be SCP-ECG. Each case names the typed error and code HeartEye must answer with.

`muse_xml()` and `dicom_ecg()` also write *valid* synthetic files (sine-like leads), which
`test_io_carts_synthetic` reads back, so the generators are known to be right: a hostile
case differs from a readable file by the one lie it tells.
"""

from __future__ import annotations

import base64
import io
import zlib

import numpy as np

from hearteye.errors import InvalidRecordError

MiB = 1 << 20
MUSE_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


def synthetic_leads(n_leads: int, n: int, fs: float) -> np.ndarray:
    """Counts of a smooth periodic waveform per lead (int16), different per lead."""
    t = np.arange(n) / fs
    rows = [
        200 * np.sin(2 * np.pi * 1.2 * t + k) + 80 * np.sin(2 * np.pi * 7 * t)
        for k in range(n_leads)
    ]
    return np.round(np.array(rows)).astype(np.int16)


# --------------------------------------------------------------------------------- MUSE


def _muse_lead(lead_id: str, counts: np.ndarray, **lie) -> str:
    raw = counts.astype("<i2").tobytes()
    payload = lie.get("payload", base64.b64encode(raw).decode())
    return (
        "<LeadData>"
        f"<LeadByteCountTotal>{lie.get('bytes', len(raw))}</LeadByteCountTotal>"
        f"<LeadSampleCountTotal>{lie.get('samples', counts.size)}</LeadSampleCountTotal>"
        f"<LeadAmplitudeUnitsPerBit>4.88</LeadAmplitudeUnitsPerBit>"
        f"<LeadAmplitudeUnits>{lie.get('unit', 'MICROVOLTS')}</LeadAmplitudeUnits>"
        f"<LeadID>{lead_id}</LeadID><LeadSampleSize>2</LeadSampleSize>"
        f"<LeadDataCRC32>{lie.get('crc', zlib.crc32(raw))}</LeadDataCRC32>"
        f"<WaveFormData>{payload}</WaveFormData></LeadData>"
    )


def muse_xml(
    n: int = 5000,
    fs: int = 500,
    doctype: str = "",
    body_extra: str = "",
    first_lead: dict | None = None,
    short_lead: bool = False,
) -> bytes:
    """A GE MUSE RestingECG document; the keyword arguments inject one lie each."""
    counts = synthetic_leads(len(MUSE_LEADS), n, fs)
    leads = []
    for i, name in enumerate(MUSE_LEADS):
        c = counts[i][: n - 100] if (short_lead and i == 2) else counts[i]
        leads.append(_muse_lead(name, c, **(first_lead or {}) if i == 0 else {}))
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        + (doctype or '<!DOCTYPE RestingECG SYSTEM "restecg.dtd">')
        + "\n<RestingECG><MuseInfo><MuseVersion>9.0.9</MuseVersion></MuseInfo>"
        + "<PatientDemographics><PatientAge>50</PatientAge><AgeUnits>YEARS</AgeUnits>"
        + "<Gender>FEMALE</Gender></PatientDemographics>"
        + "<TestDemographics><AcquisitionDate>05-10-2021</AcquisitionDate>"
        + "<AcquisitionTime>13:15:18</AcquisitionTime></TestDemographics>"
        + body_extra
        + "<Waveform><WaveformType>Rhythm</WaveformType>"
        + f"<SampleBase>{fs}</SampleBase><SampleExponent>0</SampleExponent>"
        + "".join(leads)
        + "</Waveform></RestingECG>"
    ).encode("latin-1")


# ------------------------------------------------------------------------------ Philips


def lzw_zero_run(n_codes: int) -> bytes:
    """An LZW stream (10-bit codes, MSB first, as XLI packs them) of zeros whose every code
    stands for a longer run: 0, 256, 257, ... up to the dictionary's last code, repeated."""
    codes = [0] + [min(256 + i, 1022) for i in range(n_codes - 1)]
    bits = "".join(f"{c:010b}" for c in codes)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def xli_chunk(body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    return size.to_bytes(4, "little", signed=True) + b"\0\0" + b"\0\0" + body


def philips_xml(chunks: list[bytes] | None = None, b64: str | None = None, leads: int = 12):
    """A Philips PhilipsECG 1.04 document whose parsedwaveforms hold ``chunks`` (XLI)."""
    text = b64 if b64 is not None else base64.b64encode(b"".join(chunks or [])).decode()
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<restingecgdata xmlns="http://www3.medical.philips.com">'
        "<documentinfo><documenttype>PhilipsECG</documenttype>"
        "<documentversion>1.04</documentversion></documentinfo>"
        f'<waveforms><parsedwaveforms dataencoding="Base64" compression="XLI" '
        f'numberofleads="{leads}" durationperchannel="10000" samplespersecond="500">'
        f"{text}</parsedwaveforms></waveforms></restingecgdata>"
    ).encode()


# -------------------------------------------------------------------------------- DICOM


def dicom_ecg(
    channels: int = 12,
    samples: int = 5000,
    declared_samples: int | None = None,
    sop: str = "1.2.840.10008.5.1.4.1.1.9.1.1",
    waveform: bool = True,
) -> bytes:
    """A DICOM 12-lead ECG written by pydicom (explicit VR little endian)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filewriter import dcmwrite
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "ECG"
    ds.PatientSex = "F"
    if waveform:
        ds.WaveformSequence = [_dicom_group(channels, samples, declared_samples)]
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _dicom_group(channels: int, samples: int, declared: int | None):
    from pydicom.dataset import Dataset

    names = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    group = Dataset()
    group.MultiplexGroupLabel = "RHYTHM"
    group.SamplingFrequency = 500
    group.NumberOfWaveformChannels = channels
    group.NumberOfWaveformSamples = declared if declared is not None else samples
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    defs = []
    for ch in range(channels):
        d = Dataset()
        src = Dataset()
        src.CodeValue = f"5.6.3-9-{ch + 1}"
        src.CodingSchemeDesignator = "SCPECG"
        src.CodeMeaning = f"Lead {names[ch % 12]}"
        d.ChannelSourceSequence = [src]
        d.ChannelSensitivity = 2.5
        unit = Dataset()
        unit.CodeValue = "uV"
        unit.CodingSchemeDesignator = "UCUM"
        unit.CodeMeaning = "microvolt"
        d.ChannelSensitivityUnitsSequence = [unit]
        d.ChannelSensitivityCorrectionFactor = 1
        d.ChannelBaseline = 0
        d.WaveformBitsStored = 16
        defs.append(d)
    group.ChannelDefinitionSequence = defs
    counts = synthetic_leads(channels, samples, 500.0)
    group.WaveformData = counts.T.astype("<i2").tobytes()
    return group


# ------------------------------------------------------------------------------ corpus

# The preamble, then a sequence of undefined length whose item runs past the end of the file.
_DICOM_GARBAGE = (
    bytes(128) + b"DICM" + b"\x08\x00\x16\x00SQ\0\0" + b"\xff" * 4 + b"\xfe\xff\x00\xe0@\0\0\0"
) + bytes(10)


def cart_cases(case):
    """The cart cases, as ``case(name, files, code, error, says)`` builds them."""
    R = InvalidRecordError
    xxe = '<!DOCTYPE RestingECG [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    laughs = (
        '<!DOCTYPE RestingECG [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    )
    quadratic = f'<!DOCTYPE RestingECG [<!ENTITY big "{"x" * 50_000}">]>'
    bomb = xli_chunk(lzw_zero_run(4000))
    lead = xli_chunk(lzw_zero_run(50))
    return [
        case("xml_xxe", [("ecg.xml", muse_xml(doctype=xxe))], "xml_external_entity", R, "xxe"),
        case(
            "xml_billion_laughs",
            [("ecg.xml", muse_xml(doctype=laughs, body_extra="<Note>&c;</Note>"))],
            "xml_nested_entities",
            R,
            "billion-laughs",
        ),
        case(
            "xml_quadratic_blowup",
            [
                (
                    "ecg.xml",
                    muse_xml(doctype=quadratic, body_extra="<Note>" + "&big;" * 2000 + "</Note>"),
                )
            ],
            "xml_entity_declaration",
            R,
            "declares an entity",
        ),
        case(
            "xml_document_too_large",
            [("ecg.xml", muse_xml(body_extra="<!--" + "x" * (17 * MiB) + "-->"))],
            "document_too_large",
            R,
            "export one ecg per file",
        ),
        case(
            "xml_malformed",
            [("ecg.xml", muse_xml().replace(b"</Waveform>", b"</Wave>"))],
            "malformed_xml",
            R,
            "malformed xml",
        ),
        case(
            "muse_truncated_base64",
            [("ecg.xml", muse_xml(first_lead={"payload": "AAAA$$$=="}))],
            "invalid_base64",
            R,
            "base64",
        ),
        case(
            "muse_sample_count_lie",
            [("ecg.xml", muse_xml(first_lead={"samples": 6000}))],
            "sample_count_mismatch",
            R,
            "leadsamplecounttotal",
        ),
        case(
            "muse_crc_mismatch",
            [("ecg.xml", muse_xml(first_lead={"crc": 12345}))],
            "checksum_mismatch",
            R,
            "checksum",
        ),
        case(
            "muse_leads_of_different_length",
            [("ecg.xml", muse_xml(short_lead=True))],
            "lead_lengths_differ",
            R,
            "different numbers of samples",
        ),
        case(
            "muse_no_voltage_unit",
            [("ecg.xml", muse_xml(first_lead={"unit": "FURLONGS"}))],
            "unknown_amplitude_unit",
            R,
            "no voltage unit",
        ),
        case(
            "philips_xli_bomb",
            [("ecg.xml", philips_xml([bomb] * 12))],
            "xli_decompression_bomb",
            R,
            "decompression bomb",
        ),
        case(
            "philips_xli_truncated",
            [("ecg.xml", philips_xml([lead, xli_chunk(b"\x01" * 20, declared=5000)]))],
            "xli_truncated",
            R,
            "truncated",
        ),
        case(
            "philips_lead_count_lie",
            [("ecg.xml", philips_xml([lead, lead], leads=12))],
            "lead_count_mismatch",
            R,
            "disagrees with the data",
        ),
        case(
            "philips_broken_base64",
            [("ecg.xml", philips_xml(b64="QUJD$%^&*"))],
            "invalid_base64",
            R,
            "base64",
        ),
        case(
            "dicom_without_waveform_sequence",
            [("ecg.dcm", dicom_ecg(waveform=False))],
            "dicom_no_waveform",
            R,
            "no waveform sequence",
        ),
        case(
            "dicom_sample_count_lie",
            [("ecg.dcm", dicom_ecg(declared_samples=4000))],
            "dicom_waveform_size_mismatch",
            R,
            "disagree with the data",
        ),
        case(
            "dicom_not_an_ecg",
            [("ct.dcm", dicom_ecg(sop="1.2.840.10008.5.1.4.1.1.2", waveform=False))],
            "dicom_not_ecg",
            R,
            "not an ecg waveform",
        ),
        case(
            "dicom_200_channels",
            [("ecg.dcm", dicom_ecg(channels=200, samples=500))],
            "too_many_leads",
            R,
            "at most 64",
        ),
        case(
            "dicom_garbage_after_preamble",
            [("ecg.dcm", _DICOM_GARBAGE)],
            "corrupt_dicom_ecg",
            R,
            "damaged",
        ),
        case(
            "scp_name_without_scp_content",
            [("ecg.scp", bytes(6) + b"\0\0" + bytes(2000))],
            "scp_not_compliant",
            R,
            "en 1064",
        ),
        case(
            "scp_truncated_sections",
            [
                (
                    "ecg.scp",
                    b"\0\0"
                    + (2000).to_bytes(4, "little")
                    + b"\0\0\0\0"
                    + (136).to_bytes(4, "little")
                    + b"\x14\x14SCPECG"
                    + bytes(40),
                )
            ],
            "corrupt_scp_ecg",
            R,
            "damaged",
        ),
    ]
