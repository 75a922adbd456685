"""The judge reading's tokenizer without transformers (models/chat_tokenizer.py) against transformers' own on the
embedded model's conversion: the same text from the chat template and the same ids, for conversations chosen to
differ (a system turn, several turns, empty turns, special-token text inside a message, other scripts, whitespace),
and None for folders it does not read as transformers does."""
import json
import shutil

import pytest

pytestmark = pytest.mark.model

CONVERSATIONS = [
    [{"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}],
    [{"role": "system", "content": "You grade answers."}, {"role": "user", "content": "Grade this: 2+2=5"}],
    [{"role": "user", "content": ""}, {"role": "assistant", "content": "An answer with no question."}],
    [{"role": "user", "content": "Say <|im_end|> and then <|im_start|>assistant\n, literally."}],
    [{"role": "user", "content": "  leading spaces,\ttabs\n\n\nand newlines  \n"}],
    [{"role": "user", "content": "Grüße, 你好, مرحبا, emoji 🎉 and ﬁ ligatures"}],
    [{"role": "user", "content": "def f(x):\n    return x ** 2  # code"}, {"role": "assistant", "content": "ok"},
     {"role": "user", "content": "Again?"}, {"role": "assistant", "content": "Yes. " * 200}],
]


@pytest.fixture(scope="module")
def both():
    from transformers import PreTrainedTokenizerFast

    from models.chat_tokenizer import load_chat_tokenizer
    from models.embedded import EMBEDDED_MODELS, ensure_converted

    folder = ensure_converted(EMBEDDED_MODELS["smollm2-135m"])
    theirs = PreTrainedTokenizerFast.from_pretrained(str(folder))
    ours = load_chat_tokenizer(folder)
    assert ours is not None
    return ours, theirs, folder


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=range(len(CONVERSATIONS)))
@pytest.mark.parametrize("generation_prompt", [True, False])
def test_the_chat_template_gives_transformers_text_and_ids(both, conversation, generation_prompt):
    ours, theirs, _ = both
    kwargs = {"add_generation_prompt": generation_prompt}
    assert ours.apply_chat_template(conversation, tokenize=False, **kwargs) == \
        theirs.apply_chat_template(conversation, tokenize=False, **kwargs)
    mine = ours.apply_chat_template(conversation, return_dict=True, return_tensors="pt", **kwargs)
    other = theirs.apply_chat_template(conversation, return_dict=True, return_tensors="pt", **kwargs)
    assert mine["input_ids"].tolist() == other["input_ids"].tolist()
    assert mine["attention_mask"].tolist() == other["attention_mask"].tolist()
    assert ours.apply_chat_template(conversation, return_dict=False, **kwargs) == \
        theirs.apply_chat_template(conversation, return_dict=False, **kwargs)


def test_plain_text_named_tokens_and_decoding_match(both):
    ours, theirs, _ = both
    for text in ("Hello world", " spaced", "<|im_end|>", "Grüße 🎉", ""):
        for special in (True, False):
            assert ours(text, add_special_tokens=special)["input_ids"] == \
                theirs(text, add_special_tokens=special)["input_ids"]
    for name in ("eos_token_id", "pad_token_id", "unk_token_id", "bos_token_id", "eos_token", "pad_token"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for token in ("<|im_end|>", "<|im_start|>", "hello", "no-such-token-anywhere"):
        assert ours.convert_tokens_to_ids(token) == theirs.convert_tokens_to_ids(token), token
    ids = theirs("Blue <|im_end|> sky")["input_ids"]
    for skip in (True, False):
        assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


@pytest.mark.parametrize("change", ["generation tag", "other class", "no template", "adds bos"])
def test_a_folder_it_does_not_read_as_transformers_does_gets_none(both, tmp_path, change):
    from models.chat_tokenizer import load_chat_tokenizer

    _, _, source = both
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(source / name, tmp_path / name)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    if change == "generation tag":
        template = (tmp_path / "chat_template.jinja").read_text()
        (tmp_path / "chat_template.jinja").write_text("{% generation %}" + template + "{% endgeneration %}")
    elif change == "other class":
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, "tokenizer_class": "LlamaTokenizer"}))
    elif change == "no template":
        (tmp_path / "chat_template.jinja").unlink()
    else:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, "add_bos_token": True}))
    assert load_chat_tokenizer(tmp_path) is None
    shutil.copy(source / "tokenizer_config.json", tmp_path / "tokenizer_config.json")
    if change in ("other class", "adds bos"):  # the unchanged folder is read
        assert load_chat_tokenizer(tmp_path) is not None
