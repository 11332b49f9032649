"""The reference for the training benchmark: the same network written directly in PyTorch.

``torch.nn.LSTM(bidirectional=True)`` over packed sequences (so each utterance's backward pass
starts at its own last frame, as the project's length-aware layer does), a linear output layer
and ``torch.nn.functional.ctc_loss``, trained with SGD with momentum on the very batches the
Keras network gets. PyTorch is an optional dependency (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import importlib.util
import os
import time

import numpy as np

from lstmrec.bench.training import synthetic_batches


def torch_version() -> str | None:
    """The installed PyTorch version, or ``None`` (without importing it when absent)."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # only once its version is asked for

    return torch.__version__


def time_torch_training(
    lengths: np.ndarray,
    *,
    batch_size: int,
    input_dim: int,
    num_classes: int,
    num_layers: int,
    units: int,
    steps: int,
    threads: int | None = None,
) -> float:
    """Frames per second of ``steps`` SGD steps of the plain PyTorch BLSTM-CTC.

    Same batches, loss (mean over the batch of per-utterance CTC losses), optimiser
    (SGD, learning rate 1e-4, momentum 0.9) and untimed warm-up pass as
    :func:`lstmrec.bench.training.time_training`; ``threads`` intra-op threads (default: all cores).
    """
    import torch  # an optional dependency, loaded only to run the reference
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    torch.set_num_threads(threads or os.cpu_count() or 1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(
                input_dim, units, num_layers=num_layers, bidirectional=True, batch_first=True
            )
            self.out = nn.Linear(2 * units, num_classes)

        def forward(self, x, x_len):
            packed = pack_padded_sequence(x, x_len, batch_first=True, enforce_sorted=False)
            y, _ = self.lstm(packed)
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
            return self.out(y)  # (B, T, V + 1)

    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
    batches = [
        (
            torch.from_numpy(x),
            torch.from_numpy(xl).long(),
            torch.from_numpy(y),
            torch.from_numpy(yl),
        )
        for (x, xl), (y, yl), _ in synthetic_batches(
            lengths, batch_size=batch_size, input_dim=input_dim, num_classes=num_classes
        )
    ]
    frames = [int(xl.sum()) for _, xl, _, _ in batches]

    def step(x, xl, y, yl) -> None:
        opt.zero_grad(set_to_none=True)
        log_probs = net(x, xl).log_softmax(-1).transpose(0, 1)  # (T, B, V + 1)
        losses = nn.functional.ctc_loss(log_probs, y, xl, yl.long(), blank=0, reduction="none")
        losses.mean().backward()
        opt.step()

    for batch in batches:
        step(*batch)
    done, t0 = 0, time.perf_counter()
    for i in range(steps):
        step(*batches[i % len(batches)])
        done += frames[i % len(batches)]
    return done / (time.perf_counter() - t0)
