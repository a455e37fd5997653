#!/usr/bin/env python3
"""Export a text2img checkpoint as the runtime bundle models/fashion-text-16/ (step 5 of tools/train/text2img).

    python3 -m tools.train.text2img.export          # tools/checkpoints/text2img/last.pt -> models/fashion-text-16
    python3 -m tools.train.text2img.export --ckpt tools/.cache/t2i/ckpt/last.pt --out tools/.cache/t2i/bundle   # smoke test

Bundle files:
  config.json + model.safetensors   `Emu3ForCausalLM.save_pretrained` output (model_type "emu3_text_model"),
                                    weights in --dtype (f16): model.embed_tokens.weight, model.layers.{i}.
                                    {input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
                                    mlp.{gate,up,down}_proj}.weight, model.norm.weight, lm_head.weight (untied)
  generation_config.json            written by save_pretrained alongside (bos/eos/pad ids)
  tokenizer.json                    the caption tokenizer the checkpoint was trained with
  vq.safetensors                    VQ decoder side of the v2 VQ, exactly as tools/convert/export_bundle.py writes it
                                    (same tensor names and dtype handling as models/fashion-16/vq.safetensors)
  layout.json                       layout.py's ids (specials, image offset, grid, EOL, meta text), the VQ config
                                    (fashion-16 config.json's "vq" block), class names, pixel convention, source
  attributes.json                   captions.py's per-class attribute thresholds and words (for evaluation)

The EMA weights are exported when the checkpoint has them (--weights auto). After writing, the bundle is read
back the way a consumer would (from_pretrained, tokenizer.json, vq.safetensors) and checked against the
checkpoint's weights rounded to --dtype.
"""
from __future__ import annotations

import argparse
import json
import os

import torch
from safetensors.torch import save_file

from tools.convert.export_bundle import DTYPES, FASHION_CLASSES, vq_decoder_tensors
from tools.llamagen import VQConfig, VQModel
from tools.paths import CHECKPOINTS, MODELS, ROOT
from tools.train.text2img import layout as L

DEFAULT_CKPT = os.path.join(CHECKPOINTS, "text2img", "last.pt")
DEFAULT_OUT = os.path.join(MODELS, "fashion-text-16")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=DEFAULT_CKPT)
    ap.add_argument("--vq-ckpt", default=None, help="default: the VQ checkpoint recorded in --ckpt (v2 vq_last.pt)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--name", default="fashion-text-16")
    ap.add_argument("--dtype", default="f16", choices=sorted(DTYPES))
    ap.add_argument("--weights", default="auto", choices=["auto", "ema", "raw"])
    args = ap.parse_args()
    from tokenizers import Tokenizer
    from transformers import Emu3ForCausalLM, Emu3TextConfig

    dtype = DTYPES[args.dtype]
    ck = torch.load(args.ckpt, weights_only=False, map_location="cpu")
    use_ema = args.weights == "ema" or (args.weights == "auto" and ck.get("ema") is not None)
    if use_ema and ck.get("ema") is None:
        raise SystemExit(f"{args.ckpt} has no EMA weights")
    vq_path = args.vq_ckpt or os.path.join(ROOT, ck["vq"]["path"])
    vq = torch.load(vq_path, weights_only=False, map_location="cpu")
    if vq.get("step") != ck["vq"]["step"]:
        # the image ids mean VQ codes of the VQ that encoded the training grids: another VQ decodes garbage
        raise SystemExit(f"{vq_path} is VQ step {vq.get('step')}, the model was trained on step {ck['vq']['step']}")

    os.makedirs(args.out, exist_ok=True)
    model = Emu3ForCausalLM(Emu3TextConfig(**ck["config"]))
    model.load_state_dict(ck["ema" if use_ema else "model"])
    model = model.to(dtype)
    model.save_pretrained(args.out)  # config.json (+ "dtype"), model.safetensors, generation_config.json
    tok = Tokenizer.from_str(ck["tokenizer_json"])
    tok.save(os.path.join(args.out, "tokenizer.json"))
    lay = L.Layout(tok)
    vt = vq_decoder_tensors(vq["model"], dtype)
    save_file(vt, os.path.join(args.out, "vq.safetensors"),
              metadata={"format": "pt", "step": str(vq.get("step", "")), "source": os.path.basename(vq_path)})
    extra = {"name": args.name, "vq": VQConfig.from_json(vq["config"]).to_json(), "class_names": FASHION_CLASSES,
             "pixels": "VQ decoder output x in [-1, 1] -> uint8 = clamp(127.5 x + 128, 0, 255) truncated",
             "source": {"step": ck["step"], "weights": f"ema {ck['ema_decay']}" if use_ema else "raw",
                        "vq_step": vq.get("step"), "minutes": round(ck["elapsed"] / 60, 1)}}
    L.write_json(lay, os.path.join(args.out, "layout.json"), extra)
    stats = ck.get("attribute_stats")
    if stats is not None:
        from tools.train.text2img import captions as C
        with open(os.path.join(args.out, "attributes.json"), "w") as f:
            json.dump({**stats, "words": C.WORDS, "suffixes": C.SUFFIX, "class_words": C.CLASS_WORDS}, f, indent=1)
    for f in os.listdir(args.out):
        os.chmod(os.path.join(args.out, f), 0o644)  # save_pretrained writes 0600

    # read back as a consumer would, and compare with the checkpoint weights rounded to the export dtype
    back = Emu3ForCausalLM.from_pretrained(args.out, dtype=torch.float32)
    ref = Emu3ForCausalLM(Emu3TextConfig(**ck["config"]))
    ref.load_state_dict({k: v.to(dtype).float() for k, v in ck["ema" if use_ema else "model"].items()})
    back.eval()
    ref.eval()
    lay2 = L.load(os.path.join(args.out, "tokenizer.json"))
    seq, _ = lay2.sequence(lay2.encode_caption("a dark patterned dress"), list(range(256)))
    with torch.no_grad():
        a = back(input_ids=torch.tensor([seq])).logits
        b = ref(input_ids=torch.tensor([seq])).logits
    diff = (a - b).abs().max().item()
    v2 = VQModel(VQConfig.from_json(extra["vq"]), with_encoder=False)
    from safetensors.torch import load_file
    missing, unexpected = v2.load_state_dict(load_file(os.path.join(args.out, "vq.safetensors")), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    assert diff < 1e-3, f"re-loaded bundle differs from the checkpoint: max |logit diff| {diff}"
    n = sum(p.numel() for p in back.parameters())
    sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
    print(f"exported step {ck['step']} ({'EMA' if use_ema else 'raw'} weights, {n} params, {args.dtype}) + VQ "
          f"step {vq.get('step')} decoder to {args.out}; read-back max |logit diff| {diff:.2e}")
    print("  " + ", ".join(f"{f} {s / 1e6:.2f} MB" if s > 1e5 else f"{f} {s} B" for f, s in sizes.items()))


if __name__ == "__main__":
    main()
