"""Train the delineation U-Net on the prepared LUDB windows. Read it top to bottom.

    hearteye train-delineator --data hearteye-data/prepared/ludb \
        --out src/hearteye/models/delineator.onnx

Input: the folders written by `hearteye prepare` (one per split): ``X_data.npy`` (N, 5000, 12)
z-scored float32, ``Y_lead_data.npy`` (N, 5000, 12, 3) per-lead P/QRS/QT masks and
``M_lead_data.npy`` (N, 5000, 12) per-lead validity (annotated region). Only ``train/`` and
``val/`` are opened; the test split is never read here.

What happens:
1. load train and val; every window becomes 12 lead-rows sharing one record context;
2. each step draws a batch of windows, a random crop (time shift), a random lead subset
   (lead dropout: 1..12 leads, so the model works on single- and 3-lead devices) and, if
   enabled, noise / baseline wander / mains augmentation; with ``--device-augment`` also
   what other devices do (`device_augment`: NST-type noise, pass bands, sampling-rate
   round trips, sign flips; `hearteye.train.degrade`), and selection on degraded val windows
   too (`val_sets`);
3. masked binary cross-entropy: samples outside the annotated region teach nothing;
4. every ``eval_every`` steps the val windows are delineated (same post-processing as serving)
   and scored with the evaluator's protocol; the best val score is kept, training stops after
   ``patience`` evaluations without improvement;
5. the best weights are exported to ONNX (+ a JSON log of config, history, timings beside it).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from hearteye.delineate.postprocess import beats_from_probs, boundaries, runs
from hearteye.delineate.unet import CHANNELS, LeadUNet, count_params, export_onnx
from hearteye.train import degrade
from hearteye.train.evaluate_delineator import Evaluator

FS = 500.0


@dataclass
class TrainConfig:
    data: str = "hearteye-data/prepared/ludb"
    train_split: str = "train"
    val_split: str = "val"
    out: str = "src/hearteye/models/delineator.onnx"
    seed: int = 1337
    threads: int = 2
    # model
    widths: tuple[int, ...] = (16, 24, 32, 48, 64)
    kernel: int = 5
    fold: int = 4
    lead_context: bool = True
    # optimisation
    batch_windows: int = 8
    crop: int = 4096  # samples per training crop (multiple of the model's 64)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    max_steps: int = 2500
    eval_every: int = 100
    patience: int = 8  # evaluations without improvement
    max_minutes: float = 45.0
    # augmentation
    augment: bool = True
    lead_dropout: float = 0.5  # probability that a batch uses a random subset of leads
    noise_sd: float = 0.15  # max Gaussian noise SD (signal is z-scored: SD 1)
    wander: float = 0.5  # max baseline wander amplitude
    mains: float = 0.1  # max 50/60 Hz amplitude
    # other devices (hearteye.train.degrade), each drawn per window; 0 turns one off
    p_resample: float = 0.0  # recorded at one of `device_rates` and resampled back
    device_rates: tuple[float, ...] = (100.0, 250.0, 360.0, 1000.0)
    p_band: float = 0.0  # a device pass band: AC-coupling high-pass and/or low-pass
    p_noise: float = 0.0  # NST-type noise (wander, electrode motion, muscle), random mix
    snr_db: tuple[float, float] = (3.0, 24.0)  # SNR range of that noise (NST convention)
    p_invert: float = 0.0  # per lead-row sign flip (reversed electrodes, aVR-like leads)
    few_leads: float = 0.0  # share of lead-dropout batches with 1-3 leads (ambulatory)
    robust_val: bool = False  # select on clean + degraded val windows (see `val_sets`)
    extra: dict = field(default_factory=dict)


# The augmentation for other devices, rates and noise (`hearteye train-delineator
# --device-augment`), selected on clean + degraded val windows.
DEVICE_AUGMENT = {
    "p_resample": 0.4,
    "p_band": 0.3,
    "p_noise": 0.5,
    "p_invert": 0.1,
    "few_leads": 0.5,
    "robust_val": True,
}


def load_split(folder: Path):
    """(x [N, lead, sample], y [N, lead, 3, sample] uint8, m [N, lead, sample] bool)."""
    x = np.load(folder / "X_data.npy", mmap_mode="r")
    y = np.load(folder / "Y_lead_data.npy", mmap_mode="r")
    m = np.load(folder / "M_lead_data.npy", mmap_mode="r")
    x = np.ascontiguousarray(np.transpose(x, (0, 2, 1)), dtype=np.float32)
    y = np.ascontiguousarray(np.transpose(y, (0, 2, 3, 1)), dtype=np.uint8)
    m = np.ascontiguousarray(np.transpose(m, (0, 2, 1))).astype(bool)
    return x, y, m


def augment(x: np.ndarray, rng: np.random.Generator, cfg: TrainConfig) -> np.ndarray:
    """Noise, baseline wander and mains hum, per lead-row, each at a random strength."""
    b, n_leads, t = x.shape
    tt = np.arange(t, dtype=np.float32) / FS
    out = x.copy()
    out += rng.normal(size=x.shape).astype(np.float32) * rng.uniform(
        0, cfg.noise_sd, size=(b, n_leads, 1)
    ).astype(np.float32)
    freq = rng.uniform(0.05, 0.5, size=(b, n_leads, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(b, n_leads, 1))
    amp = rng.uniform(0, cfg.wander, size=(b, n_leads, 1))
    out += (amp * np.sin(2 * np.pi * freq * tt + phase)).astype(np.float32)
    hum = rng.random((b, 1, 1)) < 0.3
    mains_f = np.where(rng.random((b, 1, 1)) < 0.5, 50.0, 60.0)
    amp = rng.uniform(0, cfg.mains, size=(b, n_leads, 1)) * hum
    out += (amp * np.sin(2 * np.pi * mains_f * tt)).astype(np.float32)
    return out


LOW_CUTS = (None, 0.05, 0.5)  # AC-coupling high-pass of front ends (Hz)
HIGH_CUTS = (None, 40.0, 100.0)  # monitor and diagnostic low-pass (Hz)


def device_augment(x: np.ndarray, rng: np.random.Generator, cfg: TrainConfig) -> np.ndarray:
    """Per window, in a device's order: noise at the electrodes, the front end's pass band,
    the converter's rate (`hearteye.train.degrade`); then per lead-row sign flips."""
    out = np.asarray(x, np.float64).copy()
    for w in range(len(out)):
        if rng.random() < cfg.p_noise:
            snr = rng.uniform(*cfg.snr_db)
            weights = rng.dirichlet(np.ones(len(degrade.NOISE_TYPES)))
            out[w] = degrade.add_noise(out[w], FS, snr, rng, weights=tuple(weights))
        if rng.random() < cfg.p_band:
            low = LOW_CUTS[rng.integers(len(LOW_CUTS))]
            high = HIGH_CUTS[rng.integers(len(HIGH_CUTS))]
            out[w] = degrade.band_limit(out[w], FS, low, high)
        if rng.random() < cfg.p_resample:
            rate = cfg.device_rates[rng.integers(len(cfg.device_rates))]
            out[w] = degrade.resample_round_trip(out[w], FS, rate)
    if cfg.p_invert > 0:
        out *= np.where(rng.random(out.shape[:2] + (1,)) < cfg.p_invert, -1.0, 1.0)
    return out.astype(np.float32)


