"""The seed's three neural networks and an attention CNN, and one seeded, early-stopping training
loop for all of them.

    net = make_net("cnn2d", spec.image_shape, n_classes=4)
    net, history = fit_net(net, X, y, X_val, y_val, seed=0)   # the seed's recipe for that kind
    proba = predict_proba(net, X_test)

`make_net` builds the net of a kind's registry record (`tonecue.train.models`: its class, its
hyperparameters) and `fit_net` trains it by the record's recipe.

| kind    | input         | layers (as the seed describes them)                                    |
|---------|---------------|------------------------------------------------------------------------|
| `cnn1d` | (n, k)        | the k featurewiz-selected statistics as one channel: Conv1d (kernel 5), |
|         |               | ReLU, dropout 0.5, flatten, dense                                      |
| `cnn2d` | (n, 2, 20, 50)| MFCCs and log-mel bands as two channels: two convs (kernel (2,5),      |
|         |               | stride 2), (2,2) max pool, a third conv, a dense layer, the classifier; |
|         |               | dropout 0.5 before the ReLU after each conv and dense layer            |
| `crnn`  | (n, 50, 40)   | frames of 20 MFCCs + 20 log-mel bands: two Conv1d over time, a max     |
|         |               | pool, a bidirectional LSTM (128 hidden, one layer), the classifier     |
| `attn-cnn` | (n, frames, 40) | the same frames: three Conv1d blocks with batch norm (one dilated, |
|         |               | a max pool), attentive mean + std pooling over time, the classifier    |
|         |               | (not the seed's: a small net for the pooled corpora, issue 11)         |

Conventions shared by all of them:

* `forward` returns logits; `probabilities(net, x)` (or the `with_softmax(net)` module, which is
  what an ONNX export wants) applies the softmax. Training uses cross-entropy on logits; the 2D
  CNN's recipe spells it the seed's way, NLL on log-softmax, which is the same number.
* Input normalisation lives in the module as buffers (`mean`, `std`), set from the training set
  by `fit_net` (or `net.set_normalization(X)`), so it travels with a saved or exported model.
* `forward` is pure tensor arithmetic with static shapes except the batch: no Python branching on
  values, no in-place writes to buffers. That keeps torch.onnx's dynamo exporter happy with a
  dynamic batch dimension.

`fit_net` is reproducible: the same seed on the same device and thread count gives the same
weights (CPU: bit for bit). It re-initialises the net from the seed, shuffles with its own
`torch.Generator`, turns on `torch.use_deterministic_algorithms` (warn-only) and puts the previous
global settings back when it returns.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from torch import nn

from .evaluate import unweighted_average_recall
from .models import ModelKindError, get as get_kind

__all__ = [
    "AttentionCnn",
    "Cnn1d",
    "Cnn2d",
    "CnnBiLstm",
    "EpochRecord",
    "History",
    "fit_net",
    "load_net",
    "make_net",
    "pick_device",
    "predict_proba",
    "probabilities",
    "save_net",
    "unweighted_average_recall",
    "with_softmax",
]

_STD_FLOOR = 1e-6
_SAVE_FORMAT = 2  # 2: every kind's config holds input_shape (1: the 1D CNN's held n_inputs)


# ------------------------------------------------------------------------------------ modules


class _Net(nn.Module):
    """What the three nets share: input shape, class count, normalisation buffers, config.

    `kind` is the registry name `make_net` built it as (it picks the recipe `fit_net` follows).
    """

    kind: str = ""

    def __init__(self, input_shape: Sequence[int], n_classes: int, norm_shape: Sequence[int]) -> None:
        super().__init__()
        self.input_shape = tuple(int(d) for d in input_shape)
        if any(d <= 0 for d in self.input_shape):
            raise ValueError(f"input shape must be positive, got {self.input_shape}")
        if int(n_classes) < 2:
            raise ValueError(f"need at least two classes, got {n_classes}")
        self.n_classes = int(n_classes)
        self.register_buffer("mean", torch.zeros(*norm_shape))
        self.register_buffer("std", torch.ones(*norm_shape))

    # Dimensions of the input (batch first) that share one mean and std.
    _norm_reduce: tuple[int, ...] = (0,)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments: `make_net(**net.config)` builds the same architecture."""
        return {"kind": self.kind, **self._config}

    def set_normalization(self, X: np.ndarray | torch.Tensor) -> None:
        """Set the mean/std buffers from training inputs (float64 sums, std floored at 1e-6)."""
        x = torch.as_tensor(np.asarray(X), dtype=torch.float64)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"expected inputs of shape (n, {self.input_shape}), got {tuple(x.shape)}")
        mean = x.mean(dim=self._norm_reduce, keepdim=True)
        std = x.std(dim=self._norm_reduce, keepdim=True, unbiased=False).clamp_min(_STD_FLOOR)
        with torch.no_grad():
            self.mean.copy_(mean.reshape(self.mean.shape).to(self.mean))
            self.std.copy_(std.reshape(self.std.shape).to(self.std))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Cnn1d(_Net):
    """1D CNN on the selected statistics vector (n, k), read as one channel of length k.

    Conv1d(1, channels, kernel) with "same" padding (so any k works, even k < kernel), ReLU,
    dropout, flatten, Linear(channels * k, n_classes). Normalisation: per feature.
    """

    def __init__(self, input_shape: Sequence[int], n_classes: int, *, channels: int = 64, kernel_size: int = 5, dropout: float = 0.5) -> None:
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 1:
            raise ValueError(f"Cnn1d takes (features,): the number of selected statistics, got {input_shape}")
        (n_inputs,) = input_shape
        super().__init__(input_shape, n_classes, (1, n_inputs))
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self._config = {"input_shape": [n_inputs], "n_classes": self.n_classes, "channels": channels, "kernel_size": kernel_size, "dropout": dropout}
        self.conv = nn.Conv1d(1, channels, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels * n_inputs, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).unsqueeze(1)  # (n, 1, k)
        x = self.dropout(F.relu(self.conv(x)))
        return self.fc(torch.flatten(x, 1))


