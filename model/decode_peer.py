#!/usr/bin/env python3
"""A plain PyTorch-eager peer for model_benchmark's decode figures: the same Qwen3 decoder on the same weights
(the folder model_benchmark writes), decoding the way a straightforward eager loop does: a KV cache grown with
torch.cat at every step, the whole [batch, vocabulary] logits softmaxed and sampled with torch.multinomial.

  decode_peer.py MODEL_DIR --batch 8 32 --prompt 512 --new 128 --threads N

Prints one line per batch: "peer decode batch B: T tokens/s (prefill S s)". Uses Debian's python3-torch only.
"""
import argparse
import json
import struct
import sys
import time

try:
    import torch
except ImportError:
    print("peer skipped: python3-torch is not installed (deploy/install_deps.sh --bench installs it)")
    sys.exit(0)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(raw[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(buf, dtype=dtypes[info["dtype"]]).reshape(info["shape"]).float()
    return out


class Qwen3:
    def __init__(self, folder):
        self.c = json.load(open(folder + "/config.json"))
        self.w = load_safetensors(folder + "/model.safetensors")
        c = self.c
        self.layers = c["num_hidden_layers"]
        self.heads, self.kv, self.d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        half = self.d // 2
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, half, dtype=torch.float64) * 2 / self.d))
        self.inv_freq = self.inv_freq.float()
        self.head = self.w.get("lm_head.weight", self.w["model.embed_tokens.weight"])

    def norm(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x, pos):
        freqs = pos.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, tokens, pos, cache):
        """tokens, pos [B, T]; cache: list of (k, v) per layer or None. Returns last logits [B, V], new cache."""
        b, t = tokens.shape
        x = self.w["model.embed_tokens.weight"][tokens]
        new_cache = []
        for l in range(self.layers):
            p = f"model.layers.{l}."
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            q = (h @ self.w[p + "self_attn.q_proj.weight"].t()).view(b, t, self.heads, self.d)
            k = (h @ self.w[p + "self_attn.k_proj.weight"].t()).view(b, t, self.kv, self.d)
            v = (h @ self.w[p + "self_attn.v_proj.weight"].t()).view(b, t, self.kv, self.d).transpose(1, 2)
            q = self.norm(q, self.w[p + "self_attn.q_norm.weight"]).transpose(1, 2)
            k = self.norm(k, self.w[p + "self_attn.k_norm.weight"]).transpose(1, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache is not None:
                k = torch.cat([cache[l][0], k], 2)
                v = torch.cat([cache[l][1], v], 2)
            new_cache.append((k, v))
            rep = self.heads // self.kv
            kk, vv = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            s = (q @ kk.transpose(2, 3)) / self.d ** 0.5
            total = kk.shape[2]
            causal = torch.ones(t, total, dtype=torch.bool).tril(total - t)
            s = s.masked_fill(~causal, float("-inf"))
            a = (torch.softmax(s, -1) @ vv).transpose(1, 2).reshape(b, t, self.heads * self.d)
            x = x + a @ self.w[p + "self_attn.o_proj.weight"].t()
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            g = h @ self.w[p + "mlp.gate_proj.weight"].t()
            u = h @ self.w[p + "mlp.up_proj.weight"].t()
            x = x + (torch.nn.functional.silu(g) * u) @ self.w[p + "mlp.down_proj.weight"].t()
        x = self.norm(x[:, -1], self.w["model.norm.weight"])
        return x @ self.head.t(), new_cache


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Qwen3(args.model_dir)
    vocab = model.c["vocab_size"]
    with torch.inference_mode():
        for b in args.batch:
            prompt = (torch.arange(b).unsqueeze(1) * 7 + torch.arange(args.prompt).unsqueeze(0) * 3) % 1000
            pos = torch.arange(args.prompt).unsqueeze(0).expand(b, -1)
            start = time.time()
            logits, cache = model.forward(prompt, pos, None)
            prefill = time.time() - start
            start = time.time()
            for step in range(args.new):  # new tokens, each fed back but the last (as model_benchmark's loop)
                token = torch.multinomial(torch.softmax(logits, -1), 1)
                if step + 1 < args.new:
                    p = torch.full((b, 1), args.prompt + step)
                    logits, cache = model.forward(token, p, cache)
            s = time.time() - start
            print(f"peer decode batch {b}: {b * args.new / s:.1f} tokens/s (prefill {prefill:.2f} s, vocab {vocab})",
                  flush=True)


if __name__ == "__main__":
    main()
