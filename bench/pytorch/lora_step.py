"""PyTorch eager reference for `npm run bench:train`: LoRA r = 8 on every linear layer of a
SmolLM2-135M-shaped Llama (random weights), batch 4 x 256, AdamW, on the CPU with N threads.

Written from transformers' modeling_llama (RMSNorm, rotary embedding, grouped-query attention,
SiLU-gated MLP, tied head) and PEFT's LoRA (A kaiming, B zero, scale alpha / r), without either
package (Debian's python3-torch is all this machine has). Prints the steady step time, tokens/s and
the process's peak RSS.

    python3 bench/pytorch/lora_step.py [--threads 2] [--steps 3]

Debian's torch 1.13 links the reference BLAS (140 s a step here); install libopenblas0-pthread
first, which the libblas.so.3 alternative then points to. Measured on the project's 2-core machine,
beside `npm run bench:train` in the same session: 15.3 s a step (67 tokens/s, peak RSS 6.4 GiB)
against Tuneloop's 2.78 s (368 tokens/s, 3.6 GiB). A PyTorch wheel with MKL may well be faster
than this build.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=3)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

H, L, NH, KVH, D, I, V = 576, 30, 9, 3, 64, 1536, 49152
B, S, R, ALPHA = 4, 256, 8, 16


class Lora(torch.nn.Module):
    def __init__(self, inf, outf):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(outf, inf) * 0.02, requires_grad=False)
        self.a = torch.nn.Parameter(torch.empty(R, inf))
        torch.nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.b = torch.nn.Parameter(torch.zeros(outf, R))

    def forward(self, x):
        return F.linear(x, self.w) + F.linear(F.linear(x, self.a), self.b) * (ALPHA / R)


def rms(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = Lora(H, NH * D), Lora(H, KVH * D), Lora(H, KVH * D), Lora(NH * D, H)
        self.gate, self.up, self.down = Lora(H, I), Lora(H, I), Lora(I, H)
        self.n1 = torch.nn.Parameter(torch.ones(H), requires_grad=False)
        self.n2 = torch.nn.Parameter(torch.ones(H), requires_grad=False)

    def forward(self, x, cos, sin, mask):
        h = rms(x, self.n1)
        q = self.q(h).view(B, S, NH, D).transpose(1, 2)
        k = self.k(h).view(B, S, KVH, D).transpose(1, 2)
        v = self.v(h).view(B, S, KVH, D).transpose(1, 2)

        def rot(t):
            t1, t2 = t[..., : D // 2], t[..., D // 2 :]
            return t * cos + torch.cat((-t2, t1), -1) * sin

        q, k = rot(q), rot(k)
        k = k.repeat_interleave(NH // KVH, dim=1)
        v = v.repeat_interleave(NH // KVH, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(B, S, NH * D))
        h = rms(x, self.n2)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(V, H) * 0.02, requires_grad=False)
        self.layers = torch.nn.ModuleList(Layer() for _ in range(L))
        self.norm = torch.nn.Parameter(torch.ones(H), requires_grad=False)

    def forward(self, ids):
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        f = torch.outer(torch.arange(S).float(), inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((S, S), float("-inf")).triu(1)
        x = F.embedding(ids, self.emb)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return F.linear(rms(x, self.norm), self.emb)


model = Model()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(3, V, (B, S))
times = []
for step in range(args.steps + 2):
    t = time.perf_counter()
    logits = model(ids)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    times.append(time.perf_counter() - t)
    print(f"step {step}: {times[-1]:.2f} s", flush=True)
steady = sum(times[2:]) / len(times[2:])
print(f"pytorch {torch.__version__} eager, {args.threads} threads: step {steady:.2f} s, {B * S / steady:.0f} tokens/s "
      f"(steps {', '.join(f'{x:.2f}' for x in times)}); peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