class Cnn2d(_Net):
    """2D CNN on (n, 2, rows, frames): the seed's (2, 20, 50) MFCC + log-mel image.

    conv(2->c1, (2,5), stride 2), dropout, ReLU; conv(c1->c2, same), dropout, ReLU; max pool
    (2,2); conv(c2->c3, same), dropout, ReLU; flatten; dense(hidden), dropout, ReLU; Linear to
    classes. At (2, 20, 50) the maps go (c1,10,23) -> (c2,5,10) -> pool (c2,2,5) -> (c3,1,1).
    Normalisation: per channel and row (each MFCC and each mel band), over windows and frames.
    """

    _norm_reduce = (0, 3)

    def __init__(
        self,
        input_shape: Sequence[int] = (2, 20, 50),
        n_classes: int = 4,
        *,
        channels: Sequence[int] = (32, 64, 64),
        hidden: int = 64,
        kernel_size: Sequence[int] = (2, 5),
        stride: int = 2,
        dropout: float = 0.5,
    ) -> None:
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"Cnn2d takes (channels, rows, frames), got {input_shape}")
        c_in, rows, _ = input_shape
        super().__init__(input_shape, n_classes, (1, c_in, rows, 1))
        c1, c2, c3 = (int(c) for c in channels)
        kernel_size = tuple(int(k) for k in kernel_size)
        self._config = {
            "input_shape": list(input_shape), "n_classes": self.n_classes, "channels": [c1, c2, c3],
            "hidden": hidden, "kernel_size": list(kernel_size), "stride": stride, "dropout": dropout,
        }
        self.features = nn.Sequential(
            nn.Conv2d(c_in, c1, kernel_size, stride=stride), nn.Dropout(dropout), nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size, stride=stride), nn.Dropout(dropout), nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(c2, c3, kernel_size, stride=stride), nn.Dropout(dropout), nn.ReLU(),
        )
        n_flat = _flat_size(self.features, input_shape, "Cnn2d")
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(n_flat, hidden), nn.Dropout(dropout), nn.ReLU(), nn.Linear(hidden, self.n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.normalize(x)))