def draw_batch(x, y, m, rng: np.random.Generator, cfg: TrainConfig):
    n, n_leads_all, t = x.shape
    idx = rng.choice(n, size=min(cfg.batch_windows, n), replace=False)
    start = rng.integers(0, t - cfg.crop + 1, size=len(idx))
    if rng.random() < cfg.lead_dropout:
        few = cfg.few_leads > 0 and rng.random() < cfg.few_leads
        k = int(rng.integers(1, 4 if few else n_leads_all + 1))
    else:
        k = n_leads_all
    leads = np.stack([rng.choice(n_leads_all, size=k, replace=False) for _ in idx])
    sl = [slice(s, s + cfg.crop) for s in start]
    xb = np.stack([x[i][leads[j]][:, sl[j]] for j, i in enumerate(idx)])
    yb = np.stack([y[i][leads[j]][:, :, sl[j]] for j, i in enumerate(idx)])
    mb = np.stack([m[i][leads[j]][:, sl[j]] for j, i in enumerate(idx)])
    if cfg.augment:
        if max(cfg.p_noise, cfg.p_band, cfg.p_resample, cfg.p_invert) > 0:
            xb = device_augment(xb, rng, cfg)
        xb = augment(xb, rng, cfg)
    return torch.from_numpy(xb), torch.from_numpy(yb.astype(np.float32)), torch.from_numpy(mb)


