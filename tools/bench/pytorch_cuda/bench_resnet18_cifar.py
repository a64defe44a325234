#!/usr/bin/env python3
"""bench_resnet18_cifar.py -- PyTorch CUDA training-throughput anchor: ResNet-18, CIFAR-style (bf16 autocast).

The GPU variant of ../shared/bench/pytorch/bench_resnet18_cifar.py: the same model, inputs, optimizer and step.
Model : torchvision resnet18(num_classes=10) with conv1 -> 3x3 stride 1 pad 1 (no bias), maxpool -> Identity.
Input : synthetic 3x32x32 fp32 (N(0,1)), random labels in [0,10), drawn on the CPU as the CPU script draws
        them, then moved to the GPU once. No data loading / augmentation timed.
Step  : zero_grad(set_to_none) + forward + CrossEntropy (both under torch.autocast('cuda', bfloat16) unless
        --autocast none) + backward + optimizer.step + loss.item()
        (default SGD lr 0.1, momentum 0.9, wd 5e-4; --opt adamw -> AdamW lr 1e-3 wd 0.05).
GPU   : cudnn.benchmark on; TF32 at torch's defaults unless --tf32; eager unless --compile; NCHW unless
        --channels-last.
Timing: --warmup untimed steps, then --steps timed steps, each ending with loss.item() (which waits for the GPU);
        reports images/sec median/min/max over steps.
Memory: peak_tensor_MiB = torch.cuda.max_memory_allocated over the timed steps (MiB); also the peak including
        warm-up, max_memory_reserved, and peak host RSS (getrusage) as the CPU script reports it.
Usage : python3 bench_resnet18_cifar.py --batch 256 --steps 20 [--autocast bf16|none] [--tf32] [--compile]
Prints exactly one JSON line.
"""
import _harness

p = _harness.parser(__doc__, steps=20, opt='sgd')
p.add_argument('--channels-last', action='store_true')
a = p.parse_args()

import torch, torch.nn as nn, torch.nn.functional as F, torchvision

dev = _harness.setup(a)

m = torchvision.models.resnet18(num_classes=10)
m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
m.maxpool = nn.Identity()
m.train()

# forward MACs of Conv2d/Linear layers (per image) via hooks (on the CPU, before the move)
macs = [0]
def hook(mod, inp, out):
    if isinstance(mod, nn.Conv2d):
        macs[0] += out[0].numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
    elif isinstance(mod, nn.Linear):
        macs[0] += out[0].numel() * mod.in_features
hs = [mm.register_forward_hook(hook) for mm in m.modules() if isinstance(mm, (nn.Conv2d, nn.Linear))]
with torch.no_grad():
    m.eval(); m(torch.randn(1, 3, 32, 32)); m.train()
for h in hs: h.remove()
fwd_gflop_img = 2 * macs[0] / 1e9

x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
m, x, y = m.to(dev), x.to(dev), y.to(dev)
if a.channels_last:
    m = m.to(memory_format=torch.channels_last); x = x.to(memory_format=torch.channels_last)
opt = (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4) if a.opt == 'sgd'
       else torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05))
net = _harness.compiled(a, m)

def step():
    opt.zero_grad(set_to_none=True)
    with _harness.autocast(a):
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss.item()

_harness.report(a, _harness.time_steps(a, step), 'resnet18_cifar', settings=dict(channels_last=a.channels_last),
                params=dict(params_M=round(sum(q.numel() for q in m.parameters()) / 1e6, 3)),
                fwd_gflop_img=fwd_gflop_img)
