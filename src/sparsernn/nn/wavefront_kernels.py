"""Forward and backward of one wave of packed cells, per cell kind (torch's gate conventions).

Every function works on the blocks active at one wave. ``pre`` is (n, row_blocks · block, batch): the
pre-activations, gate blocks stacked as in torch (LSTM i, f, g, o; GRU r, z and the n gate kept as
its input part n_x and hidden part n_h, because r multiplies only the hidden part). ``h`` receives
the new hidden state, ``h_prev`` holds the previous one, both (n, block, batch). A forward returns
what its backward needs; a backward returns the gradient of ``pre``.

``tanh`` is computed as ``2·sigmoid(2x) − 1``: the same function, about twice as fast as torch's
CPU tanh for float32 here; it differs from ``torch.tanh`` by rounding only (≲ 1e-7 absolute).

Examples
--------
>>> pre, h = torch.zeros(1, 4, 3), torch.empty(1, 1, 3)  # one block of one LSTM unit, batch 3
>>> c = (torch.zeros(1, 1, 3), torch.empty(1, 1, 3))
>>> saved = KERNELS["lstm"][0](pre, h, torch.zeros(1, 1, 3), c)
>>> h.flatten().tolist(), c[1].flatten().tolist()  # i = f = o = 0.5, g = 0: c = 0, h = 0
([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from sparsernn._registry import registry


def _blocks(t: Tensor, count: int) -> Tensor:
    return t.view(t.shape[0], count, -1, t.shape[-1])  # (n, count, P, B)


def _tanh_(x: Tensor) -> Tensor:
    """``tanh`` in place, through one sigmoid."""
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def _dtanh(y: Tensor) -> Tensor:
    """Derivative ``1 − y²`` of tanh at the output ``y``."""
    return torch.mul(y, y).neg_().add_(1.0)


def _dsigmoid(y: Tensor) -> Tensor:
    """Derivative ``y (1 − y)`` of the sigmoid at the output ``y`` (addcmul is slower on CPU)."""
    return torch.sub(y, y * y)


def _tanh_forward(pre: Tensor, h: Tensor, h_prev: Tensor, c: Any) -> Any:
    torch.mul(pre, 2.0, out=h)
    h.sigmoid_().mul_(2.0).sub_(1.0)
    return None


def _tanh_backward(saved: Any, dh: Tensor, h: Tensor, h_prev: Tensor, dh_prev: Tensor, c: Any) -> Tensor:
    return _dtanh(h).mul_(dh)


def _relu_forward(pre: Tensor, h: Tensor, h_prev: Tensor, c: Any) -> Any:
    torch.clamp(pre, min=0.0, out=h)
    return None


def _relu_backward(saved: Any, dh: Tensor, h: Tensor, h_prev: Tensor, dh_prev: Tensor, c: Any) -> Tensor:
    return dh * (h > 0)


def _lstm_forward(pre: Tensor, h: Tensor, h_prev: Tensor, c: tuple[Tensor, Tensor]) -> Any:
    c_prev, c_new = c
    gates = _blocks(pre, 4)
    gates[:, 2].mul_(2.0)
    pre.sigmoid_()  # i, f, o; for g: s = sigmoid(2x), g = tanh(x) = 2s − 1
    i, f, s, o = gates.unbind(1)
    g = torch.mul(s, 2.0).sub_(1.0)
    torch.mul(f, c_prev, out=c_new)
    c_new.addcmul_(i, g)
    tanh_c = torch.mul(c_new, 2.0).sigmoid_().mul_(2.0).sub_(1.0)
    torch.mul(o, tanh_c, out=h)
    return pre, g, tanh_c


def _lstm_backward(saved: Any, dh: Tensor, h: Tensor, h_prev: Tensor, dh_prev: Tensor, c: Any) -> Tensor:
    sig, g, tanh_c = saved
    c_prev, carry = c  # carry: gradient reaching c from the next wave, replaced by the one for c_prev
    i, f, _, o = _blocks(sig, 4).unbind(1)
    dc = _dtanh(tanh_c).mul_(o).mul_(dh).add_(carry)
    upstream = torch.empty_like(sig)
    ui, uf, ug, uo = _blocks(upstream, 4).unbind(1)
    torch.mul(dc, g, out=ui)
    torch.mul(dc, c_prev, out=uf)
    torch.mul(dc, i, out=ug)
    ug.mul_(4.0)  # d tanh(x)/dx = 4 s (1 − s) with s = sigmoid(2x)
    torch.mul(dh, tanh_c, out=uo)
    torch.mul(dc, f, out=carry)
    return upstream.mul_(_dsigmoid(sig))


def _gru_forward(pre: Tensor, h: Tensor, h_prev: Tensor, c: Any) -> Any:
    gates = _blocks(pre, 4)
    gates[:, :2].sigmoid_()
    r, z, n, n_h = gates.unbind(1)
    _tanh_(n.addcmul_(r, n_h))  # n = tanh(n_x + r · n_h), stored over n_x
    torch.sub(h_prev, n, out=h)
    h.mul_(z).add_(n)  # h = (1 − z) · n + z · h_prev
    return pre


def _gru_backward(saved: Any, dh: Tensor, h: Tensor, h_prev: Tensor, dh_prev: Tensor, c: Any) -> Tensor:
    r, z, n, n_h = _blocks(saved, 4).unbind(1)
    dpre = torch.empty_like(saved)
    dr, dz, dn_x, dn_h = _blocks(dpre, 4).unbind(1)
    dh_prev.addcmul_(dh, z)
    torch.sub(h_prev, n, out=dz)
    dz.mul_(dh).mul_(_dsigmoid(z))
    torch.sub(dh, dh * z, out=dn_x)
    dn_x.mul_(_dtanh(n))
    torch.mul(dn_x, r, out=dn_h)
    torch.mul(dn_x, n_h, out=dr)
    dr.mul_(_dsigmoid(r))
    return dpre


Forward = Callable[[Tensor, Tensor, Tensor, Any], Any]
Backward = Callable[[Any, Tensor, Tensor, Tensor, Tensor, Any], Tensor]

KERNELS: Mapping[str, tuple[Forward, Backward]] = registry(
    {
        "rnn_tanh": (_tanh_forward, _tanh_backward),
        "rnn_relu": (_relu_forward, _relu_backward),
        "lstm": (_lstm_forward, _lstm_backward),
        "gru": (_gru_forward, _gru_backward),
    }
)
"""Cell name → (forward, backward) of one wave of blocks (see the module docstring)."""
