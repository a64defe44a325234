"""bench_attention.py -- PyTorch's fused attention in bf16 on the shapes of build/bin/bench_attention_cuda.

torch.nn.functional.scaled_dot_product_attention on CUDA bf16 tensors [B, H, L = S, D] (PyTorch picks its
flash-attention backend for these), timed as Vireo's: the median of --iterations calls after two warm-up
calls, each followed by torch.cuda.synchronize() -- the forward under no_grad, the backward
(torch.autograd.grad of a forward made untimed just before); the rate counts 4*B*H*L*S*D flops per forward
and 10*B*H*L*S*D per backward (half with is_causal). One line per pass and shape, in the same order and words
as the Vireo program, so the two can be read side by side; run them one after the other on the same GPU.

    python3 tools/bench/pytorch_cuda/bench_attention.py [--iterations 20]

Exits 3 with a message when torch sees no CUDA GPU.
"""
import argparse, statistics, sys, time

SHAPES = [  # (batch, heads, length, head_dim, causal), the tensor-core shapes of bench_attention_cuda
    (4, 16, 1024, 128, False), (4, 16, 2048, 128, False), (4, 16, 4096, 128, False), (2, 16, 8192, 128, False),
    (4, 16, 4096, 128, True), (4, 32, 4096, 64, False), (4, 32, 1024, 64, False),
]


def peak_tflops(name):
    if 'H100' in name: return 756.0 if 'PCIe' in name else 989.0
    if 'H200' in name: return 989.0
    return 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--iterations', type=int, default=20)
    a = p.parse_args()
    import torch
    import torch.nn.functional as F
    if not torch.cuda.is_available():
        sys.stderr.write('bench_attention.py: no CUDA GPU visible to torch %s\n' % torch.__version__)
        sys.exit(3)
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops(name)
    print('%s; torch %s; iterations: %d' % (name, torch.__version__, a.iterations))
    torch.manual_seed(0)
    for batch, heads, length, dim, causal in SHAPES:
        q, k, v = (torch.randn(batch, heads, length, dim, device='cuda', dtype=torch.bfloat16, requires_grad=True)
                   for _ in range(3))
        grad = torch.randn(batch, heads, length, dim, device='cuda', dtype=torch.bfloat16)

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        def backward():  # the forward untimed, then the timed backward of its graph
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            torch.cuda.synchronize()
            start = time.perf_counter()
            torch.autograd.grad(out, (q, k, v), grad)
            torch.cuda.synchronize()
            return (time.perf_counter() - start) * 1e3

        def timed_forward():
            start = time.perf_counter()
            forward()
            torch.cuda.synchronize()
            return (time.perf_counter() - start) * 1e3

        product = 2.0 * batch * heads * length * length * dim * (0.5 if causal else 1.0)
        for name, call, products in (('forward', timed_forward, 2.0), ('backward', backward, 5.0)):
            for _ in range(2): call()
            ms = statistics.median(call() for _ in range(a.iterations))
            tflops = products * product / (ms * 1e-3) * 1e-12
            line = 'attention %s bf16 [%d, %d, %d, %d]%s torch: %.3f ms, %.1f TFLOP/s' % (
                name, batch, heads, length, dim, ' causal' if causal else '', ms, tflops)
            if peak: line += ' (%.1f%% of peak)' % (100.0 * tflops / peak)
            print(line)


if __name__ == '__main__':
    main()