def masked_bce(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    w = valid.unsqueeze(2).expand_as(target).float()
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * w).sum() / w.sum().clamp(min=1.0)


@torch.no_grad()
def predict_windows(model: LeadUNet, x: np.ndarray, batch: int = 4) -> np.ndarray:
    """Probabilities [N, lead, 3, sample] for whole windows (edge-padded to the multiple)."""
    model.eval()
    t = x.shape[-1]
    pad = (-t) % model.multiple
    out = []
    for i in range(0, len(x), batch):
        xb = np.pad(x[i : i + batch], ((0, 0), (0, 0), (0, pad)), mode="edge")
        out.append(torch.sigmoid(model(torch.from_numpy(xb))).numpy()[..., :t])
    return np.concatenate(out)


def score(prob: np.ndarray, y: np.ndarray, m: np.ndarray) -> dict:
    """The evaluator's protocol on windows: reference boundaries from the target masks."""
    ev = Evaluator(FS)
    for w in range(len(prob)):
        for lead in range(prob.shape[1]):
            valid = runs(m[w, lead])
            if len(valid) == 0:
                continue
            region = (int(valid[0, 0]), int(valid[-1, 1]))
            ref = boundaries(beats_from_probs(y[w, lead].astype(np.float32), FS))
            pred = boundaries(beats_from_probs(prob[w, lead], FS))
            # Reference boundaries at the region's edge are cut by the window, not real.
            ref = {k: v[(v > region[0]) & (v < region[1])] for k, v in ref.items()}
            ev.add_lead(ref, pred, region)
    rep = ev.report()["boundaries"]
    f1 = np.mean([r["f1"] for r in rep.values()])
    strict = np.mean([[v for k, v in r.items() if k.startswith("f1_at")][0] for r in rep.values()])
    return {
        "f1": float(f1),
        "f1_strict": float(strict),
        "score": float(f1 + strict),
        "per_boundary": rep,
    }


VAL_LEADS_TWO = (1, 10)  # II and V5 in LUDB's order: the usual two ambulatory leads


def val_sets(xv, yv, mv, cfg: TrainConfig) -> dict[str, tuple]:
    """The windows the model is selected on: the clean val split and, with ``robust_val``,
    the same windows as a two-lead 250 Hz ambulatory device with a 0.5-40 Hz front end and
    12 dB of mixed noise would give them (all 12 leads, and leads II + V5 alone). Fixed seed,
    so every evaluation sees the same degraded windows."""
    sets = {"clean": (xv, yv, mv)}
    if cfg.robust_val:
        rng = np.random.default_rng(cfg.seed + 1)
        xd = degrade.add_noise(xv.astype(np.float64), FS, 12.0, rng)
        xd = degrade.resample_round_trip(degrade.band_limit(xd, FS, 0.5, 40.0), FS, 250.0)
        xd = xd.astype(np.float32)
        two = list(VAL_LEADS_TWO)
        sets["device"] = (xd, yv, mv)
        sets["device_II_V5"] = (
            np.ascontiguousarray(xd[:, two]),
            np.ascontiguousarray(yv[:, two]),
            np.ascontiguousarray(mv[:, two]),
        )
    return sets


