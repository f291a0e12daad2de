"""Every diagnostic statement HeartEye can make: code, SNOMED CT id, text, category, severity.

* ``code``: the SCP-ECG acronym exactly as PTB-XL writes it (``scp_statements.csv``) where one
  exists; the few statements SCP-ECG lacks (STEMI, short QT, axis deviations, technical ones)
  get an upper-case acronym of our own, listed as such in ``scp`` = False.
* ``snomed``: the SNOMED CT concept id from the PhysioNet/CinC Challenge 2021 mapping files
  (``dx_mapping_scored.csv`` / ``dx_mapping_unscored.csv``); ``None`` where those files hold
  no concept for the statement (we do not type ids from memory). ``also`` lists the other
  Challenge ids scored as the same diagnosis (e.g. 733534002 and 164909002 for LBBB).
* ``text``: the wording of a GE 12SL / Glasgow style report line.
* ``severity``: ``normal`` (a normal finding or a normal variant: "Sinus bradycardia" still
  allows "Otherwise normal ECG"), ``borderline``, ``abnormal``, ``critical`` (needs action
  now: raised as an alert).

The Challenge 2021 scored classes are all here (sinus rhythm, SB, STach, SA, AF, AFL, PAC/SVPB,
PVC/VPB, paced, IAVB/LPR, LBBB, RBBB, IRBBB, LAnFB, NSIVCB, LAD, RAD, LQRSV, LQT, QAb, TAb,
TInv, PRWP, Brady, BBB as LBBB or RBBB), with the findings a clinician expects beyond them.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = (
    "rhythm",
    "conduction",
    "axis",
    "chamber",
    "infarction/ischemia",
    "repolarization",
    "technical",
    "other",  # a learned model's verdict that no coded statement explains
)
SEVERITIES = ("normal", "borderline", "abnormal", "critical")


@dataclass(frozen=True)
class Entry:
    code: str
    snomed: str | None
    text: str
    category: str
    severity: str
    scp: bool = True  # the code is a PTB-XL SCP-ECG acronym
    also: tuple[str, ...] = ()  # other SNOMED ids scored as the same diagnosis


_E = Entry
ENTRIES: tuple[Entry, ...] = (
    # rhythm
    _E("SR", "426783006", "Sinus rhythm", "rhythm", "normal"),
    _E("SBRAD", "426177001", "Sinus bradycardia", "rhythm", "normal"),
    _E("STACH", "427084000", "Sinus tachycardia", "rhythm", "normal"),
    _E("SARRH", "427393009", "Sinus arrhythmia", "rhythm", "normal"),
    _E("AFIB", "164889003", "Atrial fibrillation", "rhythm", "abnormal"),
    _E("AFLT", "164890007", "Atrial flutter", "rhythm", "abnormal"),
    _E("BRADY", "426627000", "Bradycardia (non-sinus)", "rhythm", "abnormal", scp=False),
    # Ventricular tachycardia until proven otherwise; no mapping file holds the concept.
    _E("WCT", None, "Wide QRS tachycardia", "rhythm", "critical", scp=False),
    _E(
        "PAC",
        "284470004",
        "With premature atrial complexes",
        "rhythm",
        "borderline",
        also=("63593006",),
    ),
    _E(
        "PVC",
        "427172004",
        "With premature ventricular complexes",
        "rhythm",
        "borderline",
        also=("17338001",),
    ),
    _E("PACE", "10370003", "Electronic pacemaker rhythm", "rhythm", "abnormal"),
    # conduction
    _E(
        "1AVB",
        "270492004",
        "First-degree AV block",
        "conduction",
        "borderline",
        also=("164947007",),
    ),
    _E("2AVB", "195042002", "Second-degree AV block", "conduction", "abnormal"),
    _E("3AVB", "27885002", "Complete (third-degree) AV block", "conduction", "critical"),
    _E(
        "CLBBB",
        "164909002",
        "Left bundle branch block",
        "conduction",
        "abnormal",
        also=("733534002",),
    ),
    _E(
        "CRBBB",
        "59118001",
        "Right bundle branch block",
        "conduction",
        "abnormal",
        also=("713427006",),
    ),
    _E("IRBBB", "713426002", "Incomplete right bundle branch block", "conduction", "borderline"),
    _E("ILBBB", "251120003", "Incomplete left bundle branch block", "conduction", "borderline"),
    _E("LAFB", "445118002", "Left anterior fascicular block", "conduction", "abnormal"),
    _E("LPFB", "445211001", "Left posterior fascicular block", "conduction", "abnormal"),
    _E(
        "IVCD",
        "698252002",
        "Nonspecific intraventricular conduction delay",
        "conduction",
        "abnormal",
    ),
    _E("WPW", "74390002", "Ventricular pre-excitation (WPW pattern)", "conduction", "abnormal"),
    # axis
    _E("LAD", "39732003", "Left axis deviation", "axis", "borderline", scp=False),
    _E("RAD", "47665007", "Right axis deviation", "axis", "borderline", scp=False),
    _E("AXIND", "251200008", "Indeterminate (northwest) axis", "axis", "borderline", scp=False),
    # chamber
    _E("LVH", "164873001", "Left ventricular hypertrophy", "chamber", "abnormal"),
    _E("RVH", "89792004", "Right ventricular hypertrophy", "chamber", "abnormal"),
    _E("LAO/LAE", "67741000119109", "Left atrial enlargement", "chamber", "borderline"),
    _E("RAO/RAE", "253339007", "Right atrial enlargement", "chamber", "borderline"),
    _E("LVOLT", "251146004", "Low QRS voltage", "chamber", "borderline"),
    # infarction / ischemia
    _E(
        "STEMI",
        "57054005",
        "ST elevation meeting STEMI criteria: acute MI",
        "infarction/ischemia",
        "critical",
        scp=False,
    ),  # noqa: E501
    _E("IMI", None, "Inferior infarct, age undetermined", "infarction/ischemia", "abnormal"),
    _E("ASMI", None, "Anteroseptal infarct, age undetermined", "infarction/ischemia", "abnormal"),
    _E("LMI", None, "Lateral infarct, age undetermined", "infarction/ischemia", "abnormal"),
    _E("QWAVE", "164917005", "Abnormal Q waves", "infarction/ischemia", "abnormal"),
    _E("STD_", "429622005", "ST depression", "infarction/ischemia", "abnormal"),
    _E("STE_", "164931005", "ST elevation", "infarction/ischemia", "abnormal"),
    _E(
        "MI",
        "164865005",
        "Myocardial infarction (learned pattern)",
        "infarction/ischemia",
        "abnormal",
        scp=False,
    ),  # noqa: E501
    # repolarization
    _E("LNGQT", "111975006", "Prolonged QT", "repolarization", "abnormal"),
    _E("SQT", "77867006", "Short QT", "repolarization", "abnormal", scp=False),
    # PTB-XL's NDT ("non-diagnostic T abnormalities"; its NT_, LOWT and TAB_ read as the same
    # statement), the Challenge's "T wave abnormal": one statement, as GE 12SL prints it.
    _E("NDT", "164934002", "Nonspecific T-wave abnormality", "repolarization", "borderline"),
    _E("INVT", "59931005", "T-wave inversion", "repolarization", "abnormal"),
    _E("PRWP", "365413008", "Poor R-wave progression", "repolarization", "borderline", scp=False),
    # technical
    _E("LEADREV", "251139008", "Suspect arm lead reversal", "technical", "borderline", scp=False),
    _E("FLAT", None, "Missing or flat lead", "technical", "borderline", scp=False),
    _E(
        "NOISE",
        None,
        "Noisy or clipped lead; interpret with care",
        "technical",
        "borderline",
        scp=False,
    ),  # noqa: E501
    _E(
        "ABNMODEL",
        None,
        "Abnormal ECG pattern by the learned classifier",
        "other",
        "borderline",
        scp=False,
    ),  # noqa: E501
)
CATALOGUE: dict[str, Entry] = {e.code: e for e in ENTRIES}
# Statements that need a P wave per beat: never made when the rhythm has none (AF, flutter).
P_WAVE_CODES = frozenset(
    {"SR", "SBRAD", "STACH", "SARRH", "1AVB", "2AVB", "PAC", "LAO/LAE", "RAO/RAE", "WPW"}
)  # noqa: E501


def entry(code: str) -> Entry:
    return CATALOGUE[code]


def by_snomed() -> dict[str, str]:
    """SNOMED CT id (main or equivalent) -> statement code."""
    out = {}
    for e in ENTRIES:
        for sid in ((e.snomed,) if e.snomed else ()) + e.also:
            out[sid] = e.code
    return out
