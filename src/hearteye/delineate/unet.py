"""The delineation network: a small lead-wise 1-D U-Net with a cross-lead context layer.

Training and export only (imports torch); serving runs the exported ONNX file through
`hearteye.delineate.runtime`, which never imports this module.

Shape convention: input ``x[batch, lead, sample]`` at 500 Hz (any number of leads, 1..12,
any length that is a multiple of ``LeadUNet.multiple``), output logits
``[batch, lead, 3, sample]`` for the channels ``CHANNELS`` = (P, QRS, QT).

Design (see src/hearteye/models/MODEL_CARD.md for the measurements behind it):
- every lead goes through the same weights (lead-wise), so one model serves 1-, 3- and
  12-lead recordings and gives per-lead boundaries, which is also how LUDB is annotated;
- each lead-window is normalised inside the network (mean removed, divided by its std), so
  the model does not depend on gain or on how the caller z-scored;
- space-to-depth: 4 consecutive samples become 4 channels, so the U-Net runs at 125 Hz with
  GEMM-friendly channel counts (under 20 ms per 12-lead 10 s record on one CPU thread, where
  a full-rate U-Net of the same depth took ~60 ms); the head emits 4 phases per class and
  depth-to-space restores a logit for every 500 Hz sample (2 ms boundary resolution);
- at the bottleneck (128 ms per step, ~1.5 s receptive field) the mean over leads of the lead
  features is added back to every lead: a permutation-invariant "what do the other leads see"
  signal that works for any lead count (with one lead it is the lead itself).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CHANNELS: tuple[str, ...] = ("P", "QRS", "QT")


def conv_block(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv1d(c_out, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


class LeadUNet(nn.Module):
    def __init__(
        self,
        widths: tuple[int, ...] = (16, 24, 32, 48, 64),
        kernel: int = 7,
        fold: int = 4,
        lead_context: bool = True,
        dec_double: bool = False,
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.kernel = kernel
        self.fold = fold
        self.lead_context = lead_context
        self.multiple = fold * 2 ** (len(widths) - 1)
        n_out = len(CHANNELS)
        # Space-to-depth: `fold` consecutive samples become `fold` input channels, so the
        # whole network runs at 500/fold Hz with GEMM-friendly channel counts; the head
        # emits `fold` phases per class and depth-to-space restores full 500 Hz resolution.
        self.stem = nn.Sequential(
            nn.Conv1d(fold, widths[0], kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.down = nn.ModuleList()
        c_prev = widths[0]
        for c in widths:
            self.down.append(conv_block(c_prev, c, kernel))
            c_prev = c
        self.context = nn.Conv1d(widths[-1], widths[-1], 1) if lead_context else None
        self.up = nn.ModuleList()
        for c in reversed(widths[:-1]):
            if dec_double:
                self.up.append(conv_block(c_prev + c, c, kernel))
            else:
                self.up.append(
                    nn.Sequential(
                        nn.Conv1d(c_prev + c, c, kernel, padding=kernel // 2, bias=False),
                        nn.BatchNorm1d(c),
                        nn.ReLU(inplace=True),
                    )
                )
            c_prev = c
        self.head = nn.Conv1d(c_prev, n_out * fold, 3, padding=1)

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """Per lead-window: remove the mean, divide by the standard deviation (floored)."""
        x = x - x.mean(dim=-1, keepdim=True)
        std = x.pow(2).mean(dim=-1, keepdim=True).sqrt()
        return x / (std + 1e-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n_leads, t = x.shape
        f = self.fold
        x = self.normalise(x).reshape(b * n_leads, t // f, f).transpose(1, 2)
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                h = F.max_pool1d(h, 2)
            h = block(h)
            skips.append(h)
        if self.context is not None:
            c, tb = h.shape[1], h.shape[2]
            g = h.reshape(b, n_leads, c, tb).mean(dim=1)  # [b, c, tb]
            g = self.context(g).unsqueeze(1).expand(b, n_leads, c, tb).reshape(b * n_leads, c, tb)
            h = h + g
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = block(torch.cat([h, skip], dim=1))
        out = self.head(h)  # [b*leads, classes*fold, t/fold]
        out = out.reshape(b, n_leads, len(CHANNELS), f, t // f).transpose(3, 4)
        return out.reshape(b, n_leads, len(CHANNELS), t)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def export_onnx(model: LeadUNet, path, opset: int = 18, metadata: dict | None = None) -> None:
    """Export with dynamic batch (windows), leads and samples. Eval mode, BN folded by ORT.

    ``metadata`` (str -> str) is stored in the ONNX file's metadata_props, where the runtime
    reads the channel names, sampling rate and length multiple.
    """
    import onnx

    model = model.eval()
    dummy = torch.randn(2, 3, 8 * model.multiple)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["signal"],
        output_names=["logits"],
        dynamic_axes={
            "signal": {0: "windows", 1: "leads", 2: "samples"},
            "logits": {0: "windows", 1: "leads", 3: "samples"},
        },
        opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    meta = {"channels": ",".join(CHANNELS), "fs": "500.0", "multiple": str(model.multiple)}
    meta.update(metadata or {})
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(path))
