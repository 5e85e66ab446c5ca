"""The transformers backend: one `generate` call per request, its n samples in one batch.

Requests are never batched together, so a request's completions depend only on its prompt,
settings and seed (sharded runs merge byte for byte); its n samples share the prompt, whose KV
cache is computed once and copied to every row (as vLLM's prefix caching does, block by block).
Completions follow vLLM's conventions so both backends give the same records: a stop string
is kept at the end of the text and counted in the tokens; an EOS token is counted but not
shown; special tokens are skipped.
"""

from __future__ import annotations

from typing import Any, Sequence, cast

import torch
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)

from ttc.lm import Completion, GenerationRequest, Ledger, LMBase
from ttc.lm.config import MIN_REQUESTS_FOR_PROGRESS, LMConfig, probe_token, resolve_dtype


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def torch_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The torch dtype of a config's `dtype` on `device` (ttc/lm/config.py resolve_dtype)."""
    return getattr(torch, resolve_dtype(dtype, device.type))


def first_stop_end(text: str, stop: Sequence[str]) -> int | None:
    """End index of the stop string that completes first in `text`, or None."""
    ends = [text.find(s) + len(s) for s in stop if s and s in text]
    return min(ends, default=None)


class CompletionStopStrings(StoppingCriteria):
    """generate's stop-string check, confirmed on the completion's text: transformers also
    stops on a match that starts in the prompt (prompt "...:\n", stop "\n\n", first token
    "\n"), which vLLM never does. Decoding only on candidate steps keeps it cheap. `candidates`
    is transformers' check for these stop strings, built once per backend and stop strings: it
    decodes the whole vocabulary (3-5 s for Qwen's 151k tokens)."""

    def __init__(self, candidates: StopStringCriteria, tokenizer, stop: Sequence[str], prompt_length: int):
        self.candidates, self.tokenizer, self.stop, self.prompt_length = candidates, tokenizer, stop, prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = self.candidates(input_ids, scores)
        for row in done.nonzero().flatten().tolist():
            text = self.tokenizer.decode(input_ids[row, self.prompt_length :], skip_special_tokens=True)
            done[row] = first_stop_end(text, self.stop) is not None
        return cast(torch.BoolTensor, done)  # StopStringCriteria's bool tensor, annotated torch.Tensor


