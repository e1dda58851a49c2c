#!/usr/bin/env python3
"""Compares skillsd's decoder (model_check) with Hugging Face transformers on random Qwen3 checkpoints.

Run by tools/gpu_check.sh on a GPU machine; works on CPU too (then only the CPU rows run). Prints a table of
max |logit difference| per setting and scoring throughput of both implementations.
"""
import argparse
import os
import subprocess
import time

import torch
from safetensors.torch import load_file
from transformers import Qwen3Config, Qwen3ForCausalLM


def make_model(path, seed, **sizes):
    torch.manual_seed(seed)
    try:
        cfg = Qwen3Config(rope_theta=10000.0, rms_norm_eps=1e-6, max_position_embeddings=4096,
                          attention_bias=False, **sizes)
    except TypeError:  # transformers versions that take RoPE settings only as rope_parameters
        cfg = Qwen3Config(rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, rms_norm_eps=1e-6,
                          max_position_embeddings=4096, attention_bias=False, **sizes)
    model = Qwen3ForCausalLM(cfg).eval()
    with torch.no_grad():  # larger than the default init so logits are far from uniform
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.08)
    model.save_pretrained(path, safe_serialization=True)
    return model


def load_hf(path, dtype, attn):
    try:
        return Qwen3ForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn)
    except TypeError:  # transformers 4.x
        return Qwen3ForCausalLM.from_pretrained(path, torch_dtype=dtype, attn_implementation=attn)


def ours(model_check, path, tokens_file, out, device, dtype):
    subprocess.run([model_check, "--model", path, "--tokens", tokens_file, "--out", out, "--device", device,
                    "--dtype", dtype], check=True, stdout=subprocess.DEVNULL)
    return load_file(out)["logits"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model_check", required=True)
    ap.add_argument("--out", default="/tmp/gpu_check")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cuda = torch.cuda.is_available()
    print("device:", torch.cuda.get_device_name(0) if cuda else "cpu only")

    tiny = os.path.join(args.out, "tiny_qwen3")
    hf = make_model(tiny, 0, vocab_size=512, hidden_size=128, intermediate_size=384, num_hidden_layers=3,
                    num_attention_heads=8, num_key_value_heads=2, head_dim=32, tie_word_embeddings=False)
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, 512, (n,), generator=g).tolist() for n in (23, 9, 40)]
    tokens_file = os.path.join(args.out, "tokens.txt")
    with open(tokens_file, "w") as f:
        for s in seqs:
            f.write(" ".join(map(str, s)) + "\n")

    print("\n| device | dtype | attention (HF) | max abs diff | max abs logit | argmax agreement |")
    print("|---|---|---|---|---|---|")
    settings = [("cpu", torch.float32, "float32")]
    if cuda:
        settings += [("cuda", torch.float32, "float32"), ("cuda", torch.bfloat16, "bfloat16")]
    for device, dtype, name in settings:
        mine = ours(args.model_check, tiny, tokens_file, os.path.join(args.out, f"ours_{device}_{name}.safetensors"),
                    device, name)
        for attn in ("eager", "sdpa"):
            ref_model = load_hf(tiny, dtype, attn).to(device).eval()
            worst, scale, agree, total = 0.0, 0.0, 0, 0
            with torch.inference_mode():
                for i, s in enumerate(seqs):
                    ref = ref_model(torch.tensor([s], device=device)).logits[0].float().cpu()
                    got = mine[i, : len(s)]
                    worst = max(worst, (ref - got).abs().max().item())
                    scale = max(scale, ref.abs().max().item())
                    agree += (ref.argmax(-1) == got.argmax(-1)).sum().item()
                    total += len(s)
            print(f"| {device} | {name} | {attn} | {worst:.3g} | {scale:.3g} | {agree}/{total} |")

    print("\nconfig.json written by transformers:")
    with open(os.path.join(tiny, "config.json")) as f:
        print(f.read())
    if not cuda:
        return
    big = os.path.join(args.out, "bench_qwen3")
    sizes = dict(vocab_size=32000, hidden_size=1024, intermediate_size=3072, num_hidden_layers=8,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=64, tie_word_embeddings=False)
    make_model(big, 2, **sizes)
    print("\nscoring (prefill) throughput, batch 8 x 512 tokens:")
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float32, "float32")):
        r = subprocess.run([args.model_check, "--model", big, "--bench", "--device", "cuda", "--dtype", name,
                            "--batch", "8", "--seq", "512", "--iters", "20"], check=True, capture_output=True,
                           text=True)
        print("  ours:", r.stdout.strip())
        for attn in ("eager", "sdpa"):
            m = load_hf(big, dtype, attn).cuda().eval()
            x = torch.randint(0, 32000, (8, 512), device="cuda")
            with torch.inference_mode():
                for _ in range(2):
                    m(x).logits.sum().item()
                torch.cuda.synchronize()
                t = time.time()
                for _ in range(20):
                    m(x).logits.sum().item()
                torch.cuda.synchronize()
                dt = time.time() - t
            print(f"  transformers ({name}, {attn}): tokens/s={8 * 512 * 20 / dt:.4g}")
            del m
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
