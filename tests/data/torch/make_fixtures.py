#!/usr/bin/env python3
"""PyTorch dumps of the study's two seed networks (docs/pixelcnn.md, docs/ddpm.md) for
genmoji's gradient checks: the state_dict, a fixed input batch, the training loss and the
gradient of that loss with respect to every trainable parameter (`grad.<name>`), as
llm.c checks its training step against PyTorch.

Run (Debian 12: apt-get install -y python3-torch; no safetensors package needed, the
files are written by save_safetensors below; /usr/bin/python3 is Debian's, where torch is):

    /usr/bin/python3 tests/data/torch/make_fixtures.py [OUTDIR]   # default: beside this file

The committed files were written by torch 1.13.1 on the CPU (Debian 12's python3-torch
1.13.1+dfsg-4, whose torch.__version__ reads 1.13.0a0; the files' __metadata__ keeps it),
float32 throughout. Reruns with that version gave the same bytes. The tests that read
them are named in the sections below; genmoji never needs torch.

pixelcnn_seed_w8.safetensors (tests/test_pixelcnn.c,
seed_loss_and_every_gradient_match_pytorch): the study's PixelCNN at width 8 (the same
network, seed and weights as tests/data/pixelcnn/seed_torch.py's state_dict), its
state_dict, `io.images` (2, 3, 8, 8) of 0..255 integers as floats, `io.loss`, the
plugin's `loss` slot exactly: q = v >> 4, network input q / 15, mean cross-entropy in nats
over every (image, channel, pixel) of the 16-class logits; `grad.*` of the 10 weights and
biases (masked-out weights get zero gradient, the mask being multiplied in).

unet_seed_s16.safetensors (tests/test_ddpm_nets.c,
seed_unet_loss_gradients_and_running_stats_match_pytorch): the study's U-Net (fixed
channels, 938,444 parameters) on 16x16 images. The plugin's loss draws t and noise
from genmoji's own RNG, so the check runs the network alone: `forward` on `io.x`
(2, 3, 16, 16) in [-1, 1] and `io.t` (2) in train mode (batch norm on batch statistics),
`io.eps` its output, `io.loss` = mean((eps - io.target)^2) (gm_mse), and `grad.*` of
every trainable parameter (time_mlp's are zero: it is computed and never used, the
study's flaw; PyTorch leaves them None). Batch norm's weight, bias and running statistics
are drawn away from their defaults and num_batches_tracked starts at 3, so `after.*`
(the running statistics and counters after that one forward: momentum 0.1, unbiased
variance) show an update from a non-trivial state. To keep the file a few MB, every float
tensor of the state_dict holds values rounded to float16 and is stored as F16 (exact:
the network computes in float32 on those values on both sides); everything else is F32.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NP = {torch.float32: ('F32', '<f4'), torch.float16: ('F16', '<f2'), torch.int64: ('I64', '<i8')}


def save_safetensors(path, tensors, meta):
    """The safetensors layout: u64 little-endian header length, a JSON header padded with
    spaces to a multiple of 8, then the tensors' little-endian bytes packed tightly, ordered
    as safetensors orders them (larger dtypes first, then by name)."""
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header, blobs, off = {'__metadata__': meta}, [], 0
    for name, t in items:
        code, dt = NP[t.dtype]
        b = np.ascontiguousarray(t.detach().cpu().numpy()).astype(dt).tobytes()
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print('%s: %d tensors, %d bytes' % (path, len(items), os.path.getsize(path)))


def meta(what):
    return {'generator': 'tests/data/torch/make_fixtures.py', 'torch': torch.__version__,
            'fixture': what}


# ---- the study's PixelCNN (as tests/data/pixelcnn/seed_torch.py) ----

class MaskedConv2d(nn.Conv2d):
    def __init__(self, kind, *args, **kwargs):
        super().__init__(*args, **kwargs)
        m = torch.ones_like(self.weight)
        _, _, h, w = m.shape
        m[:, :, h // 2, w // 2 + (kind == 'B'):] = 0
        m[:, :, h // 2 + 1:] = 0
        self.register_buffer('mask', m)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = MaskedConv2d('A', 3, c, 3, padding=1)
        self.conv2 = MaskedConv2d('B', c, c, 7, padding=3)
        self.conv3 = MaskedConv2d('B', c, c, 9, padding=4)
        self.conv4 = MaskedConv2d('B', c, c, 7, padding=3)
        self.conv_out = nn.Conv2d(c, 48, 1)

    def forward(self, x):
        for conv in [self.conv1, self.conv2, self.conv3, self.conv4]:
            x = F.relu(conv(x))
        y = self.conv_out(x)
        b, _, h, w = y.shape
        return y.view(b, 3, 16, h, w).permute(0, 1, 3, 4, 2)  # (B, 3, H, W, 16)


def grads_of(net):
    """grad.<name> for every trainable parameter; zeros where PyTorch left None (a
    parameter the loss does not reach)."""
    return {'grad.' + n: (p.grad if p.grad is not None else torch.zeros_like(p)).clone()
            for n, p in net.named_parameters()}


def pixelcnn_fixture(out):
    torch.manual_seed(8)  # seed_torch.py's seed for width 8: the same weights
    net = PixelCNN(8)
    g = torch.Generator().manual_seed(14)
    images = torch.randint(0, 256, (2, 3, 8, 8), generator=g).float()
    q = torch.div(images, 16, rounding_mode='floor')  # v >> 4
    logits = net(q / 15)
    loss = F.cross_entropy(logits.reshape(-1, 16), q.long().reshape(-1))  # mean, nats
    loss.backward()
    t = {k: v.clone() for k, v in net.state_dict().items()}
    t.update({'io.images': images, 'io.loss': loss.detach().reshape(1)})
    t.update(grads_of(net))
    save_safetensors(os.path.join(out, 'pixelcnn_seed_w8.safetensors'), t,
                     meta('the study PixelCNN at width 8: loss and gradients'))


# ---- the study's U-Net (as bench/torch_reference.py) ----

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


def unet_fixture(out):
    torch.manual_seed(14)
    net = UNetModel()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(3)
        for v in net.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().float())  # exact in F16, so stored as F16 without loss
    state = {k: (v.half() if v.is_floating_point() else v).clone()
             for k, v in net.state_dict().items()}
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    t = torch.tensor([0.25, 0.75])
    target = torch.randn(2, 3, 16, 16)
    net.train()
    eps = net(x, t)
    loss = F.mse_loss(eps, target)
    loss.backward()
    tensors = dict(state)
    tensors.update({'io.x': x, 'io.t': t, 'io.target': target, 'io.eps': eps.detach(),
                    'io.loss': loss.detach().reshape(1)})
    tensors.update({'after.' + k: v.clone() for k, v in net.state_dict().items()
                    if 'running_' in k or 'num_batches' in k})
    tensors.update(grads_of(net))
    save_safetensors(os.path.join(out, 'unet_seed_s16.safetensors'), tensors,
                     meta('the study U-Net on 16x16, train mode: MSE loss, gradients, '
                          'running statistics after one forward'))


if __name__ == '__main__':
    torch.set_num_threads(1)  # a fixed summation order: the same bytes on every run
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    pixelcnn_fixture(out)
    unet_fixture(out)
