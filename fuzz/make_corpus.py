#!/usr/bin/env python3
"""Writes the generated part of the seed corpus (run from the repo root; python3 standard library only).

corpus/config/cfg_*.json: every config in configs/ with its "base" chain merged in (parse_config
sees the merged JSON; "base" is resolved by load_config). corpus/safetensors/st_*.st:
tiny files in moelab's layout (8-byte header length, JSON header padded to 8 bytes, checksum
"moelab_data_fnv64" over the data as train/io/safetensors.cpp computes it). Hand-written malformed
seeds and crash reproducers (crash_*, bad_*) live beside them and are not touched.
(.st, not .safetensors: the repository's .gitignore ignores *.safetensors.)
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def merge_patch(target, patch):  # RFC 7386, as nlohmann::json::merge_patch
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def load(path):
    with open(path) as f:
        j = json.load(f)
    if isinstance(j, dict) and "base" in j:
        base = load(os.path.join(os.path.dirname(path), j.pop("base")))
        return merge_patch(base, j)
    return j


def fnv64(data):
    h = 0xCBF29CE484222325
    i = 0
    while i + 8 <= len(data):
        (w,) = struct.unpack_from("<Q", data, i)
        h = ((h ^ w) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        i += 8
    for b in data[i:]:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def safetensors(tensors, metadata=None, checksum=True):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in that order."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    meta = dict(metadata or {})
    if checksum:
        meta["moelab_data_fnv64"] = fnv64(data)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def main():
    os.makedirs(os.path.join(OUT, "config"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "safetensors"), exist_ok=True)
    configs = os.path.join(ROOT, "configs")
    for dirpath, _, files in sorted(os.walk(configs)):
        for f in sorted(files):
            if not f.endswith(".json"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), configs)
            name = "cfg_" + rel[:-5].replace(os.sep, "_") + ".json"
            with open(os.path.join(OUT, "config", name), "w") as out:
                json.dump(load(os.path.join(dirpath, f)), out, separators=(",", ":"))
                out.write("\n")

    seeds = {
        "st_f32_one": safetensors([("w", "F32", [4, 3], f32(*[i * 0.5 for i in range(12)]))]),
        "st_f32_model": safetensors(
            [("transformer.wte.weight", "F32", [5, 4], f32(*[0.01 * i for i in range(20)])),
             ("transformer.h.0.moe.router.weight", "F32", [2, 4], f32(*[-0.1 * i for i in range(8)])),
             ("transformer.h.0.moe.router.bias_balance", "F32", [2], f32(0.0, 0.25)),
             ("lm_head.bias", "F32", [], f32(3.0))],
            {"format": "pt", "checkpoint_step": "17", "config": json.dumps({"vocab": 5, "layers": 1})}),
        "st_f16_bf16": safetensors(
            [("h", "F16", [5], struct.pack("<5H", 0x3C00, 0xC000, 0x0001, 0x7C00, 0x0000)),
             ("b", "BF16", [2, 2], struct.pack("<4H", 0x3F80, 0xBF80, 0x7F80, 0x0000))]),
        "st_empty_tensor": safetensors([("z", "F32", [0, 7], b""), ("s", "F32", [1], f32(1.0))]),
        "st_metadata_only": safetensors([], {"step": "3"}),
        "st_no_checksum": safetensors([("w", "F32", [2], f32(1.0, 2.0))], {"format": "pt"}, checksum=False),
        "st_optimizer": safetensors(
            [("m.w", "F32", [3], f32(0.1, 0.2, 0.3)), ("v.w", "F32", [3], f32(0.01, 0.02, 0.03))],
            {"step": "42", "checkpoint_step": "42"}),
    }
    for name, raw in seeds.items():
        with open(os.path.join(OUT, "safetensors", name + ".st"), "wb") as out:
            out.write(raw)


if __name__ == "__main__":
    main()