class HFBackend(LMBase):
    def __init__(self, cfg: LMConfig):
        torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(cfg.model)
        self.max_model_len = cfg.max_model_len
        self.model = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=torch_dtype(cfg.dtype, self.device))
        # transformers' @wraps(Module.to) makes pyright bind the device to `self`
        self.model = self.model.to(self.device).eval()  # pyright: ignore[reportArgumentType]
        eos = self.model.generation_config.eos_token_id
        eos = eos if eos is not None else cast(int, self.tokenizer.eos_token_id)  # an id (typed int | str | None)
        self.eos_ids: set[int] = set(eos if isinstance(eos, list) else [eos])
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos_ids)
        self.ledger = Ledger(self.num_parameters)
        self._stop_checks: dict[tuple[str, ...], StopStringCriteria] = {}

    def finite_logits(self) -> bool:
        """Whether the logits after one token (`probe_token`) are all finite: NaN or Inf
        weights make them NaN (then sampling fails, or greedy text is garbage)."""
        ids = torch.tensor([[probe_token(self.tokenizer)]], device=self.device)
        with torch.inference_mode():
            return bool(self.model(input_ids=ids).logits.isfinite().all())

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())  # tied weights counted once

    @property
    def context_length(self) -> int:
        """`max_model_len`, else the model's max_position_embeddings (ttc.lm.BoundedLM)."""
        return self.max_model_len or self.model.config.max_position_embeddings

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])  # as _generate_one tokenizes a prompt

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        results, prompt_tokens = [], 0
        bar = tqdm(requests, desc="generate (hf)", disable=len(requests) < MIN_REQUESTS_FOR_PROGRESS)
        for request in bar:
            completions, num_prompt = self._generate_one(request)
            results.append(completions)
            prompt_tokens += num_prompt
        self.ledger.record(
            requests=len(requests),
            generations=sum(len(c) for c in results),
            prompt_tokens=prompt_tokens,
            generated_tokens=sum(c.num_tokens for cs in results for c in cs),
        )
        return results

    def _generate_one(self, request: GenerationRequest) -> tuple[list[Completion], int]:
        ids = self.tokenizer(request.prompt, return_tensors="pt")["input_ids"].to(self.device)
        num_prompt = ids.shape[1]
        greedy = request.temperature == 0
        rows = 1 if greedy else request.n  # greedy samples are identical: compute one, repeat it
        with torch.inference_mode():
            cache = self._shared_prefix_cache(ids, rows)
            ids = ids.repeat(rows, 1)
            torch.manual_seed(request.seed)
            # transformers' GenerativePreTrainedModel `self` protocol refuses its own auto class
            output = self.model.generate(  # pyright: ignore[reportAttributeAccessIssue]
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                past_key_values=cache,
                **self._sampling_kwargs(request),
                max_new_tokens=request.max_tokens,
                stopping_criteria=self._stop_criteria(request.stop, num_prompt),
                pad_token_id=self.pad_id,
            )
        completions = [self._completion(row[num_prompt:].tolist(), request) for row in output]
        return completions * request.n if greedy else completions, num_prompt

    def _shared_prefix_cache(self, ids: torch.Tensor, rows: int) -> DynamicCache | None:
        """The prompt's KV cache, computed once and copied to every sample's row, so the n
        samples of a request share their prompt as they do under vLLM's prefix caching
        (generate itself would run the prompt n times). Its last token is left for generate."""
        if rows == 1 or ids.shape[1] < 2:
            return None
        cache = DynamicCache(config=self.model.config)
        self.model(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True)
        cache.batch_repeat_interleave(rows)
        return cache

    def _stop_criteria(self, stop: Sequence[str], prompt_length: int) -> StoppingCriteriaList | None:
        stop = tuple(s for s in stop if s)
        if not stop:
            return None
        if stop not in self._stop_checks:
            self._stop_checks[stop] = StopStringCriteria(self.tokenizer, list(stop))
        return StoppingCriteriaList(
            [CompletionStopStrings(self._stop_checks[stop], self.tokenizer, stop, prompt_length)]
        )

    @staticmethod
    def _sampling_kwargs(request: GenerationRequest) -> dict[str, Any]:
        if request.temperature == 0:
            return {"do_sample": False}
        # top_k=0: no top-k cut (transformers would default to 50; vLLM has none).
        return {"do_sample": True, "temperature": request.temperature, "top_p": request.top_p, "top_k": 0}

    def _completion(self, ids: list[int], request: GenerationRequest) -> Completion:
        """One generated row (padded after its end) as text, token count and finish reason."""
        eos_at = next((i for i, t in enumerate(ids) if t in self.eos_ids), None)
        body = ids if eos_at is None else ids[:eos_at]
        text = self._decode(body)
        cut = first_stop_end(text, request.stop)
        if cut is not None:
            return Completion(text[:cut], self._tokens_covering(body, cut), "stop")
        if eos_at is not None:
            return Completion(text, eos_at + 1, "eos")
        return Completion(text, len(ids), "length")

    def _tokens_covering(self, ids: list[int], num_chars: int) -> int:
        """Fewest leading tokens whose decoded text reaches `num_chars` characters (binary
        search: decoded length grows with the prefix, for any tokenizer)."""
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if len(self._decode(ids[:mid])) >= num_chars:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _decode(self, ids: list[int]) -> str:
        return cast(str, self.tokenizer.decode(ids, skip_special_tokens=True))  # one sequence: a str
