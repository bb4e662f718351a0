# Writes the fixtures beside this file with PyTorch: the study's PixelCNN (docs/pixelcnn.md)
# as its notebook built it, with width c (64 in the study; 8 here to keep the files small),
# its state_dict (seed_w<c>_torch.safetensors) and an input x of 16-level classes with the
# logits it gives (seed_w<c>_torch_io.safetensors). Run once, on a machine with torch and
# safetensors (torch 2.11): python3 seed_torch.py OUTDIR
import os, sys
import torch, torch.nn as nn, torch.nn.functional as F
from safetensors.torch import save_file


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


out = sys.argv[1] if len(sys.argv) > 1 else '.'
for c in [8]:
    torch.manual_seed(c)
    net = PixelCNN(c)
    q = torch.randint(0, 16, (2, 3, 8, 8)).float()
    with torch.no_grad():
        logits = net(q / 15)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()},
              os.path.join(out, 'seed_w%d_torch.safetensors' % c))
    save_file({'x': q, 'logits': logits.contiguous()},
              os.path.join(out, 'seed_w%d_torch_io.safetensors' % c))
