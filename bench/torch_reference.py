#!/usr/bin/env python3
"""The study's two networks in PyTorch, timed the way `genmoji bench models` times
genmoji's, so bench/compare.sh can print genmoji / PyTorch ratios from one session.

Networks follow shared/seed/MODELS.md (the same layers, sizes and key names as the
`seed` presets). This is a benchmark, not a test: CI never runs it and genmoji never
needs torch. Output: one JSON object per line, with the same fields as genmoji's rows.
"""
import argparse
import json
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
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    steps, start = 0, None
    while True:
        opt.zero_grad()
        loss_fn(model, batch).backward()
        opt.step()
        steps += 1
        if steps == 2:  # two warm-up steps
            start = time.perf_counter()
            counted = 0
        elif steps > 2:
            counted += 1
            if time.perf_counter() - start >= seconds and counted >= 3:
                return counted * batch / (time.perf_counter() - start)


def pixelcnn_loss(model, batch):
    q = torch.randint(0, 16, (batch, 3, 32, 32))
    logits = model(q.float() / 15)
    return F.cross_entropy(logits.reshape(-1, 16), q.reshape(-1))


def ddpm_loss(model, batch):
    x = torch.rand(batch, 3, 32, 32) * 2 - 1
    t = torch.randint(1, 500, (batch,)).float() / 500
    eps = torch.randn_like(x)
    return F.mse_loss(model(x + eps, t), eps)


@torch.no_grad()
def pixelcnn_sample_time(model, n, pixels):
    """The study's naive sampler: one full pass per pixel. Times `pixels` of the 1024
    steps and scales up, since a full image takes minutes on a CPU."""
    model.eval()
    x = torch.zeros(n, 3, 32, 32)
    start = time.perf_counter()
    for p in range(pixels):
        i, j = divmod(p, 32)
        probs = F.softmax(model(x / 15)[:, :, i, j, :] / 0.6, dim=-1)
        x[:, :, i, j] = torch.multinomial(probs.reshape(-1, 16), 1).view(n, 3).float()
    return (time.perf_counter() - start) * 1024 / pixels / n


@torch.no_grad()
def ddpm_sample_time(model, n, steps):
    """Ancestral sampling with T = 500; times `steps` steps and scales to 499."""
    model.eval()
    betas = torch.linspace(1e-4, 0.02, 500)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    x = torch.randn(n, 3, 32, 32)
    start = time.perf_counter()
    for t in range(499, 499 - steps, -1):
        eps = model(x, torch.full((n,), t / 500))
        x0 = ((x - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()).clamp(-1, 1)
        mean = (abar[t - 1].sqrt() * betas[t] / (1 - abar[t])) * x0 + \
               (alphas[t].sqrt() * (1 - abar[t - 1]) / (1 - abar[t])) * x
        var = (1 - abar[t - 1]) / (1 - abar[t]) * betas[t]
        x = (mean + var.sqrt() * torch.randn_like(x)).clamp(-1, 1)
    return (time.perf_counter() - start) * 499 / steps / n


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="timing window per row")
    ap.add_argument("--batches", default="8,64")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    info = {"framework": "pytorch", "version": torch.__version__, "threads": args.threads}
    print(json.dumps({"header": info}), flush=True)
    for name, ctor, loss in (("pixelcnn", PixelCNN, pixelcnn_loss), ("ddpm", UNetModel, ddpm_loss)):
        model = ctor()
        params = sum(p.numel() for p in model.parameters())
        for b in (int(s) for s in args.batches.split(",")):
            rate = train_rate(model, b, loss, args.seconds)
            print(json.dumps({"model": name, "preset": "seed", "batch": b, "params": params,
                              "train_images_per_s": round(rate, 2)}), flush=True)
    pix = PixelCNN()
    for n in (1, 16):
        s = pixelcnn_sample_time(pix, n, pixels=32 if n == 1 else 8)
        print(json.dumps({"model": "pixelcnn", "preset": "seed", "sampler": "naive", "batch": n,
                          "seconds_per_image": round(s, 4)}), flush=True)
    unet = UNetModel()
    for n in (1, 16):
        s = ddpm_sample_time(unet, n, steps=50 if n == 1 else 20)
        print(json.dumps({"model": "ddpm", "preset": "seed", "sampler": "ddpm", "batch": n,
                          "seconds_per_image": round(s, 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
