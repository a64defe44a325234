#!/usr/bin/env python3
"""bench_byol_resnet18.py -- PyTorch CUDA training-throughput anchor: one BYOL step, ResNet-18 backbone (bf16 autocast).

The GPU variant of ../shared/bench/pytorch/bench_byol_resnet18.py: the same model, inputs, optimizer and step.
Backbone : torchvision resnet18, CIFAR-style (conv1 3x3 s1, no maxpool), fc removed -> 512-d features.
Projector: Linear 512->4096, BatchNorm1d, ReLU, Linear 4096->256.   Predictor: Linear 256->4096, BN1d, ReLU, Linear 4096->256.
Target   : deep copy of backbone+projector, no grad, updated by EMA (tau=0.996, torch._foreach_mul_/_foreach_add_;
           BN running buffers copied). Both views are concatenated into one 2B batch for online and target nets
           (as in lucidrains/byol-pytorch). Loss: symmetric 2 - 2*cos(p(view_i), z_target(view_j)), mean.
Input    : two synthetic 3x--img x--img views (N(0,1)), drawn on the CPU as the CPU script draws them, then moved to
           the GPU once; augmentation NOT timed.
Step     : zero_grad + online fwd (2B) + target fwd (2B, no_grad) + loss (all three under
           torch.autocast('cuda', bfloat16) unless --autocast none) + backward + SGD(lr 0.05, m 0.9, wd 1e-5)
           (--opt adamw: AdamW lr 1e-3) + EMA update of target (f32, outside autocast) + loss.item().
GPU      : cudnn.benchmark on; TF32 at torch's defaults unless --tf32; eager unless --compile (online, predictor
           and target each compiled); NCHW unless --channels-last.
Metric   : images/sec = batch (samples; each has 2 views) / median step time; views/sec = 2x that. Each step ends
           with loss.item() (which waits for the GPU).
Memory   : peak_tensor_MiB = torch.cuda.max_memory_allocated over the timed steps (MiB); also the peak including
           warm-up, max_memory_reserved, and peak host RSS (getrusage) as the CPU script reports it.
Usage    : python3 bench_byol_resnet18.py --batch 256 --steps 15 [--img 32] [--autocast bf16|none] [--tf32] [--compile]
Prints exactly one JSON line.
"""
import copy, statistics

import _harness

p = _harness.parser(__doc__, steps=15, opt='sgd')
p.add_argument('--img', type=int, default=32)
p.add_argument('--tau', type=float, default=0.996)
p.add_argument('--channels-last', action='store_true')
a = p.parse_args()

import torch, torch.nn as nn, torch.nn.functional as F, torchvision

dev = _harness.setup(a)

def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Linear(h, o))

bb = torchvision.models.resnet18()
bb.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False); bb.maxpool = nn.Identity(); bb.fc = nn.Identity()
online = nn.Sequential(bb, mlp(512, 4096, 256)).train()
predictor = mlp(256, 4096, 256).train()
target = copy.deepcopy(online).train()
for q in target.parameters(): q.requires_grad_(False)
online, predictor, target = online.to(dev), predictor.to(dev), target.to(dev)
if a.channels_last:
    online, target = online.to(memory_format=torch.channels_last), target.to(memory_format=torch.channels_last)
params = list(online.parameters()) + list(predictor.parameters())
opt = (torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-5) if a.opt == 'sgd'
       else torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-6))
o_par, t_par = list(online.parameters()), list(target.parameters())
o_buf, t_buf = list(online.buffers()), list(target.buffers())
online_net, predictor_net, target_net = (_harness.compiled(a, n) for n in (online, predictor, target))

v1 = torch.randn(a.batch, 3, a.img, a.img); v2 = torch.randn(a.batch, 3, a.img, a.img)
x = torch.cat([v1, v2], 0).to(dev)
if a.channels_last: x = x.to(memory_format=torch.channels_last)

def step():
    opt.zero_grad(set_to_none=True)
    with _harness.autocast(a):
        pr = predictor_net(online_net(x))
        with torch.no_grad():
            z = target_net(x).detach()
        pr = F.normalize(pr, dim=1); z = F.normalize(z, dim=1)
        B = a.batch
        # view1 prediction vs view2 target and vice versa
        loss = (2 - 2 * (pr[:B] * z[B:]).sum(1)).mean() + (2 - 2 * (pr[B:] * z[:B]).sum(1)).mean()
    loss.backward()
    opt.step()
    with torch.no_grad():
        torch._foreach_mul_(t_par, a.tau)
        torch._foreach_add_(t_par, o_par, alpha=1 - a.tau)
        for tb, ob in zip(t_buf, o_buf): tb.copy_(ob)
    return loss.item()

timing = _harness.time_steps(a, step)
_harness.report(a, timing, 'byol_resnet18_%d' % a.img,
                settings=dict(img=a.img, channels_last=a.channels_last),
                params=dict(params_online_M=round(sum(q.numel() for q in params) / 1e6, 3)),
                rates=dict(views_s_median=round(2 * a.batch / statistics.median(timing[0]), 2)))
