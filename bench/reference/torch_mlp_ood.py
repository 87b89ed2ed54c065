#!/usr/bin/env python3
"""PyTorch reference for bench/ood.ts: the same MLP deep ensemble trained on the
same MNIST examples, and the AUROC of its uncertainty scores against the same
Fashion-MNIST examples.

Usage: torch_mlp_ood.py DATA_DIR --hidden 128 --members 5 --epochs 8 --batch 64 --lr 0.001 --seed 0
DATA_DIR holds float32 little-endian files written by bench/ood.ts:
  train_x.f32 [N, 784], train_y.f32 [N], test_x.f32 [M, 784], test_y.f32 [M], ood_x.f32 [K, 784].
Prints one JSON line: accuracy and AUROC of max_prob (1 - max p), entropy and
mutual_info, as bench/ood.ts scores them (higher = more uncertain; ties count half).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn


def load(dir_, name, width):
    a = np.fromfile(os.path.join(dir_, name), dtype='<f4')
    return a.reshape(-1, width) if width > 1 else a


def auroc(s_in, s_out):
    """P(s_out > s_in) + 0.5 P(s_out == s_in): Mann-Whitney with average ranks for ties."""
    s = np.concatenate([s_in, s_out]).astype(np.float64)
    order = np.argsort(s, kind='mergesort')
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    n_in, n_out = len(s_in), len(s_out)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


def entropy(p):
    return -(p * np.log(np.clip(p, 1e-30, None))).sum(axis=-1)


def scores(member_probs):
    """member_probs [S, N, C] -> dict of per-example scores."""
    mean = member_probs.mean(axis=0)
    h = entropy(mean)
    return {'max_prob': 1 - mean.max(axis=1), 'entropy': h, 'mutual_info': h - entropy(member_probs).mean(axis=0)}, mean


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('data')
    ap.add_argument('--hidden', type=int, default=128)
    ap.add_argument('--members', type=int, default=5)
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.from_numpy(load(a.data, 'train_x.f32', 784))
    y = torch.from_numpy(load(a.data, 'train_y.f32', 1)).long()
    xt = torch.from_numpy(load(a.data, 'test_x.f32', 784))
    yt = load(a.data, 'test_y.f32', 1).astype(np.int64)
    xo = torch.from_numpy(load(a.data, 'ood_x.f32', 784))
    t0 = time.time()
    probs_in, probs_out = [], []
    for m in range(a.members):
        torch.manual_seed(a.seed * 1000 + m)
        net = nn.Sequential(nn.Linear(784, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 10))
        opt = torch.optim.Adam(net.parameters(), lr=a.lr)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(a.epochs):
            perm = torch.randperm(len(x))
            for i in range(0, len(x), a.batch):
                idx = perm[i:i + a.batch]
                opt.zero_grad()
                loss_fn(net(x[idx]), y[idx]).backward()
                opt.step()
        with torch.no_grad():
            probs_in.append(torch.softmax(net(xt), dim=1).numpy())
            probs_out.append(torch.softmax(net(xo), dim=1).numpy())
    s_in, mean_in = scores(np.stack(probs_in))
    s_out, _ = scores(np.stack(probs_out))
    out = {'accuracy': float((mean_in.argmax(axis=1) == yt).mean()), 'seconds': time.time() - t0, 'torch': torch.__version__}
    for k in s_in:
        out['auroc_' + k] = auroc(s_in[k], s_out[k])
    print(json.dumps(out))


if __name__ == '__main__':
    main()