def _frame_input(input_shape: Sequence[int], kernel_size: int, min_frames: int, name: str) -> tuple[tuple[int, int], int]:
    """A frame-sequence net's checked (frames, features) and its feature count."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 2:
        raise ValueError(f"{name} takes (frames, features), got {shape}")
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
    if shape[0] < min_frames:
        raise ValueError(f"{name} needs at least {min_frames} frames, got {shape[0]}")
    return shape, shape[1]


class CnnBiLstm(_Net):
    """CNN front end and bidirectional LSTM on (n, frames, features): the seed's (50, 40) sequence.

    Conv1d over time (features as channels, kernel 5, same padding), ReLU, a second Conv1d, ReLU,
    MaxPool1d(2), then nn.LSTM(bidirectional, hidden 128, one layer); the last forward and the last
    backward hidden states, concatenated, go through dropout to a Linear classifier.
    Normalisation: per feature, over windows and frames.
    """

    _norm_reduce = (0, 1)

    def __init__(
        self,
        input_shape: Sequence[int] = (50, 40),
        n_classes: int = 4,
        *,
        conv_channels: int = 64,
        kernel_size: int = 5,
        pool: int = 2,
        hidden: int = 128,
        dropout: float = 0.5,
    ) -> None:
        input_shape, n_feat = _frame_input(input_shape, kernel_size, pool, "CnnBiLstm")
        super().__init__(input_shape, n_classes, (1, 1, n_feat))
        self._config = {
            "input_shape": list(input_shape), "n_classes": self.n_classes, "conv_channels": conv_channels,
            "kernel_size": kernel_size, "pool": pool, "hidden": hidden, "dropout": dropout,
        }
        pad = kernel_size // 2
        self.conv = nn.Sequential(
            nn.Conv1d(n_feat, conv_channels, kernel_size, padding=pad), nn.ReLU(),
            nn.Conv1d(conv_channels, conv_channels, kernel_size, padding=pad), nn.ReLU(),
            nn.MaxPool1d(pool),
        )
        self.lstm = nn.LSTM(conv_channels, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).transpose(1, 2)  # (n, features, frames)
        x = self.conv(x).transpose(1, 2)  # (n, frames // pool, channels)
        _, (h, _) = self.lstm(x)  # h: (2, n, hidden), forward then backward
        x = torch.cat([h[0], h[1]], dim=1)
        return self.fc(self.dropout(x))


class AttentionCnn(_Net):
    """Convolutions over time and attentive statistics pooling on (n, frames, features): the
    sequence input (MFCCs and log-mel bands per frame) of a window of any length.

    Three Conv1d blocks (features as channels; batch norm, ReLU; the second dilated, then a max
    pool of 2) give a frame-level map; a small attention net scores each frame and the window is
    the attention-weighted mean and standard deviation of the map (so a pause or a breath inside
    the window weighs little), then dropout and a Linear classifier. About 0.15 M parameters at
    the defaults. Normalisation: per feature, over windows and frames.
    """

    _norm_reduce = (0, 1)

    def __init__(
        self,
        input_shape: Sequence[int] = (87, 40),
        n_classes: int = 4,
        *,
        channels: Sequence[int] = (96, 96, 128),
        kernel_size: int = 5,
        attention: int = 64,
        dropout: float = 0.3,
    ) -> None:
        input_shape, n_feat = _frame_input(input_shape, kernel_size, 2, "AttentionCnn")
        super().__init__(input_shape, n_classes, (1, 1, n_feat))
        c1, c2, c3 = (int(c) for c in channels)
        self._config = {
            "input_shape": list(input_shape), "n_classes": self.n_classes, "channels": [c1, c2, c3],
            "kernel_size": kernel_size, "attention": attention, "dropout": dropout,
        }
        pad = kernel_size // 2

        def block(c_in: int, c_out: int, dilation: int = 1) -> list[nn.Module]:
            return [nn.Conv1d(c_in, c_out, kernel_size, padding=pad * dilation, dilation=dilation),
                    nn.BatchNorm1d(c_out), nn.ReLU()]

        self.conv = nn.Sequential(*block(n_feat, c1), *block(c1, c2, dilation=2), nn.MaxPool1d(2), *block(c2, c3))
        self.score = nn.Sequential(nn.Conv1d(c3, attention, 1), nn.Tanh(), nn.Conv1d(attention, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * c3, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.normalize(x).transpose(1, 2))  # (n, channels, frames // 2)
        w = torch.softmax(self.score(h), dim=2)  # (n, 1, frames // 2): each frame's weight
        mean = (h * w).sum(dim=2)
        std = ((h - mean.unsqueeze(2)).pow(2) * w).sum(dim=2).clamp_min(1e-6).sqrt()
        return self.fc(self.dropout(torch.cat([mean, std], dim=1)))


def _flat_size(features: nn.Module, input_shape: tuple[int, ...], name: str) -> int:
    try:
        with torch.no_grad():
            out = features(torch.zeros(1, *input_shape))
    except RuntimeError as exc:
        raise ValueError(f"{name}: input shape {input_shape} is too small for its layers ({exc})") from None
    return int(out.numel())


def net_kind(kind: str):
    """The registry record of a net kind (`tonecue.train.models`)."""
    record = get_kind(kind)
    if record.family != "net":
        raise ModelKindError(f"{kind!r} is a {record.family} model, not a net")
    return record


def make_net(kind: str, input_shape: int | Sequence[int], n_classes: int, **kwargs: Any) -> _Net:
    """Build the net of a kind: "cnn1d" takes (k,) (k selected statistics; a bare k will do),
    "cnn2d" (2, 20, 50), "crnn" (50, 40).

    kwargs override the record's hyperparameters (channels, hidden, dropout, ...).
    """
    record = net_kind(kind)
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    net = record.builder(shape, n_classes, **{**record.params, **kwargs})
    if not isinstance(net, _Net):
        raise TypeError(f"{kind}: its factory built a {type(net).__name__}, not a net of this module")
    net.kind = record.name
    return net


def probabilities(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes of `net(x)` (whatever mode the net is in)."""
    return torch.softmax(net(x), dim=1)


