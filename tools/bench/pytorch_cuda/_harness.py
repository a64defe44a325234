"""_harness.py -- what the four CUDA benchmark scripts share: options, device set-up, timing, the JSON line.

The CPU scripts of ../shared/bench/pytorch each repeat this harness; here it lives once, and each
bench_<name>.py keeps only its model, inputs and step (restated from the CPU script).

Options common to all four (each script adds its own model options and --opt):
  --batch 256        samples per step (issue 8: batch 256 on an H100)
  --steps, --warmup  timed steps after untimed ones (warm-up also covers cudnn.benchmark's autotuning)
  --autocast bf16    forward + loss under torch.autocast('cuda', dtype=torch.bfloat16); `none`: f32
  --tf32             allow TF32 in matmuls and cuDNN convolutions (default: PyTorch's own defaults --
                     matmul TF32 off, cuDNN TF32 on since 1.12 -- whatever this torch has)
  --compile          torch.compile the trained modules (default eager: issue 8 compares against eager)
  --threads N        torch.set_num_threads (host side); 0 (default): torch's own choice
  --device cpu       hidden smoke test only (argument parsing, model construction, one step on the CPU, e.g.
                     `--device cpu --autocast none --steps 1 --warmup 0 --batch 2`); not a benchmark. (With
                     --autocast bf16 it runs CPU autocast, which in torch 1.13 fails in ddpm_unet's GroupNorm;
                     CUDA autocast runs GroupNorm in f32.)
Timing: each step ends with loss.item(), which waits for the GPU, so a step's wall time covers its kernels.
Memory: torch.cuda.max_memory_allocated (tensors held by PyTorch's caching allocator), reset after the
        warm-up: peak_tensor_MiB is the timed steps' peak, peak_tensor_MiB_incl_warmup the whole run's
        (including cuDNN autotuning's trial workspaces); peak_reserved_MiB is max_memory_reserved (the
        allocator's segments, closer to what nvidia-smi shows); peak_rss_MiB is host memory, as on the CPU.
"""
import argparse, contextlib, json, os, resource, statistics, sys, time

PROG = os.path.basename(sys.argv[0])


def parser(doc, steps=20, opt='sgd'):
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--steps', type=int, default=steps)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=0, help='host threads (torch.set_num_threads); 0: torch default')
    p.add_argument('--opt', choices=['sgd', 'adamw'], default=opt)
    p.add_argument('--autocast', choices=['bf16', 'none'], default='bf16')
    p.add_argument('--tf32', action='store_true', help='allow TF32 in matmul and cuDNN (default: torch defaults)')
    p.add_argument('--compile', action='store_true', help='torch.compile the trained modules (default eager)')
    p.add_argument('--device', choices=['cuda', 'cpu'], default='cuda', help=argparse.SUPPRESS)  # cpu: smoke test
    return p


def check(a):
    for k in ('batch', 'steps'):
        if getattr(a, k) < 1: sys.exit('%s: --%s must be at least 1' % (PROG, k))
    if a.warmup < 0: sys.exit('%s: --warmup must be at least 0' % PROG)


def setup(a):
    """Checks the options and the GPU, sets torch up as the CPU scripts do (threads, seed 0) plus the GPU
    settings; returns torch.device. Exits 3 with a message when CUDA was asked for and there is none."""
    check(a)
    import torch
    if a.device == 'cuda' and not torch.cuda.is_available():
        sys.stderr.write('%s: no CUDA GPU visible to torch %s (torch.cuda.is_available() is false)\n'
                         % (PROG, torch.__version__))
        sys.exit(3)
    if a.compile and not hasattr(torch, 'compile'):
        sys.exit('%s: --compile needs torch >= 2.0, this is %s' % (PROG, torch.__version__))
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    if a.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return torch.device(a.device)


def autocast(a):
    """The context the forward pass and the loss run in."""
    import torch
    if a.autocast == 'bf16':
        return torch.autocast(a.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compiled(a, module):
    import torch
    return torch.compile(module) if a.compile else module


def time_steps(a, step):
    """a.warmup untimed steps, then a.steps timed ones (each returns loss.item()); the allocator's peak is read
    after the warm-up and reset. Returns (step seconds, last loss, peak MiB during the warm-up)."""
    import torch
    cuda = a.device == 'cuda'
    for _ in range(a.warmup): step()
    warm_peak = 0.0
    if cuda:
        torch.cuda.synchronize()
        warm_peak = torch.cuda.max_memory_allocated() / 2 ** 20
        torch.cuda.reset_peak_memory_stats()
    ts = []
    for _ in range(a.steps):
        t0 = time.perf_counter(); loss = step(); ts.append(time.perf_counter() - t0)
    return ts, loss, warm_peak


def report(a, timing, bench, settings={}, params={}, rates={}, fwd_gflop_img=None):
    """Prints the one JSON line, in the CPU scripts' order: the bench name and the run's identity (torch, GPU,
    autocast, ...), the model's `settings`, steps, `params`, the throughput and extra `rates`, the step time,
    the FLOP estimates (when `fwd_gflop_img` is given: forward GFLOP per image, and 3x that per trained image
    at the median rate), then memory, the final loss, every step's time and the environment."""
    import torch
    ts, loss, warm_peak = timing
    cuda = a.device == 'cuda'
    med = statistics.median(ts)
    out = dict(bench=bench, torch=torch.__version__, cuda=torch.version.cuda,
               cudnn=torch.backends.cudnn.version() if cuda else None,
               gpu=torch.cuda.get_device_name() if cuda else None, device=a.device,
               autocast=a.autocast, compile=a.compile,
               tf32=dict(matmul=torch.backends.cuda.matmul.allow_tf32, cudnn=torch.backends.cudnn.allow_tf32),
               cudnn_benchmark=torch.backends.cudnn.benchmark, threads=torch.get_num_threads(), batch=a.batch,
               opt=a.opt, **settings)
    out.update(steps=a.steps, warmup=a.warmup, **params)
    out.update(img_s_median=round(a.batch / med, 2), img_s_min=round(a.batch / max(ts), 2),
               img_s_max=round(a.batch / min(ts), 2), **rates)
    out.update(step_ms_median=round(med * 1e3, 2))
    if fwd_gflop_img is not None:
        out.update(fwd_gflop_per_img=round(fwd_gflop_img, 4),
                   est_train_gflops=round(3 * fwd_gflop_img * a.batch / med, 1))
    if cuda:
        timed_peak = torch.cuda.max_memory_allocated() / 2 ** 20
        out.update(peak_tensor_MiB=round(timed_peak, 1), peak_tensor_MiB_incl_warmup=round(max(timed_peak, warm_peak), 1),
                   peak_reserved_MiB=round(torch.cuda.max_memory_reserved() / 2 ** 20, 1))
    else:
        out.update(peak_tensor_MiB=None, peak_tensor_MiB_incl_warmup=None, peak_reserved_MiB=None)
    out.update(peak_rss_MiB=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               final_loss=round(loss, 4), step_ms=[round(t * 1e3, 2) for t in ts],
               env={k: os.environ.get(k) for k in ('CUDA_VISIBLE_DEVICES', 'PYTORCH_CUDA_ALLOC_CONF',
                                                   'NVIDIA_TF32_OVERRIDE', 'OMP_NUM_THREADS')})
    if not cuda: out['smoke_test'] = 'device cpu: checks the script runs, measures nothing'
    print(json.dumps(out))