def score_sets(model, sets: dict[str, tuple]) -> dict:
    """`score` on every val set; the selection score is their mean."""
    per = {name: score(predict_windows(model, x), y, m) for name, (x, y, m) in sets.items()}
    out = dict(per["clean"])
    out["score"] = float(np.mean([s["score"] for s in per.values()]))
    out["sets"] = {name: {"f1": s["f1"], "f1_strict": s["f1_strict"]} for name, s in per.items()}
    if len(per) > 1:
        out["robust"] = {name: s["per_boundary"] for name, s in per.items() if name != "clean"}
    return out


def train(cfg: TrainConfig) -> dict:
    t0 = time.time()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    data = Path(cfg.data)
    xt, yt, mt = load_split(data / cfg.train_split)
    xv, yv, mv = load_split(data / cfg.val_split)
    sets = val_sets(xv, yv, mv, cfg)
    print(f"train {xt.shape[0]} windows, val {xv.shape[0]} windows, leads {xt.shape[1]}")

    model = LeadUNet(
        widths=cfg.widths, kernel=cfg.kernel, fold=cfg.fold, lead_context=cfg.lead_context
    )
    assert cfg.crop % model.multiple == 0, f"crop must be a multiple of {model.multiple}"
    print(f"LeadUNet {count_params(model):,} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.max_steps, pct_start=0.05
    )

    best, best_state, best_step, bad, history = -1.0, None, 0, 0, []
    for step in range(1, cfg.max_steps + 1):
        model.train()
        xb, yb, mb = draw_batch(xt, yt, mt, rng, cfg)
        loss = masked_bce(model(xb), yb, mb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            s = score_sets(model, sets)
            minutes = (time.time() - t0) / 60
            entry = {
                "step": step,
                "loss": loss.item(),
                "minutes": round(minutes, 2),
                "val_f1": s["f1"],
                "val_f1_strict": s["f1_strict"],
            }
            if len(sets) > 1:
                entry["val_sets"] = s["sets"]
            history.append(entry)
            extra = "".join(f" {k} {v['f1']:.4f}" for k, v in s["sets"].items() if k != "clean")
            print(
                f"step {step:5d} loss {loss.item():.4f} val F1 {s['f1']:.4f} "
                f"strict {s['f1_strict']:.4f}{extra} ({minutes:.1f} min)",
                flush=True,
            )
            if s["score"] > best:
                best, best_step, bad = s["score"], step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
            if bad >= cfg.patience or minutes > cfg.max_minutes:
                print(f"stopping at step {step} (best step {best_step})")
                break

    model.load_state_dict(best_state)
    final = score_sets(model, sets)
    if len(sets) == 1:
        final.pop("sets")
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(
        model,
        out,
        metadata={
            "channels": ",".join(CHANNELS),
            "fs": str(FS),
            "multiple": str(model.multiple),
            "train_config": json.dumps(asdict(cfg)),
        },
    )
    log = {
        "config": asdict(cfg),
        "parameters": count_params(model),
        "best_step": best_step,
        "val": final,
        "history": history,
        "minutes": round((time.time() - t0) / 60, 2),
        "onnx_bytes": out.stat().st_size,
    }
    out.with_suffix(".train.json").write_text(json.dumps(log, indent=2) + "\n")
    print(
        f"best val F1 {final['f1']:.4f} strict {final['f1_strict']:.4f}; "
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {log['minutes']} min"
    )
    return log


if __name__ == "__main__":  # pragma: no cover
    import sys

    cfg = TrainConfig()
    for arg in sys.argv[1:]:
        k, v = arg.lstrip("-").split("=", 1)
        cur = getattr(cfg, k)
        setattr(cfg, k, type(cur)(json.loads(v)) if not isinstance(cur, str) else v)
    train(cfg)
