#!/usr/bin/env python3
"""bench_ddpm_unet.py -- PyTorch CUDA training-throughput anchor: small DDPM UNet for 1x28x28 (bf16 autocast).

The GPU variant of ../shared/bench/pytorch/bench_ddpm_unet.py: the same model, inputs, optimizer and step.
Model : Ho et al. style UNet. conv_in 1->32 (3x3). Levels (res, ch): (28,32) (14,64) (7,128); 2 ResBlocks per level
        on the way down (+ stride-2 conv downsample after levels 0,1), self-attention (1 head, GroupNorm + qkv 1x1
        conv + softmax) after every ResBlock at 7x7; middle = ResBlock, Attn, ResBlock at 7x7 (128ch);
        up path: 3 ResBlocks per level consuming concatenated skips (+ attention at 7x7, nearest x2 + 3x3 conv
        upsample). ResBlock = GN(8 groups)-SiLU-conv3x3 (+ time-emb Linear bias) -GN-SiLU-conv3x3 (+1x1 skip if ch
        changes). Time embedding: sinusoidal(32) -> Linear 32->128 -> SiLU -> Linear 128->128. Output GN-SiLU-conv 32->1.
        (The one change: the sinusoid's frequencies are made on t's device.)
Loss  : standard eps-prediction: t~U{0..999}, linear beta 1e-4..0.02, x_t = sqrt(abar) x0 + sqrt(1-abar) eps, MSE(eps_hat, eps).
Input : synthetic x0 ~ U(-1,1), 1x28x28 fp32, drawn on the CPU as the CPU script draws it, then moved to the GPU
        once; each step's t and eps are drawn on the GPU (f32) and x_t formed there, in f32. No data loading timed.
Step  : draw t, eps, form x_t + zero_grad + forward + MSE (both under torch.autocast('cuda', bfloat16) unless
        --autocast none) + backward + AdamW(lr 2e-4, wd 0) (--opt sgd: SGD m=0.9) + loss.item().
GPU   : cudnn.benchmark on; TF32 at torch's defaults unless --tf32; eager unless --compile.
Timing: --warmup untimed steps, then --steps timed, each ending with loss.item() (which waits for the GPU);
        images/sec median/min/max.
Memory: peak_tensor_MiB = torch.cuda.max_memory_allocated over the timed steps (MiB); also the peak including
        warm-up, max_memory_reserved, and peak host RSS (getrusage) as the CPU script reports it.
Usage : python3 bench_ddpm_unet.py --batch 256 --steps 20 [--autocast bf16|none] [--tf32] [--compile]
Prints exactly one JSON line.
"""
import math

import _harness

p = _harness.parser(__doc__, steps=20, opt='adamw')
a = p.parse_args()

import torch, torch.nn as nn, torch.nn.functional as F

dev = _harness.setup(a)
TDIM = 128


def temb_sin(t, dim=32):
    half = dim // 2
    f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    arg = t.float()[:, None] * f[None]
    return torch.cat([arg.sin(), arg.cos()], 1)


class Res(nn.Module):
    def __init__(s, ci, co):
        super().__init__()
        s.n1 = nn.GroupNorm(8, ci); s.c1 = nn.Conv2d(ci, co, 3, 1, 1); s.t = nn.Linear(TDIM, co)
        s.n2 = nn.GroupNorm(8, co); s.c2 = nn.Conv2d(co, co, 3, 1, 1)
        s.sk = nn.Conv2d(ci, co, 1) if ci != co else nn.Identity()
    def forward(s, x, te):
        h = s.c1(F.silu(s.n1(x))) + s.t(te)[:, :, None, None]
        h = s.c2(F.silu(s.n2(h)))
        return s.sk(x) + h


class Attn(nn.Module):
    def __init__(s, c):
        super().__init__(); s.n = nn.GroupNorm(8, c); s.qkv = nn.Conv2d(c, 3 * c, 1); s.o = nn.Conv2d(c, c, 1)
    def forward(s, x):
        B, C, H, W = x.shape
        q, k, v = s.qkv(s.n(x)).reshape(B, 3, C, H * W).unbind(1)
        w = (q.transpose(1, 2) @ k * C ** -0.5).softmax(-1)          # B, HW, HW
        h = (v @ w.transpose(1, 2)).reshape(B, C, H, W)
        return x + s.o(h)


