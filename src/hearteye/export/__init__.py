"""Exports of an `Analysis` for the systems an ECG result goes to: FHIR R4 for the electronic
record (`hearteye.export.fhir`), DICOM 12-lead waveform for PACS (`hearteye.export.dicom`),
measurements as CSV or JSON for spreadsheets and research (`hearteye.export.csv`).

Every function takes an `Analysis` (and what the analysis cannot know: who the patient is,
when the ECG was taken, who confirmed it) and returns bytes or plain data; none reads a clock,
a file or the network, so the same call gives the same output in the CLI, the API and tests.
"""
