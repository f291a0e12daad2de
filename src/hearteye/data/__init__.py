"""Training data: master tables, patient-aware splits, 10 s windows with P/QRS/QT masks.

Flow: ``hearteye split`` (adapters `ludb`, `mimic`, `ptbxl` -> `master` table -> `split`)
then ``hearteye prepare`` (`prepare` orchestrates shards; `worker` does one record: read,
preprocess, window, `masks` from `annotations` or from machine measurements placed on the
beats that `qrs` detects).
"""

# The data sets with an adapter (`hearteye.data.master.build_master`); kept here, free of
# pandas, so the CLI can list them without importing the whole pipeline.
DATASETS: tuple[str, ...] = ("ludb", "mimic", "ptbxl", "challenge")