class _WithSoftmax(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


def with_softmax(net: nn.Module) -> nn.Module:
    """A module that returns class probabilities: what the device's ONNX file should compute."""
    return _WithSoftmax(net)


# ---------------------------------------------------------------------------------- training


_SCHEDULES = ("onecycle", "constant")
_LOSSES = ("cross_entropy", "nll")
_MONITORS = ("uar", "loss")


@dataclass
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    val_loss: float | None
    val_uar: float | None
    val_accuracy: float | None
    lr: float  # at the end of the epoch
    seconds: float


@dataclass
class History:
    """What happened in `fit_net`.

    best_epoch: the epoch with the best validation score (the last epoch without validation).
    returned_epoch: the epoch whose weights `fit_net` returned (best_epoch unless restore_best
        was turned off).
    """

    kind: str
    device: str
    seed: int
    monitor: str
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    returned_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def train_loss(self) -> list[float]:
        return [e.train_loss for e in self.epochs]

    @property
    def val_loss(self) -> list[float | None]:
        return [e.val_loss for e in self.epochs]

    @property
    def val_uar(self) -> list[float | None]:
        return [e.val_uar for e in self.epochs]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given, else CUDA when torch sees a GPU, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_inputs(X: Any, shape: tuple[int, ...], name: str) -> torch.Tensor:
    X = np.asarray(X)
    if X.ndim != len(shape) + 1 or tuple(X.shape[1:]) != shape:
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, shape))}), got {X.shape}")
    X = X.astype(np.float32, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(X))


def _as_targets(y: Any, n: int, n_classes: int, name: str) -> torch.Tensor:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be 1-D with {n} labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} labels must lie in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    return torch.from_numpy(y.astype(np.int64))


def _class_weights(class_weight: Any, y: torch.Tensor, n_classes: int) -> torch.Tensor | None:
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or one weight per class, got {class_weight!r}")
        counts = torch.bincount(y, minlength=n_classes).double()
        weights = len(y) / (n_classes * counts.clamp_min(1))
        return weights.float()
    weights = torch.as_tensor(np.asarray(class_weight, dtype=np.float32))
    if weights.shape != (n_classes,):
        raise ValueError(f"class_weight needs {n_classes} weights, got shape {tuple(weights.shape)}")
    return weights


def _reset_parameters(net: nn.Module, seed: int) -> None:
    torch.manual_seed(seed)
    for module in net.modules():
        if module is not net and hasattr(module, "reset_parameters"):
            module.reset_parameters()


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(torch.split(order, batch_size))


