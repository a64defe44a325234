#!/usr/bin/env python3
"""bench_vit_tiny.py -- PyTorch CUDA training-throughput anchor: ViT-Tiny-ish on 32x32 images (bf16 autocast).

The GPU variant of ../shared/bench/pytorch/bench_vit_tiny.py: the same model, inputs, optimizer and step.
Model : patch embed Conv2d(3,192,4,stride 4) -> 64 tokens + cls token = 65, learnable pos-emb,
        --depth (default 6) pre-LN blocks: LN -> MHSA(heads 3, head_dim 64, fused qkv Linear, explicit
        softmax(QK^T/sqrt(d))V, out proj) -> residual; LN -> MLP 192->768->192 (GELU) -> residual;
        final LN, linear head on cls token, 10 classes. No dropout. The attention stays explicit, as in the
        CPU script; --sdpa swaps in F.scaled_dot_product_attention (torch >= 2.0; off by default).
Input : synthetic 3x32x32 fp32, random labels, drawn on the CPU as the CPU script draws them, then moved to
        the GPU once. No data loading / augmentation timed.
Step  : zero_grad + forward + CrossEntropy (both under torch.autocast('cuda', bfloat16) unless --autocast none)
        + backward + AdamW(lr 1e-3, wd 0.05) (--opt sgd: SGD m=0.9) + loss.item().
GPU   : cudnn.benchmark on; TF32 at torch's defaults unless --tf32; eager unless --compile.
Timing: --warmup untimed steps, then --steps timed, each ending with loss.item() (which waits for the GPU);
        images/sec median/min/max over steps.
Memory: peak_tensor_MiB = torch.cuda.max_memory_allocated over the timed steps (MiB); also the peak including
        warm-up, max_memory_reserved, and peak host RSS (getrusage) as the CPU script reports it.
Usage : python3 bench_vit_tiny.py --batch 256 --steps 20 [--depth 12] [--autocast bf16|none] [--tf32] [--compile]
Prints exactly one JSON line.
"""
import math

import _harness

p = _harness.parser(__doc__, steps=20, opt='adamw')
p.add_argument('--depth', type=int, default=6)
p.add_argument('--dim', type=int, default=192)
p.add_argument('--heads', type=int, default=3)
p.add_argument('--mlp', type=int, default=768)
p.add_argument('--patch', type=int, default=4)
p.add_argument('--sdpa', action='store_true', help='F.scaled_dot_product_attention instead of the explicit softmax')
a = p.parse_args()

import torch, torch.nn as nn, torch.nn.functional as F

dev = _harness.setup(a)
if a.sdpa and not hasattr(F, 'scaled_dot_product_attention'):
    raise SystemExit('bench_vit_tiny.py: --sdpa needs torch >= 2.0, this is %s' % torch.__version__)


class Attn(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.h = h; s.qkv = nn.Linear(d, 3 * d); s.proj = nn.Linear(d, d)
    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(x).view(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)  # each B,h,T,hd
        if a.sdpa:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // s.h))
            o = att.softmax(-1) @ v
        return s.proj(o.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    def __init__(s, d, h, m):
        super().__init__()
        s.n1 = nn.LayerNorm(d); s.at = Attn(d, h); s.n2 = nn.LayerNorm(d)
        s.mlp = nn.Sequential(nn.Linear(d, m), nn.GELU(), nn.Linear(m, d))
    def forward(s, x):
        x = x + s.at(s.n1(x))
        return x + s.mlp(s.n2(x))


class ViT(nn.Module):
    def __init__(s, img=32, p=4, d=192, depth=6, h=3, m=768, nc=10):
        super().__init__()
        s.pe = nn.Conv2d(3, d, p, p); n = (img // p) ** 2
        s.cls = nn.Parameter(torch.zeros(1, 1, d)); s.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        s.blocks = nn.Sequential(*[Block(d, h, m) for _ in range(depth)])
        s.norm = nn.LayerNorm(d); s.head = nn.Linear(d, nc)
    def forward(s, x):
        x = s.pe(x).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.expand(x.shape[0], -1, -1), x], 1) + s.pos
        return s.head(s.norm(s.blocks(x))[:, 0])


m = ViT(32, a.patch, a.dim, a.depth, a.heads, a.mlp).train()
T = (32 // a.patch) ** 2 + 1
# analytic forward FLOPs per image: linears + attention matmuls + patch embed + head
lin_macs = a.depth * T * (a.dim * 3 * a.dim + a.dim * a.dim + 2 * a.dim * a.mlp)
att_macs = a.depth * 2 * T * T * a.dim
pe_macs = (T - 1) * a.dim * 3 * a.patch * a.patch
fwd_gflop_img = 2 * (lin_macs + att_macs + pe_macs + a.dim * 10) / 1e9

x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
m, x, y = m.to(dev), x.to(dev), y.to(dev)
opt = (torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05) if a.opt == 'adamw'
       else torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9))
net = _harness.compiled(a, m)

def step():
    opt.zero_grad(set_to_none=True)
    with _harness.autocast(a):
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss.item()

_harness.report(a, _harness.time_steps(a, step), 'vit_tiny_p%d_d%d_L%d' % (a.patch, a.dim, a.depth),
                settings=dict(tokens=T, depth=a.depth, attention='sdpa' if a.sdpa else 'explicit'),
                params=dict(params_M=round(sum(q.numel() for q in m.parameters()) / 1e6, 3)),
                fwd_gflop_img=fwd_gflop_img)
