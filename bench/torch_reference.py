#!/usr/bin/env python3
"""The study's two networks in PyTorch, timed the way `genmoji bench models` times
genmoji's, so bench/compare.sh can print genmoji / PyTorch ratios from one session.

Networks follow the study's, as docs/pixelcnn.md and docs/ddpm.md describe them (the same
layers, sizes and key names as the `seed` presets). This is a benchmark, not a test: CI never runs it and genmoji never
needs torch. Output: one JSON object per line, with the same fields as genmoji's rows.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedConv2d(nn.Conv2d):
    """The study's masked convolution: type A hides the centre pixel, B keeps it."""

    def __init__(self, mask_type, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kh, kw = self.weight.shape[2:]
        mask = torch.ones_like(self.weight)
        yc, xc = kh // 2, kw // 2
        mask[:, :, yc, xc + (mask_type == "B"):] = 0
        mask[:, :, yc + 1:, :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


class PixelCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = MaskedConv2d("A", 3, 64, 3, padding=1)
        self.conv2 = MaskedConv2d("B", 64, 64, 7, padding=3)
        self.conv3 = MaskedConv2d("B", 64, 64, 9, padding=4)
        self.conv4 = MaskedConv2d("B", 64, 64, 7, padding=3)
        self.conv_out = nn.Conv2d(64, 48, 1)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.relu(conv(x))
        out = self.conv_out(x)
        b, _, h, w = out.shape
        return out.view(b, 3, 16, h, w).permute(0, 1, 3, 4, 2)


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNetModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.time_mlp = nn.Sequential(nn.Linear(1, 128), nn.GELU(), nn.Linear(128, 256), nn.GELU())
        self.encoderConv1 = block(3, 64)
        self.encoderConv2 = block(64, 128)
        self.bottleneck = block(128, 256)
        self.upConv1 = nn.ConvTranspose2d(256, 128, 2, stride=2)
        self.decoderConv1 = block(256, 128)
        self.upConv2 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.decoderConv2 = block(128, 64)
        self.output = nn.Conv2d(64 + 3, 3, 1)

    def forward(self, x, t):
        _ = self.time_mlp(t.view(-1, 1))  # computed and unused, as in the study
        e1 = self.encoderConv1(x)
        e2 = self.encoderConv2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d1 = self.decoderConv1(torch.cat([self.upConv1(b), e2], 1))
        d2 = self.decoderConv2(torch.cat([self.upConv2(d1), e1], 1))
        return self.output(torch.cat([d2, x], 1))


def train_rate(model, batch, loss_fn, seconds):
    """Adam steps on made-up batches: two warm-up steps, then steps for at least `seconds`
    and 3 steps, each timed, as `genmoji bench models` times them (the loss read back
    each step, as genmoji's trainer does). Returns (steps, seconds, median step)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        opt.zero_grad()
        loss = loss_fn(model, batch)
        loss.backward()
        opt.step()
        return loss.item()

    step()
    step()
    each, start = [], time.perf_counter()
    last = start
    while last - start < seconds or len(each) < 3:
        step()
        now = time.perf_counter()
        each.append(now - last)
        last = now
    return len(each), last - start, statistics.median(each)


def pixelcnn_loss(model, batch):
    q = torch.randint(0, 16, (batch, 3, 32, 32))
    logits = model(q.float() / 15)
    return F.cross_entropy(logits.reshape(-1, 16), q.reshape(-1))


def ddpm_loss(model, batch):
    x = torch.rand(batch, 3, 32, 32) * 2 - 1
    t = torch.randint(1, 500, (batch,)).float() / 500
    eps = torch.randn_like(x)
    return F.mse_loss(model(x + eps, t), eps)


def extrapolate(run, total, seconds):
    """A whole sampling run's seconds, timed as genmoji's gm_bench_sample times one: run(k)
    is one run stopped after k units (pixels, steps). One warm-up run of 1 unit, a run of
    a = 1 unit, then runs of b = 2 and more units (aimed at `seconds` along the line so
    far, 2..8 times the last b) until one takes seconds / 2 or b is the whole run; the
    whole run is the line through (a, T_a) and (b, T_b) at `total` units (or T_b itself
    when b == total). Each point is the faster of two runs. Returns (seconds, a, b)."""
    def best(k):
        return min(run(k), run(k))

    run(1)
    a = 1
    ta = best(a)
    b, tb, units = a, ta, min(2, total)
    while b < total:
        b, tb = units, best(units)
        if b >= total or tb >= 0.5 * seconds:
            break
        per = (tb - ta) / (b - a)
        want = 2 * b
        if per > 0:
            aim = a + (seconds - ta) / per
            want = 8 * b if aim > 8 * b else int(aim) if aim > 2 * b else 2 * b
        units = min(want, total)
    per = (tb - ta) / (b - a) if b > a else 0.0
    whole = tb if b == total else max(ta - a * per + total * per, tb)
    return whole, a, b


@torch.no_grad()
def pixelcnn_naive_run(model, n, pixels):
    """The study's naive sampler stopped after `pixels` of the 1024: one full pass per
    pixel, temperature 0.6, R, G and B drawn independently."""
    x = torch.zeros(n, 3, 32, 32)
    start = time.perf_counter()
    for p in range(pixels):
        i, j = divmod(p, 32)
        probs = F.softmax(model(x / 15)[:, :, i, j, :] / 0.6, dim=-1)
        x[:, :, i, j] = torch.multinomial(probs.reshape(-1, 16), 1).view(n, 3).float()
    return time.perf_counter() - start


# The study's ancestral sampler: T = 500 linear betas, t = T-1 .. 1 (499 network passes,
# as genmoji's `seed` preset with schedule=study runs).
DDPM_T = 500
DDPM_STEPS = DDPM_T - 1


@torch.no_grad()
def ddpm_ancestral_run(model, n, steps):
    """Ancestral sampling with x0 clipping stopped after `steps` of the 499 steps."""
    betas = torch.linspace(1e-4, 0.02, DDPM_T)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    start = time.perf_counter()
    x = torch.randn(n, 3, 32, 32)
    for t in range(DDPM_STEPS, DDPM_STEPS - steps, -1):
        eps = model(x, torch.full((n,), t / DDPM_T))
        x0 = ((x - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()).clamp(-1, 1)
        mean = (abar[t - 1].sqrt() * betas[t] / (1 - abar[t])) * x0 + \
               (alphas[t].sqrt() * (1 - abar[t - 1]) / (1 - abar[t])) * x
        var = (1 - abar[t - 1]) / (1 - abar[t]) * betas[t]
        x = mean + (var.sqrt() * torch.randn_like(x) if t > 1 else 0)
        x = x.clamp(-1, 1)
    return time.perf_counter() - start


def sample_row(model_name, sampler, n, total, seconds, run):
    whole, a, b = extrapolate(run, total, seconds)
    return {"model": model_name, "preset": "seed", "sampler": sampler, "batch": n,
            "seconds_per_image": whole / n, "steps": total, "timed_units": [a, b],
            "extrapolated": b < total}


def batches(text):
    return [int(v) for v in text.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0, help="timing window per row")
    ap.add_argument("--batches", type=batches, default=[8, 64], help="training batches")
    ap.add_argument("--sample-batches", type=batches, default=[1, 16],
                    help="images per sampling run")
    ap.add_argument("--only", choices=("train", "sample"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    info = {"framework": "pytorch", "version": torch.__version__, "threads": args.threads,
            "seconds": args.seconds}
    print(json.dumps({"header": info}), flush=True)
    nets = (("pixelcnn", PixelCNN, pixelcnn_loss), ("ddpm", UNetModel, ddpm_loss))
    for name, ctor, loss in nets if args.only != "sample" else ():
        for b in args.batches:
            model = ctor()  # fresh, as genmoji makes a fresh model per row
            params = sum(p.numel() for p in model.parameters())
            steps, secs, median = train_rate(model, b, loss, args.seconds)
            print(json.dumps({"model": name, "preset": "seed", "batch": b, "params": params,
                              "train_images_per_s": b / median, "steps": steps,
                              "seconds": secs, "step_seconds": median,
                              "mean_images_per_s": steps * b / secs}), flush=True)
    if args.only == "train":
        return 0
    pix = PixelCNN().eval()
    for n in args.sample_batches:
        row = sample_row("pixelcnn", "naive", n, 1024, args.seconds,
                         lambda k: pixelcnn_naive_run(pix, n, k))
        print(json.dumps(row), flush=True)
    unet = UNetModel().eval()
    for n in args.sample_batches:
        row = sample_row("ddpm", "ddpm", n, DDPM_STEPS, args.seconds,
                         lambda k: ddpm_ancestral_run(unet, n, k))
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
