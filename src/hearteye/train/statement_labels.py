"""Reference statements per record, in catalogue codes, from each source's own labels.

* **PTB-XL** ``scp_codes``: a statement is present when its key is present (PTB-XL writes
  likelihood 0 for form and rhythm statements it does not grade). Same acronyms as the
  catalogue, plus: LPR -> 1AVB; VCLVH -> LVH (our LVH rule is the voltage criterion);
  infarcts by territory (IMI, ILMI, IPMI, IPLMI -> IMI; ASMI, AMI, ALMI -> ASMI; LMI, ALMI,
  ILMI, IPLMI -> LMI), and any MI statement -> MI; the nonspecific T-wave statements NT_,
  LOWT and TAB_ -> NDT (the Challenge maps PTB-XL to one "T wave abnormal": 2,345 of its
  ECGs, more than its 1,829 NDT alone).
* **Challenge** SNOMED CT ``#Dx``: through the catalogue's ids and the Challenge's equivalent
  ids, plus the unscored codes that name the same finding (old or acute MI -> MI; atrial
  enlargement variants; ventricular ectopics, bigeminy -> PVC; atrial bigeminy -> PAC).
* **LUDB** free text: rhythm, axis, conduction, extrasystoles, hypertrophies, pacing, STEMI and
  scar (-> MI and its territory).

``VOCABULARY[source]``: the statements a source codes at all. A statement is evaluated only
on the sources that code it: LUDB's silence on QT says nothing about the QT.
"""

from __future__ import annotations

import ast

from hearteye.interpret.catalogue import CATALOGUE, by_snomed

_PTBXL_DIRECT = {c for c in CATALOGUE if CATALOGUE[c].scp} - {"MI"}
_PTBXL_ALIASES = {
    "LPR": ("1AVB",),
    "VCLVH": ("LVH",),
    "IMI": ("IMI", "MI"),
    "ILMI": ("IMI", "LMI", "MI"),
    "IPMI": ("IMI", "MI"),
    "IPLMI": ("IMI", "LMI", "MI"),
    "ASMI": ("ASMI", "MI"),
    "AMI": ("ASMI", "MI"),
    "ALMI": ("ASMI", "LMI", "MI"),
    "LMI": ("LMI", "MI"),
    "PMI": ("MI",),
    "NT_": ("NDT",),  # non-specific T-wave changes
    "LOWT": ("NDT",),  # low amplitude T waves
    "TAB_": ("NDT",),  # T-wave abnormality
}
_CHALLENGE_EXTRA = {
    "164865005": ("MI",),
    "164867002": ("MI",),
    "57054005": ("MI",),
    "54329005": ("ASMI", "MI"),
    "253352002": ("LAO/LAE",),
    "446813000": ("LAO/LAE",),
    "446358003": ("RAO/RAE",),
    "67751000119106": ("RAO/RAE",),
    "164884008": ("PVC",),
    "11157007": ("PVC",),
    "251182009": ("PVC",),
    "251173003": ("PAC",),
    "251168009": ("PAC",),
}
_LUDB = (
    ("Sinus rhythm", "SR"),
    ("Sinus bradycardia", "SBRAD"),
    ("Sinus tachycardia", "STACH"),
    ("Sinus arrhythmia", "SARRH"),
    ("Irregular sinus rhythm", "SARRH"),
    ("Atrial fibrillation", "AFIB"),
    ("Atrial flutter", "AFLT"),
    ("left axis deviation", "LAD"),
    ("right axis deviation", "RAD"),
    ("Incomplete right bundle branch block", "IRBBB"),
    ("Complete right bundle branch block", "CRBBB"),
    ("Incomplete left bundle branch block", "ILBBB"),
    ("Complete left bundle branch block", "CLBBB"),
    ("I degree av block", "1AVB"),
    ("Iii degree av-block", "3AVB"),
    ("Left anterior hemiblock", "LAFB"),
    ("Non-specific intravintricular conduction delay", "IVCD"),
    ("Atrial extrasystole", "PAC"),
    ("Ventricular extrasystole", "PVC"),
    ("Left ventricular hypertrophy", "LVH"),
    ("Right ventricular hypertrophy", "RVH"),
    ("Left atrial hypertrophy", "LAO/LAE"),
    ("Left atrial overload", "LAO/LAE"),
    ("Right atrial overload", "RAO/RAE"),
    ("Right atrial hypertrophy", "RAO/RAE"),
    ("pacing", "PACE"),
    ("Pacemaker", "PACE"),
    ("P-synchrony", "PACE"),
    ("Stemi:", "STEMI"),
)
_LUDB_SCAR = {"inferior": "IMI", "lateral": "LMI", "anterior": "ASMI", "septal": "ASMI"}

VOCABULARY = {
    "ptbxl": frozenset(_PTBXL_DIRECT | {c for v in _PTBXL_ALIASES.values() for c in v}),
    "challenge": frozenset(
        set(by_snomed().values()) | {c for v in _CHALLENGE_EXTRA.values() for c in v}
    )
    - {"STEMI"},
    "ludb": frozenset({c for _, c in _LUDB} | {"MI", "IMI", "LMI", "ASMI"}),
    "ptb": frozenset({"SR", "MI", "LVOLT", "SARRH"}),
}


def ptbxl_codes(scp_codes: str) -> set[str]:
    text = str(scp_codes).replace(";", ",")
    try:
        keys = set(ast.literal_eval(text)) if text.startswith("{") else set()
    except (ValueError, SyntaxError):
        keys = set()
    out = {k for k in keys if k in _PTBXL_DIRECT}
    for k in keys:
        out |= set(_PTBXL_ALIASES.get(k, ()))
    return out


def snomed_codes(dx: str) -> set[str]:
    table = by_snomed()
    out = set()
    for sid in str(dx).replace(",", ";").split(";"):
        sid = sid.strip()
        if sid in table:
            out.add(table[sid])
        out |= set(_CHALLENGE_EXTRA.get(sid, ()))
    return out


def ludb_codes(findings: str) -> set[str]:
    """Each finding matches a phrase at its start ("Complete ..." must not match
    "Incomplete ..."), axis phrases anywhere (they follow "Electric axis of the heart:")."""
    out = set()
    for item in str(findings).split("|"):
        low = item.lower()
        for needle, code in _LUDB:
            n = needle.lower()
            if low.startswith(n) or (code in ("LAD", "RAD", "PACE") and n in low):
                out.add(code)
        if item.startswith("Scar formation:") or item.startswith("Stemi:"):
            out.add("MI")
            for word, code in _LUDB_SCAR.items():
                if word in item:
                    out.add(code)
    return out


def codes_for(source: str, labels: str) -> set[str]:
    if source == "ptbxl":
        return ptbxl_codes(labels)
    if source in ("challenge", "ptb"):
        return snomed_codes(labels)
    if source == "ludb":
        return ludb_codes(labels)
    raise ValueError(f"unknown source {source!r}")