class UNet(nn.Module):
    def __init__(s, chs=(32, 64, 128), nres=2, attn_lvls=(2,)):
        super().__init__()
        s.temb = nn.Sequential(nn.Linear(32, TDIM), nn.SiLU(), nn.Linear(TDIM, TDIM))
        s.cin = nn.Conv2d(1, chs[0], 3, 1, 1)
        s.down = nn.ModuleList(); skip_ch = [chs[0]]; c = chs[0]
        for i, co in enumerate(chs):
            for _ in range(nres):
                s.down.append(nn.ModuleList([Res(c, co), Attn(co) if i in attn_lvls else nn.Identity()])); c = co; skip_ch.append(c)
            if i < len(chs) - 1:
                s.down.append(nn.Conv2d(c, c, 3, 2, 1)); skip_ch.append(c)
        s.mid1 = Res(c, c); s.mida = Attn(c); s.mid2 = Res(c, c)
        s.up = nn.ModuleList()
        for i, co in reversed(list(enumerate(chs))):
            for _ in range(nres + 1):
                s.up.append(nn.ModuleList([Res(c + skip_ch.pop(), co), Attn(co) if i in attn_lvls else nn.Identity()])); c = co
            if i > 0:
                s.up.append(nn.Conv2d(c, c, 3, 1, 1))  # preceded by nearest x2 upsample
        s.nout = nn.GroupNorm(8, c); s.cout = nn.Conv2d(c, 1, 3, 1, 1)
    def forward(s, x, t):
        te = s.temb(temb_sin(t))
        h = s.cin(x); hs = [h]
        for blk in s.down:
            if isinstance(blk, nn.Conv2d): h = blk(h)
            else: h = blk[1](blk[0](h, te))
            hs.append(h)
        h = s.mid2(s.mida(s.mid1(h, te)), te)
        for blk in s.up:
            if isinstance(blk, nn.Conv2d): h = blk(F.interpolate(h, scale_factor=2, mode='nearest'))
            else: h = blk[1](blk[0](torch.cat([h, hs.pop()], 1), te))
        return s.cout(F.silu(s.nout(h)))


m = UNet().train()
macs = [0]
def hook(mod, inp, out):
    if isinstance(mod, nn.Conv2d):
        macs[0] += out[0].numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
    elif isinstance(mod, nn.Linear):
        macs[0] += out[0].numel() * mod.in_features
    elif isinstance(mod, Attn):
        B, C, H, W = out.shape; macs[0] += 2 * (H * W) ** 2 * C
hs_ = [mm.register_forward_hook(hook) for mm in m.modules() if isinstance(mm, (nn.Conv2d, nn.Linear, Attn))]
with torch.no_grad():
    m.eval(); m(torch.randn(1, 1, 28, 28), torch.zeros(1, dtype=torch.long)); m.train()
for h in hs_: h.remove()
fwd_gflop_img = 2 * macs[0] / 1e9

betas = torch.linspace(1e-4, 0.02, 1000); abar = torch.cumprod(1 - betas, 0)
x0 = torch.rand(a.batch, 1, 28, 28) * 2 - 1
m, abar, x0 = m.to(dev), abar.to(dev), x0.to(dev)
opt = (torch.optim.AdamW(m.parameters(), lr=2e-4, weight_decay=0.0) if a.opt == 'adamw'
       else torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9))
net = _harness.compiled(a, m)

def step():
    t = torch.randint(0, 1000, (a.batch,), device=dev); eps = torch.randn_like(x0)
    ab = abar[t][:, None, None, None]
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    opt.zero_grad(set_to_none=True)
    with _harness.autocast(a):
        loss = F.mse_loss(net(xt, t), eps)
    loss.backward()
    opt.step()
    return loss.item()

_harness.report(a, _harness.time_steps(a, step), 'ddpm_unet_28',
                params=dict(params_M=round(sum(q.numel() for q in m.parameters()) / 1e6, 3)),
                fwd_gflop_img=fwd_gflop_img)