def _loss_fn(kind: str, weights: torch.Tensor | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if kind == "nll":
        return lambda logits, target: F.nll_loss(F.log_softmax(logits, dim=1), target, weight=weights)
    return lambda logits, target: F.cross_entropy(logits, target, weight=weights)


def _evaluate(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device) -> tuple[float, float, float]:
    """(mean unweighted cross-entropy, UAR, accuracy) in eval mode."""
    net.eval()
    total = 0.0
    preds = []
    with torch.no_grad():
        for idx in _batches(len(X), batch_size, None):
            logits = net(X[idx].to(device))
            total += float(F.cross_entropy(logits, y[idx].to(device), reduction="sum"))
            preds.append(logits.argmax(dim=1).cpu())
    pred = torch.cat(preds).numpy()
    truth = y.numpy()
    return total / len(X), unweighted_average_recall(truth, pred), float(np.mean(pred == truth))


class _Determinism:
    """Turn on deterministic algorithms (warn-only) and restore the previous settings after."""

    def __init__(self, enabled: bool, num_threads: int | None) -> None:
        self.enabled = enabled
        self.num_threads = num_threads

    def __enter__(self) -> None:
        self.saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
            torch.get_num_threads(),
        )
        if self.enabled:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        if self.num_threads is not None:
            torch.set_num_threads(int(self.num_threads))

    def __exit__(self, *exc: Any) -> None:
        det, warn_only, cudnn_det, cudnn_bench, threads = self.saved
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def fit_net(
    model: _Net,
    X: Any,
    y: Any,
    X_val: Any = None,
    y_val: Any = None,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    patience: int | None | str = "recipe",
    schedule: str | None = None,
    loss: str | None = None,
    monitor: str = "uar",
    class_weight: Any = None,
    weight_decay: float = 0.0,
    normalize: bool = True,
    reinitialize: bool = True,
    restore_best: bool = True,
    deterministic: bool = True,
    num_threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[_Net, History]:
    """Train `model` on (X, y) with Adam; returns it (best weights, on the CPU, in eval mode) and a History.

    Arguments left as None take the recipe of the kind's registry record (epochs, lr, batch_size,
    schedule, loss); `patience` defaults to the recipe's too, and None turns early stopping off.

    X_val, y_val: held-out windows for early stopping and the history; the caller makes them
        speaker-disjoint from the training speakers. With them the best epoch's weights are
        returned (even when patience is None, unless restore_best is False); without them
        nothing stops early and the last epoch's weights are returned.
    schedule: "onecycle" (lr is the peak of OneCycleLR, stepped per batch) or "constant".
    monitor: "uar" (validation unweighted average recall, ties broken by the lower validation
        loss) or "loss" (validation cross-entropy). The best epoch's weights are restored.
    class_weight: None, "balanced" or one weight per class, for the training loss only.
    normalize: set the net's mean/std buffers from X first.
    reinitialize: re-draw all weights from `seed` first, so the result does not depend on what
        the global generator did before (turn off to fine-tune).
    deterministic: `torch.use_deterministic_algorithms(True, warn_only=True)` and cuDNN
        determinism while training; previous settings are restored. On CUDA it also sets
        CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment if unset (cuBLAS needs it for
        deterministic matmuls; it only takes effect if cuBLAS was not used before).
    device: None picks CUDA when available, else the CPU.
    num_threads: torch CPU threads while training (None: leave torch's setting alone).
    log: called with one line per epoch (e.g. print or logger.info).
    """
    if not isinstance(model, _Net):
        raise TypeError(f"fit_net trains the nets of this module, got {type(model).__name__}")
    if not model.kind:
        raise TypeError(f"build the {type(model).__name__} with make_net (it names the kind, whose recipe fit_net follows)")
    recipe = net_kind(model.kind).recipe
    epochs = recipe.epochs if epochs is None else int(epochs)
    lr = recipe.lr if lr is None else float(lr)
    batch_size = recipe.batch_size if batch_size is None else int(batch_size)
    schedule = recipe.schedule if schedule is None else schedule
    loss = recipe.loss if loss is None else loss
    if patience == "recipe":
        patience = recipe.patience
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    if schedule not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    if monitor not in _MONITORS:
        raise ValueError(f"monitor must be one of {_MONITORS}, got {monitor!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a positive integer or None, got {patience!r}")

    Xt = _as_inputs(X, model.input_shape, "X")
    yt = _as_targets(y, len(Xt), model.n_classes, "y")
    if len(Xt) == 0:
        raise ValueError("no training rows")
    has_val = X_val is not None or y_val is not None
    if has_val:
        if X_val is None or y_val is None:
            raise ValueError("give both X_val and y_val, or neither")
        Xv = _as_inputs(X_val, model.input_shape, "X_val")
        yv = _as_targets(y_val, len(Xv), model.n_classes, "y_val")
        if len(Xv) == 0:
            raise ValueError("the validation set is empty")
    dev = pick_device(device)
    if deterministic and dev.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    weights = _class_weights(class_weight, yt, model.n_classes)
    loss_fn = _loss_fn(loss, None if weights is None else weights.to(dev))
    history = History(kind=model.kind, device=str(dev), seed=seed, monitor=monitor)
    start = time.perf_counter()

    with _Determinism(deterministic, num_threads):
        np.random.seed(seed % 2**32)
        if reinitialize:
            _reset_parameters(model, seed)
        torch.manual_seed(seed)  # dropout
        if normalize:
            model.set_normalization(Xt)
        model.to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        steps_per_epoch = math.ceil(len(Xt) / batch_size)
        scheduler = None
        if schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
        shuffle = torch.Generator().manual_seed(seed)
        pin = dev.type == "cuda"
        best_key: tuple[float, ...] | None = None
        best_state: dict[str, torch.Tensor] | None = None
        stale = 0
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            total = 0.0
            for idx in _batches(len(Xt), batch_size, shuffle):
                xb, yb = Xt[idx], yt[idx]
                if pin:
                    xb, yb = xb.pin_memory(), yb.pin_memory()
                xb, yb = xb.to(dev, non_blocking=pin), yb.to(dev, non_blocking=pin)
                optimizer.zero_grad(set_to_none=True)
                batch_loss = loss_fn(model(xb), yb)
                batch_loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total += float(batch_loss.detach()) * len(idx)
            record = EpochRecord(
                epoch=epoch, train_loss=total / len(Xt), val_loss=None, val_uar=None, val_accuracy=None,
                lr=float(optimizer.param_groups[0]["lr"]), seconds=0.0,
            )
            if has_val:
                record.val_loss, record.val_uar, record.val_accuracy = _evaluate(model, Xv, yv, max(batch_size, 256), dev)
                key = (record.val_uar, -record.val_loss) if monitor == "uar" else (-record.val_loss,)
                if best_key is None or key > best_key:
                    best_key, stale = key, 0
                    history.best_epoch = epoch
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                else:
                    stale += 1
            record.seconds = time.perf_counter() - t0
            history.epochs.append(record)
            if log is not None:
                log(_describe(model.kind, record))
            if has_val and patience is not None and stale >= patience:
                history.stopped_early = epoch < epochs
                break
        history.returned_epoch = len(history.epochs)
        if best_state is None:
            history.best_epoch = len(history.epochs)
        elif restore_best:
            model.load_state_dict(best_state)
            history.returned_epoch = history.best_epoch
    model.cpu().eval()
    history.seconds = time.perf_counter() - start
    return model, history


def _describe(kind: str, r: EpochRecord) -> str:
    text = f"{kind} epoch {r.epoch}: train loss {r.train_loss:.4f}"
    if r.val_loss is not None:
        text += f", val loss {r.val_loss:.4f}, val UAR {r.val_uar:.3f}, val acc {r.val_accuracy:.3f}"
    return text + f", lr {r.lr:.2e}, {r.seconds:.1f} s"


def predict_proba(model: nn.Module, X: Any, batch_size: int = 256, device: str | torch.device | None = "cpu") -> np.ndarray:
    """(n, n_classes) float32 class probabilities, in eval mode, batch by batch.

    device: where to run ("cpu" by default; None picks CUDA when available). The model is put
    back on the CPU afterwards and left in eval mode.
    """
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise TypeError("predict_proba needs a net from this module (it reads input_shape)")
    Xt = _as_inputs(X, shape, "X")
    dev = pick_device(device)
    model.to(dev).eval()
    out = []
    with torch.no_grad():
        for idx in _batches(len(Xt), int(batch_size), None):
            out.append(probabilities(model, Xt[idx].to(dev)).cpu())
    model.cpu()
    if not out:
        return np.zeros((0, model.n_classes), dtype=np.float32)
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------------- storage


def save_net(model: _Net, path: str | Path) -> Path:
    """Write the net's config and weights (buffers included) with torch.save."""
    if not isinstance(model, _Net):
        raise TypeError(f"expected a net from this module, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": _SAVE_FORMAT, "config": model.config, "state_dict": state}, path)
    return path


def load_net(path: str | Path) -> _Net:
    """Rebuild a net written by `save_net`, in eval mode on the CPU (loads tensors only, no pickle code)."""
    data = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("format") != _SAVE_FORMAT:
        raise ValueError(f"{path} is not a tonecue net (format {_SAVE_FORMAT})")
    config = dict(data["config"])
    kind = config.pop("kind")
    shape = tuple(config.pop("input_shape"))
    n_classes = config.pop("n_classes")
    net = make_net(kind, shape, n_classes, **config)
    net.load_state_dict(data["state_dict"])
    return net.eval()
