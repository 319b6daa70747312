"""Multiply-adds of the DARTS ImageNet network (the "mobile setting"), computed analytically.

arch2vec keeps a sampled DARTS cell only if the ImageNet network built from it has fewer than 600M
multiply-adds: DARTS's `NetworkImageNet(C=48, classes=1000, layers=14, auxiliary=False)` on one
224x224 image, with the same cell as normal and reduction cell. The published code measures it by
running the PyTorch model through thop; here the same count is a closed form of the genotype, so
600,000 cells cost milliseconds instead of 600,000 forward passes.

The network (darts/cnn/model.py, darts/cnn/operations.py): stem0 = conv3x3/2 (3->24) BN ReLU
conv3x3/2 (24->48) BN; stem1 = ReLU conv3x3/2 (48->48) BN; 14 cells at 28x28 (C=48), reductions at
layers 4 and 9 (14//3, 2*14//3) doubling C to 96 and 192 and halving the size to 14 and 7; each cell
preprocesses its two inputs with ReLU-conv1x1-BN (FactorizedReduce after a reduction cell) and
concatenates its 4 block outputs; then AvgPool2d(7) and Linear(768 -> 1000). An op of a reduction
cell that reads a cell input (index 0 or 1) has stride 2. Per op on C channels with output h x h
(E = C*h*h output elements):

    sep_conv_kxk   2 x (depthwise k x k + pointwise C->C) = 2E(k*k + C)   2 BN
    dil_conv_kxk   depthwise k x k (dilation 2) + pointwise = E(k*k + C)   1 BN
    skip_connect   stride 1: identity, 0; stride 2: FactorizedReduce, two 1x1 convs C -> C/2: E*C, 1 BN
    avg_pool_3x3   no multiply-add (thop: 1 op per output element)
    max_pool_3x3, none   0

Conventions (`CONVENTIONS`):
* "thop" (default; what the published sampler's < 600M filter measured): thop 0.0.31.post2004101309
  (arch2vec's pinned version) profiles in eval mode and counts conv MACs as output elements x
  in_channels/groups x k x k, Linear as in x out, BatchNorm as 2 per element, AvgPool as 1 per
  output element, and ReLU, MaxPool, the Zero and Identity modules, additions and concatenation as 0.
  This convention reproduces arch2vec's own published figures exactly: its RL cell 532.7M ("533M")
  and its BO cell 579.8M ("580M"), paper Table 5 and the repository README.
* "mult_adds": conv and Linear multiply-adds only (BatchNorm folds into the conv before it at
  inference; pooling multiplies nothing). 8.3M (RL) to 8.4M (BO) below "thop" for those cells.

DARTS V2 (its own normal and reduction cells) counts 538.2M ("thop") or 529.9M ("mult_adds"), not
the 574M of the DARTS paper: 7-8% less. Neither convention comes near 574M, and public recounts
agree with the lower figure (523M conv+fc and 544.6M with ptflops, which also counts ReLU and
pooling, in the DARTS repository's issue 46). With its normal cell used as the reduction cell too,
as the arch2vec space builds every network, DARTS V2 counts 588.7M / 579.7M.

`network_macs` is vectorised over genotypes; `layer_table` lists every counted layer of one network
(a profiler's view) and is what the tests check the closed form against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

CONVENTIONS = ("thop", "mult_adds")
MOBILE_LIMIT = 600e6
"""The mobile setting: fewer than 600M multiply-adds."""

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
NONE, MAX_POOL, AVG_POOL, SKIP, SEP3, SEP5, DIL3, DIL5 = range(8)
_KERNEL = {SEP3: 3, SEP5: 5, DIL3: 3, DIL5: 5}


@dataclass(frozen=True)
class NetworkConfig:
    """DARTS NetworkImageNet hyperparameters (the mobile setting: 48, 14, 224, 1000)."""

    channels: int = 48
    layers: int = 14
    image: int = 224
    classes: int = 1000


@dataclass(frozen=True)
class _Cell:
    c_prev_prev: int
    c_prev: int
    c: int
    size_in: int  # spatial size of the cell's input s1 (and of s0 after preprocessing)
    reduction: bool
    reduction_prev: bool


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@lru_cache(maxsize=8)
def _plan(config: NetworkConfig) -> tuple[tuple[_Cell, ...], int, int]:
    """The cells of the network, and (channels, size) of the last cell's output."""
    c = config.channels
    size = _conv_out(_conv_out(_conv_out(config.image, 3, 2, 1), 3, 2, 1), 3, 2, 1)  # stem0 x2, stem1
    c_pp, c_p, c_cur = c, c, c
    reduction_prev = True
    cells = []
    for i in range(config.layers):
        reduction = i in (config.layers // 3, 2 * config.layers // 3)
        if reduction:
            c_cur *= 2
        cells.append(_Cell(c_pp, c_p, c_cur, size, reduction, reduction_prev))
        if reduction:
            size = _conv_out(size, 3, 2, 1)
        reduction_prev = reduction
        c_pp, c_p = c_p, 4 * c_cur
    return tuple(cells), c_p, size


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown MAC convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")


def _op_cost(op: int, c: int, h: int, stride: int, convention: str) -> float:
    """Count of one op on c channels whose output is h x h."""
    e = c * h * h
    bn = 2 * e if convention == "thop" else 0
    if op in (SEP3, SEP5):
        k = _KERNEL[op]
        return 2 * e * (k * k + c) + 2 * bn
    if op in (DIL3, DIL5):
        k = _KERNEL[op]
        return e * (k * k + c) + bn
    if op == SKIP:
        return e * c + bn if stride == 2 else 0
    if op == AVG_POOL:
        return e if convention == "thop" else 0
    return 0


@lru_cache(maxsize=16)
def _tables(config: NetworkConfig, convention: str) -> tuple[float, np.ndarray, np.ndarray]:
    """(genotype-independent count, per-op count summed over normal cells [8],
    per-op count summed over reduction cells [8, 2] indexed by stride-2?)."""
    thop = convention == "thop"
    c0 = config.channels
    fixed = 0.0
    # stems
    h = config.image
    for cin, cout in ((3, c0 // 2), (c0 // 2, c0), (c0, c0)):
        h = _conv_out(h, 3, 2, 1)
        fixed += cout * h * h * cin * 9 + (2 * cout * h * h if thop else 0)
    cells, c_last, size_last = _plan(config)
    normal = np.zeros(8)
    reduce = np.zeros((8, 2))
    for cell in cells:
        h = cell.size_in
        e = cell.c * h * h
        bn = 2 * e if thop else 0
        fixed += e * cell.c_prev_prev + bn  # preprocess0: ReLUConvBN or FactorizedReduce, both E x C_in
        fixed += e * cell.c_prev + bn  # preprocess1
        if cell.reduction:
            out = _conv_out(h, 3, 2, 1)
            for op in range(8):
                reduce[op, 0] += _op_cost(op, cell.c, out, 1, convention)
                reduce[op, 1] += _op_cost(op, cell.c, out, 2, convention)
        else:
            for op in range(8):
                normal[op] += _op_cost(op, cell.c, h, 1, convention)
    pooled = _conv_out(size_last, size_last, size_last, 0)  # AvgPool2d(7) on 7x7
    fixed += (c_last * pooled * pooled if thop else 0) + c_last * pooled * pooled * config.classes
    normal.setflags(write=False)
    reduce.setflags(write=False)
    return fixed, normal, reduce


def _as_genotypes(genotype: Any) -> np.ndarray:
    g = np.asarray(genotype)
    if g.shape[-2:] != (8, 2) or g.dtype.kind not in "iu":
        raise ValueError(
            f"genotypes must be integer arrays [..., 8, 2] of (op, input); got {g.dtype}{g.shape}"
        )
    ops, inputs = g[..., 0], g[..., 1]
    limit = np.repeat(np.arange(2, 6), 2)
    if g.size and ((ops < 0) | (ops > 7)).any():
        raise ValueError("genotype ops must be indices 0..7 into PRIMITIVES")
    if g.size and ((inputs < 0) | (inputs >= limit)).any():
        raise ValueError("genotype inputs of block b must lie in 0..b+1")
    return g


def network_macs(
    normal: Any,
    reduce: Any | None = None,
    convention: str = "thop",
    config: NetworkConfig = NetworkConfig(),
) -> np.ndarray:
    """float64 [...]: count of the ImageNet network of each genotype (int [..., 8, 2] of
    (PRIMITIVES index, input node)); `reduce` defaults to `normal` (arch2vec's choice)."""
    _check_convention(convention)
    n = _as_genotypes(normal)
    r = n if reduce is None else _as_genotypes(reduce)
    fixed, normal_table, reduce_table = _tables(config, convention)
    strided = (r[..., 1] < 2).view(np.int8)
    return fixed + normal_table[n[..., 0]].sum(axis=-1) + reduce_table[r[..., 0], strided].sum(axis=-1)


def layer_table(
    normal: Any, reduce: Any | None = None, convention: str = "thop", config: NetworkConfig = NetworkConfig()
) -> list[tuple[str, float]]:
    """Every counted layer of one network, walked module by module as a profiler would:
    (name, count). Sums to `network_macs`; used to check the closed form."""
    _check_convention(convention)
    thop = convention == "thop"
    n = _as_genotypes(normal)
    r = n if reduce is None else _as_genotypes(reduce)
    if n.shape != (8, 2) or r.shape != (8, 2):
        raise ValueError("layer_table takes one genotype [8, 2]")
    rows: list[tuple[str, float]] = []

    def conv(name: str, cin: int, cout: int, k: int, groups: int, h: int) -> None:
        rows.append((name, float(cout * h * h * (cin // groups) * k * k)))

    def bn(name: str, c: int, h: int) -> None:
        if thop:
            rows.append((name, float(2 * c * h * h)))

    c0 = config.channels
    h = _conv_out(config.image, 3, 2, 1)
    conv("stem0.conv1", 3, c0 // 2, 3, 1, h)
    bn("stem0.bn1", c0 // 2, h)
    h = _conv_out(h, 3, 2, 1)
    conv("stem0.conv2", c0 // 2, c0, 3, 1, h)
    bn("stem0.bn2", c0, h)
    h = _conv_out(h, 3, 2, 1)
    conv("stem1.conv", c0, c0, 3, 1, h)
    bn("stem1.bn", c0, h)
    cells, c_last, size_last = _plan(config)
    for i, cell in enumerate(cells):
        p, c, h = f"cells.{i}", cell.c, cell.size_in
        if cell.reduction_prev:  # FactorizedReduce from 2h: two 1x1 stride-2 convs to c/2 each
            conv(f"{p}.pre0.conv_1", cell.c_prev_prev, c // 2, 1, 1, h)
            conv(f"{p}.pre0.conv_2", cell.c_prev_prev, c // 2, 1, 1, h)
        else:
            conv(f"{p}.pre0.conv", cell.c_prev_prev, c, 1, 1, h)
        bn(f"{p}.pre0.bn", c, h)
        conv(f"{p}.pre1.conv", cell.c_prev, c, 1, 1, h)
        bn(f"{p}.pre1.bn", c, h)
        geno = r if cell.reduction else n
        # block states of a reduction cell already have the reduced size
        state_size = [h, h] + [_conv_out(h, 3, 2, 1) if cell.reduction else h] * 4
        for j, (op, src) in enumerate(geno.tolist()):
            stride = 2 if cell.reduction and src < 2 else 1
            size = state_size[src]
            q = f"{p}.ops.{j}.{PRIMITIVES[op]}"
            if op in (SEP3, SEP5):
                k = _KERNEL[op]
                mid = _conv_out(size, k, stride, k // 2)
                conv(f"{q}.dw1", c, c, k, c, mid)
                conv(f"{q}.pw1", c, c, 1, 1, mid)
                bn(f"{q}.bn1", c, mid)
                out = _conv_out(mid, k, 1, k // 2)
                conv(f"{q}.dw2", c, c, k, c, out)
                conv(f"{q}.pw2", c, c, 1, 1, out)
                bn(f"{q}.bn2", c, out)
            elif op in (DIL3, DIL5):
                k = _KERNEL[op]
                out = _conv_out(size, k, stride, 2 * (k // 2), dilation=2)
                conv(f"{q}.dw", c, c, k, c, out)
                conv(f"{q}.pw", c, c, 1, 1, out)
                bn(f"{q}.bn", c, out)
            elif op == SKIP and stride == 2:
                half = _conv_out(size, 1, 2, 0)
                conv(f"{q}.conv_1", c, c // 2, 1, 1, half)
                conv(f"{q}.conv_2", c, c // 2, 1, 1, _conv_out(size - 1, 1, 2, 0))
                bn(f"{q}.bn", c, half)
            elif op == AVG_POOL and thop:
                rows.append((f"{q}", float(c * _conv_out(size, 3, stride, 1) ** 2)))
    pooled = _conv_out(size_last, size_last, size_last, 0)
    if thop:
        rows.append(("global_pooling", float(c_last * pooled * pooled)))
    rows.append(("classifier", float(c_last * pooled * pooled * config.classes)))
    return rows
