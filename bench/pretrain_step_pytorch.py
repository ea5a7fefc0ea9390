#!/usr/bin/env python3
"""One plain Llama 2 training step in PyTorch, timed: the peer of `Llama2.Benchmarks train-throughput`.

Same shape, batch, sequence length, optimizer (AdamW 0.9/0.95, eps 1e-5, weight decay 0.1) and clipping as
the C# trainer. Prints one line with tokens/s. Run by bench/pretrain-vs-pytorch.sh.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    b, t, h, d = x.shape
    pairs = x.view(b, t, h, d // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    c, s = cos.view(1, t, 1, -1), sin.view(1, t, 1, -1)
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).flatten(3)


def attention(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):  # PyTorch 2
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    t = q.shape[-2]  # PyTorch 1.x (Debian 12 ships 1.13): the same math, unfused
    scores = (q @ k.transpose(-2, -1)) / (q.shape[-1] ** 0.5)
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return F.softmax(scores, dim=-1) @ v


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, hidden):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.attention_norm = RMSNorm(dim)
        self.ffn_norm = RMSNorm(dim)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.attention_norm(x)
        q = rope(self.wq(h).view(b, t, self.heads, self.hd), cos, sin).transpose(1, 2)
        k = rope(self.wk(h).view(b, t, self.kv_heads, self.hd), cos, sin).transpose(1, 2)
        v = self.wv(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        if self.kv_heads != self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        a = attention(q, k, v)
        x = x + self.wo(a.transpose(1, 2).contiguous().view(b, t, -1))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, hidden, seq):
        super().__init__()
        self.tok_embeddings = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, heads, kv_heads, hidden) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, vocab, bias=False)
        hd = dim // heads
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        angles = torch.outer(torch.arange(seq).float(), freqs)
        self.cos, self.sin = angles.cos(), angles.sin()

    def forward(self, tokens):
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            h = layer(h, self.cos, self.sin)
        return self.output(self.norm(h))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("vocab", 4096), ("dim", 288), ("layers", 6), ("heads", 6), ("kv_heads", 6), ("hidden", 768),
                          ("seq", 256), ("micro", 8), ("steps", 10), ("warmup", 2), ("threads", 2)]:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Llama(a.vocab, a.dim, a.layers, a.heads, a.kv_heads, a.hidden, a.seq)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-5)
    data = torch.randint(0, a.vocab, (a.micro, a.seq + 1))
    times = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        logits = model(data[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), data[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            times.append(time.perf_counter() - start)
    tokens = a.micro * a.seq
    times.sort()
    params = sum(p.numel() for p in model.parameters())
    print(f"PyTorch {torch.__version__} ({params:,} parameters, batch {a.micro}x{a.seq}, {a.threads} threads): "
          f"{tokens / times[len(times) // 2]:.0f} tokens/s median, {tokens / times[0]:.0f} best")


if __name__ == "__main__":
    main()
